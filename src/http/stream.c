/* Event broker and the SSE endpoint; see stream.h. */
#include "http/stream.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "events/events.h"
#include "http/auth.h"
#include "registry/accounts.h"
#include "sharing/sharing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct slot {
	uint64_t seq;
	char *frame;      /* "id: ..\nevent: ..\ndata: ..\n\n" */
	char org[48];     /* whose data it is */
	char category[24]; /* the sharing category deciding who else sees it */
};

struct broker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *ring;
	size_t cap;
	uint64_t next;  /* one past the last outbox seq received; the ring holds [max(first, next - cap), next) */
	uint64_t first; /* the first seq this process received (older ones are read from the store) */
	uint64_t wakeups;
};

struct broker *broker_new(size_t capacity)
{
	struct broker *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	b->cap = capacity ? capacity : 1;
	b->ring = xcalloc(b->cap, sizeof(*b->ring));
	b->next = b->first = 1;
	return b;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->cap; i++)
		free(b->ring[i].frame);
	free(b->ring);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void broker_start(struct broker *b, uint64_t head)
{
	pthread_mutex_lock(&b->mu);
	b->next = b->first = head + 1;
	pthread_mutex_unlock(&b->mu);
}

static char *frame_of(const struct event *e)
{
	return xasprintf("id: %lld\nevent: %s\ndata: %s\n\n", (long long)e->seq, e->type ? e->type : "event",
			 e->body ? e->body : "{}");
}

int broker_publish(void *ctx, const struct event *e)
{
	struct broker *b = ctx;
	char *frame = frame_of(e);
	pthread_mutex_lock(&b->mu);
	uint64_t seq = (uint64_t)e->seq;
	struct slot *s = &b->ring[seq % b->cap];
	free(s->frame);
	s->frame = frame;
	s->seq = seq;
	sg_strlcpy(s->org, e->org_id ? e->org_id : "", sizeof(s->org));
	sg_strlcpy(s->category, e->category ? e->category : "", sizeof(s->category));
	if (seq >= b->next)
		b->next = seq + 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static uint64_t oldest_locked(const struct broker *b)
{
	uint64_t o = b->next > b->cap ? b->next - b->cap : 1;
	return o > b->first ? o : b->first;
}

void broker_wake_all(struct broker *b)
{
	pthread_mutex_lock(&b->mu);
	b->wakeups++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* --- one reader ------------------------------------------------------------------ */

struct reader {
	struct http_env *env;
	struct broker *b;
	uint64_t next;        /* next sequence to send */
	struct actor actor;
	struct grant_set grants;
	char token_hash[65];
	bool by_key;          /* authenticated by API key */
	int64_t grants_at_us; /* when the grants were read */
	uint64_t epoch;       /* env->auth_epoch when they were read */
	int64_t last_write_us;
	struct sb out;        /* pending bytes */
	size_t out_off;
	bool hello_sent, ended;
	bool live;            /* caught up with the ring (before: reading the outbox) */
	bool gap_told;
};

/* Re-reads the reader's grants, and whether its session still stands. */
static bool refresh(struct reader *rd)
{
	struct db *db = store_reader(rd->env->store);
	if (!db)
		return false;
	rd->epoch = atomic_load(&rd->env->auth_epoch);
	bool ok = sharing_incoming(db, rd->actor.org_id, clock_now_ms(), &rd->grants) == 0;
	/* The caller as it stands now must be the caller the stream was opened
	 * for: a revoked key, a logout, a disabled user, a password change
	 * (which ends the user's other sessions), the absolute expiry, and a
	 * new role or organisation all end the stream (the client reconnects
	 * with what it may now see); an open stream is activity, so the idle
	 * timer does not. */
	if (ok && rd->by_key) {
		struct account k;
		ok = account_by_api_key(db, rd->actor.id, true, &k) == 0 && role_parse(k.role) == (int)rd->actor.role &&
		     str_eq(k.org_id, rd->actor.org_id);
	} else if (ok) {
		struct session_row s;
		ok = account_by_session(db, rd->token_hash, &s) == 0 && s.expires_ms > clock_now_ms() &&
		     role_parse(s.who.role) == (int)rd->actor.role && str_eq(s.who.org_id, rd->actor.org_id) &&
		     str_eq(s.who.person_id, rd->actor.person_id);
	}
	store_reader_put(rd->env->store, db);
	rd->actor.grants = &rd->grants;
	rd->grants_at_us = clock_mono_us();
	return ok;
}

/* Decide with grants at most 200 ms old, re-read at once after any account
 * or agreement change: a revocation reaches the stream before its next event. */
static bool still_allowed(struct reader *rd)
{
	if (clock_mono_us() - rd->grants_at_us <= 200000 && atomic_load(&rd->env->auth_epoch) == rd->epoch)
		return true;
	return refresh(rd);
}

/* What the policy lets the reader read of the event's category (its
 * resource: positions for position and geofence events), and not as a
 * summary: summary positions are coarse and delayed, never streamed live. */
static bool may_see(const struct reader *rd, const char *org, const char *category)
{
	struct access acc;
	return policy_decide(&rd->actor, ACT_READ, category, org, NULL, &acc) == DECIDE_ALLOW &&
	       acc.view != VIEW_SUMMARY;
}

static int catch_up_one(void *ctx, const struct event *e)
{
	struct reader *rd = ctx;
	if ((uint64_t)e->seq > rd->next && !rd->gap_told) {
		/* Retention took what the client missed: it reloads. */
		sb_addf(&rd->out, "event: gap\ndata: {\"missed_from\":%llu}\n\n", (unsigned long long)rd->next);
		rd->gap_told = true;
	}
	if (may_see(rd, e->org_id ? e->org_id : "", e->category ? e->category : "")) {
		char *f = frame_of(e);
		sb_adds(&rd->out, f);
		free(f);
	}
	rd->next = (uint64_t)e->seq + 1;
	return rd->out.len >= 65536;
}

/* A reader resuming from an id older than the ring reads the outbox, then
 * joins the ring. false when the store cannot be read. */
static bool catch_up(struct reader *rd)
{
	struct db *db = store_reader(rd->env->store);
	if (!db)
		return false;
	int n = events_read(db, (int64_t)rd->next - 1, 256, catch_up_one, rd);
	store_reader_put(rd->env->store, db);
	if (n < 0)
		return false;
	pthread_mutex_lock(&rd->b->mu);
	uint64_t oldest = oldest_locked(rd->b);
	if (n == 0 && rd->next < oldest)
		rd->next = oldest; /* nothing stored before the ring */
	rd->live = rd->next >= oldest;
	pthread_mutex_unlock(&rd->b->mu);
	return true;
}

static ssize_t reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reader *rd = cls;
	(void)pos;
	for (;;) {
		if (rd->out_off < rd->out.len) {
			size_t n = rd->out.len - rd->out_off;
			n = n < max ? n : max;
			memcpy(buf, rd->out.buf + rd->out_off, n);
			rd->out_off += n;
			if (rd->out_off == rd->out.len) {
				sb_reset(&rd->out);
				rd->out_off = 0;
			}
			rd->last_write_us = clock_mono_us();
			return (ssize_t)n;
		}
		if (rd->ended || atomic_load(&rd->env->draining))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!rd->hello_sent) {
			sb_adds(&rd->out, "retry: 2000\n: safeguard event stream\n\n");
			rd->hello_sent = true;
			continue;
		}
		if (!rd->live) {
			if (!still_allowed(rd))
				return MHD_CONTENT_READER_END_OF_STREAM;
			if (!catch_up(rd))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		struct broker *b = rd->b;
		pthread_mutex_lock(&b->mu);
		if (rd->next == b->next) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		}
		pthread_mutex_unlock(&b->mu);
		if (!still_allowed(rd))
			return MHD_CONTENT_READER_END_OF_STREAM; /* logged out, disabled, revoked key */
		pthread_mutex_lock(&b->mu);
		uint64_t oldest = oldest_locked(b);
		if (rd->next < oldest) {
			/* Fell behind by more than the ring: dropped, never waited for. */
			pthread_mutex_unlock(&b->mu);
			log_info("stream reader dropped: too slow", "user", rd->actor.id, NULL);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		/* Copy out what is ready, up to 64 KiB. */
		while (rd->next < b->next && rd->out.len < 65536) {
			struct slot *s = &b->ring[rd->next % b->cap];
			if (s->seq == rd->next && s->frame && may_see(rd, s->org, s->category))
				sb_adds(&rd->out, s->frame);
			rd->next++;
		}
		pthread_mutex_unlock(&b->mu);
		if (rd->out.len == 0 && clock_mono_us() - rd->last_write_us > 15000000)
			sb_adds(&rd->out, ": heartbeat\n\n");
	}
}

static void reader_free(void *cls)
{
	struct reader *rd = cls;
	sb_release(&rd->out);
	free(rd);
}

void api_stream(struct req *r)
{
	static const char *const allowed[] = {NULL};
	if (!req_query_allowed(r, allowed))
		return;
	struct broker *b = r->env->broker;
	struct reader *rd = xcalloc(1, sizeof(*rd));
	rd->env = r->env;
	rd->b = b;
	rd->actor = r->actor;
	rd->by_key = r->actor.api_key;
	if (!rd->by_key)
		secret_hash(auth_token(r), rd->token_hash);
	sb_init(&rd->out);
	if (r->grants)
		rd->grants = *r->grants;
	rd->actor.grants = &rd->grants;
	rd->grants_at_us = rd->last_write_us = clock_mono_us();
	rd->epoch = atomic_load(&r->env->auth_epoch);
	const char *last = req_header(r, "Last-Event-ID");
	pthread_mutex_lock(&b->mu);
	rd->next = b->next;
	int64_t id;
	/* The id is the outbox seq: older than the ring, the reader first reads
	 * the outbox (across restarts too); newer than anything, from now. */
	if (last && parse_i64(last, 0, INT64_MAX, &id) == 0 && (uint64_t)id < b->next)
		rd->next = (uint64_t)id + 1;
	rd->live = rd->next >= oldest_locked(b);
	pthread_mutex_unlock(&b->mu);
	/* Bound what the kernel holds for this reader, so a stalled one is noticed
	 * (and dropped) after a ring's worth of events, not megabytes later. */
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		int sndbuf = 32768;
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	/* The request's reader connection goes back now, not when the stream
	 * ends: an open stream holds none (its refreshes borrow one briefly). */
	if (r->rdb) {
		store_reader_put(r->env->store, r->rdb);
		r->rdb = NULL;
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader_cb, rd, reader_free);
	reply_response(r, 200, "text/event-stream", resp);
}
