/* Backend-neutral SQL connection. Repositories (store, audit, registry)
 * speak only this interface, so the PostgreSQL backend is one more file that
 * fills struct db_ops. SQL text uses '?' placeholders and the common subset of
 * SQLite and PostgreSQL; it is never built from request data.
 *
 * Statements are prepared once per connection and cached by their SQL text's
 * address, so callers pass string constants (or strings that live as long as
 * the process). A connection is used by one thread at a time. */
#ifndef SG_DB_H
#define SG_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

enum db_type { DB_NULL, DB_INT, DB_REAL, DB_TEXT, DB_BLOB };

/* db_step() results besides negative SG_E* codes. */
#define DB_ROW 1
#define DB_DONE 0

struct db_ops {
	int (*prepare)(struct db *db, const char *sql, struct db_stmt **out);
	int (*prepare_text)(struct db *db, const char *sql, struct db_stmt **out);
	void (*bind_null)(struct db_stmt *st, int i);
	void (*bind_int)(struct db_stmt *st, int i, int64_t v);
	void (*bind_real)(struct db_stmt *st, int i, double v);
	void (*bind_text)(struct db_stmt *st, int i, const char *v); /* NULL binds NULL */
	void (*bind_blob)(struct db_stmt *st, int i, const void *v, size_t n);
	int (*step)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	int (*col_count)(struct db_stmt *st);
	const char *(*col_name)(struct db_stmt *st, int i);
	enum db_type (*col_type)(struct db_stmt *st, int i);
	int64_t (*col_int)(struct db_stmt *st, int i);
	double (*col_real)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	const void *(*col_blob)(struct db_stmt *st, int i, size_t *n);
	int (*exec)(struct db *db, const char *sql);
	int64_t (*changes)(struct db *db);
	const char *(*errmsg)(struct db *db);
	int (*checkpoint)(struct db *db, int min_pages, int *copied);
	void (*close)(struct db *db);
};

struct db {
	const struct db_ops *ops;
};

/* Prepares (or takes from the cache) a statement, reset and with bindings
 * cleared. Parameters are numbered from 1. Returns 0 or SG_EIO. */
static inline int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	return db->ops->prepare(db, sql, out);
}
/* The same for SQL built at run time (it names a history partition): the
 * cache is keyed by the text, not its address, and keeps the 64 used last. */
static inline int db_prepare_text(struct db *db, const char *sql, struct db_stmt **out)
{
	return db->ops->prepare_text(db, sql, out);
}
/* Executes SQL without parameters or results (DDL, BEGIN, COMMIT). */
static inline int db_exec(struct db *db, const char *sql) { return db->ops->exec(db, sql); }
static inline int64_t db_changes(struct db *db) { return db->ops->changes(db); }
static inline const char *db_errmsg(struct db *db) { return db->ops->errmsg(db); }
static inline void db_close(struct db *db) { if (db) db->ops->close(db); }
/* The writer's connection only, between transactions: copies the committed
 * log into the database file when it holds at least min_pages pages (SQLite:
 * a passive WAL checkpoint; a backend without one answers 0 at once).
 * *copied (may be NULL) is set to the pages copied. 0 or SG_EIO. */
static inline int db_checkpoint(struct db *db, int min_pages, int *copied)
{
	return db->ops->checkpoint(db, min_pages, copied);
}

/* The statement functions: the statement remembers its connection. */
struct db_stmt {
	const struct db_ops *ops;
};
static inline void db_bind_null(struct db_stmt *s, int i) { s->ops->bind_null(s, i); }
static inline void db_bind_int(struct db_stmt *s, int i, int64_t v) { s->ops->bind_int(s, i, v); }
static inline void db_bind_real(struct db_stmt *s, int i, double v) { s->ops->bind_real(s, i, v); }
static inline void db_bind_text(struct db_stmt *s, int i, const char *v) { s->ops->bind_text(s, i, v); }
static inline void db_bind_blob(struct db_stmt *s, int i, const void *v, size_t n) { s->ops->bind_blob(s, i, v, n); }
/* DB_ROW, DB_DONE, or SG_EEXIST (unique), SG_ECONFLICT (foreign key), SG_EIO. */
static inline int db_step(struct db_stmt *s) { return s->ops->step(s); }
/* Resets the statement so it holds no read snapshot; call when done with rows. */
static inline void db_reset(struct db_stmt *s) { s->ops->reset(s); }
static inline int db_col_count(struct db_stmt *s) { return s->ops->col_count(s); }
static inline const char *db_col_name(struct db_stmt *s, int i) { return s->ops->col_name(s, i); }
static inline enum db_type db_col_type(struct db_stmt *s, int i) { return s->ops->col_type(s, i); }
static inline int64_t db_col_int(struct db_stmt *s, int i) { return s->ops->col_int(s, i); }
static inline double db_col_real(struct db_stmt *s, int i) { return s->ops->col_real(s, i); }
/* Valid until the next step/reset; NULL for SQL NULL. */
static inline const char *db_col_text(struct db_stmt *s, int i) { return s->ops->col_text(s, i); }
static inline const void *db_col_blob(struct db_stmt *s, int i, size_t *n) { return s->ops->col_blob(s, i, n); }

/* Runs a statement expected to return no rows; returns 0 or a negative code. */
int db_run(struct db_stmt *st);

/* One value to bind, or one column's value as stored (audit/evidence.h). */
struct db_value {
	enum db_type type;
	int64_t i;     /* DB_INT; the length of a DB_TEXT (where known) or DB_BLOB */
	double d;      /* DB_REAL */
	const char *s; /* DB_TEXT (NUL-terminated; NULL binds NULL), DB_BLOB */
};
#define DB_I(v) ((struct db_value){.type = DB_INT, .i = (v)})
#define DB_R(v) ((struct db_value){.type = DB_REAL, .d = (v)})
#define DB_T(v) ((struct db_value){.type = DB_TEXT, .s = (v)})
#define DB_VALUES(...) (const struct db_value[]){__VA_ARGS__}
#define DB_NVALUES(...) (sizeof(DB_VALUES(__VA_ARGS__)) / sizeof(struct db_value))
/* Binds v[0..n-1] to parameters 1..n. */
void db_bind_values(struct db_stmt *st, const struct db_value *v, size_t n);
#define db_bind_all(st, ...) db_bind_values((st), DB_VALUES(__VA_ARGS__), DB_NVALUES(__VA_ARGS__))
/* Prepares sql (a constant, as db_prepare), binds the values, runs it:
 * 0 or a negative code (SG_EIO when it cannot be prepared). */
int db_run_values(struct db *db, const char *sql, const struct db_value *v, size_t n);
#define db_run_all(db, sql, ...) db_run_values((db), (sql), DB_VALUES(__VA_ARGS__), DB_NVALUES(__VA_ARGS__))

/* Opens a SQLite connection (sqlite backend). writer: the one connection that
 * writes (WAL, synchronous=FULL); readers get query_only. 0 or SG_EIO with a
 * message in err. */
int db_sqlite_open(const char *path, bool writer, struct db **out, char *err, size_t errsz);
/* The SQLite library's version as loaded at run time ("3.40.1"). */
const char *db_sqlite_version(void);

#endif
