/* Position history partitioned by fix time.
 *
 * A report is stored in the partition whose range [t0, t1) holds its fix
 * time: a table of its own (positions_p<id>, the columns of the table
 * positions), listed in history_parts and created by the writer when a
 * report first falls in a range no partition covers. Ranges are whole
 * periods (history.partition_hours, counted from the epoch in UTC), cut
 * short where they would overlap a partition made under another period.
 *
 * Why: a history clustered by device puts each report on its own page of
 * one B-tree, which grows with the whole history; here a write touches only
 * the B-tree of its period, so its cost follows the size of a period, not of
 * the history, and retention drops a whole table instead of deleting rows
 * one by one (bench/README.md, "Ingest against a large history").
 *
 * The table positions itself is the legacy partition: the history stored
 * before schema 9, covering every time up to its last report; it keeps the
 * row-by-row retention. Reads go through parts_between() and so see every
 * partition the same way. */
#ifndef SG_PARTS_H
#define SG_PARTS_H

#include "store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct part {
	int64_t id, t0, t1;
	bool legacy;
	char tbl[32];
};

/* A partition's table name, from its id: never read back from the store, so
 * no text from the database goes into SQL. */
void parts_table(int64_t id, bool legacy, char out[32]);

/* The partition for a report at time t, created (in the caller's write
 * transaction) when none covers it. 0 or SG_EIO. */
int parts_for_write(struct db *db, int64_t period_ms, int64_t t, struct part *out);

/* The partitions not dropped overlapping [t0, t1), oldest first, in a
 * malloc'd array (*n may be 0). 0 or SG_EIO. */
int parts_between(struct db *db, int64_t t0, int64_t t1, struct part **out, size_t *n);

/* Retention: the partitions not dropped whose every time is before cutoff
 * (at most max, oldest first; the legacy one never). 0 or SG_EIO. */
int parts_expired(struct db *db, int64_t cutoff_ms, size_t max, struct part **out, size_t *n);

/* Drops a partition's table and marks it dropped at now_ms. */
int parts_drop(struct db *db, const struct part *p, int64_t now_ms);

#endif
