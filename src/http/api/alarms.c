/* Alarms over HTTP: raise one (a person for themselves, an operator for
 * anyone they may see), read one with its steps, and the owning centre's
 * steps: acknowledge, hand over, resolve; comments from any operator who
 * sees it in full. The list is the registry's (GET /api/v1/alarms). */
#include "http/api/api.h"

#include "alarms/alarms.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/util.h"
#include "registry/accounts.h"
#include "geo/live.h"
#include "http/router.h"
#include "pipeline/pipeline.h"
#include "registry/resource.h"
#include "sharing/sharing.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

struct alarm_job {
	bool open;
	struct alarm_open o;
	struct alarm_step s;
	json_t *out;
	struct verr e;
};

static int alarm_fn(struct db *db, void *arg)
{
	struct alarm_job *j = arg;
	return j->open ? alarm_open(db, &j->o, &j->out, &j->e) : alarm_act(db, &j->s, &j->out, &j->e);
}

static bool run(struct req *r, struct alarm_job *j)
{
	int rc = store_write(r->env->store, alarm_fn, j);
	if (rc == 0)
		return true;
	if (j->e.detail[0])
		reply_verr(r, &j->e);
	else
		reply_err(r, rc, "alarm");
	return false;
}

/* The answer about one alarm: the record at the caller's access, and (in
 * full) its steps. */
static void reply_alarm(struct req *r, unsigned status, const json_t *rec, const struct access *acc)
{
	const struct resource *res = resource_find("alarms");
	json_t *out = api_render(r, res, rec, acc, false);
	if (!out) {
		reply_err(r, SG_ENOTFOUND, "alarm");
		return;
	}
	/* where to look next: the device's track since shortly before, who is near */
	const char *dev = json_string_value(json_object_get(out, "device_id"));
	const json_t *lat = json_object_get(out, "lat"), *lon = json_object_get(out, "lon");
	int64_t opened;
	if (acc->view != VIEW_SUMMARY &&
	    time_parse_rfc3339(json_string_value(json_object_get(out, "opened_at")), &opened) == 0) {
		json_t *links = json_object();
		char from[25];
		time_format_ms(opened - 3600000, from);
		if (dev && str_eq(json_string_value(json_object_get(out, "org_id")), r->actor.org_id))
			json_object_set_new(links, "history",
					    json_sprintf("/api/v1/devices/%s/history?from=%s", dev, from));
		if (json_is_number(lat) && json_is_number(lon))
			json_object_set_new(links, "near", json_sprintf("/api/v1/positions/latest?near=%.6f,%.6f&radius_m=2000",
									json_number_value(lat), json_number_value(lon)));
		json_object_set_new(out, "links", links);
	}
	json_t *steps = NULL;
	struct db *db = acc->view != VIEW_SUMMARY ? req_db(r) : NULL;
	if (db && alarm_log(db, json_string_value(json_object_get(rec, "id")), &steps) == 0)
		json_object_set_new(out, "log", steps);
	reply_json(r, status, out);
}

/* The newest position among a person's devices, from the live index. */
static bool person_position(struct req *r, struct db *db, const char *person, struct live_hit *best);

void api_person_position(struct req *r, struct db *db, const char *person, bool *has, double *lat, double *lon,
			 int64_t *time_ms)
{
	struct live_hit h = {0};
	*has = person_position(r, db, person, &h);
	if (*has)
		*lat = h.lat, *lon = h.lon, *time_ms = h.time_ms;
}

static bool person_position(struct req *r, struct db *db, const char *person, struct live_hit *best)
{
	json_t *devs;
	if (alarm_person_devices(db, person, &devs))
		return false;
	bool found = false;
	size_t i;
	json_t *d;
	json_array_foreach(devs, i, d) {
		struct live_hit h;
		if (live_get(pipeline_live(r->env->pipeline), json_string_value(d), &h) == 0 &&
		    (!found || h.time_ms > best->time_ms)) {
			*best = h;
			found = true;
		}
	}
	json_decref(devs);
	return found;
}

void api_alarm_create(struct req *r)
{
	static const char *const members[] = {"person_id", "cause", "note", "exercise", "lat", "lon", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	const json_t *pid = json_object_get(body, "person_id"), *cause = json_object_get(body, "cause"),
		     *note = json_object_get(body, "note"), *ex = json_object_get(body, "exercise"),
		     *lat = json_object_get(body, "lat"), *lon = json_object_get(body, "lon");
	const char *c = cause ? json_string_value(cause) : "sos";
	bool known = false;
	for (const char *const *k = alarm_causes; c && *k; k++)
		known |= str_eq(*k, c);
	const char *bad = NULL, *ptr = NULL;
	if (pid && !json_is_string(pid))
		bad = "person_id must be a person's id", ptr = "/person_id";
	else if (!known || str_eq(c, "duress"))
		bad = "cause must be sos, need_help, general or a device alarm Traccar knows", ptr = "/cause";
	else if (note && (!json_is_string(note) || strlen(json_string_value(note)) > 2000))
		bad = "note must be text of at most 2,000 characters", ptr = "/note";
	else if (ex && !json_is_boolean(ex))
		bad = "exercise must be true or false", ptr = "/exercise";
	else if (!lat != !lon)
		bad = "give lat and lon together", ptr = lat ? "/lon" : "/lat";
	else if (lat && (!json_is_number(lat) || fabs(json_number_value(lat)) > 90))
		bad = "lat must be degrees, -90 to 90", ptr = "/lat";
	else if (lon && (!json_is_number(lon) || fabs(json_number_value(lon)) > 180))
		bad = "lon must be degrees, -180 to 180", ptr = "/lon";
	if (bad) {
		reply_problem(r, 400, "validation", "Invalid request", bad, ptr);
		json_decref(body);
		return;
	}
	struct db *db = req_db(r);
	if (!db) {
		json_decref(body);
		return;
	}
	/* Whose alarm: a person's account raises its own; an operator names
	 * anyone they may see (a partner's person at summary by pseudonym). */
	char person[48] = "";
	const char *given = json_string_value(pid);
	if (r->actor.role == ROLE_PERSON) {
		if (given && !str_eq(given, r->actor.person_id)) {
			reply_problem(r, 403, "forbidden", "Forbidden", "a person raises alarms for themselves only",
				      "/person_id");
			json_decref(body);
			return;
		}
		sg_strlcpy(person, r->actor.person_id, sizeof(person));
	} else if (!given) {
		reply_problem(r, 400, "validation", "Invalid request", "person_id is required", "/person_id");
		json_decref(body);
		return;
	} else if (sharing_is_pseudonym(given)) {
		if (sharing_resolve_pseudonym(db, given, r->actor.org_id, person))
			person[0] = '\0';
	} else if (id_valid(given, "per")) {
		sg_strlcpy(person, given, sizeof(person));
	}
	json_t *prec = NULL;
	struct access acc;
	bool visible = person[0] && resource_get(db, resource_find("people"), person, &prec) == 0 &&
		       policy_decide(&r->actor, ACT_READ, "people", json_string_value(json_object_get(prec, "org_id")),
				     person, &acc) == DECIDE_ALLOW &&
		       (acc.view != VIEW_SUMMARY || sharing_is_pseudonym(given) || r->actor.role == ROLE_PERSON);
	if (!visible) {
		reply_problem(r, 404, "not-found", "Not found", "no such person", "/person_id");
		json_decref(prec);
		json_decref(body);
		return;
	}
	struct alarm_job j = {.open = true};
	struct live_hit at = {0};
	j.o = (struct alarm_open){
		.org_id = json_string_value(json_object_get(prec, "org_id")), .person_id = person, .cause = c,
		.exercise = json_is_true(ex), .note = json_string_value(note), .actor = r->actor.id,
		.actor_org = r->actor.org_id, .request_id = r->id, .now_ms = clock_now_ms(),
		.escalate_after_ms = alarm_timer_ms(r->env->alarm_timers, c),
	};
	if (lat) {
		j.o.has_position = true;
		j.o.lat = json_number_value(lat), j.o.lon = json_number_value(lon);
		j.o.position_ms = j.o.now_ms;
	} else if (person_position(r, db, person, &at)) {
		j.o.has_position = true;
		j.o.lat = at.lat, j.o.lon = at.lon, j.o.position_ms = at.time_ms;
	}
	if (run(r, &j)) {
		struct access own = {.view = VIEW_OWN};
		if (!str_eq(j.o.org_id, r->actor.org_id))
			policy_decide(&r->actor, ACT_READ, "alarms", j.o.org_id, NULL, &own);
		snprintf(r->location, sizeof(r->location), "/api/v1/alarms/%s",
			 json_string_value(json_object_get(j.out, "id")));
		reply_alarm(r, 201, j.out, &own);
	}
	json_decref(j.out);
	json_decref(prec);
	json_decref(body);
}

void api_alarm_get(struct req *r)
{
	struct access acc;
	json_t *rec = api_load_for(r, resource_find("alarms"), ACT_READ, &acc);
	if (!rec)
		return;
	reply_alarm(r, 200, rec, &acc);
	json_decref(rec);
}

void api_alarm_act(struct req *r)
{
	static const struct {
		const char *suffix;
		enum alarm_action a;
		const char *const members[3];
	} acts[] = {
		{"/acknowledge", ALARM_ACKNOWLEDGE, {"note", NULL}},
		{"/handover", ALARM_HANDOVER, {"to_org", "note", NULL}},
		{"/resolve", ALARM_RESOLVE, {"outcome", "note", NULL}},
		{"/comment", ALARM_COMMENT, {"note", NULL}},
	};
	size_t k = 0, plen = strlen(r->path);
	while (k < ARRAY_LEN(acts) && !(plen > strlen(acts[k].suffix) &&
					 str_eq(r->path + plen - strlen(acts[k].suffix), acts[k].suffix)))
		k++;
	if (k == ARRAY_LEN(acts))
		BUG("alarm action route without its action: %s", r->path);
	/* Read access first (404 for who may not see it), then the operators'
	 * roles; which centre may take each step is the alarm's (alarm_act). */
	struct access acc;
	json_t *rec = api_load_for(r, resource_find("alarms"), ACT_READ, &acc);
	if (!rec)
		return;
	json_decref(rec);
	if (!(ROLES_OPERATORS & ROLE_BIT(r->actor.role))) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		return;
	}
	if (acc.view == VIEW_SUMMARY) {
		reply_problem(r, 403, "forbidden", "Forbidden", "the alarm is shared with you as a summary: you cannot act on it",
			      NULL);
		return;
	}
	json_t *body = req_json_members(r, acts[k].members);
	if (!body)
		return;
	const json_t *note = json_object_get(body, "note"), *to = json_object_get(body, "to_org"),
		     *outcome = json_object_get(body, "outcome");
	const char *bad = NULL, *ptr = NULL;
	if (note && (!json_is_string(note) || strlen(json_string_value(note)) > 2000))
		bad = "note must be text of at most 2,000 characters", ptr = "/note";
	else if (to && !json_is_string(to))
		bad = "to_org must be an organisation's id", ptr = "/to_org";
	else if (outcome && !json_is_string(outcome))
		bad = "outcome must be false_alarm, assisted, escalated_to_authorities or other", ptr = "/outcome";
	if (bad) {
		reply_problem(r, 400, "validation", "Invalid request", bad, ptr);
		json_decref(body);
		return;
	}
	struct alarm_job j = {.open = false};
	j.s = (struct alarm_step){
		.id = r->param, .action = acts[k].a, .actor = r->actor.id, .actor_org = r->actor.org_id,
		.request_id = r->id, .now_ms = clock_now_ms(), .to_org = json_string_value(to),
		.outcome = json_string_value(outcome), .note = json_string_value(note),
		.timers = r->env->alarm_timers,
	};
	if (run(r, &j)) {
		/* after a hand-over the caller may see it differently: decide again */
		struct access now_acc;
		if (policy_decide(&r->actor, ACT_READ, resource_find("alarms")->rule_of(j.out),
				  json_string_value(json_object_get(j.out, "org_id")), r->param, &now_acc) == DECIDE_ALLOW)
			reply_alarm(r, 200, j.out, &now_acc);
		else
			reply_json(r, 200, json_pack("{s:s,s:s}", "id", r->param, "state",
						     json_string_value(json_object_get(j.out, "state"))));
	}
	json_decref(j.out);
	json_decref(body);
}

struct duress_open {
	struct alarm_open o;
	struct verr e;
};

static int duress_open_fn(struct db *db, void *arg)
{
	struct duress_open *d = arg;
	return alarm_open(db, &d->o, NULL, &d->e);
}

/* POST /api/v1/alarms/{id}/cancel {password}: a person calls off their own
 * alarm. With the duress PIN instead of the password the answer is the
 * same, the alarm stays open and a duress alarm opens (both hashes are
 * always checked, so the time tells nothing either). */
void api_alarm_cancel(struct req *r)
{
	const struct resource *res = resource_find("alarms");
	if (r->actor.role != ROLE_PERSON) {
		struct access acc;
		json_t *rec = api_load_for(r, res, ACT_READ, &acc); /* 404 for who may not see it */
		if (rec)
			reply_problem(r, 403, "forbidden", "Forbidden", "only the person may call off their own alarm", NULL);
		json_decref(rec);
		return;
	}
	struct db *db = req_db(r);
	json_t *rec = NULL;
	if (!db)
		return;
	if (!id_valid(r->param, "alm") || resource_get(db, res, r->param, &rec) ||
	    !str_eq(json_string_value(json_object_get(rec, "person_id")), r->actor.person_id) ||
	    str_eq(json_string_value(json_object_get(rec, "cause")), "duress")) {
		json_decref(rec);
		reply_err(r, SG_ENOTFOUND, "alarm");
		return;
	}
	static const char *const members[] = {"password", NULL};
	json_t *body = req_json_members(r, members);
	const char *pw = body ? json_string_value(json_object_get(body, "password")) : NULL;
	if (!body || !pw || strlen(pw) > 1024) {
		if (body)
			reply_problem(r, 400, "validation", "Invalid request", "password is required", "/password");
		json_decref(body);
		json_decref(rec);
		return;
	}
	char hash[crypto_pwhash_STRBYTES] = "", dhash[crypto_pwhash_STRBYTES] = "";
	account_password_hash(db, r->actor.id, hash, sizeof(hash));
	account_duress_hash(db, r->actor.id, dhash, sizeof(dhash));
	bool ok, duress;
	api_check_secrets(hash, dhash, pw, &ok, &duress);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(dhash, sizeof(dhash));
	json_decref(body);
	if (!ok && !duress) {
		json_decref(rec);
		reply_problem(r, 403, "invalid-credentials", "Wrong password", "password is not your password", "/password");
		return;
	}
	bool resolved = str_eq(json_string_value(json_object_get(rec, "state")), "resolved");
	int rc = 0;
	if (duress) {
		struct duress_open d = {.o = {.org_id = json_string_value(json_object_get(rec, "org_id")),
					      .person_id = r->actor.person_id, .cause = "duress", .actor = r->actor.id,
					      .actor_org = r->actor.org_id, .request_id = r->id, .now_ms = clock_now_ms(),
					      .escalate_after_ms = alarm_timer_ms(r->env->alarm_timers, "duress")}};
		api_person_position(r, db, r->actor.person_id, &d.o.has_position, &d.o.lat, &d.o.lon, &d.o.position_ms);
		rc = store_write(r->env->store, duress_open_fn, &d);
	} else if (!resolved) {
		struct alarm_job j = {.open = false};
		j.s = (struct alarm_step){.id = r->param, .action = ALARM_CANCEL, .actor = r->actor.id,
					  .actor_org = r->actor.org_id, .request_id = r->id, .now_ms = clock_now_ms(),
					  .timers = r->env->alarm_timers};
		rc = store_write(r->env->store, alarm_fn, &j);
		json_decref(j.out);
	}
	json_decref(rec);
	if (rc)
		reply_err(r, rc, "alarm");
	else /* the same answer either way */
		reply_json(r, 200, json_pack("{s:s,s:s,s:s}", "id", r->param, "state", "resolved", "outcome", "false_alarm"));
}
