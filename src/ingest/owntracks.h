/* OwnTracks HTTP mode: the app POSTs the JSON it would publish over MQTT; the
 * user and device come from Basic auth and/or X-Limit-U / X-Limit-D; the
 * Basic-auth password is the device key. `_type` location carries a fix
 * (lat, lon, tst required; acc, alt, vel km/h, cog, batt, tid, t, conn ...);
 * transition carries a region event (event enter/leave, desc, rid, wtst) and
 * a fix; lwt, waypoint, waypoints, cmd, status and others are accepted and
 * kept as attributes without a fix. The reply is a JSON array of messages for
 * the app (empty for now; alerts and roll-calls will ride on it). */
#ifndef SG_OWNTRACKS_H
#define SG_OWNTRACKS_H

#include "ingest/report.h"
#include "core/verr.h"

int owntracks_decode(const struct ingest_input *in, struct report *out, struct verr *e);
/* The body alone (fuzz target): needs no credentials. */
int owntracks_decode_body(const char *body, size_t len, int64_t now_ms, struct report *out,
			  struct verr *e);

#endif
