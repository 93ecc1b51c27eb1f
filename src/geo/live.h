/* The live index: every device's latest position in memory, on a uniform
 * grid of cells (0.05 degree, about 5 km) grouped in 1-degree tiles, for "who
 * is within R metres of this point", "who is inside this box" and "the k
 * nearest" in microseconds.
 *
 * Invariants:
 *  - One record per device; an older report never replaces a newer one.
 *  - A record is listed in exactly the one cell its position falls in; a
 *    tile keeps its cells' records next to each other, in cell order.
 *  - Distances are geodesic (WGS 84): a local estimate (up to 100 km, with a
 *    measured error bound) or a spherical one decides all points but those
 *    within that bound of the radius, which get the exact computation.
 * Thread-safe: readers share a lock, updates take it alone, briefly. About
 * 120 bytes per device (see live_memory). No I/O. */
#ifndef SG_LIVE_H
#define SG_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_ID_MAX 32 /* device ids are 30 characters */

struct live;

struct live_hit {
	char id[LIVE_ID_MAX];
	uint16_t org;      /* organisation index given at update */
	double lat, lon;   /* degrees */
	int64_t time_ms;
	double dist_m;     /* from the query point: exact (geodesic) for nearest queries and
			    * near a radius' edge, an estimate inside it (within 0.2 % up to
			    * 100 km, 0.7 % beyond) */
};

/* Returns hits for which the caller's filter is true (NULL: all). */
typedef bool (*live_filter)(void *ctx, uint16_t org);

struct live *live_new(void);
void live_free(struct live *lv);

/* Records id's position when time_ms is newer than the one held. Returns 1
 * when it became the latest, 0 when it was older (ignored), SG_EINVAL for a
 * bad id or coordinates. */
int live_update(struct live *lv, const char *id, uint16_t org, double lat, double lon, int64_t time_ms);
/* 0 and *out, or SG_ENOTFOUND. */
int live_get(struct live *lv, const char *id, struct live_hit *out);
void live_remove(struct live *lv, const char *id);
size_t live_count(struct live *lv);
/* Bytes held by the index (slots, id table, cells). */
size_t live_memory(struct live *lv);

/* The queries return a new array (free it) of *n hits. */
int live_radius(struct live *lv, double lat, double lon, double radius_m, live_filter f, void *ctx,
		struct live_hit **out, size_t *n);
int live_bbox(struct live *lv, double min_lon, double min_lat, double max_lon, double max_lat,
	      live_filter f, void *ctx, struct live_hit **out, size_t *n);
/* The k nearest, closest first (ties by id). */
int live_nearest(struct live *lv, double lat, double lon, size_t k, live_filter f, void *ctx,
		 struct live_hit **out, size_t *n);
/* Counts within radius without copying (benchmarks, counts). */
size_t live_radius_count(struct live *lv, double lat, double lon, double radius_m, live_filter f,
			 void *ctx);

#endif
