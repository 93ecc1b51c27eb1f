/* Spatial questions over the latest positions, and a device's history.
 * Own devices in full; a partner's only through a positions grant in force:
 * in full, or as summary (rounded to sharing.summary_grid_m and at least
 * sharing.summary_delay_s old, the spatial test applied to that coarse
 * position so a partner cannot locate anyone more precisely by asking
 * narrower questions). Partner reads are audited. */
#include "http/api/api.h"

#include "alarms/alarms.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "geo/fence.h"
#include "geo/geodesic.h"
#include "geo/geojson.h"
#include "pipeline/history.h"
#include "pipeline/pipeline.h"
#include "registry/resource.h"

#include <geos_c.h>
#include <libxml/xmlwriter.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How this actor may see positions of organisation org. */
struct seen {
	enum view view;
	const struct grant *grant;
};

/* The policy decides once per organisation per query (not once per point);
 * a grant whose condition holds per person (positions during an open SOS)
 * is decided per device, for its person, and only while somebody has an
 * open alarm. */
static bool visible(const struct req *r, const char *org, const char *person, struct seen *out)
{
	struct access acc;
	if (!org || policy_decide(&r->actor, ACT_READ, "positions", org, person, &acc) != DECIDE_ALLOW)
		return false;
	out->view = acc.view;
	out->grant = acc.grant;
	return true;
}

/* The level of org's grant when it holds per person and may hold now
 * (somebody has an open alarm): LEVEL_NONE otherwise. */
static enum level per_person(const struct req *r, const char *org)
{
	const struct grant *g = org ? policy_grant(&r->actor, org, CAT_POSITIONS) : NULL;
	if (!g || g->cond == COND_ALWAYS || !r->env->alarms || alarm_set_size(r->env->alarms) == 0)
		return LEVEL_NONE;
	return g->level;
}

/* visible() for one device: its organisation's grant, or the grant that
 * holds for the device's person now. */
static bool visible_device(const struct req *r, struct db *db, const char *org, const char *device, struct seen *out)
{
	if (visible(r, org, NULL, out))
		return true;
	if (per_person(r, org) == LEVEL_NONE)
		return false;
	json_t *dev;
	if (resource_get(db, resource_find("devices"), device, &dev))
		return false;
	const char *person = json_string_value(json_object_get(dev, "person_id"));
	bool ok = person && visible(r, org, person, out);
	json_decref(dev);
	return ok;
}

/* What the actor may see of each organisation holding positions, decided
 * once per query: 0 nothing, 1 exact, 2 summary, 3 exact and 4 summary for
 * the people the grant holds for. */
struct filter_ctx {
	uint8_t *vis;
	size_t n;
	uint8_t want, want2;
};

static bool org_filter(void *ctx, uint16_t org)
{
	const struct filter_ctx *f = ctx;
	return org < f->n && (f->vis[org] == f->want || f->vis[org] == f->want2);
}

/* A summary position: the latest fix at least delay old, on the coarse grid. */
static bool coarse(struct req *r, struct db *db, const char *device, double *lat, double *lon,
		   int64_t *time_ms)
{
	int64_t cutoff = clock_now_ms() - r->env->summary_delay_ms;
	if (*time_ms > cutoff && history_latest_before(db, device, cutoff, lat, lon, time_ms))
		return false;
	double g = (double)r->env->summary_grid_m;
	double dlat = g / 111320.0;
	double la = (floor(*lat / dlat) + 0.5) * dlat;
	double dlon = g / (111320.0 * fmax(cos(la * M_PI / 180), 0.01));
	*lat = fmin(90, fmax(-90, la));
	*lon = fmin(180, fmax(-180, (floor(*lon / dlon) + 0.5) * dlon));
	return true;
}

enum shape { Q_RADIUS, Q_NEAREST, Q_BBOX, Q_POLYGON };

struct query {
	enum shape shape;
	double lat, lon, radius_m, bbox[4];
	size_t k, limit;
	GEOSContextHandle_t gh;
	const GEOSPreparedGeometry *poly;
};

static bool matches(const struct query *q, double lat, double lon, double *dist)
{
	*dist = -1;
	switch (q->shape) {
	case Q_RADIUS:
		*dist = geo_distance_m(q->lat, q->lon, lat, lon);
		return *dist <= q->radius_m;
	case Q_NEAREST:
		*dist = geo_distance_m(q->lat, q->lon, lat, lon);
		return true;
	case Q_BBOX: {
		bool in_lon = q->bbox[0] <= q->bbox[2] ? lon >= q->bbox[0] && lon <= q->bbox[2]
						       : lon >= q->bbox[0] || lon <= q->bbox[2];
		return in_lon && lat >= q->bbox[1] && lat <= q->bbox[3];
	}
	case Q_POLYGON: {
		GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(q->gh, lon, lat);
		bool in = GEOSPreparedIntersects_r(q->gh, q->poly, pt) == 1;
		GEOSGeom_destroy_r(q->gh, pt);
		return in;
	}
	}
	return false;
}

/* One item of an answer; strings borrowed from the hits and the pipeline. */
struct out {
	const char *device, *org;
	double lat, lon;
	int64_t time_ms;
	double dist; /* < 0: none */
	enum view view;
};

static int by_dist(const void *a, const void *b)
{
	const struct out *x = a, *y = b;
	return x->dist < y->dist ? -1 : x->dist > y->dist;
}

/* A JSON string; ids and names are short and mostly plain. */
static void add_str(struct sb *sb, const char *s)
{
	sb_addc(sb, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sb_addc(sb, '\\'), sb_addc(sb, (char)c);
		else if (c < 0x20)
			sb_addf(sb, "\\u%04x", c);
		else
			sb_addc(sb, (char)c);
	}
	sb_addc(sb, '"');
}

/* x rounded to `decimals` places (at most 9), without printf's floating
 * point path: 7 places are a centimetre of latitude. */
static void add_fixed(struct sb *sb, double x, int decimals)
{
	static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	long long v = llround(fabs(x) * pow10[decimals]);
	long long p = (long long)pow10[decimals];
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "%s%lld", x < 0 && v ? "-" : "", v / p);
	long long frac = v % p;
	if (frac) {
		buf[n++] = '.';
		char digits[12];
		for (int i = decimals - 1; i >= 0; i--, frac /= 10)
			digits[i] = (char)('0' + frac % 10);
		int len = decimals;
		while (len > 1 && digits[len - 1] == '0')
			len--;
		memcpy(buf + n, digits, (size_t)len);
		n += len;
	}
	sb_add(sb, buf, (size_t)n);
}

static void write_item(struct sb *sb, const struct out *o, bool comma)
{
	char ts[25];
	time_format_ms(o->time_ms, ts);
	sb_adds(sb, comma ? ",{\"device_id\":" : "{\"device_id\":");
	add_str(sb, o->device);
	sb_adds(sb, ",\"org_id\":");
	add_str(sb, o->org);
	sb_adds(sb, ",\"lat\":");
	add_fixed(sb, o->lat, 7);
	sb_adds(sb, ",\"lon\":");
	add_fixed(sb, o->lon, 7);
	sb_adds(sb, ",\"time\":\"");
	sb_adds(sb, ts);
	sb_adds(sb, "\",\"access\":\"");
	sb_adds(sb, view_name(o->view));
	sb_addc(sb, '"');
	if (o->dist >= 0) {
		sb_adds(sb, ",\"dist_m\":");
		add_fixed(sb, o->dist, 2);
	}
	sb_addc(sb, '}');
}

/* Runs q for the actor: exact positions of own and fully shared
 * organisations from the index, then summary-level ones on their coarse
 * positions; replies with the items. */
static void run_query(struct req *r, struct query *q)
{
	struct live *lv = pipeline_live(r->env->pipeline);
	struct live_hit *h = NULL, *hs = NULL;
	size_t n = 0, ns = 0;
	struct db *db = req_db(r);
	if (!db)
		return;
	size_t norgs = pipeline_org_count(r->env->pipeline);
	uint8_t *vis = xcalloc(norgs ? norgs : 1, 1);
	bool any_summary = false;
	for (size_t i = 0; i < norgs; i++) {
		struct seen s;
		const char *org = pipeline_org_name(r->env->pipeline, (uint16_t)i);
		enum level pp;
		if (visible(r, org, NULL, &s))
			vis[i] = s.view == VIEW_SUMMARY ? 2 : 1;
		else if ((pp = per_person(r, org)) != LEVEL_NONE)
			vis[i] = pp == LEVEL_SUMMARY ? 4 : 3;
		any_summary |= vis[i] == 2 || vis[i] == 4;
	}
	struct filter_ctx exact = {vis, norgs, 1, 3}, summ = {vis, norgs, 2, 4};
	switch (q->shape) {
	case Q_RADIUS:
		live_radius(lv, q->lat, q->lon, q->radius_m, org_filter, &exact, &h, &n);
		break;
	case Q_NEAREST:
		live_nearest(lv, q->lat, q->lon, q->k, org_filter, &exact, &h, &n);
		break;
	case Q_BBOX:
		live_bbox(lv, q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3], org_filter, &exact, &h, &n);
		break;
	case Q_POLYGON:
		live_bbox(lv, q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3], org_filter, &exact, &h, &n);
		break;
	}
	/* Summary-level organisations: every device of theirs, tested on its
	 * coarse (older, rounded) position, which may lie far from the latest. */
	if (any_summary)
		live_bbox(lv, -180, -90, 180, 90, org_filter, &summ, &hs, &ns);
	free(vis);
	struct out *items = xcalloc(n + ns ? n + ns : 1, sizeof(*items));
	size_t total = 0;
	json_t *reads = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *org = pipeline_org_name(r->env->pipeline, h[i].org);
		struct seen s;
		double d = h[i].dist_m;
		if ((q->shape == Q_POLYGON && !matches(q, h[i].lat, h[i].lon, &d)) || !visible_device(r, db, org, h[i].id, &s))
			continue;
		if (q->shape == Q_BBOX || q->shape == Q_POLYGON)
			d = -1;
		items[total++] = (struct out){h[i].id, org, h[i].lat, h[i].lon, h[i].time_ms, d, s.view};
		if (s.grant)
			api_note_read(reads, s.grant, s.view, h[i].id);
	}
	for (size_t i = 0; i < ns; i++) {
		const char *org = pipeline_org_name(r->env->pipeline, hs[i].org);
		struct seen s;
		double lat = hs[i].lat, lon = hs[i].lon, d;
		int64_t t = hs[i].time_ms;
		if (!visible_device(r, db, org, hs[i].id, &s) || !coarse(r, db, hs[i].id, &lat, &lon, &t) ||
		    !matches(q, lat, lon, &d))
			continue;
		items[total++] = (struct out){hs[i].id, org, lat, lon, t, d, s.view};
		api_note_read(reads, s.grant, s.view, hs[i].id);
	}
	if (q->shape == Q_RADIUS || q->shape == Q_NEAREST)
		qsort(items, total, sizeof(*items), by_dist);
	size_t cap = q->shape == Q_NEAREST ? q->k : q->limit;
	bool ok = api_audit_reads(r, reads, "position");
	json_decref(reads);
	if (ok) {
		/* Written directly: the answer to a busy map is hundreds of items,
		 * and a tree of JSON values per item cost more than the query. */
		struct sb out;
		sb_init(&out);
		sb_adds(&out, "{\"items\":[");
		for (size_t i = 0; i < total && i < cap; i++)
			write_item(&out, &items[i], i > 0);
		sb_addf(&out, "],\"count\":%zu,\"truncated\":%s}", total, total > cap ? "true" : "false");
		reply_data(r, 200, "application/json", out.buf, out.len);
		sb_release(&out);
	}
	free(items);
	free(h);
	free(hs);
}

static bool parse_pair(const char *s, double *a, double *b)
{
	char buf[80];
	if (!s || strlen(s) >= sizeof(buf))
		return false;
	sg_strlcpy(buf, s, sizeof(buf));
	char *comma = strchr(buf, ',');
	if (!comma)
		return false;
	*comma = '\0';
	return parse_double(buf, a) == 0 && parse_double(comma + 1, b) == 0;
}

void api_positions_latest(struct req *r)
{
	static const char *const allowed[] = {"near", "radius_m", "k", "bbox", "limit", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	struct query q = {.limit = 1000};
	const char *near = req_query(r, "near"), *radius = req_query(r, "radius_m"), *k = req_query(r, "k"),
		   *bbox = req_query(r, "bbox"), *limit = req_query(r, "limit");
	int64_t v;
	if (limit) {
		if (parse_i64(limit, 1, 10000, &v)) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", "limit must be 1 to 10000", "?limit");
			return;
		}
		q.limit = (size_t)v;
	}
	if (bbox && !near && !radius && !k) {
		char buf[200];
		double *b = q.bbox;
		bool ok = strlen(bbox) < sizeof(buf);
		sg_strlcpy(buf, bbox, sizeof(buf));
		char *p = buf;
		for (int i = 0; ok && i < 4; i++) {
			char *comma = strchr(p, ',');
			if ((i < 3) != (comma != NULL)) {
				ok = false;
				break;
			}
			if (comma)
				*comma = '\0';
			ok = parse_double(p, &b[i]) == 0;
			p = comma ? comma + 1 : p;
		}
		if (!ok || fabs(b[0]) > 180 || fabs(b[2]) > 180 || b[1] < -90 || b[3] > 90 || b[1] > b[3]) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter",
				      "bbox is min_lon,min_lat,max_lon,max_lat in degrees", "?bbox");
			return;
		}
		q.shape = Q_BBOX;
		run_query(r, &q);
		return;
	}
	if (!near || !parse_pair(near, &q.lat, &q.lon) || fabs(q.lat) > 90 || fabs(q.lon) > 180) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter",
			      "near=LAT,LON with radius_m or k, or bbox=min_lon,min_lat,max_lon,max_lat", "?near");
		return;
	}
	if ((radius != NULL) == (k != NULL)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "give one of radius_m and k",
			      radius ? "?k" : "?radius_m");
		return;
	}
	if (radius) {
		if (parse_double(radius, &q.radius_m) || q.radius_m <= 0 || q.radius_m > 2.1e7) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter",
				      "radius_m must be a number of metres, more than 0 and at most 21,000 km", "?radius_m");
			return;
		}
		q.shape = Q_RADIUS;
	} else {
		if (parse_i64(k, 1, 10000, &v)) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", "k must be 1 to 10000", "?k");
			return;
		}
		q.k = (size_t)v;
		q.shape = Q_NEAREST;
	}
	run_query(r, &q);
}

void api_positions_query(struct req *r)
{
	static const char *const members[] = {"geometry", "limit", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	struct query q = {.shape = Q_POLYGON, .limit = 1000};
	json_t *g = json_object_get(body, "geometry"), *lim = json_object_get(body, "limit");
	struct bbox bb;
	char where[160], detail[256], ptr[200];
	if (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 10000)) {
		reply_problem(r, 400, "validation", "Invalid request", "limit must be 1 to 10000", "/limit");
		json_decref(body);
		return;
	}
	if (lim)
		q.limit = (size_t)json_integer_value(lim);
	if (geojson_validate(g, GJ_POLYGON | GJ_MULTIPOLYGON, &bb, where, sizeof(where), detail, sizeof(detail))) {
		snprintf(ptr, sizeof(ptr), "/geometry%s", where);
		reply_problem(r, 400, "validation", "Invalid request", detail, ptr);
		json_decref(body);
		return;
	}
	q.bbox[0] = bb.min_lon, q.bbox[1] = bb.min_lat, q.bbox[2] = bb.max_lon, q.bbox[3] = bb.max_lat;
	q.gh = GEOS_init_r();
	GEOSGeoJSONReader *rd = GEOSGeoJSONReader_create_r(q.gh);
	char *txt = json_dumps(g, JSON_COMPACT);
	GEOSGeometry *geom = GEOSGeoJSONReader_readGeometry_r(q.gh, rd, txt);
	free(txt);
	if (!geom) {
		reply_problem(r, 400, "validation", "Invalid request", "the polygon could not be read", "/geometry");
	} else {
		q.poly = GEOSPrepare_r(q.gh, geom);
		run_query(r, &q);
		GEOSPreparedGeom_destroy_r(q.gh, q.poly);
		GEOSGeom_destroy_r(q.gh, geom);
	}
	GEOSGeoJSONReader_destroy_r(q.gh, rd);
	GEOS_finish_r(q.gh);
	json_decref(body);
}

/* --- history ------------------------------------------------------------------ */

/* One element of text; whatever the text holds, the document stays XML. */
static void xml_start(xmlTextWriterPtr w, const char *name, const char *text)
{
	char *clean = xml_text(text);
	xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST clean);
	free(clean);
}

/* One export of a device's history: a format is a start, a row and a reply
 * (the table below); adding one is one more line. */
struct export {
	struct req *r;
	const char *name; /* the device's */
	struct sb out;
	json_t *features, *coords;
	xmlBufferPtr xb;
	xmlTextWriterPtr w;
};

static void csv_start(struct export *x)
{
	sb_adds(&x->out, "device_id,time,lat,lon,speed_mps,course_deg,altitude_m,accuracy_m,battery_pct,charging,attrs\r\n");
}

static void csv_num(struct sb *out, double v)
{
	if (isnan(v))
		sb_adds(out, ",");
	else
		sb_addf(out, ",%.15g", v);
}

static int csv_row(void *ctx, const struct history_row *h)
{
	struct export *x = ctx;
	char ts[25];
	time_format_ms(h->time_ms, ts);
	sb_addf(&x->out, "%s,%s,%.7f,%.7f", x->r->param, ts, h->lat, h->lon);
	csv_num(&x->out, h->speed_mps);
	csv_num(&x->out, h->course_deg);
	csv_num(&x->out, h->altitude_m);
	csv_num(&x->out, h->accuracy_m);
	csv_num(&x->out, h->battery_pct < 0 ? (double)NAN : h->battery_pct);
	csv_num(&x->out, h->charging < 0 ? (double)NAN : h->charging);
	sb_addc(&x->out, ',');
	sb_add_csv(&x->out, h->attrs, true);
	sb_adds(&x->out, "\r\n");
	return 0;
}

static void xml_open(struct export *x)
{
	x->xb = xmlBufferCreate();
	x->w = xmlNewTextWriterMemory(x->xb, 0);
	xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL);
}

static void gpx_start(struct export *x)
{
	xml_open(x);
	xmlTextWriterStartElement(x->w, BAD_CAST "gpx");
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "version", BAD_CAST "1.1");
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "creator", BAD_CAST "Safeguard");
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns", BAD_CAST "http://www.topografix.com/GPX/1/1");
	xmlTextWriterStartElement(x->w, BAD_CAST "trk");
	xml_start(x->w, "name", x->name);
	xmlTextWriterStartElement(x->w, BAD_CAST "trkseg");
}

static int gpx_row(void *ctx, const struct history_row *h)
{
	struct export *x = ctx;
	char ts[25], num[64];
	time_format_ms(h->time_ms, ts);
	xmlTextWriterStartElement(x->w, BAD_CAST "trkpt");
	snprintf(num, sizeof(num), "%.7f", h->lat);
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "lat", BAD_CAST num);
	snprintf(num, sizeof(num), "%.7f", h->lon);
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "lon", BAD_CAST num);
	if (!isnan(h->altitude_m)) {
		snprintf(num, sizeof(num), "%.2f", h->altitude_m);
		xml_start(x->w, "ele", num);
	}
	xml_start(x->w, "time", ts);
	xmlTextWriterEndElement(x->w);
	return 0;
}

static void kml_start(struct export *x)
{
	xml_open(x);
	xmlTextWriterStartElement(x->w, BAD_CAST "kml");
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns", BAD_CAST "http://www.opengis.net/kml/2.2");
	xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns:gx", BAD_CAST "http://www.google.com/kml/ext/2.2");
	xmlTextWriterStartElement(x->w, BAD_CAST "Document");
	xml_start(x->w, "name", x->name);
	xmlTextWriterStartElement(x->w, BAD_CAST "Placemark");
	xml_start(x->w, "name", x->name);
	xmlTextWriterStartElement(x->w, BAD_CAST "gx:Track");
}

static int kml_row(void *ctx, const struct history_row *h)
{
	struct export *x = ctx;
	char ts[25], num[96];
	time_format_ms(h->time_ms, ts);
	xml_start(x->w, "when", ts);
	snprintf(num, sizeof(num), "%.7f %.7f %.2f", h->lon, h->lat, isnan(h->altitude_m) ? 0.0 : h->altitude_m);
	json_array_append_new(x->coords, json_string(num));
	return 0;
}

/* gx:Track lists every time, then every coordinate. */
static void kml_finish(struct export *x)
{
	size_t i;
	json_t *c;
	json_array_foreach(x->coords, i, c)
		xml_start(x->w, "gx:coord", json_string_value(c));
}

static int geojson_row(void *ctx, const struct history_row *h)
{
	struct export *x = ctx;
	char ts[25];
	time_format_ms(h->time_ms, ts);
	json_t *props = json_pack("{s:s}", "time", ts);
	const double v[] = {h->speed_mps, h->course_deg, h->altitude_m, h->accuracy_m};
	static const char *const names[] = {"speed_mps", "course_deg", "altitude_m", "accuracy_m"};
	for (int c = 0; c < 4; c++)
		if (!isnan(v[c]))
			json_object_set_new(props, names[c], json_real(v[c]));
	if (h->battery_pct >= 0)
		json_object_set_new(props, "battery_pct", json_integer(h->battery_pct));
	if (h->charging >= 0)
		json_object_set_new(props, "charging", json_boolean(h->charging));
	json_t *attrs = json_loads(h->attrs, 0, NULL);
	json_object_set_new(props, "attributes", attrs ? attrs : json_object());
	json_array_append_new(x->features, json_pack("{s:s,s:{s:s,s:[f,f]},s:o}", "type", "Feature", "geometry",
						     "type", "Point", "coordinates", h->lon, h->lat, "properties",
						     props));
	return 0;
}

static void geojson_reply(struct export *x)
{
	json_t *fc = json_pack("{s:s,s:s,s:O}", "type", "FeatureCollection", "device_id", x->r->param, "features",
			       x->features);
	char *txt = json_dumps(fc, JSON_COMPACT | JSON_REAL_PRECISION(15));
	reply_data(x->r, 200, "application/geo+json", txt, strlen(txt));
	free(txt);
	json_decref(fc);
}

static const struct history_format {
	const char *name, *content_type; /* NULL: the format replies itself */
	void (*start)(struct export *x);
	history_fn row;
	void (*finish)(struct export *x);
} history_formats[] = {
	{"geojson", NULL, NULL, geojson_row, geojson_reply},
	{"csv", "text/csv; charset=utf-8", csv_start, csv_row, NULL},
	{"gpx", "application/gpx+xml", gpx_start, gpx_row, NULL},
	{"kml", "application/vnd.google-earth.kml+xml", kml_start, kml_row, kml_finish},
};

/* The device the path names, if the caller may read it: its name, or a
 * reply sent and false. */
static bool history_device(struct req *r, struct db *db, char name[200])
{
	json_t *dev;
	if (!id_valid(r->param, "dev") || resource_get(db, resource_find("devices"), r->param, &dev)) {
		reply_err(r, SG_ENOTFOUND, "device");
		return false;
	}
	enum decision d = policy_decide(&r->actor, ACT_READ, "devices", json_string_value(json_object_get(dev, "org_id")),
					r->param, NULL);
	sg_strlcpy(name, json_string_value(json_object_get(dev, "name")), 200);
	json_decref(dev);
	if (d != DECIDE_ALLOW) {
		reply_err(r, d == DECIDE_HIDE ? SG_ENOTFOUND : SG_EFORBIDDEN, "device");
		return false;
	}
	return true;
}

void api_device_history(struct req *r)
{
	static const char *const allowed[] = {"from", "to", "format", "limit", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	const char *from = req_query(r, "from"), *to = req_query(r, "to"), *fmt = req_query(r, "format");
	const char *lim = req_query(r, "limit");
	int64_t t0 = 0, t1 = INT64_MAX, limit = 10000;
	if (from && time_parse_rfc3339(from, &t0)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "from must be an RFC 3339 time", "?from");
		return;
	}
	if (to && time_parse_rfc3339(to, &t1)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "to must be an RFC 3339 time", "?to");
		return;
	}
	if (lim && parse_i64(lim, 1, 100000, &limit)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "limit must be 1 to 100000", "?limit");
		return;
	}
	const struct history_format *f = NULL;
	for (size_t i = 0; i < ARRAY_LEN(history_formats); i++)
		if (str_eq(fmt ? fmt : "geojson", history_formats[i].name))
			f = &history_formats[i];
	if (!f) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "format must be geojson, csv, gpx or kml", "?format");
		return;
	}
	struct db *db = req_db(r);
	char name[200];
	if (!db || !history_device(r, db, name))
		return;
	struct export x = {.r = r, .name = name, .features = json_array(), .coords = json_array()};
	sb_init(&x.out);
	if (f->start)
		f->start(&x);
	int rc = history_read(db, r->param, t0, t1, limit, f->row, &x);
	if (f->finish && !rc && f->content_type)
		f->finish(&x);
	if (x.w) {
		xmlTextWriterEndDocument(x.w);
		xmlFreeTextWriter(x.w);
		x.w = NULL;
	}
	if (rc)
		reply_err(r, SG_EIO, NULL);
	else if (!f->content_type)
		f->finish(&x);
	else if (x.xb)
		reply_data(r, 200, f->content_type, xmlBufferContent(x.xb), (size_t)xmlBufferLength(x.xb));
	else
		reply_data(r, 200, f->content_type, x.out.buf, x.out.len);
	json_decref(x.features);
	json_decref(x.coords);
	if (x.xb)
		xmlBufferFree(x.xb);
	sb_release(&x.out);
}

/* --- zones and sites at a point ---------------------------------------------- */

void api_zones_at(struct req *r)
{
	static const char *const allowed[] = {"lat", "lon", "at", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	double lat, lon;
	int64_t t = clock_now_ms();
	const char *la = req_query(r, "lat"), *lo = req_query(r, "lon"), *at = req_query(r, "at");
	if (!la || parse_double(la, &lat) || fabs(lat) > 90) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "lat must be a latitude", "?lat");
		return;
	}
	if (!lo || parse_double(lo, &lon) || fabs(lon) > 180) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "lon must be a longitude", "?lon");
		return;
	}
	if (at && time_parse_rfc3339(at, &t)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "at must be an RFC 3339 time", "?at");
		return;
	}
	struct fence_hit hits[256];
	size_t n = pipeline_fences_at(r->env->pipeline, lat, lon, t, hits, 256);
	json_t *items = json_array();
	for (size_t i = 0; i < n && i < 256; i++) {
		const char *resource = hits[i].type == 's' ? "sites" : "zones";
		struct access acc;
		if (policy_decide(&r->actor, ACT_READ, resource, hits[i].org, hits[i].id, &acc) != DECIDE_ALLOW)
			continue;
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "type", hits[i].type == 's' ? "site" : "zone", "id",
				      hits[i].id, "org_id", hits[i].org, RESOURCE_ACCESS_MEMBER, view_name(acc.view));
		if (hits[i].type == 'z')
			json_object_set_new(o, "level", json_integer(hits[i].level));
		json_array_append_new(items, o);
	}
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}
