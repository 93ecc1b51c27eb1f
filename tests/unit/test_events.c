/* events: a change and its event commit or roll back together; the
 * dispatcher hands subscribers only what committed, in order; a durable
 * subscriber killed while it lags resumes from its cursor and sees every
 * event at least once with the same id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"
#include "events/events.h"
#include "store/store.h"
#include "testlib.h"

struct fixture {
	char *dir;
	struct store *s;
	struct events *ev;
	bool fail_commit; /* the before-commit hook fails: the fault between change and COMMIT */
};

static int hook(struct db *db, void *ctx)
{
	(void)db;
	struct fixture *f = ctx;
	return f->fail_commit ? SG_EIO : 0;
}

static void woken(void *ctx)
{
	struct fixture *f = ctx;
	if (f->ev)
		events_committed(f->ev);
}

static int mktable(struct db *db, void *arg)
{
	(void)arg;
	return db_exec(db, "CREATE TABLE IF NOT EXISTS change (n INTEGER)") ? SG_EIO : 0;
}

static struct store *open_store(struct fixture *f)
{
	char err[256];
	struct store *s;
	struct store_opts o = {.data_dir = f->dir, .before_commit = hook, .hook_ctx = f, .after_commit = woken,
			       .after_ctx = f};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_write(s, mktable, NULL), 0);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	f->s = open_store(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	events_free(f->ev);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* A change (a row in `change`) and its event; fails after both when asked. */
struct change {
	int n;
	bool fail_after;
};

static int change_fn(struct db *db, void *arg)
{
	struct change *c = arg;
	struct db_stmt *st;
	if (db_prepare(db, "INSERT INTO change (n) VALUES (?1)", &st))
		return SG_EIO;
	db_bind_int(st, 1, c->n);
	if (db_run(st))
		return SG_EIO;
	json_t *body = json_pack("{s:i}", "n", c->n);
	int rc = events_append(db, "org_a", "positions", "test", body, clock_now_ms());
	json_decref(body);
	return rc ? rc : c->fail_after ? SG_EIO : 0;
}

static int64_t count(struct store *s, const char *sql)
{
	struct db *db = store_reader(s);
	struct db_stmt *st;
	assert_int_equal(db_prepare(db, sql, &st), 0);
	assert_int_equal(db_step(st), DB_ROW);
	int64_t n = db_col_int(st, 0);
	db_reset(st);
	store_reader_put(s, db);
	return n;
}

struct seen {
	int64_t seq[64];
	char body[64][32];
	int n;
};

static int record(void *ctx, const struct event *e)
{
	struct seen *s = ctx;
	if (s->n < 64) {
		s->seq[s->n] = e->seq;
		sg_strlcpy(s->body[s->n], e->body, sizeof(s->body[0]));
		s->n++;
	}
	return 0;
}

static void test_a_change_and_its_event_commit_or_roll_back_together(void **state)
{
	struct fixture *f = *state;
	struct seen seen = {0};
	f->ev = events_new(f->s, NULL);
	assert_int_equal(events_subscribe(f->ev, "seen", false, record, &seen), 0);
	assert_int_equal(events_start(f->ev), 0);
	struct change c1 = {.n = 1};
	assert_int_equal(store_write(f->s, change_fn, &c1), 0);
	/* The write fails after both: its savepoint takes both back. */
	struct change c2 = {.n = 2, .fail_after = true};
	assert_int_equal(store_write(f->s, change_fn, &c2), SG_EIO);
	/* The commit fails after both (the fault between them and COMMIT). */
	f->fail_commit = true;
	struct change c3 = {.n = 3};
	assert_int_equal(store_write(f->s, change_fn, &c3), SG_EIO);
	assert_int_equal(count(f->s, "SELECT count(*) FROM change"), 1);
	assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 1);
	assert_true(events_wait(f->ev, 1, 2000));
	usleep(100000);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.seq[0], 1);
	assert_string_equal(seen.body[0], "{\"n\":1}");
}

static void test_seq_is_never_reused_after_retention_empties_the_outbox(void **state)
{
	struct fixture *f = *state;
	struct events_opts o = {.retention_ms = 60000};
	f->ev = events_new(f->s, &o);
	assert_int_equal(events_start(f->ev), 0);
	for (int i = 0; i < 3; i++) {
		struct change c = {.n = i};
		assert_int_equal(store_write(f->s, change_fn, &c), 0);
	}
	assert_int_equal(events_purge(f->ev, clock_now_ms() + 120000), 3);
	assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 0);
	struct change c = {.n = 9};
	assert_int_equal(store_write(f->s, change_fn, &c), 0);
	assert_int_equal(count(f->s, "SELECT max(seq) FROM events"), 4);
	/* Young events stay. */
	assert_int_equal(events_purge(f->ev, clock_now_ms()), 0);
}

/* The child: writes `total` events as fast as it can while a durable
 * subscriber lags behind them, logging "seq body" lines to log_fd. */
static int log_fd;

static int lagging(void *ctx, const struct event *e)
{
	(void)ctx;
	char line[96];
	int n = snprintf(line, sizeof(line), "%lld %s\n", (long long)e->seq, e->body);
	if (write(log_fd, line, (size_t)n) != n)
		return 1;
	usleep(300);
	return 0;
}

static void child(struct fixture *f, int from, int total)
{
	f->s = open_store(f);
	f->ev = events_new(f->s, NULL);
	if (events_subscribe(f->ev, "durable", true, lagging, NULL) || events_start(f->ev))
		_exit(2);
	for (int i = from; i < total; i++) {
		struct change c = {.n = i};
		if (store_write(f->s, change_fn, &c))
			_exit(3);
	}
	/* All written: wait for the subscriber to finish. */
	int64_t head = 0;
	struct db *db = store_reader(f->s);
	events_head(db, &head);
	store_reader_put(f->s, db);
	events_wait(f->ev, head, 20000);
	events_free(f->ev);
	store_close(f->s);
	_exit(0);
}

static void test_a_durable_subscriber_killed_while_lagging_gets_every_event(void **state)
{
	struct fixture *f = *state;
	store_close(f->s); /* one writer per data directory: the children write */
	f->s = NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s/delivered.log", f->dir);
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(log_fd >= 0);
	const int total = 600;
	/* Kill it three times at moments of its work, then let it finish. */
	for (int round = 0; round < 4; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child(f, 0, total);
		int status;
		if (round < 3) {
			usleep(150000 + round * 100000);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else {
			waitpid(pid, &status, 0);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	close(log_fd);
	f->s = open_store(f);
	int64_t head = count(f->s, "SELECT max(seq) FROM events");
	assert_true(head >= total);
	/* Every committed event delivered at least once, with its own id and body. */
	char *got = calloc((size_t)head + 1, 1);
	FILE *in = fopen(path, "r");
	long long seq;
	char body[64];
	int lines = 0;
	while (fscanf(in, "%lld %63s", &seq, body) == 2) {
		assert_true(seq >= 1 && seq <= head);
		struct db *db = store_reader(f->s);
		struct db_stmt *st;
		assert_int_equal(db_prepare(db, "SELECT body FROM events WHERE seq = ?1", &st), 0);
		db_bind_int(st, 1, seq);
		assert_int_equal(db_step(st), DB_ROW);
		assert_string_equal(db_col_text(st, 0), body);
		db_reset(st);
		store_reader_put(f->s, db);
		got[seq] = 1;
		lines++;
	}
	fclose(in);
	for (int64_t i = 1; i <= head; i++)
		if (!got[i])
			fail_msg("event %lld never delivered", (long long)i);
	free(got);
	printf("%lld events, %d deliveries over 3 kills\n", (long long)head, lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_change_and_its_event_commit_or_roll_back_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_is_never_reused_after_retention_empties_the_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_durable_subscriber_killed_while_lagging_gets_every_event, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
