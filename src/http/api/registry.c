/* Generic collection handlers for the registry resources, plus the few
 * resource-specific actions (organisation with its first admin, device and
 * API keys shown once, the audit list). Every handler asks the policy. */
#include "http/api/api.h"

#include "geo/geodesic.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "http/auth.h"
#include "http/cursor.h"
#include "http/router.h"
#include "registry/directory.h"
#include "registry/resource.h"
#include "pipeline/pipeline.h"
#include "sharing/sharing.h"

#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct resource *route_resource(struct req *r)
{
	const struct resource *res = resource_find(r->route->resource);
	if (!res)
		BUG("route %s names unknown resource", r->route->pattern);
	return res;
}

enum op { OP_INSERT, OP_UPDATE, OP_DELETE };

struct op_job {
	enum op op;
	const struct resource *res;
	json_t *rec;   /* insert: the record; update: the validated changes */
	const char *org_id, *id;
	json_t *out;   /* update: the new record */
	struct write_ctx w;
	struct verr err;
	/* An optional second insert in the same transaction (organisation + admin). */
	const struct resource *res2;
	json_t *rec2;
};

static int op_fn(struct db *db, void *arg)
{
	struct op_job *j = arg;
	j->w.err = &j->err;
	int rc;
	switch (j->op) {
	case OP_INSERT:
		rc = resource_insert(db, j->res, j->rec, &j->w);
		if (!rc && j->res2)
			rc = resource_insert(db, j->res2, j->rec2, &j->w);
		return rc;
	case OP_UPDATE:
		return resource_update(db, j->res, j->org_id, j->id, j->rec, &j->w, &j->out);
	case OP_DELETE:
		return resource_delete(db, j->res, j->org_id, j->id, &j->w);
	}
	return SG_EINTERNAL;
}

/* Runs the job through the writer; on failure replies and returns false. */
static bool run(struct req *r, struct op_job *j)
{
	j->w.actor = r->actor.id;
	j->w.request_id = r->id;
	j->w.now_ms = clock_now_ms();
	int rc = store_write(r->env->store, op_fn, j);
	if (rc == 0) {
		/* Who may see what may have changed: open streams check again. */
		if (str_eq(j->res->name, "users") || str_eq(j->res->name, "api_keys") ||
		    str_eq(j->res->name, "organisations"))
			atomic_fetch_add(&r->env->auth_epoch, 1);
		/* Site and zone changes take effect in the tagging at once. */
		if ((str_eq(j->res->name, "sites") || str_eq(j->res->name, "zones")) && req_db(r))
			pipeline_reload_fences(r->env->pipeline, r->rdb);
		/* People and devices in memory are read again when next asked. */
		if (str_eq(j->res->name, "people") || str_eq(j->res->name, "devices"))
			directory_changed(r->env->directory);
		/* A device's key or existence changed: forget the cached keys. */
		if (str_eq(j->res->name, "devices") && j->op != OP_INSERT)
			pipeline_forget_devices(r->env->pipeline);
		return true;
	}
	if (j->err.detail[0])
		reply_verr(r, &j->err);
	else
		reply_err(r, rc, j->res->type);
	return false;
}

/* Loads the route's {id} object and asks the policy; replies 404/403 itself.
 * A partner's people shared as summary are addressed by pseudonym only. */
json_t *api_load_for(struct req *r, const struct resource *res, enum action act, struct access *acc)
{
	char id[48];
	bool by_pseudonym = str_eq(res->name, "people") && sharing_is_pseudonym(r->param);
	struct db *db = req_db(r);
	if (!db)
		return NULL;
	if (by_pseudonym) {
		if (sharing_resolve_pseudonym(db, r->param, r->actor.org_id, id)) {
			reply_err(r, SG_ENOTFOUND, res->type);
			return NULL;
		}
	} else if (!id_valid(r->param, res->id_prefix)) {
		reply_err(r, SG_ENOTFOUND, res->type);
		return NULL;
	} else {
		sg_strlcpy(id, r->param, sizeof(id));
	}
	json_t *rec;
	int rc = resource_get(db, res, id, &rec);
	if (rc) {
		reply_err(r, rc, res->type);
		return NULL;
	}
	/* What the caller cannot read under this name does not exist for it, on
	 * every method: a summary grant never confirms a real id, and a pseudonym
	 * only works there. Only then may a write be forbidden (403). */
	const char *owner = json_string_value(json_object_get(rec, "org_id"));
	const char *rule = res->rule_of ? res->rule_of(rec) : res->name;
	struct access a;
	enum decision seen = policy_decide(&r->actor, ACT_READ, rule, owner, id, &a);
	if (seen == DECIDE_ALLOW && (a.view == VIEW_SUMMARY && str_eq(res->name, "people")) != by_pseudonym)
		seen = DECIDE_HIDE;
	/* A record under a narrower rule than its collection's (a duress
	 * alarm): who may not read it does not learn it exists. */
	if (seen == DECIDE_FORBID && rule != res->name)
		seen = DECIDE_HIDE;
	if (seen != DECIDE_HIDE) {
		switch (seen == DECIDE_FORBID || act == ACT_READ ? seen
								 : policy_decide(&r->actor, act, rule, owner, id, &a)) {
		case DECIDE_ALLOW:
			if (acc)
				*acc = a;
			return rec;
		case DECIDE_HIDE:
			break;
		case DECIDE_FORBID:
			json_decref(rec);
			reply_err(r, SG_EFORBIDDEN, NULL);
			return NULL;
		}
	}
	json_decref(rec);
	reply_err(r, SG_ENOTFOUND, res->type);
	return NULL;
}

/* The API form of rec for this actor: labelled with the level it is shown at;
 * a partner's people in summary appear under their pseudonym. NULL when the
 * record cannot be shown. */
json_t *api_render(struct req *r, const struct resource *res, const json_t *rec, const struct access *acc,
		   bool geojson)
{
	json_t *o = resource_public(res, rec, acc->view);
	json_object_set_new(o, RESOURCE_ACCESS_MEMBER, json_string(view_name(acc->view)));
	if (acc->view == VIEW_SUMMARY && str_eq(res->name, "people")) {
		char code[16];
		if (sharing_pseudonym(r->rdb, json_string_value(json_object_get(rec, "id")), r->actor.org_id,
				      code)) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "id", json_string(code));
		json_object_set_new(o, "pseudonym", json_string(code));
	}
	/* A reference to a partner's person, at summary: the pseudonym. */
	for (unsigned i = 0; acc->view == VIEW_SUMMARY && i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		const char *pid = json_string_value(json_object_get(o, f->name));
		char code[16];
		if (f->type != FT_REF || !str_eq(f->ref, "people") || !pid)
			continue;
		if (sharing_pseudonym(r->rdb, pid, r->actor.org_id, code)) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, f->name, json_string(code));
	}
	if (!geojson)
		return o;
	const json_t *g = resource_geometry(res, rec);
	json_t *id = json_incref(json_object_get(o, "id"));
	json_object_del(o, "geometry");
	return json_pack("{s:s,s:o,s:O,s:o}", "type", "Feature", "id", id, "geometry",
			 g ? g : json_null(), "properties", o);
}

/* Every read of another organisation's people is audited, per grant, in the
 * owner's trail, before the data leaves: reads is {grant_id: {grantor, level, ids}}. */
struct reads_job {
	json_t *reads;
	const char *type;
	const char *actor, *actor_org, *request_id;
	int64_t now;
};

static int reads_fn(struct db *db, void *arg)
{
	struct reads_job *j = arg;
	const char *type = j->type;
	const char *gid;
	json_t *v;
	json_object_foreach(j->reads, gid, v) {
		json_t *ch = json_pack("{s:s,s:s,s:O,s:s}", "grant_id", gid, "reader_org", j->actor_org,
				       "ids", json_object_get(v, "ids"), "level",
				       json_string_value(json_object_get(v, "level")));
		struct audit_entry ae = {.actor = j->actor,
					 .org_id = json_string_value(json_object_get(v, "grantor")),
					 .action = "read", .object_type = type, .changes = ch,
					 .request_id = j->request_id};
		int rc = audit_append(db, &ae, j->now);
		json_decref(ch);
		if (rc)
			return rc;
	}
	return 0;
}

void api_note_read(json_t *reads, const struct grant *g, enum view view, const char *id)
{
	json_t *e = json_object_get(reads, g->id);
	if (!e) {
		e = json_pack("{s:s,s:s,s:[]}", "grantor", g->grantor, "level", view_name(view), "ids");
		json_object_set_new(reads, g->id, e);
	}
	json_array_append_new(json_object_get(e, "ids"), json_string(id));
}

void api_note_record_read(json_t *reads, const struct resource *res, const struct access *acc, const json_t *rec)
{
	if (acc->grant && category_of(res->name) == CAT_PEOPLE)
		api_note_read(reads, acc->grant, acc->view, json_string_value(json_object_get(rec, "id")));
}

bool api_audit_reads(struct req *r, json_t *reads, const char *object_type)
{
	if (json_object_size(reads) == 0)
		return true;
	struct reads_job j = {.reads = reads, .type = object_type, .actor = r->actor.id, .actor_org = r->actor.org_id,
			      .request_id = r->id, .now = clock_now_ms()};
	int rc = store_write(r->env->store, reads_fn, &j);
	if (rc)
		reply_err(r, rc, NULL);
	return rc == 0;
}

static void set_location(struct req *r, const struct resource *res, const char *id)
{
	snprintf(r->location, sizeof(r->location), "/api/v1/%s/%s", res->name, id);
}

/* --- list ------------------------------------------------------------------ */

static int by_id(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
		      json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* Validates the list's filters like the members they name; fills q->filter.
 * false after a 400. */
static bool list_filters(struct req *r, const struct resource *res, struct list_query *q)
{
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		const char *v;
		if (!(f->flags & FF_FILTER) || !(v = req_query(r, f->name)))
			continue;
		struct verr e = {0};
		json_t *in = f->type == FT_BOOL ? (str_eq(v, "true") ? json_true() : str_eq(v, "false") ? json_false() : json_string(v))
						: json_string(v);
		char ptr[80];
		snprintf(ptr, sizeof(ptr), "?%s", f->name);
		json_t *probe = json_object();
		json_object_set_new(probe, f->name, in);
		json_t *tmp = json_object();
		bool ok = true;
		if (f->type == FT_ENUM || f->type == FT_BOOL || f->type == FT_REF) {
			/* a filter is a value to compare, not a change: set-once members too */
			struct field fc = *f;
			fc.flags &= ~(FF_IMMUTABLE | FF_READONLY);
			struct resource one = *res;
			one.fields = &fc;
			one.nfields = 1;
			one.check = NULL;
			ok = resource_apply(&one, tmp, probe, true, &e) == 0;
		}
		json_decref(tmp);
		json_decref(probe);
		if (!ok) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", e.detail, ptr);
			return false;
		}
		q->filter[i] = v;
	}
	return true;
}

/* The organisations whose records the caller may list: its own, and each
 * partner's that a grant in force shares (organisations: partners). */
static int list_orgs(struct req *r, const struct resource *res, struct list_query *q,
		     const char **orgs)
{
	int norgs = 0;
	orgs[norgs++] = r->actor.org_id;
	if (policy_list_self_only(&r->actor, res->name)) {
		q->only_id = r->actor.person_id[0] ? r->actor.person_id : "-";
	} else if (str_eq(res->name, "organisations")) {
		for (int i = 0; r->grants && i < r->grants->npartners; i++)
			orgs[norgs++] = r->grants->partners[i];
	} else {
		for (int i = 0; r->grants && i < r->grants->n; i++) {
			const struct grant *g = &r->grants->g[i];
			if (g->cat == category_of(res->name) && g->level != LEVEL_NONE)
				orgs[norgs++] = g->grantor;
		}
	}
	return norgs;
}

static void list_reply(struct req *r, json_t *items, json_t *next, bool geojson)
{
	if (geojson) {
		json_t *fc = json_pack("{s:s,s:o,s:o}", "type", "FeatureCollection", "features", items,
				       "next", next);
		char *txt = json_dumps(fc, JSON_COMPACT | JSON_REAL_PRECISION(15));
		json_decref(fc);
		reply_data(r, 200, "application/geo+json", txt, strlen(txt));
		free(txt);
		return;
	}
	reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

/* A list request's parameters, checked. */
struct list_params {
	const char *allowed[40];
	int na;
	bool geojson;
	const char *only_org;
	struct sb scope; /* the filters a cursor is bound to */
	char after[CURSOR_VALUE_MAX + 1];
	char from[25], until[25];
	bool near;       /* ?near=LAT,LON&radius_m=R: a box first, then the distance */
	double near_lat, near_lon, near_r;
};

/* A list's place filters (resources with a bounding box): ?bbox, or ?near
 * with ?radius_m; false after replying 400. */
static bool place_params(struct req *r, struct list_query *q, struct list_params *lp)
{
	const char *bbox = req_query(r, "bbox"), *near = req_query(r, "near"), *rad = req_query(r, "radius_m");
	double *b = q->bbox;
	if (bbox && near) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "give bbox or near, not both", "?near");
		return false;
	}
	if (bbox) {
		char buf[200];
		bool ok = strlen(bbox) < sizeof(buf) &&
			  sscanf(bbox, "%lf,%lf,%lf,%lf%199s", &b[0], &b[1], &b[2], &b[3], buf) == 4 &&
			  fabs(b[0]) <= 180 && fabs(b[2]) <= 180 && b[1] >= -90 && b[3] <= 90 && b[1] <= b[3] && b[0] <= b[2];
		if (!ok) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter",
				      "bbox is min_lon,min_lat,max_lon,max_lat in degrees", "?bbox");
			return false;
		}
		q->has_bbox = true;
	}
	if (near || rad) {
		char buf[200];
		double la, lo;
		if (!near || strlen(near) >= sizeof(buf) || sscanf(near, "%lf,%lf%199s", &la, &lo, buf) != 2 ||
		    fabs(la) > 90 || fabs(lo) > 180) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", "near is LAT,LON in degrees, with radius_m",
				      "?near");
			return false;
		}
		if (!rad || parse_double(rad, &lp->near_r) || !(lp->near_r > 0) || lp->near_r > 2e7) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter",
				      "radius_m must be a number of metres, more than 0 and at most 20,000 km", "?radius_m");
			return false;
		}
		lp->near = true, lp->near_lat = la, lp->near_lon = lo;
		double dlat = lp->near_r / 111320.0, dlon = lp->near_r / (111320.0 * fmax(cos(la * M_PI / 180), 0.01));
		b[0] = fmax(-180, lo - dlon), b[1] = fmax(-90, la - dlat), b[2] = fmin(180, lo + dlon), b[3] = fmin(90, la + dlat);
		q->has_bbox = true;
	}
	return true;
}

/* ?near, exactly: a Point area within radius_m of the point (its own radius
 * added); a Polygon by its bounding box. */
static bool near_ok(const struct list_params *lp, const json_t *rec)
{
	const json_t *g = json_object_get(rec, "geometry");
	if (!lp->near || !str_eq(json_string_value(json_object_get(g, "type")), "Point"))
		return true;
	const json_t *c = json_object_get(g, "coordinates");
	double d = geo_distance_m(lp->near_lat, lp->near_lon, json_number_value(json_array_get(c, 1)),
				  json_number_value(json_array_get(c, 0)));
	return d <= lp->near_r + json_number_value(json_object_get(rec, "radius_m"));
}

/* Reads limit, format, org_id, the filters and the cursor into q and lp;
 * false after replying 400. */
static bool list_params(struct req *r, const struct resource *res, struct list_query *q, struct list_params *lp)
{
	lp->allowed[lp->na++] = "limit";
	lp->allowed[lp->na++] = "cursor";
	lp->allowed[lp->na++] = "format";
	lp->allowed[lp->na++] = "org_id";
	for (unsigned i = 0; i < res->nfields && lp->na < 38; i++)
		if (res->fields[i].flags & FF_FILTER)
			lp->allowed[lp->na++] = res->fields[i].name;
	bool timed = resource_field(res, "time") != NULL, placed = resource_field(res, "min_lon") != NULL;
	if (timed)
		lp->allowed[lp->na++] = "from", lp->allowed[lp->na++] = "until";
	if (placed)
		lp->allowed[lp->na++] = "bbox", lp->allowed[lp->na++] = "near", lp->allowed[lp->na++] = "radius_m";
	lp->allowed[lp->na] = NULL;
	if (!req_query_allowed(r, lp->allowed))
		return false;
	const char *v;
	int64_t lim;
	if ((v = req_query(r, "limit")) && parse_i64(v, 1, 500, &lim)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "limit must be a whole number from 1 to 500",
			      "?limit");
		return false;
	}
	if (v)
		q->limit = (int)lim;
	if ((v = req_query(r, "format")) && !str_eq(v, "geojson") && !str_eq(v, "json")) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "format must be json or geojson", "?format");
		return false;
	}
	lp->geojson = v && str_eq(v, "geojson");
	if (!list_filters(r, res, q) || (placed && !place_params(r, q, lp)))
		return false;
	static const char *const window[2] = {"from", "until"};
	for (int k = 0; timed && k < 2; k++) {
		int64_t ms;
		if (!(v = req_query(r, window[k])))
			continue;
		if (time_parse_rfc3339(v, &ms)) {
			char ptr[16];
			snprintf(ptr, sizeof(ptr), "?%s", window[k]);
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", "a time is RFC 3339, e.g. 2026-12-03T06:00:00Z",
				      ptr);
			return false;
		}
		time_format_ms(ms, k ? lp->until : lp->from);
		*(k ? &q->time_to : &q->time_from) = k ? lp->until : lp->from;
	}
	lp->only_org = req_query(r, "org_id");
	if (lp->only_org && !id_valid(lp->only_org, "org")) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "org_id must be an organisation id", "?org_id");
		return false;
	}
	/* A cursor holds the last id of a page, which the caller may not see (a
	 * hidden or pseudonymous record): it is sealed, bound to the caller and
	 * to these filters (cursor.h). */
	for (int i = 0; i < lp->na; i++)
		if (!str_eq(lp->allowed[i], "cursor") && !str_eq(lp->allowed[i], "limit") && (v = req_query(r, lp->allowed[i])))
			sb_addf(&lp->scope, "%s=%s\n", lp->allowed[i], v);
	if ((v = req_query(r, "cursor"))) {
		if (!cursor_open(r, lp->scope.buf, v, lp->after, sizeof(lp->after)) || !id_valid(lp->after, res->id_prefix)) {
			reply_problem(r, 400, "invalid-query", "Invalid query parameter",
				      "cursor must be the `next` value of a previous page with the same filters", "?cursor");
			return false;
		}
		q->after = lp->after;
	}
	return true;
}

/* One page per organisation the caller may see, merged: *rows, *more. */
static int list_fetch(struct req *r, struct db *db, const struct resource *res, struct list_query *q,
		      const char *only_org, json_t **rows, bool *more)
{
	const char *orgs[MAX_PARTNERS + MAX_GRANTS + 1];
	bool everyone = str_eq(res->name, "organisations") && r->actor.root_org && r->actor.role == ROLE_ADMIN;
	int norgs = list_orgs(r, res, q, orgs);
	*rows = json_array();
	*more = false;
	for (int o = 0; o < (everyone ? 1 : norgs); o++) {
		if (only_org && !everyone && !str_eq(only_org, orgs[o]))
			continue;
		json_t *part;
		bool part_more;
		q->org_id = everyone ? only_org : orgs[o];
		int rc = resource_list(db, res, q, &part, &part_more);
		if (rc)
			return rc;
		json_array_extend(*rows, part);
		json_decref(part);
		*more = *more || part_more;
	}
	return 0;
}

void api_list(struct req *r)
{
	const struct resource *res = route_resource(r);
	struct list_query q = {.org_id = r->actor.org_id, .limit = 50};
	struct list_params lp = {.na = 0};
	sb_init(&lp.scope);
	struct db *db = NULL;
	json_t *rows = NULL;
	bool more;
	if (!list_params(r, res, &q, &lp) || !(db = req_db(r)))
		goto out;
	/* One page per organisation, merged in id order: the cursor stays exact. */
	int rc = list_fetch(r, db, res, &q, lp.only_org, &rows, &more);
	if (rc) {
		reply_err(r, rc, NULL);
		goto out;
	}
	size_t n = json_array_size(rows);
	json_t **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(rows, i);
	qsort(sorted, n, sizeof(*sorted), by_id);
	if (n > (size_t)q.limit) {
		n = (size_t)q.limit;
		more = true;
	}
	json_t *items = json_array(), *reads = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *rec = sorted[i];
		struct access acc;
		if (!near_ok(&lp, rec))
			continue;
		if (policy_decide(&r->actor, ACT_READ, res->rule_of ? res->rule_of(rec) : res->name,
				  json_string_value(json_object_get(rec, "org_id")), json_string_value(json_object_get(rec, "id")),
				  &acc) != DECIDE_ALLOW)
			continue;
		json_t *out = api_render(r, res, rec, &acc, lp.geojson);
		if (!out)
			continue;
		api_note_record_read(reads, res, &acc, rec);
		json_array_append_new(items, out);
	}
	json_t *next = json_null();
	if (more && n) {
		char *c = cursor_seal(r, lp.scope.buf, json_string_value(json_object_get(sorted[n - 1], "id")));
		next = json_string(c);
		free(c);
	}
	free(sorted);
	bool ok = api_audit_reads(r, reads, "person");
	json_decref(reads);
	if (ok)
		list_reply(r, items, next, lp.geojson);
	else {
		json_decref(items);
		json_decref(next);
	}
out:
	json_decref(rows);
	sb_release(&lp.scope);
}

/* --- create, read, update, delete --------------------------------------------- */

/* Creates a record; when key_prefix is set, also issues a secret key shown once. */
static void create_with_key(struct req *r, const char *key_prefix)
{
	const struct resource *res = route_resource(r);
	json_t *body = req_json(r);
	if (!body)
		return;
	struct op_job j = {.op = OP_INSERT, .res = res};
	j.rec = resource_new_record(res, body, r->actor.org_id, &j.err);
	json_decref(body);
	if (!j.rec) {
		reply_verr(r, &j.err);
		return;
	}
	char key[64] = "";
	if (key_prefix) {
		char hash[65];
		secret_new(key_prefix, key, sizeof(key));
		secret_hash(key, hash);
		json_object_set_new(j.rec, "key_hash", json_string(hash));
	}
	if (run(r, &j)) {
		json_t *out = resource_public(res, j.rec, VIEW_OWN);
		json_object_set_new(out, RESOURCE_ACCESS_MEMBER, json_string("own"));
		if (key_prefix)
			json_object_set_new(out, "key", json_string(key));
		set_location(r, res, json_string_value(json_object_get(j.rec, "id")));
		reply_json(r, 201, out);
	}
	json_decref(j.rec);
}

void api_create(struct req *r)
{
	create_with_key(r, str_eq(r->route->resource, "devices") ? "" : NULL);
}

void api_key_create(struct req *r)
{
	create_with_key(r, "sgk_");
}

void api_get(struct req *r)
{
	const struct resource *res = route_resource(r);
	struct access acc;
	json_t *rec = api_load_for(r, res, ACT_READ, &acc);
	if (!rec)
		return;
	json_t *reads = json_object();
	api_note_record_read(reads, res, &acc, rec);
	json_t *out = api_render(r, res, rec, &acc, false);
	if (!out)
		reply_err(r, SG_ENOTFOUND, res->type);
	else if (api_audit_reads(r, reads, "person"))
		reply_json(r, 200, out), out = NULL;
	json_decref(out);
	json_decref(reads);
	json_decref(rec);
}

/* An admin cannot lock themselves out: no deleting, disabling or demoting
 * their own account. */
static bool self_lockout(struct req *r, const struct resource *res, const json_t *changes, bool del)
{
	if (!str_eq(res->name, "users") || !str_eq(r->param, r->actor.id))
		return false;
	const json_t *role = json_object_get(changes, "role");
	if (del || json_is_true(json_object_get(changes, "disabled")) ||
	    (role && !str_eq(json_string_value(role), "admin"))) {
		reply_problem(r, 409, "conflict", "Conflict",
			      "you cannot delete, disable or demote your own account", NULL);
		return true;
	}
	return false;
}

void api_update(struct req *r)
{
	const struct resource *res = route_resource(r);
	json_t *rec = api_load_for(r, res, ACT_UPDATE, NULL);
	if (!rec)
		return;
	json_t *body = req_json(r);
	if (!body) {
		json_decref(rec);
		return;
	}
	struct op_job j = {.op = OP_UPDATE, .res = res, .org_id = r->actor.org_id, .id = r->param};
	char own_session[65];
	if (str_eq(res->name, "users") && str_eq(r->param, r->actor.id) && !r->actor.api_key) {
		secret_hash(auth_token(r), own_session); /* one's own change keeps this session */
		j.w.keep_session = own_session;
	}
	j.rec = json_object();
	if (str_eq(res->name, "users")) /* unchanged; for the password rules */
		json_object_set(j.rec, "username", json_object_get(rec, "username"));
	int rc = resource_apply(res, j.rec, body, true, &j.err);
	json_decref(body);
	if (str_eq(res->name, "organisations"))
		j.org_id = json_string_value(json_object_get(rec, "org_id"));
	if (rc) {
		reply_verr(r, &j.err);
	} else if (!self_lockout(r, res, j.rec, false) && run(r, &j)) {
		json_t *out = resource_public(res, j.out, VIEW_OWN);
		json_object_set_new(out, RESOURCE_ACCESS_MEMBER, json_string("own"));
		reply_json(r, 200, out);
		json_decref(j.out);
	}
	json_decref(j.rec);
	json_decref(rec);
}

void api_delete(struct req *r)
{
	const struct resource *res = route_resource(r);
	json_t *rec = api_load_for(r, res, ACT_DELETE, NULL);
	if (!rec)
		return;
	json_decref(rec);
	if (self_lockout(r, res, NULL, true))
		return;
	struct op_job j = {.op = OP_DELETE, .res = res, .org_id = r->actor.org_id, .id = r->param};
	if (run(r, &j))
		reply_empty(r, 204);
}

/* --- specific actions ------------------------------------------------------------ */

void api_device_key(struct req *r)
{
	const struct resource *res = route_resource(r);
	json_t *rec = api_load_for(r, res, ACT_UPDATE, NULL);
	if (!rec)
		return;
	json_decref(rec);
	char key[64], hash[65];
	secret_new("", key, sizeof(key));
	secret_hash(key, hash);
	struct op_job j = {.op = OP_UPDATE, .res = res, .org_id = r->actor.org_id, .id = r->param};
	j.rec = json_pack("{s:s}", "key_hash", hash);
	if (run(r, &j)) {
		reply_json(r, 200, json_pack("{s:s,s:s}", "id", r->param, "key", key));
		json_decref(j.out);
	}
	json_decref(j.rec);
}

void api_org_create(struct req *r)
{
	const struct resource *orgs = resource_find("organisations"), *users = resource_find("users");
	json_t *body = req_json(r);
	if (!body)
		return;
	json_t *admin = json_incref(json_object_get(body, "admin"));
	json_object_del(body, "admin");
	struct op_job j = {.op = OP_INSERT, .res = orgs, .res2 = users};
	if (!json_is_object(admin)) {
		reply_problem(r, 400, "validation", "Invalid request",
			      "admin is required: {\"username\": ..., \"password\": ...} of the organisation's first admin",
			      "/admin");
		goto out;
	}
	j.rec = resource_new_record(orgs, body, r->actor.org_id, &j.err);
	if (!j.rec) {
		reply_verr(r, &j.err);
		goto out;
	}
	const char *oid = json_string_value(json_object_get(j.rec, "id"));
	json_object_set_new(j.rec, "org_id", json_string(oid));
	json_object_set_new(j.rec, "is_root", json_false());
	if (json_object_get(admin, "role")) {
		reply_problem(r, 400, "validation", "Invalid request", "the first user is always an admin", "/admin/role");
		goto out;
	}
	json_object_set_new(admin, "role", json_string("admin"));
	j.rec2 = resource_new_record(users, admin, r->actor.org_id, &j.err);
	if (!j.rec2) {
		char ptr[200];
		snprintf(ptr, sizeof(ptr), "/admin%s", j.err.pointer);
		sg_strlcpy(j.err.pointer, ptr, sizeof(j.err.pointer));
		reply_verr(r, &j.err);
		goto out;
	}
	json_object_set_new(j.rec2, "org_id", json_string(oid));
	if (run(r, &j)) {
		json_t *o = resource_public(orgs, j.rec, VIEW_OWN);
		json_object_set_new(o, "admin", resource_public(users, j.rec2, VIEW_OWN));
		set_location(r, orgs, oid);
		reply_json(r, 201, o);
	}
out:
	json_decref(j.rec);
	json_decref(j.rec2);
	json_decref(admin);
	json_decref(body);
}

/* ?name=RFC 3339 time, normalised as the trail stores times (*out set);
 * false after a 400. */
static bool time_param(struct req *r, const char *name, char buf[25], const char **out)
{
	const char *v = req_query(r, name);
	int64_t ms;
	if (!v)
		return true;
	if (time_parse_rfc3339(v, &ms)) {
		char ptr[16], detail[64];
		snprintf(ptr, sizeof(ptr), "?%s", name);
		snprintf(detail, sizeof(detail), "%s must be an RFC 3339 time", name);
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", detail, ptr);
		return false;
	}
	time_format_ms(ms, buf);
	*out = buf;
	return true;
}

void api_audit_list(struct req *r)
{
	static const char *const allowed[] = {"limit", "cursor", "action", "actor", "object_type", "object_id", "from", "to", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	int64_t limit = 100, cursor = INT64_MAX;
	const char *v;
	if ((v = req_query(r, "limit")) && parse_i64(v, 1, 1000, &limit)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "limit must be 1 to 1000", "?limit");
		return;
	}
	/* Filters: exact matches, and a time range as stored (UTC, ms). */
	struct audit_filter f = {.action = req_query(r, "action"), .actor = req_query(r, "actor"),
				 .object_type = req_query(r, "object_type"), .object_id = req_query(r, "object_id")};
	const char *const texts[] = {"action", "actor", "object_type", "object_id"};
	for (size_t i = 0; i < ARRAY_LEN(texts); i++)
		if ((v = req_query(r, texts[i])) && (!*v || strlen(v) > 100)) {
			char ptr[24], detail[80];
			snprintf(ptr, sizeof(ptr), "?%s", texts[i]);
			snprintf(detail, sizeof(detail), "%s must be 1 to 100 characters", texts[i]);
			reply_problem(r, 400, "invalid-query", "Invalid query parameter", detail, ptr);
			return;
		}
	char from[25] = "", to[25] = "";
	if (!time_param(r, "from", from, &f.from) || !time_param(r, "to", to, &f.to))
		return;
	/* the cursor is bound to the filters, as every list's is */
	char *scope = xasprintf("%s\n%s\n%s\n%s\n%s\n%s", f.action ? f.action : "", f.actor ? f.actor : "",
				f.object_type ? f.object_type : "", f.object_id ? f.object_id : "", from, to);
	char after[CURSOR_VALUE_MAX + 1];
	if ((v = req_query(r, "cursor")) &&
	    (!cursor_open(r, scope, v, after, sizeof(after)) || parse_i64(after, 1, INT64_MAX, &cursor))) {
		free(scope);
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "cursor must be the `next` value of a previous page with the same filters", "?cursor");
		return;
	}
	struct db *db = req_db(r);
	if (!db) {
		free(scope);
		return;
	}
	json_t *items = json_array();
	bool more;
	int64_t last;
	if (audit_list(db, r->actor.org_id, &f, cursor, limit, items, &more, &last)) {
		free(scope);
		json_decref(items);
		reply_err(r, SG_EIO, NULL);
		return;
	}
	char seq[24];
	snprintf(seq, sizeof(seq), "%lld", (long long)last);
	char *next = more ? cursor_seal(r, scope, seq) : NULL;
	free(scope);
	reply_json(r, 200, json_pack("{s:o,s:s?}", "items", items, "next", next));
	free(next);
}
