/* The store's backends: what differs between SQLite and PostgreSQL below the
 * neutral connection of db.h. store.c speaks only this; a backend is one
 * file that fills a struct store_backend, plus its migrations under
 * store/migrations/<name>/ (embedded at build time, applied in order).
 * Chosen by store.backend in the configuration. */
#ifndef SG_STORE_BACKEND_H
#define SG_STORE_BACKEND_H

#include "core/embed.h"
#include "store/db.h"

struct store_backend {
	const char *name;                       /* store.backend: "sqlite" */
	const struct embedded_file *migrations; /* numbered files, in order, NULL-terminated */
	/* A connection to the store at where (SQLite: the database file in the
	 * data directory). writer: the one connection that writes; readers
	 * see committed data only. 0 or SG_EIO with a message in err. */
	int (*open)(const char *where, bool writer, struct db **out, char *err, size_t errsz);
	/* Begins the writer's transaction, taking the write lock at once
	 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN, with the writer's
	 * advisory lock held for the connection's life). */
	const char *begin_write;
	/* The engine's version as loaded at run time. */
	const char *(*version)(void);
};

extern const struct store_backend store_backend_sqlite;

/* The backend named name, or NULL; known names listed in known (may be NULL). */
const struct store_backend *store_backend_find(const char *name, char *known, size_t knownsz);

#endif
