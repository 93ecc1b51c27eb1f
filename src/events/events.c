/* The outbox and its dispatcher; see events.h. */
#include "events/events.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SUBS 16
#define READ_BATCH 256
#define SAVE_EVERY_MS 500
#define STALE_CURSOR_MS (7 * 86400000LL) /* a durable subscriber gone this long no longer holds events back */

/* Set on the writer thread by an append, read and cleared by the commit
 * hook on the same thread: a commit without events (a registry write) does
 * not wake the dispatcher (it cost a reader query per commit: registry
 * writes at 1 client fell from 1,177/s to 762/s, bench/README.md). */
static _Thread_local bool appended;

int events_append(struct db *db, const char *org_id, const char *category, const char *type, const json_t *body,
		  int64_t now_ms)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	int rc = text ? events_append_text(db, org_id, category, type, text, now_ms) : SG_EIO;
	free(text);
	return rc;
}

int events_append_text(struct db *db, const char *org_id, const char *category, const char *type,
		       const char *body, int64_t now_ms)
{
	return events_append_about(db, org_id, category, type, body, NULL, now_ms);
}

int events_append_about(struct db *db, const char *org_id, const char *category, const char *type,
			const char *body, const char *subject, int64_t now_ms)
{
	struct db_stmt *st;
	appended = true;
	if (!body || db_prepare(db,
				"INSERT INTO events (at_ms, org_id, category, type, body, subject)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				&st))
		return SG_EIO;
	db_bind_all(st, DB_I(now_ms), DB_T(org_id), DB_T(category), DB_T(type), DB_T(body),
		    DB_T(subject && *subject ? subject : NULL));
	return db_run(st);
}

int events_read(struct db *db, int64_t after, int limit, events_fn fn, void *ctx)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT seq, at_ms, org_id, category, type, body, subject FROM events WHERE seq > ?1"
		       " ORDER BY seq LIMIT ?2",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, after);
	db_bind_int(st, 2, limit);
	int n = 0, rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct event e = {.seq = db_col_int(st, 0), .at_ms = db_col_int(st, 1), .org_id = db_col_text(st, 2),
				  .category = db_col_text(st, 3), .type = db_col_text(st, 4), .body = db_col_text(st, 5),
				  .subject = db_col_text(st, 6)};
		n++;
		if (fn(ctx, &e))
			break;
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : n;
}

int events_head(struct db *db, int64_t *seq)
{
	struct db_stmt *st;
	/* 0 once retention emptied the table: the next seq is still higher
	 * than any given (the key never reuses one). */
	if (db_prepare(db, "SELECT COALESCE(max(seq), 0) FROM events", &st))
		return SG_EIO;
	int rc = db_step(st);
	*seq = rc == DB_ROW ? db_col_int(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : SG_EIO;
}

/* The dispatcher ----------------------------------------------------------- */

struct sub {
	char name[64];
	bool durable;
	events_fn fn;
	void *ctx;
	_Atomic int64_t cursor; /* last seq handed over (read by events_wait, events_purge) */
	int64_t saved;    /* last cursor written to the store */
	int64_t retry_ms; /* monotonic ms before which it is not tried (after a failure) */
	int backoff_ms;
};

struct events {
	struct store *st;
	struct events_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* wakes the dispatcher */
	pthread_cond_t done_cv; /* wakes events_wait */
	bool woken, stop, running;
	pthread_t th;
	struct sub subs[MAX_SUBS];
	int nsubs;
	int64_t last_save_ms;
};

struct events *events_new(struct store *st, const struct events_opts *o)
{
	struct events *ev = xcalloc(1, sizeof(*ev));
	ev->st = st;
	ev->o = o ? *o : (struct events_opts){0};
	if (ev->o.poll_ms <= 0)
		ev->o.poll_ms = 1000;
	if (ev->o.retention_ms <= 0)
		ev->o.retention_ms = 3600000;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_cond_init(&ev->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	return ev;
}

static int cursor_load(struct db *db, const char *name, int64_t *seq)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT seq FROM event_cursors WHERE subscriber = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, name);
	int rc = db_step(st);
	if (rc == DB_ROW)
		*seq = db_col_int(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

struct save_job {
	struct events *ev;
	int64_t cursors[MAX_SUBS];
};

static int save_fn(struct db *db, void *arg)
{
	struct save_job *j = arg;
	int64_t now = clock_now_ms();
	for (int i = 0; i < j->ev->nsubs; i++) {
		const struct sub *s = &j->ev->subs[i];
		if (!s->durable || j->cursors[i] == s->saved)
			continue;
		struct db_stmt *st;
		if (db_prepare(db,
			       "INSERT INTO event_cursors (subscriber, seq, updated_ms) VALUES (?1, ?2, ?3)"
			       " ON CONFLICT (subscriber) DO UPDATE SET seq = excluded.seq, updated_ms = excluded.updated_ms",
			       &st))
			return SG_EIO;
		db_bind_all(st, DB_T(s->name), DB_I(j->cursors[i]), DB_I(now));
		if (db_run(st))
			return SG_EIO;
	}
	return 0;
}

int events_subscribe(struct events *ev, const char *name, bool durable, events_fn fn, void *ctx)
{
	if (ev->nsubs == MAX_SUBS || ev->running)
		return SG_EINVAL;
	struct db *db = store_reader(ev->st);
	if (!db)
		return SG_EIO;
	struct sub *s = &ev->subs[ev->nsubs];
	s->durable = durable;
	s->fn = fn;
	s->ctx = ctx;
	s->saved = -1;
	s->retry_ms = 0;
	s->backoff_ms = 0;
	sg_strlcpy(s->name, name, sizeof(s->name));
	int64_t at = 0;
	int rc = durable ? cursor_load(db, name, &at) : SG_ENOTFOUND;
	bool fresh = rc == SG_ENOTFOUND;
	if (fresh)
		rc = events_head(db, &at); /* new: from now on */
	else if (rc == 0)
		s->saved = at;
	atomic_store(&s->cursor, at);
	store_reader_put(ev->st, db);
	if (rc)
		return rc;
	ev->nsubs++;
	/* A new durable subscriber exists from now on: its starting point is
	 * stored at once, or a crash before its first save would restart it at
	 * a later head and skip what came between. */
	if (durable && fresh) {
		struct save_job j = {.ev = ev};
		for (int i = 0; i < ev->nsubs; i++)
			j.cursors[i] = atomic_load(&ev->subs[i].cursor);
		if (store_write(ev->st, save_fn, &j)) {
			ev->nsubs--;
			return SG_EIO;
		}
		s->saved = at;
	}
	return 0;
}

struct handover {
	struct sub *s;
	bool failed;
};

static int hand(void *ctx, const struct event *e)
{
	struct handover *h = ctx;
	if (h->s->fn(h->s->ctx, e)) {
		h->failed = true;
		return 1;
	}
	h->s->cursor = e->seq;
	return 0;
}

/* Hands every committed event to every subscriber not pausing after a
 * failure. Returns false when the store could not be read. */
static bool dispatch(struct events *ev)
{
	struct db *db = store_reader(ev->st);
	if (!db)
		return false;
	int64_t now = clock_mono_us() / 1000;
	bool ok = true;
	for (int i = 0; i < ev->nsubs; i++) {
		struct sub *s = &ev->subs[i];
		if (s->retry_ms > now)
			continue;
		struct handover h = {.s = s};
		int n;
		do {
			n = events_read(db, s->cursor, READ_BATCH, hand, &h);
		} while (n == READ_BATCH && !h.failed);
		if (n < 0)
			ok = false;
		if (h.failed) {
			s->backoff_ms = s->backoff_ms ? (s->backoff_ms * 2 > 30000 ? 30000 : s->backoff_ms * 2) : 1000;
			s->retry_ms = now + s->backoff_ms;
			log_warn("event subscriber failed; retrying", "subscriber", s->name, NULL);
		} else {
			s->backoff_ms = 0;
		}
	}
	store_reader_put(ev->st, db);
	return ok;
}

/* Writes the durable cursors that moved (at most every SAVE_EVERY_MS unless
 * forced): a crash repeats at most what was handed over since. */
static void save_cursors(struct events *ev, bool force)
{
	int64_t now = clock_mono_us() / 1000;
	if (!force && now - ev->last_save_ms < SAVE_EVERY_MS)
		return;
	struct save_job j = {.ev = ev};
	bool moved = false;
	for (int i = 0; i < ev->nsubs; i++) {
		j.cursors[i] = ev->subs[i].cursor;
		moved |= ev->subs[i].durable && j.cursors[i] != ev->subs[i].saved;
	}
	if (!moved)
		return;
	ev->last_save_ms = now;
	if (store_write(ev->st, save_fn, &j) == 0)
		for (int i = 0; i < ev->nsubs; i++)
			ev->subs[i].saved = j.cursors[i];
}

static void *dispatcher_main(void *arg)
{
	struct events *ev = arg;
	pthread_mutex_lock(&ev->mu);
	while (!ev->stop) {
		if (!ev->woken) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait_ms = ev->o.poll_ms < SAVE_EVERY_MS ? ev->o.poll_ms : SAVE_EVERY_MS;
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		}
		ev->woken = false;
		pthread_mutex_unlock(&ev->mu);
		dispatch(ev);
		save_cursors(ev, false);
		pthread_mutex_lock(&ev->mu);
		pthread_cond_broadcast(&ev->done_cv);
	}
	pthread_mutex_unlock(&ev->mu);
	dispatch(ev);
	save_cursors(ev, true);
	return NULL;
}

int events_start(struct events *ev)
{
	if (pthread_create(&ev->th, NULL, dispatcher_main, ev))
		return SG_EIO;
	ev->running = true;
	return 0;
}

void events_committed(void *arg)
{
	struct events *ev = arg;
	if (!appended)
		return; /* nothing new to hand over */
	appended = false;
	pthread_mutex_lock(&ev->mu);
	ev->woken = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

bool events_wait(struct events *ev, int64_t seq, int timeout_ms)
{
	int64_t until = clock_mono_us() / 1000 + timeout_ms;
	pthread_mutex_lock(&ev->mu);
	for (;;) {
		bool all = true;
		for (int i = 0; i < ev->nsubs; i++)
			all &= ev->subs[i].cursor >= seq;
		int64_t now = clock_mono_us() / 1000;
		if (all || now >= until) {
			pthread_mutex_unlock(&ev->mu);
			return all;
		}
		ev->woken = true;
		pthread_cond_signal(&ev->cv);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ev->done_cv, &ev->mu, &ts);
	}
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	if (ev->running) {
		pthread_mutex_lock(&ev->mu);
		ev->stop = true;
		pthread_cond_signal(&ev->cv);
		pthread_mutex_unlock(&ev->mu);
		pthread_join(ev->th, NULL);
	}
	pthread_cond_destroy(&ev->cv);
	pthread_cond_destroy(&ev->done_cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

/* Retention ------------------------------------------------------------------ */

struct purge_job {
	int64_t cutoff_ms, upto, deleted;
};

static int floor_fn(struct db *db, void *arg)
{
	struct purge_job *j = arg;
	struct db_stmt *st;
	/* Durable subscribers hold back what they have not been handed. */
	if (db_prepare(db, "SELECT min(seq) FROM event_cursors WHERE updated_ms >= ?1", &st))
		return SG_EIO;
	db_bind_int(st, 1, j->cutoff_ms - STALE_CURSOR_MS);
	if (db_step(st) == DB_ROW && db_col_type(st, 0) != DB_NULL && db_col_int(st, 0) < j->upto)
		j->upto = db_col_int(st, 0);
	db_reset(st);
	if (db_prepare(db,
		       "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ?1 AND at_ms < ?2"
		       " ORDER BY seq LIMIT 5000)",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, j->upto);
	db_bind_int(st, 2, j->cutoff_ms);
	if (db_run(st))
		return SG_EIO;
	j->deleted = db_changes(db);
	return 0;
}

long events_purge(struct events *ev, int64_t now_ms)
{
	long total = 0;
	for (;;) {
		struct purge_job j = {.cutoff_ms = now_ms - ev->o.retention_ms, .upto = INT64_MAX};
		/* Volatile subscribers of this process too: nothing they still read goes. */
		pthread_mutex_lock(&ev->mu);
		for (int i = 0; i < ev->nsubs; i++)
			if (ev->subs[i].cursor < j.upto)
				j.upto = ev->subs[i].cursor;
		pthread_mutex_unlock(&ev->mu);
		if (store_write(ev->st, floor_fn, &j))
			return SG_EIO;
		total += (long)j.deleted;
		if (j.deleted < 5000)
			return total;
	}
}
