/* geo/fence: "which fences contain this point" agrees with GEOS over
 * thousands of random star-shaped polygons with holes and random points, and
 * with PROJ for circles; edges and vertices count as inside; validity periods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <geos_c.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/fence.h"
#include "geo/geodesic.h"

static unsigned seed = 777;
static double rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (double)((seed >> 8) & 0xFFFFFF) / (double)0x1000000;
}

/* A star-shaped ring around (cx, cy): always simple. */
static json_t *star(double cx, double cy, double rmin, double rmax, int n, double scale)
{
	json_t *ring = json_array();
	double first[2] = {0, 0};
	for (int i = 0; i < n; i++) {
		double a = 2 * M_PI * i / n, r = (rmin + rnd() * (rmax - rmin)) * scale;
		double x = cx + r * cos(a), y = cy + r * sin(a);
		if (i == 0)
			first[0] = x, first[1] = y;
		json_array_append_new(ring, json_pack("[f,f]", x, y));
	}
	json_array_append_new(ring, json_pack("[f,f]", first[0], first[1]));
	return ring;
}

static GEOSGeometry *to_geos(GEOSContextHandle_t h, const json_t *geom)
{
	char *txt = json_dumps(geom, 0);
	GEOSGeoJSONReader *rd = GEOSGeoJSONReader_create_r(h);
	GEOSGeometry *g = GEOSGeoJSONReader_readGeometry_r(h, rd, txt);
	GEOSGeoJSONReader_destroy_r(h, rd);
	free(txt);
	return g;
}

static double seg_dist(double x, double y, double ax, double ay, double bx, double by)
{
	double dx = bx - ax, dy = by - ay, t = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy);
	t = fmax(0, fmin(1, t));
	return hypot(x - (ax + t * dx), y - (ay + t * dy));
}

static double edge_dist(const json_t *rings, double x, double y)
{
	double best = INFINITY;
	for (size_t r = 0; r < json_array_size(rings); r++) {
		const json_t *ring = json_array_get(rings, r);
		for (size_t i = 0; i + 1 < json_array_size(ring); i++) {
			const json_t *a = json_array_get(ring, i), *b = json_array_get(ring, i + 1);
			best = fmin(best, seg_dist(x, y, json_real_value(json_array_get(a, 0)), json_real_value(json_array_get(a, 1)),
						   json_real_value(json_array_get(b, 0)), json_real_value(json_array_get(b, 1))));
		}
	}
	return best;
}

static void test_polygons_with_holes_agree_with_geos(void **s)
{
	(void)s;
	GEOSContextHandle_t h = GEOS_init_r();
	enum { NPOLY = 300, NPTS = 40 };
	struct fence_index *fx = fence_index_new();
	json_t *geoms[NPOLY];
	GEOSGeometry *gg[NPOLY];
	char ids[NPOLY][16];
	for (int i = 0; i < NPOLY; i++) {
		double cx = 61 + rnd() * 16, cy = 24 + rnd() * 12, size = 0.01 + rnd() * 0.5;
		json_t *rings = json_array();
		json_array_append_new(rings, star(cx, cy, 0.5 * size, size, 5 + (int)(rnd() * 30), 1));
		if (i % 2)
			json_array_append_new(rings, star(cx, cy, 0.1 * size, 0.25 * size, 4 + (int)(rnd() * 8), 1));
		geoms[i] = json_pack("{s:s,s:o}", "type", "Polygon", "coordinates", rings);
		gg[i] = to_geos(h, geoms[i]);
		assert_non_null(gg[i]);
		assert_int_equal(GEOSisValid_r(h, gg[i]), 1);
		snprintf(ids[i], sizeof(ids[i]), "zon_%05d", i);
		struct fence_def d = {.id = ids[i], .org = "org_a", .type = 'z', .level = 1 + i % 6,
				      .geometry = geoms[i], .from_ms = INT64_MIN, .to_ms = INT64_MAX};
		assert_int_equal(fence_index_add(fx, &d), 0);
	}
	int checked = 0, inside = 0;
	for (int i = 0; i < NPOLY; i++) {
		const json_t *rings = json_object_get(geoms[i], "coordinates");
		const json_t *shell = json_array_get(rings, 0);
		for (int k = 0; k < NPTS; k++) {
			double x, y;
			if (k < 3) { /* a vertex: on the boundary */
				const json_t *v = json_array_get(shell, (size_t)k);
				x = json_real_value(json_array_get(v, 0));
				y = json_real_value(json_array_get(v, 1));
			} else {
				const json_t *v = json_array_get(shell, 0);
				double cx = json_real_value(json_array_get(v, 0)), cy = json_real_value(json_array_get(v, 1));
				x = cx + (rnd() - 0.5) * 1.2, y = cy + (rnd() - 0.5) * 1.2;
			}
			struct fence_hit hits[NPOLY];
			size_t n = fence_index_at(fx, y, x, 0, hits, NPOLY);
			for (int j = 0; j < NPOLY; j++) {
				const json_t *rj = json_object_get(geoms[j], "coordinates");
				double bx0, by0, bx1, by1;
				GEOSGeom_getXMin_r(h, gg[j], &bx0);
				GEOSGeom_getYMin_r(h, gg[j], &by0);
				GEOSGeom_getXMax_r(h, gg[j], &bx1);
				GEOSGeom_getYMax_r(h, gg[j], &by1);
				bool near_box = x >= bx0 - 1e-6 && x <= bx1 + 1e-6 && y >= by0 - 1e-6 && y <= by1 + 1e-6;
				if (k >= 3 && near_box && edge_dist(rj, x, y) < 1e-7)
					continue; /* too close to call in floating point */
				bool want = false;
				if (x >= bx0 && x <= bx1 && y >= by0 && y <= by1) { /* outside the box: outside */
					GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, x, y);
					want = GEOSIntersects_r(h, gg[j], pt) == 1;
					GEOSGeom_destroy_r(h, pt);
				}
				bool got = false;
				for (size_t m = 0; m < n; m++)
					got = got || strcmp(hits[m].id, ids[j]) == 0;
				if (got != want)
					fprintf(stderr, "polygon %d point %d (%.12f, %.12f): index %d, GEOS %d\n", j, k, x, y, got, want);
				assert_int_equal(got, want);
				if (want || (x >= bx0 && x <= bx1 && y >= by0 && y <= by1))
					assert_int_equal(fence_polygon_contains(rj, y, x), want);
				checked++;
				inside += want;
			}
		}
	}
	assert_true(checked > 1000000 && inside > 500);
	for (int i = 0; i < NPOLY; i++) {
		GEOSGeom_destroy_r(h, gg[i]);
		json_decref(geoms[i]);
	}
	fence_index_free(fx);
	GEOS_finish_r(h);
}

static void test_circles_agree_with_geodesic_distance(void **s)
{
	(void)s;
	struct fence_index *fx = fence_index_new();
	enum { N = 400 };
	double lat[N], lon[N], r[N];
	char ids[N][16];
	for (int i = 0; i < N; i++) {
		lat[i] = -80 + rnd() * 160, lon[i] = -180 + rnd() * 360, r[i] = 50 + rnd() * 200000;
		json_t *g = json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates", lon[i], lat[i]);
		snprintf(ids[i], sizeof(ids[i]), "sit_%05d", i);
		struct fence_def d = {.id = ids[i], .org = "o", .type = 's', .geometry = g, .radius_m = r[i],
				      .from_ms = INT64_MIN, .to_ms = INT64_MAX};
		assert_int_equal(fence_index_add(fx, &d), 0);
		json_decref(g);
	}
	for (int q = 0; q < 5000; q++) {
		int c = (int)(rnd() * N);
		double la = lat[c] + (rnd() - 0.5) * 4 * r[c] / 111000, lo = lon[c] + (rnd() - 0.5) * 4 * r[c] / 111000;
		la = fmax(-90, fmin(90, la));
		lo = lo > 180 ? lo - 360 : lo < -180 ? lo + 360 : lo;
		struct fence_hit hits[N];
		size_t n = fence_index_at(fx, la, lo, 0, hits, N);
		for (int j = 0; j < N; j++) {
			bool want = geo_distance_m(lat[j], lon[j], la, lo) <= r[j], got = false;
			for (size_t m = 0; m < n; m++)
				got = got || strcmp(hits[m].id, ids[j]) == 0;
			if (want != got)
				fprintf(stderr, "circle %d at %f,%f r=%f point %f,%f\n", j, lat[j], lon[j], r[j], la, lo);
			assert_int_equal(got, want);
		}
	}
	fence_index_free(fx);
}

static void test_edges_vertices_holes_and_validity(void **s)
{
	(void)s;
	json_t *g = json_loads("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[4,0],[4,4],[0,4],[0,0]],"
			       "[[1,1],[1,3],[3,3],[3,1],[1,1]]]}", 0, NULL);
	struct fence_index *fx = fence_index_new();
	struct fence_def d = {.id = "zon_sq", .org = "o", .type = 'z', .level = 4, .geometry = g,
			      .from_ms = 1000, .to_ms = 2000};
	assert_int_equal(fence_index_add(fx, &d), 0);
	struct fence_hit h[4];
	struct { double lat, lon; int in; } pts[] = {
		{0.5, 0.5, 1}, {2, 2, 0},   /* body, hole */
		{0, 2, 1}, {2, 0, 1},       /* on the shell's edges (lat, lon) */
		{4, 4, 1}, {0, 0, 1},       /* shell vertices */
		{1, 2, 1}, {3, 3, 1},       /* on the hole's edge and vertex: the boundary is the zone's */
		{4.0000001, 2, 0}, {-0.0000001, 2, 0},
	};
	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
		assert_int_equal(fence_index_at(fx, pts[i].lat, pts[i].lon, 1500, h, 4), (size_t)pts[i].in);
	assert_int_equal(fence_index_at(fx, 0.5, 0.5, 999, h, 4), 0);  /* before valid_from */
	assert_int_equal(fence_index_at(fx, 0.5, 0.5, 1000, h, 4), 1); /* from is inclusive */
	assert_int_equal(fence_index_at(fx, 0.5, 0.5, 2000, h, 4), 0); /* to is exclusive */
	assert_int_equal(h[0].level, 4);
	fence_index_free(fx);
	json_decref(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polygons_with_holes_agree_with_geos),
		cmocka_unit_test(test_circles_agree_with_geodesic_distance),
		cmocka_unit_test(test_edges_vertices_holes_and_validity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
