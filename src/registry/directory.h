/* Each organisation's people and the devices they carry, in memory, for
 * searches that touch most of them at once (an alert over a city: 100,000
 * people). A snapshot is read from the store in one pass over covering
 * indexes and kept until a write to people or devices is committed
 * (directory_changed, called after the commit); readers share it.
 *
 *   gen read ─> cached snapshot of that gen? ─yes─> shared
 *                                             no ─> read (people by id,
 *                                                   devices) ─> cached
 *
 * The generation is read before the snapshot's read transaction begins: a
 * write committed meanwhile makes it older than the counter, so the next
 * caller reads again (never the other way round). */
#ifndef SG_DIRECTORY_H
#define SG_DIRECTORY_H

#include "store/db.h"

#include <stddef.h>

struct directory;
struct dir_org; /* one organisation's snapshot, read-only while held */

struct directory *directory_new(void);
void directory_free(struct directory *d);
/* After a committed write to people or devices. */
void directory_changed(struct directory *d);
/* org_id's snapshot as of now (read through db, a reader outside any
 * transaction, when a write came since); NULL: the store failed. Give it
 * back with directory_release. */
const struct dir_org *directory_org(struct directory *d, struct db *db, const char *org_id);
void directory_release(struct directory *d, const struct dir_org *o);

/* The organisation's people, by id (strcmp order): 0 .. n-1. */
size_t dir_people(const struct dir_org *o);
const char *dir_person_id(const struct dir_org *o, size_t i);
const char *dir_person_name(const struct dir_org *o, size_t i);
/* The index of a person of the organisation, or -1. */
long dir_person(const struct dir_org *o, const char *person_id);
/* The index of the person carrying device_id (one of the organisation's
 * devices), or -1; *copy: the snapshot's copy of the device id. */
long dir_device_person(const struct dir_org *o, const char *device_id, const char **copy);

#endif
