/* Geofence index; see fence.h. */
#include "geo/fence.h"

#include "core/err.h"
#include "core/util.h"
#include "geo/geodesic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FCELL 0.1
#define F_LAT 1800
#define F_LON 3600
#define MAX_CELLS_PER_FENCE 4096

struct ring {
	double *xy; /* lon, lat pairs, closed */
	size_t n;   /* points */
};

struct fence {
	struct fence_hit hit;
	double min_lon, min_lat, max_lon, max_lat;
	bool circle;
	double lat, lon, r;
	struct ring *rings; /* all rings of all polygons: even-odd over all of them */
	size_t nrings;
	size_t *poly_start; /* index of each polygon's first ring (MultiPolygon) */
	size_t npolys;
	int64_t from_ms, to_ms;
};

struct fcell {
	uint32_t key; /* 0 = empty */
	uint32_t n, cap;
	uint32_t *items;
};

struct fence_index {
	struct fence *f;
	size_t n, cap;
	struct fcell *cells;
	uint32_t cellcap, ncells;
	uint32_t *big; /* fences too large for the grid: always tested */
	size_t nbig, capbig;
};

struct fence_index *fence_index_new(void)
{
	struct fence_index *fx = xcalloc(1, sizeof(*fx));
	fx->cellcap = 256;
	fx->cells = xcalloc(fx->cellcap, sizeof(*fx->cells));
	return fx;
}

void fence_index_free(struct fence_index *fx)
{
	if (!fx)
		return;
	for (size_t i = 0; i < fx->n; i++) {
		for (size_t r = 0; r < fx->f[i].nrings; r++)
			free(fx->f[i].rings[r].xy);
		free(fx->f[i].rings);
		free(fx->f[i].poly_start);
	}
	free(fx->f);
	for (uint32_t i = 0; i < fx->cellcap; i++)
		free(fx->cells[i].items);
	free(fx->cells);
	free(fx->big);
	free(fx);
}

size_t fence_index_count(const struct fence_index *fx)
{
	return fx->n;
}

static uint32_t hash_u32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ (x >> 16);
}

static struct fcell *cell_find(const struct fence_index *fx, uint32_t key)
{
	uint32_t mask = fx->cellcap - 1, i = hash_u32(key) & mask;
	while (fx->cells[i].key && fx->cells[i].key != key)
		i = (i + 1) & mask;
	return &fx->cells[i];
}

static void cell_add(struct fence_index *fx, uint32_t key, uint32_t fence)
{
	if ((fx->ncells + 1) * 2 > fx->cellcap) {
		struct fcell *old = fx->cells;
		uint32_t oldcap = fx->cellcap;
		fx->cellcap *= 2;
		fx->cells = xcalloc(fx->cellcap, sizeof(*fx->cells));
		for (uint32_t i = 0; i < oldcap; i++)
			if (old[i].key)
				*cell_find(fx, old[i].key) = old[i];
		free(old);
	}
	struct fcell *c = cell_find(fx, key);
	if (!c->key) {
		c->key = key;
		fx->ncells++;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4;
		c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
	}
	c->items[c->n++] = fence;
}

static int cell_lat(double lat)
{
	int v = (int)floor((lat + 90) / FCELL);
	return v < 0 ? 0 : v >= F_LAT ? F_LAT - 1 : v;
}

static int cell_lon(double lon)
{
	int v = (int)floor((lon + 180) / FCELL);
	return v < 0 ? 0 : v >= F_LON ? F_LON - 1 : v;
}

static int add_ring(struct fence *f, const json_t *ring)
{
	size_t n = json_array_size(ring);
	if (n < 4)
		return SG_EINVAL;
	struct ring r = {xmalloc(2 * n * sizeof(double)), n};
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(ring, i);
		r.xy[2 * i] = json_number_value(json_array_get(p, 0));
		r.xy[2 * i + 1] = json_number_value(json_array_get(p, 1));
		f->min_lon = fmin(f->min_lon, r.xy[2 * i]);
		f->max_lon = fmax(f->max_lon, r.xy[2 * i]);
		f->min_lat = fmin(f->min_lat, r.xy[2 * i + 1]);
		f->max_lat = fmax(f->max_lat, r.xy[2 * i + 1]);
	}
	f->rings = xrealloc(f->rings, (f->nrings + 1) * sizeof(*f->rings));
	f->rings[f->nrings++] = r;
	return 0;
}

int fence_index_add(struct fence_index *fx, const struct fence_def *def)
{
	struct fence f;
	memset(&f, 0, sizeof(f));
	sg_strlcpy(f.hit.id, def->id, sizeof(f.hit.id));
	sg_strlcpy(f.hit.org, def->org, sizeof(f.hit.org));
	f.hit.type = def->type;
	f.hit.level = def->level;
	f.from_ms = def->from_ms;
	f.to_ms = def->to_ms;
	f.min_lon = f.min_lat = INFINITY;
	f.max_lon = f.max_lat = -INFINITY;
	const char *type = json_string_value(json_object_get(def->geometry, "type"));
	const json_t *c = json_object_get(def->geometry, "coordinates");
	int rc = 0;
	if (str_eq(type, "Point")) {
		f.circle = true;
		f.lon = json_number_value(json_array_get(c, 0));
		f.lat = json_number_value(json_array_get(c, 1));
		f.r = def->radius_m;
		double dlat = f.r / 110574.0 * 1.01, dlon = f.r / (111319.0 * fmax(cos((fabs(f.lat) + dlat) * M_PI / 180), 0.001)) * 1.01;
		f.min_lat = f.lat - dlat, f.max_lat = f.lat + dlat;
		f.min_lon = f.lon - dlon, f.max_lon = f.lon + dlon;
		if (!(f.r > 0))
			rc = SG_EINVAL;
	} else if (str_eq(type, "Polygon") || str_eq(type, "MultiPolygon")) {
		bool multi = str_eq(type, "MultiPolygon");
		size_t np = multi ? json_array_size(c) : 1;
		f.poly_start = xcalloc(np, sizeof(*f.poly_start));
		f.npolys = np;
		for (size_t p = 0; p < np && !rc; p++) {
			const json_t *poly = multi ? json_array_get(c, p) : c;
			f.poly_start[p] = f.nrings;
			for (size_t r = 0; r < json_array_size(poly) && !rc; r++)
				rc = add_ring(&f, json_array_get(poly, r));
		}
	} else {
		rc = SG_EINVAL;
	}
	if (rc) {
		for (size_t r = 0; r < f.nrings; r++)
			free(f.rings[r].xy);
		free(f.rings);
		free(f.poly_start);
		return SG_EINVAL;
	}
	if (fx->n == fx->cap) {
		fx->cap = fx->cap ? fx->cap * 2 : 64;
		fx->f = xrealloc(fx->f, fx->cap * sizeof(*fx->f));
	}
	uint32_t idx = (uint32_t)fx->n;
	fx->f[fx->n++] = f;
	int la0 = cell_lat(f.min_lat), la1 = cell_lat(f.max_lat);
	bool wraps = f.min_lon < -180 || f.max_lon > 180;
	int lo0 = cell_lon(f.min_lon), lo1 = cell_lon(f.max_lon);
	if (wraps || (int64_t)(la1 - la0 + 1) * (lo1 - lo0 + 1) > MAX_CELLS_PER_FENCE) {
		if (fx->nbig == fx->capbig) {
			fx->capbig = fx->capbig ? fx->capbig * 2 : 16;
			fx->big = xrealloc(fx->big, fx->capbig * sizeof(*fx->big));
		}
		fx->big[fx->nbig++] = idx;
		return 0;
	}
	for (int la = la0; la <= la1; la++)
		for (int lo = lo0; lo <= lo1; lo++)
			cell_add(fx, (uint32_t)(la * F_LON + lo + 1), idx);
	return 0;
}

/* Is (x, y) on the segment a-b (within a nanodegree)? */
static bool on_segment(double x, double y, double ax, double ay, double bx, double by)
{
	const double eps = 1e-9;
	/* Outside the segment's box (the common case): no square root needed. */
	if (x < fmin(ax, bx) - eps || x > fmax(ax, bx) + eps || y < fmin(ay, by) - eps ||
	    y > fmax(ay, by) + eps)
		return false;
	double cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
	return fabs(cross) <= eps * fmax(hypot(bx - ax, by - ay), 1e-12);
}

/* Even-odd crossing count of one ring; -1 when the point is on the ring. */
static int ring_crossings(const double *xy, size_t n, double x, double y)
{
	int c = 0;
	for (size_t i = 0, j = n - 1; i < n; j = i++) {
		double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
		if (on_segment(x, y, xi, yi, xj, yj))
			return -1;
		if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
			c ^= 1;
	}
	return c;
}

static bool polygon_contains(const struct ring *rings, size_t n, double lat, double lon)
{
	int inside = 0;
	for (size_t r = 0; r < n; r++) {
		int c = ring_crossings(rings[r].xy, rings[r].n, lon, lat);
		if (c < 0)
			return true; /* on the shell or a hole's edge: inside */
		inside ^= c;
	}
	return inside;
}

int fence_polygon_contains(const json_t *rings, double lat, double lon)
{
	struct fence f;
	memset(&f, 0, sizeof(f));
	f.min_lon = f.min_lat = INFINITY;
	f.max_lon = f.max_lat = -INFINITY;
	for (size_t r = 0; r < json_array_size(rings); r++)
		if (add_ring(&f, json_array_get(rings, r)))
			return SG_EINVAL;
	int in = polygon_contains(f.rings, f.nrings, lat, lon);
	for (size_t r = 0; r < f.nrings; r++)
		free(f.rings[r].xy);
	free(f.rings);
	return in;
}

static bool contains(const struct fence *f, double lat, double lon)
{
	if (f->circle) {
		double h = geo_haversine_m(f->lat, f->lon, lat, lon);
		if (h > f->r * (1 + GEO_HAVERSINE_REL_ERR) + 1e-6)
			return false;
		if (h < f->r * (1 - GEO_HAVERSINE_REL_ERR) - 1e-6)
			return true;
		return geo_distance_m(f->lat, f->lon, lat, lon) <= f->r;
	}
	if (lat < f->min_lat || lat > f->max_lat || lon < f->min_lon || lon > f->max_lon)
		return false;
	/* Polygons of a MultiPolygon are tested one by one (their rings apart). */
	for (size_t p = 0; p < f->npolys; p++) {
		size_t end = p + 1 < f->npolys ? f->poly_start[p + 1] : f->nrings;
		if (polygon_contains(f->rings + f->poly_start[p], end - f->poly_start[p], lat, lon))
			return true;
	}
	return false;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct fence_hit *)a)->id, ((const struct fence_hit *)b)->id);
}

size_t fence_index_at(const struct fence_index *fx, double lat, double lon, int64_t t_ms,
		      struct fence_hit *out, size_t max)
{
	size_t n = 0;
	const struct fcell *c = cell_find(fx, (uint32_t)(cell_lat(lat) * F_LON + cell_lon(lon) + 1));
	for (int pass = 0; pass < 2; pass++) {
		const uint32_t *items = pass ? fx->big : c->items;
		size_t cnt = pass ? fx->nbig : (c->key ? c->n : 0);
		for (size_t i = 0; i < cnt; i++) {
			const struct fence *f = &fx->f[items[i]];
			if (t_ms < f->from_ms || t_ms >= f->to_ms)
				continue;
			if (!contains(f, lat, lon))
				continue;
			if (n < max)
				out[n] = f->hit;
			n++;
		}
	}
	qsort(out, n < max ? n : max, sizeof(*out), by_id);
	return n;
}
