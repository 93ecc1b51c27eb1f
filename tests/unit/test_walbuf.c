/* walbuf: a connection on the gathering VFS commits what a plain one would.
 * Other connections (the default VFS) see every commit as soon as COMMIT
 * returns, transactions far larger than the buffer and than one write of the
 * default VFS come back intact, the WAL survives a checkpoint that restarts
 * it, and a commit is on file even when the process ends without closing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/walbuf.h"
#include "testlib.h"

static sqlite3 *open_db(const char *path, const char *vfs)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL),
			 SQLITE_OK);
	return h;
}

static void exec_ok(sqlite3 *h, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : sqlite3_errmsg(h));
}

/* Inserts n rows of size bytes each, row i filled with (i * 31 + seed). */
static void insert_rows(sqlite3 *h, int first, int n, int size)
{
	sqlite3_stmt *st;
	unsigned char *b = malloc((size_t)size);
	assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO t (id, data) VALUES (?1, ?2)", -1, &st, NULL), SQLITE_OK);
	for (int i = first; i < first + n; i++) {
		memset(b, (i * 31) & 0xff, (size_t)size);
		b[0] = (unsigned char)i;
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_blob(st, 2, b, size, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	free(b);
}

/* Every row from 0 to n-1 present, of the size given, with its content. */
static void check_rows(sqlite3 *h, int n, int size)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT id, data FROM t ORDER BY id", -1, &st, NULL), SQLITE_OK);
	int i = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_int_equal(sqlite3_column_int(st, 0), i);
		const unsigned char *b = sqlite3_column_blob(st, 1);
		assert_int_equal(sqlite3_column_bytes(st, 1), size);
		assert_int_equal(b[0], (unsigned char)i);
		for (int k = 1; k < size; k++)
			if (b[k] != ((i * 31) & 0xff))
				fail_msg("row %d byte %d is %d", i, k, b[k]);
		i++;
	}
	sqlite3_finalize(st);
	assert_int_equal(i, n);
}

static void test_commits_are_seen_by_other_connections_whole(void **state)
{
	(void)state;
	assert_int_equal(walbuf_register(), SQLITE_OK);
	assert_int_equal(walbuf_register(), SQLITE_OK); /* once is enough; twice is harmless */
	char *dir = test_tmpdir(), path[256];
	snprintf(path, sizeof(path), "%s/db", dir);
	sqlite3 *w = open_db(path, WALBUF_VFS), *r = open_db(path, NULL);
	exec_ok(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)");
	int n = 0;
	/* A row at a time; then 200 KB in one row (pages beyond one write of
	 * the default VFS, 128 KB); then 12 MB in one transaction (three times
	 * the buffer). */
	const int sizes[][2] = {{1, 100}, {1, 100}, {5, 3000}, {1, 200000}, {40, 300000}, {3, 100}};
	for (size_t c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		exec_ok(w, "BEGIN IMMEDIATE");
		exec_ok(w, "DELETE FROM t");
		insert_rows(w, 0, sizes[c][0], sizes[c][1]);
		exec_ok(w, "COMMIT");
		n = sizes[c][0];
		check_rows(r, n, sizes[c][1]); /* the other connection, at once */
		check_rows(w, n, sizes[c][1]);
		if (c == 3) /* the WAL starts again from its beginning after this */
			exec_ok(w, "PRAGMA wal_checkpoint(TRUNCATE)");
	}
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(r);
	sqlite3_close(w);
	test_rmdir(dir);
}

static void test_a_commit_is_on_file_when_the_process_ends_without_closing(void **state)
{
	(void)state;
	assert_int_equal(walbuf_register(), SQLITE_OK);
	char *dir = test_tmpdir(), path[256];
	snprintf(path, sizeof(path), "%s/db", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *w = NULL;
		if (sqlite3_open_v2(path, &w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, WALBUF_VFS) ||
		    sqlite3_exec(w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				    "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)", NULL, NULL, NULL))
			_exit(2);
		for (int i = 0; i < 50; i++) {
			if (sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL))
				_exit(3);
			insert_rows(w, i, 1, 5000);
			if (sqlite3_exec(w, "COMMIT", NULL, NULL, NULL))
				_exit(4);
		}
		/* A transaction written and not committed: must not appear. */
		sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		insert_rows(w, 50, 10, 5000);
		_exit(0); /* no COMMIT, no close: nothing left for a close to write */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sqlite3 *r = open_db(path, NULL);
	check_rows(r, 50, 5000);
	sqlite3_close(r);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commits_are_seen_by_other_connections_whole),
		cmocka_unit_test(test_a_commit_is_on_file_when_the_process_ends_without_closing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
