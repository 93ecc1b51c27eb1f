/* The backend-neutral helpers of db.h. */
#include "store/db.h"

#include "core/err.h"

int db_run(struct db_stmt *st)
{
	int rc = db_step(st);
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : rc;
}

void db_bind_values(struct db_stmt *st, const struct db_value *v, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int i = (int)k + 1;
		switch (v[k].type) {
		case DB_INT: db_bind_int(st, i, v[k].i); break;
		case DB_REAL: db_bind_real(st, i, v[k].d); break;
		case DB_TEXT: db_bind_text(st, i, v[k].s); break;
		case DB_BLOB: db_bind_blob(st, i, v[k].s, (size_t)v[k].i); break;
		default: db_bind_null(st, i);
		}
	}
}

int db_run_values(struct db *db, const char *sql, const struct db_value *v, size_t n)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_values(st, v, n);
	return db_run(st);
}
