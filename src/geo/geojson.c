/* GeoJSON geometry checks; see geojson.h. GEOS decides polygon validity:
 * hand-writing a robust self-intersection test is exactly what not to do. */
#include "geo/geojson.h"

#include "core/err.h"
#include "core/util.h"

#include <geos_c.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct gctx {
	char *where;
	size_t wheresz;
	char *detail;
	size_t detailsz;
	struct bbox bb;
	int npos;
};

static int fail(struct gctx *c, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct gctx *c, const char *where, const char *fmt, ...)
{
	va_list ap;
	snprintf(c->where, c->wheresz, "%s", where);
	va_start(ap, fmt);
	vsnprintf(c->detail, c->detailsz, fmt, ap);
	va_end(ap);
	return SG_EINVAL;
}

static int position(struct gctx *c, const json_t *p, const char *where, double *lon, double *lat)
{
	if (!json_is_array(p) || json_array_size(p) < 2 || json_array_size(p) > 3)
		return fail(c, where, "a position is an array [longitude, latitude] (optionally altitude)");
	for (size_t i = 0; i < json_array_size(p); i++)
		if (!json_is_number(json_array_get(p, i)))
			return fail(c, where, "position members must be numbers");
	*lon = json_number_value(json_array_get(p, 0));
	*lat = json_number_value(json_array_get(p, 1));
	if (!isfinite(*lon) || *lon < -180 || *lon > 180) {
		char w[200];
		snprintf(w, sizeof(w), "%s/0", where);
		return fail(c, w, "longitude %g is outside -180..180 (GeoJSON order is [lon, lat])", *lon);
	}
	if (!isfinite(*lat) || *lat < -90 || *lat > 90) {
		char w[200];
		snprintf(w, sizeof(w), "%s/1", where);
		return fail(c, w, "latitude %g is outside -90..90 (GeoJSON order is [lon, lat])", *lat);
	}
	if (c->npos++ == 0) {
		c->bb = (struct bbox){*lon, *lat, *lon, *lat};
	} else {
		c->bb.min_lon = fmin(c->bb.min_lon, *lon);
		c->bb.max_lon = fmax(c->bb.max_lon, *lon);
		c->bb.min_lat = fmin(c->bb.min_lat, *lat);
		c->bb.max_lat = fmax(c->bb.max_lat, *lat);
	}
	return 0;
}

#define MAX_POSITIONS 100000

static int ring(struct gctx *c, const json_t *r, const char *where)
{
	if (!json_is_array(r) || json_array_size(r) < 4)
		return fail(c, where, "a linear ring is an array of at least 4 positions");
	if (json_array_size(r) > MAX_POSITIONS)
		return fail(c, where, "a ring may have at most %d positions", MAX_POSITIONS);
	double lon0 = 0, lat0 = 0, lon = 0, lat = 0;
	for (size_t i = 0; i < json_array_size(r); i++) {
		char w[200];
		snprintf(w, sizeof(w), "%s/%zu", where, i);
		if (position(c, json_array_get(r, i), w, &lon, &lat))
			return SG_EINVAL;
		if (i == 0)
			lon0 = lon, lat0 = lat;
	}
	if (lon != lon0 || lat != lat0)
		return fail(c, where, "a linear ring must end on its first position (closed)");
	return 0;
}

static int polygon(struct gctx *c, const json_t *p, const char *where)
{
	if (!json_is_array(p) || json_array_size(p) < 1)
		return fail(c, where, "a polygon is an array of linear rings (shell first, then holes)");
	for (size_t i = 0; i < json_array_size(p); i++) {
		char w[200];
		snprintf(w, sizeof(w), "%s/%zu", where, i);
		if (ring(c, json_array_get(p, i), w))
			return SG_EINVAL;
	}
	return 0;
}

static GEOSGeometry *geos_ring(GEOSContextHandle_t h, const json_t *r, bool shell)
{
	size_t n = json_array_size(r);
	GEOSCoordSequence *seq = GEOSCoordSeq_create_r(h, (unsigned)n, 2);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(r, i);
		GEOSCoordSeq_setXY_r(h, seq, (unsigned)i, json_number_value(json_array_get(p, 0)),
				     json_number_value(json_array_get(p, 1)));
	}
	(void)shell;
	return GEOSGeom_createLinearRing_r(h, seq);
}

static GEOSGeometry *geos_polygon(GEOSContextHandle_t h, const json_t *p)
{
	size_t n = json_array_size(p);
	GEOSGeometry *shell = geos_ring(h, json_array_get(p, 0), true);
	GEOSGeometry **holes = n > 1 ? xcalloc(n - 1, sizeof(*holes)) : NULL;
	for (size_t i = 1; i < n; i++)
		holes[i - 1] = geos_ring(h, json_array_get(p, i), false);
	GEOSGeometry *g = GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)(n - 1));
	free(holes);
	return g;
}

static int geos_check(struct gctx *c, const json_t *coords, bool multi)
{
	GEOSContextHandle_t h = GEOS_init_r();
	GEOSGeometry *g;
	if (multi) {
		size_t n = json_array_size(coords);
		GEOSGeometry **parts = xcalloc(n, sizeof(*parts));
		for (size_t i = 0; i < n; i++)
			parts[i] = geos_polygon(h, json_array_get(coords, i));
		g = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, parts, (unsigned)n);
		free(parts);
	} else {
		g = geos_polygon(h, coords);
	}
	int rc = 0;
	if (!g) {
		rc = fail(c, "/coordinates", "the polygon could not be built");
	} else if (GEOSisValid_r(h, g) != 1) {
		char *why = GEOSisValidReason_r(h, g);
		rc = fail(c, "/coordinates", "the polygon is not valid: %s", why ? why : "unknown reason");
		GEOSFree_r(h, why);
	}
	if (g)
		GEOSGeom_destroy_r(h, g);
	GEOS_finish_r(h);
	return rc;
}

int geojson_validate(const json_t *g, unsigned allowed, struct bbox *out, char *where,
		     size_t wheresz, char *detail, size_t detailsz)
{
	struct gctx c = {.where = where, .wheresz = wheresz, .detail = detail, .detailsz = detailsz};
	if (!json_is_object(g))
		return fail(&c, "", "a GeoJSON geometry object is required");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)g, key, v) {
		if (!str_eq(key, "type") && !str_eq(key, "coordinates") && !str_eq(key, "bbox")) {
			char w[200];
			snprintf(w, sizeof(w), "/%s", key);
			return fail(&c, w, "unknown member '%s' in a geometry", key);
		}
	}
	const char *type = json_string_value(json_object_get(g, "type"));
	const json_t *coords = json_object_get(g, "coordinates");
	if (!type)
		return fail(&c, "/type", "type is required (Point, Polygon, ...)");
	if (!coords)
		return fail(&c, "/coordinates", "coordinates are required");
	int rc;
	double lon, lat;
	if (str_eq(type, "Point") && (allowed & GJ_POINT)) {
		rc = position(&c, coords, "/coordinates", &lon, &lat);
	} else if (str_eq(type, "LineString") && (allowed & GJ_LINESTRING)) {
		if (!json_is_array(coords) || json_array_size(coords) < 2)
			return fail(&c, "/coordinates", "a LineString has at least 2 positions");
		rc = 0;
		for (size_t i = 0; !rc && i < json_array_size(coords); i++) {
			char w[200];
			snprintf(w, sizeof(w), "/coordinates/%zu", i);
			rc = position(&c, json_array_get(coords, i), w, &lon, &lat);
		}
	} else if (str_eq(type, "Polygon") && (allowed & GJ_POLYGON)) {
		rc = polygon(&c, coords, "/coordinates");
		if (!rc)
			rc = geos_check(&c, coords, false);
	} else if (str_eq(type, "MultiPolygon") && (allowed & GJ_MULTIPOLYGON)) {
		if (!json_is_array(coords) || json_array_size(coords) < 1)
			return fail(&c, "/coordinates", "a MultiPolygon is an array of polygons");
		rc = 0;
		for (size_t i = 0; !rc && i < json_array_size(coords); i++) {
			char w[200];
			snprintf(w, sizeof(w), "/coordinates/%zu", i);
			rc = polygon(&c, json_array_get(coords, i), w);
		}
		if (!rc)
			rc = geos_check(&c, coords, true);
	} else {
		return fail(&c, "/type", "geometry type '%s' is not accepted here", type);
	}
	if (rc == 0)
		*out = c.bb;
	return rc;
}
