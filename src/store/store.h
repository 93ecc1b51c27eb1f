/* The store: one database, one writer thread with group commit, a pool of
 * reader connections.
 *
 * Invariants:
 *  - Every write runs as a store_write_fn inside the writer's transaction, in
 *    its own savepoint: a failing write is rolled back alone, the others in
 *    the batch still commit.
 *  - store_write() returns only after the commit holding the write reached
 *    disk (WAL + fsync). A 2xx built on its success is durable.
 *  - A failed commit fails every write of the batch and marks the store
 *    broken: no further write is attempted (never retry an fsync), /readyz
 *    reports it, and an operator restarts the process, which recovers from WAL.
 *  - Readers never wait for the writer (WAL snapshots). */
#ifndef SG_STORE_H
#define SG_STORE_H

#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

struct store;

/* Runs inside the write transaction. Returns 0 or a negative SG_E* code,
 * which rolls back this write only. */
typedef int (*store_write_fn)(struct db *db, void *arg);
/* Called once per batch after the writes and before COMMIT, when at least one
 * write succeeded (the audit checkpoint hangs here). */
typedef int (*store_commit_hook)(struct db *db, void *ctx);

struct store_opts {
	const char *data_dir;
	int max_batch;
	store_commit_hook before_commit;
	void *hook_ctx;
};

struct store_stats {
	uint64_t commits;     /* successful commits */
	uint64_t writes;      /* writes that committed */
	uint64_t failed;      /* writes rolled back */
	uint64_t max_batch;   /* largest batch seen */
};

/* Opens (creating if needed) DATA_DIR/safeguard.db, applies migrations and
 * starts the writer thread. 0, or SG_EIO/SG_EINVAL with a message in err. */
int store_open(const struct store_opts *opts, struct store **out, char *err, size_t errsz);
/* Finishes queued writes, stops the writer and closes every connection. */
void store_close(struct store *st);

/* Queues fn and waits until its batch committed. Returns fn's code, or SG_EIO
 * when the commit failed or the store is broken. */
int store_write(struct store *st, store_write_fn fn, void *arg);

/* Called on the writer thread once the batch holding the write committed
 * (rc as store_write() returns it). It must be quick and must not write. */
typedef void (*store_done_fn)(void *arg, int rc);
/* Queues fn without waiting: done(arg, rc) follows the commit. 0, or
 * SG_EIO / SG_EBUSY when the store refuses writes (done is not called). */
int store_write_async(struct store *st, store_write_fn fn, void *arg, store_done_fn done);

/* A read connection for the calling thread until store_reader_put(); NULL
 * when none can be opened (the caller answers 503). */
struct db *store_reader(struct store *st);
void store_reader_put(struct store *st, struct db *db);

bool store_healthy(struct store *st);
int store_schema_version(struct store *st);
void store_get_stats(struct store *st, struct store_stats *out);
/* Absolute path of the database file (valid while the store is open). */
const char *store_path(struct store *st);

/* Highest migration this binary knows. */
int store_latest_version(void);

#endif
