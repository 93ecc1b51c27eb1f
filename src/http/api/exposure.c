/* GET /api/v1/incidents/{id}/exposure: the people whose fresh latest
 * position, or whose home site, lies in the incident's area of effect, and
 * the sites in it; each at the level the caller may see it (a partner's
 * people shared as summary under their pseudonym), each cross-organisation
 * read audited like any other.
 *
 * The rules, as the test's brute force states them too:
 * - a position counts when it is at most fresh_s old (default
 *   incidents.fresh_s) and the caller sees that organisation's positions
 *   exactly (own, or shared in full; summary positions are coarse and late);
 * - a site lies in the area when its reference point does: its point, or
 *   the middle of its outline's bounding box;
 * - distances are from the incident's point (0 inside a polygon). */
#include "http/api/api.h"

#include "registry/assessments.h"

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "geo/geodesic.h"
#include "geo/live.h"
#include "pipeline/pipeline.h"
#include "registry/alert_store.h"
#include "registry/directory.h"
#include "registry/resource.h"

#include <geos_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct area {
	bool point;
	double lat, lon, radius_m;
	double bbox[4]; /* min lon, min lat, max lon, max lat */
	GEOSContextHandle_t gh;
	GEOSGeometry *geom;
	const GEOSPreparedGeometry *prep;
};

static bool area_has(const struct area *a, double lat, double lon, double *dist)
{
	if (a->point) {
		*dist = geo_distance_m(a->lat, a->lon, lat, lon);
		return *dist <= a->radius_m;
	}
	*dist = 0;
	GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(a->gh, lon, lat);
	bool in = pt && GEOSPreparedIntersects_r(a->gh, a->prep, pt) == 1;
	GEOSGeom_destroy_r(a->gh, pt);
	return in;
}

static double num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* The incident's area; false when its stored geometry cannot be read. */
static bool area_open(struct area *a, const json_t *inc)
{
	const json_t *g = json_object_get(inc, "geometry");
	const json_t *c = json_object_get(g, "coordinates");
	a->bbox[0] = num(inc, "min_lon"), a->bbox[1] = num(inc, "min_lat");
	a->bbox[2] = num(inc, "max_lon"), a->bbox[3] = num(inc, "max_lat");
	if (str_eq(json_string_value(json_object_get(g, "type")), "Point")) {
		a->point = true;
		a->lon = json_number_value(json_array_get(c, 0));
		a->lat = json_number_value(json_array_get(c, 1));
		a->radius_m = num(inc, "radius_m");
		return true;
	}
	a->gh = GEOS_init_r();
	GEOSGeoJSONReader *rd = GEOSGeoJSONReader_create_r(a->gh);
	char *txt = json_dumps(g, JSON_COMPACT);
	a->geom = txt ? GEOSGeoJSONReader_readGeometry_r(a->gh, rd, txt) : NULL;
	free(txt);
	GEOSGeoJSONReader_destroy_r(a->gh, rd);
	a->prep = a->geom ? GEOSPrepare_r(a->gh, a->geom) : NULL;
	return a->prep != NULL;
}

static void area_close(struct area *a)
{
	if (!a->gh)
		return;
	if (a->prep)
		GEOSPreparedGeom_destroy_r(a->gh, a->prep);
	if (a->geom)
		GEOSGeom_destroy_r(a->gh, a->geom);
	GEOS_finish_r(a->gh);
}

/* A site's reference point: its point, or the middle of its outline's box. */
static void site_point(const json_t *site, double *lat, double *lon)
{
	const json_t *g = json_object_get(site, "geometry");
	if (str_eq(json_string_value(json_object_get(g, "type")), "Point")) {
		*lon = json_number_value(json_array_get(json_object_get(g, "coordinates"), 0));
		*lat = json_number_value(json_array_get(json_object_get(g, "coordinates"), 1));
		return;
	}
	*lon = (num(site, "min_lon") + num(site, "max_lon")) / 2;
	*lat = (num(site, "min_lat") + num(site, "max_lat")) / 2;
}

/* found: person id -> {"reasons": [...], "distance_m", "position"?, "site"?} */
static json_t *entry(json_t *found, const char *person)
{
	json_t *e = json_object_get(found, person);
	if (!e) {
		e = json_pack("{s:[],s:n}", "reasons", "distance_m");
		json_object_set_new(found, person, e);
	}
	return e;
}

static void nearer(json_t *e, double d)
{
	json_t *cur = json_object_get(e, "distance_m");
	if (json_is_null(cur) || d < json_number_value(cur))
		json_object_set_new(e, "distance_m", json_real(round(d * 10) / 10));
}

static bool all_orgs(void *ctx, uint16_t org)
{
	(void)ctx;
	(void)org;
	return true;
}

static bool one_org(void *ctx, uint16_t org)
{
	return org == *(const uint16_t *)ctx;
}


/* People by their fresh latest positions. */
static int by_position(struct req *r, struct db *db, const struct area *a, int64_t fresh_s, json_t *found,
		       json_t *reads)
{
	struct live_hit *h = NULL;
	size_t n = 0;
	int64_t cutoff = clock_now_ms() - fresh_s * 1000;
	if (live_bbox(pipeline_live(r->env->pipeline), a->bbox[0], a->bbox[1], a->bbox[2], a->bbox[3], all_orgs, NULL,
		      &h, &n))
		return SG_EIO;
	for (size_t i = 0; i < n; i++) {
		double d;
		struct access acc;
		const char *org = pipeline_org_name(r->env->pipeline, h[i].org);
		if (h[i].time_ms < cutoff || !area_has(a, h[i].lat, h[i].lon, &d) || !org)
			continue;
		char person[64];
		if (!alert_device_person(db, h[i].id, person))
			continue; /* removed since, or not a person's */
		/* decided for the person: a grant may hold for them alone (an open SOS) */
		if (policy_decide(&r->actor, ACT_READ, "positions", org, person, &acc) == DECIDE_ALLOW &&
		    acc.view != VIEW_SUMMARY) {
			json_t *e = entry(found, person);
			json_array_append_new(json_object_get(e, "reasons"), json_string("position"));
			char ts[25];
			time_format_ms(h[i].time_ms, ts);
			json_object_set_new(e, "position", json_pack("{s:s,s:f,s:f,s:s}", "device_id", h[i].id, "lat",
								    h[i].lat, "lon", h[i].lon, "time", ts));
			nearer(e, d);
			if (acc.grant)
				api_note_read(reads, acc.grant, acc.view, h[i].id);
		}
	}
	free(h);
	return 0;
}

/* Sites in the area (each rendered for the caller into sites_out) and the
 * people whose home site they are. */
static int by_home_site(struct req *r, struct db *db, const struct area *a, json_t *found, json_t *sites_out)
{
	const struct resource *sites = resource_find("sites"), *people = resource_find("people");
	const struct field *home = resource_field(people, "home_site_id");
	char after[48] = "";
	bool more = true;
	int rc = 0;
	while (more && !rc) {
		struct list_query q = {.after = *after ? after : NULL, .limit = 500};
		json_t *page;
		if ((rc = resource_list(db, sites, &q, &page, &more)))
			break;
		size_t i;
		json_t *s;
		json_array_foreach(page, i, s) {
			const char *id = json_string_value(json_object_get(s, "id"));
			sg_strlcpy(after, id, sizeof(after));
			struct access acc;
			double lat, lon, d;
			site_point(s, &lat, &lon);
			if (!area_has(a, lat, lon, &d) ||
			    policy_decide(&r->actor, ACT_READ, "sites", json_string_value(json_object_get(s, "org_id")), id,
					  &acc) != DECIDE_ALLOW)
				continue;
			json_t *out = api_render(r, sites, s, &acc, false);
			if (!out)
				continue;
			json_object_set_new(out, "distance_m", json_real(round(d * 10) / 10));
			json_array_append_new(sites_out, out);
			/* the people who live or work there */
			struct list_query pq = {.limit = 10000};
			pq.filter[home - people->fields] = id;
			json_t *ps;
			bool pmore;
			if ((rc = resource_list(db, people, &pq, &ps, &pmore)))
				break;
			size_t k;
			json_t *p;
			json_array_foreach(ps, k, p) {
				json_t *e = entry(found, json_string_value(json_object_get(p, "id")));
				json_array_append_new(json_object_get(e, "reasons"), json_string("home_site"));
				nearer(e, d);
			}
			json_decref(ps);
		}
		json_decref(page);
	}
	return rc;
}

static int by_distance(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	double da = num(a, "distance_m"), db = num(b, "distance_m");
	if (da != db)
		return da < db ? -1 : 1;
	return strcmp(json_string_value(json_object_get(a, "id")), json_string_value(json_object_get(b, "id")));
}

void api_incident_exposure(struct req *r)
{
	static const char *const allowed[] = {"fresh_s", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	int64_t fresh_s = r->env->cfg ? config_int(r->env->cfg, "incidents.fresh_s") : 3600;
	const char *v = req_query(r, "fresh_s");
	if (v && parse_i64(v, 1, 30 * 86400, &fresh_s)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "fresh_s must be 1 to 2592000 seconds",
			      "?fresh_s");
		return;
	}
	struct access acc;
	json_t *inc = api_load_for(r, resource_find("incidents"), ACT_READ, &acc);
	if (!inc)
		return;
	struct db *db = req_db(r);
	struct area a = {0};
	json_t *found = json_object(), *sites = json_array(), *reads = json_object(), *preads = json_object();
	json_t *people = json_array();
	int rc = !area_open(&a, inc) ? SG_EINTERNAL : 0;
	if (!rc)
		rc = by_position(r, db, &a, fresh_s, found, preads);
	if (!rc)
		rc = by_home_site(r, db, &a, found, sites);
	/* each person as the caller may see them */
	const struct resource *pr = resource_find("people");
	const char *pid;
	json_t *e;
	json_object_foreach(found, pid, e) {
		json_t *rec;
		struct access pa;
		if (rc || resource_get(db, pr, pid, &rec))
			continue;
		if (policy_decide(&r->actor, ACT_READ, "people", json_string_value(json_object_get(rec, "org_id")), pid,
				  &pa) == DECIDE_ALLOW) {
			json_t *out = api_render(r, pr, rec, &pa, false);
			if (out) {
				json_object_update(out, e);
				json_array_append_new(people, out);
				api_note_record_read(reads, pr, &pa, rec);
			}
		}
		json_decref(rec);
	}
	size_t np = json_array_size(people);
	json_t **sorted = xcalloc(np ? np : 1, sizeof(*sorted));
	for (size_t i = 0; i < np; i++)
		sorted[i] = json_incref(json_array_get(people, i));
	qsort(sorted, np, sizeof(*sorted), by_distance);
	json_array_clear(people);
	for (size_t i = 0; i < np; i++)
		json_array_append_new(people, sorted[i]);
	free(sorted);
	area_close(&a);
	if (rc)
		reply_err(r, rc, NULL);
	else if (api_audit_reads(r, reads, "person") && api_audit_reads(r, preads, "position"))
		reply_json(r, 200, json_pack("{s:O,s:s,s:I,s:I,s:O,s:O}", "incident_id", json_object_get(inc, "id"), "access",
					     view_name(acc.view), "fresh_s", (json_int_t)fresh_s, "count", (json_int_t)np, "people",
					     people, "sites", sites));
	json_decref(people);
	json_decref(found);
	json_decref(sites);
	json_decref(reads);
	json_decref(preads);
	json_decref(inc);
}

/* --- an organisation's own assessment of an incident it sees ------------------ */

static const char *const severities[] = {"extreme", "severe", "moderate", "minor", "unknown", NULL};
static const char *const confidences[] = {"confirmed", "probable", "possible", "unconfirmed", NULL};

static bool one_of(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (str_eq(*list, s))
			return true;
	return false;
}

struct assess_job {
	const char *incident, *org, *severity, *confidence, *notes, *actor, *request_id;
	int64_t now;
};

static int assess_fn(struct db *db, void *arg)
{
	struct assess_job *j = arg;
	return assessment_set(db, j->incident, j->org, j->severity, j->confidence, j->notes, j->actor, j->request_id,
			      j->now);
}

/* GET: the caller's organisation's assessment (404 when it has none yet);
 * POST: sets it. The incident must be one the caller sees; the owner's
 * record is never changed, and the owner never sees this. */
void api_incident_assessment(struct req *r)
{
	struct access acc;
	json_t *inc = api_load_for(r, resource_find("incidents"), ACT_READ, &acc);
	if (!inc)
		return;
	const char *id = json_string_value(json_object_get(inc, "id"));
	struct db *db = req_db(r);
	if (str_eq(r->method, "GET")) {
		json_t *a;
		int rc = db ? assessment_get(db, id, r->actor.org_id, &a) : SG_EIO;
		if (rc == 0)
			reply_json(r, 200, a);
		else if (rc == SG_ENOTFOUND)
			reply_problem(r, 404, "not-found", "Not found", "your organisation has not assessed this incident", NULL);
		else if (db)
			reply_err(r, rc, NULL);
		json_decref(inc);
		return;
	}
	if (!(ROLES_OPERATORS & ROLE_BIT(r->actor.role))) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		json_decref(inc);
		return;
	}
	static const char *const members[] = {"severity", "confidence", "notes", NULL};
	json_t *body = req_json_members(r, members);
	if (!body) {
		json_decref(inc);
		return;
	}
	const json_t *notes = json_object_get(body, "notes"), *conf = json_object_get(body, "confidence");
	struct assess_job j = {.incident = id, .org = r->actor.org_id,
			       .severity = json_string_value(json_object_get(body, "severity")),
			       .confidence = json_string_value(conf), .notes = json_string_value(notes),
			       .actor = r->actor.id, .request_id = r->id, .now = clock_now_ms()};
	const char *bad = NULL, *ptr = NULL;
	if (!one_of(severities, j.severity))
		bad = "severity must be extreme, severe, moderate, minor or unknown", ptr = "/severity";
	else if (conf && !json_is_null(conf) && !one_of(confidences, j.confidence))
		bad = "confidence must be confirmed, probable, possible or unconfirmed", ptr = "/confidence";
	else if (notes && !json_is_null(notes) && (!json_is_string(notes) || json_string_length(notes) > 4000))
		bad = "notes must be text of at most 4,000 characters", ptr = "/notes";
	if (bad) {
		reply_problem(r, 400, "validation", "Invalid request", bad, ptr);
	} else {
		int rc = store_write(r->env->store, assess_fn, &j);
		json_t *a;
		if (rc == 0 && db && (rc = assessment_get(db, id, r->actor.org_id, &a)) == 0)
			reply_json(r, 200, a);
		else
			reply_err(r, rc ? rc : SG_EIO, NULL);
	}
	json_decref(body);
	json_decref(inc);
}

/* --- alerts: who an alert reaches ------------------------------------------------ */

/* The people of the caller's organisation an alert reaches, each once with
 * the reasons: fresh latest position in its area, home site in its area,
 * named, or living at a named site; by person id. The organisation's people
 * and devices come from the directory (in memory, read again after a write
 * to either): the live index answers the area, each hit's person is a hash
 * lookup, and each person is found once through a slot per person. 0, or an
 * error after which nothing was replied. */
static int alert_recipients_in(struct req *r, struct db *db, const json_t *alert, struct alert_set *rs,
			       int32_t *slot, size_t *cap);

int api_alert_recipients(struct req *r, struct db *db, const json_t *alert, struct alert_set *out)
{
	*out = (struct alert_set){.directory = r->env->directory};
	/* the snapshot before the read transaction (directory.h) */
	out->dir = directory_org(out->directory, db, r->actor.org_id);
	if (!out->dir)
		return SG_EIO;
	size_t np = dir_people(out->dir), cap = 0;
	int32_t *slot = xmalloc((np ? np : 1) * sizeof(*slot));
	memset(slot, 0xff, (np ? np : 1) * sizeof(*slot)); /* -1: not reached */
	bool txn = store_read_begin(db) == 0; /* one read transaction for the lookups */
	int rc = alert_recipients_in(r, db, alert, out, slot, &cap);
	if (txn)
		store_read_end(db);
	/* in person order: the slots are by person id */
	if (!rc && out->n) {
		struct alert_recipient *a = xmalloc(out->n * sizeof(*a));
		size_t k = 0;
		for (size_t p = 0; p < np; p++)
			if (slot[p] >= 0)
				a[k++] = out->a[slot[p]];
		free(out->a);
		out->a = a;
	}
	free(slot);
	if (rc)
		api_alert_set_free(out);
	return rc;
}

/* Person p (an index of the directory) reached for why; NULL: not one of
 * the organisation's people. */
static struct alert_recipient *reach(struct alert_set *rs, int32_t *slot, size_t *cap, long p, unsigned why)
{
	if (p < 0)
		return NULL;
	if (slot[p] >= 0) {
		rs->a[slot[p]].reasons |= why;
		return &rs->a[slot[p]];
	}
	if (rs->n == *cap)
		rs->a = xrealloc(rs->a, (*cap = *cap ? *cap * 2 : 256) * sizeof(*rs->a));
	slot[p] = (int32_t)rs->n;
	struct alert_recipient *x = &rs->a[rs->n++];
	*x = (struct alert_recipient){.person_id = dir_person_id(rs->dir, (size_t)p),
				      .name = dir_person_name(rs->dir, (size_t)p), .reasons = why};
	return x;
}

void api_alert_set_free(struct alert_set *s)
{
	free(s->a);
	directory_release(s->directory, s->dir);
	*s = (struct alert_set){0};
}

json_t *api_alert_set_json(const struct alert_set *s)
{
	json_t *list = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const struct alert_recipient *m = &s->a[i];
		json_t *item = json_pack("{s:s,s:s,s:o}", "person_id", m->person_id, "name", m->name ? m->name : "",
					 "reasons", alert_reasons_json(m->reasons));
		if (m->has_pos) { /* where the sender sees them on the map */
			char ts[25];
			time_format_ms(m->time_ms, ts);
			json_object_set_new(item, "position", json_pack("{s:s,s:f,s:f,s:s}", "device_id", m->device_id, "lat",
								       m->lat, "lon", m->lon, "time", ts));
		}
		json_array_append_new(list, item);
	}
	return list;
}

static int alert_recipients_in(struct req *r, struct db *db, const json_t *alert, struct alert_set *rs,
			       int32_t *slot, size_t *cap)
{
	const struct resource *people = resource_find("people");
	const char *org = r->actor.org_id;
	int64_t fresh_s = r->env->cfg ? config_int(r->env->cfg, "alerts.fresh_s") : 3600;
	json_t *found = json_object(), *ignored = json_array();
	int rc = 0;
	/* the area: the alert's own, or its incident's */
	const json_t *src = alert;
	json_t *inc = NULL;
	const char *inc_id = json_string_value(json_object_get(alert, "incident_id"));
	if (!json_object_get(alert, "geometry") || json_is_null(json_object_get(alert, "geometry"))) {
		if (inc_id && resource_get(db, resource_find("incidents"), inc_id, &inc) == 0)
			src = inc;
		else
			src = NULL;
	}
	if (src) {
		struct area a = {0};
		if (!area_open(&a, src))
			rc = SG_EINVAL;
		/* fresh latest positions of the org's own devices in the area */
		uint16_t want = UINT16_MAX;
		size_t k = pipeline_org_count(r->env->pipeline);
		for (size_t i = 0; i < k && i < UINT16_MAX; i++)
			if (str_eq(pipeline_org_name(r->env->pipeline, (uint16_t)i), org))
				want = (uint16_t)i;
		struct live_hit *h = NULL;
		size_t n = 0;
		int64_t cutoff = clock_now_ms() - fresh_s * 1000;
		/* a circle: the index decides (exact geodesic distance at the edge);
		 * a polygon: its box, then the polygon */
		if (!rc && want != UINT16_MAX &&
		    (a.point ? live_radius(pipeline_live(r->env->pipeline), a.lat, a.lon, a.radius_m, one_org, &want, &h, &n)
			     : live_bbox(pipeline_live(r->env->pipeline), a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3], one_org,
					 &want, &h, &n)))
			rc = SG_EIO;
		if (n > *cap) /* one allocation for the many found by position */
			rs->a = xrealloc(rs->a, (*cap = n) * sizeof(*rs->a));
		for (size_t i = 0; !rc && i < n; i++) {
			double d;
			const char *device;
			if (h[i].time_ms < cutoff || (!a.point && !area_has(&a, h[i].lat, h[i].lon, &d)))
				continue; /* stale, or outside */
			struct alert_recipient *x = reach(rs, slot, cap, dir_device_person(rs->dir, h[i].id, &device),
							  ALERT_BY_POSITION);
			if (!x || x->has_pos)
				continue; /* not a person's (or removed since), or placed already */
			x->has_pos = true;
			x->device_id = device;
			x->lat = h[i].lat;
			x->lon = h[i].lon;
			x->time_ms = h[i].time_ms;
		}
		free(h);
		/* home sites in the area (the org's own sites' people) */
		if (!rc)
			rc = by_home_site(r, db, &a, found, ignored);
		area_close(&a);
	}
	const char *pid;
	json_t *e;
	json_object_foreach(found, pid, e) reach(rs, slot, cap, dir_person(rs->dir, pid), ALERT_BY_HOME_SITE);
	/* named people, and the people of named sites */
	json_t *named = json_loads(json_string_value(json_object_get(alert, "person_ids")) ?: "[]", 0, NULL);
	json_t *sites = json_loads(json_string_value(json_object_get(alert, "site_ids")) ?: "[]", 0, NULL);
	size_t i;
	json_t *v;
	json_array_foreach(named, i, v) if (json_is_string(v))
		reach(rs, slot, cap, dir_person(rs->dir, json_string_value(v)), ALERT_BY_NAME);
	const struct field *home = resource_field(people, "home_site_id");
	json_array_foreach(sites, i, v) {
		struct list_query pq = {.org_id = org, .limit = 10000};
		pq.filter[home - people->fields] = json_string_value(v);
		json_t *ps;
		bool more;
		if (rc || (rc = resource_list(db, people, &pq, &ps, &more)))
			break;
		size_t k;
		json_t *p;
		json_array_foreach(ps, k, p)
			reach(rs, slot, cap, dir_person(rs->dir, json_string_value(json_object_get(p, "id"))), ALERT_BY_SITE);
		json_decref(ps);
	}
	json_decref(named);
	json_decref(sites);
	json_decref(found);
	json_decref(ignored);
	json_decref(inc);
	return rc;
}
