/* Evidence: position history and geofence events in the signed chain.
 *
 * After an attack the stored positions are evidence: who was where, when.
 * Each commit that stores reports seals them:
 *  - every row gets the commit's batch number (evidence_batch(): the chain's
 *    head + 1, read inside the transaction, so a rolled-back commit reuses it);
 *  - row hash = BLAKE2b(kind, time_ms, BLAKE2b(every other column, typed,
 *    stored bytes)); the commit's digest = BLAKE2b(count, the row hashes in
 *    byte order), so no insertion order needs storing;
 *  - history_chain gets one row per commit: link = BLAKE2b(prev link, batch,
 *    count, digest, time), and the audit checkpoint signs the last link.
 * Deleting, moving or adding a stored position or event, or a whole commit,
 * then fails `audit verify`. Reports live in time partitions
 * (src/pipeline/parts.h): a commit seals the rows of each partition it wrote
 * to as a chain row of its own, naming the partition, so retention can drop
 * a partition whole: its chain rows stay (their links still check) and the
 * purge's audit entry names the partition, which the verifier requires of
 * every partition marked dropped. The legacy table and the geofence events
 * are purged row by row: a purged row leaves (batch, kind, time, hash of the
 * rest) in history_pruned, so the verifier checks the purged time against
 * the cutoff the purge wrote in the audit trail. Once every row of the
 * oldest commits is gone their chain rows go too and the purge's audit entry
 * names the new first link.
 *
 * Cost: one hash per stored row (from the values bound; a geofence event's
 * from its RETURNING row), one sort, one insert and one signature per commit (bench/README.md, "Evidence chain"). */
#ifndef SG_EVIDENCE_H
#define SG_EVIDENCE_H

#include "store/db.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The covered columns, time first, in the order they are hashed. Every
 * column of the table but batch and pinned (a flag set later, by incidents). */
#define EVIDENCE_POSITION_COLS                                                                   \
	"time_ms, device_id, org_id, lat, lon, speed_mps, course_deg, altitude_m, accuracy_m," \
	" battery_pct, charging, attrs, received_ms"
#define EVIDENCE_EVENT_COLS "time_ms, seq, device_id, org_id, fence_type, fence_id, fence_org, event, lat, lon"

#define EVIDENCE_POSITION 'p'
#define EVIDENCE_EVENT 'g'

/* Which rows a seal covers: a partition's reports (its id, > 0; dropped
 * whole by retention), or the rows purged one by one: the legacy table's
 * reports and the geofence events. */
#define EVIDENCE_ROWWISE (-1)

/* The row hashes of the commit under way (writer thread only): one seal per
 * partition it wrote to (and one for the row-wise rows), each a chain row of
 * its own, numbered in the order they were opened. */
struct evidence_row {
	uint32_t seal;
	unsigned char h[32];
};
struct evidence_open {
	int64_t part, batch;
};
struct evidence {
	struct evidence_row *rows;
	size_t n, cap;
	struct evidence_open *seals;
	size_t nseals, seals_cap;
};

/* The batch number the commit under way gives its rows in part (a seal is
 * opened for it on first use: the chain's head + 1 for the commit's first,
 * read afresh). 0 or SG_EIO. */
int evidence_batch(struct db *db, struct evidence *e, int64_t part, int64_t *batch);

/* Adds a row to part's seal (opened by evidence_batch) from the values
 * written (columns as EVIDENCE_*_COLS after time), or from the row under st
 * (all of them, time first). */
void evidence_add_values(struct evidence *e, int64_t part, char kind, int64_t time_ms,
			 const struct db_value *v, int n);
void evidence_add(struct evidence *e, int64_t part, char kind, struct db_stmt *st);
/* Forgets what was added after mark (e->n before a write that was rolled
 * back to its savepoint). A seal left empty writes no chain row: batch
 * numbers may skip, the links do not. */
static inline void evidence_rewind(struct evidence *e, size_t mark) { if (mark < e->n) e->n = mark; }
/* Before COMMIT: writes a chain row for each seal that holds rows, and
 * empties e either way. 0 or SG_EIO. */
int evidence_seal(struct db *db, struct evidence *e, int64_t now_ms);
void evidence_free(struct evidence *e);

/* The chain's last link: batch 0 and "" while empty. */
int evidence_head(struct db *db, int64_t *batch, char link[65]);

/* Retention, in the caller's write transaction: drops the partitions whose
 * every time is before cutoff_ms (a few per call; one holding a pinned
 * report is kept whole), deletes up to limit rows of the legacy table
 * (unpinned) and geofence events older than cutoff_ms keeping what the
 * verifier needs of them, drops the chain rows of commits fully gone, and
 * records the purge in the audit trail (the partitions dropped by id).
 * *deleted = rows deleted, counting a dropped partition's sealed rows. */
int evidence_purge(struct db *db, int64_t cutoff_ms, int limit, const int64_t *dropped, size_t ndropped,
		   int64_t now_ms, long *deleted);

/* What the audit trail and its checkpoint say about the history. */
struct evidence_expect {
	int64_t first_batch;   /* from the last purge entry; 0: no purge dropped a commit */
	char first_prev[65];   /* that commit's prev link */
	int64_t max_cutoff_ms; /* largest purge cutoff in the trail; 0: none */
	int64_t signed_batch;  /* from the signed checkpoint (-1: no checkpoint) */
	char signed_link[65];
	int64_t *dropped;      /* partitions the purge entries say they dropped */
	size_t ndropped;
};
/* Checks every commit's rows against its seal and the chain against the
 * expectations; calls problem() for each finding and writes a summary line
 * to out when intact. Returns the number of problems or SG_EIO. */
int evidence_verify(struct db *db, const struct evidence_expect *x, void (*problem)(void *ctx, const char *msg),
		    void *ctx, FILE *out);

#endif
