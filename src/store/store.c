/* Group-committing writer thread and reader pool over db.h; see store.h. */
#include "store/store.h"

#include "core/clock.h"
#include "core/embed.h"
#include "store/backend.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct wjob {
	store_write_fn fn;
	void *arg;
	store_done_fn done_fn; /* asynchronous: called after the commit, job freed */
	int rc;
	bool done;
	pthread_cond_t cv; /* its own: a commit wakes exactly the writers it holds */
	struct wjob *next;
};

#define READER_POOL_MAX 256 /* the most max_readers may be */
#define READERS_IDLE 8      /* idle connections kept however long they wait */
#define IDLE_CHECKPOINT_PAGES 1
#define IDLE_MS 50

struct store {
	struct store_opts opts;
	char *path;
	struct db *writer;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* writer waits for jobs */
	struct wjob *head, *tail;
	bool stopping;
	bool broken;
	bool full; /* the last commit found the disk full; cleared by the next that succeeds */
	int version;
	struct store_stats stats;
	struct db *readers[READER_POOL_MAX]; /* idle, the most recently used last */
	int64_t idle_since_us[READER_POOL_MAX];
	int nreaders;
	int open_readers;        /* idle + in use */
	pthread_cond_t reader_cv; /* a reader was put back */
	int lock_fd; /* DATA_DIR/safeguard.lock, held while open for writing */
	const struct store_backend *be;
};

static const struct store_backend *const backends[] = {&store_backend_sqlite};

const struct store_backend *store_backend_find(const char *name, char *known, size_t knownsz)
{
	if (known && knownsz)
		known[0] = '\0';
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (known)
			snprintf(known + strlen(known), knownsz - strlen(known), "%s%s", i ? ", " : "",
				 backends[i]->name);
		if (name && str_eq(name, backends[i]->name))
			return backends[i];
	}
	return NULL;
}

static int latest_of(const struct store_backend *be)
{
	int n = 0;
	for (const struct embedded_file *f = be->migrations; f->name; f++)
		n++;
	return n;
}

int store_latest_version(void)
{
	return latest_of(&store_backend_sqlite);
}

static int schema_version(struct db *db, int *out)
{
	struct db_stmt *st;
	if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") ||
	    db_prepare(db, "SELECT max(version) FROM schema_version", &st))
		return SG_EIO;
	int rc = db_step(st);
	*out = rc == DB_ROW ? (int)db_col_int(st, 0) : 0;
	db_reset(st);
	return rc < 0 ? rc : 0;
}

static int migrate(const struct store_backend *be, struct db *db, int *version, char *err, size_t errsz)
{
	int have;
	if (schema_version(db, &have)) {
		snprintf(err, errsz, "cannot read the schema version: %s", db_errmsg(db));
		return SG_EIO;
	}
	int latest = latest_of(be);
	if (have > latest) {
		snprintf(err, errsz,
			 "the database has schema version %d but this binary knows only up to %d; "
			 "run a newer safeguard",
			 have, latest);
		return SG_EINVAL;
	}
	/* Migrations are numbered files, applied in order, each in its own transaction. */
	for (int v = have + 1; v <= latest; v++) {
		const struct embedded_file *f = &be->migrations[v - 1];
		struct db_stmt *st;
		if (db_exec(db, be->begin_write) || db_exec(db, f->data) ||
		    db_prepare(db, "INSERT INTO schema_version (version) VALUES (?)", &st)) {
			snprintf(err, errsz, "migration %s failed: %s", f->name, db_errmsg(db));
			db_exec(db, "ROLLBACK");
			return SG_EIO;
		}
		db_bind_int(st, 1, v);
		if (db_run(st) || db_exec(db, "COMMIT")) {
			snprintf(err, errsz, "migration %s failed: %s", f->name, db_errmsg(db));
			db_exec(db, "ROLLBACK");
			return SG_EIO;
		}
		log_info("migration applied", "name", f->name, NULL);
	}
	*version = latest;
	return 0;
}

static void run_batch(struct store *st, struct wjob *batch)
{
	struct db *db = st->writer;
	int ok = 0, n = 0;
	int began_rc = db_exec(db, st->be->begin_write);
	bool began = began_rc == 0;
	for (struct wjob *j = batch; j; j = j->next) {
		n++;
		if (!began) {
			j->rc = SG_EIO;
			continue;
		}
		struct db_stmt *sp;
		if (db_prepare(db, "SAVEPOINT w", &sp) || db_run(sp)) {
			j->rc = SG_EIO;
			continue;
		}
		j->rc = j->fn(db, j->arg);
		if (j->rc < 0)
			db_exec(db, "ROLLBACK TO w");
		else
			ok++;
		if (db_prepare(db, "RELEASE w", &sp) == 0)
			db_run(sp);
	}
	int commit_rc = 0;
	if (began && ok && st->opts.before_commit)
		commit_rc = st->opts.before_commit(db, st->opts.hook_ctx);
	if (began && commit_rc == 0)
		commit_rc = db_exec(db, "COMMIT");
	if (!began || commit_rc) {
		/* No space (SG_ENOSPC): the log's new frames never got a valid
		 * commit record, nothing was synced, and the database is as it was:
		 * fail the batch (503) and try again with the next one, so freeing
		 * space brings the store back without a restart. Anything else (an
		 * I/O error, a failed sync): the commit's outcome on disk is unknown;
		 * fail the batch and stop writing for good (never retry a sync); a
		 * restart recovers from the WAL. */
		bool full = (!began && began_rc == SG_ENOSPC) || commit_rc == SG_ENOSPC;
		if (began)
			db_exec(db, "ROLLBACK");
		for (struct wjob *j = batch; j; j = j->next)
			if (j->rc >= 0)
				j->rc = full ? SG_ENOSPC : SG_EIO;
		pthread_mutex_lock(&st->mu);
		if (full && !st->full)
			log_error("the store's disk is full: writes refused until space is freed", NULL);
		else if (!full)
			log_error("commit failed; store marked broken, writes refused until restart", "error",
				  db_errmsg(db), NULL);
		st->full |= full;
		st->broken |= !full;
		pthread_mutex_unlock(&st->mu);
		ok = 0;
	} else if (ok) {
		if (st->opts.after_commit)
			st->opts.after_commit(st->opts.after_ctx);
		pthread_mutex_lock(&st->mu);
		if (st->full)
			log_info("the store's disk has space again: writes accepted", NULL);
		st->full = false;
		pthread_mutex_unlock(&st->mu);
	}
	pthread_mutex_lock(&st->mu);
	st->stats.commits += ok ? 1 : 0;
	st->stats.writes += (uint64_t)ok;
	st->stats.failed += (uint64_t)(n - ok);
	if ((uint64_t)n > st->stats.max_batch)
		st->stats.max_batch = (uint64_t)n;
	struct wjob *async = NULL;
	for (struct wjob *j = batch, *next; j; j = next) {
		next = j->next; /* j lives on its waiter's stack: read next first */
		if (j->done_fn) {
			j->next = async;
			async = j;
			continue;
		}
		j->done = true;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&st->mu);
	for (struct wjob *j = async, *next; j; j = next) {
		next = j->next;
		j->done_fn(j->arg, j->rc);
		free(j);
	}
}

/* Between batches, on the writer's own connection (store.h says why no other
 * connection may): copies the log into the database file once it holds
 * min_pages pages. Writes that arrive meanwhile queue up and share the next
 * commit. Called with st->mu held; returns with it held. */
static void checkpoint(struct store *st, int min_pages)
{
	if (st->broken)
		return;
	pthread_mutex_unlock(&st->mu);
	int copied = 0;
	int rc = db_checkpoint(st->writer, min_pages, &copied);
	pthread_mutex_lock(&st->mu);
	if (rc == 0 && copied) /* on failure (logged) the log grows until the next one */
		st->stats.checkpoints++;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		/* Quiet for IDLE_MS: a good moment to empty the log. */
		while (!st->head && !st->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += IDLE_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L)
				ts.tv_sec++, ts.tv_nsec -= 1000000000L;
			if (pthread_cond_timedwait(&st->work_cv, &st->mu, &ts) == ETIMEDOUT && !st->head)
				checkpoint(st, IDLE_CHECKPOINT_PAGES);
		}
		if (!st->head && st->stopping)
			break;
		/* Take up to max_batch queued writes: everyone who arrived while the
		 * previous commit was syncing shares this one. */
		struct wjob *batch = st->head, *last = batch;
		int n = 1;
		while (last->next && n < st->opts.max_batch) {
			last = last->next;
			n++;
		}
		st->head = last->next;
		if (!st->head)
			st->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&st->mu);
		run_batch(st, batch);
		pthread_mutex_lock(&st->mu);
		checkpoint(st, st->opts.checkpoint_pages);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* Queues a write for the writer: 0 with st->mu held, or SG_EIO (broken) /
 * SG_EBUSY (stopping) without. */
static int enqueue(struct store *st, struct wjob *job)
{
	if (st->opts.read_only)
		BUG("a write on a read-only store");
	pthread_mutex_lock(&st->mu);
	if (st->broken || st->stopping) {
		int rc = st->broken ? SG_EIO : SG_EBUSY;
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	if (st->tail)
		st->tail->next = job;
	else
		st->head = job;
	st->tail = job;
	pthread_cond_signal(&st->work_cv);
	return 0;
}

int store_write(struct store *st, store_write_fn fn, void *arg)
{
	struct wjob job = {.fn = fn, .arg = arg};
	pthread_cond_init(&job.cv, NULL);
	int rc = enqueue(st, &job);
	if (rc) {
		pthread_cond_destroy(&job.cv);
		return rc;
	}
	while (!job.done)
		pthread_cond_wait(&job.cv, &st->mu);
	pthread_mutex_unlock(&st->mu);
	pthread_cond_destroy(&job.cv);
	return job.rc;
}

int store_write_async(struct store *st, store_write_fn fn, void *arg, store_done_fn done)
{
	struct wjob *job = xcalloc(1, sizeof(*job));
	job->fn = fn;
	job->arg = arg;
	job->done_fn = done;
	int rc = enqueue(st, job);
	if (rc) {
		free(job);
		return rc;
	}
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) && errno != EEXIST) {
				free(p);
				return -1;
			}
			*s = '/';
		}
	}
	int rc = mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static int open_writer(struct store *st, char *err, size_t errsz)
{
	char *lock = xasprintf("%s/safeguard.lock", st->opts.data_dir);
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc = 0;
	if (st->lock_fd < 0) {
		snprintf(err, errsz, "cannot open %s: %s", lock, strerror(errno));
		rc = SG_EIO;
	} else if (flock(st->lock_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errsz,
			 "%s is in use by another safeguard process (a running server?): stop it first, "
			 "or make the change through the API",
			 st->opts.data_dir);
		rc = errno == EWOULDBLOCK ? SG_EBUSY : SG_EIO;
	}
	free(lock);
	if (!rc)
		rc = st->be->open(st->path, true, &st->writer, err, errsz);
	if (!rc)
		rc = migrate(st->be, st->writer, &st->version, err, errsz);
	return rc;
}

static int open_read_only(struct store *st, char *err, size_t errsz)
{
	struct db *db;
	int rc = st->be->open(st->path, false, &db, err, errsz);
	if (rc)
		return rc;
	struct db_stmt *q;
	rc = db_prepare(db, "SELECT max(version) FROM schema_version", &q);
	if (!rc) {
		rc = db_step(q) == DB_ROW ? 0 : SG_EIO;
		st->version = rc ? 0 : (int)db_col_int(q, 0);
		db_reset(q);
	}
	if (rc || st->version != store_latest_version()) {
		snprintf(err, errsz, "%s: schema version %d, this binary needs %d (start the server once to migrate)",
			 st->path, st->version, store_latest_version());
		rc = rc ? SG_EIO : SG_EINVAL;
	}
	if (rc) {
		db_close(db);
		return rc;
	}
	st->readers[st->nreaders++] = db;
	st->open_readers = 1;
	return 0;
}

int store_open(const struct store_opts *opts, struct store **out, char *err, size_t errsz)
{
	char known[64];
	const struct store_backend *be = store_backend_find(opts->backend ? opts->backend : "sqlite", known, sizeof(known));
	if (!be) {
		snprintf(err, errsz, "store.backend '%s' is not available in this build (%s %s)", opts->backend,
			 strchr(known, ',') ? "these are:" : "this one is:", known);
		return SG_EINVAL;
	}
	if (mkdir_p(opts->data_dir)) {
		snprintf(err, errsz, "cannot create data directory %s: %s", opts->data_dir,
			 strerror(errno));
		return SG_EIO;
	}
	struct store *st = xcalloc(1, sizeof(*st));
	st->opts = *opts;
	st->lock_fd = -1;
	st->be = be;
	if (st->opts.max_batch < 1)
		st->opts.max_batch = 512;
	if (st->opts.checkpoint_pages < 1)
		st->opts.checkpoint_pages = 1000;
	if (st->opts.max_readers < 1 || st->opts.max_readers > READER_POOL_MAX)
		st->opts.max_readers = st->opts.max_readers > READER_POOL_MAX ? READER_POOL_MAX : 64;
	if (st->opts.reader_wait_ms < 1)
		st->opts.reader_wait_ms = 2000;
	if (st->opts.reader_idle_ms < 1)
		st->opts.reader_idle_ms = 10000;
	log_info("store opening", "path", opts->data_dir, "backend", be->name, "version", be->version(), NULL);
	st->path = xasprintf("%s/safeguard.db", opts->data_dir);
	int rc = opts->read_only ? open_read_only(st, err, errsz) : open_writer(st, err, errsz);
	if (rc) {
		db_close(st->writer);
		if (st->lock_fd >= 0)
			close(st->lock_fd);
		free(st->path);
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->work_cv, NULL);
	pthread_cond_init(&st->reader_cv, NULL);
	if (opts->read_only) {
		*out = st;
		return 0;
	}
	if (pthread_create(&st->thread, NULL, writer_main, st))
		BUG("cannot start the writer thread");
	pthread_setname_np(st->thread, "sg-writer"); /* names for top -H and perf */
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = true;
	pthread_cond_signal(&st->work_cv);
	pthread_mutex_unlock(&st->mu);
	if (!st->opts.read_only)
		pthread_join(st->thread, NULL);
	for (int i = 0; i < st->nreaders; i++)
		db_close(st->readers[i]);
	db_close(st->writer);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* after the writer's last checkpoint at close */
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->work_cv);
	pthread_cond_destroy(&st->reader_cv);
	free(st->path);
	free(st);
}

struct db *store_reader(struct store *st)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += st->opts.reader_wait_ms / 1000;
	until.tv_nsec += (long)(st->opts.reader_wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&st->mu);
	while (st->nreaders == 0 && st->open_readers >= st->opts.max_readers) {
		if (pthread_cond_timedwait(&st->reader_cv, &st->mu, &until) == ETIMEDOUT &&
		    st->nreaders == 0 && st->open_readers >= st->opts.max_readers) {
			st->stats.readers_refused++;
			pthread_mutex_unlock(&st->mu);
			log_warn("every reader connection is in use (store.max_readers): answering 503", NULL);
			return NULL;
		}
	}
	if (st->nreaders > 0) {
		struct db *db = st->readers[--st->nreaders];
		pthread_mutex_unlock(&st->mu);
		return db;
	}
	st->open_readers++;
	pthread_mutex_unlock(&st->mu);
	struct db *db;
	char err[512];
	if (st->be->open(st->path, false, &db, err, sizeof(err))) {
		log_error("cannot open a reader connection", "error", err, NULL);
		pthread_mutex_lock(&st->mu);
		st->open_readers--;
		pthread_cond_signal(&st->reader_cv);
		pthread_mutex_unlock(&st->mu);
		return NULL;
	}
	return db;
}

void store_reader_put(struct store *st, struct db *db)
{
	if (!db)
		return;
	int64_t now = clock_mono_us();
	struct db *stale = NULL;
	pthread_mutex_lock(&st->mu);
	/* Back on top of the idle stack: steady traffic keeps reusing the top
	 * connections (opening one per request would cost more than the
	 * request), and the bottom ones, idle for reader_idle_ms, are given
	 * back one per put, down to READERS_IDLE: what a burst opened does not
	 * stay. */
	st->readers[st->nreaders] = db;
	st->idle_since_us[st->nreaders++] = now;
	if (st->nreaders > READERS_IDLE &&
	    now - st->idle_since_us[0] > (int64_t)st->opts.reader_idle_ms * 1000) {
		stale = st->readers[0];
		st->nreaders--;
		memmove(st->readers, st->readers + 1, (size_t)st->nreaders * sizeof(st->readers[0]));
		memmove(st->idle_since_us, st->idle_since_us + 1, (size_t)st->nreaders * sizeof(st->idle_since_us[0]));
		st->open_readers--;
	}
	pthread_cond_signal(&st->reader_cv);
	pthread_mutex_unlock(&st->mu);
	db_close(stale);
}

bool store_healthy(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	bool ok = !st->broken && !st->full;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

bool store_full(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	bool full = st->full;
	pthread_mutex_unlock(&st->mu);
	return full;
}

int store_schema_version(struct store *st)
{
	return st->version;
}

void store_get_stats(struct store *st, struct store_stats *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->stats;
	out->readers_open = (uint64_t)st->open_readers;
	pthread_mutex_unlock(&st->mu);
}

const char *store_path(struct store *st)
{
	return st->path;
}

bool store_readable(struct db *db)
{
	struct db_stmt *st;
	bool ok = db && db_prepare(db, "SELECT 1", &st) == 0 && db_step(st) == DB_ROW;
	if (ok)
		db_reset(st);
	return ok;
}

void store_snapshot_begin(struct db *db)
{
	db_exec(db, "BEGIN");
}

void store_snapshot_end(struct db *db)
{
	db_exec(db, "COMMIT");
}

const char *store_engine(void)
{
	static char name[96];
	name[0] = '\0';
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		snprintf(name + strlen(name), sizeof(name) - strlen(name), "%s%s %s", i ? ", " : "", backends[i]->name,
			 backends[i]->version());
	return name;
}

int store_read_begin(struct db *db)
{
	return db_exec(db, "BEGIN");
}

void store_read_end(struct db *db)
{
	db_exec(db, "COMMIT");
}

int store_strings(struct db *db, const char *sql, const char *arg, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, arg);
	json_t *a = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, json_string(db_col_text(st, 0)));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(a);
		return SG_EIO;
	}
	*out = a;
	return 0;
}
