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
 *    One exception: a commit refused for want of space (SQLITE_FULL: the
 *    log's frames got no commit record, nothing was synced) fails its batch
 *    with SG_ENOSPC and the next batch tries again, so freeing space brings
 *    the store back by itself.
 *  - Readers never wait for the writer (WAL snapshots).
 *  - One connection, the writer's, writes the database and checkpoints its
 *    log, one thing after the other on the writer thread (between batches).
 *    Readers are query_only and never checkpoint, not even at close. SQLite
 *    3.7.0 to 3.51.2 (Debian 12 ships 3.40.1) can lose committed
 *    transactions or corrupt the file when one connection's checkpoint
 *    completes, a second checkpoint starts, and meanwhile another connection
 *    commits a transaction that resets the log (SQLite's WAL documentation,
 *    "WAL-reset bug", fixed in 3.51.3). With a single connection doing both,
 *    that interleaving cannot happen, whatever the library's version. The
 *    version in use is logged at start.
 *  - One process at a time holds the store for writing: store_open takes an
 *    exclusive lock on DATA_DIR/safeguard.lock, so a second writer (a CLI
 *    command beside a running server) is refused instead of becoming a
 *    second connection that commits and checkpoints. */
#ifndef SG_STORE_H
#define SG_STORE_H

#include "store/db.h"

#include <jansson.h>

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
	const char *backend;  /* store.backend (store/backend.h); NULL: sqlite */
	const char *data_dir;
	int max_batch;
	int checkpoint_pages; /* checkpoint once the log holds this many pages; default 1000 */
	/* Readers only: no writer connection, no lock, no migration (the
	 * schema must be current); store_write refuses. For exports and checks
	 * beside a running server. */
	bool read_only;
	int max_readers;     /* reader connections open at once; default 64 */
	int reader_wait_ms;  /* how long store_reader waits for one; default 2000 */
	int reader_idle_ms;  /* an idle one beyond 8 is closed after this; default 10000 */
	store_commit_hook before_commit;
	void *hook_ctx;
	/* Called on the writer thread after every successful COMMIT (before the
	 * writers are told): quick, no writes. The event path wakes here. */
	void (*after_commit)(void *ctx);
	void *after_ctx;
};

struct store_stats {
	uint64_t commits;     /* successful commits */
	uint64_t writes;      /* writes that committed */
	uint64_t failed;      /* writes rolled back */
	uint64_t max_batch;   /* largest batch seen */
	uint64_t checkpoints; /* checkpoints that copied pages */
	uint64_t readers_open; /* reader connections open now (in use or idle) */
	uint64_t readers_refused; /* store_reader calls that found none in time */
};

/* Opens (creating if needed) DATA_DIR/safeguard.db, applies migrations and
 * starts the writer thread. 0, or SG_EIO/SG_EINVAL, or SG_EBUSY when another
 * process holds the store for writing, with a message in err. */
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
 * when none can be opened, or all max_readers are in use for reader_wait_ms
 * (the caller answers 503). Bounded: a burst of requests or stream readers
 * cannot open connections (descriptors, page caches) without end, and what a
 * burst opened beyond a few idle ones is closed once idle for reader_idle_ms. */
struct db *store_reader(struct store *st);
void store_reader_put(struct store *st, struct db *db);
/* One read transaction over many queries on a reader (one snapshot, the
 * locks taken once instead of per statement); 0 when it began. */
int store_read_begin(struct db *db);
/* The first column of a query with one text parameter, as a JSON array of
 * strings (SQL from constants only). 0 or SG_EIO. */
int store_strings(struct db *db, const char *sql, const char *arg, json_t **out);
void store_read_end(struct db *db);

/* Holds one snapshot of the database on db from begin to end: a long read
 * (an export, audit verify) sees one consistent state while a server writes. */
void store_snapshot_begin(struct db *db);
void store_snapshot_end(struct db *db);
/* The engine behind the store, for `safeguard version` ("sqlite 3.40.1"). */
const char *store_engine(void);

/* Whether db answers a trivial query (readiness). */
bool store_readable(struct db *db);

/* false after a failed commit (broken: restart) or while the disk is full
 * (store_full: the next commit that succeeds clears it). */
bool store_healthy(struct store *st);
bool store_full(struct store *st);
int store_schema_version(struct store *st);
void store_get_stats(struct store *st, struct store_stats *out);
/* Absolute path of the database file (valid while the store is open). */
const char *store_path(struct store *st);

/* Highest migration this binary knows. */
int store_latest_version(void);

#endif
