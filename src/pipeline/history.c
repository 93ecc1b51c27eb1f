/* Reads of the position history; see history.h. */
#include "pipeline/history.h"

#include "core/err.h"
#include "pipeline/parts.h"

#include <stdio.h>
#include <stdlib.h>

#include <math.h>

static double opt_real(struct db_stmt *st, int i)
{
	return db_col_type(st, i) == DB_NULL ? (double)NAN : db_col_real(st, i);
}

static int opt_int(struct db_stmt *st, int i)
{
	return db_col_type(st, i) == DB_NULL ? -1 : (int)db_col_int(st, i);
}

/* One partition's rows of the device in [t0, t1), up to *left of them;
 * 1 when fn asked to stop. */
static int read_part(struct db *db, const struct part *pt, const char *device, int64_t t0, int64_t t1,
		     int64_t *left, history_fn fn, void *ctx)
{
	char sql[320];
	struct db_stmt *st;
	snprintf(sql, sizeof(sql),
		 "SELECT time_ms, lat, lon, speed_mps, course_deg, altitude_m, accuracy_m, battery_pct,"
		 " charging, attrs FROM %s WHERE device_id = ?1 AND time_ms >= ?2 AND time_ms < ?3"
		 " ORDER BY time_ms LIMIT ?4",
		 pt->tbl);
	if (db_prepare_text(db, sql, &st))
		return SG_EIO;
	db_bind_all(st, DB_T(device), DB_I(t0), DB_I(t1), DB_I(*left));
	int rc, stop = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *attrs = db_col_text(st, 9);
		struct history_row row = {
			.time_ms = db_col_int(st, 0),
			.lat = db_col_real(st, 1),
			.lon = db_col_real(st, 2),
			.speed_mps = opt_real(st, 3),
			.course_deg = opt_real(st, 4),
			.altitude_m = opt_real(st, 5),
			.accuracy_m = opt_real(st, 6),
			.battery_pct = opt_int(st, 7),
			.charging = opt_int(st, 8),
			.attrs = attrs ? attrs : "{}",
		};
		--*left;
		if (fn(ctx, &row)) {
			stop = 1;
			break;
		}
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : stop;
}

int history_read(struct db *db, const char *device, int64_t t0, int64_t t1, int64_t limit, history_fn fn,
		 void *ctx)
{
	struct part *ps;
	size_t n;
	if (parts_between(db, t0, t1, &ps, &n))
		return SG_EIO;
	/* ranges do not overlap: partition after partition is time order */
	int rc = 0;
	for (size_t i = 0; i < n && limit > 0 && rc == 0; i++)
		rc = read_part(db, &ps[i], device, t0, t1, &limit, fn, ctx);
	free(ps);
	return rc < 0 ? SG_EIO : 0;
}

int history_latest_before(struct db *db, const char *device, int64_t cutoff_ms, double *lat, double *lon,
			  int64_t *time_ms)
{
	struct part *ps;
	size_t n;
	if (parts_between(db, INT64_MIN / 2, cutoff_ms + 1, &ps, &n))
		return SG_EIO;
	int rc = DB_DONE;
	for (size_t i = n; i-- > 0 && rc == DB_DONE;) { /* newest first */
		char sql[160];
		struct db_stmt *st;
		snprintf(sql, sizeof(sql),
			 "SELECT lat, lon, time_ms FROM %s WHERE device_id = ?1 AND time_ms <= ?2"
			 " ORDER BY time_ms DESC LIMIT 1",
			 ps[i].tbl);
		if (db_prepare_text(db, sql, &st)) {
			rc = SG_EIO;
			break;
		}
		db_bind_text(st, 1, device);
		db_bind_int(st, 2, cutoff_ms);
		rc = db_step(st);
		if (rc == DB_ROW) {
			*lat = db_col_real(st, 0);
			*lon = db_col_real(st, 1);
			*time_ms = db_col_int(st, 2);
		}
		db_reset(st);
	}
	free(ps);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}
