/* The event path: an outbox in the store, one dispatcher, subscribers with
 * cursors.
 *
 *   a write job ──events_append()──> events row, same transaction as the change
 *        │ COMMIT
 *        └─> events_committed() wakes the dispatcher thread
 *   dispatcher ──reads events > cursor (a reader connection)──> each subscriber
 *
 * - An event exists only once durable, and a change others must hear of
 *   commits with its event or not at all (one transaction).
 * - seq is the outbox's AUTOINCREMENT key: strictly increasing, never
 *   reused, even after retention empties the table. It is the SSE id.
 * - A durable subscriber keeps its cursor in the store (event_cursors) and
 *   resumes from it after a restart: delivery is at least once, in seq
 *   order, each event with its seq. A volatile one (the stream's ring)
 *   starts at the head.
 * - The dispatcher reads what is committed, not what this process wrote: a
 *   second server on the same store would see the same events by polling
 *   (events_opts.poll_ms).
 * - Retention deletes events older than events.retention_s that every
 *   durable subscriber has passed.
 *
 * Positions go through the outbox too: one row per stored report costs
 * less than the run-to-run spread of the ingest rate (bench/README.md,
 * "Event path"), and the stream then resumes positions like anything else. */
#ifndef SG_EVENTS_H
#define SG_EVENTS_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct event {
	int64_t seq;
	int64_t at_ms;
	const char *org_id;   /* the organisation whose data it is */
	const char *category; /* the sharing category deciding who else may see it */
	const char *type;     /* position, geofence, ... */
	const char *body;     /* JSON object */
	const char *subject;  /* the person it concerns (NULL: none), for per-person sharing conditions */
};

/* In the caller's write transaction. body is borrowed. 0 or SG_EIO. */
int events_append(struct db *db, const char *org_id, const char *category, const char *type, const json_t *body,
		  int64_t now_ms);

/* The same with the body already serialised (JSON): the ingest path
 * serialises on the request's thread. */
int events_append_text(struct db *db, const char *org_id, const char *category, const char *type,
		       const char *body, int64_t now_ms);
/* The same about one person (subject, NULL: none): a grant that holds per
 * person ("during an open SOS") decides on the stream with it. The subject
 * is never sent to clients. */
int events_append_about(struct db *db, const char *org_id, const char *category, const char *type,
			const char *body, const char *subject, int64_t now_ms);

/* Reads committed events with seq > after, in order, at most limit; calls
 * fn for each until it returns non-zero. Returns how many were passed to
 * fn, or SG_EIO. */
typedef int (*events_fn)(void *ctx, const struct event *ev);
int events_read(struct db *db, int64_t after, int limit, events_fn fn, void *ctx);
/* The last committed seq (0: none yet). */
int events_head(struct db *db, int64_t *seq);

struct events_opts {
	int poll_ms;        /* the dispatcher also looks without being woken; default 1000 */
	int64_t retention_ms; /* events_purge keeps younger events; default 1 h */
};

struct events;
struct events *events_new(struct store *st, const struct events_opts *o);
/* Stops the dispatcher (saving durable cursors) and frees. */
void events_free(struct events *ev);

/* Before events_start. A durable subscriber resumes from its stored cursor
 * (the head, when new); a volatile one from the head. fn runs on the
 * dispatcher thread; a non-zero return means "not delivered": the
 * subscriber is retried from that event after a pause (1 s, doubling to
 * 30 s). */
int events_subscribe(struct events *ev, const char *name, bool durable, events_fn fn, void *ctx);
int events_start(struct events *ev);
/* store_opts.after_commit, on the writer thread: wakes the dispatcher when
 * the commit appended events. */
void events_committed(void *ev);
/* Waits until every subscriber has been handed every event up to seq (or
 * timeout_ms passed): for tests and an orderly shutdown. */
bool events_wait(struct events *ev, int64_t seq, int timeout_ms);

/* Deletes events older than the retention that every durable subscriber
 * has passed. Returns the number deleted or SG_EIO. */
long events_purge(struct events *ev, int64_t now_ms);

#endif
