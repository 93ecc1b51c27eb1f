/* In-process benchmark of the live index and the fence index, side by side
 * with Redis GEOSEARCH over loopback on the same points, radii and result
 * counts (one connection, one query at a time), in the same run.
 *   live_bench REDIS_PORT [devices] [zones] [zones.tsv] [devices.tsv]
 * (the TSV files receive the zones as WKT for PostGIS and the devices'
 * positions for the HTTP benchmark's store)
 * Prints one line per measurement; bench/positions.sh runs it. */
#include "geo/fence.h"
#include "geo/live.h"
#include "bench_util.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long seed = 88172645463325252ull;
static double rnd(void)
{
	seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
	return (double)(seed >> 11) / 9007199254740992.0;
}


#define Q 20000

static double *lat, *lon;
static size_t ndev;

static void centre(double *la, double *lo)
{
	/* Random centres, not one fixed point: a fixed centre stays in cache. */
	size_t i = (size_t)(rnd() * (double)ndev);
	*la = lat[i] + (rnd() - 0.5) * 0.05;
	*lo = lon[i] + (rnd() - 0.5) * 0.05;
}

struct result {
	double qps, p50_us, avg_hits;
};

static struct result run_live(struct live *lv, const char *what, double radius, size_t k, int all)
{
	static double t[Q];
	double hits = 0, t0 = now_s();
	for (int q = 0; q < Q; q++) {
		double la, lo;
		centre(&la, &lo); /* picking the centre is the benchmark's work, not timed */
		double s = now_s();
		if (k) {
			struct live_hit *h;
			size_t n;
			live_nearest(lv, la, lo, k, NULL, NULL, &h, &n);
			hits += (double)n;
			free(h);
		} else if (all) {
			struct live_hit *h;
			size_t n;
			live_radius(lv, la, lo, radius, NULL, NULL, &h, &n);
			hits += (double)n;
			free(h);
		} else {
			hits += (double)live_radius_count(lv, la, lo, radius, NULL, NULL);
		}
		t[q] = now_s() - s;
	}
	double el = 0;
	for (int q = 0; q < Q; q++)
		el += t[q]; /* the queries' own time */
	(void)t0;
	qsort(t, Q, sizeof(double), cmp_d);
	struct result r = {Q / el, t[Q / 2] * 1e6, hits / Q};
	printf("safeguard-inproc %-22s %10.0f q/s  p50 %8.2f us  avg hits %.1f\n", what, r.qps, r.p50_us, r.avg_hits);
	return r;
}

static struct result run_redis(redisContext *c, const char *what, double radius, size_t k, int all)
{
	static double t[Q];
	int nq = Q / 4;
	double hits = 0, t0 = now_s();
	for (int q = 0; q < nq; q++) {
		double la, lo;
		centre(&la, &lo);
		double s = now_s();
		redisReply *rep;
		if (k)
			rep = redisCommand(c, "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS %f m ASC COUNT %d", lo, la,
					   50000.0, (int)k);
		else if (all == 2) /* what live_radius returns: id, position and distance */
			rep = redisCommand(c, "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS %f m WITHCOORD WITHDIST",
					   lo, la, radius);
		else if (all)
			rep = redisCommand(c, "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS %f m", lo, la, radius);
		else
			rep = redisCommand(c, "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS %f m", lo, la, radius);
		if (!rep || rep->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "redis: %s\n", rep ? rep->str : c->errstr);
			exit(1);
		}
		hits += (double)rep->elements;
		freeReplyObject(rep);
		t[q] = now_s() - s;
	}
	double el = 0;
	for (int q = 0; q < nq; q++)
		el += t[q];
	(void)t0;
	qsort(t, (size_t)nq, sizeof(double), cmp_d);
	struct result r = {nq / el, t[nq / 2] * 1e6, hits / nq};
	printf("redis-geosearch  %-22s %10.0f q/s  p50 %8.2f us  avg hits %.1f\n", what, r.qps, r.p50_us, r.avg_hits);
	return r;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0;
	ndev = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
	size_t nzones = argc > 3 ? (size_t)atol(argv[3]) : 10000;
	FILE *wkt = argc > 4 ? fopen(argv[4], "w") : NULL; /* the zones as WKT, for PostGIS */
	FILE *pts = argc > 5 ? fopen(argv[5], "w") : NULL; /* the devices, for the HTTP benchmark */
	lat = malloc(ndev * sizeof(double));
	lon = malloc(ndev * sizeof(double));
	struct live *lv = live_new();
	char id[LIVE_ID_MAX];
	double t0 = now_s();
	for (size_t i = 0; i < ndev; i++) {
		lat[i] = 24 + rnd() * 13; /* Pakistan: 24-37 N, 61-77 E */
		lon[i] = 61 + rnd() * 16;
		snprintf(id, sizeof(id), "dev_%026zu", i);
		live_update(lv, id, 0, lat[i], lon[i], 1);
		if (pts)
			fprintf(pts, "%s\t%.7f\t%.7f\n", id, lat[i], lon[i]);
	}
	if (pts)
		fclose(pts);
	double build = now_s() - t0;
	printf("live index: %zu devices loaded in %.2f s (%.0f updates/s), %.1f bytes/device\n", ndev, build,
	       (double)ndev / build, (double)live_memory(lv) / (double)ndev);

	redisContext *c = port ? redisConnect("127.0.0.1", port) : NULL;
	if (c && !c->err) {
		for (size_t i = 0; i < ndev; i += 1000) {
			for (size_t j = i; j < i + 1000 && j < ndev; j++)
				redisAppendCommand(c, "GEOADD devs %f %f d%lu", lon[j], lat[j], (unsigned long)j);
			for (size_t j = i; j < i + 1000 && j < ndev; j++) {
				redisReply *rep;
				redisGetReply(c, (void **)&rep);
				freeReplyObject(rep);
			}
		}
	}
	struct { const char *name; double r; size_t k; int all; } cases[] = {
		{"radius 5 km (count)", 5000, 0, 0}, {"radius 5 km (all)", 5000, 0, 1},
		{"radius 50 km (count)", 50000, 0, 0}, {"radius 50 km (all)", 50000, 0, 1},
		{"nearest 10", 0, 10, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seed = 42 + i;
		struct result a = run_live(lv, cases[i].name, cases[i].r, cases[i].k, cases[i].all);
		if (c && !c->err) {
			seed = 42 + i;
			struct result b = run_redis(c, cases[i].name, cases[i].r, cases[i].k, cases[i].all);
			printf("  ratio: %.0fx the rate of Redis (hits %.1f vs %.1f)\n", a.qps / b.qps, a.avg_hits, b.avg_hits);
			if (cases[i].all) {
				/* The same query returning what live_radius returns: ids,
				 * positions and distances (WITHCOORD WITHDIST). */
				seed = 42 + i;
				struct result w = run_redis(c, "  WITHCOORD WITHDIST", cases[i].r, 0, 2);
				printf("  ratio: %.0fx the rate of Redis returning the same fields\n", a.qps / w.qps);
			}
		}
	}

	/* Zones: 10,000 polygons of 36 vertices over the same area. */
	struct fence_index *fx = fence_index_new();
	for (size_t z = 0; z < nzones; z++) {
		double cy = 24 + rnd() * 13, cx = 61 + rnd() * 16, rad = 0.01 + rnd() * 0.1;
		json_t *ring = json_array();
		for (int v = 0; v < 36; v++) {
			double a = 2 * M_PI * v / 36, rr = rad * (0.7 + 0.3 * rnd());
			json_array_append_new(ring, json_pack("[f,f]", cx + rr * cos(a), cy + rr * sin(a)));
		}
		json_array_append(ring, json_array_get(ring, 0));
		if (wkt) {
			fprintf(wkt, "%zu\tSRID=4326;POLYGON((", z);
			for (size_t v = 0; v < json_array_size(ring); v++) {
				json_t *pt = json_array_get(ring, v);
				fprintf(wkt, "%s%.7f %.7f", v ? "," : "", json_real_value(json_array_get(pt, 0)),
					json_real_value(json_array_get(pt, 1)));
			}
			fprintf(wkt, "))\n");
		}
		json_t *g = json_pack("{s:s,s:[o]}", "type", "Polygon", "coordinates", ring);
		char zid[FENCE_ID_MAX];
		snprintf(zid, sizeof(zid), "zon_%026zu", z);
		struct fence_def d = {.id = zid, .org = "org", .type = 'z', .level = 3, .geometry = g,
				      .from_ms = INT64_MIN, .to_ms = INT64_MAX};
		fence_index_add(fx, &d);
		json_decref(g);
	}
	struct fence_hit prev[64], cur[64];
	size_t nprev = 0, changes = 0, inside = 0;
	int nq = 2000000;
	double ts = now_s();
	for (int q = 0; q < nq; q++) {
		double la = 24 + rnd() * 13, lo = 61 + rnd() * 16;
		size_t n = fence_index_at(fx, la, lo, 1, cur, 64);
		inside += n;
		/* enter/exit comparison against the previous tags (sorted by id) */
		size_t i = 0, j = 0;
		while (i < nprev || j < n) {
			int cmp = i == nprev ? 1 : j == n ? -1 : strcmp(prev[i].id, cur[j].id);
			if (cmp == 0)
				i++, j++;
			else if (cmp < 0)
				i++, changes++;
			else
				j++, changes++;
		}
		memcpy(prev, cur, n * sizeof(cur[0]));
		nprev = n;
	}
	double el = now_s() - ts;
	printf("safeguard-inproc zones containing a point (%zu polygons x 36 vertices, with enter/exit diff): %.0f lookups/s, %.2f fences/point, %zu transitions\n",
	       nzones, nq / el, (double)inside / nq, changes);
	if (wkt)
		fclose(wkt);
	fence_index_free(fx);
	live_free(lv);
	if (c)
		redisFree(c);
	free(lat);
	free(lon);
	return 0;
}
