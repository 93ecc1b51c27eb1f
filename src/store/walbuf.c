/* A VFS over SQLite's default one that gathers the WAL writes of a commit
 * into one pwrite; see walbuf.h.
 *
 * SQLite appends each WAL frame as two writes (its 24-byte header, then the
 * page) and, at a commit with synchronous=FULL, syncs the file before it
 * publishes the frames in the wal-index, where other connections find them.
 * Here contiguous writes to a WAL file collect in a buffer that goes to the
 * file before anything can look at the file's contents or size: a sync, a
 * read, a truncate, a size query, a file control, a close, a write elsewhere
 * in the file, or a full buffer. What readers see is unchanged: a frame is
 * published only after the sync, and the sync writes the buffer first.
 * Every other file (the database, the shared memory, temporary files) is the
 * default VFS's own, untouched. */
#include "store/walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WALBUF_CAP (4u << 20) /* a commit of a thousand 4 KB pages */

struct walfile {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, after this struct */
	char *buf;
	size_t len;
	sqlite3_int64 off; /* file offset of buf[0] */
};

static sqlite3_vfs *parent;

/* The default VFS takes writes of under 128 KB (it masks the length with
 * 0x1ffff): the buffer goes out in pieces of 64 KB. */
#define WRITE_MAX (64u << 10)

static int flush(struct walfile *f)
{
	int rc = SQLITE_OK;
	for (size_t at = 0; at < f->len && rc == SQLITE_OK; at += WRITE_MAX) {
		size_t n = f->len - at < WRITE_MAX ? f->len - at : WRITE_MAX;
		rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n, f->off + (sqlite3_int64)at);
	}
	f->len = 0;
	return rc;
}

static int w_close(sqlite3_file *p)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int w_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
	struct walfile *f = (struct walfile *)p;
	if (n <= 0)
		return SQLITE_OK;
	bool follows = f->len && off == f->off + (sqlite3_int64)f->len;
	if (!follows || f->len + (size_t)n > WALBUF_CAP) {
		int rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)n > WRITE_MAX || !f->buf)
		return f->real->pMethods->xWrite(f->real, data, n, off);
	if (!f->len)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)n);
	f->len += (size_t)n;
	return SQLITE_OK;
}

static int w_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *p, int flags)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int w_size(sqlite3_file *p, sqlite3_int64 *size)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *p, int lock)
{
	struct walfile *f = (struct walfile *)p;
	return f->real->pMethods->xLock(f->real, lock);
}

static int w_unlock(sqlite3_file *p, int lock)
{
	struct walfile *f = (struct walfile *)p;
	return f->real->pMethods->xUnlock(f->real, lock);
}

static int w_reserved(sqlite3_file *p, int *out)
{
	struct walfile *f = (struct walfile *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int w_control(sqlite3_file *p, int op, void *arg)
{
	struct walfile *f = (struct walfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int w_sector(sqlite3_file *p)
{
	struct walfile *f = (struct walfile *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int w_device(sqlite3_file *p)
{
	struct walfile *f = (struct walfile *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: a WAL file has no shared memory and is never memory-mapped. */
static const sqlite3_io_methods wal_methods = {
	.iVersion = 1, .xClose = w_close, .xRead = w_read, .xWrite = w_write,
	.xTruncate = w_truncate, .xSync = w_sync, .xFileSize = w_size, .xLock = w_lock,
	.xUnlock = w_unlock, .xCheckReservedLock = w_reserved, .xFileControl = w_control,
	.xSectorSize = w_sector, .xDeviceCharacteristics = w_device,
};

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *out_flags)
{
	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL)) /* the default VFS's file, as it is */
		return parent->xOpen(parent, name, p, flags, out_flags);
	struct walfile *f = (struct walfile *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = parent->xOpen(parent, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc; /* pMethods stays NULL: SQLite does not close it */
	f->buf = malloc(WALBUF_CAP); /* without it, writes go straight through */
	f->base.pMethods = &wal_methods;
	return SQLITE_OK;
}

static sqlite3_vfs vfs;

static int registered = SQLITE_ERROR;

static void register_once(void)
{
	parent = sqlite3_vfs_find(NULL);
	if (!parent)
		return;
	vfs = *parent;
	vfs.zName = WALBUF_VFS;
	vfs.pNext = NULL;
	vfs.szOsFile = (int)sizeof(struct walfile) + parent->szOsFile;
	vfs.xOpen = v_open;
	/* the rest (delete, access, full pathname, randomness, time...) are the
	 * default VFS's functions, which take no state of their own from vfs */
	registered = sqlite3_vfs_register(&vfs, 0);
}

int walbuf_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_once);
	return registered;
}
