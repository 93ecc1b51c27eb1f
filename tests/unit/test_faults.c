/* Fault injection (issue 10, item 20), the way SQLite tests itself: over a
 * scripted workload of registry writes (each with its audit entry and the
 * signed checkpoint), a sharing agreement and position reports through the
 * pipeline, the Nth write, sync, read or allocation fails, for
 * every N up to the workload's count; and power is lost at a random sync a
 * thousand times. After every run: no write was acknowledged that is not
 * there after a restart, the database passes SQLite's integrity check and
 * `audit verify`, and the store either serves again or says it is broken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"
#include "ingest/report.h"
#include "pipeline/history.h"
#include "pipeline/pipeline.h"
#include "registry/resource.h"
#include "sharing/sharing.h"
#include "store/store.h"
#include "faultvfs.h"
#include "testlib.h"

#include <sodium.h>

#define ORG "org_01M8KWF48VMR504K8G6CKAVBQH"
#define ORG_B "org_01M8KWF48VMR504K8G6CKAVBQJ"
#define DEV "dev_01M8KWF48VMR504K8G6CKAVBQK"
#define DEV_KEY "faults-device-key"

struct wl {
	char id[48];
	int kind; /* 0 the organisations and a device, 1 a vehicle, 2 change it, 3 an agreement */
};

static int wl_fn(struct db *db, void *arg)
{
	struct wl *w = arg;
	struct verr e = {0};
	struct write_ctx ctx = {.actor = "test", .now_ms = clock_now_ms(), .err = &e};
	if (w->kind == 0) {
		json_t *org = json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", ORG, "org_id", ORG, "name", "Org", "kind",
					"employer", "is_root", 1);
		json_t *orgb = json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", ORG_B, "org_id", ORG_B, "name", "Liaison",
					 "kind", "host_security", "is_root", 0);
		char kh[65];
		secret_hash(DEV_KEY, kh);
		json_t *dev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", DEV, "org_id", ORG, "name", "Phone", "kind",
					"phone", "protocol", "osmand", "key_hash", kh);
		int rc = resource_insert(db, resource_find("organisations"), org, &ctx);
		if (!rc)
			rc = resource_insert(db, resource_find("organisations"), orgb, &ctx);
		if (!rc)
			rc = resource_insert(db, resource_find("devices"), dev, &ctx);
		json_decref(org);
		json_decref(orgb);
		json_decref(dev);
		return rc;
	}
	if (w->kind == 3) {
		json_t *in = json_pack("[{s:s,s:s}]", "category", "positions", "level", "full"), *grants;
		int rc = sharing_validate_grants(in, &grants, &e);
		json_decref(in);
		if (rc)
			return rc;
		struct agreement_write aw = {.actor = "test", .actor_org = ORG, .now_ms = clock_now_ms(), .err = &e};
		char id[48];
		rc = sharing_create(db, &aw, ORG_B, grants, id);
		json_decref(grants);
		return rc;
	}
	if (w->kind == 1) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:s}", "id", w->id, "org_id", ORG, "registration", w->id + 4,
				      "colour", "white");
		int rc = resource_insert(db, resource_find("vehicles"), v, &ctx);
		json_decref(v);
		return rc;
	}
	json_t *patch = json_pack("{s:s}", "colour", "red");
	int rc = resource_update(db, resource_find("vehicles"), ORG, w->id, patch, &ctx, NULL);
	json_decref(patch);
	return rc;
}

struct run {
	char *dir;
	struct audit_key key;
	char acked[64][48]; /* vehicles whose creation was acknowledged */
	int nacked;
	bool org_acked;
	int64_t reports[64]; /* fix times of acknowledged reports */
	int nreports;
	int eio; /* writes answered SG_EIO (a failed commit, or a statement that failed) */
	_Atomic(struct pipeline *) pipeline; /* the one ingesting, whose rows the commit seals */
};

/* As the server's: seal the commit's history rows, then sign both heads. */
static int before_commit(struct db *db, void *ctx)
{
	struct run *r = ctx;
	struct pipeline *p = atomic_load(&r->pipeline);
	int rc = p ? pipeline_seal(db, p) : 0;
	return rc ? rc : audit_checkpoint(db, &r->key);
}

static struct store *open_store(struct run *r)
{
	struct store *s;
	char err[256];
	struct store_opts o = {.data_dir = r->dir, .max_batch = 8, .checkpoint_pages = 4,
			       .before_commit = before_commit, .hook_ctx = r};
	if (store_open(&o, &s, err, sizeof(err)))
		return NULL;
	r->key.signed_seq = 0; /* a new process knows nothing it signed */
	r->key.signed_batch = 0;
	return s;
}

/* The organisations and a device, five vehicles, two changes, an agreement,
 * three position reports through the pipeline. */
static void workload(struct run *r, struct store *s, int base)
{
	struct wl w = {.kind = 0};
	int rc;
	if (!r->org_acked) {
		rc = store_write(s, wl_fn, &w);
		r->org_acked = rc == 0;
		r->eio += rc == SG_EIO;
	}
	struct wl ag = {.kind = 3};
	r->eio += store_write(s, wl_fn, &ag) == SG_EIO;
	struct pipeline_opts po = {.max_future_ms = 300000, .device_rate_per_s = 1000, .device_burst = 1000};
	struct pipeline *p = pipeline_new(s, &po);
	atomic_store(&r->pipeline, p);
	struct db *rdb = store_reader(s);
	for (int i = 0; rdb && i < 3; i++) {
		struct report rep;
		struct verr e = {0};
		struct ingest_result res;
		report_init(&rep);
		sg_strlcpy(rep.device_key, DEV_KEY, sizeof(rep.device_key));
		rep.has_position = true;
		rep.time_ms = 1764633600000LL + (int64_t)base * 10000 + i * 1000;
		rep.lat = 24.9 + i * 0.001;
		rep.lon = 67.1;
		int64_t t = rep.time_ms; /* the pipeline takes the report's contents */
		rc = pipeline_submit(p, rdb, &rep, t + 1000, &res, &e);
		if (rc == 0 && r->nreports < 64)
			r->reports[r->nreports++] = t;
		r->eio += rc == SG_EIO;
		report_release(&rep);
	}
	store_reader_put(s, rdb);
	atomic_store(&r->pipeline, NULL);
	pipeline_free(p);
	for (int i = 0; i < 5 && r->nacked < 64; i++) {
		struct wl v = {.kind = 1};
		snprintf(v.id, sizeof(v.id), "veh_%d_%d", base, i);
		rc = store_write(s, wl_fn, &v);
		if (rc == 0)
			memcpy(r->acked[r->nacked++], v.id, sizeof(v.id));
		r->eio += rc == SG_EIO;
	}
	for (int i = 0; i < 2 && r->nacked > 0; i++) {
		struct wl c = {.kind = 2};
		memcpy(c.id, r->acked[i % r->nacked], sizeof(c.id));
		store_write(s, wl_fn, &c);
	}
}

/* After a restart without faults: everything acknowledged is there, the
 * file is sound and the audit trail verifies. */
static int count_row(void *ctx, const struct history_row *row)
{
	(void)row;
	++*(int64_t *)ctx;
	return 0;
}

/* Reports of DEV stored in [t0, t1), whatever partition holds them. */
static int64_t stored(struct db *db, int64_t t0, int64_t t1)
{
	int64_t n = 0;
	assert_int_equal(history_read(db, DEV, t0, t1, INT64_MAX, count_row, &n), 0);
	return n;
}

static void check_after_restart(struct run *r, const char *what, long n, bool trail)
{
	struct store *s = open_store(r);
	if (!s)
		fail_msg("%s %ld: the store does not open again", what, n);
	struct db *db = store_reader(s);
	struct db_stmt *st;
	assert_int_equal(db_prepare(db, "PRAGMA integrity_check", &st), 0);
	assert_int_equal(db_step(st), DB_ROW);
	if (!str_eq(db_col_text(st, 0), "ok"))
		fail_msg("%s %ld: integrity check: %s", what, n, db_col_text(st, 0));
	db_reset(st);
	for (int i = 0; i < r->nacked; i++) {
		json_t *rec;
		if (resource_get(db, resource_find("vehicles"), r->acked[i], &rec))
			fail_msg("%s %ld: acknowledged %s lost", what, n, r->acked[i]);
		json_decref(rec);
	}
	for (int i = 0; i < r->nreports; i++)
		if (stored(db, r->reports[i], r->reports[i] + 1) != 1)
			fail_msg("%s %ld: acknowledged report at %lld lost", what, n, (long long)r->reports[i]);
	/* No durable change without its event, and no event without its change. */
	int64_t positions = stored(db, INT64_MIN / 2, INT64_MAX / 2);
	assert_int_equal(db_prepare(db, "SELECT ?1,"
				    " (SELECT count(*) FROM events WHERE type = 'position'),"
				    " (SELECT count(*) FROM geofence_events), (SELECT count(*) FROM events WHERE type = 'geofence')",
				    &st), 0);
	db_bind_int(st, 1, positions);
	assert_int_equal(db_step(st), DB_ROW);
	if (db_col_int(st, 0) != db_col_int(st, 1) || db_col_int(st, 2) != db_col_int(st, 3))
		fail_msg("%s %ld: %lld positions but %lld position events, %lld geofence events but %lld in the outbox", what,
			 n, (long long)db_col_int(st, 0), (long long)db_col_int(st, 1), (long long)db_col_int(st, 2),
			 (long long)db_col_int(st, 3));
	db_reset(st);
	if (trail) {
		char *buf = NULL;
		size_t len = 0;
		FILE *rep = open_memstream(&buf, &len);
		int problems = audit_verify(db, r->key.pk, rep);
		fclose(rep);
		if (problems != 0)
			fail_msg("%s %ld: audit verify: %s", what, n, buf);
		free(buf);
	}
	store_reader_put(s, db);
	store_close(s);
}

/* One migrated, empty database and one key, copied into every run's
 * directory (a run is then a file copy, not six migrations). */
static char *template_dir;
static struct audit_key template_key;

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static struct run *new_run(void)
{
	struct run *r = calloc(1, sizeof(*r));
	char err[256], from[512], to[512];
	if (!template_dir) {
		template_dir = test_tmpdir();
		assert_int_equal(audit_key_load(template_dir, true, &template_key, err, sizeof(err)), 0);
		struct store *s;
		struct store_opts o = {.data_dir = template_dir};
		assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
		store_close(s);
	}
	r->dir = test_tmpdir();
	r->key = template_key;
	snprintf(from, sizeof(from), "%s/safeguard.db", template_dir);
	snprintf(to, sizeof(to), "%s/safeguard.db", r->dir);
	copy_file(from, to);
	return r;
}

static void free_run(struct run *r)
{
	test_rmdir(r->dir);
	free(r);
}

/* The workload's count of op, from a run without faults. */
static long count_ops(enum fault_op op)
{
	struct run *r = new_run();
	struct store *s = open_store(r);
	assert_non_null(s);
	fault_arm(FAULT_NONE, 0, 0);
	fault.count_mallocs = op == FAULT_MALLOC;
	workload(r, s, 0);
	pthread_mutex_lock(&fault.mu);
	long n = fault.count[op];
	pthread_mutex_unlock(&fault.mu);
	store_close(s);
	fault_disarm();
	free_run(r);
	return n;
}

static void every_nth(enum fault_op op, int err, const char *what)
{
	long total = count_ops(op);
	assert_true(total > 0);
	/* Every one in the plain build; under the sanitizers, which run the same
	 * code ten times slower, every SG_FAULT_STRIDE-th (test.sh sets it). */
	const char *env = getenv("SG_FAULT_STRIDE");
	long stride = env && atol(env) > 0 ? atol(env) : 1;
	print_message("%s: failing each of %ld in turn (stride %ld)\n", what, total + 1, stride);
	for (long n = 1; n <= total + 1; n += stride) {
		struct run *r = new_run();
		struct store *s = open_store(r);
		assert_non_null(s);
		fault_arm(op, n, err);
		fault.count_mallocs = op == FAULT_MALLOC;
		workload(r, s, 0);
		bool fired = fault.fired;
		fault_disarm();
		/* A failed sync fails only a commit (or a checkpoint, which fails no
		 * write): a write answered SG_EIO then means a failed commit, after
		 * which the store must refuse writes for good (never retry a sync). */
		if (op == FAULT_SYNC && r->eio > 0 && store_healthy(s))
			fail_msg("%s %ld: a commit failed its sync and the store still takes writes", what, n);
		/* serves again after the fault, or says it is broken */
		struct wl after = {.kind = 1};
		snprintf(after.id, sizeof(after.id), "veh_after_%ld", n);
		int rc = store_healthy(s) ? store_write(s, wl_fn, &after) : SG_EIO;
		if (store_healthy(s) && rc != 0 && !(r->org_acked == false && rc == SG_ECONFLICT))
			fail_msg("%s %ld: healthy but a write fails (%d)", what, n, rc);
		if (rc == 0)
			memcpy(r->acked[r->nacked++], after.id, sizeof(after.id));
		if (err == SQLITE_FULL && fired && !store_healthy(s) && !store_full(s))
			fail_msg("%s %ld: a full disk broke the store", what, n);
		store_close(s);
		check_after_restart(r, what, n, true);
		free_run(r);
	}
}

static void test_every_nth_write_fails(void **state)
{
	(void)state;
	every_nth(FAULT_WRITE, SQLITE_IOERR_WRITE, "write");
}

static void test_every_nth_write_finds_the_disk_full(void **state)
{
	(void)state;
	every_nth(FAULT_WRITE, SQLITE_FULL, "full disk at write");
}

static void test_every_nth_sync_fails(void **state)
{
	(void)state;
	every_nth(FAULT_SYNC, SQLITE_IOERR_FSYNC, "sync");
}

static void test_every_nth_read_fails(void **state)
{
	(void)state;
	every_nth(FAULT_READ, SQLITE_IOERR_READ, "read");
}

static void test_every_nth_allocation_fails(void **state)
{
	(void)state;
	every_nth(FAULT_MALLOC, SQLITE_NOMEM, "allocation");
}

/* Power lost at a random sync, a thousand times over one growing database:
 * what was acknowledged before the loss is there after it. */
static void test_power_loss_loses_no_acknowledged_write(void **state)
{
	(void)state;
	struct run *r = new_run();
	fault.buffered = true;
	srandom(20261202);
	const char *env = getenv("SG_POWER_LOSS_RUNS");
	int runs = env ? atoi(env) : 1000;
	for (int i = 0; i < runs; i++) {
		struct store *s = open_store(r);
		if (!s)
			fail_msg("power loss %d: the store does not open", i);
		fault_arm(FAULT_NONE, 0, 0);
		pthread_mutex_lock(&fault.mu);
		fault.crash_at_sync = 1 + random() % 12;
		pthread_mutex_unlock(&fault.mu);
		workload(r, s, i);
		store_close(s); /* the process dies with the machine: unsynced data is gone */
		fault_disarm();
		/* every run: the acknowledged rows and the file; every 50th also the
		 * trail, which names any row it knows of that went missing since */
		check_after_restart(r, "power loss", i, i % 50 == 49 || i == runs - 1);
		r->nacked = 0;
		r->nreports = 0;
	}
	fault.buffered = false;
	free_run(r);
}

int main(void)
{
	fault_install();
	if (sodium_init() < 0)
		return 1;
	resources_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_nth_write_fails),
		cmocka_unit_test(test_every_nth_write_finds_the_disk_full),
		cmocka_unit_test(test_every_nth_sync_fails),
		cmocka_unit_test(test_every_nth_read_fails),
		cmocka_unit_test(test_every_nth_allocation_fails),
		cmocka_unit_test(test_power_loss_loses_no_acknowledged_write),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	resources_release();
	return rc;
}
