/* Fan-out, the channel workers and their retries; see delivery.h. */
#include "delivery/delivery.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "registry/resource.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256
#define POLL_MS 250

/* --- fan-out ----------------------------------------------------------------------- */

static char *dup_col(struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);
	return s ? xstrdup(s) : NULL;
}

/* In the alert's (or the wave's) transaction: a fanouts row naming whom
 * (the alert's recipient set, or the wave's silent, frozen then) and the
 * channels chosen then. The delivery rows follow in steps (below). */

/* A channel of a fan-out: [name, channel id or null, shape, why or null]. */
enum shape { SHAPE_NONE, SHAPE_CONTACT, SHAPE_OWNTRACKS };

static long fanout(struct db *db, int src, const char *org, const char *alert, const char *rollcall, int wave,
		   int64_t now)
{
	/* The OwnTracks app is a channel of an organisation that has enrolled
	 * one: then each of its people without one is undeliverable there. */
	struct db_stmt *st;
	if (db_prepare(db, "SELECT 1 FROM devices WHERE org_id = ?1 AND protocol = 'owntracks' LIMIT 1", &st))
		return SG_EIO;
	db_bind_text(st, 1, org);
	int has_ot = db_step(st);
	db_reset(st);
	if (has_ot != DB_ROW && has_ot != DB_DONE)
		return SG_EIO;
	json_t *chans = json_pack("[[s,n,i,n]]", "stream", SHAPE_NONE);
	if (has_ot == DB_ROW)
		json_array_append_new(chans, json_pack("[s,n,i,s]", "owntracks", SHAPE_OWNTRACKS, "no OwnTracks device"));
	if (db_prepare(db, "SELECT id, kind FROM channels WHERE org_id = ?1 AND enabled = 1 ORDER BY id", &st)) {
		json_decref(chans);
		return SG_EIO;
	}
	db_bind_text(st, 1, org);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *kind = db_col_text(st, 1);
		bool webhook = str_eq(kind, "webhook");
		json_array_append_new(chans, json_pack("[s,s,i,s?]", kind, db_col_text(st, 0),
						       webhook ? SHAPE_NONE : SHAPE_CONTACT,
						       webhook ? NULL : str_eq(kind, "email") ? "no email address"
											      : "no phone number"));
	}
	db_reset(st);
	char *ctext = json_dumps(chans, JSON_COMPACT);
	json_decref(chans);
	if (rc != DB_DONE) {
		free(ctext);
		return SG_EIO;
	}
	rc = src == 0 ? db_prepare(db,
				   "INSERT INTO fanouts (org_id, alert_id, channels, total, created_ms)"
				   " SELECT ?1, ?2, ?3, count, ?4 FROM alert_recipient_sets WHERE alert_id = ?2 AND count > 0",
				   &st)
		      : db_prepare(db,
				   "INSERT INTO fanouts (org_id, alert_id, rollcall_id, wave, people, channels, total, created_ms)"
				   " SELECT ?1, ?2, ?5, ?6, json_group_array(json_array(person_id)), ?3, count(*), ?4"
				   " FROM (SELECT person_id FROM rollcall_people WHERE rollcall_id = ?5 AND state = 'no_answer'"
				   " ORDER BY person_id) HAVING count(*) > 0",
				   &st);
	if (!rc) {
		db_bind_all(st, DB_T(org), DB_T(alert), DB_T(ctext), DB_I(now));
		if (src) {
			db_bind_text(st, 5, rollcall);
			db_bind_int(st, 6, wave);
		}
		rc = db_run(st);
	}
	free(ctext);
	return rc ? SG_EIO : (long)db_changes(db);
}

long delivery_fanout(struct db *db, const char *org_id, const char *alert_id, int64_t now_ms)
{
	return fanout(db, 0, org_id, alert_id, NULL, 0, now_ms);
}

long delivery_fanout_rollcall(struct db *db, const char *org_id, const char *alert_id, const char *rollcall_id,
			      int wave, int64_t now_ms)
{
	return fanout(db, 1, org_id, alert_id, rollcall_id, wave, now_ms);
}

/* The elements from .. from + count - 1 of the JSON array text s, as an
 * array text of their own (fewer if s has fewer). A scan for the commas of
 * the top level: the set is several megabytes, parsed once per step it
 * would cost more than the step. */
static void array_slice(const char *s, size_t from, size_t count, struct sb *out)
{
	sb_reset(out);
	sb_addc(out, '[');
	const char *p = strchr(s, '[');
	if (p && count) {
		const char *start = from == 0 ? p + 1 : NULL, *end = NULL;
		size_t idx = 0;
		int depth = 0;
		bool in_str = false;
		for (p++; *p && !end; p++) {
			char c = *p;
			if (in_str) {
				if (c == '\\' && p[1])
					p++;
				else if (c == '"')
					in_str = false;
			} else if (c == '"') {
				in_str = true;
			} else if (c == '[' || c == '{') {
				depth++;
			} else if ((c == ']' || c == '}') && depth > 0) {
				depth--;
			} else if (c == ']') {
				end = p; /* the array ends */
			} else if (c == ',' && depth == 0) {
				if (start && idx + 1 == from + count)
					end = p;
				else if (++idx == from)
					start = p + 1;
			}
		}
		if (start && end && end > start)
			sb_add(out, start, (size_t)(end - start));
	}
	sb_addc(out, ']');
}

#define INSERT_SQL                                                                                          \
	"INSERT INTO deliveries (org_id, alert_id, rollcall_id, wave, person_id, channel, channel_id, address,"   \
	" state, next_at_ms, last_error, created_at, updated_at) SELECT"                                     \
	" ?1, ?2, ?3, ?4, x.person_id, ?7, ?8, x.addr,"                                                         \
	" CASE WHEN x.need AND x.addr IS NULL THEN 'undeliverable' ELSE 'pending' END, ?5,"                   \
	" CASE WHEN x.need AND x.addr IS NULL THEN ?9 END, ?6, ?6 FROM ("
#define SOURCE_SQL "SELECT value ->> 0 AS person_id FROM json_each(?10)"

/* The stream and webhooks need no contact; email, SMS and OwnTracks do:
 * the person's contact, or one of their OwnTracks phones. Constant
 * fragments, never request data. */
static const char *const shape_sql[] = {
	INSERT_SQL "SELECT r.person_id, NULL AS addr, 0 AS need FROM (" SOURCE_SQL ") r) x",
	INSERT_SQL "SELECT r.person_id, CASE ?7 WHEN 'email' THEN p.email ELSE p.phone END AS addr, 1 AS need FROM ("
		   SOURCE_SQL ") r JOIN people p ON p.id = r.person_id) x",
	INSERT_SQL "SELECT r.person_id, (SELECT min(d.id) FROM devices d WHERE d.person_id = r.person_id"
		   " AND d.protocol = 'owntracks') AS addr, 1 AS need FROM (" SOURCE_SQL ") r) x",
};

#define STEP_FIRST 256   /* the first deliveries leave after a small step */
#define STEP_MAX 16384   /* steps double up to this: the writer serves others between them */

struct step {
	int64_t now;
	bool wrote;
};

/* The next step of the oldest open fan-out, with its progress. */
static int step_fn(struct db *db, void *arg)
{
	struct step *s = arg;
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT seq, org_id, alert_id, rollcall_id, wave, channels, total, done,"
		       " coalesce(people, (SELECT r.people FROM alert_recipient_sets r WHERE r.alert_id = f.alert_id), '[]')"
		       " FROM fanouts f WHERE done < total ORDER BY seq LIMIT 1",
		       &st))
		return SG_EIO;
	int rc = db_step(st);
	if (rc != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? 0 : SG_EIO;
	}
	int64_t seq = db_col_int(st, 0), total = db_col_int(st, 6), done = db_col_int(st, 7);
	char *org = dup_col(st, 1), *alert = dup_col(st, 2), *rollcall = dup_col(st, 3);
	int wave = (int)db_col_int(st, 4);
	json_t *chans = json_loads(db_col_text(st, 5) ? db_col_text(st, 5) : "[]", 0, NULL);
	int64_t k = done < STEP_FIRST ? STEP_FIRST : done < STEP_MAX ? done : STEP_MAX;
	if (k > total - done)
		k = total - done;
	struct sb slice;
	sb_init(&slice);
	array_slice(db_col_text(st, 8), (size_t)done, (size_t)k, &slice);
	db_reset(st);
	char ts[25];
	time_format_ms(s->now, ts);
	rc = 0;
	size_t i;
	json_t *c;
	json_array_foreach(chans, i, c) {
		int shape = (int)json_integer_value(json_array_get(c, 2));
		if (rc || shape < 0 || shape > SHAPE_OWNTRACKS)
			continue;
		if (db_prepare(db, shape_sql[shape], &st)) {
			rc = SG_EIO;
			break;
		}
		db_bind_all(st, DB_T(org), DB_T(alert), DB_T(rollcall), DB_I(wave), DB_I(s->now), DB_T(ts),
			    DB_T(json_string_value(json_array_get(c, 0))), DB_T(json_string_value(json_array_get(c, 1))),
			    DB_T(json_string_value(json_array_get(c, 3))), DB_T(slice.buf));
		if (db_run(st))
			rc = SG_EIO;
	}
	if (!rc && !db_prepare(db, "UPDATE fanouts SET done = ?2 WHERE seq = ?1", &st)) {
		db_bind_all(st, DB_I(seq), DB_I(done + k));
		rc = db_run(st) ? SG_EIO : 0;
	} else if (!rc) {
		rc = SG_EIO;
	}
	s->wrote = rc == 0;
	sb_release(&slice);
	json_decref(chans);
	free(org);
	free(alert);
	free(rollcall);
	return rc;
}

int delivery_list(struct db *db, const char *alert_id, json_t **rows, json_t **counts)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT 'dlv_' || seq, person_id, channel, channel_id, state, attempts, last_error, sent_at, rollcall_id,"
		       " wave FROM deliveries WHERE alert_id = ?1 ORDER BY person_id, channel, wave, seq",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, alert_id);
	json_t *a = json_array(), *n = json_object();
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_t *row = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I,s:s?,s:s?,s:s?,s:I}", "id", db_col_text(st, 0),
					"person_id", db_col_text(st, 1), "channel", db_col_text(st, 2), "channel_id",
					db_col_text(st, 3), "state", db_col_text(st, 4), "attempts",
					(json_int_t)db_col_int(st, 5), "last_error", db_col_text(st, 6), "sent_at",
					db_col_text(st, 7), "rollcall_id", db_col_text(st, 8), "wave",
					(json_int_t)db_col_int(st, 9));
		json_array_append_new(a, row);
		const char *ch = db_col_text(st, 2), *state = db_col_text(st, 4);
		json_t *per = json_object_get(n, ch);
		if (!per)
			json_object_set_new(n, ch, per = json_object());
		json_object_set_new(per, state, json_integer(json_integer_value(json_object_get(per, state)) + 1));
	}
	db_reset(st);
	/* people whose rows a fan-out has still to write: "queued" */
	if (rc == DB_DONE && db_prepare(db, "SELECT channels, total - done FROM fanouts WHERE alert_id = ?1 AND done < total", &st))
		rc = SG_EIO;
	if (rc == DB_DONE) {
		db_bind_text(st, 1, alert_id);
		while ((rc = db_step(st)) == DB_ROW) {
			json_t *chans = json_loads(db_col_text(st, 0) ? db_col_text(st, 0) : "[]", 0, NULL);
			size_t i;
			json_t *c;
			json_array_foreach(chans, i, c) {
				const char *ch = json_string_value(json_array_get(c, 0));
				json_t *per = ch ? json_object_get(n, ch) : NULL;
				if (ch && !per)
					json_object_set_new(n, ch, per = json_object());
				if (per)
					json_object_set_new(per, "queued", json_integer(json_integer_value(json_object_get(per, "queued")) +
											db_col_int(st, 1)));
			}
			json_decref(chans);
		}
		db_reset(st);
	}
	if (rc != DB_DONE) {
		json_decref(a);
		json_decref(n);
		return SG_EIO;
	}
	*rows = a;
	*counts = n;
	return 0;
}

/* --- the workers ---------------------------------------------------------------------- */

struct row {
	int64_t rowid;
	char *id, *alert_id, *person_id, *org_id, *rollcall_id, *address, *channel_id;
	int attempts, wave;
	/* the outcome */
	int rc;
	char err[200];
};

struct worker {
	struct deliverer *d;
	const struct channel_ops *ops;
	pthread_t th;
	bool running;
};

#define NCHANNELS 5

struct deliverer {
	struct store *st;
	struct delivery_opts o;
	char public_url[256];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	unsigned woken; /* a generation: each worker runs once more after a wake */
	struct worker w[NCHANNELS];
	pthread_t fanner; /* writes the fan-outs' delivery rows, step by step */
	bool fanner_running;
	/* OwnTracks: messages waiting for a phone, {person_id: [[delivery_id,
	 * cmd], ...]}, loaded up to box_rowid; and the ids handed over */
	pthread_mutex_t box_mu;
	json_t *box, *handed;
	_Atomic long boxed;
	int64_t box_rowid;
	_Atomic uint64_t sent, retried, failed;
};

/* Messages may hold an answer link's token: wiped before freeing. */
static void zfree(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void row_free(struct row *r)
{
	free(r->id);
	free(r->alert_id);
	free(r->person_id);
	free(r->org_id);
	free(r->rollcall_id);
	free(r->address);
	free(r->channel_id);
}

/* Due rows of a channel (a pull channel: every pending row after the last
 * one loaded). Returns how many, or SG_EIO. */
static int load_due(struct deliverer *d, struct db *db, const struct channel_ops *ops, int64_t now, struct row *rows)
{
	struct db_stmt *st;
	int rc = ops->pull ? db_prepare(db,
					"SELECT seq, 'dlv_' || seq, alert_id, person_id, org_id, rollcall_id, address, channel_id,"
					" attempts, wave FROM deliveries WHERE channel = ?1 AND state = 'pending'"
					" AND seq > ?2 ORDER BY seq LIMIT ?3",
					&st)
			   : db_prepare(db,
					"SELECT seq, 'dlv_' || seq, alert_id, person_id, org_id, rollcall_id, address, channel_id,"
					" attempts, wave FROM deliveries WHERE channel = ?1 AND state = 'pending'"
					" AND next_at_ms <= ?2 ORDER BY next_at_ms LIMIT ?3",
					&st);
	if (rc)
		return SG_EIO;
	db_bind_all(st, DB_T(ops->name), DB_I(ops->pull ? d->box_rowid : now), DB_I(BATCH));
	int n = 0;
	while (n < BATCH && (rc = db_step(st)) == DB_ROW) {
		struct row *r = &rows[n++];
		*r = (struct row){.rowid = db_col_int(st, 0), .id = dup_col(st, 1), .alert_id = dup_col(st, 2),
				  .person_id = dup_col(st, 3), .org_id = dup_col(st, 4), .rollcall_id = dup_col(st, 5),
				  .address = dup_col(st, 6), .channel_id = dup_col(st, 7), .attempts = (int)db_col_int(st, 8),
				  .wave = (int)db_col_int(st, 9)};
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : n;
}

/* The message in words: what a phone shows. */
static char *message_text(struct deliverer *d, struct db *db, const json_t *alert, const struct row *r, bool link)
{
	struct sb sb;
	sb_init(&sb);
	const char *s;
	if (str_eq(json_string_value(json_object_get(alert, "status")), "Exercise"))
		sb_adds(&sb, "EXERCISE - not a real alert. ");
	sb_adds(&sb, json_string_value(json_object_get(alert, "headline")));
	if ((s = json_string_value(json_object_get(alert, "instruction"))) && *s)
		sb_addf(&sb, "\n%s", s);
	if (r->rollcall_id) {
		char tok[96];
		if (link && d->o.rollcall_token &&
		    d->o.rollcall_token(d->o.token_ctx, db, r->rollcall_id, r->person_id, tok, sizeof(tok)) == 0)
			sb_addf(&sb, "\nAre you safe? Answer here: %s/answer.html#%s", d->o.public_url, tok);
		else
			sb_adds(&sb, "\nAre you safe? Answer in the Safeguard app or to your security office.");
		sodium_memzero(tok, sizeof(tok));
	}
	return sb_detach(&sb);
}

struct ctx {
	struct deliverer *d;
	const struct channel_ops *ops;
	void *state;
	struct row *rows;
	int n;
	int64_t now;
	json_t *alerts, *channels; /* by id, loaded once per batch */
};

static const json_t *cached(struct db *db, json_t *cache, const char *resource, const char *id)
{
	if (!id)
		return NULL;
	json_t *v = json_object_get(cache, id);
	if (!v) {
		json_t *rec = NULL;
		if (resource_get(db, resource_find(resource), id, &rec))
			rec = json_null();
		json_object_set_new(cache, id, rec);
		v = rec;
	}
	return json_is_object(v) ? v : NULL;
}

static void send_row(struct ctx *c, struct db *db, struct row *r)
{
	const json_t *alert = cached(db, c->alerts, "alerts", r->alert_id);
	const json_t *chan = cached(db, c->channels, "channels", r->channel_id);
	if (!alert || (r->channel_id && !chan)) {
		r->rc = SG_EINVAL;
		snprintf(r->err, sizeof(r->err), "%s", alert ? "the channel was removed" : "the alert is gone");
		return;
	}
	bool link = !str_eq(c->ops->name, "stream"); /* the stream is read by the operators too */
	char *text = message_text(c->d, db, alert, r, link);
	struct delivery_msg m = {.id = r->id, .alert_id = r->alert_id, .person_id = r->person_id, .org_id = r->org_id,
				 .rollcall_id = r->rollcall_id, .address = r->address, .attempts = r->attempts,
				 .wave = r->wave, .alert = alert, .channel = chan, .text = text, .db = db};
	r->err[0] = 0;
	r->rc = c->ops->send(c->state, &m, r->err, sizeof(r->err));
	if (r->rc && !r->err[0])
		snprintf(r->err, sizeof(r->err), "not delivered");
	zfree(text);
}

static int record_outcomes(struct db *db, struct ctx *c)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_at_ms = ?3, last_error = ?4,"
		       " sent_at = ?5, updated_at = ?6 WHERE seq = ?1 AND state = 'pending'",
		       &st))
		return SG_EIO;
	char ts[25];
	time_format_ms(c->now, ts);
	for (int i = 0; i < c->n; i++) {
		struct row *r = &c->rows[i];
		if (c->ops->in_store)
			send_row(c, db, r);
		const char *state = "sent";
		int64_t next = c->now;
		if (r->rc) {
			int tries = r->attempts + 1;
			if (r->rc == SG_EINVAL || tries >= c->d->o.max_attempts) {
				state = "failed";
				atomic_fetch_add(&c->d->failed, 1);
			} else {
				state = "pending";
				int64_t wait = c->d->o.retry_base_ms;
				for (int k = 1; k < tries && wait < c->d->o.max_backoff_ms; k++)
					wait *= 2;
				next = c->now + (wait < c->d->o.max_backoff_ms ? wait : c->d->o.max_backoff_ms);
				atomic_fetch_add(&c->d->retried, 1);
			}
		} else {
			atomic_fetch_add(&c->d->sent, 1);
		}
		db_bind_all(st, DB_I(r->rowid), DB_T(state), DB_I(next), DB_T(r->rc ? r->err : NULL),
			    DB_T(r->rc ? NULL : ts), DB_T(ts));
		if (db_run(st))
			return SG_EIO;
	}
	return 0;
}

static int record_fn(struct db *db, void *arg)
{
	return record_outcomes(db, arg);
}

/* OwnTracks: due rows become messages waiting for the phone. */
static void box_rows(struct ctx *c, struct db *db)
{
	struct deliverer *d = c->d;
	for (int i = 0; i < c->n; i++) {
		struct row *r = &c->rows[i];
		const json_t *alert = cached(db, c->alerts, "alerts", r->alert_id);
		d->box_rowid = r->rowid;
		if (!alert)
			continue;
		char *text = message_text(d, db, alert, r, true);
		struct delivery_msg m = {.id = r->id, .alert_id = r->alert_id, .person_id = r->person_id,
					 .org_id = r->org_id, .rollcall_id = r->rollcall_id, .address = r->address,
					 .alert = alert, .text = text, .db = db};
		char cmd[8192];
		if (c->ops->send(c->state, &m, cmd, sizeof(cmd)) == 0) {
			pthread_mutex_lock(&d->box_mu);
			json_t *q = json_object_get(d->box, r->person_id);
			if (!q)
				json_object_set_new(d->box, r->person_id, q = json_array());
			json_array_append_new(q, json_pack("[ss]", r->id, cmd));
			atomic_fetch_add(&d->boxed, 1);
			pthread_mutex_unlock(&d->box_mu);
		}
		zfree(text);
	}
}

static int handed_fn(struct db *db, void *arg)
{
	json_t *ids = arg;
	struct db_stmt *st;
	if (db_prepare(db,
		       "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?2, updated_at = ?2,"
		       " last_error = NULL WHERE seq = ?1 AND state = 'pending'",
		       &st))
		return SG_EIO;
	char ts[25];
	time_format_ms(clock_now_ms(), ts);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		db_bind_all(st, DB_I(strtoll(id + 4, NULL, 10)), DB_T(ts)); /* "dlv_" and the seq */
		if (db_run(st))
			return SG_EIO;
	}
	return 0;
}

/* The messages handed to a phone are recorded as sent. */
static void record_handed(struct deliverer *d)
{
	pthread_mutex_lock(&d->box_mu);
	json_t *h = d->handed;
	d->handed = json_array();
	pthread_mutex_unlock(&d->box_mu);
	if (json_array_size(h)) {
		if (store_write(d->st, handed_fn, h))
			log_warn("delivery: OwnTracks hand-overs could not be recorded; they may go out again", NULL);
		else
			atomic_fetch_add(&d->sent, (uint64_t)json_array_size(h));
	}
	json_decref(h);
}

/* One pass of a worker: true when a full batch was read (more may be due). */
static bool run_once(struct worker *w, void *state)
{
	struct deliverer *d = w->d;
	if (w->ops->pull)
		record_handed(d);
	struct row *rows = xcalloc(BATCH, sizeof(*rows));
	struct ctx c = {.d = d, .ops = w->ops, .state = state, .rows = rows, .now = clock_now_ms(),
			.alerts = json_object(), .channels = json_object()};
	struct db *db = store_reader(d->st);
	c.n = db ? load_due(d, db, w->ops, c.now, rows) : SG_EIO;
	if (c.n > 0 && w->ops->pull) {
		box_rows(&c, db);
	} else if (c.n > 0 && !w->ops->in_store) {
		for (int i = 0; i < c.n; i++)
			send_row(&c, db, &rows[i]);
	}
	if (db)
		store_reader_put(d->st, db);
	if (c.n > 0 && !w->ops->pull && store_write(d->st, record_fn, &c))
		log_warn("delivery: outcomes could not be written; they will be sent again", "channel", w->ops->name, NULL);
	bool more = c.n == BATCH;
	if (c.n < 0)
		log_warn("delivery: the due deliveries could not be read", "channel", w->ops->name, NULL);
	for (int i = 0; i < (c.n > 0 ? c.n : 0); i++)
		row_free(&rows[i]);
	free(rows);
	json_decref(c.alerts);
	json_decref(c.channels);
	return more;
}

/* With d->mu held: waits until a wake since *seen, or a poll's pause;
 * false once stopping. */
static bool wait_turn(struct deliverer *d, unsigned *seen)
{
	if (d->stop)
		return false;
	if (*seen == d->woken) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		if (d->stop)
			return false;
	}
	*seen = d->woken;
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct deliverer *d = w->d;
	void *state = w->ops->open ? w->ops->open(&d->o) : NULL;
	unsigned seen = (unsigned)-1;
	pthread_mutex_lock(&d->mu);
	while (wait_turn(d, &seen)) {
		pthread_mutex_unlock(&d->mu);
		while (run_once(w, state) && !d->stop)
			;
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	if (w->ops->pull)
		record_handed(d);
	if (w->ops->close)
		w->ops->close(state);
	return NULL;
}

/* Is a fan-out still to be written? (a reader: most passes find none) */
static bool fanout_open(struct deliverer *d)
{
	struct db *db = store_reader(d->st);
	if (!db)
		return true;
	struct db_stmt *st;
	bool open = true;
	if (!db_prepare(db, "SELECT 1 FROM fanouts WHERE done < total LIMIT 1", &st)) {
		open = db_step(st) != DB_DONE;
		db_reset(st);
	}
	store_reader_put(d->st, db);
	return open;
}

static void *fanner_main(void *arg)
{
	struct deliverer *d = arg;
	unsigned seen = (unsigned)-1;
	pthread_mutex_lock(&d->mu);
	while (wait_turn(d, &seen)) {
		pthread_mutex_unlock(&d->mu);
		while (!d->stop && fanout_open(d)) {
			struct step s = {.now = clock_now_ms()};
			if (store_write(d->st, step_fn, &s)) {
				log_warn("delivery: a fan-out step could not be written; it is tried again", NULL);
				break;
			}
			if (!s.wrote)
				break;
			/* the channels' workers start on these rows at once */
			pthread_mutex_lock(&d->mu);
			d->woken++;
			seen = d->woken;
			pthread_cond_broadcast(&d->cv);
			pthread_mutex_unlock(&d->mu);
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct deliverer *deliverer_new(struct store *st, const struct delivery_opts *o)
{
	struct deliverer *d = xcalloc(1, sizeof(*d));
	d->st = st;
	d->o = *o;
	deliverer_set_public_url(d, o->public_url ? o->public_url : "");
	if (d->o.retry_base_ms <= 0)
		d->o.retry_base_ms = 2000;
	if (d->o.max_backoff_ms <= 0)
		d->o.max_backoff_ms = 3600000;
	if (d->o.max_attempts <= 0)
		d->o.max_attempts = 10;
	if (d->o.timeout_s <= 0)
		d->o.timeout_s = 15;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->box_mu, NULL);
	d->box = json_object();
	d->handed = json_array();
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	const struct channel_ops *all[NCHANNELS] = {&ch_stream, &ch_webhook, &ch_email, &ch_sms, &ch_owntracks};
	for (int i = 0; i < NCHANNELS; i++)
		d->w[i] = (struct worker){.d = d, .ops = all[i]};
	return d;
}

void deliverer_set_public_url(struct deliverer *d, const char *url)
{
	sg_strlcpy(d->public_url, url, sizeof(d->public_url));
	d->o.public_url = d->public_url;
}

int deliverer_start(struct deliverer *d)
{
	if (pthread_create(&d->fanner, NULL, fanner_main, d))
		return SG_EIO;
	d->fanner_running = true;
	pthread_setname_np(d->fanner, "sg-dlv-fanout");
	for (int i = 0; i < NCHANNELS; i++) {
		if (pthread_create(&d->w[i].th, NULL, worker_main, &d->w[i]))
			return SG_EIO;
		d->w[i].running = true;
		char name[16];
		snprintf(name, sizeof(name), "sg-dlv-%.8s", d->w[i].ops->name);
		pthread_setname_np(d->w[i].th, name);
	}
	return 0;
}

void deliverer_stop(struct deliverer *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->fanner_running) {
		pthread_join(d->fanner, NULL);
		d->fanner_running = false;
	}
	for (int i = 0; i < NCHANNELS; i++)
		if (d->w[i].running) {
			pthread_join(d->w[i].th, NULL);
			d->w[i].running = false;
		}
}

void deliverer_free(struct deliverer *d)
{
	if (!d)
		return;
	deliverer_stop(d);
	json_decref(d->box);
	json_decref(d->handed);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->box_mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

void deliverer_wake(struct deliverer *d)
{
	pthread_mutex_lock(&d->mu);
	d->woken++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

int deliverer_event(void *arg, const struct event *ev)
{
	if (str_eq(ev->type, "alert") || str_eq(ev->type, "rollcall") || str_eq(ev->type, "rollcall_wave"))
		deliverer_wake(arg);
	return 0;
}

char *deliverer_owntracks_take(struct deliverer *d, const char *person_id)
{
	if (!d || !person_id || atomic_load(&d->boxed) == 0)
		return NULL;
	struct sb sb;
	sb_init(&sb);
	pthread_mutex_lock(&d->box_mu);
	json_t *q = json_object_get(d->box, person_id);
	size_t i;
	json_t *p;
	json_array_foreach(q, i, p) {
		sb_addf(&sb, "%s%s", sb.len ? "," : "[", json_string_value(json_array_get(p, 1)));
		json_array_append(d->handed, json_array_get(p, 0));
	}
	if (q) {
		atomic_fetch_sub(&d->boxed, (long)json_array_size(q));
		json_object_del(d->box, person_id);
	}
	pthread_mutex_unlock(&d->box_mu);
	if (!sb.len) {
		sb_release(&sb);
		return NULL;
	}
	sb_addc(&sb, ']');
	deliverer_wake(d); /* the OwnTracks worker records them */
	return sb_detach(&sb);
}

void deliverer_stats(struct deliverer *d, struct delivery_stats *out)
{
	*out = (struct delivery_stats){.sent = atomic_load(&d->sent), .retried = atomic_load(&d->retried),
				       .failed = atomic_load(&d->failed)};
}
