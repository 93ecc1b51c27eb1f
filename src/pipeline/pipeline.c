/* The position pipeline; see pipeline.h. */
#include "pipeline/pipeline.h"

#include "alarms/alarms.h"
#include "audit/evidence.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "pipeline/parts.h"
#include "registry/resource.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ORGS 4096

/* Per-device token buckets in one open-addressing table. */
struct bucket {
	char id[32];
	double tokens;
	int64_t last_ms;
};

struct pipeline {
	struct store *store;
	struct pipeline_opts o;
	struct live *live;
	pthread_mutex_t mu; /* orgs and buckets */
	char *orgs[MAX_ORGS];
	int norgs;
	struct bucket *buckets;
	uint32_t bcap, bcount;
	pthread_rwlock_t fence_lock;
	struct fence_index *fences;
	json_t *tags; /* device id -> {"t": ms, "in": ["s:id", "z:id", ...]}; writer thread only */
	json_t *devices; /* key hash -> [device id, org id, protocol]; cleared on device changes (mu) */
	_Atomic uint64_t attrs_dropped;
	struct evidence sealed; /* the rows of the commit under way; writer thread only */
};

struct pipeline *pipeline_new(struct store *st, const struct pipeline_opts *opts)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	p->store = st;
	p->o = *opts;
	if (p->o.max_attrs <= 0)
		p->o.max_attrs = 64;
	if (p->o.max_attrs_bytes <= 0)
		p->o.max_attrs_bytes = 4096;
	if (p->o.partition_ms <= 0)
		p->o.partition_ms = 3600000;
	p->live = live_new();
	pthread_mutex_init(&p->mu, NULL);
	p->bcap = 1024;
	p->buckets = xcalloc(p->bcap, sizeof(*p->buckets));
	pthread_rwlock_init(&p->fence_lock, NULL);
	p->fences = fence_index_new();
	p->tags = json_object();
	p->devices = json_object();
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	live_free(p->live);
	for (int i = 0; i < p->norgs; i++)
		free(p->orgs[i]);
	free(p->buckets);
	fence_index_free(p->fences);
	json_decref(p->tags);
	json_decref(p->devices);
	evidence_free(&p->sealed);
	pthread_rwlock_destroy(&p->fence_lock);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct live *pipeline_live(struct pipeline *p)
{
	return p->live;
}

const char *pipeline_org_name(struct pipeline *p, uint16_t org)
{
	pthread_mutex_lock(&p->mu);
	const char *s = org < p->norgs ? p->orgs[org] : NULL;
	pthread_mutex_unlock(&p->mu);
	return s; /* never freed while the pipeline lives */
}

size_t pipeline_org_count(struct pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = (size_t)p->norgs;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static uint16_t org_index(struct pipeline *p, const char *org)
{
	pthread_mutex_lock(&p->mu);
	int i;
	for (i = 0; i < p->norgs; i++)
		if (str_eq(p->orgs[i], org))
			break;
	if (i == p->norgs) {
		if (p->norgs == MAX_ORGS)
			BUG("more than %d organisations hold positions", MAX_ORGS);
		p->orgs[p->norgs++] = xstrdup(org);
	}
	pthread_mutex_unlock(&p->mu);
	return (uint16_t)i;
}

/* Takes one token from id's bucket; false when it is empty. */
static bool rate_ok(struct pipeline *p, const char *id, int64_t now)
{
	pthread_mutex_lock(&p->mu);
	if ((p->bcount + 1) * 2 > p->bcap) {
		struct bucket *old = p->buckets;
		uint32_t oldcap = p->bcap;
		p->bcap *= 2;
		p->buckets = xcalloc(p->bcap, sizeof(*p->buckets));
		for (uint32_t i = 0; i < oldcap; i++) {
			if (!old[i].id[0])
				continue;
			uint32_t j = str_hash32(old[i].id) & (p->bcap - 1);
			while (p->buckets[j].id[0])
				j = (j + 1) & (p->bcap - 1);
			p->buckets[j] = old[i];
		}
		free(old);
	}
	uint32_t j = str_hash32(id) & (p->bcap - 1);
	while (p->buckets[j].id[0] && strcmp(p->buckets[j].id, id) != 0)
		j = (j + 1) & (p->bcap - 1);
	struct bucket *b = &p->buckets[j];
	if (!b->id[0]) {
		sg_strlcpy(b->id, id, sizeof(b->id));
		b->tokens = p->o.device_burst;
		b->last_ms = now;
		p->bcount++;
	}
	b->tokens = fmin(p->o.device_burst, b->tokens + (double)(now - b->last_ms) / 1000.0 * p->o.device_rate_per_s);
	b->last_ms = now;
	bool ok = b->tokens >= 1;
	if (ok)
		b->tokens -= 1;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

void pipeline_forget_devices(struct pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	json_object_clear(p->devices);
	pthread_mutex_unlock(&p->mu);
}

static int64_t time_or(const char *s, int64_t dflt)
{
	int64_t ms;
	return s && time_parse_rfc3339(s, &ms) == 0 ? ms : dflt;
}

int pipeline_reload_fences(struct pipeline *p, struct db *db)
{
	struct fence_index *fx = fence_index_new();
	struct db_stmt *st;
	static const char *const sql[2] = {
		"SELECT id, org_id, geometry, radius_m, 0, NULL, NULL FROM sites",
		"SELECT id, org_id, geometry, radius_m, level, valid_from, valid_to FROM zones WHERE retired = 0",
	};
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		if (db_prepare(db, sql[k], &st)) {
			rc = SG_EIO;
			break;
		}
		while ((rc = db_step(st)) == DB_ROW) {
			json_t *g = json_loads(db_col_text(st, 2), 0, NULL);
			struct fence_def d = {
				.id = db_col_text(st, 0), .org = db_col_text(st, 1), .type = k ? 'z' : 's',
				.level = (int)db_col_int(st, 4), .geometry = g, .radius_m = db_col_real(st, 3),
				.from_ms = time_or(db_col_text(st, 5), INT64_MIN),
				.to_ms = time_or(db_col_text(st, 6), INT64_MAX),
			};
			if (!g || fence_index_add(fx, &d))
				log_warn("fence not indexed: unusable geometry", "id", d.id, NULL);
			json_decref(g);
		}
		db_reset(st);
		rc = rc < 0 ? rc : 0;
	}
	if (rc) {
		fence_index_free(fx);
		return rc;
	}
	pthread_rwlock_wrlock(&p->fence_lock);
	struct fence_index *old = p->fences;
	p->fences = fx;
	pthread_rwlock_unlock(&p->fence_lock);
	fence_index_free(old);
	return 0;
}

size_t pipeline_fences_at(struct pipeline *p, double lat, double lon, int64_t t_ms,
			  struct fence_hit *out, size_t max)
{
	pthread_rwlock_rdlock(&p->fence_lock);
	size_t n = fence_index_at(p->fences, lat, lon, t_ms, out, max);
	pthread_rwlock_unlock(&p->fence_lock);
	return n;
}

#define MAX_TAGS 64

/* The device's tags at a point, as a sorted array of "s:id" / "z:id". */
static json_t *tags_at(struct pipeline *p, double lat, double lon, int64_t t, struct fence_hit *hits,
		       size_t *n)
{
	*n = pipeline_fences_at(p, lat, lon, t, hits, MAX_TAGS);
	if (*n > MAX_TAGS)
		*n = MAX_TAGS;
	json_t *a = json_array();
	for (size_t i = 0; i < *n; i++) {
		char key[FENCE_ID_MAX + 4];
		snprintf(key, sizeof(key), "%c:%s", hits[i].type, hits[i].id);
		json_array_append_new(a, json_string(key));
	}
	return a;
}

static bool has(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (str_eq(json_string_value(v), s))
			return true;
	return false;
}

/* The device's latest report in one partition into the live index and
 * its tags. */
static int rebuild_device(struct pipeline *p, struct db *db, const char *dev, const char *tbl)
{
	char sql[160];
	struct db_stmt *st;
	snprintf(sql, sizeof(sql),
		 "SELECT org_id, lat, lon, time_ms FROM %s WHERE device_id = ?1 ORDER BY time_ms DESC LIMIT 1", tbl);
	if (db_prepare_text(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, dev);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		double lat = db_col_real(st, 1), lon = db_col_real(st, 2);
		int64_t t = db_col_int(st, 3);
		live_update(p->live, dev, org_index(p, db_col_text(st, 0)), lat, lon, t);
		/* The tags are a function of the latest position and the fences:
		 * recomputed, not stored, and no event is replayed. */
		struct fence_hit hits[MAX_TAGS];
		size_t n;
		json_object_set_new(p->tags, dev, json_pack("{s:I,s:o}", "t", (json_int_t)t, "in",
							    tags_at(p, lat, lon, t, hits, &n)));
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

int pipeline_rebuild(struct pipeline *p, struct db *db)
{
	struct db_stmt *st;
	/* one seek per device, in the partition its latest report is in */
	if (db_prepare(db,
		       "SELECT l.device_id, p.id, p.legacy FROM history_latest l"
		       " JOIN history_parts p ON p.id = l.part AND p.dropped_ms = 0",
		       &st))
		return SG_EIO;
	int rc;
	if (pipeline_reload_fences(p, db))
		return SG_EIO;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *dev = db_col_text(st, 0);
		char tbl[32];
		parts_table(db_col_int(st, 1), db_col_int(st, 2) != 0, tbl);
		if (dev && rebuild_device(p, db, dev, tbl)) {
			rc = SG_EIO;
			break;
		}
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

struct store_job {
	struct pipeline *p;
	const struct report *r;
	const struct ingest_result *dev;
	int64_t now;
	char *attrs; /* serialised before the writer sees it */
	char *event; /* the position event's body, likewise */
	bool inserted;
	int events;     /* geofence events written */
};

/* A report on its way through the store, owning what the write needs. */
struct pipeline_job {
	struct store_job j;
	struct report rep;
	struct ingest_result res;
	void (*done)(void *ctx, int rc);
	void *done_ctx;
};

/* Steps an INSERT ... RETURNING: 1 with the stored row added to the commit's
 * row-wise seal, 0 when nothing was inserted (a duplicate), or an error. */
static int returning(struct db_stmt *st, char kind, struct evidence *e)
{
	int rc = db_step(st);
	bool row = rc == DB_ROW;
	if (row) {
		evidence_add(e, EVIDENCE_ROWWISE, kind, st);
		rc = db_step(st);
	}
	db_reset(st);
	if (rc != DB_DONE)
		return rc < 0 ? rc : SG_EIO;
	return row ? 1 : 0;
}

static int geofence_fn(struct db *db, struct store_job *j)
{
	struct pipeline *p = j->p;
	const struct report *r = j->r;
	const char *dev = j->dev->device_id;
	json_t *prev = json_object_get(p->tags, dev);
	if (prev && json_integer_value(json_object_get(prev, "t")) >= r->time_ms)
		return 0; /* an older report: it does not move the device's present */
	struct fence_hit hits[MAX_TAGS];
	size_t n;
	json_t *now_in = tags_at(p, r->lat, r->lon, r->time_ms, hits, &n);
	json_t *was_in = prev ? json_object_get(prev, "in") : NULL;
	struct db_stmt *st;
	int rc = 0;
	/* exits first, then enters, each in id order */
	for (int pass = 0; pass < 2 && !rc; pass++) {
		const json_t *from = pass ? now_in : was_in, *other = pass ? was_in : now_in;
		size_t i;
		json_t *v;
		json_array_foreach(from, i, v) {
			const char *key = json_string_value(v);
			if (other && has(other, key))
				continue;
			const char *fence_org = NULL;
			for (size_t h = 0; h < n; h++)
				if (str_eq(hits[h].id, key + 2))
					fence_org = hits[h].org;
			if (db_prepare(db,
				       "INSERT INTO geofence_events (device_id, org_id, fence_type, fence_id, fence_org,"
				       " event, time_ms, lat, lon, batch) VALUES (?1, ?2, ?3, ?4,"
				       " COALESCE(?5, (SELECT org_id FROM sites WHERE id = ?4),"
				       " (SELECT org_id FROM zones WHERE id = ?4), ''), ?6, ?7, ?8, ?9, ?10)"
				       " RETURNING " EVIDENCE_EVENT_COLS,
				       &st)) {
				rc = SG_EIO;
				break;
			}
			const char *type = key[0] == 's' ? "site" : "zone", *event = pass ? "enter" : "exit";
			db_bind_all(st, DB_T(dev), DB_T(j->dev->org_id), DB_T(type), DB_T(key + 2),
			                DB_T(fence_org), DB_T(event), DB_I(r->time_ms), DB_R(r->lat),
			                DB_R(r->lon));
			int64_t batch;
			if (evidence_batch(db, &p->sealed, EVIDENCE_ROWWISE, &batch)) {
				rc = SG_EIO;
				break;
			}
			db_bind_int(st, 10, batch);
			if ((rc = returning(st, EVIDENCE_EVENT, &p->sealed)) != 1) {
				rc = rc ? rc : SG_EIO;
				break;
			}
			rc = 0;
			/* The event others hear of, in the same transaction (events.h). */
			char ts[25];
			time_format_ms(r->time_ms, ts);
			json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f}", "device_id", dev, "org_id", j->dev->org_id,
						 "fence_type", type, "fence_id", key + 2, "event", event, "time", ts, "lat",
						 r->lat, "lon", r->lon);
			char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
			rc = events_append_about(db, j->dev->org_id, "positions", "geofence", text, j->dev->person_id,
						 j->now);
			free(text);
			json_decref(body);
			if (rc)
				break;
			j->events++;
		}
	}
	if (rc) {
		json_decref(now_in);
		return rc;
	}
	json_object_set_new(p->tags, dev, json_pack("{s:I,s:o}", "t", (json_int_t)r->time_ms, "in", now_in));
	return 0;
}

/* An alarm the device sent (Traccar Client's SOS button: alarm=sos) opens
 * an alarm for its person in the report's transaction: the alarm's event is
 * committed before the device hears 200. A device fitted to a vehicle or
 * carried by nobody has no person to raise it for: the report keeps the
 * value in its attributes, and nothing opens. Repeats of an open alarm's
 * cause open nothing new. */
static int sos_fn(struct db *db, struct store_job *j)
{
	const char *value = json_string_value(json_object_get(j->r->attrs, "alarm"));
	const char *cause = alarm_cause_of_device(value);
	/* OwnTracks has no alarm: a location published by hand with the point
	 * of interest (iOS) or tag "SOS" stands for one (README, "Alarms"). */
	static const char *const marks[] = {"poi", "tag"};
	for (int k = 0; !cause && k < 2; k++) {
		const char *m = json_string_value(json_object_get(j->r->attrs, marks[k]));
		if (m && strcasecmp(m, "sos") == 0)
			cause = "sos", value = m;
	}
	if (!cause || !j->dev->person_id[0])
		return 0;
	struct verr e = {0};
	struct alarm_open o = {
		.org_id = j->dev->org_id, .person_id = j->dev->person_id, .device_id = j->dev->device_id,
		.cause = cause, .device_alarm = value, .has_position = true, .lat = j->r->lat, .lon = j->r->lon,
		.position_ms = j->r->time_ms, .actor = j->dev->device_id, .actor_org = j->dev->org_id, .now_ms = j->now,
		.escalate_after_ms = alarm_timer_ms(j->p->o.alarm_timers, cause), .dedupe = true,
	};
	return alarm_open(db, &o, NULL, &e);
}

/* A column that may be unknown: NaN or a negative count binds NULL. */
static struct db_value opt_real(double v)
{
	return isnan(v) ? (struct db_value){.type = DB_NULL} : DB_R(v);
}

static struct db_value opt_int(int v)
{
	return v < 0 ? (struct db_value){.type = DB_NULL} : DB_I(v);
}

/* A device's first report in a partition newer than its latest one's moves
 * its entry in history_latest (what the rebuild at start reads). */
static int note_latest(struct db *db, struct pipeline *p, const char *dev, int64_t t, const struct part *part)
{
	json_t *prev = json_object_get(p->tags, dev);
	int64_t prev_t = prev ? json_integer_value(json_object_get(prev, "t")) : INT64_MIN;
	if (prev && (t <= prev_t || prev_t >= part->t0))
		return 0; /* older, or in the same partition */
	return db_run_all(db,
			  "INSERT INTO history_latest (device_id, part) VALUES (?1, ?2)"
			  " ON CONFLICT (device_id) DO UPDATE SET part = excluded.part",
			  DB_T(dev), DB_I(part->id))
		       ? SG_EIO
		       : 0;
}

static int store_fn(struct db *db, void *arg)
{
	struct store_job *j = arg;
	const struct report *r = j->r;
	struct pipeline *p = j->p;
	struct db_stmt *st;
	struct part part;
	int64_t batch;
	char sql[400];
	if (parts_for_write(db, p->o.partition_ms, r->time_ms, &part))
		return SG_EIO;
	/* the legacy table's rows are purged row by row: the row-wise seal */
	int64_t seal = part.legacy ? EVIDENCE_ROWWISE : part.id;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (time_ms, device_id, org_id, lat, lon, speed_mps, course_deg,"
		 " altitude_m, accuracy_m, battery_pct, charging, attrs, received_ms, batch)"
		 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
		 " ON CONFLICT (device_id, time_ms) DO NOTHING",
		 part.tbl);
	if (evidence_batch(db, &p->sealed, seal, &batch) || db_prepare_text(db, sql, &st))
		return SG_EIO;
	/* The row as stored, in EVIDENCE_POSITION_COLS order after the time:
	 * bound and sealed from the same values. */
	const struct db_value v[12] = {
		{.type = DB_TEXT, .s = j->dev->device_id},
		{.type = DB_TEXT, .s = j->dev->org_id},
		{.type = DB_REAL, .d = r->lat},
		{.type = DB_REAL, .d = r->lon},
		opt_real(r->speed_mps),
		opt_real(r->course_deg),
		opt_real(r->altitude_m),
		opt_real(r->accuracy_m),
		opt_int(r->battery_pct),
		opt_int(r->charging),
		{.type = DB_TEXT, .s = j->attrs ? j->attrs : "{}"},
		{.type = DB_INT, .i = j->now},
	};
	struct db_value row[14] = {DB_I(r->time_ms)};
	memcpy(row + 1, v, sizeof(v));
	row[13] = DB_I(batch);
	db_bind_values(st, row, 14);
	size_t mark = p->sealed.n;
	int rc = db_run(st);
	j->inserted = rc == 0 && db_changes(db) > 0;
	if (j->inserted) {
		evidence_add_values(&p->sealed, seal, EVIDENCE_POSITION, r->time_ms, v, 12);
		rc = note_latest(db, p, j->dev->device_id, r->time_ms, &part);
	}
	if (j->inserted && !rc) {
		rc = events_append_about(db, j->dev->org_id, "positions", "position", j->event, j->dev->person_id,
					 j->now);
		if (!rc)
			rc = geofence_fn(db, j);
		if (!rc)
			rc = sos_fn(db, j);
	}
	if (rc) {
		j->inserted = false;
		evidence_rewind(&p->sealed, mark); /* the store rolls this write back */
	}
	return rc;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A device decides what it sends, not what we keep: at most max members of
 * at most max_bytes of JSON, in key order; the rest is dropped (the fix is
 * kept). Returns how many members were dropped. */
static int bound_attrs(json_t *attrs, int max, int max_bytes)
{
	size_t n = json_object_size(attrs);
	if (n == 0)
		return 0;
	const char **keys = xcalloc(n, sizeof(*keys));
	size_t k = 0;
	const char *key;
	json_t *v;
	json_object_foreach(attrs, key, v)
		keys[k++] = key;
	qsort(keys, k, sizeof(*keys), by_key);
	size_t used = 2; /* {} */
	json_t *drop = json_array();
	for (size_t i = 0; i < k; i++) {
		char *one = json_dumps(json_object_get(attrs, keys[i]), JSON_COMPACT | JSON_ENCODE_ANY);
		size_t sz = strlen(keys[i]) * 6 + 4 + (one ? strlen(one) : 0); /* key escaped at worst, quotes, colon, comma */
		free(one);
		if ((int)i >= max || used + sz > (size_t)max_bytes)
			json_array_append_new(drop, json_string(keys[i]));
		else
			used += sz;
	}
	free(keys);
	size_t i;
	json_t *name;
	json_array_foreach(drop, i, name)
		json_object_del(attrs, json_string_value(name));
	int dropped = (int)json_array_size(drop);
	json_decref(drop);
	return dropped;
}

uint64_t pipeline_attrs_dropped(struct pipeline *p)
{
	return atomic_load(&p->attrs_dropped);
}

int pipeline_begin(struct pipeline *p, struct db *db, struct report *r, int64_t now_ms,
		   struct pipeline_job **job, struct ingest_result *out, struct verr *e)
{
	struct ingest_result res = {0};
	/* Authenticate: the device key, stored only as its SHA-256. */
	char hash[65];
	struct db_stmt *st;
	secret_hash(r->device_key, hash);
	pthread_mutex_lock(&p->mu);
	char protocol[16] = "";
	json_t *known = json_object_get(p->devices, hash);
	if (known) {
		sg_strlcpy(res.device_id, json_string_value(json_array_get(known, 0)), sizeof(res.device_id));
		sg_strlcpy(res.org_id, json_string_value(json_array_get(known, 1)), sizeof(res.org_id));
		sg_strlcpy(protocol, json_string_value(json_array_get(known, 2)), sizeof(protocol));
		const char *person = json_string_value(json_array_get(known, 3));
		sg_strlcpy(res.person_id, person ? person : "", sizeof(res.person_id));
	}
	pthread_mutex_unlock(&p->mu);
	int rc = DB_ROW;
	if (!known) {
		if (db_prepare(db, "SELECT id, org_id, protocol, person_id FROM devices WHERE key_hash = ?1", &st))
			return SG_EIO;
		db_bind_text(st, 1, hash);
		rc = db_step(st);
		if (rc == DB_ROW) {
			sg_strlcpy(res.device_id, db_col_text(st, 0), sizeof(res.device_id));
			sg_strlcpy(res.org_id, db_col_text(st, 1), sizeof(res.org_id));
			sg_strlcpy(protocol, db_col_text(st, 2), sizeof(protocol));
			const char *person = db_col_text(st, 3);
			sg_strlcpy(res.person_id, person ? person : "", sizeof(res.person_id));
			pthread_mutex_lock(&p->mu);
			if (json_object_size(p->devices) < 1000000) /* bounded: beyond, look up every time */
				json_object_set_new(p->devices, hash,
						    json_pack("[s,s,s,s?]", res.device_id, res.org_id, protocol,
							      person));
			pthread_mutex_unlock(&p->mu);
		}
		db_reset(st);
	}
	if (rc != DB_ROW) {
		verr_set(e, 401, "", "unknown device key");
		return rc < 0 ? SG_EIO : SG_EAUTH;
	}
	/* A key works only on the protocol the device was enrolled for. */
	if (r->protocol && !str_eq(r->protocol, protocol)) {
		verr_set(e, 401, "", "this device is enrolled for another protocol (%s): send its reports there",
			 protocol);
		return SG_EAUTH;
	}
	if (!r->has_position) {
		*out = res; /* accepted, nothing to store (e.g. OwnTracks lwt) */
		return 1;
	}
	if (r->time_ms > now_ms + p->o.max_future_ms) {
		verr_set(e, 422, "timestamp", "the fix time is more than %lld s in the future (clock wrong?)",
			 (long long)(p->o.max_future_ms / 1000));
		return SG_EINVAL;
	}
	if (r->time_ms < 946684800000LL) { /* 2000-01-01 */
		verr_set(e, 422, "timestamp", "the fix time is before the year 2000");
		return SG_EINVAL;
	}
	if (!rate_ok(p, res.device_id, now_ms)) {
		verr_set(e, 429, "", "this device sends too many reports; slow down");
		return SG_EBUSY;
	}
	struct pipeline_job *pj = xcalloc(1, sizeof(*pj));
	pj->rep = *r;
	report_init(r); /* moved: the caller's release frees nothing */
	pj->res = res;
	/* Serialised here, on the request's thread: the writer only binds it.
	 * hdop has no column: it travels with the attributes. */
	json_t *all = json_copy(pj->rep.attrs);
	if (!isnan(pj->rep.hdop))
		json_object_set_new(all, "hdop", json_real(pj->rep.hdop));
	pj->res.attrs_dropped = bound_attrs(all, p->o.max_attrs, p->o.max_attrs_bytes);
	if (pj->res.attrs_dropped)
		atomic_fetch_add(&p->attrs_dropped, (uint64_t)pj->res.attrs_dropped);
	char ts[25];
	time_format_ms(pj->rep.time_ms, ts);
	json_t *ev = json_pack("{s:s,s:s,s:s,s:f,s:f}", "device_id", pj->res.device_id, "org_id", pj->res.org_id,
			       "time", ts, "lat", pj->rep.lat, "lon", pj->rep.lon);
	pj->j = (struct store_job){.p = p, .r = &pj->rep, .dev = &pj->res, .now = now_ms,
				   .attrs = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS),
				   .event = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(15))};
	json_decref(ev);
	json_decref(all);
	*job = pj;
	return 0;
}

static void async_done(void *arg, int rc)
{
	struct pipeline_job *pj = arg; /* &pj->j, its first member */
	pj->done(pj->done_ctx, rc);
}

int pipeline_store_async(struct pipeline *p, struct pipeline_job *job, void (*done)(void *ctx, int rc),
			 void *ctx)
{
	job->done = done;
	job->done_ctx = ctx;
	return store_write_async(p->store, store_fn, &job->j, async_done);
}

int pipeline_finish(struct pipeline *p, struct pipeline_job *pj, int rc, struct ingest_result *out)
{
	struct store_job *j = &pj->j;
	const struct report *r = &pj->rep;
	struct ingest_result res = pj->res;
	if (rc == 0) {
		res.stored = j->inserted;
		res.latest = live_update(p->live, res.device_id, org_index(p, res.org_id), r->lat, r->lon,
					 r->time_ms) == 1;
		res.events = j->events;
		*out = res;
	}
	free(j->attrs);
	free(j->event);
	report_release(&pj->rep);
	free(pj);
	return rc;
}

int pipeline_submit(struct pipeline *p, struct db *db, struct report *r, int64_t now_ms,
		    struct ingest_result *out, struct verr *e)
{
	struct pipeline_job *job;
	int rc = pipeline_begin(p, db, r, now_ms, &job, out, e);
	if (rc)
		return rc == 1 ? 0 : rc;
	return pipeline_finish(p, job, store_write(p->store, store_fn, &job->j), out);
}

struct purge_job {
	int64_t cutoff;
	long deleted;
};

/* Partitions dropped by one purge write: each a DROP TABLE on the writer. */
#define DROPS_PER_WRITE 4

static int purge_fn(struct db *db, void *arg)
{
	struct purge_job *j = arg;
	struct part *ps;
	size_t n, nd = 0;
	int64_t ids[DROPS_PER_WRITE], now = clock_now_ms();
	if (parts_expired(db, j->cutoff, 64, &ps, &n))
		return SG_EIO;
	int rc = 0;
	for (size_t i = 0; i < n && nd < DROPS_PER_WRITE && !rc; i++) {
		/* A pinned report (incidents, alarms) keeps its partition whole:
		 * whoever pins must move it out first to let the rest go. */
		char sql[96];
		struct db_stmt *st;
		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE pinned != 0 LIMIT 1", ps[i].tbl);
		if (db_prepare_text(db, sql, &st)) {
			rc = SG_EIO;
			break;
		}
		int pinned = db_step(st);
		db_reset(st);
		if (pinned < 0)
			rc = SG_EIO;
		else if (pinned == DB_DONE && !(rc = parts_drop(db, &ps[i], now)))
			ids[nd++] = ps[i].id;
	}
	free(ps);
	if (rc)
		return rc;
	rc = evidence_purge(db, j->cutoff, 5000, ids, nd, now, &j->deleted);
	if (!rc && nd == DROPS_PER_WRITE && j->deleted < 5000)
		j->deleted = 5000; /* more may have expired: the caller comes back */
	return rc;
}

int pipeline_seal(struct db *db, struct pipeline *p)
{
	return evidence_seal(db, &p->sealed, clock_now_ms());
}

long pipeline_purge(struct pipeline *p, int64_t cutoff_ms)
{
	long total = 0;
	for (;;) {
		/* Small batches: ingest shares the writer and must not wait long. */
		struct purge_job j = {.cutoff = cutoff_ms};
		int rc = store_write(p->store, purge_fn, &j);
		if (rc)
			return rc;
		total += j.deleted;
		if (j.deleted < 5000)
			return total;
	}
}
