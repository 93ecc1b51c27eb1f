/* Reads of the position history; see history.h. */
#include "pipeline/history.h"

#include "core/err.h"

#include <math.h>

static double opt_real(struct db_stmt *st, int i)
{
	return db_col_type(st, i) == DB_NULL ? (double)NAN : db_col_real(st, i);
}

static int opt_int(struct db_stmt *st, int i)
{
	return db_col_type(st, i) == DB_NULL ? -1 : (int)db_col_int(st, i);
}

int history_read(struct db *db, const char *device, int64_t t0, int64_t t1, int64_t limit, history_fn fn,
		 void *ctx)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT time_ms, lat, lon, speed_mps, course_deg, altitude_m, accuracy_m, battery_pct,"
		       " charging, attrs FROM positions WHERE device_id = ?1 AND time_ms >= ?2 AND time_ms < ?3"
		       " ORDER BY time_ms LIMIT ?4",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, device);
	db_bind_int(st, 2, t0);
	db_bind_int(st, 3, t1);
	db_bind_int(st, 4, limit);
	int rc;
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
		if (fn(ctx, &row))
			break;
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

int history_latest_before(struct db *db, const char *device, int64_t cutoff_ms, double *lat, double *lon,
			  int64_t *time_ms)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT lat, lon, time_ms FROM positions WHERE device_id = ?1 AND time_ms <= ?2"
		       " ORDER BY time_ms DESC LIMIT 1",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, device);
	db_bind_int(st, 2, cutoff_ms);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		*lat = db_col_real(st, 0);
		*lon = db_col_real(st, 1);
		*time_ms = db_col_int(st, 2);
	}
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}
