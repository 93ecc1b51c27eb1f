/* Alarms: opening, the operators' steps, escalation, and who has one open.
 * See alarms.h. */
#include "alarms/alarms.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/util.h"
#include "policy/policy.h"
#include "registry/resource.h"
#include "sharing/sharing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ours first, then Traccar's position model (Position.ALARM_*), spelled as
 * Traccar spells them on the wire. */
const char *const alarm_causes[] = {
	"sos", "duress", "need_help", "no_answer", "general",
	"vibration", "movement", "lowspeed", "overspeed", "fallDown", "lowPower", "lowBattery", "fault",
	"powerOff", "powerOn", "door", "lock", "unlock", "geofence", "geofenceEnter", "geofenceExit",
	"gpsAntennaCut", "accident", "tow", "idle", "highRpm", "hardAcceleration", "hardBraking",
	"hardCornering", "laneChange", "fatigueDriving", "powerCut", "powerRestored", "jamming",
	"temperature", "parking", "bonnet", "footBrake", "fuelLeak", "tampering", "removing", NULL,
};
const char *const alarm_outcomes[] = {"false_alarm", "assisted", "escalated_to_authorities", "other", NULL};

/* A person may be in danger: the operators are called at once. */
static const char *const danger[] = {"sos", "need_help", "no_answer", "general", "fallDown", "accident", "tampering",
				     "removing", "jamming", "gpsAntennaCut", "tow", "vibration", NULL};

static bool in(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (str_eq(*list, s))
			return true;
	return false;
}

int alarm_priority(const char *cause)
{
	if (str_eq(cause, "duress"))
		return 1;
	return in(danger, cause) ? 2 : 3;
}

const char *alarm_cause_of_device(const char *value)
{
	if (!value || !*value)
		return NULL;
	/* Traccar joins several alarms with commas: the first known one. */
	char one[64];
	const char *p = value;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			for (const char *const *c = alarm_causes; *c; c++)
				if (str_eq(*c, one) && !str_eq(one, "duress") && !str_eq(one, "need_help"))
					return *c;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return "general";
}

int alarm_timers_parse(struct alarm_timers *t, int64_t default_s, const char *by_cause, char *err, size_t errsz)
{
	memset(t, 0, sizeof(*t));
	t->default_ms = default_s * 1000;
	const char *p = by_cause ? by_cause : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		char item[64];
		if (n >= sizeof(item) || t->n == (int)ARRAY_LEN(t->ms)) {
			snprintf(err, errsz, "alarms.escalate_s_by_cause: too long");
			return SG_EINVAL;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		char *eq = strchr(item, '=');
		int64_t s;
		if (!eq || (*eq = '\0', !in(alarm_causes, item)) || parse_i64(eq + 1, 1, 86400, &s)) {
			snprintf(err, errsz, "alarms.escalate_s_by_cause: \"%s\" is not CAUSE=SECONDS (1 to 86400)", item);
			return SG_EINVAL;
		}
		sg_strlcpy(t->causes[t->n], item, sizeof(t->causes[0]));
		t->ms[t->n++] = s * 1000;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int64_t alarm_timer_ms(const struct alarm_timers *t, const char *cause)
{
	for (int i = 0; t && i < t->n; i++)
		if (str_eq(t->causes[i], cause))
			return t->ms[i];
	return t && t->default_ms > 0 ? t->default_ms : 120000;
}

/* --- writes ------------------------------------------------------------------ */

static const struct resource *res(void)
{
	return resource_find("alarms");
}

static const char *str(const json_t *rec, const char *k)
{
	return json_string_value(json_object_get(rec, k));
}

static const char *category_of_alarm(const json_t *rec)
{
	return str_eq(str(rec, "cause"), "duress") ? "alarms_duress" : "alarms";
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
	char ts[25];
	time_format_ms(ms, ts);
	json_object_set_new(o, k, json_string(ts));
}

static int log_line(struct db *db, const char *id, int64_t now, const char *actor, const char *actor_org,
		    const char *action, const char *note)
{
	char ts[25];
	time_format_ms(now, ts);
	return db_run_all(db,
			  "INSERT INTO alarm_log (alarm_id, at, actor, actor_org, action, note)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			  DB_T(id), DB_T(ts), DB_T(actor), DB_T(actor_org), DB_T(action), DB_T(note))
		       ? SG_EIO
		       : 0;
}

/* The step in the trail of another organisation concerned (the acting or
 * receiving centre, the partners called). */
static int audit_other(struct db *db, const char *org, const json_t *rec, const char *action,
		       const json_t *changes, const char *actor, const char *request_id, int64_t now)
{
	if (!org || !*org || str_eq(org, str(rec, "org_id")))
		return 0;
	struct audit_entry ae = {.actor = actor, .org_id = org, .action = action, .object_type = "alarm",
				 .object_id = str(rec, "id"), .changes = changes, .request_id = request_id};
	return audit_append(db, &ae, now);
}

/* The outbox event of a step: the record as full readers see it, with the
 * step; about the person (sharing conditions). */
static int announce(struct db *db, const json_t *rec, const char *type, const char *action, const char *actor_org,
		    int64_t now, const json_t *extra)
{
	json_t *body = resource_public(res(), rec, VIEW_FULL);
	if (extra)
		json_object_update(body, (json_t *)extra);
	json_object_set_new(body, "action", json_string(action));
	if (actor_org)
		json_object_set_new(body, "actor_org", json_string(actor_org));
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(body);
	int rc = events_append_about(db, str(rec, "org_id"), category_of_alarm(rec), type, text, str(rec, "person_id"),
				     now);
	free(text);
	return rc;
}

int alarm_open(struct db *db, const struct alarm_open *o, json_t **out, struct verr *e)
{
	if (out)
		*out = NULL;
	if (o->dedupe) {
		struct db_stmt *st;
		if (db_prepare(db,
			       "SELECT 1 FROM alarms WHERE person_id = ?1 AND cause = ?2 AND state <> 'resolved'"
			       " AND exercise = ?3",
			       &st))
			return SG_EIO;
		db_bind_all(st, DB_T(o->person_id), DB_T(o->cause), DB_I(o->exercise));
		int rc = db_step(st);
		db_reset(st);
		if (rc == DB_ROW)
			return 0; /* the open one stands for it */
		if (rc != DB_DONE)
			return SG_EIO;
	}
	char id[ID_MAX];
	id_new("alm", o->now_ms, id);
	int64_t due = o->now_ms + o->escalate_after_ms;
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:b,s:s,s:s,s:I}", "id", id, "org_id", o->org_id,
				"owner_org", o->actor_org && !str_eq(o->actor_org, o->org_id) ? o->actor_org : o->org_id,
				"person_id", o->person_id, "cause", o->cause, "priority", alarm_priority(o->cause),
				"state", "open", "exercise", o->exercise, "opened_by", o->actor, "escalation",
				"duty_officers", "escalate_at_ms", (json_int_t)due);
	if (o->device_id)
		json_object_set_new(rec, "device_id", json_string(o->device_id));
	if (o->device_alarm)
		json_object_set_new(rec, "device_alarm", json_string(o->device_alarm));
	if (o->note && *o->note)
		json_object_set_new(rec, "note", json_string(o->note));
	if (o->has_position) {
		json_object_set_new(rec, "lat", json_real(o->lat));
		json_object_set_new(rec, "lon", json_real(o->lon));
		set_time(rec, "position_time", o->position_ms);
	}
	set_time(rec, "opened_at", o->now_ms);
	set_time(rec, "escalate_at", due);
	struct write_ctx w = {.actor = o->actor, .request_id = o->request_id, .now_ms = o->now_ms, .err = e};
	int rc = resource_insert(db, res(), rec, &w);
	if (!rc)
		rc = audit_other(db, o->actor_org, rec, "open", NULL, o->actor, o->request_id, o->now_ms);
	if (!rc)
		rc = log_line(db, id, o->now_ms, o->actor, o->actor_org ? o->actor_org : o->org_id, "open", o->note);
	if (!rc)
		rc = announce(db, rec, "alarm", "open", o->actor_org, o->now_ms, NULL);
	if (rc || !out)
		json_decref(rec);
	else
		*out = rec;
	return rc;
}

static const char *const action_names[] = {"acknowledge", "handover", "resolve", "comment", "cancel"};

int alarm_act(struct db *db, const struct alarm_step *s, json_t **out, struct verr *e)
{
	json_t *rec = NULL, *patch = NULL, *changes = NULL, *partners = NULL;
	const char *action = action_names[s->action];
	int rc = resource_get(db, res(), s->id, &rec);
	if (rc == SG_ENOTFOUND) {
		verr_set(e, 404, "", "no such alarm");
		return rc;
	}
	if (rc)
		return rc;
	const char *state = str(rec, "state"), *owner = str(rec, "owner_org"), *org = str(rec, "org_id");
	bool has_note = s->note && *s->note;
	if (s->action != ALARM_COMMENT && s->action != ALARM_CANCEL && !str_eq(owner, s->actor_org)) {
		verr_set(e, 403, "", "another operations centre owns this alarm: only it may %s it", action);
		rc = SG_EFORBIDDEN;
		goto out;
	}
	if (str_eq(state, "resolved")) {
		verr_set(e, 409, "", "the alarm is resolved");
		rc = SG_ECONFLICT;
		goto out;
	}
	patch = json_object();
	switch (s->action) {
	case ALARM_ACKNOWLEDGE:
		if (!str_eq(state, "open")) {
			verr_set(e, 409, "", "the alarm is acknowledged already");
			rc = SG_ECONFLICT;
			goto out;
		}
		json_object_set_new(patch, "state", json_string("acknowledged"));
		set_time(patch, "acknowledged_at", s->now_ms);
		json_object_set_new(patch, "acknowledged_by", json_string(s->actor));
		json_object_set_new(patch, "escalate_at", json_null());
		json_object_set_new(patch, "escalate_at_ms", json_null());
		break;
	case ALARM_HANDOVER: {
		if (!s->to_org || !*s->to_org || str_eq(s->to_org, owner)) {
			verr_set(e, 400, "/to_org", "to_org must name another organisation's operations centre");
			rc = SG_EINVAL;
			goto out;
		}
		if ((rc = sharing_grantees(db, org, CAT_ALARMS, s->now_ms, &partners)))
			goto out;
		bool ok = str_eq(s->to_org, org);
		size_t i;
		json_t *p;
		json_array_foreach(partners, i, p) ok |= str_eq(json_string_value(p), s->to_org);
		if (!ok) {
			verr_set(e, 409, "/to_org",
				 "no agreement in force lets that organisation see this person's alarms in full");
			rc = SG_ECONFLICT;
			goto out;
		}
		int64_t due = s->now_ms + alarm_timer_ms(s->timers, str(rec, "cause"));
		json_object_set_new(patch, "owner_org", json_string(s->to_org));
		json_object_set_new(patch, "handed_over_from", json_string(owner));
		json_object_set_new(patch, "state", json_string("open"));
		json_object_set_new(patch, "acknowledged_at", json_null());
		json_object_set_new(patch, "acknowledged_by", json_null());
		json_object_set_new(patch, "escalation", json_string("duty_officers"));
		set_time(patch, "escalate_at", due);
		json_object_set_new(patch, "escalate_at_ms", json_integer(due));
		break;
	}
	case ALARM_RESOLVE:
		if (!in(alarm_outcomes, s->outcome)) {
			verr_set(e, 400, "/outcome", "outcome must be false_alarm, assisted, escalated_to_authorities or other");
			rc = SG_EINVAL;
			goto out;
		}
		if (!has_note) {
			verr_set(e, 400, "/note", "a resolution needs a note: what happened");
			rc = SG_EINVAL;
			goto out;
		}
		json_object_set_new(patch, "state", json_string("resolved"));
		set_time(patch, "resolved_at", s->now_ms);
		json_object_set_new(patch, "resolved_by", json_string(s->actor));
		json_object_set_new(patch, "outcome", json_string(s->outcome));
		json_object_set_new(patch, "resolution", json_string(s->note));
		json_object_set_new(patch, "escalate_at", json_null());
		json_object_set_new(patch, "escalate_at_ms", json_null());
		break;
	case ALARM_CANCEL:
		json_object_set_new(patch, "state", json_string("resolved"));
		set_time(patch, "resolved_at", s->now_ms);
		json_object_set_new(patch, "resolved_by", json_string(s->actor));
		json_object_set_new(patch, "outcome", json_string("false_alarm"));
		json_object_set_new(patch, "resolution", json_string("called off by the person"));
		json_object_set_new(patch, "escalate_at", json_null());
		json_object_set_new(patch, "escalate_at_ms", json_null());
		break;
	case ALARM_COMMENT:
		if (!has_note) {
			verr_set(e, 400, "/note", "a comment needs a note");
			rc = SG_EINVAL;
			goto out;
		}
		break;
	}
	struct write_ctx w = {.actor = s->actor, .request_id = s->request_id, .now_ms = s->now_ms, .err = e,
			      .action = action};
	changes = json_object();
	if (s->action == ALARM_COMMENT) {
		/* nothing of the record changes: the comment is the step */
		json_object_set_new(changes, "note", json_string(s->note));
		struct audit_entry ae = {.actor = s->actor, .org_id = org, .action = action, .object_type = "alarm",
					 .object_id = s->id, .changes = changes, .request_id = s->request_id};
		rc = audit_append(db, &ae, s->now_ms);
	} else {
		json_t *updated = NULL;
		rc = resource_update(db, res(), org, s->id, patch, &w, &updated);
		if (!rc) {
			json_decref(rec);
			rec = updated;
		}
		const char *k;
		json_t *v;
		json_object_foreach(patch, k, v) if (!str_eq(k, "escalate_at_ms")) json_object_set(changes, k, v);
	}
	if (!rc)
		rc = audit_other(db, s->actor_org, rec, action, changes, s->actor, s->request_id, s->now_ms);
	if (!rc && s->action == ALARM_HANDOVER)
		rc = audit_other(db, s->to_org, rec, action, changes, s->actor, s->request_id, s->now_ms);
	if (!rc)
		rc = log_line(db, s->id, s->now_ms, s->actor, s->actor_org, action, s->note);
	if (!rc) {
		json_t *extra = json_pack("{s:s?}", "comment", s->action == ALARM_COMMENT ? s->note : NULL);
		rc = announce(db, rec, "alarm_changed", action, s->actor_org, s->now_ms, extra);
		json_decref(extra);
	}
out:
	json_decref(patch);
	json_decref(changes);
	json_decref(partners);
	if (!rc && out)
		*out = rec;
	else
		json_decref(rec);
	return rc;
}

/* One escalation step of alarm id: duty officers -> security manager ->
 * the partners' duty officers (when the person's organisation shares its
 * alarms in full with any), then no further timer. */
static int escalate_one(struct db *db, const char *id, const struct alarm_timers *t, int64_t now)
{
	json_t *rec, *partners = NULL;
	int rc = resource_get(db, res(), id, &rec);
	if (rc)
		return rc == SG_ENOTFOUND ? 0 : rc;
	/* copies: rec is replaced by the updated record below */
	char level[32], org[48], owner[48];
	sg_strlcpy(level, str(rec, "escalation") ? str(rec, "escalation") : "", sizeof(level));
	sg_strlcpy(org, str(rec, "org_id") ? str(rec, "org_id") : "", sizeof(org));
	sg_strlcpy(owner, str(rec, "owner_org") ? str(rec, "owner_org") : "", sizeof(owner));
	json_t *patch = json_object();
	if (str_eq(level, "duty_officers")) {
		int64_t due = now + alarm_timer_ms(t, str(rec, "cause"));
		json_object_set_new(patch, "escalation", json_string("security_manager"));
		set_time(patch, "escalate_at", due);
		json_object_set_new(patch, "escalate_at_ms", json_integer(due));
	} else {
		if ((rc = sharing_grantees(db, org, CAT_ALARMS, now, &partners)))
			goto out;
		/* the owning centre is not its own partner */
		for (size_t i = json_array_size(partners); i-- > 0;)
			if (str_eq(json_string_value(json_array_get(partners, i)), owner))
				json_array_remove(partners, i);
		if (str_eq(level, "security_manager") && json_array_size(partners))
			json_object_set_new(patch, "escalation", json_string("partner_duty_officers"));
		json_object_set_new(patch, "escalate_at", json_null());
		json_object_set_new(patch, "escalate_at_ms", json_null());
	}
	struct verr e = {0};
	struct write_ctx w = {.actor = "system", .now_ms = now, .err = &e, .action = "escalate"};
	json_t *updated = NULL;
	if ((rc = resource_update(db, res(), org, id, patch, &w, &updated)))
		goto out;
	json_decref(rec);
	rec = updated;
	json_t *changes = json_pack("{s:O}", "escalation", json_object_get(rec, "escalation"));
	rc = audit_other(db, owner, rec, "escalate", changes, "system", NULL, now);
	size_t i;
	json_t *p;
	if (str_eq(str(rec, "escalation"), "partner_duty_officers"))
		json_array_foreach(partners, i, p) if (!rc) rc = audit_other(db, json_string_value(p), rec, "escalate",
									    changes, "system", NULL, now);
	json_decref(changes);
	if (!rc)
		rc = log_line(db, id, now, "system", NULL, "escalate", str(rec, "escalation"));
	if (!rc) {
		json_t *extra = json_pack("{s:o}", "partners", partners ? json_incref(partners) : json_array());
		rc = announce(db, rec, "alarm_escalated", "escalate", NULL, now, extra);
		json_decref(extra);
	}
out:
	json_decref(patch);
	json_decref(partners);
	json_decref(rec);
	return rc;
}

int alarm_escalate_due(struct db *db, const struct alarm_timers *t, int64_t now_ms)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT id FROM alarms WHERE escalate_at_ms <= ?1 AND state = 'open'"
		       " ORDER BY escalate_at_ms LIMIT 100",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, now_ms);
	json_t *ids = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_reset(st);
	int n = 0;
	if (rc == DB_DONE) {
		rc = 0;
		size_t i;
		json_t *id;
		json_array_foreach(ids, i, id) {
			if ((rc = escalate_one(db, json_string_value(id), t, now_ms)))
				break;
			n++;
		}
	} else {
		rc = SG_EIO;
	}
	json_decref(ids);
	return rc ? rc : n;
}

int alarm_next_due(struct db *db, int64_t *ms)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT min(escalate_at_ms) FROM alarms WHERE state = 'open'", &st))
		return SG_EIO;
	int rc = db_step(st);
	*ms = rc == DB_ROW && db_col_type(st, 0) != DB_NULL ? db_col_int(st, 0) : INT64_MAX;
	db_reset(st);
	return rc == DB_ROW ? 0 : SG_EIO;
}

int alarm_person_devices(struct db *db, const char *person_id, json_t **out)
{
	return store_strings(db, "SELECT id FROM devices WHERE person_id = ?1", person_id, out);
}

int alarm_log(struct db *db, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT at, actor, actor_org, action, note FROM alarm_log WHERE alarm_id = ?1 ORDER BY seq",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	json_t *a = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:s,s:s?}", "at", db_col_text(st, 0), "actor",
						   db_col_text(st, 1), "actor_org", db_col_text(st, 2), "action",
						   db_col_text(st, 3), "note", db_col_text(st, 4)));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(a);
		return SG_EIO;
	}
	*out = a;
	return 0;
}

/* --- who has an open alarm ---------------------------------------------------- */

struct alarm_set {
	pthread_mutex_t mu;
	json_t *alarms; /* alarm id -> person id, open and real */
	json_t *people; /* person id -> how many */
	json_t *moving; /* OwnTracks devices told move mode */
};

struct alarm_set *alarm_set_new(void)
{
	struct alarm_set *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->alarms = json_object();
	s->people = json_object();
	s->moving = json_object();
	return s;
}

void alarm_set_free(struct alarm_set *s)
{
	if (!s)
		return;
	json_decref(s->alarms);
	json_decref(s->people);
	json_decref(s->moving);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void set_locked(struct alarm_set *s, const char *id, const char *person, bool open)
{
	json_t *had = json_object_get(s->alarms, id);
	if (!had == !open)
		return;
	const char *p = open ? person : json_string_value(had);
	if (!p)
		return;
	json_int_t n = json_integer_value(json_object_get(s->people, p)) + (open ? 1 : -1);
	if (n > 0)
		json_object_set_new(s->people, p, json_integer(n));
	else
		json_object_del(s->people, p);
	if (open)
		json_object_set_new(s->alarms, id, json_string(person));
	else
		json_object_del(s->alarms, id);
}

int alarm_set_load(struct alarm_set *s, struct db *db)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT id, person_id FROM alarms WHERE state <> 'resolved' AND exercise = 0", &st))
		return SG_EIO;
	int rc;
	pthread_mutex_lock(&s->mu);
	while ((rc = db_step(st)) == DB_ROW)
		set_locked(s, db_col_text(st, 0), db_col_text(st, 1), true);
	pthread_mutex_unlock(&s->mu);
	db_reset(st);
	return rc == DB_DONE ? 0 : SG_EIO;
}

int alarm_set_event(void *ctx, const struct event *e)
{
	struct alarm_set *s = ctx;
	if (!e->type || strncmp(e->type, "alarm", 5) || !e->category || strncmp(e->category, "alarms", 6))
		return 0;
	json_t *b = json_loads(e->body, 0, NULL);
	const char *id = str(b, "id"), *person = str(b, "person_id"), *state = str(b, "state");
	if (id && person && state) {
		bool open = !str_eq(state, "resolved") && !json_is_true(json_object_get(b, "exercise"));
		pthread_mutex_lock(&s->mu);
		set_locked(s, id, person, open);
		pthread_mutex_unlock(&s->mu);
	}
	json_decref(b);
	return 0;
}

bool alarm_set_has(const struct alarm_set *s, const char *person_id)
{
	struct alarm_set *m = (struct alarm_set *)s;
	pthread_mutex_lock(&m->mu);
	bool has = json_object_get(m->people, person_id) != NULL;
	pthread_mutex_unlock(&m->mu);
	return has;
}

size_t alarm_set_size(const struct alarm_set *s)
{
	struct alarm_set *m = (struct alarm_set *)s;
	pthread_mutex_lock(&m->mu);
	size_t n = json_object_size(m->alarms);
	pthread_mutex_unlock(&m->mu);
	return n;
}

char *alarm_set_owntracks_reply(struct alarm_set *s, const char *device_id, const char *person_id)
{
	if (!s || !device_id)
		return NULL;
	pthread_mutex_lock(&s->mu);
	bool open = person_id && *person_id && json_object_get(s->people, person_id);
	bool told = json_object_get(s->moving, device_id) != NULL;
	if (open && !told)
		json_object_set_new(s->moving, device_id, json_true());
	else if (!open && told)
		json_object_del(s->moving, device_id);
	pthread_mutex_unlock(&s->mu);
	if (!open && !told)
		return NULL;
	/* monitoring: 2 move mode (reports every locatorInterval seconds while
	 * moving), 1 significant changes (the apps' default) */
	return xasprintf("[{\"_type\":\"cmd\",\"action\":\"setConfiguration\",\"configuration\":"
			 "{\"_type\":\"configuration\",\"monitoring\":%d%s}}]",
			 open ? 2 : 1, open ? ",\"locatorInterval\":30" : "");
}
