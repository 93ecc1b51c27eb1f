/* Failed-login lockout in the store; see lockout.h. */
#include "registry/lockout.h"

#include "core/err.h"

int64_t lockout_wait(struct db *db, const char *user_id, int64_t now_ms, int *failures)
{
	struct db_stmt *st;
	int64_t wait = 0;
	if (failures)
		*failures = 0;
	if (db_prepare(db, "SELECT failures, locked_until_ms FROM login_lockout WHERE user_id = ?1", &st))
		return 0;
	db_bind_text(st, 1, user_id);
	if (db_step(st) == DB_ROW) {
		if (failures)
			*failures = (int)db_col_int(st, 0);
		int64_t until = db_col_int(st, 1);
		wait = until > now_ms ? until - now_ms : 0;
	}
	db_reset(st);
	return wait;
}

int lockout_fail_fn(struct db *db, void *arg)
{
	const struct lockout_job *j = arg;
	struct db_stmt *st;
	int64_t failures = 0, first = j->now_ms, until = 0;
	if (db_prepare(db, "SELECT failures, first_ms, locked_until_ms FROM login_lockout WHERE user_id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, j->user_id);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		failures = db_col_int(st, 0);
		first = db_col_int(st, 1);
		until = db_col_int(st, 2);
	}
	db_reset(st);
	if (rc < 0)
		return rc;
	/* A window that passed starts the count again, unless still locked. */
	if (j->now_ms - first > j->rule.window_ms && until <= j->now_ms) {
		failures = 0;
		first = j->now_ms;
	}
	failures++;
	if (failures >= j->rule.max_failures) {
		int64_t extra = failures - j->rule.max_failures;
		int64_t lock = j->rule.lockout_ms << (extra > 6 ? 6 : extra);
		if (lock > 3600 * 1000)
			lock = 3600 * 1000;
		until = j->now_ms + lock;
	}
	if (db_prepare(db,
		       "INSERT INTO login_lockout (user_id, failures, first_ms, locked_until_ms) VALUES (?1, ?2, ?3, ?4)"
		       " ON CONFLICT (user_id) DO UPDATE SET failures = ?2, first_ms = ?3, locked_until_ms = ?4",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(j->user_id), DB_I(failures), DB_I(first), DB_I(until));
	return db_run(st);
}

int lockout_clear_fn(struct db *db, void *arg)
{
	const struct lockout_job *j = arg;
	struct db_stmt *st;
	if (db_prepare(db, "DELETE FROM login_lockout WHERE user_id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, j->user_id);
	return db_run(st);
}
