/* A position report as every device protocol decodes it: units normalised
 * (metres, m/s, degrees, percent, epoch ms UTC), unknown values NaN or -1,
 * and every other key the device sent kept in attrs. Decoders fill it from
 * bytes and do nothing else: no store, no index (parsing apart from effects). */
#ifndef SG_REPORT_H
#define SG_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define DEVICE_KEY_MAX 128

struct report {
	char device_key[DEVICE_KEY_MAX]; /* the credential the device sent (OsmAnd id, OwnTracks password) */
	bool has_position;               /* false for messages without a fix (OwnTracks lwt, cmd, ...) */
	int64_t time_ms;                 /* fix time, epoch ms UTC */
	double lat, lon;                 /* WGS 84 degrees */
	double speed_mps;                /* NaN = unknown */
	double course_deg;               /* 0..360, NaN = unknown */
	double altitude_m;               /* NaN = unknown */
	double accuracy_m;               /* NaN = unknown */
	double hdop;                     /* NaN = unknown */
	int battery_pct;                 /* 0..100, -1 = unknown */
	int charging;                    /* 1, 0, -1 = unknown */
	json_t *attrs;                   /* owned: every other key (alarm, event, motion, ...) */
	const char *protocol;            /* the decoder's: "osmand", "owntracks" (a device's enrolled protocol) */
};

void report_init(struct report *r);
void report_release(struct report *r);

/* A JSON decoder's optional number member k of o: JNUM_SET (*out set),
 * JNUM_ABSENT (missing or null), JNUM_UNKNOWN (-1 where unknown_ok: the
 * clients' "unknown"), or SG_EINVAL (not a finite number in [min, max]).
 * *out is written only for JNUM_SET. */
enum { JNUM_SET = 0, JNUM_ABSENT = 1, JNUM_UNKNOWN = 2 };
int report_json_number(const json_t *o, const char *k, double min, double max, bool unknown_ok, double *out);

/* What a decoder is given: the raw request parts, borrowed. */
struct ingest_input {
	const char *query;        /* raw query string (after '?'), may be NULL */
	const char *content_type; /* may be NULL */
	const char *body;         /* may be NULL */
	size_t body_len;
	const char *user, *password; /* HTTP Basic credentials, may be NULL */
	const char *limit_u, *limit_d; /* OwnTracks X-Limit-U / X-Limit-D headers */
	int64_t now_ms;
};

#endif
