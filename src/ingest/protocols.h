/* The device protocols, in one table: adding one is its decoder's file,
 * one line here (protocols.c) and its fuzz target (tests/fuzz/fuzz_*.c,
 * picked up by scripts/fuzz.sh). The route, the accepted methods, the reply
 * a device gets, the `protocol` a device is enrolled with and the OpenAPI
 * entry all come from the line. */
#ifndef SG_PROTOCOLS_H
#define SG_PROTOCOLS_H

#include "core/verr.h"
#include "ingest/report.h"

typedef int (*ingest_decode_fn)(const struct ingest_input *in, struct report *out, struct verr *e);

struct protocol {
	const char *name;        /* what a device is enrolled for: "osmand" */
	const char *path;        /* its route on the main listener */
	const char *methods[3];  /* HTTP methods it takes (HEAD follows GET) */
	const char *summary;     /* for the route table and OpenAPI */
	ingest_decode_fn decode; /* bytes to a report, nothing else */
	const char *reply_type;  /* the success reply's content type; NULL: an empty 200 */
	const char *reply_body;
};

extern const struct protocol protocols[];
extern const size_t protocols_count;
/* The names, NULL-terminated (the devices' `protocol` field takes them),
 * filled by protocols_init() (resources_init calls it, before any thread). */
extern const char *protocol_names[];
void protocols_init(void);

const struct protocol *protocol_find(const char *name);

#endif
