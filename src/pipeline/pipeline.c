/* The position pipeline; see pipeline.h. */
#include "pipeline/pipeline.h"

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "registry/resource.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

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
};

struct pipeline *pipeline_new(struct store *st, const struct pipeline_opts *opts)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	p->store = st;
	p->o = *opts;
	p->live = live_new();
	pthread_mutex_init(&p->mu, NULL);
	p->bcap = 1024;
	p->buckets = xcalloc(p->bcap, sizeof(*p->buckets));
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

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
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
			uint32_t j = hash_str(old[i].id) & (p->bcap - 1);
			while (p->buckets[j].id[0])
				j = (j + 1) & (p->bcap - 1);
			p->buckets[j] = old[i];
		}
		free(old);
	}
	uint32_t j = hash_str(id) & (p->bcap - 1);
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

int pipeline_rebuild(struct pipeline *p, struct db *db)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT p.device_id, p.org_id, p.lat, p.lon, p.time_ms FROM positions p"
		       " JOIN (SELECT device_id, max(time_ms) AS t FROM positions GROUP BY device_id) m"
		       " ON m.device_id = p.device_id AND m.t = p.time_ms",
		       &st))
		return SG_EIO;
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		live_update(p->live, db_col_text(st, 0), org_index(p, db_col_text(st, 1)), db_col_real(st, 2),
			    db_col_real(st, 3), db_col_int(st, 4));
	db_reset(st);
	return rc < 0 ? rc : 0;
}

struct store_job {
	const struct report *r;
	const struct ingest_result *dev;
	int64_t now;
	bool inserted;
};

static void bind_opt(struct db_stmt *st, int i, double v)
{
	if (isnan(v))
		db_bind_null(st, i);
	else
		db_bind_real(st, i, v);
}

static int store_fn(struct db *db, void *arg)
{
	struct store_job *j = arg;
	const struct report *r = j->r;
	struct db_stmt *st;
	if (db_prepare(db,
		       "INSERT INTO positions (device_id, time_ms, org_id, lat, lon, speed_mps, course_deg,"
		       " altitude_m, accuracy_m, battery_pct, charging, attrs, received_ms)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
		       " ON CONFLICT (device_id, time_ms) DO NOTHING",
		       &st))
		return SG_EIO;
	/* hdop has no column: it travels with the attributes. */
	json_t *all = json_copy(r->attrs);
	if (!isnan(r->hdop))
		json_object_set_new(all, "hdop", json_real(r->hdop));
	char *attrs = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
	db_bind_text(st, 1, j->dev->device_id);
	db_bind_int(st, 2, r->time_ms);
	db_bind_text(st, 3, j->dev->org_id);
	db_bind_real(st, 4, r->lat);
	db_bind_real(st, 5, r->lon);
	bind_opt(st, 6, r->speed_mps);
	bind_opt(st, 7, r->course_deg);
	bind_opt(st, 8, r->altitude_m);
	bind_opt(st, 9, r->accuracy_m);
	if (r->battery_pct >= 0)
		db_bind_int(st, 10, r->battery_pct);
	else
		db_bind_null(st, 10);
	if (r->charging >= 0)
		db_bind_int(st, 11, r->charging);
	else
		db_bind_null(st, 11);
	db_bind_text(st, 12, attrs ? attrs : "{}");
	db_bind_int(st, 13, j->now);
	int rc = db_run(st);
	free(attrs);
	j->inserted = rc == 0 && db_changes(db) > 0;
	return rc;
}

int pipeline_submit(struct pipeline *p, struct db *db, const struct report *r, int64_t now_ms,
		    struct ingest_result *out, struct verr *e)
{
	struct ingest_result res = {0};
	/* Authenticate: the device key, stored only as its SHA-256. */
	char hash[65];
	struct db_stmt *st;
	secret_hash(r->device_key, hash);
	if (db_prepare(db, "SELECT id, org_id FROM devices WHERE key_hash = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, hash);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		sg_strlcpy(res.device_id, db_col_text(st, 0), sizeof(res.device_id));
		sg_strlcpy(res.org_id, db_col_text(st, 1), sizeof(res.org_id));
	}
	db_reset(st);
	if (rc != DB_ROW) {
		verr_set(e, 401, "", "unknown device key");
		return rc < 0 ? SG_EIO : SG_EAUTH;
	}
	if (!r->has_position) {
		*out = res; /* accepted, nothing to store (e.g. OwnTracks lwt) */
		return 0;
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
	struct store_job j = {.r = r, .dev = &res, .now = now_ms};
	if ((rc = store_write(p->store, store_fn, &j)))
		return rc;
	res.stored = j.inserted;
	res.latest = live_update(p->live, res.device_id, org_index(p, res.org_id), r->lat, r->lon, r->time_ms) == 1;
	*out = res;
	return 0;
}
