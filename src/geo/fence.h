/* Geofences (sites and risk zones) in memory, for "which fences contain this
 * point at this time": a grid of the fences' bounding boxes (0.1 degree
 * cells) and an exact test: geodesic distance for circles, even-odd ray
 * casting for polygons with holes, a point on an edge or vertex counting as
 * inside. GEOS validated the polygons on the way in (geojson.c); the test
 * here is hand-written because it runs on every position report from any
 * thread, where GEOS prepared geometries (lazily built, not safe for
 * concurrent readers, a point allocated per test) do not fit.
 * An index is immutable once built: swap a new one in to change fences. */
#ifndef SG_FENCE_H
#define SG_FENCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FENCE_ID_MAX 40

struct fence_index;

struct fence_def {
	const char *id, *org;
	char type;            /* 's' site, 'z' zone */
	int level;            /* zones: 1..6; sites: 0 */
	const json_t *geometry; /* validated GeoJSON Point, Polygon or MultiPolygon */
	double radius_m;      /* with a Point */
	int64_t from_ms, to_ms; /* validity; INT64_MIN / INT64_MAX when open */
};

struct fence_hit {
	char id[FENCE_ID_MAX];
	char org[FENCE_ID_MAX];
	char type;
	int level;
};

struct fence_index *fence_index_new(void);
/* Adds a fence; 0 or SG_EINVAL when its geometry is not usable. */
int fence_index_add(struct fence_index *fx, const struct fence_def *def);
void fence_index_free(struct fence_index *fx);
size_t fence_index_count(const struct fence_index *fx);

/* The fences containing (lat, lon) and valid at t_ms, sorted by id; writes
 * at most max hits and returns how many there are. */
size_t fence_index_at(const struct fence_index *fx, double lat, double lon, int64_t t_ms,
		      struct fence_hit *out, size_t max);

/* Exposed for the property test: even-odd test of one GeoJSON polygon
 * coordinates array (rings), boundary inclusive. */
int fence_polygon_contains(const json_t *rings, double lat, double lon);

#endif
