/* The organisations' people and devices in memory; see directory.h. */
#include "registry/directory.h"

#include "core/err.h"
#include "core/util.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHED_ORGS 8

struct dir_org {
	char org_id[64];
	uint64_t gen;
	int refs;           /* under the directory's lock; the cache holds one */
	uint64_t used;      /* the last use, for eviction */
	char *buf;          /* the strings, one after another */
	uint32_t *pid, *pname; /* people: offsets into buf, by id */
	size_t n;
	struct slot { uint32_t dev; int32_t person; } *h; /* devices: open addressing */
	size_t hcap;        /* a power of two, at least twice the devices */
};

struct directory {
	pthread_mutex_t mu;
	_Atomic uint64_t gen;
	uint64_t clock;
	struct dir_org *orgs[CACHED_ORGS];
};

struct directory *directory_new(void)
{
	struct directory *d = xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	atomic_init(&d->gen, 1);
	return d;
}

static void org_free(struct dir_org *o)
{
	if (!o)
		return;
	free(o->buf);
	free(o->pid);
	free(o->pname);
	free(o->h);
	free(o);
}

/* Drops one reference (the lock held). */
static void unref(struct dir_org *o)
{
	if (o && --o->refs == 0)
		org_free(o);
}

void directory_free(struct directory *d)
{
	if (!d)
		return;
	for (int i = 0; i < CACHED_ORGS; i++)
		unref(d->orgs[i]);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void directory_changed(struct directory *d)
{
	if (d)
		atomic_fetch_add(&d->gen, 1);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint32_t keep(struct sb *buf, const char *s)
{
	uint32_t at = (uint32_t)buf->len;
	sb_add(buf, s ? s : "", strlen(s ? s : "") + 1);
	return at;
}

long dir_person(const struct dir_org *o, const char *person_id)
{
	size_t lo = 0, hi = o->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(person_id, o->buf + o->pid[mid]);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Reads org_id's people and devices in one read transaction. */
static struct dir_org *org_read(struct db *db, const char *org_id, uint64_t gen)
{
	struct dir_org *o = xcalloc(1, sizeof(*o));
	sg_strlcpy(o->org_id, org_id, sizeof(o->org_id));
	o->gen = gen;
	struct sb buf;
	sb_init(&buf);
	bool txn = store_read_begin(db) == 0; /* (unless the caller has one open) */
	int rc = DB_DONE;
	struct db_stmt *st;
	size_t cap = 0;
	if (rc == DB_DONE && db_prepare(db, "SELECT id, name FROM people INDEXED BY people_org WHERE org_id = ?1 ORDER BY id",
					&st) == 0) {
		db_bind_text(st, 1, org_id);
		while ((rc = db_step(st)) == DB_ROW) {
			if (o->n == cap) {
				cap = cap ? cap * 2 : 1024;
				o->pid = xrealloc(o->pid, cap * sizeof(*o->pid));
				o->pname = xrealloc(o->pname, cap * sizeof(*o->pname));
			}
			o->pid[o->n] = keep(&buf, db_col_text(st, 0));
			o->pname[o->n] = keep(&buf, db_col_text(st, 1));
			o->n++;
		}
		db_reset(st);
	} else if (rc == DB_DONE) {
		rc = SG_EIO;
	}
	/* the devices: (offset of the id, person) first, then the hash */
	struct slot *devs = NULL;
	size_t ndev = 0, dcap = 0;
	if (rc == DB_DONE && db_prepare(db,
					"SELECT id, person_id FROM devices INDEXED BY devices_org WHERE org_id = ?1"
					" AND person_id IS NOT NULL",
					&st) == 0) {
		db_bind_text(st, 1, org_id);
		while ((rc = db_step(st)) == DB_ROW) {
			o->buf = buf.buf; /* dir_person reads the strings so far */
			long p = dir_person(o, db_col_text(st, 1));
			if (p < 0)
				continue; /* a person of another organisation: not this one's to reach */
			if (ndev == dcap)
				devs = xrealloc(devs, (dcap = dcap ? dcap * 2 : 1024) * sizeof(*devs));
			devs[ndev++] = (struct slot){.dev = keep(&buf, db_col_text(st, 0)), .person = (int32_t)p};
		}
		db_reset(st);
	} else if (rc == DB_DONE) {
		rc = SG_EIO;
	}
	if (txn)
		store_read_end(db);
	o->buf = sb_detach(&buf);
	o->hcap = 16;
	while (o->hcap < ndev * 2)
		o->hcap *= 2;
	o->h = xcalloc(o->hcap, sizeof(*o->h));
	for (size_t i = 0; i < o->hcap; i++)
		o->h[i].person = -1;
	for (size_t i = 0; i < ndev; i++) {
		size_t k = hash(o->buf + devs[i].dev) & (o->hcap - 1);
		while (o->h[k].person >= 0)
			k = (k + 1) & (o->hcap - 1);
		o->h[k] = devs[i];
	}
	free(devs);
	if (rc != DB_DONE) {
		org_free(o);
		return NULL;
	}
	return o;
}

const struct dir_org *directory_org(struct directory *d, struct db *db, const char *org_id)
{
	uint64_t gen = atomic_load(&d->gen); /* before the read: see directory.h */
	pthread_mutex_lock(&d->mu);
	int slot = -1, oldest = 0;
	for (int i = 0; i < CACHED_ORGS; i++) {
		struct dir_org *o = d->orgs[i];
		if (o && str_eq(o->org_id, org_id))
			slot = i;
		if (!o || (d->orgs[oldest] && o->used < d->orgs[oldest]->used))
			oldest = i;
	}
	struct dir_org *o = slot >= 0 ? d->orgs[slot] : NULL;
	if (!o || o->gen != gen) {
		/* read under the lock: a second caller waits for this read */
		struct dir_org *fresh = org_read(db, org_id, gen);
		if (!fresh) {
			pthread_mutex_unlock(&d->mu);
			return NULL;
		}
		fresh->refs = 1; /* the cache's */
		int at = slot >= 0 ? slot : oldest;
		unref(d->orgs[at]);
		d->orgs[at] = o = fresh;
	}
	o->refs++;
	o->used = ++d->clock;
	pthread_mutex_unlock(&d->mu);
	return o;
}

void directory_release(struct directory *d, const struct dir_org *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&d->mu);
	unref((struct dir_org *)o);
	pthread_mutex_unlock(&d->mu);
}

size_t dir_people(const struct dir_org *o)
{
	return o->n;
}

const char *dir_person_id(const struct dir_org *o, size_t i)
{
	return o->buf + o->pid[i];
}

const char *dir_person_name(const struct dir_org *o, size_t i)
{
	return o->buf + o->pname[i];
}

long dir_device_person(const struct dir_org *o, const char *device_id, const char **copy)
{
	size_t k = hash(device_id) & (o->hcap - 1);
	for (; o->h[k].person >= 0; k = (k + 1) & (o->hcap - 1))
		if (str_eq(o->buf + o->h[k].dev, device_id)) {
			if (copy)
				*copy = o->buf + o->h[k].dev;
			return o->h[k].person;
		}
	return -1;
}
