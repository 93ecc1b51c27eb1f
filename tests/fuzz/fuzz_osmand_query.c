/* libFuzzer target: the OsmAnd / Traccar Client query and form parser. */
#include "ingest/osmand.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report r;
	struct verr e;
	report_init(&r);
	osmand_decode_query((const char *)data, size, 1796568927123LL, &r, &e);
	report_release(&r);
	return 0;
}
