/* Roll-calls over HTTP (issue 14): start one for an alert's recipients, a
 * site's people or a list; answers by the person (API), an operator (with a
 * reason) or the one-time link's page (no login: the token in the body,
 * never in a URL); close; the report as JSON or CSV. */
#include "http/api/api.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/router.h"
#include "http/throttle.h"
#include "registry/alert_store.h"
#include "registry/resource.h"
#include "rollcall/rollcall.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const struct resource *res(void)
{
	return resource_find("rollcalls");
}

struct start_job {
	json_t *rec, *alert; /* alert: a new one of its own, or NULL */
	const struct alert_set *recipients;
	struct write_ctx w;
	struct verr e;
};

static int start_fn(struct db *db, void *arg)
{
	struct start_job *j = arg;
	j->w.err = &j->e;
	int rc = j->alert ? alert_store(db, j->alert, j->recipients->a, j->recipients->n, false, &j->w) : 0;
	return rc ? rc : rollcall_start(db, j->rec, &j->w);
}

/* The roll-call's own alert, to the people and sites named: its message is
 * the question. */
static json_t *own_alert(struct req *r, struct db *db, const json_t *rc_rec, const char *people, const char *sites,
			 bool exercise, const char *instruction, struct alert_set *rcpt)
{
	json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "event", "Roll-call", "urgency", "Immediate",
				 "severity", "Unknown", "certainty", "Unknown", "headline", str(rc_rec, "title"), "status",
				 exercise ? "Exercise" : "Actual", "scope", strcmp(sites, "[]") ? "Restricted" : "Private");
	if (instruction)
		json_object_set_new(body, "instruction", json_string(instruction));
	struct verr e = {0};
	json_t *a = resource_new_record(resource_find("alerts"), body, r->actor.org_id, &e);
	json_decref(body);
	if (!a) {
		reply_verr(r, &e);
		return NULL;
	}
	json_object_set_new(a, "person_ids", json_string(people));
	json_object_set_new(a, "site_ids", json_string(sites));
	if (api_alert_recipients(r, db, a, rcpt)) {
		reply_err(r, SG_EIO, NULL);
		json_decref(a);
		return NULL;
	}
	char ts[25];
	time_format_ms(clock_now_ms(), ts);
	json_object_set_new(a, "sent_at", json_string(ts));
	json_object_set_new(a, "recipients", json_integer((json_int_t)rcpt->n));
	return a;
}

static json_t *counts(struct db *db, const char *id)
{
	json_t *people, *c = json_pack("{s:i,s:i,s:i,s:i}", "asked", 0, "safe", 0, "need_help", 0, "no_answer", 0);
	if (rollcall_people(db, id, &people))
		return c;
	size_t i;
	json_t *p;
	json_array_foreach(people, i, p) {
		json_object_set_new(c, str(p, "state"), json_integer(json_integer_value(json_object_get(c, str(p, "state"))) + 1));
		json_object_set_new(c, "asked", json_integer((json_int_t)i + 1));
	}
	json_decref(people);
	return c;
}

/* The record at the caller's access with its counts; the people's answers
 * to its own organisation and a partner who sees roll-calls in full. */
static void reply_rollcall(struct req *r, unsigned status, const json_t *rec, const struct access *acc)
{
	json_t *out = api_render(r, res(), rec, acc, false);
	struct db *db = out ? req_db(r) : NULL;
	if (!out || !db) {
		json_decref(out);
		if (!out)
			reply_err(r, SG_ENOTFOUND, "roll-call");
		return;
	}
	json_object_set_new(out, "counts", counts(db, str(rec, "id")));
	json_object_set_new(out, "exercise", json_boolean(str_eq(str(rec, "status"), "Exercise")));
	json_t *people;
	if (acc->view != VIEW_SUMMARY && rollcall_people(db, str(rec, "id"), &people) == 0)
		json_object_set_new(out, "people", people);
	reply_json(r, status, out);
}

void api_rollcall_create(struct req *r)
{
	static const char *const allowed[] = {"title", "alert_id", "people", "sites", "exercise", "waves",
					      "wave_interval_s", "instruction", NULL};
	json_t *body = req_json_members(r, allowed);
	struct db *db = body ? req_db(r) : NULL;
	if (!db) {
		json_decref(body);
		return;
	}
	const char *alert_id = str(body, "alert_id");
	json_t *ex = json_object_get(body, "exercise"), *instr = json_object_get(body, "instruction");
	char *people = NULL, *sites = NULL;
	json_t *rec = NULL, *alert = NULL, *given = NULL;
	struct alert_set rcpt = {0};
	if (ex && !json_is_boolean(ex)) {
		reply_problem(r, 400, "validation", "Invalid request", "exercise is true or false", "/exercise");
		goto out;
	}
	if (instr && (!json_is_string(instr) || strlen(json_string_value(instr)) > 1000)) {
		reply_problem(r, 400, "validation", "Invalid request", "instruction is text of at most 1000 characters",
			      "/instruction");
		goto out;
	}
	if (json_object_get(body, "alert_id") && !alert_id) {
		reply_problem(r, 400, "validation", "Invalid request", "alert_id is the id of one of your alerts", "/alert_id");
		goto out;
	}
	if (!(people = api_own_ids(r, db, json_object_get(body, "people"), "people", "people")) ||
	    !(sites = api_own_ids(r, db, json_object_get(body, "sites"), "sites", "sites")))
		goto out;
	bool named = strcmp(people, "[]") || strcmp(sites, "[]");
	if (!alert_id == !named) {
		reply_problem(r, 400, "validation", "Invalid request",
			      "ask the recipients of an alert (alert_id), or people and sites (people, sites): one of the two",
			      "/alert_id");
		goto out;
	}
	if (alert_id && (ex || instr)) {
		reply_problem(r, 400, "validation", "Invalid request",
			      "a roll-call on an alert takes its status and words from the alert", ex ? "/exercise" : "/instruction");
		goto out;
	}
	json_t *rb = json_pack("{s:O?,s:O?,s:O?}", "title", json_object_get(body, "title"), "waves",
			       json_object_get(body, "waves"), "wave_interval_s", json_object_get(body, "wave_interval_s"));
	json_t *clean = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(rb, k, v) if (!json_is_null(v)) json_object_set(clean, k, v);
	json_decref(rb);
	struct verr e = {0};
	rec = resource_new_record(res(), clean, r->actor.org_id, &e);
	json_decref(clean);
	if (!rec) {
		reply_verr(r, &e);
		goto out;
	}
	if (!json_object_get(rec, "waves") || json_is_null(json_object_get(rec, "waves")))
		json_object_set_new(rec, "waves", json_integer(3));
	if (!json_object_get(rec, "wave_interval_s") || json_is_null(json_object_get(rec, "wave_interval_s")))
		json_object_set_new(rec, "wave_interval_s", json_integer(600));
	if (alert_id) {
		if (resource_get(db, resource_find("alerts"), alert_id, &given) ||
		    !str_eq(str(given, "org_id"), r->actor.org_id)) {
			reply_problem(r, 400, "validation", "Invalid request",
				      "alert_id must be one of your alerts (a partner's: relay it first)", "/alert_id");
			goto out;
		}
		if (str_eq(str(given, "msg_type"), "Cancel") || json_integer_value(json_object_get(given, "recipients")) == 0) {
			reply_problem(r, 409, "conflict", "Nobody to ask", "the alert is a Cancel or reached nobody", "/alert_id");
			goto out;
		}
		json_object_set(rec, "alert_id", json_object_get(given, "id"));
		json_object_set(rec, "status", json_object_get(given, "status"));
	} else {
		alert = own_alert(r, db, rec, people, sites, json_is_true(ex), json_string_value(instr), &rcpt);
		if (!alert)
			goto out;
		if (rcpt.n == 0) {
			reply_problem(r, 409, "conflict", "Nobody to ask", "the people and sites named hold nobody", "/people");
			goto out;
		}
		json_object_set(rec, "alert_id", json_object_get(alert, "id"));
		json_object_set(rec, "status", json_object_get(alert, "status"));
	}
	struct start_job j = {.rec = rec, .alert = alert, .recipients = &rcpt,
			      .w = {.actor = r->actor.id, .request_id = r->id, .now_ms = clock_now_ms()}};
	int rc = store_write(r->env->store, start_fn, &j);
	if (rc) {
		if (j.e.detail[0])
			reply_verr(r, &j.e);
		else
			reply_err(r, rc, "roll-call");
		goto out;
	}
	snprintf(r->location, sizeof(r->location), "/api/v1/rollcalls/%s", str(rec, "id"));
	struct access own = {.view = VIEW_OWN};
	reply_rollcall(r, 201, rec, &own);
out:
	free(people);
	free(sites);
	json_decref(rec);
	json_decref(alert);
	api_alert_set_free(&rcpt);
	json_decref(given);
	json_decref(body);
}

void api_rollcall_get(struct req *r)
{
	struct access acc;
	json_t *rec = api_load_for(r, res(), ACT_READ, &acc);
	if (rec)
		reply_rollcall(r, 200, rec, &acc);
	json_decref(rec);
}

/* The body's answer: state, note, position; 0 or a 400 sent. */
static int answer_body(struct req *r, const json_t *body, struct rollcall_answer *a)
{
	a->state = str(body, "state");
	if (!str_eq(a->state, "safe") && !str_eq(a->state, "need_help")) {
		reply_problem(r, 400, "validation", "Invalid request", "state is safe or need_help", "/state");
		return SG_EINVAL;
	}
	json_t *note = json_object_get(body, "note");
	if (note && (!json_is_string(note) || strlen(json_string_value(note)) > 1000)) {
		reply_problem(r, 400, "validation", "Invalid request", "note is text of at most 1000 characters", "/note");
		return SG_EINVAL;
	}
	a->note = json_string_value(note);
	json_t *lat = json_object_get(body, "lat"), *lon = json_object_get(body, "lon");
	if (lat || lon) {
		if (!json_is_number(lat) || !json_is_number(lon) || fabs(json_number_value(lat)) > 90 ||
		    fabs(json_number_value(lon)) > 180) {
			reply_problem(r, 400, "validation", "Invalid request", "lat and lon are given together, in degrees",
				      lat && json_is_number(lat) && fabs(json_number_value(lat)) <= 90 ? "/lon" : "/lat");
			return SG_EINVAL;
		}
		a->has_position = true;
		a->lat = json_number_value(lat);
		a->lon = json_number_value(lon);
	}
	return 0;
}

struct answer_job {
	struct rollcall_answer a;
	json_t *out;
	struct verr e;
};

static int answer_fn(struct db *db, void *arg)
{
	struct answer_job *j = arg;
	return rollcall_answer(db, &j->a, &j->out, &j->e);
}

static void reply_answer_job(struct req *r, int rc, struct answer_job *j)
{
	if (rc == 0) {
		reply_json(r, 200, j->out);
		j->out = NULL;
	} else if (j->e.detail[0]) {
		reply_verr(r, &j->e);
	} else {
		reply_err(r, rc, "roll-call");
	}
	json_decref(j->out);
}

/* POST /rollcalls/{id}/answers: a person for themselves, or an operator
 * for someone with a reason. */
void api_rollcall_answer(struct req *r)
{
	static const char *const allowed[] = {"person_id", "state", "note", "lat", "lon", "reason", NULL};
	json_t *body = req_json_members(r, allowed);
	struct db *db = body ? req_db(r) : NULL;
	json_t *rec = NULL;
	if (!db)
		goto out;
	const char *id = r->param;
	if (resource_get(db, res(), id, &rec) || !str_eq(str(rec, "org_id"), r->actor.org_id)) {
		struct access acc;
		bool seen = rec && policy_decide(&r->actor, ACT_READ, "rollcalls", str(rec, "org_id"), id, &acc) == DECIDE_ALLOW;
		reply_err(r, seen ? SG_EFORBIDDEN : SG_ENOTFOUND, "roll-call");
		goto out;
	}
	struct access own;
	if (policy_decide(&r->actor, ACT_UPDATE, "rollcall_answer", r->actor.org_id, NULL, &own) != DECIDE_ALLOW) {
		reply_err(r, SG_EFORBIDDEN, NULL);
		goto out;
	}
	struct answer_job j = {.a = {.rollcall_id = id, .actor = r->actor.id, .actor_org = r->actor.org_id,
				     .request_id = r->id, .now_ms = clock_now_ms(), .timers = r->env->alarm_timers}};
	const char *person = str(body, "person_id");
	if (r->actor.role == ROLE_PERSON) {
		if ((person && !str_eq(person, r->actor.person_id)) || json_object_get(body, "reason")) {
			reply_problem(r, 403, "forbidden", "Forbidden", "a person answers for themselves, without a reason",
				      person ? "/person_id" : "/reason");
			goto out;
		}
		j.a.person_id = r->actor.person_id;
		j.a.via = VIA_API;
	} else {
		j.a.reason = str(body, "reason");
		if (!person) {
			reply_problem(r, 400, "validation", "Invalid request", "person_id: whom you answer for", "/person_id");
			goto out;
		}
		if (!j.a.reason || !*j.a.reason || strlen(j.a.reason) > 300) {
			reply_problem(r, 400, "validation", "Invalid request",
				      "reason: how you know, e.g. seen by the escort lead (at most 300 characters)", "/reason");
			goto out;
		}
		j.a.person_id = person;
		j.a.via = VIA_OPERATOR;
	}
	if (answer_body(r, body, &j.a))
		goto out;
	reply_answer_job(r, store_write(r->env->store, answer_fn, &j), &j);
out:
	json_decref(rec);
	json_decref(body);
}

struct close_job {
	const char *id, *actor, *request_id;
	struct verr e;
};

static int close_fn(struct db *db, void *arg)
{
	struct close_job *j = arg;
	return rollcall_close(db, j->id, j->actor, j->request_id, clock_now_ms(), &j->e);
}

void api_rollcall_close(struct req *r)
{
	struct access acc;
	json_t *rec = api_load_for(r, res(), ACT_UPDATE, &acc);
	if (!rec)
		return;
	struct close_job j = {.id = str(rec, "id"), .actor = r->actor.id, .request_id = r->id};
	int rc = store_write(r->env->store, close_fn, &j);
	json_decref(rec);
	rec = NULL;
	struct db *db = rc ? NULL : req_db(r);
	if (rc) {
		if (j.e.detail[0])
			reply_verr(r, &j.e);
		else
			reply_err(r, rc, "roll-call");
	} else if (db && resource_get(db, res(), r->param, &rec) == 0) {
		reply_rollcall(r, 200, rec, &acc);
	}
	json_decref(rec);
}

/* GET /rollcalls/{id}/report[?format=csv]: every person asked, with the
 * answer or, for the silent, the last known position. */
void api_rollcall_report(struct req *r)
{
	static const char *const allowed[] = {"format", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	const char *fmt = req_query(r, "format");
	if (fmt && !str_eq(fmt, "json") && !str_eq(fmt, "csv")) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "format is json or csv", "?format");
		return;
	}
	struct access acc;
	json_t *rec = api_load_for(r, res(), ACT_READ, &acc);
	if (!rec)
		return;
	struct db *db = req_db(r);
	json_t *people = NULL;
	if (acc.view == VIEW_SUMMARY) {
		reply_problem(r, 403, "forbidden", "Forbidden", "the roll-call is shared with you as counts only", NULL);
	} else if (db && rollcall_people(db, str(rec, "id"), &people) == 0) {
		size_t i;
		json_t *p;
		json_array_foreach(people, i, p) {
			bool has = false;
			double lat = 0, lon = 0;
			int64_t t = 0;
			api_person_position(r, db, str(p, "person_id"), &has, &lat, &lon, &t);
			if (has) {
				char ts[25];
				time_format_ms(t, ts);
				json_object_set_new(p, "last_position",
						    json_pack("{s:f,s:f,s:s}", "lat", lat, "lon", lon, "time", ts));
			}
		}
		bool exercise = str_eq(str(rec, "status"), "Exercise");
		if (fmt && str_eq(fmt, "csv")) {
			struct sb sb;
			sb_init(&sb);
			sb_adds(&sb, "rollcall_id,title,exercise,person_id,state,via,answered_by,answered_at,note,reason,"
				     "alarm_id,last_lat,last_lon,last_time\r\n");
			json_array_foreach(people, i, p) {
				const json_t *lp = json_object_get(p, "last_position");
				const char *cols[] = {str(rec, "id"), str(rec, "title"), exercise ? "yes" : "no", str(p, "person_id"),
						      str(p, "state"), str(p, "via"), str(p, "answered_by"), str(p, "answered_at"),
						      str(p, "note"), str(p, "reason"), str(p, "alarm_id")};
				for (size_t c = 0; c < ARRAY_LEN(cols); c++) {
					sb_add_csv(&sb, cols[c] ? cols[c] : "", true);
					sb_addc(&sb, ',');
				}
				if (lp)
					sb_addf(&sb, "%.6f,%.6f,%s\r\n", json_number_value(json_object_get(lp, "lat")),
						json_number_value(json_object_get(lp, "lon")), str(lp, "time"));
				else
					sb_adds(&sb, ",,\r\n");
			}
			reply_data(r, 200, "text/csv; charset=utf-8", sb.buf, sb.len);
			sb_release(&sb);
		} else {
			reply_json(r, 200, json_pack("{s:O,s:s,s:b,s:s,s:o,s:O}", "rollcall_id", json_object_get(rec, "id"), "title",
						     str(rec, "title"), "exercise", exercise, "access", view_name(acc.view), "counts",
						     counts(db, str(rec, "id")), "people", people));
		}
	} else if (db) {
		reply_err(r, SG_EIO, NULL);
	}
	json_decref(people);
	json_decref(rec);
}

/* --- the one-time link's page (no login) ---------------------------------------------- */

/* The token from the body; NULL after a 400 or a 429 (unknown tokens count
 * against the client's address like failed logins). */
static const char *link_token(struct req *r, const json_t *body, char key[96])
{
	snprintf(key, 96, "answer-ip:%s", r->client);
	int64_t wait = throttle_check(r->env->throttle, key, clock_now_ms());
	if (wait > 0) {
		snprintf(r->retry_after, sizeof(r->retry_after), "%lld", (long long)(wait + 999) / 1000);
		reply_problem(r, 429, "rate-limited", "Too many tries", "too many links that were not valid: wait a moment", NULL);
		return NULL;
	}
	const char *t = str(body, "token");
	if (!t || strlen(t) < 20 || strlen(t) >= ROLLCALL_TOKEN_MAX) {
		reply_problem(r, 400, "validation", "Invalid request", "token: the code of your link", "/token");
		return NULL;
	}
	return t;
}

/* The page's body (only the allowed members), its token and a reader;
 * NULL after a reply (the body then freed). */
static struct db *link_request(struct req *r, const char *const *allowed, json_t **body, const char **token, char key[96])
{
	*body = req_json_members(r, allowed);
	*token = *body ? link_token(r, *body, key) : NULL;
	struct db *db = *token ? req_db(r) : NULL;
	if (!db) {
		json_decref(*body);
		*body = NULL;
	}
	return db;
}

/* POST /api/v1/answer/question {token}: what the page shows. */
void api_answer_question(struct req *r)
{
	static const char *const allowed[] = {"token", NULL};
	json_t *body;
	const char *token;
	char key[96];
	struct db *db = link_request(r, allowed, &body, &token, key);
	if (!db)
		return;
	json_t *out = NULL;
	if (rollcall_question(db, token, &out) == SG_EIO) {
		reply_err(r, SG_EIO, NULL);
		json_decref(body);
		return;
	}
	if (out) {
		reply_json(r, 200, out);
	} else {
		throttle_failure(r->env->throttle, key, clock_now_ms());
		reply_problem(r, 404, "not-found", "Not found", "this link is not valid, or was used already", "/token");
	}
	json_decref(body);
}

/* POST /api/v1/answer {token, state, note, lat, lon, pin}: the answer. A
 * PIN that is the person's duress PIN opens a duress alarm; the page's
 * answer is the same whatever the PIN. */
void api_answer_submit(struct req *r)
{
	static const char *const allowed[] = {"token", "state", "note", "lat", "lon", "pin", NULL};
	json_t *body;
	const char *token;
	char key[96];
	struct db *db = link_request(r, allowed, &body, &token, key);
	if (!db)
		return;
	struct answer_job j = {.a = {.token = token, .via = VIA_LINK, .request_id = r->id, .now_ms = clock_now_ms(),
				     .timers = r->env->alarm_timers}};
	if (answer_body(r, body, &j.a)) {
		json_decref(body);
		return;
	}
	const char *pin = str(body, "pin");
	char person[64];
	if (pin && *pin && strlen(pin) <= 64 && rollcall_token_person(db, token, person) == 0) {
		/* The duress PIN of the person's own account, if one is set. */
		char dhash[256] = "";
		rollcall_person_duress_hash(db, person, dhash, sizeof(dhash));
		bool ok, duress;
		api_check_secrets("", dhash, pin, &ok, &duress);
		j.a.duress = duress;
	}
	int rc = store_write(r->env->store, answer_fn, &j);
	if (rc == SG_ENOTFOUND)
		throttle_failure(r->env->throttle, key, clock_now_ms());
	if (rc == 0) {
		json_decref(j.out);
		reply_json(r, 200, json_pack("{s:b,s:s}", "thanks", 1, "state", j.a.state));
	} else {
		reply_answer_job(r, rc, &j);
	}
	json_decref(body);
}
