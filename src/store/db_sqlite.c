/* SQLite backend of db.h: WAL, synchronous=FULL, foreign keys, a per-connection
 * statement cache keyed by SQL text address. */
#include "db.h"
#include "store/backend.h"
#include "walbuf.h"

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	struct sq_db *db;
	const char *key;
	bool bind_failed; /* a parameter could not be bound (no memory): step refuses */
	struct sq_stmt *next;
};

struct sq_db {
	struct db base;
	sqlite3 *h;
	int wal_pages; /* the writer's: pages in the log after its last commit */
	struct sq_stmt *cache[64];
	struct sq_stmt *texts; /* db_prepare_text's, most recently used first */
	int ntexts;
};

static const struct db_ops sq_ops;

/* A cached statement, reset and with its bindings cleared. */
static int reuse(struct sq_stmt *s, struct db_stmt **out)
{
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
	s->bind_failed = false;
	*out = &s->base;
	return 0;
}

/* A new statement for the cache under key, or NULL (logged). */
static struct sq_stmt *fresh(struct sq_db *db, const char *sql, const char *key)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_error("sql prepare failed", "error", sqlite3_errmsg(db->h), "sql", sql, NULL);
		return NULL;
	}
	struct sq_stmt *s = xcalloc(1, sizeof(*s));
	s->base.ops = &sq_ops;
	s->st = st;
	s->db = db;
	s->key = key;
	return s;
}

static int sq_prepare(struct db *d, const char *sql, struct db_stmt **out)
{
	struct sq_db *db = (struct sq_db *)d;
	size_t b = ((uintptr_t)sql >> 4) % ARRAY_LEN(db->cache);
	for (struct sq_stmt *s = db->cache[b]; s; s = s->next) {
		if (s->key == sql)
			return reuse(s, out);
	}
	struct sq_stmt *s = fresh(db, sql, sql);
	if (!s)
		return SG_EIO;
	s->next = db->cache[b];
	db->cache[b] = s;
	*out = &s->base;
	return 0;
}

#define TEXTS_MAX 64

static int sq_prepare_text(struct db *d, const char *sql, struct db_stmt **out)
{
	struct sq_db *db = (struct sq_db *)d;
	struct sq_stmt **pp = &db->texts, *s;
	for (; (s = *pp); pp = &s->next) {
		if (strcmp(s->key, sql) == 0) {
			*pp = s->next; /* to the front */
			s->next = db->texts;
			db->texts = s;
			return reuse(s, out);
		}
	}
	char *key = xstrdup(sql);
	s = fresh(db, sql, key);
	if (!s) {
		free(key);
		return SG_EIO;
	}
	if (db->ntexts == TEXTS_MAX) { /* forget the one used longest ago */
		for (pp = &db->texts; (*pp)->next; pp = &(*pp)->next)
			;
		sqlite3_finalize((*pp)->st);
		free((char *)(*pp)->key);
		free(*pp);
		*pp = NULL;
		db->ntexts--;
	}
	s->next = db->texts;
	db->texts = s;
	db->ntexts++;
	*out = &s->base;
	return 0;
}

#define ST(s) (((struct sq_stmt *)(s))->st)

/* A bind that fails (a copy that found no memory) would leave the parameter
 * NULL and the statement quietly match nothing: remembered, and the step
 * refuses to run (found by the allocation-failure test). */
static void bound(struct db_stmt *s, int rc)
{
	/* (SQLITE_RANGE, a parameter the statement does not use, is no failure:
	 * some callers bind one set of parameters to several statements) */
	if (rc == SQLITE_NOMEM || rc == SQLITE_TOOBIG)
		((struct sq_stmt *)s)->bind_failed = true;
}

static void sq_bind_null(struct db_stmt *s, int i) { bound(s, sqlite3_bind_null(ST(s), i)); }
static void sq_bind_int(struct db_stmt *s, int i, int64_t v) { bound(s, sqlite3_bind_int64(ST(s), i, v)); }
static void sq_bind_real(struct db_stmt *s, int i, double v) { bound(s, sqlite3_bind_double(ST(s), i, v)); }
static void sq_bind_text(struct db_stmt *s, int i, const char *v)
{
	if (v)
		bound(s, sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT));
	else
		bound(s, sqlite3_bind_null(ST(s), i));
}
static void sq_bind_blob(struct db_stmt *s, int i, const void *v, size_t n)
{
	bound(s, sqlite3_bind_blob64(ST(s), i, v, n, SQLITE_TRANSIENT));
}

static int sq_step(struct db_stmt *s)
{
	if (((struct sq_stmt *)s)->bind_failed) {
		log_error("sql step refused: a parameter could not be bound", "sql", sqlite3_sql(ST(s)), NULL);
		return SG_EIO;
	}
	int rc = sqlite3_step(ST(s));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	int ext = sqlite3_extended_errcode(((struct sq_stmt *)s)->db->h);
	sqlite3_reset(ST(s));
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return SG_EEXIST;
	if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		return SG_ECONFLICT;
	if ((ext & 0xff) == SQLITE_CONSTRAINT) {
		log_error("sql constraint failed", "error", sqlite3_errmsg(((struct sq_stmt *)s)->db->h), NULL);
		return SG_EINVAL;
	}
	log_error("sql step failed", "error", sqlite3_errmsg(((struct sq_stmt *)s)->db->h), "sql",
		  sqlite3_sql(ST(s)), NULL);
	return (ext & 0xff) == SQLITE_FULL ? SG_ENOSPC : SG_EIO;
}

static void sq_reset(struct db_stmt *s) { sqlite3_reset(ST(s)); }
static int sq_col_count(struct db_stmt *s) { return sqlite3_column_count(ST(s)); }
static const char *sq_col_name(struct db_stmt *s, int i) { return sqlite3_column_name(ST(s), i); }
static enum db_type sq_col_type(struct db_stmt *s, int i)
{
	switch (sqlite3_column_type(ST(s), i)) {
	case SQLITE_INTEGER: return DB_INT;
	case SQLITE_FLOAT: return DB_REAL;
	case SQLITE_TEXT: return DB_TEXT;
	case SQLITE_BLOB: return DB_BLOB;
	default: return DB_NULL;
	}
}
static int64_t sq_col_int(struct db_stmt *s, int i) { return sqlite3_column_int64(ST(s), i); }
static double sq_col_real(struct db_stmt *s, int i) { return sqlite3_column_double(ST(s), i); }
static const char *sq_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(ST(s), i);
}
static const void *sq_col_blob(struct db_stmt *s, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(ST(s), i);
	*n = (size_t)sqlite3_column_bytes(ST(s), i);
	return p;
}

static int sq_exec(struct db *d, const char *sql)
{
	struct sq_db *db = (struct sq_db *)d;
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("sql exec failed", "error", msg ? msg : sqlite3_errmsg(db->h), NULL);
		sqlite3_free(msg);
		return (sqlite3_extended_errcode(db->h) & 0xff) == SQLITE_FULL ? SG_ENOSPC : SG_EIO;
	}
	return 0;
}

static int64_t sq_changes(struct db *d) { return sqlite3_changes64(((struct sq_db *)d)->h); }
static const char *sq_errmsg(struct db *d) { return sqlite3_errmsg(((struct sq_db *)d)->h); }

/* The writer's WAL hook, in place of SQLite's automatic checkpoint (which
 * is a WAL hook too): it only notes the log's size; the store checkpoints
 * between batches on this same connection (store.h says why). */
static int sq_wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	(void)h;
	(void)name;
	((struct sq_db *)arg)->wal_pages = pages;
	return SQLITE_OK;
}

static int sq_checkpoint(struct db *d, int min_pages, int *copied)
{
	struct sq_db *db = (struct sq_db *)d;
	if (copied)
		*copied = 0;
	if (db->wal_pages < min_pages || db->wal_pages == 0)
		return 0;
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_error("checkpoint failed", "error", sqlite3_errmsg(db->h), NULL);
		return SG_EIO;
	}
	/* What readers still hold stays in the log; it counts towards the next. */
	db->wal_pages = log > done ? log - done : 0;
	if (copied)
		*copied = done;
	return 0;
}

static void sq_close(struct db *d)
{
	struct sq_db *db = (struct sq_db *)d;
	for (unsigned b = 0; b < ARRAY_LEN(db->cache); b++) {
		struct sq_stmt *s = db->cache[b];
		while (s) {
			struct sq_stmt *n = s->next;
			sqlite3_finalize(s->st);
			free(s);
			s = n;
		}
	}
	for (struct sq_stmt *s = db->texts, *n; s; s = n) {
		n = s->next;
		sqlite3_finalize(s->st);
		free((char *)s->key);
		free(s);
	}
	sqlite3_close(db->h);
	free(db);
}

static const struct db_ops sq_ops = {
	.prepare = sq_prepare, .prepare_text = sq_prepare_text, .bind_null = sq_bind_null, .bind_int = sq_bind_int,
	.bind_real = sq_bind_real, .bind_text = sq_bind_text, .bind_blob = sq_bind_blob,
	.step = sq_step, .reset = sq_reset, .col_count = sq_col_count, .col_name = sq_col_name,
	.col_type = sq_col_type, .col_int = sq_col_int, .col_real = sq_col_real,
	.col_text = sq_col_text, .col_blob = sq_col_blob, .exec = sq_exec, .changes = sq_changes,
	.errmsg = sq_errmsg, .checkpoint = sq_checkpoint, .close = sq_close,
};

int db_sqlite_open(const char *path, bool writer, struct db **out, char *err, size_t errsz)
{
	sqlite3 *h = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	/* The writer's WAL writes go out in one pwrite per commit (walbuf.h,
	 * which relies on the synchronous=FULL set below: a sync per commit). */
	const char *vfs = writer && walbuf_register() == SQLITE_OK ? WALBUF_VFS : NULL;
	if (sqlite3_open_v2(path, &h, flags, vfs) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, h ? sqlite3_errmsg(h) : "cannot open");
		sqlite3_close(h);
		return SG_EIO;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, 10000);
	struct sq_db *db = xcalloc(1, sizeof(*db));
	db->base.ops = &sq_ops;
	db->h = h;
	const char *pragmas = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				       "PRAGMA foreign_keys=ON; PRAGMA cache_size=-131072;"
				     /* a reader's cache grows as it is used, up to 16 MB: the
				      * recipient search of a large alert reads every person */
				     : "PRAGMA foreign_keys=ON; PRAGMA query_only=ON; PRAGMA cache_size=-16384;";
	char *msg = NULL;
	if (sqlite3_exec(h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, msg ? msg : sqlite3_errmsg(h));
		sqlite3_free(msg);
		sq_close(&db->base);
		return SG_EIO;
	}
	if (writer) {
		/* No automatic checkpoint: the store runs them on this connection
		 * between batches (db_checkpoint). */
		sqlite3_wal_hook(h, sq_wal_hook, db);
	} else {
		/* A reader never checkpoints, not even as the last connection to
		 * close: only the writer's connection writes to the database file
		 * or resets the log (the WAL-reset race needs two). */
		sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	}
	*out = &db->base;
	return 0;
}

const char *db_sqlite_version(void)
{
	return sqlite3_libversion();
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.migrations = sg_migrations_sqlite,
	.open = db_sqlite_open,
	.begin_write = "BEGIN IMMEDIATE",
	.version = db_sqlite_version,
};
