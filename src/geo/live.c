/* Grid-based live index; see live.h. Two open-addressing tables (device id
 * -> slot, cell -> list of slots) over one slot array. */
#include "geo/live.h"

#include "core/err.h"
#include "core/util.h"
#include "geo/geodesic.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CELL_DEG 0.05
#define LAT_CELLS 3600 /* 180 / 0.05 */
#define LON_CELLS 7200 /* 360 / 0.05 */
#define NO_SLOT UINT32_MAX
#define TILE 20 /* cells per tile side */
#define TILES_LAT (LAT_CELLS / TILE)
#define TILES_LON (LON_CELLS / TILE)

struct slot {
	char id[LIVE_ID_MAX]; /* "" = free */
	double lat, lon;
	int64_t time_ms;
	uint32_t cell; /* cell key */
	uint32_t pos;  /* index in the cell's list */
	uint16_t org;
};

/* A cell lists its devices with a float copy of their position, so a query
 * scans contiguous memory and touches a slot only for a hit or a point near
 * the radius' edge. */
struct item {
	uint32_t slot;
	float lat, lon;
};

struct cell {
	uint32_t key; /* lat_idx * LON_CELLS + lon_idx + 1; 0 = empty entry */
	uint32_t n, cap;
	struct item *items;
};

struct live {
	pthread_rwlock_t lock;
	struct slot *slots;
	uint32_t nslots, capslots;
	uint32_t *free_list;
	uint32_t nfree, capfree;
	uint32_t *ids; /* open addressing: slot + 1, 0 = empty */
	uint32_t idcap, count;
	struct cell *cells;
	/* Cells in 1-degree tiles of 20 x 20, allocated when first used: a cell is
	 * found by arithmetic, and neighbouring cells sit next to each other. */
	struct cell **tiles; /* TILES_LAT * TILES_LON */
	uint32_t ntiles;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t cell_of(double lat, double lon)
{
	int la = (int)floor((lat + 90.0) / CELL_DEG), lo = (int)floor((lon + 180.0) / CELL_DEG);
	la = la < 0 ? 0 : la >= LAT_CELLS ? LAT_CELLS - 1 : la;
	lo = lo < 0 ? 0 : lo >= LON_CELLS ? LON_CELLS - 1 : lo;
	return (uint32_t)la * LON_CELLS + (uint32_t)lo + 1;
}

struct live *live_new(void)
{
	struct live *lv = xcalloc(1, sizeof(*lv));
	pthread_rwlock_init(&lv->lock, NULL);
	lv->idcap = 1024;
	lv->ids = xcalloc(lv->idcap, sizeof(*lv->ids));
	lv->tiles = xcalloc((size_t)TILES_LAT * TILES_LON, sizeof(*lv->tiles));
	return lv;
}

void live_free(struct live *lv)
{
	if (!lv)
		return;
	for (size_t t = 0; t < (size_t)TILES_LAT * TILES_LON; t++) {
		if (!lv->tiles[t])
			continue;
		for (int i = 0; i < TILE * TILE; i++)
			free(lv->tiles[t][i].items);
		free(lv->tiles[t]);
	}
	free(lv->tiles);
	free(lv->ids);
	free(lv->slots);
	free(lv->free_list);
	pthread_rwlock_destroy(&lv->lock);
	free(lv);
}

/* --- tables ---------------------------------------------------------------- */

static uint32_t id_find(const struct live *lv, const char *id, uint32_t *at)
{
	uint32_t mask = lv->idcap - 1, i = hash_str(id) & mask;
	for (;;) {
		uint32_t v = lv->ids[i];
		if (!v || strcmp(lv->slots[v - 1].id, id) == 0) {
			if (at)
				*at = i;
			return v ? v - 1 : NO_SLOT;
		}
		i = (i + 1) & mask;
	}
}

static void id_grow(struct live *lv)
{
	uint32_t old = lv->idcap, *ids = lv->ids;
	lv->idcap *= 2;
	lv->ids = xcalloc(lv->idcap, sizeof(*lv->ids));
	for (uint32_t i = 0; i < old; i++) {
		if (!ids[i])
			continue;
		uint32_t at;
		id_find(lv, lv->slots[ids[i] - 1].id, &at);
		lv->ids[at] = ids[i];
	}
	free(ids);
}

/* Linear-probing deletion with backward shift: no tombstones. */
static void id_delete(struct live *lv, uint32_t at)
{
	uint32_t mask = lv->idcap - 1, i = at;
	lv->ids[i] = 0;
	for (uint32_t j = (i + 1) & mask; lv->ids[j]; j = (j + 1) & mask) {
		uint32_t home = hash_str(lv->slots[lv->ids[j] - 1].id) & mask;
		/* Move j back to i when its home is not in the cyclic range (i, j]. */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			lv->ids[i] = lv->ids[j];
			lv->ids[j] = 0;
			i = j;
		}
	}
}

/* The cell for key, or NULL when its tile was never used. */
static struct cell *cell_find(const struct live *lv, uint32_t key)
{
	uint32_t la = (key - 1) / LON_CELLS, lo = (key - 1) % LON_CELLS;
	struct cell *tile = lv->tiles[(la / TILE) * TILES_LON + lo / TILE];
	return tile ? &tile[(la % TILE) * TILE + lo % TILE] : NULL;
}

static struct cell *cell_get(struct live *lv, uint32_t key)
{
	uint32_t la = (key - 1) / LON_CELLS, lo = (key - 1) % LON_CELLS;
	struct cell **tile = &lv->tiles[(la / TILE) * TILES_LON + lo / TILE];
	if (!*tile) {
		*tile = xcalloc(TILE * TILE, sizeof(**tile));
		lv->ntiles++;
	}
	struct cell *c = &(*tile)[(la % TILE) * TILE + lo % TILE];
	c->key = key;
	return c;
}

static void cell_add(struct live *lv, uint32_t slot)
{
	struct slot *s = &lv->slots[slot];
	struct cell *c = cell_get(lv, s->cell);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4;
		c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
	}
	s->pos = c->n;
	c->items[c->n++] = (struct item){slot, (float)s->lat, (float)s->lon};
}

static void cell_del(struct live *lv, uint32_t slot)
{
	struct slot *s = &lv->slots[slot];
	struct cell *c = cell_find(lv, s->cell);
	if (!c || s->pos >= c->n || c->items[s->pos].slot != slot)
		BUG("live index: slot %u not in its cell", slot);
	struct item last = c->items[--c->n];
	c->items[s->pos] = last;
	lv->slots[last.slot].pos = s->pos;
}

/* --- updates ----------------------------------------------------------------- */

int live_update(struct live *lv, const char *id, uint16_t org, double lat, double lon, int64_t time_ms)
{
	if (!id || !*id || strlen(id) >= LIVE_ID_MAX || !(lat >= -90 && lat <= 90) ||
	    !(lon >= -180 && lon <= 180))
		return SG_EINVAL;
	pthread_rwlock_wrlock(&lv->lock);
	uint32_t at, slot = id_find(lv, id, &at);
	int rc = 1;
	if (slot != NO_SLOT) {
		struct slot *s = &lv->slots[slot];
		if (time_ms <= s->time_ms) {
			rc = 0; /* older or the same: the newer latest stays */
		} else {
			uint32_t cell = cell_of(lat, lon);
			s->lat = lat, s->lon = lon, s->time_ms = time_ms, s->org = org;
			if (cell != s->cell) {
				cell_del(lv, slot);
				s->cell = cell;
				cell_add(lv, slot);
			} else {
				struct cell *c = cell_find(lv, cell);
				c->items[s->pos].lat = (float)lat;
				c->items[s->pos].lon = (float)lon;
			}
		}
	} else {
		if (lv->nfree) {
			slot = lv->free_list[--lv->nfree];
		} else {
			if (lv->nslots == lv->capslots) {
				lv->capslots = lv->capslots ? lv->capslots * 2 : 1024;
				lv->slots = xrealloc(lv->slots, lv->capslots * sizeof(*lv->slots));
			}
			slot = lv->nslots++;
		}
		struct slot *s = &lv->slots[slot];
		memset(s, 0, sizeof(*s));
		sg_strlcpy(s->id, id, sizeof(s->id));
		s->lat = lat, s->lon = lon, s->time_ms = time_ms, s->org = org;
		s->cell = cell_of(lat, lon);
		cell_add(lv, slot);
		lv->ids[at] = slot + 1;
		lv->count++;
		if (lv->count * 2 > lv->idcap)
			id_grow(lv);
	}
	pthread_rwlock_unlock(&lv->lock);
	return rc;
}

static void fill(struct live_hit *h, const struct slot *s, double dist)
{
	memcpy(h->id, s->id, sizeof(h->id));
	h->org = s->org;
	h->lat = s->lat;
	h->lon = s->lon;
	h->time_ms = s->time_ms;
	h->dist_m = dist;
}

int live_get(struct live *lv, const char *id, struct live_hit *out)
{
	pthread_rwlock_rdlock(&lv->lock);
	uint32_t slot = id_find(lv, id, NULL);
	if (slot != NO_SLOT)
		fill(out, &lv->slots[slot], 0);
	pthread_rwlock_unlock(&lv->lock);
	return slot == NO_SLOT ? SG_ENOTFOUND : 0;
}

void live_remove(struct live *lv, const char *id)
{
	pthread_rwlock_wrlock(&lv->lock);
	uint32_t at, slot = id_find(lv, id, &at);
	if (slot != NO_SLOT) {
		cell_del(lv, slot);
		id_delete(lv, at);
		lv->slots[slot].id[0] = '\0';
		if (lv->nfree == lv->capfree) {
			lv->capfree = lv->capfree ? lv->capfree * 2 : 64;
			lv->free_list = xrealloc(lv->free_list, lv->capfree * sizeof(*lv->free_list));
		}
		lv->free_list[lv->nfree++] = slot;
		lv->count--;
	}
	pthread_rwlock_unlock(&lv->lock);
}

size_t live_count(struct live *lv)
{
	pthread_rwlock_rdlock(&lv->lock);
	size_t n = lv->count;
	pthread_rwlock_unlock(&lv->lock);
	return n;
}

size_t live_memory(struct live *lv)
{
	pthread_rwlock_rdlock(&lv->lock);
	size_t b = sizeof(*lv) + (size_t)lv->capslots * sizeof(struct slot) +
		   (size_t)lv->capfree * 4 + (size_t)lv->idcap * 4 +
		   (size_t)TILES_LAT * TILES_LON * sizeof(*lv->tiles) +
		   (size_t)lv->ntiles * TILE * TILE * sizeof(struct cell);
	for (size_t t = 0; t < (size_t)TILES_LAT * TILES_LON; t++)
		for (int i = 0; lv->tiles[t] && i < TILE * TILE; i++)
			b += (size_t)lv->tiles[t][i].cap * sizeof(struct item);
	pthread_rwlock_unlock(&lv->lock);
	return b;
}

/* --- queries ------------------------------------------------------------------ */

struct hits {
	struct live_hit *h;
	size_t n, cap;
};

static void push(struct hits *hs, const struct slot *s, double dist)
{
	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? hs->cap * 2 : 16;
		hs->h = xrealloc(hs->h, hs->cap * sizeof(*hs->h));
	}
	fill(&hs->h[hs->n++], s, dist);
}

/* Visits every item in the cells covering the box (longitudes may wrap);
 * the visitor reads the slot only when it needs it. */
typedef void (*visit_fn)(void *ctx, const struct live *lv, const struct item *it);

static void scan_box(const struct live *lv, double min_lat, double max_lat, double min_lon,
		     double max_lon, visit_fn fn, void *ctx)
{
	min_lat = fmax(min_lat, -90), max_lat = fmin(max_lat, 90);
	int la0 = (int)floor((min_lat + 90.0) / CELL_DEG), la1 = (int)floor((max_lat + 90.0) / CELL_DEG);
	la1 = la1 >= LAT_CELLS ? LAT_CELLS - 1 : la1;
	bool whole = max_lon - min_lon >= 360;
	int lo0 = whole ? 0 : (int)floor((min_lon + 180.0) / CELL_DEG);
	int lo1 = whole ? LON_CELLS - 1 : (int)floor((max_lon + 180.0) / CELL_DEG);
	/* Tiles are sparse: when the box spans more cells than the used tiles
	 * hold, walk the used tiles instead. */
	int64_t boxcells = (int64_t)(la1 - la0 + 1) * (lo1 - lo0 + 1);
	if (boxcells > (int64_t)lv->ntiles * TILE * TILE * 2) {
		for (size_t t = 0; t < (size_t)TILES_LAT * TILES_LON; t++) {
			if (!lv->tiles[t])
				continue;
			for (int i = 0; i < TILE * TILE; i++) {
				const struct cell *c = &lv->tiles[t][i];
				if (!c->n)
					continue;
				int la = (int)((c->key - 1) / LON_CELLS), lo = (int)((c->key - 1) % LON_CELLS);
				bool in_lon = whole;
				for (int w = -1; w <= 1 && !in_lon; w++)
					in_lon = lo + w * LON_CELLS >= lo0 && lo + w * LON_CELLS <= lo1;
				if (la < la0 || la > la1 || !in_lon)
					continue;
				for (uint32_t k = 0; k < c->n; k++)
					fn(ctx, lv, &c->items[k]);
			}
		}
		return;
	}
	for (int la = la0; la <= la1; la++) {
		for (int lo = lo0; lo <= lo1; lo++) {
			int l = ((lo % LON_CELLS) + LON_CELLS) % LON_CELLS; /* wrap at the antimeridian */
			const struct cell *c = cell_find(lv, (uint32_t)la * LON_CELLS + (uint32_t)l + 1);
			if (!c)
				continue;
			for (uint32_t k = 0; k < c->n; k++)
				fn(ctx, lv, &c->items[k]);
		}
	}
}

struct radius_ctx {
	double lat, lon, r;
	live_filter f;
	void *fctx;
	struct hits *hs;
	size_t count;
	bool local;        /* r <= 100 km: the local flat approximation decides */
	double m_per_deg_lat, m_per_deg_lon, half_tan; /* half_tan: tan(lat0)/2 in 1/degree */
	double in2, out2;  /* squared estimate bounds: surely inside / surely outside */
};

/* Squared distance estimate from the query point (see within()). */
static double estimate2(const struct radius_ctx *c, double lat, double lon)
{
	if (c->local) {
		/* Equirectangular with the ellipsoid's radii of curvature at the query
		 * point, cos taken at the mean latitude (first order): within 0.1 % of
		 * the geodesic up to 100 km; in2/out2 keep a 0.5 % margin and 3 m for
		 * the float copies. No trigonometry per point. */
		double dlat = lat - c->lat, dlon = lon - c->lon;
		if (dlon > 180)
			dlon -= 360;
		else if (dlon < -180)
			dlon += 360;
		double dy = dlat * c->m_per_deg_lat;
		double dx = dlon * c->m_per_deg_lon * (1 - c->half_tan * dlat);
		return dx * dx + dy * dy;
	}
	double h = geo_haversine_m(c->lat, c->lon, lat, lon);
	return h * h;
}

static bool within(struct radius_ctx *c, const struct live *lv, const struct item *it, double *dist)
{
	double d2 = estimate2(c, it->lat, it->lon); /* from the float copy: no slot touched */
	if (d2 > c->out2)
		return false;
	/* The slot is touched (a likely cache miss) only when needed: a filter,
	 * a hit to report, or a point near the edge. */
	const struct slot *s = &lv->slots[it->slot];
	if (c->f && !c->f(c->fctx, s->org))
		return false;
	if (d2 < c->in2) {
		if (c->hs)
			*dist = sqrt(estimate2(c, s->lat, s->lon)); /* the reported distance: full precision */
		return true;
	}
	*dist = geo_distance_m(c->lat, c->lon, s->lat, s->lon);
	return *dist <= c->r;
}

static void radius_visit(void *ctx, const struct live *lv, const struct item *it)
{
	struct radius_ctx *c = ctx;
	double d;
	if (!within(c, lv, it, &d))
		return;
	c->count++;
	if (c->hs)
		push(c->hs, &lv->slots[it->slot], d);
}

static void radius_init(struct radius_ctx *c)
{
	const double a = 6378137.0, e2 = 0.00669437999014;
	double sp = sin(c->lat * M_PI / 180), w = sqrt(1 - e2 * sp * sp);
	double m = a * (1 - e2) / (w * w * w), n = a / w;
	c->local = c->r <= 100000 && fabs(c->lat) < 85;
	c->m_per_deg_lat = m * M_PI / 180;
	c->m_per_deg_lon = n * cos(c->lat * M_PI / 180) * M_PI / 180;
	c->half_tan = tan(c->lat * M_PI / 180) / 2 * (M_PI / 180);
	double tol = c->local ? 0.005 : GEO_HAVERSINE_REL_ERR;
	double lo = fmax(0, c->r * (1 - tol) - 3), hi = c->r * (1 + tol) + 3;
	c->in2 = lo * lo;
	c->out2 = hi * hi;
}

/* The box of cells that can hold points within r of (lat, lon). */
static void radius_box(double lat, double lon, double r, double *la0, double *la1, double *lo0, double *lo1)
{
	double dlat = r / 110574.0 * (1 + GEO_HAVERSINE_REL_ERR) + 1e-9; /* metres per degree of latitude, at least */
	*la0 = lat - dlat, *la1 = lat + dlat;
	double maxabs = fmax(fabs(*la0), fabs(*la1));
	if (maxabs >= 89.9) {
		*lo0 = -180, *lo1 = 180 + 360; /* near a pole: every longitude */
		return;
	}
	double dlon = r / (111319.0 * cos(maxabs * M_PI / 180)) * (1 + GEO_HAVERSINE_REL_ERR) + 1e-9;
	if (dlon >= 180) {
		*lo0 = -180, *lo1 = 180 + 360;
		return;
	}
	*lo0 = lon - dlon, *lo1 = lon + dlon;
}

/* Runs c (filled by the caller) over the cells its radius can reach. */
static void radius_scan(struct live *lv, struct radius_ctx *c)
{
	double la0, la1, lo0, lo1;
	radius_init(c);
	radius_box(c->lat, c->lon, c->r, &la0, &la1, &lo0, &lo1);
	pthread_rwlock_rdlock(&lv->lock);
	scan_box(lv, la0, la1, lo0, lo1, radius_visit, c);
	pthread_rwlock_unlock(&lv->lock);
}

int live_radius(struct live *lv, double lat, double lon, double radius_m, live_filter f, void *ctx,
		struct live_hit **out, size_t *n)
{
	struct hits hs = {0};
	struct radius_ctx c = {.lat = lat, .lon = lon, .r = radius_m, .f = f, .fctx = ctx, .hs = &hs};
	radius_scan(lv, &c);
	*out = hs.h;
	*n = hs.n;
	return 0;
}

size_t live_radius_count(struct live *lv, double lat, double lon, double radius_m, live_filter f,
			 void *ctx)
{
	struct radius_ctx c = {.lat = lat, .lon = lon, .r = radius_m, .f = f, .fctx = ctx};
	radius_scan(lv, &c);
	return c.count;
}

struct bbox_ctx {
	double min_lon, min_lat, max_lon, max_lat;
	live_filter f;
	void *fctx;
	struct hits hs;
};

static void bbox_visit(void *ctx, const struct live *lv, const struct item *it)
{
	struct bbox_ctx *c = ctx;
	const struct slot *s = &lv->slots[it->slot];
	bool in_lon = c->min_lon <= c->max_lon ? (s->lon >= c->min_lon && s->lon <= c->max_lon)
					       : (s->lon >= c->min_lon || s->lon <= c->max_lon);
	if (s->lat >= c->min_lat && s->lat <= c->max_lat && in_lon && (!c->f || c->f(c->fctx, s->org)))
		push(&c->hs, s, 0);
}

int live_bbox(struct live *lv, double min_lon, double min_lat, double max_lon, double max_lat,
	      live_filter f, void *ctx, struct live_hit **out, size_t *n)
{
	struct bbox_ctx c = {min_lon, min_lat, max_lon, max_lat, f, ctx, {0}};
	double hi = max_lon < min_lon ? max_lon + 360 : max_lon; /* crossing the antimeridian */
	pthread_rwlock_rdlock(&lv->lock);
	scan_box(lv, min_lat, max_lat, min_lon, hi, bbox_visit, &c);
	pthread_rwlock_unlock(&lv->lock);
	*out = c.hs.h;
	*n = c.hs.n;
	return 0;
}

static int by_dist(const void *a, const void *b)
{
	const struct live_hit *x = a, *y = b;
	if (x->dist_m != y->dist_m)
		return x->dist_m < y->dist_m ? -1 : 1;
	return strcmp(x->id, y->id);
}

int live_nearest(struct live *lv, double lat, double lon, size_t k, live_filter f, void *ctx,
		 struct live_hit **out, size_t *n)
{
	/* Grow the radius until it holds k hits: everything within it is exact. */
	struct live_hit *h = NULL;
	size_t m = 0;
	for (double r = 2000;; r *= 2) {
		free(h);
		live_radius(lv, lat, lon, r, f, ctx, &h, &m);
		if (m >= k || r > 2.1e7)
			break;
	}
	/* Order by the estimate, then make exact every candidate that could still
	 * be among the k nearest (an estimate is within 0.7 % of the truth). */
	qsort(h, m, sizeof(*h), by_dist);
	size_t exact = m;
	if (m > k) {
		double bound = h[k - 1].dist_m * (1 + GEO_HAVERSINE_REL_ERR) / (1 - GEO_HAVERSINE_REL_ERR) + 6;
		for (exact = k; exact < m && h[exact].dist_m <= bound; exact++)
			;
	}
	for (size_t i = 0; i < exact; i++)
		h[i].dist_m = geo_distance_m(lat, lon, h[i].lat, h[i].lon);
	qsort(h, exact, sizeof(*h), by_dist);
	*out = h;
	*n = m < k ? m : k;
	return 0;
}
