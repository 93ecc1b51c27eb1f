/* The device protocol table; see protocols.h. */
#include "ingest/protocols.h"

#include "core/util.h"
#include "ingest/osmand.h"
#include "ingest/owntracks.h"

const struct protocol protocols[] = {
	{"osmand", "/ingest/osmand", {"GET", "POST"},
	 "OsmAnd / Traccar Client report (query string, form or JSON body; the device key is `id`)", osmand_decode,
	 NULL, NULL},
	{"owntracks", "/ingest/owntracks", {"POST"},
	 "OwnTracks HTTP mode (Basic auth; the password is the device key)", owntracks_decode, "application/json",
	 "[]" /* messages for the app: none yet */},
};
const size_t protocols_count = ARRAY_LEN(protocols);

const char *protocol_names[ARRAY_LEN(protocols) + 1];

void protocols_init(void)
{
	for (size_t i = 0; i < protocols_count; i++)
		protocol_names[i] = protocols[i].name;
	protocol_names[protocols_count] = NULL;
}

const struct protocol *protocol_find(const char *name)
{
	for (size_t i = 0; i < protocols_count; i++)
		if (str_eq(protocols[i].name, name))
			return &protocols[i];
	return NULL;
}
