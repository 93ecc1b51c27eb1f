/* store: group commit shares commits between concurrent writers; a failing
 * write is rolled back alone; committed writes are visible to readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/err.h"
#include "store/store.h"
#include "testlib.h"
#include "vfsspy.h"

static int insert_fn(struct db *db, void *arg)
{
	struct db_stmt *st;
	if (db_prepare(db, "INSERT INTO organisations (id, org_id, name, kind, created_at, updated_at) VALUES (?1, ?1, ?1, 'other', 'x', 'x')", &st))
		return SG_EIO;
	db_bind_text(st, 1, (const char *)arg);
	return db_run(st);
}

static int failing_fn(struct db *db, void *arg)
{
	insert_fn(db, arg);   /* written, then refused: must be rolled back */
	return SG_EINVAL;
}

static int count(struct store *s)
{
	struct db *db = store_reader(s);
	struct db_stmt *st;
	assert_int_equal(db_prepare(db, "SELECT count(*) FROM organisations", &st), 0);
	assert_int_equal(db_step(st), DB_ROW);
	int n = (int)db_col_int(st, 0);
	db_reset(st);
	store_reader_put(s, db);
	return n;
}

struct worker {
	struct store *s;
	int base, n, failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "org_%d_%d", w->base, i);
		if (store_write(w->s, insert_fn, id))
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_writes_share_commits(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir, .max_batch = 512};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	enum { T = 16, N = 40 };
	pthread_t th[T];
	struct worker w[T];
	for (int i = 0; i < T; i++) {
		w[i] = (struct worker){.s = s, .base = i, .n = N};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	struct store_stats ss;
	store_get_stats(s, &ss);
	assert_int_equal(ss.writes, T * N);
	assert_true(ss.commits < ss.writes); /* commits were shared */
	assert_true(ss.max_batch > 1);
	assert_int_equal(count(s), T * N);
	store_close(s);
	test_rmdir(dir);
}

static void test_failed_write_rolls_back_alone(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_write(s, failing_fn, "org_bad"), SG_EINVAL);
	assert_int_equal(store_write(s, insert_fn, "org_good"), 0);
	assert_int_equal(store_write(s, insert_fn, "org_good"), SG_EEXIST); /* unique id */
	assert_int_equal(count(s), 1);
	assert_true(store_healthy(s));
	store_close(s);
	test_rmdir(dir);
}

/* Asynchronous writes: each callback comes once, after the commit holding
 * its write, with the write's own code; many queued at once share commits. */
struct aw {
	char id[32];
	int rc, calls;
};

static pthread_mutex_t aw_mu = PTHREAD_MUTEX_INITIALIZER;
static int aw_calls;

static int aw_insert(struct db *db, void *arg)
{
	return insert_fn(db, ((struct aw *)arg)->id);
}

static int aw_failing(struct db *db, void *arg)
{
	return failing_fn(db, ((struct aw *)arg)->id);
}

static void aw_done(void *arg, int rc)
{
	struct aw *w = arg;
	pthread_mutex_lock(&aw_mu);
	w->rc = rc;
	w->calls++;
	aw_calls++;
	pthread_mutex_unlock(&aw_mu);
}

static void test_async_writes_call_back_once_after_their_commit(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir, .max_batch = 512};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	enum { N = 300 };
	static struct aw w[N];
	for (int i = 0; i < N; i++) {
		snprintf(w[i].id, sizeof(w[i].id), "org_async_%d", i);
		assert_int_equal(store_write_async(s, i % 10 == 9 ? aw_failing : aw_insert, &w[i], aw_done), 0);
	}
	/* A synchronous write queued behind them returns after their commits;
	 * their callbacks run just after, on the writer thread. */
	assert_int_equal(store_write(s, insert_fn, "org_last"), 0);
	for (int waited = 0; waited < 5000; waited++) {
		pthread_mutex_lock(&aw_mu);
		int calls = aw_calls;
		pthread_mutex_unlock(&aw_mu);
		if (calls == N)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&aw_mu);
	assert_int_equal(aw_calls, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].calls, 1);
		assert_int_equal(w[i].rc, i % 10 == 9 ? SG_EINVAL : 0);
	}
	pthread_mutex_unlock(&aw_mu);
	assert_int_equal(count(s), N - N / 10 + 1);
	struct store_stats ss;
	store_get_stats(s, &ss);
	assert_true(ss.commits < (uint64_t)N / 2); /* queued together, committed together */
	store_close(s);
	test_rmdir(dir);
}

static void test_reopen_keeps_data_and_schema_version(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_write(s, insert_fn, "org_1"), 0);
	store_close(s);
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(s), store_latest_version());
	assert_int_equal(count(s), 1);
	store_close(s);
	test_rmdir(dir);
}

static void test_newer_schema_is_refused(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	store_close(s);
	char path[512];
	snprintf(path, sizeof(path), "%s/safeguard.db", dir);
	struct db *db;
	assert_int_equal(db_sqlite_open(path, true, &db, err, sizeof(err)), 0);
	assert_int_equal(db_exec(db, "INSERT INTO schema_version VALUES (999)"), 0);
	db_close(db);
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), SG_EINVAL);
	assert_non_null(strstr(err, "schema version 999"));
	test_rmdir(dir);
}

/* Readers reading while writes commit and checkpoints run: only the
 * writer's connection ever takes SQLite's checkpoint lock (the WAL-reset race
 * needs a checkpoint on one connection and a commit on another), and it does
 * checkpoint, so the log does not grow without end. */
struct reader_loop {
	struct store *s;
	atomic_int stop;
	atomic_int reads;
};

static void *read_loop(void *arg)
{
	struct reader_loop *r = arg;
	while (!r->stop) {
		count(r->s);
		r->reads++;
	}
	return NULL;
}

static void test_only_the_writer_checkpoints(void **state)
{
	(void)state;
	vfsspy_install();
	vfsspy_reset();
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir, .max_batch = 64, .checkpoint_pages = 20};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	struct reader_loop r = {.s = s};
	pthread_t rt[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&rt[i], NULL, read_loop, &r);
	enum { T = 4, N = 300 };
	pthread_t th[T];
	struct worker w[T];
	for (int i = 0; i < T; i++) {
		w[i] = (struct worker){.s = s, .base = 100 + i, .n = N};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	usleep(300 * 1000); /* an idle writer checkpoints what is left; readers go on */
	r.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);
	assert_true(r.reads > 0);
	struct store_stats ss;
	store_get_stats(s, &ss);
	assert_true(ss.checkpoints > 0);
	/* a reader closing as it leaves the pool does not checkpoint either */
	struct db *extra[12];
	for (int i = 0; i < 12; i++)
		extra[i] = store_reader(s);
	for (int i = 0; i < 12; i++)
		store_reader_put(s, extra[i]);
	pthread_mutex_lock(&vfsspy.mu);
	/* (a reader may take the write lock for a moment to read a consistent
	 * log header; it writes nothing) */
	assert_int_equal(vfsspy.nckpters, 1);
	bool writes = false;
	for (int i = 0; i < vfsspy.nwriters; i++)
		writes |= vfsspy.writers[i] == vfsspy.ckpters[0];
	assert_true(writes);
	pthread_mutex_unlock(&vfsspy.mu);
	assert_int_equal(count(s), T * N);
	store_close(s);
	test_rmdir(dir);
}

/* A second writer on the same data directory (a CLI command beside the
 * server) is refused; a read-only store opens beside the writer and sees its
 * commits. */
static void test_one_writer_per_data_directory(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s, *s2;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_open(&o, &s2, err, sizeof(err)), SG_EBUSY);
	assert_non_null(strstr(err, "in use by another safeguard process"));
	assert_int_equal(store_write(s, insert_fn, "org_w"), 0);
	struct store_opts ro = {.data_dir = dir, .read_only = true};
	assert_int_equal(store_open(&ro, &s2, err, sizeof(err)), 0);
	assert_int_equal(count(s2), 1);
	store_close(s2);
	store_close(s);
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0); /* free again once closed */
	store_close(s);
	test_rmdir(dir);
}

/* Reader connections are bounded: beyond max_readers a caller waits, then
 * gets none; what a burst opened is given back down to a few idle ones. */
static void test_readers_are_bounded_and_given_back(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir, .max_readers = 20, .reader_wait_ms = 50, .reader_idle_ms = 20};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	struct db *held[20];
	for (int i = 0; i < 20; i++)
		assert_non_null(held[i] = store_reader(s));
	assert_null(store_reader(s)); /* all in use: refused after the wait */
	struct store_stats ss;
	store_get_stats(s, &ss);
	assert_int_equal(ss.readers_open, 20);
	assert_int_equal(ss.readers_refused, 1);
	store_reader_put(s, held[19]);
	assert_non_null(held[19] = store_reader(s)); /* one came back */
	for (int i = 0; i < 20; i++)
		store_reader_put(s, held[i]);
	store_get_stats(s, &ss);
	assert_int_equal(ss.readers_open, 20); /* kept while traffic may come back */
	usleep(50 * 1000);
	for (int i = 0; i < 20; i++) /* later traffic, one request at a time */
		store_reader_put(s, store_reader(s));
	store_get_stats(s, &ss);
	assert_true(ss.readers_open <= 8); /* the burst's connections given back */
	assert_int_equal(count(s), 0);
	store_close(s);
	test_rmdir(dir);
}

/* An acknowledgement follows a sync of the log: every store_write that
 * returns 0 saw at least one more sync reach the file system (the
 * WAL-gathering VFS must not skip it). */
static void test_every_acknowledgement_follows_a_sync(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	for (int i = 0; i < 20; i++) {
		char id[32];
		snprintf(id, sizeof(id), "org_sync_%d", i);
		pthread_mutex_lock(&vfsspy.mu);
		long before = vfsspy.syncs;
		pthread_mutex_unlock(&vfsspy.mu);
		assert_int_equal(store_write(s, insert_fn, id), 0);
		pthread_mutex_lock(&vfsspy.mu);
		long after = vfsspy.syncs;
		pthread_mutex_unlock(&vfsspy.mu);
		assert_true(after > before);
	}
	store_close(s);
	test_rmdir(dir);
}

int main(void)
{
	vfsspy_install(); /* before any connection: the writer's VFS wraps the default */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_writes_share_commits),
		cmocka_unit_test(test_failed_write_rolls_back_alone),
		cmocka_unit_test(test_async_writes_call_back_once_after_their_commit),
		cmocka_unit_test(test_reopen_keeps_data_and_schema_version),
		cmocka_unit_test(test_newer_schema_is_refused),
		cmocka_unit_test(test_only_the_writer_checkpoints),
		cmocka_unit_test(test_one_writer_per_data_directory),
		cmocka_unit_test(test_readers_are_bounded_and_given_back),
		cmocka_unit_test(test_every_acknowledgement_follows_a_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
