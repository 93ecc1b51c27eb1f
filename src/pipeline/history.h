/* Position history as the API reads it: the repository of the positions
 * table's reads (the pipeline writes it, retention purges it). */
#ifndef SG_HISTORY_H
#define SG_HISTORY_H

#include "store/db.h"

#include <stdint.h>

struct history_row {
	int64_t time_ms;
	double lat, lon;
	double speed_mps, course_deg, altitude_m, accuracy_m; /* NAN: not reported */
	int battery_pct;                                       /* -1: not reported */
	int charging;                                          /* 1, 0, -1: not reported */
	const char *attrs;                                     /* JSON object */
};

/* Calls fn for each report of device with t0 <= time < t1, in time order, at
 * most limit, until fn returns non-zero. 0 or SG_EIO. */
typedef int (*history_fn)(void *ctx, const struct history_row *row);
int history_read(struct db *db, const char *device, int64_t t0, int64_t t1, int64_t limit, history_fn fn,
		 void *ctx);

/* The device's latest report at or before cutoff_ms: 0, SG_ENOTFOUND or SG_EIO. */
int history_latest_before(struct db *db, const char *device, int64_t cutoff_ms, double *lat, double *lon,
			  int64_t *time_ms);

#endif
