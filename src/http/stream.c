/* Event broker and the SSE endpoint; see stream.h. */
#include "http/stream.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "events/events.h"
#include "http/auth.h"
#include "registry/accounts.h"
#include "sharing/sharing.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* (organisation, category) pairs, interned: a reader decides once per pair,
 * not once per event, and re-decides when its grants are re-read. */
#define AUD_MAX 1024u
#define AUD_NONE UINT32_MAX

struct slot {
	uint64_t seq;
	char *frame;       /* "id: ..\nevent: ..\ndata: ..\n\n", serialised once for every reader */
	uint32_t aud;      /* whose data and which category: the audience index */
	char org[48];      /* the same, spelled out (for AUD_NONE) */
	char category[24];
	char subject[48];  /* the person it concerns, "" for none */
};

struct audience {
	char org[48];      /* whose data it is */
	char category[24]; /* the sharing category deciding who else sees it */
};

struct reader;

struct broker {
	pthread_mutex_t mu;
	struct slot *ring;
	size_t cap;
	uint64_t next;  /* one past the last outbox seq received; the ring holds [max(first, next - cap), next) */
	uint64_t first; /* the first seq this process received (older ones are read from the store) */
	struct audience aud[AUD_MAX];
	uint32_t naud;
	uint32_t aud_slot[2 * AUD_MAX]; /* open addressing: audience index + 1, 0 = empty */
	/* Readers with nothing to send sleep with their connection suspended;
	 * the next event (or the ticker, each second: heartbeats, session
	 * checks) resumes them all and empties the list. */
	struct reader **waiting;
	size_t nwaiting, waiting_cap;
	/* Wakes are at least flush_us apart: under a steady flow a reader wakes
	 * some 40 times a second and sends what gathered, instead of a system
	 * call per commit; an event after a quiet spell wakes them at once. */
	int64_t flush_us, last_wake_us;
	int64_t tick_us; /* every reader is woken this often (heartbeats, session checks) */
	size_t nreaders; /* open streams: the wakes' spacing grows with them */
	bool pending; /* events published since the last wake, which the ticker owes */
	/* The audiences published since the last wake: a sleeping reader that
	 * sees none of them (decided, not shown) sleeps on; the 1 s tick wakes
	 * every reader, so one never sleeps past more than a second of events. */
	uint32_t dirty[AUD_MAX];
	uint32_t ndirty;
	bool dirty_all; /* an event outside the audience table */
	uint8_t is_dirty[AUD_MAX];
	bool closing;
	pthread_t ticker;
	bool ticker_running, ticker_stop;
	pthread_cond_t tick_cv;
};

static void wake_locked(struct broker *b, bool all);

/* Wakes per second, all readers together, that the loops can afford beside
 * the ingest on two cores (bench/stream.sh): with more readers than
 * WAKE_BUDGET x flush, the wakes are spaced further apart (10,000 readers:
 * 250 ms) and each carries more. */
#define WAKE_BUDGET 40000

static int64_t flush_of(const struct broker *b)
{
	int64_t by_load = (int64_t)b->nreaders * 1000000 / WAKE_BUDGET;
	return by_load > b->flush_us ? by_load : b->flush_us;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Owes the sleepers their wake after a burst, and wakes them all each
 * second (heartbeats, session checks, the end of a drain). */
static void *ticker_main(void *arg)
{
	struct broker *b = arg;
	pthread_mutex_lock(&b->mu);
	int64_t next_tick = mono_us() + b->tick_us;
	while (!b->ticker_stop) {
		int64_t flush = flush_of(b);
		int64_t until = b->pending && b->last_wake_us + flush < next_tick ? b->last_wake_us + flush : next_tick;
		struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (until % 1000000) * 1000};
		pthread_cond_timedwait(&b->tick_cv, &b->mu, &ts);
		int64_t now = mono_us();
		if (now >= next_tick) {
			next_tick = now + b->tick_us;
			wake_locked(b, true);
		} else if (b->pending && now >= b->last_wake_us + flush) {
			wake_locked(b, false);
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

struct broker *broker_new(size_t capacity, int flush_ms, int tick_ms)
{
	struct broker *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->tick_cv, &ca);
	pthread_condattr_destroy(&ca);
	b->cap = capacity ? capacity : 1;
	b->ring = xcalloc(b->cap, sizeof(*b->ring));
	b->next = b->first = 1;
	b->flush_us = (int64_t)(flush_ms > 0 ? flush_ms : 0) * 1000;
	b->tick_us = (int64_t)(tick_ms > 0 ? tick_ms : 1000) * 1000;
	b->ticker_running = pthread_create(&b->ticker, NULL, ticker_main, b) == 0;
	if (b->ticker_running)
		pthread_setname_np(b->ticker, "sg-stream-tick");
	return b;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	if (b->ticker_running) {
		pthread_mutex_lock(&b->mu);
		b->ticker_stop = true;
		pthread_cond_signal(&b->tick_cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->ticker, NULL);
	}
	for (size_t i = 0; i < b->cap; i++)
		free(b->ring[i].frame);
	free(b->ring);
	free(b->waiting);
	pthread_cond_destroy(&b->tick_cv);
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

/* The audience index of (org, category), interned on first sight. */
static uint32_t audience_locked(struct broker *b, const char *org, const char *category)
{
	uint32_t h = (str_hash32(org) * 31u + str_hash32(category)) % (2 * AUD_MAX);
	for (uint32_t n = 0; n < 2 * AUD_MAX; n++, h = (h + 1) % (2 * AUD_MAX)) {
		uint32_t v = b->aud_slot[h];
		if (!v) {
			if (b->naud == AUD_MAX)
				return AUD_NONE; /* full: readers decide such events one by one */
			struct audience *a = &b->aud[b->naud];
			sg_strlcpy(a->org, org, sizeof(a->org));
			sg_strlcpy(a->category, category, sizeof(a->category));
			b->aud_slot[h] = ++b->naud;
			return b->naud - 1;
		}
		if (str_eq(b->aud[v - 1].org, org) && str_eq(b->aud[v - 1].category, category))
			return v - 1;
	}
	return AUD_NONE;
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
	sg_strlcpy(s->subject, e->subject ? e->subject : "", sizeof(s->subject));
	s->aud = audience_locked(b, s->org, s->category);
	if (s->aud == AUD_NONE)
		b->dirty_all = true;
	else if (!b->is_dirty[s->aud]) {
		b->is_dirty[s->aud] = 1;
		b->dirty[b->ndirty++] = s->aud;
	}
	if (seq >= b->next)
		b->next = seq + 1;
	/* An alarm does not wait for the batch: its readers wake now. */
	bool urgent = strncmp(s->category, "alarms", 6) == 0;
	if (b->nwaiting && (!b->pending || urgent)) {
		if (urgent || mono_us() - b->last_wake_us >= flush_of(b)) {
			wake_locked(b, false); /* the first event of a batch wakes the sleepers; the rest find none */
		} else {
			b->pending = true; /* the ticker wakes them flush_us after the last wake */
			pthread_cond_signal(&b->tick_cv);
		}
	}
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
	b->closing = true; /* no reader sleeps again: each ends */
	wake_locked(b, true);
	pthread_mutex_unlock(&b->mu);
}

/* --- one reader ------------------------------------------------------------------ */

#define MAX_CATS 16

struct reader {
	struct http_env *env;
	struct broker *b;
	struct MHD_Connection *conn;
	uint64_t next;        /* next sequence to send */
	struct actor actor;
	struct grant_set grants;
	char token_hash[65];
	bool by_key;          /* authenticated by API key */
	int64_t checked_at_us; /* when the session or key was checked */
	uint64_t epoch;       /* env->auth_epoch when they were read */
	int64_t last_write_us;
	struct sb out;        /* pending bytes */
	size_t out_off;
	bool hello_sent, ended;
	bool live;            /* caught up with the ring (before: reading the outbox) */
	bool gap_told;
	bool waiting;         /* in b->waiting, its connection suspended */
	uint8_t seen[AUD_MAX]; /* per audience: 0 undecided, 1 shown, 2 not, 3 per person */
	/* ?categories=: the events the client asked for (none: all it may see) */
	char cats[MAX_CATS][24];
	int ncats;
};

static bool wanted(const struct reader *rd, const char *category)
{
	if (!rd->ncats)
		return true;
	for (int i = 0; i < rd->ncats; i++)
		if (str_eq(rd->cats[i], category ? category : ""))
			return true;
	return false;
}

/* Whether a sleeping reader may see any audience published since the last
 * wake (undecided counts as may). */
static bool interested(const struct broker *b, const struct reader *rd)
{
	if (b->dirty_all)
		return true;
	for (uint32_t i = 0; i < b->ndirty; i++)
		if (rd->seen[b->dirty[i]] != 2)
			return true;
	return false;
}

/* Resumes the sleeping readers that may see what was published since the
 * last wake, or all of them (b->mu held). Each was suspended before it
 * joined the list, under the same lock, so a resume never precedes its
 * suspend. */
static void wake_locked(struct broker *b, bool all)
{
	size_t keep = 0;
	for (size_t i = 0; i < b->nwaiting; i++) {
		struct reader *rd = b->waiting[i];
		if (!all && !interested(b, rd)) {
			b->waiting[keep++] = rd;
			continue;
		}
		rd->waiting = false;
		MHD_resume_connection(rd->conn);
	}
	b->nwaiting = keep;
	for (uint32_t i = 0; i < b->ndirty; i++)
		b->is_dirty[b->dirty[i]] = 0;
	b->ndirty = 0;
	b->dirty_all = false;
	b->pending = false;
	b->last_wake_us = mono_us();
}

/* Suspends the reader's connection until the next wake (b->mu held). */
static void sleep_locked(struct broker *b, struct reader *rd)
{
	if (b->nwaiting == b->waiting_cap) {
		b->waiting_cap = b->waiting_cap ? 2 * b->waiting_cap : 64;
		b->waiting = xrealloc(b->waiting, b->waiting_cap * sizeof(*b->waiting));
	}
	MHD_suspend_connection(rd->conn);
	b->waiting[b->nwaiting++] = rd;
	rd->waiting = true;
}

/* Checks that the caller as it stands now is the caller the stream was
 * opened for: a revoked key, a logout, a disabled user, a password change
 * (which ends the user's other sessions), the absolute expiry, and a new
 * role or organisation all end the stream (the client reconnects with what
 * it may now see); an open stream is activity, so the idle timer does not. */
static bool caller_stands(struct reader *rd, struct db *db)
{
	if (rd->by_key) {
		struct account k;
		return account_by_api_key(db, rd->actor.id, true, &k) == 0 && role_parse(k.role) == (int)rd->actor.role &&
		       str_eq(k.org_id, rd->actor.org_id);
	}
	struct session_row s;
	return account_by_session(db, rd->token_hash, &s) == 0 && s.expires_ms > clock_now_ms() &&
	       role_parse(s.who.role) == (int)rd->actor.role && str_eq(s.who.org_id, rd->actor.org_id) &&
	       str_eq(s.who.person_id, rd->actor.person_id);
}

/* Decide with the grants and the session re-read each second (the grants
 * from the grant cache, itself at most a second old, as for any request),
 * and at once after any account or agreement change in this process
 * (auth_epoch): a revocation reaches the stream before its next event. */
static bool still_allowed(struct reader *rd)
{
	int64_t now = clock_mono_us();
	uint64_t epoch = atomic_load(&rd->env->auth_epoch);
	bool check = epoch != rd->epoch || now - rd->checked_at_us > 1000000;
	if (!check)
		return true;
	struct db *db = store_reader(rd->env->store);
	if (!db)
		return false;
	rd->epoch = epoch;
	bool ok = grant_cache_get(rd->env->grant_cache, db, rd->actor.org_id, clock_now_ms(), &rd->grants) == 0;
	if (ok) {
		ok = caller_stands(rd, db);
		rd->checked_at_us = now;
	}
	store_reader_put(rd->env->store, db);
	rd->actor.grants = &rd->grants;
	memset(rd->seen, 0, sizeof(rd->seen)); /* decide again with these grants */
	return ok;
}

/* What the policy lets the reader read of the event's category (its
 * resource: positions for position and geofence events), and not as a
 * summary: summary positions are coarse and delayed, never streamed live.
 * subject: the person the event is about, for a grant that holds per person
 * (positions during an open SOS). */
static bool may_see(const struct reader *rd, const char *org, const char *category, const char *subject)
{
	struct access acc;
	return policy_decide(&rd->actor, ACT_READ, category, org, subject && *subject ? subject : NULL, &acc) ==
		       DECIDE_ALLOW &&
	       acc.view != VIEW_SUMMARY;
}

/* An audience as a whole: 1 shown, 2 not, 3 decided per person (a grant in
 * full under a condition that holds per person). */
static uint8_t decide_audience(const struct reader *rd, const char *org, const char *category)
{
	if (may_see(rd, org, category, NULL))
		return 1;
	const struct grant *g = policy_grant(&rd->actor, org, category_of(category));
	return g && g->cond != COND_ALWAYS && g->level == LEVEL_FULL ? 3 : 2;
}

/* may_see, remembered per audience until the grants are re-read. */
static bool may_see_slot(struct reader *rd, const struct slot *s)
{
	if (!wanted(rd, s->category)) {
		if (s->aud != AUD_NONE)
			rd->seen[s->aud] = 2; /* not asked for: no wake for it either */
		return false;
	}
	if (s->aud == AUD_NONE) /* the table is full: decided each time */
		return may_see(rd, s->org, s->category, s->subject);
	if (!rd->seen[s->aud])
		rd->seen[s->aud] = decide_audience(rd, s->org, s->category);
	if (rd->seen[s->aud] == 3)
		return s->subject[0] && may_see(rd, s->org, s->category, s->subject);
	return rd->seen[s->aud] == 1;
}

static int catch_up_one(void *ctx, const struct event *e)
{
	struct reader *rd = ctx;
	if ((uint64_t)e->seq > rd->next && !rd->gap_told) {
		/* Retention took what the client missed: it reloads. */
		sb_addf(&rd->out, "event: gap\ndata: {\"missed_from\":%llu}\n\n", (unsigned long long)rd->next);
		rd->gap_told = true;
	}
	if (wanted(rd, e->category) && may_see(rd, e->org_id ? e->org_id : "", e->category ? e->category : "", e->subject)) {
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

/* Called on the event loop whenever the socket can take more: never waits.
 * With nothing to send the reader suspends its connection and returns 0;
 * the next event (or the ticker) resumes it and libmicrohttpd asks again. */
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
		if (!still_allowed(rd))
			return MHD_CONTENT_READER_END_OF_STREAM; /* logged out, disabled, revoked key */
		if (!rd->live) {
			if (!catch_up(rd))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		struct broker *b = rd->b;
		pthread_mutex_lock(&b->mu);
		if (b->closing) {
			pthread_mutex_unlock(&b->mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (rd->next < oldest_locked(b)) {
			/* Fell behind by more than the ring: dropped, never waited for. */
			pthread_mutex_unlock(&b->mu);
			log_info("stream reader dropped: too slow", "user", rd->actor.id, NULL);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		/* Copy out what is ready, up to 64 KiB. */
		while (rd->next < b->next && rd->out.len < 65536) {
			struct slot *s = &b->ring[rd->next % b->cap];
			if (s->seq == rd->next && s->frame && may_see_slot(rd, s))
				sb_adds(&rd->out, s->frame);
			rd->next++;
		}
		if (rd->out.len == 0 && clock_mono_us() - rd->last_write_us > 15000000)
			sb_adds(&rd->out, ": heartbeat\n\n");
		if (rd->out.len == 0 && rd->next == b->next) {
			sleep_locked(b, rd);
			pthread_mutex_unlock(&b->mu);
			return 0;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

static void reader_free(void *cls)
{
	struct reader *rd = cls;
	pthread_mutex_lock(&rd->b->mu);
	rd->b->nreaders--;
	for (size_t i = 0; rd->waiting && i < rd->b->nwaiting; i++)
		if (rd->b->waiting[i] == rd) { /* closed while it slept */
			rd->b->waiting[i] = rd->b->waiting[--rd->b->nwaiting];
			break;
		}
	pthread_mutex_unlock(&rd->b->mu);
	sb_release(&rd->out);
	free(rd);
}

void api_stream(struct req *r)
{
	static const char *const allowed[] = {"categories", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	/* ?categories=positions,alarms: only those (a console need not carry
	 * every person's alert message through a large alert) */
	char cats[MAX_CATS][24];
	int ncats = 0;
	const char *q = req_query(r, "categories");
	while (q && *q) {
		size_t n = strcspn(q, ",");
		if (n == 0 || n >= sizeof(cats[0]) || ncats == MAX_CATS) {
			reply_problem(r, 400, "validation", "Invalid request", "categories: a comma-separated list of event categories",
				      "?categories");
			return;
		}
		memcpy(cats[ncats], q, n);
		cats[ncats][n] = '\0';
		if (!policy_has_rule(cats[ncats])) {
			char d[96];
			snprintf(d, sizeof(d), "categories: '%s' is no event category", cats[ncats]);
			reply_problem(r, 400, "validation", "Invalid request", d, "?categories");
			return;
		}
		ncats++;
		q += n + (q[n] == ',');
	}
	struct broker *b = r->env->broker;
	struct reader *rd = xcalloc(1, sizeof(*rd));
	memcpy(rd->cats, cats, sizeof(cats));
	rd->ncats = ncats;
	rd->env = r->env;
	rd->b = b;
	rd->conn = r->conn;
	rd->actor = r->actor;
	rd->by_key = r->actor.api_key;
	if (!rd->by_key)
		secret_hash(auth_token(r), rd->token_hash);
	sb_init(&rd->out);
	if (r->grants)
		rd->grants = *r->grants;
	rd->actor.grants = &rd->grants;
	rd->checked_at_us = rd->last_write_us = clock_mono_us();
	rd->epoch = atomic_load(&r->env->auth_epoch);
	const char *last = req_header(r, "Last-Event-ID");
	pthread_mutex_lock(&b->mu);
	b->nreaders++;
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
