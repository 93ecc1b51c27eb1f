/* A VFS for tests, registered as the default over SQLite's own, that records
 * which connection (main database file handle) takes SQLite's WAL write lock
 * and its checkpoint lock exclusively, and counts syncs. Every connection
 * opened after vfsspy_install() goes through it, including the store's
 * writer (its WAL-gathering VFS wraps the default one). */
#ifndef SG_VFSSPY_H
#define SG_VFSSPY_H

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#define VFSSPY_MAX 256

struct vfsspy_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static struct {
	pthread_mutex_t mu;
	sqlite3_vfs *parent;
	sqlite3_vfs vfs;
	sqlite3_io_methods methods; /* the parent's, with xShmLock and xSync replaced */
	const void *writers[VFSSPY_MAX];   /* handles that took the WAL write lock */
	int nwriters;
	const void *ckpters[VFSSPY_MAX];   /* handles that took the checkpoint lock */
	int nckpters;
	long syncs;
} vfsspy = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void vfsspy_note(const void **set, int *n, const void *h)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == h)
			return;
	if (*n < VFSSPY_MAX)
		set[(*n)++] = h;
}

#define VFSSPY_REAL(p) (((struct vfsspy_file *)(p))->real)

static int vfsspy_shm_lock(sqlite3_file *p, int ofst, int n, int flags)
{
	/* SQLite's WAL locks: slot 0 the writer, slot 1 the checkpointer (a
	 * checkpoint takes slot 1 alone; recovery takes a range from 1). */
	if ((flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && n == 1) {
		pthread_mutex_lock(&vfsspy.mu);
		if (ofst == 0)
			vfsspy_note(vfsspy.writers, &vfsspy.nwriters, p);
		else if (ofst == 1)
			vfsspy_note(vfsspy.ckpters, &vfsspy.nckpters, p);
		pthread_mutex_unlock(&vfsspy.mu);
	}
	return VFSSPY_REAL(p)->pMethods->xShmLock(VFSSPY_REAL(p), ofst, n, flags);
}

static int vfsspy_sync(sqlite3_file *p, int flags)
{
	pthread_mutex_lock(&vfsspy.mu);
	vfsspy.syncs++;
	pthread_mutex_unlock(&vfsspy.mu);
	return VFSSPY_REAL(p)->pMethods->xSync(VFSSPY_REAL(p), flags);
}

/* Every other method passes the real file on. */
#define VFSSPY_FWD(name, ret, params, args)                                  \
	static ret vfsspy_##name params                                      \
	{                                                                    \
		return VFSSPY_REAL(p)->pMethods->name args;                  \
	}
VFSSPY_FWD(xRead, int, (sqlite3_file * p, void *b, int n, sqlite3_int64 o), (VFSSPY_REAL(p), b, n, o))
VFSSPY_FWD(xWrite, int, (sqlite3_file * p, const void *b, int n, sqlite3_int64 o), (VFSSPY_REAL(p), b, n, o))
VFSSPY_FWD(xTruncate, int, (sqlite3_file * p, sqlite3_int64 s), (VFSSPY_REAL(p), s))
VFSSPY_FWD(xFileSize, int, (sqlite3_file * p, sqlite3_int64 *s), (VFSSPY_REAL(p), s))
VFSSPY_FWD(xLock, int, (sqlite3_file * p, int l), (VFSSPY_REAL(p), l))
VFSSPY_FWD(xUnlock, int, (sqlite3_file * p, int l), (VFSSPY_REAL(p), l))
VFSSPY_FWD(xCheckReservedLock, int, (sqlite3_file * p, int *o), (VFSSPY_REAL(p), o))
VFSSPY_FWD(xFileControl, int, (sqlite3_file * p, int op, void *a), (VFSSPY_REAL(p), op, a))
VFSSPY_FWD(xSectorSize, int, (sqlite3_file * p), (VFSSPY_REAL(p)))
VFSSPY_FWD(xDeviceCharacteristics, int, (sqlite3_file * p), (VFSSPY_REAL(p)))
VFSSPY_FWD(xShmMap, int, (sqlite3_file * p, int i, int sz, int ext, void volatile **out), (VFSSPY_REAL(p), i, sz, ext, out))
VFSSPY_FWD(xShmUnmap, int, (sqlite3_file * p, int del), (VFSSPY_REAL(p), del))
VFSSPY_FWD(xFetch, int, (sqlite3_file * p, sqlite3_int64 o, int n, void **out), (VFSSPY_REAL(p), o, n, out))
VFSSPY_FWD(xUnfetch, int, (sqlite3_file * p, sqlite3_int64 o, void *a), (VFSSPY_REAL(p), o, a))

static void vfsspy_xShmBarrier(sqlite3_file *p)
{
	VFSSPY_REAL(p)->pMethods->xShmBarrier(VFSSPY_REAL(p));
}

static int vfsspy_xClose(sqlite3_file *p)
{
	return VFSSPY_REAL(p)->pMethods->xClose(VFSSPY_REAL(p));
}

static int vfsspy_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *p, int flags, int *oflags)
{
	(void)v;
	struct vfsspy_file *f = (struct vfsspy_file *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = vfsspy.parent->xOpen(vfsspy.parent, name, f->real, flags, oflags);
	if (rc != SQLITE_OK)
		return rc;
	f->base.pMethods = &vfsspy.methods;
	return SQLITE_OK;
}

/* Registers the spy as the default VFS (once per process). */
static void vfsspy_install(void)
{
	if (vfsspy.parent)
		return;
	vfsspy.parent = sqlite3_vfs_find(NULL);
	vfsspy.vfs = *vfsspy.parent;
	vfsspy.vfs.zName = "sg-test-spy";
	vfsspy.vfs.pNext = NULL;
	vfsspy.vfs.szOsFile = (int)sizeof(struct vfsspy_file) + vfsspy.parent->szOsFile;
	vfsspy.vfs.xOpen = vfsspy_open;
	vfsspy.methods = (sqlite3_io_methods){
		.iVersion = 3, .xClose = vfsspy_xClose, .xRead = vfsspy_xRead,
		.xWrite = vfsspy_xWrite, .xTruncate = vfsspy_xTruncate, .xSync = vfsspy_sync,
		.xFileSize = vfsspy_xFileSize, .xLock = vfsspy_xLock, .xUnlock = vfsspy_xUnlock,
		.xCheckReservedLock = vfsspy_xCheckReservedLock,
		.xFileControl = vfsspy_xFileControl, .xSectorSize = vfsspy_xSectorSize,
		.xDeviceCharacteristics = vfsspy_xDeviceCharacteristics, .xShmMap = vfsspy_xShmMap,
		.xShmLock = vfsspy_shm_lock, .xShmBarrier = vfsspy_xShmBarrier,
		.xShmUnmap = vfsspy_xShmUnmap, .xFetch = vfsspy_xFetch, .xUnfetch = vfsspy_xUnfetch,
	};
	sqlite3_vfs_register(&vfsspy.vfs, 1);
}

static void vfsspy_reset(void)
{
	pthread_mutex_lock(&vfsspy.mu);
	vfsspy.nwriters = vfsspy.nckpters = 0;
	vfsspy.syncs = 0;
	pthread_mutex_unlock(&vfsspy.mu);
}

#endif
