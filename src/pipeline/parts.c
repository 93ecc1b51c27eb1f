/* Position history partitions; see parts.h. */
#include "pipeline/parts.h"

#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_COLS "id, t0, t1, legacy"

void parts_table(int64_t id, bool legacy, char out[32])
{
	if (legacy)
		sg_strlcpy(out, "positions", 32);
	else
		snprintf(out, 32, "positions_p%lld", (long long)id);
}

static void read_part(struct db_stmt *st, struct part *p)
{
	*p = (struct part){.id = db_col_int(st, 0), .t0 = db_col_int(st, 1), .t1 = db_col_int(st, 2),
			   .legacy = db_col_int(st, 3) != 0};
	parts_table(p->id, p->legacy, p->tbl);
}

/* The rows of st as parts; 0 or SG_EIO. */
static int collect(struct db_stmt *st, struct part **out, size_t *n)
{
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		read_part(st, &(*out)[(*n)++]);
	}
	db_reset(st);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return SG_EIO;
	}
	return 0;
}

/* One integer from a query bound with t; def when it answers NULL. */
static int one_int(struct db *db, const char *sql, int64_t t, int64_t def, int64_t *out)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_int(st, 1, t);
	int rc = db_step(st);
	*out = rc == DB_ROW && db_col_type(st, 0) != DB_NULL ? db_col_int(st, 0) : def;
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int parts_for_write(struct db *db, int64_t period_ms, int64_t t, struct part *out)
{
	struct db_stmt *st;
	/* the latest range starting at or before t: the only one that can hold it */
	if (db_prepare(db,
		       "SELECT " PART_COLS " FROM history_parts WHERE dropped_ms = 0 AND t0 <= ?1"
		       " ORDER BY t0 DESC LIMIT 1",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, t);
	int rc = db_step(st);
	if (rc == DB_ROW)
		read_part(st, out);
	db_reset(st);
	if (rc < 0)
		return SG_EIO;
	if (rc == DB_ROW && t < out->t1)
		return 0;
	/* a new one: the period holding t, cut where neighbours begin or end */
	int64_t lo = floor_div(t, period_ms) * period_ms, hi = lo + period_ms, prev_end, next_start;
	if (one_int(db, "SELECT max(t1) FROM history_parts WHERE dropped_ms = 0 AND t1 <= ?1", t, lo, &prev_end) ||
	    one_int(db, "SELECT min(t0) FROM history_parts WHERE dropped_ms = 0 AND t0 > ?1", t, hi, &next_start))
		return SG_EIO;
	if (prev_end > lo)
		lo = prev_end;
	if (next_start < hi)
		hi = next_start;
	int64_t id;
	if (one_int(db, "SELECT max(id) + ?1 FROM history_parts", 1, 1, &id))
		return SG_EIO;
	*out = (struct part){.id = id, .t0 = lo, .t1 = hi};
	parts_table(id, false, out->tbl);
	char ddl[768];
	snprintf(ddl, sizeof(ddl),
		 "CREATE TABLE %s (device_id TEXT NOT NULL, time_ms INTEGER NOT NULL, org_id TEXT NOT NULL,"
		 " lat REAL NOT NULL, lon REAL NOT NULL, speed_mps REAL, course_deg REAL, altitude_m REAL,"
		 " accuracy_m REAL, battery_pct INTEGER, charging INTEGER, attrs TEXT NOT NULL,"
		 " received_ms INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0,"
		 " batch INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (device_id, time_ms)) STRICT, WITHOUT ROWID",
		 out->tbl);
	if (db_prepare(db, "INSERT INTO history_parts (id, tbl, t0, t1) VALUES (?1, ?2, ?3, ?4)", &st))
		return SG_EIO;
	db_bind_all(st, DB_I(id), DB_T(out->tbl), DB_I(lo), DB_I(hi));
	if (db_run(st) || db_exec(db, ddl))
		return SG_EIO;
	return 0;
}

/* The partitions a catalog query bound with a and b answers. */
static int query(struct db *db, const char *sql, int64_t a, int64_t b, struct part **out, size_t *n)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_all(st, DB_I(a), DB_I(b));
	return collect(st, out, n);
}

int parts_between(struct db *db, int64_t t0, int64_t t1, struct part **out, size_t *n)
{
	return query(db,
		     "SELECT " PART_COLS " FROM history_parts WHERE dropped_ms = 0 AND t0 < ?2 AND t1 > ?1"
		     " AND t0 < t1 ORDER BY t0",
		     t0, t1, out, n);
}

int parts_expired(struct db *db, int64_t cutoff_ms, size_t max, struct part **out, size_t *n)
{
	return query(db,
		     "SELECT " PART_COLS " FROM history_parts WHERE dropped_ms = 0 AND legacy = 0 AND t1 <= ?1"
		     " ORDER BY t0 LIMIT ?2",
		     cutoff_ms, (int64_t)max, out, n);
}

int parts_drop(struct db *db, const struct part *p, int64_t now_ms)
{
	struct db_stmt *st;
	char ddl[64];
	snprintf(ddl, sizeof(ddl), "DROP TABLE %s", p->tbl);
	if (db_prepare(db, "UPDATE history_parts SET dropped_ms = ?2 WHERE id = ?1 AND legacy = 0", &st))
		return SG_EIO;
	db_bind_int(st, 1, p->id);
	db_bind_int(st, 2, now_ms > 0 ? now_ms : 1);
	if (db_run(st) || db_changes(db) != 1 || db_exec(db, ddl))
		return SG_EIO;
	return 0;
}
