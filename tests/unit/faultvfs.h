/* A VFS for fault injection, registered as the default over SQLite's own
 * (the store's WAL-gathering VFS wraps it), and an allocator that fails on
 * request; the way SQLite tests itself:
 *  - the Nth write, sync or read of a database, journal or WAL file fails
 *    with a chosen SQLite error (an I/O error, a full disk);
 *  - power loss: writes stay in memory until the file is synced; a crash
 *    drops what was not synced and fails everything after it, as a machine
 *    that lost power would;
 *  - the Nth SQLite allocation fails (SQLITE_NOMEM). */
#ifndef SG_FAULTVFS_H
#define SG_FAULTVFS_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum fault_op { FAULT_NONE, FAULT_WRITE, FAULT_SYNC, FAULT_READ, FAULT_MALLOC };

struct fault_pending {
	sqlite3_int64 off;
	int n;
	char *data;
};

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
	bool tracked; /* a database, journal or WAL file */
	struct fault_pending *pend;
	int npend, cap;
	struct fault_file *next; /* every open tracked file (for a crash) */
};

static struct {
	pthread_mutex_t mu;
	sqlite3_vfs *parent;
	sqlite3_vfs vfs;
	sqlite3_io_methods methods;
	enum fault_op op;   /* which operation fails */
	long at;            /* ... the at-th one from arming (1-based) */
	int rc;             /* with this error */
	long count[5];      /* operations seen since arming */
	_Atomic bool fired;
	_Atomic bool count_mallocs; /* allocations are counted (and may fail) only when asked */
	_Atomic bool buffered; /* power-loss mode: writes held until synced */
	_Atomic bool crashed;  /* power lost: everything fails */
	long crash_at_sync; /* > 0: lose power at that sync (counted by count[FAULT_SYNC]) */
	struct fault_file *files;
	sqlite3_mem_methods mem;  /* SQLite's own allocator */
} fault = {.mu = PTHREAD_MUTEX_INITIALIZER};

#define FREAL(p) (((struct fault_file *)(p))->real)

/* Counts an operation; true when it must fail (rc in *rc). */
static bool fault_hit(enum fault_op op, int *rc)
{
	pthread_mutex_lock(&fault.mu);
	bool fail = false;
	if (fault.crashed) {
		*rc = SQLITE_IOERR;
		fail = true;
	} else {
		long n = ++fault.count[op];
		if (fault.op == op && n == fault.at) {
			fault.fired = true;
			*rc = fault.rc;
			fail = true;
		}
	}
	pthread_mutex_unlock(&fault.mu);
	return fail;
}

static int fault_apply(struct fault_file *f)
{
	for (int i = 0; i < f->npend; i++) {
		int rc = f->real->pMethods->xWrite(f->real, f->pend[i].data, f->pend[i].n, f->pend[i].off);
		if (rc != SQLITE_OK)
			return rc;
	}
	for (int i = 0; i < f->npend; i++)
		free(f->pend[i].data);
	f->npend = 0;
	return SQLITE_OK;
}

static void fault_drop(struct fault_file *f)
{
	for (int i = 0; i < f->npend; i++)
		free(f->pend[i].data);
	f->npend = 0;
}

static int fault_close(sqlite3_file *p)
{
	struct fault_file *f = (struct fault_file *)p;
	pthread_mutex_lock(&fault.mu);
	if (f->tracked) {
		for (struct fault_file **q = &fault.files; *q; q = &(*q)->next)
			if (*q == f) {
				*q = f->next;
				break;
			}
	}
	fault_drop(f); /* unsynced at close: a real close would not sync either */
	pthread_mutex_unlock(&fault.mu);
	free(f->pend);
	return f->real->pMethods->xClose(f->real);
}

static int fault_read(sqlite3_file *p, void *buf, int n, sqlite3_int64 off)
{
	struct fault_file *f = (struct fault_file *)p;
	int rc;
	if (f->tracked && fault_hit(FAULT_READ, &rc))
		return rc;
	rc = f->real->pMethods->xRead(f->real, buf, n, off);
	pthread_mutex_lock(&fault.mu);
	bool covered_tail = false;
	for (int i = 0; i < f->npend; i++) { /* what is written but not synced reads back */
		struct fault_pending *w = &f->pend[i];
		sqlite3_int64 a = w->off > off ? w->off : off;
		sqlite3_int64 b = w->off + w->n < off + n ? w->off + w->n : off + n;
		if (a < b) {
			memcpy((char *)buf + (a - off), w->data + (a - w->off), (size_t)(b - a));
			if (b == off + n)
				covered_tail = true;
		}
	}
	pthread_mutex_unlock(&fault.mu);
	if (rc == SQLITE_IOERR_SHORT_READ && covered_tail)
		rc = SQLITE_OK;
	return rc;
}

static int fault_write(sqlite3_file *p, const void *buf, int n, sqlite3_int64 off)
{
	struct fault_file *f = (struct fault_file *)p;
	int rc;
	if (f->tracked && fault_hit(FAULT_WRITE, &rc))
		return rc;
	if (!f->tracked || !fault.buffered)
		return f->real->pMethods->xWrite(f->real, buf, n, off);
	pthread_mutex_lock(&fault.mu);
	if (f->npend == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->pend = realloc(f->pend, (size_t)f->cap * sizeof(*f->pend));
	}
	struct fault_pending *w = &f->pend[f->npend++];
	w->off = off;
	w->n = n;
	w->data = malloc((size_t)n);
	memcpy(w->data, buf, (size_t)n);
	pthread_mutex_unlock(&fault.mu);
	return SQLITE_OK;
}

static int fault_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	struct fault_file *f = (struct fault_file *)p;
	if (fault.crashed)
		return SQLITE_IOERR;
	pthread_mutex_lock(&fault.mu);
	int rc = fault_apply(f);
	pthread_mutex_unlock(&fault.mu);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int fault_sync(sqlite3_file *p, int flags)
{
	struct fault_file *f = (struct fault_file *)p;
	int rc;
	if (f->tracked && fault_hit(FAULT_SYNC, &rc))
		return rc;
	pthread_mutex_lock(&fault.mu);
	if (f->tracked && fault.crash_at_sync > 0 && fault.count[FAULT_SYNC] >= fault.crash_at_sync) {
		/* Power lost during this sync: nothing unsynced reaches the disk. */
		for (struct fault_file *g = fault.files; g; g = g->next)
			fault_drop(g);
		fault.crashed = true;
		pthread_mutex_unlock(&fault.mu);
		return SQLITE_IOERR_FSYNC;
	}
	rc = fault_apply(f);
	pthread_mutex_unlock(&fault.mu);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int fault_size(sqlite3_file *p, sqlite3_int64 *out)
{
	struct fault_file *f = (struct fault_file *)p;
	int rc = f->real->pMethods->xFileSize(f->real, out);
	pthread_mutex_lock(&fault.mu);
	for (int i = 0; i < f->npend; i++)
		if (f->pend[i].off + f->pend[i].n > *out)
			*out = f->pend[i].off + f->pend[i].n;
	pthread_mutex_unlock(&fault.mu);
	return rc;
}

#define FAULT_FWD(name, ret, params, args)                                   \
	static ret fault_##name params                                       \
	{                                                                    \
		return FREAL(p)->pMethods->name args;                        \
	}
FAULT_FWD(xLock, int, (sqlite3_file * p, int l), (FREAL(p), l))
FAULT_FWD(xUnlock, int, (sqlite3_file * p, int l), (FREAL(p), l))
FAULT_FWD(xCheckReservedLock, int, (sqlite3_file * p, int *o), (FREAL(p), o))
FAULT_FWD(xFileControl, int, (sqlite3_file * p, int op, void *a), (FREAL(p), op, a))
FAULT_FWD(xSectorSize, int, (sqlite3_file * p), (FREAL(p)))
FAULT_FWD(xShmMap, int, (sqlite3_file * p, int i, int sz, int ext, void volatile **out), (FREAL(p), i, sz, ext, out))
FAULT_FWD(xShmLock, int, (sqlite3_file * p, int o, int n, int fl), (FREAL(p), o, n, fl))
FAULT_FWD(xShmUnmap, int, (sqlite3_file * p, int del), (FREAL(p), del))

/* No memory mapping (reads go through xRead) and no atomic-write claims. */
static int fault_xDeviceCharacteristics(sqlite3_file *p)
{
	return FREAL(p)->pMethods->xDeviceCharacteristics(FREAL(p)) & ~SQLITE_IOCAP_ATOMIC;
}

static int fault_xFetch(sqlite3_file *p, sqlite3_int64 o, int n, void **out)
{
	(void)p;
	(void)o;
	(void)n;
	*out = NULL;
	return SQLITE_OK;
}

static int fault_xUnfetch(sqlite3_file *p, sqlite3_int64 o, void *a)
{
	(void)p;
	(void)o;
	(void)a;
	return SQLITE_OK;
}

static void fault_xShmBarrier(sqlite3_file *p)
{
	FREAL(p)->pMethods->xShmBarrier(FREAL(p));
}

static int fault_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *p, int flags, int *oflags)
{
	(void)v;
	struct fault_file *f = (struct fault_file *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = fault.parent->xOpen(fault.parent, name, f->real, flags, oflags);
	if (rc != SQLITE_OK)
		return rc;
	f->base.pMethods = &fault.methods;
	f->tracked = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
	if (f->tracked) {
		pthread_mutex_lock(&fault.mu);
		f->next = fault.files;
		fault.files = f;
		pthread_mutex_unlock(&fault.mu);
	}
	return SQLITE_OK;
}

/* The allocator: SQLite's own, failing the at-th allocation when armed. */
static void *fault_malloc(int n)
{
	int rc;
	if (fault.count_mallocs && fault_hit(FAULT_MALLOC, &rc))
		return NULL;
	return fault.mem.xMalloc(n);
}

static void *fault_realloc(void *q, int n)
{
	int rc;
	if (fault.count_mallocs && fault_hit(FAULT_MALLOC, &rc))
		return NULL;
	return fault.mem.xRealloc(q, n);
}

/* Once per process, before any SQLite use. */
static void fault_install(void)
{
	if (fault.parent)
		return;
	sqlite3_shutdown();
	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault.mem);
	sqlite3_mem_methods m = fault.mem;
	m.xMalloc = fault_malloc;
	m.xRealloc = fault_realloc;
	sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	sqlite3_initialize();
	fault.parent = sqlite3_vfs_find(NULL);
	fault.vfs = *fault.parent;
	fault.vfs.zName = "sg-test-fault";
	fault.vfs.pNext = NULL;
	fault.vfs.szOsFile = (int)sizeof(struct fault_file) + fault.parent->szOsFile;
	fault.vfs.xOpen = fault_open;
	fault.methods = (sqlite3_io_methods){
		.iVersion = 3, .xClose = fault_close, .xRead = fault_read, .xWrite = fault_write,
		.xTruncate = fault_truncate, .xSync = fault_sync, .xFileSize = fault_size,
		.xLock = fault_xLock, .xUnlock = fault_xUnlock, .xCheckReservedLock = fault_xCheckReservedLock,
		.xFileControl = fault_xFileControl, .xSectorSize = fault_xSectorSize,
		.xDeviceCharacteristics = fault_xDeviceCharacteristics, .xShmMap = fault_xShmMap,
		.xShmLock = fault_xShmLock, .xShmBarrier = fault_xShmBarrier, .xShmUnmap = fault_xShmUnmap,
		.xFetch = fault_xFetch, .xUnfetch = fault_xUnfetch,
	};
	sqlite3_vfs_register(&fault.vfs, 1);
}

/* Arms a fault (op FAULT_NONE: count only) and zeroes the counts. */
static void fault_arm(enum fault_op op, long at, int rc)
{
	pthread_mutex_lock(&fault.mu);
	fault.op = op;
	fault.at = at;
	fault.rc = rc;
	fault.fired = false;
	fault.crashed = false;
	memset(fault.count, 0, sizeof(fault.count));
	pthread_mutex_unlock(&fault.mu);
}

static void fault_disarm(void)
{
	pthread_mutex_lock(&fault.mu);
	fault.op = FAULT_NONE;
	fault.count_mallocs = false;
	fault.crashed = false;
	fault.crash_at_sync = 0;
	pthread_mutex_unlock(&fault.mu);
}

#endif
