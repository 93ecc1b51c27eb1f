/* geo/live: every query agrees with a brute-force computation over the same
 * random points (geodesic distances from PROJ), including the antimeridian
 * and the poles; an older report never overwrites a newer latest position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "geo/geodesic.h"
#include "geo/live.h"

#include <geodesic.h>

#define N 6000

static double plat[N], plon[N];
static uint16_t porg[N];
static unsigned seed = 12345;

static double rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (double)((seed >> 8) & 0xFFFFFF) / (double)0x1000000;
}

static void id_of(int i, char *out)
{
	snprintf(out, LIVE_ID_MAX, "dev_%026d", i);
}

static struct live *fill(void)
{
	struct live *lv = live_new();
	for (int i = 0; i < N; i++) {
		if (i < N * 8 / 10) { /* most over Pakistan */
			plat[i] = 24 + rnd() * 13;
			plon[i] = 61 + rnd() * 16;
		} else if (i < N * 9 / 10) { /* along the antimeridian */
			plat[i] = -60 + rnd() * 120;
			plon[i] = rnd() < 0.5 ? 179 + rnd() : -180 + rnd();
		} else { /* near the poles and anywhere */
			plat[i] = rnd() < 0.3 ? 89 + rnd() : -90 + rnd() * 180;
			plon[i] = -180 + rnd() * 360;
		}
		porg[i] = (uint16_t)(i % 3);
		char id[LIVE_ID_MAX];
		id_of(i, id);
		assert_int_equal(live_update(lv, id, porg[i], plat[i], plon[i], 1000 + i), 1);
	}
	return lv;
}

static bool only_org1(void *ctx, uint16_t org)
{
	(void)ctx;
	return org == 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_radius_agrees_with_brute_force(void **s)
{
	(void)s;
	struct live *lv = fill();
	for (int q = 0; q < 400; q++) {
		int base = (int)(rnd() * N);
		double lat = plat[base] + (rnd() - 0.5) * 0.2, lon = plon[base] + (rnd() - 0.5) * 0.2;
		lat = fmax(-90, fmin(90, lat));
		lon = lon > 180 ? lon - 360 : lon < -180 ? lon + 360 : lon;
		double r = q % 4 == 0 ? 100 + rnd() * 1000 : q % 4 == 1 ? 5000 : q % 4 == 2 ? 50000 : rnd() * 500000;
		bool filt = q % 5 == 0;
		struct live_hit *h;
		size_t n;
		live_radius(lv, lat, lon, r, filt ? only_org1 : NULL, NULL, &h, &n);
		char (*want)[LIVE_ID_MAX] = calloc(N, LIVE_ID_MAX), (*got)[LIVE_ID_MAX] = calloc(n + 1, LIVE_ID_MAX);
		size_t w = 0;
		for (int i = 0; i < N; i++)
			if ((!filt || porg[i] == 1) && geo_distance_m(lat, lon, plat[i], plon[i]) <= r)
				id_of(i, want[w++]);
		for (size_t i = 0; i < n; i++) {
			memcpy(got[i], h[i].id, LIVE_ID_MAX);
			assert_true(fabs(h[i].dist_m - geo_distance_m(lat, lon, h[i].lat, h[i].lon)) <= r * 0.007 + 1e-6);
		}
		qsort(want, w, LIVE_ID_MAX, cmp_str);
		qsort(got, n, LIVE_ID_MAX, cmp_str);
		if (n != w)
			fprintf(stderr, "query %d at %f,%f r=%f: index %zu, brute force %zu\n", q, lat, lon, r, n, w);
		assert_int_equal(n, w);
		assert_memory_equal(got, want, n * LIVE_ID_MAX);
		assert_int_equal(live_radius_count(lv, lat, lon, r, filt ? only_org1 : NULL, NULL), w);
		free(h);
		free(want);
		free(got);
	}
	live_free(lv);
}

/* Points placed at r (1 +- e) from the centre with PROJ's direct geodesic,
 * for radii from 10 m to 100 km, at every latitude the local estimate is used
 * (and beyond) and across the antimeridian: the ones inside are counted, the
 * ones outside are not. An estimate whose error exceeded the band handed to
 * the exact geodesic would count an outside point or miss an inside one. */
static void test_points_at_the_radius_edge_are_decided_exactly(void **s)
{
	(void)s;
	struct geod_geodesic g;
	geod_init(&g, 6378137, 1 / 298.257223563);
	static const double eps[] = {-1e-3, -1e-4, -1e-5, -1e-6, -1e-7, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3};
	const int ne = (int)(sizeof(eps) / sizeof(eps[0]));
	for (int q = 0; q < 3000; q++) {
		struct live *lv = live_new();
		double lat = -87 + rnd() * 174, lon = q % 7 == 0 ? 179.9 + rnd() * 0.1 : -180 + rnd() * 360;
		double r = pow(10, 1 + rnd() * 4 + (q % 11 == 0 ? 1 : 0)); /* 10 m .. 100 km, some 1000 km */
		int inside = 0, id = 0;
		for (int k = 0; k < 4; k++) {
			for (int e = 0; e < ne; e++) {
				double plat2, plon2, azi2, az = rnd() * 360;
				geod_direct(&g, lat, lon, az, r * (1 + eps[e]), &plat2, &plon2, &azi2);
				char name[LIVE_ID_MAX];
				id_of(id++, name);
				assert_int_equal(live_update(lv, name, 0, plat2, plon2, 1), 1);
				inside += eps[e] < 0;
			}
		}
		size_t got = live_radius_count(lv, lat, lon, r, NULL, NULL);
		if (got != (size_t)inside)
			fprintf(stderr, "centre %.6f,%.6f r=%.3f: counted %zu, inside %d\n", lat, lon, r, got, inside);
		assert_int_equal(got, inside);
		struct live_hit *h;
		size_t n;
		live_radius(lv, lat, lon, r, NULL, NULL, &h, &n);
		assert_int_equal(n, inside);
		for (size_t i = 0; i < n; i++)
			assert_true(fabs(h[i].dist_m - geo_distance_m(lat, lon, h[i].lat, h[i].lon)) <= r * 1e-3 + 0.05);
		free(h);
		live_free(lv);
	}
}

static void test_bbox_agrees_with_brute_force(void **s)
{
	(void)s;
	struct live *lv = fill();
	for (int q = 0; q < 300; q++) {
		double a = -180 + rnd() * 360, b = q % 3 == 0 ? -180 + rnd() * 360 : a + rnd() * 5;
		if (b > 180)
			b -= 360; /* min_lon > max_lon: the box crosses the antimeridian */
		double la = -90 + rnd() * 170, lb = fmin(90, la + rnd() * (q % 2 ? 3 : 60));
		struct live_hit *h;
		size_t n, w = 0;
		bool filt = q % 4 == 0;
		if (q % 50 == 0) /* the whole world, as for a summary-level partner */
			a = -180, b = 180, la = -90, lb = 90;
		live_bbox(lv, a, la, b, lb, filt ? only_org1 : NULL, NULL, &h, &n);
		for (int i = 0; i < N; i++) {
			bool in_lon = a <= b ? plon[i] >= a && plon[i] <= b : plon[i] >= a || plon[i] <= b;
			if (in_lon && plat[i] >= la && plat[i] <= lb && (!filt || porg[i] == 1))
				w++;
		}
		assert_int_equal(n, w);
		for (size_t i = 0; i < n; i++)
			assert_true(h[i].lat >= la && h[i].lat <= lb && (!filt || h[i].org == 1));
		free(h);
	}
	live_free(lv);
}

/* More hits than the first allocation holds (16,384): the array grows and
 * keeps every hit. */
static void test_a_large_answer_keeps_every_hit(void **s)
{
	(void)s;
	struct live *lv = live_new();
	enum { M = 40000 };
	for (int i = 0; i < M; i++) {
		char id[LIVE_ID_MAX];
		id_of(i, id);
		assert_int_equal(live_update(lv, id, (uint16_t)(i % 2), 33 + (i % 200) * 0.001, 73 + (i / 200) * 0.001, 1), 1);
	}
	struct live_hit *h;
	size_t n;
	live_bbox(lv, 72.9, 32.9, 73.5, 33.5, NULL, NULL, &h, &n);
	assert_int_equal(n, M);
	char *seen = calloc(M, 1);
	for (size_t i = 0; i < n; i++) {
		int k = atoi(h[i].id + 4);
		assert_true(k >= 0 && k < M && !seen[k]);
		seen[k] = 1;
	}
	free(h);
	live_radius(lv, 33.1, 73.1, 50000, only_org1, NULL, &h, &n);
	assert_int_equal(n, M / 2);
	free(h);
	free(seen);
	live_free(lv);
}

static void test_nearest_agrees_with_brute_force(void **s)
{
	(void)s;
	struct live *lv = fill();
	static double d[N];
	for (int q = 0; q < 100; q++) {
		double lat = -89 + rnd() * 178, lon = -180 + rnd() * 360;
		if (q % 2)
			lat = 24 + rnd() * 13, lon = 61 + rnd() * 16;
		size_t k = 1 + (size_t)(rnd() * 20);
		struct live_hit *h;
		size_t n;
		live_nearest(lv, lat, lon, k, NULL, NULL, &h, &n);
		for (int i = 0; i < N; i++)
			d[i] = geo_distance_m(lat, lon, plat[i], plon[i]);
		assert_int_equal(n, k);
		for (size_t i = 0; i < n; i++) {
			/* exactly i points are strictly closer than the i-th hit */
			size_t closer = 0;
			for (int j = 0; j < N; j++)
				closer += d[j] < h[i].dist_m - 1e-6;
			assert_true(closer <= i);
			if (i)
				assert_true(h[i].dist_m >= h[i - 1].dist_m);
		}
		free(h);
	}
	live_free(lv);
}

static void test_older_report_never_overwrites_and_moves_between_cells(void **s)
{
	(void)s;
	struct live *lv = live_new();
	struct live_hit h;
	assert_int_equal(live_update(lv, "dev_a", 0, 24.9, 67.1, 2000), 1);
	assert_int_equal(live_update(lv, "dev_a", 0, 10, 10, 1000), 0); /* older */
	assert_int_equal(live_update(lv, "dev_a", 0, 10, 10, 2000), 0); /* same time */
	assert_int_equal(live_get(lv, "dev_a", &h), 0);
	assert_true(h.lat == 24.9 && h.time_ms == 2000);
	assert_int_equal(live_update(lv, "dev_a", 0, 35.3, 73.2, 3000), 1); /* moved far */
	struct live_hit *hs;
	size_t n;
	live_radius(lv, 24.9, 67.1, 1000, NULL, NULL, &hs, &n);
	assert_int_equal(n, 0);
	free(hs);
	live_radius(lv, 35.3, 73.2, 10, NULL, NULL, &hs, &n);
	assert_int_equal(n, 1);
	free(hs);
	assert_int_equal(live_update(lv, "dev_a", 0, 91, 0, 4000), SG_EINVAL);
	assert_int_equal(live_update(lv, "", 0, 1, 0, 4000), SG_EINVAL);
	live_remove(lv, "dev_a");
	assert_int_equal(live_get(lv, "dev_a", &h), SG_ENOTFOUND);
	assert_int_equal(live_count(lv), 0);
	live_free(lv);
}

static void test_many_updates_and_removals_keep_tables_consistent(void **s)
{
	(void)s;
	struct live *lv = live_new();
	char id[LIVE_ID_MAX];
	static double la[20000], lo[20000];
	/* Rounds over the whole world (sparse tiles) and within half a degree
	 * (dense cells that outgrow their room and get laid out again). */
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 20000; i++) {
			id_of(i, id);
			la[i] = round % 2 ? 33 + rnd() * 0.5 : -80 + rnd() * 160;
			lo[i] = round % 2 ? 73 + rnd() * 0.5 : -180 + rnd() * 360;
			live_update(lv, id, 0, la[i], lo[i], round * 100000 + i + 1);
		}
		for (int i = 0; i < 20000; i += 3) {
			id_of(i, id);
			live_remove(lv, id);
		}
	}
	assert_int_equal(live_count(lv), 20000 - 6667);
	struct live_hit *h;
	size_t n;
	live_bbox(lv, -180, -90, 180, 90, NULL, NULL, &h, &n);
	assert_int_equal(n, 20000 - 6667);
	free(h);
	live_bbox(lv, 73, 33, 73.5, 33.5, NULL, NULL, &h, &n);
	assert_int_equal(n, 20000 - 6667); /* the last round was the dense one */
	free(h);
	for (int i = 0; i < 20000; i++) {
		struct live_hit one;
		id_of(i, id);
		assert_int_equal(live_get(lv, id, &one), i % 3 == 0 ? SG_ENOTFOUND : 0);
		if (i % 3)
			assert_true(one.lat == la[i] && one.lon == lo[i] && strcmp(one.id, id) == 0);
	}
	live_free(lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_radius_agrees_with_brute_force),
		cmocka_unit_test(test_a_large_answer_keeps_every_hit),
		cmocka_unit_test(test_points_at_the_radius_edge_are_decided_exactly),
		cmocka_unit_test(test_bbox_agrees_with_brute_force),
		cmocka_unit_test(test_nearest_agrees_with_brute_force),
		cmocka_unit_test(test_older_report_never_overwrites_and_moves_between_cells),
		cmocka_unit_test(test_many_updates_and_removals_keep_tables_consistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
