/* The event stream: a broker holding the last N events (positions and
 * geofence events) in a ring with sequence numbers, and the Server-Sent
 * Events endpoint /api/v1/stream that replays from Last-Event-ID and then
 * follows live. Publishing never waits for a reader: a reader that falls
 * more than N events behind (stalled, slow) is dropped, and may reconnect
 * with its Last-Event-ID. Each reader sees only what the access policy lets
 * its user see, with the grants re-read at least every 200 ms, so a
 * revocation reaches open streams at once. */
#ifndef SG_STREAM_H
#define SG_STREAM_H

#include "http/http.h"

#include <jansson.h>

struct broker;

struct broker *broker_new(size_t capacity);
void broker_free(struct broker *b);
/* pipeline_publish_fn: takes ownership of event. */
void broker_publish(void *broker, json_t *event);
/* Wakes every reader (shutdown). */
void broker_wake_all(struct broker *b);

/* GET /api/v1/stream */
void api_stream(struct req *r);

#endif
