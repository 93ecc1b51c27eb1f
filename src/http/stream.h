/* The event stream: a broker holding the last N events of the outbox
 * (src/events/events.h) in a ring by their seq, and the Server-Sent Events
 * endpoint /api/v1/stream that resumes from Last-Event-ID (read from the
 * outbox when older than the ring, across restarts too) and then follows
 * live. Readers are served from the event loop, not a thread each:
 * a reader with nothing to send suspends its connection until the next event
 * (or the once-a-second tick) resumes it; each event is serialised once, when
 * published, and each reader decides once per (organisation, category) until
 * its grants are re-read; a sleeping reader is woken only by events it may
 * see (and by the tick), at most every stream.flush_ms (more apart with many
 * readers), so it sends what gathered in one write. Publishing never waits for a reader: a reader that
 * falls more than N events behind (stalled, slow) is dropped, and may
 * reconnect with its Last-Event-ID; a slow reader costs only its own buffer.
 * Each reader sees only what the access policy lets its user see, with its
 * grants and its session re-read each second and at once after any account
 * or agreement change, so a revocation reaches open streams before their
 * next event. */
#ifndef SG_STREAM_H
#define SG_STREAM_H

#include "http/http.h"

#include <jansson.h>

struct broker;

/* capacity: events kept; flush_ms: the least time between two wakes of the
 * sleeping readers (events gather meanwhile: fewer, larger writes); tick_ms:
 * every reader is woken this often (heartbeats, session checks). */
struct broker *broker_new(size_t capacity, int flush_ms, int tick_ms);
void broker_free(struct broker *b);
struct event;
/* Before the first event: the outbox's head when the server starts. */
void broker_start(struct broker *b, uint64_t head);
/* events_fn: the broker is the stream's (volatile) subscriber. */
int broker_publish(void *broker, const struct event *e);
/* Wakes every reader to end (shutdown): none sleeps again. */
void broker_wake_all(struct broker *b);

/* GET /api/v1/stream */
void api_stream(struct req *r);

#endif
