/* Sharing agreements over HTTP: propose, list, read (with history), change
 * one's own grants, and accept / suspend / resume / revoke one's own side.
 * Both parties' staff may read an agreement; only admins act on it. */
#include "http/api/api.h"
#include "http/cursor.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "http/router.h"
#include "sharing/sharing.h"

#include <string.h>

struct ag_job {
	enum { AG_CREATE, AG_GRANTS, AG_ACT } op;
	struct agreement_write w;
	const char *partner, *id, *action;
	json_t *grants;
	char new_id[48];
	struct verr e;
};

static int ag_fn(struct db *db, void *arg)
{
	struct ag_job *j = arg;
	j->w.err = &j->e;
	switch (j->op) {
	case AG_CREATE:
		return sharing_create(db, &j->w, j->partner, j->grants, j->new_id);
	case AG_GRANTS:
		return sharing_set_grants(db, &j->w, j->id, j->grants);
	case AG_ACT:
		return sharing_act(db, &j->w, j->id, j->action);
	}
	return SG_EINTERNAL;
}

static void reply_agreement(struct req *r, unsigned status, const char *id)
{
	struct db *db = req_db(r);
	json_t *ag;
	if (!db)
		return;
	int rc = sharing_render(db, id, r->actor.org_id, clock_now_ms(), true, &ag);
	if (rc)
		reply_err(r, rc, "agreement");
	else
		reply_json(r, status, ag);
}

static bool run(struct req *r, struct ag_job *j)
{
	j->w.actor = r->actor.id;
	j->w.actor_org = r->actor.org_id;
	j->w.request_id = r->id;
	j->w.now_ms = clock_now_ms();
	int rc = store_write(r->env->store, ag_fn, j);
	if (rc == 0) {
		grant_cache_invalidate(r->env->grant_cache); /* in force from the next request */
		atomic_fetch_add(&r->env->auth_epoch, 1);    /* and before a stream's next event */
		return true;
	}
	if (j->e.detail[0])
		reply_verr(r, &j->e);
	else
		reply_err(r, rc, "agreement");
	return false;
}

void api_agreement_list(struct req *r)
{
	static const char *const allowed[] = {"limit", "cursor", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	int64_t limit = 100;
	const char *v, *cursor = NULL;
	char after[CURSOR_VALUE_MAX + 1];
	if ((v = req_query(r, "limit")) && parse_i64(v, 1, 500, &limit)) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "limit must be 1 to 500", "?limit");
		return;
	}
	if ((v = req_query(r, "cursor")) && (!cursor_open(r, "", v, after, sizeof(after)) || !id_valid(cursor = after, "agr"))) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter",
			      "cursor must be the `next` value of a previous page", "?cursor");
		return;
	}
	struct db *db = req_db(r);
	json_t *ids, *items = json_array();
	if (!db)
		return;
	if (sharing_list(db, r->actor.org_id, &ids)) {
		json_decref(items);
		reply_err(r, SG_EIO, NULL);
		return;
	}
	size_t i;
	json_t *id, *next = json_null();
	int64_t now = clock_now_ms();
	json_array_foreach(ids, i, id) {
		json_t *ag;
		if (cursor && strcmp(json_string_value(id), cursor) >= 0)
			continue; /* newest first: the next page holds smaller ids */
		if ((int64_t)json_array_size(items) == limit) {
			char *c = cursor_seal(r, "", json_string_value(json_object_get(json_array_get(items, (size_t)limit - 1), "id")));
			json_decref(next);
			next = json_string(c);
			free(c);
			break;
		}
		if (sharing_render(db, json_string_value(id), r->actor.org_id, now, false, &ag) == 0)
			json_array_append_new(items, ag);
	}
	json_decref(ids);
	reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

void api_agreement_create(struct req *r)
{
	static const char *const members[] = {"partner_id", "grants", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	struct ag_job j = {.op = AG_CREATE};
	j.partner = json_string_value(json_object_get(body, "partner_id"));
	if (!j.partner) {
		reply_problem(r, 400, "validation", "Invalid request", "partner_id is required", "/partner_id");
	} else if (sharing_validate_grants(json_object_get(body, "grants") ? json_object_get(body, "grants")
									 : json_array(), &j.grants, &j.e)) {
		reply_verr(r, &j.e);
	} else if (run(r, &j)) {
		snprintf(r->location, sizeof(r->location), "/api/v1/agreements/%s", j.new_id);
		reply_agreement(r, 201, j.new_id);
	}
	json_decref(j.grants);
	json_decref(body);
}

/* The agreement of the route's {id}, if the actor's organisation is a party;
 * otherwise replies 404. */
static bool party_to(struct req *r)
{
	struct db *db;
	json_t *ag;
	if (policy_decide(&r->actor, ACT_READ, "agreements", NULL, NULL, NULL) != DECIDE_ALLOW) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		return false;
	}
	if (!id_valid(r->param, "agr")) {
		reply_err(r, SG_ENOTFOUND, "agreement");
		return false;
	}
	if (!(db = req_db(r)))
		return false;
	int rc = sharing_render(db, r->param, r->actor.org_id, clock_now_ms(), false, &ag);
	if (rc) {
		reply_err(r, rc, "agreement");
		return false;
	}
	json_decref(ag);
	return true;
}

void api_agreement_get(struct req *r)
{
	if (party_to(r))
		reply_agreement(r, 200, r->param);
}

void api_agreement_update(struct req *r)
{
	static const char *const members[] = {"grants", NULL};
	if (!party_to(r))
		return;
	if (policy_decide(&r->actor, ACT_UPDATE, "agreements", NULL, NULL, NULL) != DECIDE_ALLOW) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		return;
	}
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	struct ag_job j = {.op = AG_GRANTS, .id = r->param};
	if (!json_object_get(body, "grants")) {
		reply_problem(r, 400, "validation", "Invalid request", "grants is required", "/grants");
	} else if (sharing_validate_grants(json_object_get(body, "grants"), &j.grants, &j.e)) {
		reply_verr(r, &j.e);
	} else if (run(r, &j)) {
		reply_agreement(r, 200, r->param);
	}
	json_decref(j.grants);
	json_decref(body);
}

void api_agreement_act(struct req *r)
{
	if (!party_to(r))
		return;
	if (policy_decide(&r->actor, ACT_UPDATE, "agreements", NULL, NULL, NULL) != DECIDE_ALLOW) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		return;
	}
	const char *slash = strrchr(r->path, '/');
	struct ag_job j = {.op = AG_ACT, .id = r->param, .action = slash + 1};
	if (run(r, &j))
		reply_agreement(r, 200, r->param);
}
