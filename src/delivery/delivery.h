/* Delivery of alerts and roll-call questions (issue 14).
 *
 *   alert stored ──delivery_fanout()──> a fanouts row (whom, which channels),
 *        │                              same transaction
 *        └─ its outbox event wakes the fan-out thread (events subscriber
 *           "deliveries"): one deliveries row per recipient and channel,
 *           written in steps of 256 doubling to 16,384 people, each step with
 *           its progress in one write; each step wakes the workers
 *   a worker per channel ──due rows (a reader)──> send ──outcome (one write)
 *
 * - The first deliveries leave after the first step (an alert to 100,000
 *   people had waited for 300,000 rows); a restart goes on from the last
 *   step written. Until its step, a recipient's deliveries are "queued".
 *
 * - At least once: a row is pending until a send succeeded and its outcome
 *   committed; a server killed in between sends it again after restart,
 *   with the same delivery, alert and recipient ids.
 * - A failed send is tried again after delivery.retry_base_ms, doubling to
 *   delivery.max_backoff_s, until delivery.max_attempts: then "failed".
 * - A recipient without a usable contact for a channel (no email address,
 *   no phone number, no OwnTracks device) gets an "undeliverable" row.
 * - Times are the injected clock's (clock_now_ms): tests move retries on.
 *
 * Channels, one file each behind struct channel_ops: the stream
 * (ch_stream.c), webhooks (ch_webhook.c), email over SMTP (ch_email.c), an
 * SMS gateway (ch_sms.c) and the OwnTracks app (ch_owntracks.c: messages
 * wait for the phone's next report and go out in its answer). */
#ifndef SG_DELIVERY_H
#define SG_DELIVERY_H

#include "events/events.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Queues the deliveries of alert_id's recipients (alert_recipient_sets) to
 * every channel of org_id, chosen now: the stream always, the OwnTracks app
 * when the organisation has enrolled one, and each of its enabled channels.
 * In the caller's write transaction; the rows follow in steps. Returns the
 * number of fan-outs written (0: nobody to reach) or SG_EIO. */
long delivery_fanout(struct db *db, const char *org_id, const char *alert_id, int64_t now_ms);
/* The same for a roll-call's question: to its people who have not answered
 * (rollcall_people), wave `wave`. */
long delivery_fanout_rollcall(struct db *db, const char *org_id, const char *alert_id, const char *rollcall_id,
			      int wave, int64_t now_ms);

/* alert_id's deliveries, [{id, person_id, channel, channel_id, state,
 * attempts, last_error, sent_at, rollcall_id, wave}] by person and channel;
 * and counts {channel: {state: n}}, with "queued" for those whose rows a
 * fan-out has still to write. */
int delivery_list(struct db *db, const char *alert_id, json_t **rows, json_t **counts);

struct delivery_opts {
	int64_t retry_base_ms, max_backoff_ms;
	int max_attempts;
	long timeout_s;
	const char *smtp_user, *smtp_password, *sms_user, *sms_password;
	const char *public_url; /* roll-call answer links */
	/* Roll-call answer links: the token of a person's question, written
	 * into out (at least 64 bytes); NULL: none. */
	int (*rollcall_token)(void *ctx, struct db *db, const char *rollcall_id, const char *person_id, char *out,
			      size_t outsz);
	void *token_ctx;
};

/* One message to send: a due row with what it refers to. */
struct delivery_msg {
	const char *id, *alert_id, *person_id, *org_id, *rollcall_id, *address;
	int attempts; /* tries before this one */
	int wave;
	const json_t *alert;   /* the alert's record */
	const json_t *channel; /* the channels row (webhook, email, sms), else NULL */
	const char *text;      /* the message in words: exercise mark, headline, instruction, answer link */
	struct db *db;         /* the stream: the writer's transaction; else a reader */
};

struct channel_ops {
	const char *name;
	bool in_store; /* sends inside the write that records the outcome (the stream) */
	bool pull;     /* handed over when the device asks (OwnTracks) */
	void *(*open)(const struct delivery_opts *o);
	void (*close)(void *state);
	/* 0: on its way. Else err holds a short reason (never a credential
	 * or a token) and it is tried again later; SG_EINVAL: never again. */
	int (*send)(void *state, const struct delivery_msg *m, char *err, size_t errsz);
};

extern const struct channel_ops ch_stream, ch_webhook, ch_email, ch_sms, ch_owntracks;

struct deliverer;
struct deliverer *deliverer_new(struct store *st, const struct delivery_opts *o);
/* The address people reach the server at, for answer links (before start). */
void deliverer_set_public_url(struct deliverer *d, const char *url);
/* Starts a worker per channel. */
int deliverer_start(struct deliverer *d);
/* Stops and joins the workers (what is pending stays pending for the
 * next start). */
void deliverer_stop(struct deliverer *d);
/* Stops and frees; after the events dispatcher that wakes it is gone. */
void deliverer_free(struct deliverer *d);
/* An events subscriber: an alert or roll-call event wakes the workers. */
int deliverer_event(void *d, const struct event *ev);
/* Wakes the workers (a retry due, tests). */
void deliverer_wake(struct deliverer *d);

/* The OwnTracks answer's messages for person_id's phone: a JSON array text
 * of cmd messages (malloc'd), or NULL when none wait. They count as sent
 * once the answer is handed over. */
char *deliverer_owntracks_take(struct deliverer *d, const char *person_id);

/* Counters for /metrics. */
struct delivery_stats {
	uint64_t sent, retried, failed;
};
void deliverer_stats(struct deliverer *d, struct delivery_stats *out);

#endif
