/* Grid-based live index; see live.h.
 *
 * Layout: the world is cut into 1-degree tiles of 20 x 20 cells. A tile keeps
 * its devices in two parallel arrays ordered by cell, each cell a run with a
 * little room to grow: `pt` (position relative to the tile's corner as
 * floats, and the organisation: what a scan reads) and `rec` (the device's
 * whole record, one cache line: what a hit reads). A query walks the runs of
 * the cells its box covers, which sit next to each other in memory, and
 * touches a record only for a hit or a point close to the radius' edge. An
 * open-addressing table maps a device id to its tile and position; each record
 * remembers its entry there, so moving a record costs no lookup. */
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
#define TILE 20        /* cells per tile side: one degree */
#define TILE_CELLS (TILE * TILE)
#define TILES_LAT (LAT_CELLS / TILE)
#define TILES_LON (LON_CELLS / TILE)
#define NO_POS UINT32_MAX
#define SMALL_BOX 36 /* cells */

struct rec { /* 64 bytes, one cache line: the array is aligned to 64 */
	char id[LIVE_ID_MAX];
	double lat, lon;
	int64_t time_ms;
	uint32_t idx;  /* this device's entry in the id table */
	uint16_t org;
	uint16_t cell; /* within the tile, 0..TILE_CELLS-1 */
};

/* Offsets from the tile's south-west corner (under a degree, so a float
 * holds them to a few millimetres). */
struct pt {
	float dlat, dlon;
	uint32_t org;
};

struct run {
	uint32_t start, n, cap;
};

struct tile {
	struct run cell[TILE_CELLS];
	uint32_t cap, end, used; /* records allocated, laid out, held */
	double lat0, lon0;
	struct pt *pt;
	struct rec *rec;
};

struct loc {
	uint32_t tile; /* tile index + 1; 0 = empty entry */
	uint32_t pos;
};

struct live {
	pthread_rwlock_t lock;
	struct loc *ids; /* open addressing, linear probing */
	uint32_t idcap, count;
	struct tile **tiles; /* TILES_LAT * TILES_LON, allocated when first used */
	uint32_t *used;      /* indices of the allocated tiles */
	uint32_t ntiles;
};

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Global cell row and column of a position. */
static void cell_rc(double lat, double lon, int *la, int *lo)
{
	*la = clampi((int)floor((lat + 90.0) / CELL_DEG), 0, LAT_CELLS - 1);
	*lo = clampi((int)floor((lon + 180.0) / CELL_DEG), 0, LON_CELLS - 1);
}

static uint32_t tile_of(int la, int lo)
{
	return (uint32_t)(la / TILE) * TILES_LON + (uint32_t)(lo / TILE);
}

static uint16_t cell_in_tile(int la, int lo)
{
	return (uint16_t)((la % TILE) * TILE + lo % TILE);
}

struct live *live_new(void)
{
	struct live *lv = xcalloc(1, sizeof(*lv));
	pthread_rwlock_init(&lv->lock, NULL);
	lv->idcap = 1024;
	lv->ids = xcalloc(lv->idcap, sizeof(*lv->ids));
	lv->tiles = xcalloc((size_t)TILES_LAT * TILES_LON, sizeof(*lv->tiles));
	lv->used = xcalloc((size_t)TILES_LAT * TILES_LON, sizeof(*lv->used));
	return lv;
}

void live_free(struct live *lv)
{
	if (!lv)
		return;
	for (uint32_t i = 0; i < lv->ntiles; i++) {
		struct tile *t = lv->tiles[lv->used[i]];
		free(t->pt);
		free(t->rec);
		free(t);
	}
	free(lv->tiles);
	free(lv->used);
	free(lv->ids);
	pthread_rwlock_destroy(&lv->lock);
	free(lv);
}

/* --- the id table ------------------------------------------------------------ */

static struct rec *rec_at(const struct live *lv, struct loc l)
{
	return &lv->tiles[l.tile - 1]->rec[l.pos];
}

/* The record's position in the table, or NO_POS with *at the empty entry
 * where it would go. */
static uint32_t id_find(const struct live *lv, const char *id, uint32_t *at)
{
	uint32_t mask = lv->idcap - 1, i = str_hash32(id) & mask;
	for (;;) {
		struct loc l = lv->ids[i];
		if (!l.tile || strcmp(rec_at(lv, l)->id, id) == 0) {
			*at = i;
			return l.tile ? i : NO_POS;
		}
		i = (i + 1) & mask;
	}
}

static void id_grow(struct live *lv)
{
	uint32_t old = lv->idcap;
	struct loc *ids = lv->ids;
	lv->idcap *= 2;
	lv->ids = xcalloc(lv->idcap, sizeof(*lv->ids));
	for (uint32_t i = 0; i < old; i++) {
		if (!ids[i].tile)
			continue;
		struct rec *r = rec_at(lv, ids[i]);
		uint32_t at;
		id_find(lv, r->id, &at);
		lv->ids[at] = ids[i];
		r->idx = at;
	}
	free(ids);
}

/* Linear-probing deletion with backward shift: no tombstones. */
static void id_delete(struct live *lv, uint32_t at)
{
	uint32_t mask = lv->idcap - 1, i = at;
	lv->ids[i].tile = 0;
	for (uint32_t j = (i + 1) & mask; lv->ids[j].tile; j = (j + 1) & mask) {
		struct rec *r = rec_at(lv, lv->ids[j]);
		uint32_t home = str_hash32(r->id) & mask;
		/* Move j back to i when its home is not in the cyclic range (i, j]. */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			lv->ids[i] = lv->ids[j];
			lv->ids[j].tile = 0;
			r->idx = i;
			i = j;
		}
	}
}

/* --- tiles ------------------------------------------------------------------- */

static struct tile *tile_get(struct live *lv, uint32_t t)
{
	if (!lv->tiles[t]) {
		struct tile *tl = xcalloc(1, sizeof(*tl));
		tl->lat0 = -90.0 + (double)(t / TILES_LON);
		tl->lon0 = -180.0 + (double)(t % TILES_LON);
		lv->tiles[t] = tl;
		lv->used[lv->ntiles++] = t;
	}
	return lv->tiles[t];
}

/* Lays the tile out again in cell order, every run with a little room
 * (a quarter of its size, or of the average run), `grow` with at least twice
 * its size, and spare room at the end for runs that outgrow theirs. The
 * moved records' id entries follow them. */
static void tile_compact(struct live *lv, struct tile *tl, uint32_t t, uint32_t grow)
{
	uint32_t avg = tl->used / TILE_CELLS, layout = 0;
	uint32_t caps[TILE_CELLS];
	for (uint32_t c = 0; c < TILE_CELLS; c++) {
		uint32_t n = tl->cell[c].n, slack = n / 4 > avg / 4 ? n / 4 : avg / 4;
		if (c == grow)
			slack = n > 4 ? n : 4;
		caps[c] = n + slack;
		layout += caps[c];
	}
	uint32_t cap = layout + layout / 8 + 16;
	struct pt *pt = xcalloc(cap, sizeof(*pt));
	struct rec *rec = xcalloc_aligned(64, cap, sizeof(*rec)); /* a record per cache line */
	uint32_t at = 0;
	for (uint32_t c = 0; c < TILE_CELLS; c++) {
		struct run *ru = &tl->cell[c];
		if (ru->n) {
			memcpy(&pt[at], &tl->pt[ru->start], ru->n * sizeof(*pt));
			memcpy(&rec[at], &tl->rec[ru->start], ru->n * sizeof(*rec));
			for (uint32_t k = 0; k < ru->n; k++)
				lv->ids[rec[at + k].idx] = (struct loc){t + 1, at + k};
		}
		ru->start = at;
		ru->cap = caps[c];
		at += caps[c];
	}
	free(tl->pt);
	free(tl->rec);
	tl->pt = pt;
	tl->rec = rec;
	tl->cap = cap;
	tl->end = layout;
}

/* Makes room in a full run: moves it, with twice the room, to the spare end
 * of the tile's arrays (amortised O(1) per insert), or lays the tile out
 * again when the spare room is used up. */
static void run_grow(struct live *lv, struct tile *tl, uint32_t t, uint32_t c)
{
	struct run *ru = &tl->cell[c];
	uint32_t want = ru->n >= 2 ? 2 * ru->n : 4;
	if (tl->end + want > tl->cap) {
		tile_compact(lv, tl, t, c);
		return;
	}
	memcpy(&tl->pt[tl->end], &tl->pt[ru->start], ru->n * sizeof(*tl->pt));
	memcpy(&tl->rec[tl->end], &tl->rec[ru->start], ru->n * sizeof(*tl->rec));
	for (uint32_t k = 0; k < ru->n; k++)
		lv->ids[tl->rec[tl->end + k].idx].pos = tl->end + k;
	ru->start = tl->end;
	ru->cap = want;
	tl->end += want;
}

/* Puts *r (its idx set) in its cell and points its id entry at it. */
static void place(struct live *lv, const struct rec *r)
{
	int la, lo;
	cell_rc(r->lat, r->lon, &la, &lo);
	uint32_t t = tile_of(la, lo);
	uint16_t c = cell_in_tile(la, lo);
	struct tile *tl = tile_get(lv, t);
	if (tl->cell[c].n == tl->cell[c].cap)
		run_grow(lv, tl, t, c);
	struct run *ru = &tl->cell[c];
	uint32_t pos = ru->start + ru->n++;
	tl->used++;
	tl->rec[pos] = *r;
	tl->rec[pos].cell = c;
	tl->pt[pos] = (struct pt){(float)(r->lat - tl->lat0), (float)(r->lon - tl->lon0), r->org};
	lv->ids[r->idx] = (struct loc){t + 1, pos};
}

/* Takes the record at l out of its cell; the cell's last record fills the gap. */
static void unplace(struct live *lv, struct loc l)
{
	struct tile *tl = lv->tiles[l.tile - 1];
	struct run *ru = &tl->cell[tl->rec[l.pos].cell];
	uint32_t last = ru->start + ru->n - 1;
	if (l.pos < ru->start || l.pos > last)
		BUG("live index: record %u not in its cell", l.pos);
	if (l.pos != last) {
		tl->rec[l.pos] = tl->rec[last];
		tl->pt[l.pos] = tl->pt[last];
		lv->ids[tl->rec[l.pos].idx].pos = l.pos;
	}
	ru->n--;
	tl->used--;
}

/* --- updates ----------------------------------------------------------------- */

int live_update(struct live *lv, const char *id, uint16_t org, double lat, double lon, int64_t time_ms)
{
	if (!id || !*id || strlen(id) >= LIVE_ID_MAX || !(lat >= -90 && lat <= 90) ||
	    !(lon >= -180 && lon <= 180))
		return SG_EINVAL;
	pthread_rwlock_wrlock(&lv->lock);
	uint32_t at, e = id_find(lv, id, &at);
	int rc = 1;
	if (e != NO_POS) {
		struct loc l = lv->ids[e];
		struct tile *tl = lv->tiles[l.tile - 1];
		struct rec *r = &tl->rec[l.pos];
		if (time_ms <= r->time_ms) {
			rc = 0; /* older or the same: the newer latest stays */
		} else {
			int la, lo;
			cell_rc(lat, lon, &la, &lo);
			if (tile_of(la, lo) == l.tile - 1 && cell_in_tile(la, lo) == r->cell) {
				r->lat = lat, r->lon = lon, r->time_ms = time_ms, r->org = org;
				tl->pt[l.pos] = (struct pt){(float)(lat - tl->lat0), (float)(lon - tl->lon0), org};
			} else {
				struct rec moved = *r;
				unplace(lv, l);
				moved.lat = lat, moved.lon = lon, moved.time_ms = time_ms, moved.org = org;
				place(lv, &moved);
			}
		}
	} else {
		struct rec r = {.lat = lat, .lon = lon, .time_ms = time_ms, .org = org, .idx = at};
		sg_strlcpy(r.id, id, sizeof(r.id));
		place(lv, &r);
		lv->count++;
		if (lv->count * 2 > lv->idcap)
			id_grow(lv);
	}
	pthread_rwlock_unlock(&lv->lock);
	return rc;
}

static void fill(struct live_hit *h, const struct rec *r, double dist)
{
	memcpy(h->id, r->id, sizeof(h->id));
	h->org = r->org;
	h->lat = r->lat;
	h->lon = r->lon;
	h->time_ms = r->time_ms;
	h->dist_m = dist;
}

int live_get(struct live *lv, const char *id, struct live_hit *out)
{
	pthread_rwlock_rdlock(&lv->lock);
	uint32_t at, e = id_find(lv, id, &at);
	if (e != NO_POS)
		fill(out, rec_at(lv, lv->ids[e]), 0);
	pthread_rwlock_unlock(&lv->lock);
	return e == NO_POS ? SG_ENOTFOUND : 0;
}

void live_remove(struct live *lv, const char *id)
{
	pthread_rwlock_wrlock(&lv->lock);
	uint32_t at, e = id_find(lv, id, &at);
	if (e != NO_POS) {
		unplace(lv, lv->ids[e]);
		id_delete(lv, e);
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
	size_t b = sizeof(*lv) + (size_t)lv->idcap * sizeof(struct loc) +
		   (size_t)TILES_LAT * TILES_LON * (sizeof(*lv->tiles) + sizeof(*lv->used));
	for (uint32_t i = 0; i < lv->ntiles; i++)
		b += sizeof(struct tile) +
		     (size_t)lv->tiles[lv->used[i]]->cap * (sizeof(struct pt) + sizeof(struct rec));
	pthread_rwlock_unlock(&lv->lock);
	return b;
}

/* --- queries ------------------------------------------------------------------ */

struct hits {
	struct live_hit *h;
	size_t n, cap;
};

/* The array is sized before the scan (see scan_box, alloc_hits), so that a
 * query's hits are rarely copied twice by a growing array. */
static void push(struct hits *hs, const struct rec *r, double dist)
{
	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? hs->cap * 2 : 64;
		hs->h = xrealloc(hs->h, hs->cap * sizeof(*hs->h));
	}
	fill(&hs->h[hs->n++], r, dist);
}

/* Called for each non-empty run of a cell the box covers (the run is one of
 * tl->cell). */
typedef void (*run_fn)(void *ctx, const struct tile *tl, const struct run *ru);

static void count_run(void *ctx, const struct tile *tl, const struct run *ru)
{
	(void)tl;
	*(size_t *)ctx += ru->n;
}

/* Sized to the bound, up to 16,384 hits (1.2 MB): a filtered scan of a wide
 * box has a loose bound (every record in it) and grows past that instead. */
static void alloc_hits(struct hits *hs, size_t bound)
{
	hs->cap = bound < 16384 ? bound : 16384;
	hs->h = hs->cap ? xmalloc(hs->cap * sizeof(*hs->h)) : NULL;
}

/* Visits the cells covering the box; longitudes may run past 180 (wrapping)
 * and max_lon - min_lon >= 360 means every longitude. With hs, first sizes
 * it for every record in those cells: a bound on the hits, so a hit is never
 * copied twice by a growing array. */
static void scan_box(const struct live *lv, double min_lat, double max_lat, double min_lon,
		     double max_lon, run_fn fn, void *ctx, struct hits *hs)
{
	min_lat = fmax(min_lat, -90), max_lat = fmin(max_lat, 90);
	int la0 = clampi((int)floor((min_lat + 90.0) / CELL_DEG), 0, LAT_CELLS - 1);
	int la1 = clampi((int)floor((max_lat + 90.0) / CELL_DEG), 0, LAT_CELLS - 1);
	bool whole = max_lon - min_lon >= 360;
	int lo0 = whole ? 0 : (int)floor((min_lon + 180.0) / CELL_DEG);
	int lo1 = whole ? LON_CELLS - 1 : (int)floor((max_lon + 180.0) / CELL_DEG);
	/* Tiles are sparse: when the box spans more cells than the used tiles
	 * hold, walk the used tiles instead. */
	int64_t boxcells = (int64_t)(la1 - la0 + 1) * (lo1 - lo0 + 1);
	if (hs && boxcells > SMALL_BOX) { /* a walk of its own to count */
		size_t n = 0;
		scan_box(lv, min_lat, max_lat, min_lon, max_lon, count_run, &n, NULL);
		alloc_hits(hs, n);
	}
	if (boxcells > (int64_t)lv->ntiles * TILE_CELLS * 2) {
		for (uint32_t i = 0; i < lv->ntiles; i++) {
			uint32_t t = lv->used[i];
			const struct tile *tl = lv->tiles[t];
			for (int c = 0; c < TILE_CELLS; c++) {
				if (!tl->cell[c].n)
					continue;
				int la = (int)(t / TILES_LON) * TILE + c / TILE;
				int lo = (int)(t % TILES_LON) * TILE + c % TILE;
				bool in_lon = whole;
				for (int w = -1; w <= 1 && !in_lon; w++)
					in_lon = lo + w * LON_CELLS >= lo0 && lo + w * LON_CELLS <= lo1;
				if (la >= la0 && la <= la1 && in_lon)
					fn(ctx, tl, &tl->cell[c]);
			}
		}
		return;
	}
	if (boxcells <= SMALL_BOX) {
		/* A small box (a radius of a few km): find its runs first, asking
		 * for each run's record and then its points ahead of use, so the
		 * cache misses overlap instead of following one another. */
		const struct tile *tl[SMALL_BOX];
		const struct run *ru[SMALL_BOX];
		int m = 0;
		for (int la = la0; la <= la1; la++) {
			for (int lo = lo0; lo <= lo1; lo++) {
				int l = ((lo % LON_CELLS) + LON_CELLS) % LON_CELLS;
				const struct tile *t = lv->tiles[tile_of(la, l)];
				if (!t)
					continue;
				tl[m] = t;
				ru[m] = &t->cell[cell_in_tile(la, l)];
				__builtin_prefetch(ru[m]);
				m++;
			}
		}
		if (hs) { /* counted from the runs just found */
			size_t n = 0;
			for (int i = 0; i < m; i++)
				n += ru[i]->n;
			alloc_hits(hs, n);
		}
		for (int i = 0; i < m; i++) {
			const char *p0 = (const char *)&tl[i]->pt[ru[i]->start];
			const char *p1 = (const char *)&tl[i]->pt[ru[i]->start + ru[i]->n];
			for (const char *p = p0; p < p1; p += 64)
				__builtin_prefetch(p);
			if (p1 > p0 && ((uintptr_t)(p1 - 1) & ~(uintptr_t)63) != ((uintptr_t)p0 & ~(uintptr_t)63))
				__builtin_prefetch(p1 - 1); /* the last line, when the run crosses into it */
		}
		for (int i = 0; i < m; i++)
			if (ru[i]->n)
				fn(ctx, tl[i], ru[i]);
		return;
	}
	for (int la = la0; la <= la1; la++) {
		for (int lo = lo0; lo <= lo1; lo++) {
			int l = ((lo % LON_CELLS) + LON_CELLS) % LON_CELLS; /* wrap at the antimeridian */
			const struct tile *tl = lv->tiles[tile_of(la, l)];
			if (!tl) { /* skip the rest of this tile's row */
				lo += TILE - 1 - l % TILE;
				continue;
			}
			const struct run *ru = &tl->cell[cell_in_tile(la, l)];
			if (ru->n)
				fn(ctx, tl, ru);
		}
	}
}

#define PEND 96 /* candidates in flight: what the cache can hold on its way */

struct radius_ctx {
	double lat, lon, r;
	live_filter f;
	void *fctx;
	struct hits *hs;
	size_t count;
	bool local;        /* r <= 100 km away from the poles: the local estimate */
	bool cells;        /* local, and wide enough for whole cells to fall inside */
	double m_per_deg_lat, m_per_deg_lon, half_tan; /* half_tan: tan(lat0)/2 in 1/degree */
	double in2, out2;  /* squared estimate bounds: surely inside / surely outside */
	/* Candidates whose records were asked for and not yet read: reading
	 * them only once many are on their way lets the cache misses of every
	 * cell overlap, not just those of one. */
	uint32_t npend;
	struct pend {
		const struct rec *rec;
		double d2;
	} pend[PEND];
};

/* Squared local estimate of the distance for offsets in degrees from the
 * query point: equirectangular with the ellipsoid's radii of curvature at
 * the query point and the cosine taken at the mean latitude (first order).
 * No trigonometry per point. */
static double local2(const struct radius_ctx *c, double dlat, double dlon)
{
	double dy = dlat * c->m_per_deg_lat;
	double dx = dlon * c->m_per_deg_lon * (1 - c->half_tan * dlat);
	return dx * dx + dy * dy;
}

/* Bounds of the squared local estimate over a cell, a box of offsets from
 * the query point: *lo is at most, *hi at least, the estimate of any point in
 * it. Each axis takes its own extreme, which can only widen the bounds. */
static void cell_bounds(const struct radius_ctx *c, double lat0, double lat1, double lon0,
			double lon1, double *lo, double *hi)
{
	double ymax = fmax(lat0 * lat0, lat1 * lat1), ymin = lat0 > 0 ? lat0 * lat0 : lat1 < 0 ? lat1 * lat1 : 0;
	double xmax = fmax(lon0 * lon0, lon1 * lon1), xmin = lon0 > 0 ? lon0 * lon0 : lon1 < 0 ? lon1 * lon1 : 0;
	double f0 = 1 - c->half_tan * lat0, f1 = 1 - c->half_tan * lat1; /* positive: |lat| < 85, r <= 100 km */
	double fmx = fmax(f0, f1), fmn = fmin(f0, f1);
	double my = c->m_per_deg_lat * c->m_per_deg_lat, mx = c->m_per_deg_lon * c->m_per_deg_lon;
	*hi = ymax * my + xmax * mx * fmx * fmx;
	*lo = ymin * my + xmin * mx * fmn * fmn;
}

/* The squared estimates of n points of tile tl, offsets (olat, olon) from
 * the query point to the tile's corner: local2, or the spherical distance
 * beyond the local estimate's reach. */
static void estimates(const struct radius_ctx *c, const struct tile *tl, double olat, double olon,
		      const struct pt *pt, uint32_t n, double *d2)
{
	if (!c->local) {
		for (uint32_t k = 0; k < n; k++) {
			double h = geo_haversine_m(c->lat, c->lon, tl->lat0 + (double)pt[k].dlat,
						   tl->lon0 + (double)pt[k].dlon);
			d2[k] = h * h;
		}
		return;
	}
	for (uint32_t k = 0; k < n; k++) /* no branch: many points' arithmetic side by side */
		d2[k] = local2(c, olat + (double)pt[k].dlat, olon + (double)pt[k].dlon);
}

/* Reads the pending candidates' records: the hits among them are pushed. */
static void radius_flush(struct radius_ctx *c)
{
	for (uint32_t i = 0; i < c->npend; i++) {
		const struct rec *r = c->pend[i].rec;
		double dist;
		if (c->pend[i].d2 < c->in2) {
			dist = sqrt(c->pend[i].d2);
		} else { /* close to the edge: the exact geodesic decides */
			dist = geo_distance_m(c->lat, c->lon, r->lat, r->lon);
			if (dist > c->r)
				continue;
		}
		c->count++;
		push(c->hs, r, dist);
	}
	c->npend = 0;
}

static void radius_run(void *ctx, const struct tile *tl, const struct run *ru)
{
	struct radius_ctx *c = ctx;
	uint32_t start = ru->start, n = ru->n;
	const struct pt *pt = tl->pt + start;
	const struct rec *rec = tl->rec + start;
	/* The tile corner relative to the query point, wrapped so that a point's
	 * offset (corner + up to a degree) is the short way round. */
	double olat = tl->lat0 - c->lat, olon = tl->lon0 - c->lon;
	if (olon > 180)
		olon -= 360;
	else if (olon < -181)
		olon += 360;
	if (c->cells) {
		/* The whole cell at once when it is surely outside (skipped) or,
		 * for a count, surely inside (every point counts: no distances).
		 * Hits are still read point by point below: the chunked reads
		 * measured faster than a straight walk of the cell. The margin covers
		 * the float offsets' rounding, so the decision is the one each point
		 * would get. */
		uint32_t cell = (uint32_t)(ru - tl->cell);
		const double m = 1e-6;
		double la0 = olat + (cell / TILE) * CELL_DEG, lo0 = olon + (cell % TILE) * CELL_DEG;
		double lo2, hi2;
		cell_bounds(c, la0 - m, la0 + CELL_DEG + m, lo0 - m, lo0 + CELL_DEG + m, &lo2, &hi2);
		if (lo2 > c->out2)
			return;
		if (hi2 < c->in2 && !c->hs) { /* a count: no record to read */
			if (!c->f) {
				c->count += n;
				return;
			}
			for (uint32_t k = 0; k < n; k++)
				c->count += c->f(c->fctx, (uint16_t)pt[k].org);
			return;
		}
	}
	/* In chunks of 64: the points' squared estimates first, in one loop,
	 * then the branches that pick the candidates. */
	double dd[64];
	uint32_t cand[64];
	for (uint32_t k0 = 0; k0 < n; k0 += 64) {
		uint32_t kn = n - k0 < 64 ? n - k0 : 64, m = 0;
		estimates(c, tl, olat, olon, pt + k0, kn, dd);
		for (uint32_t k = 0; k < kn; k++) {
			double d2 = dd[k];
			if (d2 > c->out2 || (c->f && !c->f(c->fctx, (uint16_t)pt[k0 + k].org)))
				continue;
			if (c->hs) { /* every candidate's record is needed: ask for it, read it later */
				__builtin_prefetch(&rec[k0 + k]);
				if (c->npend == PEND)
					radius_flush(c);
				c->pend[c->npend++] = (struct pend){&rec[k0 + k], d2};
			} else if (d2 < c->in2) {
				c->count++;
			} else { /* a count near the edge: its record, asked for ahead of use */
				__builtin_prefetch(&rec[k0 + k]);
				cand[m++] = k0 + k;
			}
		}
		for (uint32_t i = 0; i < m; i++) /* close to the edge: the exact geodesic decides */
			c->count += geo_distance_m(c->lat, c->lon, rec[cand[i]].lat, rec[cand[i]].lon) <= c->r;
	}
}

static void radius_init(struct radius_ctx *c)
{
	const double a = 6378137.0, e2 = 0.00669437999014;
	double sp, cp;
	sincos(c->lat * M_PI / 180, &sp, &cp);
	double w = sqrt(1 - e2 * sp * sp), tn = sp / cp;
	double m = a * (1 - e2) / (w * w * w), n = a / w;
	c->local = c->r <= 100000 && fabs(c->lat) < 85;
	c->cells = c->local && c->r >= 20000; /* below that, few cells are wholly inside */
	c->m_per_deg_lat = m * M_PI / 180;
	c->m_per_deg_lon = n * cp * M_PI / 180;
	c->half_tan = tn / 2 * (M_PI / 180);
	/* The local estimate's relative error, measured against PROJ over
	 * 10 m - 100 km and |lat| < 85 (tests/unit/test_live.c checks it), stays
	 * under 0.01 q + (1 + |tan lat|) q^2 with q = r / 6371 km; twice that,
	 * plus 2 cm for the float offsets, bounds the band left to the exact
	 * geodesic. */
	double q = c->r / 6371000.0;
	double tol = c->local ? 2 * (0.01 * q + (1 + fabs(tn)) * q * q)
			      : GEO_HAVERSINE_REL_ERR;
	double lo = fmax(0, c->r * (1 - tol) - 0.02), hi = c->r * (1 + tol) + 0.02;
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
	scan_box(lv, la0, la1, lo0, lo1, radius_run, c, c->hs);
	if (c->hs)
		radius_flush(c);
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

static void bbox_run(void *ctx, const struct tile *tl, const struct run *ru)
{
	struct bbox_ctx *c = ctx;
	for (uint32_t k = ru->start; k < ru->start + ru->n; k++) {
		/* The organisation first, from the points: a filtered scan of a
		 * wide box (the world, for a summary-level partner) then reads
		 * only the records of the organisations it wants. */
		if (c->f && !c->f(c->fctx, (uint16_t)tl->pt[k].org))
			continue;
		const struct rec *r = &tl->rec[k];
		bool in_lon = c->min_lon <= c->max_lon ? (r->lon >= c->min_lon && r->lon <= c->max_lon)
						       : (r->lon >= c->min_lon || r->lon <= c->max_lon);
		if (r->lat >= c->min_lat && r->lat <= c->max_lat && in_lon)
			push(&c->hs, r, 0);
	}
}

int live_bbox(struct live *lv, double min_lon, double min_lat, double max_lon, double max_lat,
	      live_filter f, void *ctx, struct live_hit **out, size_t *n)
{
	struct bbox_ctx c = {min_lon, min_lat, max_lon, max_lat, f, ctx, {0}};
	double hi = max_lon < min_lon ? max_lon + 360 : max_lon; /* crossing the antimeridian */
	pthread_rwlock_rdlock(&lv->lock);
	scan_box(lv, min_lat, max_lat, min_lon, hi, bbox_run, &c, &c.hs);
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
