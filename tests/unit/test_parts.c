/* parts: the history's time partitions. A report falls in the one partition
 * whose range holds its time; a new range is a whole period, cut where it
 * would overlap one made under another period; the legacy table (the history
 * stored before partitions) holds every time up to its last report; reads
 * see the partitions in time order; retention lists only partitions wholly
 * before the cutoff, never the legacy one, and a dropped range is made anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "pipeline/history.h"
#include "pipeline/parts.h"
#include "store/store.h"
#include "testlib.h"

#define H 3600000LL

struct fixture {
	char *dir;
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	f->dir = test_tmpdir();
	struct store_opts o = {.data_dir = f->dir};
	assert_int_equal(store_open(&o, &f->s, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

struct place {
	int64_t period, t;
	struct part got;
	const char *device; /* when set: a row stored at t in the partition */
};

static int place_fn(struct db *db, void *arg)
{
	struct place *p = arg;
	if (parts_for_write(db, p->period, p->t, &p->got))
		return SG_EIO;
	if (!p->device)
		return 0;
	char sql[256];
	struct db_stmt *st;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (device_id, time_ms, org_id, lat, lon, attrs, received_ms)"
		 " VALUES (?1, ?2, 'org', 1, 2, '{}', ?2)",
		 p->got.tbl);
	if (db_prepare_text(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, p->device);
	db_bind_int(st, 2, p->t);
	return db_run(st) ? SG_EIO : 0;
}

static struct part place(struct fixture *f, int64_t period, int64_t t, const char *device)
{
	struct place p = {.period = period, .t = t, .device = device};
	assert_int_equal(store_write(f->s, place_fn, &p), 0);
	return p.got;
}

static void test_a_time_falls_in_one_whole_period_made_on_first_use(void **state)
{
	struct fixture *f = *state;
	struct part a = place(f, H, 10 * H + 5, NULL), b = place(f, H, 10 * H + H - 1, NULL);
	assert_int_equal(a.t0, 10 * H);
	assert_int_equal(a.t1, 11 * H);
	assert_int_equal(a.id, b.id);
	assert_string_equal(a.tbl, b.tbl);
	struct part c = place(f, H, 11 * H, NULL);
	assert_true(c.id != a.id);
	assert_int_equal(c.t0, 11 * H);
	/* before the epoch too (a fix from a device whose clock was never set) */
	struct part d = place(f, H, -1, NULL);
	assert_int_equal(d.t0, -H);
	assert_int_equal(d.t1, 0);
}

static void test_a_longer_period_is_cut_where_others_begin_and_end(void **state)
{
	struct fixture *f = *state;
	place(f, H, 2 * H + 1, NULL);      /* [2H, 3H) */
	place(f, H, 4 * H + 1, NULL);      /* [4H, 5H) */
	struct part p = place(f, 6 * H, 3 * H + 30, NULL); /* the period [0, 6H) less both */
	assert_int_equal(p.t0, 3 * H);
	assert_int_equal(p.t1, 4 * H);
	p = place(f, 6 * H, 5 * H + 30, NULL);
	assert_int_equal(p.t0, 5 * H);
	assert_int_equal(p.t1, 6 * H);
	p = place(f, 6 * H, 30, NULL);
	assert_int_equal(p.t0, 0);
	assert_int_equal(p.t1, 2 * H);
}

static int legacy_fn(struct db *db, void *arg)
{
	(void)arg;
	/* what migration 9 finds in a store written before it: reports in the
	 * table positions, which becomes the partition up to the last of them */
	return db_exec(db, "INSERT INTO positions (device_id, time_ms, org_id, lat, lon, attrs, received_ms)"
			   " VALUES ('d', 100, 'org', 1, 2, '{}', 100), ('d', 5000, 'org', 1, 2, '{}', 5000);"
			   " UPDATE history_parts SET t1 = 5001 WHERE legacy = 1")
		       ? SG_EIO
		       : 0;
}

static int collect_fn(void *ctx, const struct history_row *row)
{
	int64_t *t = ctx;
	t[++t[0]] = row->time_ms;
	return 0;
}

static void test_the_legacy_table_is_the_partition_up_to_its_last_report(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_write(f->s, legacy_fn, NULL), 0);
	struct part old = place(f, H, 3000, "d"); /* a late report from before the upgrade */
	assert_true(old.legacy);
	assert_string_equal(old.tbl, "positions");
	struct part next = place(f, H, 5001, "d");
	assert_false(next.legacy);
	assert_int_equal(next.t0, 5001); /* cut where the legacy range ends */
	assert_int_equal(next.t1, H);
	place(f, H, H + 7, "d");
	int64_t t[16] = {0};
	struct db *db = store_reader(f->s);
	assert_int_equal(history_read(db, "d", 0, INT64_MAX, 100, collect_fn, t), 0);
	assert_int_equal(t[0], 5);
	int64_t want[] = {100, 3000, 5000, 5001, H + 7};
	for (int i = 0; i < 5; i++)
		assert_int_equal(t[i + 1], want[i]);
	/* the limit holds across partitions */
	memset(t, 0, sizeof(t));
	assert_int_equal(history_read(db, "d", 200, INT64_MAX, 3, collect_fn, t), 0);
	assert_int_equal(t[0], 3);
	assert_int_equal(t[3], 5001);
	double lat, lon;
	int64_t at;
	assert_int_equal(history_latest_before(db, "d", H, &lat, &lon, &at), 0);
	assert_int_equal(at, 5001);
	assert_int_equal(history_latest_before(db, "d", 99, &lat, &lon, &at), SG_ENOTFOUND);
	store_reader_put(f->s, db);
}

struct expire {
	int64_t cutoff;
	size_t n;
	int64_t first_t0;
	bool drop;
};

static int expire_fn(struct db *db, void *arg)
{
	struct expire *x = arg;
	struct part *ps;
	if (parts_expired(db, x->cutoff, 10, &ps, &x->n))
		return SG_EIO;
	x->first_t0 = x->n ? ps[0].t0 : 0;
	int rc = 0;
	for (size_t i = 0; x->drop && i < x->n && !rc; i++)
		rc = parts_drop(db, &ps[i], 1);
	free(ps);
	return rc;
}

static void test_retention_takes_whole_partitions_and_a_dropped_range_is_made_anew(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_write(f->s, legacy_fn, NULL), 0);
	struct part a = place(f, H, H + 1, "d"), b = place(f, H, 2 * H + 1, "d");
	struct expire x = {.cutoff = 2 * H + 1};
	assert_int_equal(store_write(f->s, expire_fn, &x), 0);
	assert_int_equal(x.n, 1); /* [H, 2H): not the legacy one, not [2H, 3H) */
	assert_int_equal(x.first_t0, H);
	x = (struct expire){.cutoff = 2 * H, .drop = true};
	assert_int_equal(store_write(f->s, expire_fn, &x), 0);
	assert_int_equal(x.n, 1);
	x = (struct expire){.cutoff = 2 * H};
	assert_int_equal(store_write(f->s, expire_fn, &x), 0);
	assert_int_equal(x.n, 0); /* dropped: listed no more */
	int64_t t[16] = {0};
	struct db *db = store_reader(f->s);
	assert_int_equal(history_read(db, "d", 0, INT64_MAX, 100, collect_fn, t), 0);
	store_reader_put(f->s, db);
	assert_int_equal(t[0], 3); /* the legacy two and b's */
	assert_int_equal(t[3], 2 * H + 1);
	struct part again = place(f, H, H + 2, "d");
	assert_true(again.id != a.id && again.id != b.id);
	assert_int_equal(again.t0, H);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_time_falls_in_one_whole_period_made_on_first_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_longer_period_is_cut_where_others_begin_and_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_legacy_table_is_the_partition_up_to_its_last_report, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retention_takes_whole_partitions_and_a_dropped_range_is_made_anew,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
