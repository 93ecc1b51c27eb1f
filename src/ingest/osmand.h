/* OsmAnd / Traccar Client protocol (HTTP). The device key travels as `id`
 * (or `deviceid`). Three shapes, all from real clients:
 *   GET or POST /?id=KEY&lat=..&lon=..&timestamp=..   (query string)
 *   POST with an application/x-www-form-urlencoded body of the same keys
 *   POST application/json {"device_id": KEY, "location": {"timestamp": ISO,
 *     "coords": {...}, "battery": {...}, "is_moving", "event", "extras"}}
 * Units: query `speed` in knots, JSON `speed` in m/s; -1 means unknown.
 * Timestamps: epoch seconds (below 10^12), epoch ms (10^12 and more), ISO 8601, or
 * "yyyy-MM-dd HH:mm:ss" (UTC); absent means now. */
#ifndef SG_OSMAND_H
#define SG_OSMAND_H

#include "ingest/report.h"
#include "core/verr.h"

/* Decodes one request. 0, or SG_EINVAL with e naming the parameter (as
 * "?lat" for the query form, "/location/coords/latitude" for JSON). */
int osmand_decode(const struct ingest_input *in, struct report *out, struct verr *e);

/* The pieces, exposed for the fuzz targets and tests. */
int osmand_decode_query(const char *query, size_t len, int64_t now_ms, struct report *out,
			struct verr *e);
int osmand_decode_json(const char *body, size_t len, int64_t now_ms, struct report *out,
		       struct verr *e);
/* Parses an OsmAnd timestamp value into epoch ms; 0 or SG_EINVAL. A number
 * below 10^12 is epoch seconds, 10^12 or more epoch milliseconds; otherwise
 * ISO 8601 / RFC 3339, or "yyyy-MM-dd HH:mm:ss" (UTC). */
int osmand_parse_time(const char *s, int64_t *out_ms);

#endif
