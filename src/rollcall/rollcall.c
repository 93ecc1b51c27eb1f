/* Roll-calls in the store; see rollcall.h. */
#include "rollcall/rollcall.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"
#include "delivery/delivery.h"
#include "events/events.h"
#include "registry/accounts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct resource *res(void)
{
	return resource_find("rollcalls");
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void rollcall_token(const char *key_hex, const char *person_id, char out[ROLLCALL_TOKEN_MAX])
{
	unsigned char key[32] = {0}, mac[crypto_auth_hmacsha256_BYTES];
	size_t klen = 0;
	sodium_hex2bin(key, sizeof(key), key_hex, strlen(key_hex), NULL, &klen, NULL);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)person_id, strlen(person_id));
	crypto_auth_hmacsha256_final(&st, mac);
	char *b = b64url_encode(mac, sizeof(mac));
	sg_strlcpy(out, b, ROLLCALL_TOKEN_MAX);
	sodium_memzero(b, strlen(b));
	free(b);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(mac, sizeof(mac));
}

int rollcall_token_for(void *ctx, struct db *db, const char *rollcall_id, const char *person_id, char *out,
		       size_t outsz)
{
	(void)ctx;
	struct db_stmt *st;
	if (outsz < ROLLCALL_TOKEN_MAX ||
	    db_prepare(db,
		       "SELECT r.token_key FROM rollcalls r JOIN rollcall_people p ON p.rollcall_id = r.id"
		       " WHERE r.id = ?1 AND p.person_id = ?2 AND r.state = 'open' AND p.token_hash IS NOT NULL",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(rollcall_id), DB_T(person_id));
	int rc = db_step(st);
	if (rc == DB_ROW)
		rollcall_token(db_col_text(st, 0), person_id, out);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

static int counts_of(struct db *db, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT state, count(*) FROM rollcall_people WHERE rollcall_id = ?1 GROUP BY state", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	json_t *c = json_pack("{s:i,s:i,s:i}", "safe", 0, "need_help", 0, "no_answer", 0);
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_object_set_new(c, db_col_text(st, 0), json_integer(db_col_int(st, 1)));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(c);
		return SG_EIO;
	}
	*out = c;
	return 0;
}

/* The roll-call's outbox event (category rollcalls, shared as agreed):
 * its progress, and the step. */
static int announce(struct db *db, const json_t *rc_rec, const char *type, const json_t *extra, const char *subject,
		    int64_t now)
{
	json_t *counts;
	if (counts_of(db, str(rc_rec, "id"), &counts))
		return SG_EIO;
	json_t *body = json_pack("{s:s,s:s,s:s,s:b,s:s,s:O,s:O,s:o}", "rollcall_id", str(rc_rec, "id"), "org_id",
				 str(rc_rec, "org_id"), "title", str(rc_rec, "title"), "exercise",
				 str_eq(str(rc_rec, "status"), "Exercise"), "state", str(rc_rec, "state"), "wave",
				 json_object_get(rc_rec, "wave"), "waves", json_object_get(rc_rec, "waves"), "counts", counts);
	if (extra)
		json_object_update(body, (json_t *)extra);
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(body);
	int rc = text ? events_append_about(db, str(rc_rec, "org_id"), "rollcalls", type, text, subject, now) : SG_EIO;
	free(text);
	return rc;
}


int rollcall_start(struct db *db, json_t *rec, const struct write_ctx *w)
{
	unsigned char key[32];
	char key_hex[65], ts[25];
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(key_hex, sizeof(key_hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	time_format_ms(w->now_ms, ts);
	json_int_t interval = json_integer_value(json_object_get(rec, "wave_interval_s"));
	json_object_set_new(rec, "token_key", json_string(key_hex));
	json_object_set_new(rec, "state", json_string("open"));
	json_object_set_new(rec, "wave", json_integer(1));
	json_object_set_new(rec, "next_wave_ms", json_integer(w->now_ms + interval * 1000));
	json_object_set_new(rec, "escalated", json_integer(0));
	json_object_set_new(rec, "started_at", json_string(ts));
	int rc = resource_insert(db, res(), rec, w);
	struct db_stmt *ins;
	json_t *people = NULL;
	if (!rc)
		rc = store_strings(db, "SELECT value ->> 0 FROM json_each((SELECT people FROM alert_recipient_sets WHERE alert_id = ?1))", str(rec, "alert_id"), &people);
	if (rc) {
		sodium_memzero(key_hex, sizeof(key_hex));
		return rc;
	}
	if (!rc && db_prepare(db,
			      "INSERT INTO rollcall_people (rollcall_id, person_id, state, token_hash)"
			      " VALUES (?1, ?2, 'no_answer', ?3)",
			      &ins))
		rc = SG_EIO;
	size_t i;
	json_t *p;
	json_array_foreach(people, i, p) {
		if (rc)
			break;
		char tok[ROLLCALL_TOKEN_MAX], hash[65];
		rollcall_token(key_hex, json_string_value(p), tok);
		secret_hash(tok, hash);
		sodium_memzero(tok, sizeof(tok));
		db_bind_all(ins, DB_T(str(rec, "id")), DB_T(json_string_value(p)), DB_T(hash));
		rc = db_run(ins) ? SG_EIO : 0;
	}
	json_decref(people);
	sodium_memzero(key_hex, sizeof(key_hex));
	if (!rc)
		rc = announce(db, rec, "rollcall", NULL, NULL, w->now_ms);
	if (!rc && delivery_fanout_rollcall(db, str(rec, "org_id"), str(rec, "alert_id"), str(rec, "id"), 1, w->now_ms) < 0)
		rc = SG_EIO;
	return rc;
}

int rollcall_token_person(struct db *db, const char *token, char person_id[64])
{
	char hash[65];
	secret_hash(token, hash);
	struct db_stmt *st;
	if (db_prepare(db, "SELECT person_id FROM rollcall_people WHERE token_hash = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, hash);
	int rc = db_step(st);
	if (rc == DB_ROW)
		sg_strlcpy(person_id, db_col_text(st, 0), 64);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

int rollcall_question(struct db *db, const char *token, json_t **out)
{
	char hash[65];
	secret_hash(token, hash);
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT r.title, r.status, a.headline, a.instruction FROM rollcall_people p"
		       " JOIN rollcalls r ON r.id = p.rollcall_id JOIN alerts a ON a.id = r.alert_id"
		       " WHERE p.token_hash = ?1 AND r.state = 'open'",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, hash);
	int rc = db_step(st);
	if (rc == DB_ROW)
		*out = json_pack("{s:s,s:b,s:s,s:s?}", "title", db_col_text(st, 0), "exercise",
				 str_eq(db_col_text(st, 1), "Exercise"), "headline", db_col_text(st, 2), "instruction",
				 db_col_text(st, 3));
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

int rollcall_person_duress_hash(struct db *db, const char *person_id, char *hash, size_t hashsz)
{
	struct db_stmt *st;
	char uid[64] = "";
	if (db_prepare(db, "SELECT id FROM users WHERE person_id = ?1 AND role = 'person' AND disabled = 0 LIMIT 1", &st))
		return SG_EIO;
	db_bind_text(st, 1, person_id);
	if (db_step(st) == DB_ROW)
		sg_strlcpy(uid, db_col_text(st, 0), sizeof(uid));
	db_reset(st);
	return uid[0] ? account_duress_hash(db, uid, hash, hashsz) : SG_ENOTFOUND;
}

static json_t *person_row(struct db_stmt *st)
{
	json_t *o = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "person_id", db_col_text(st, 0), "state",
			      db_col_text(st, 1), "via", db_col_text(st, 2), "answered_by", db_col_text(st, 3),
			      "answered_at", db_col_text(st, 4), "note", db_col_text(st, 5), "reason", db_col_text(st, 6),
			      "alarm_id", db_col_text(st, 9));
	if (db_col_type(st, 7) != DB_NULL) {
		json_object_set_new(o, "lat", json_real(db_col_real(st, 7)));
		json_object_set_new(o, "lon", json_real(db_col_real(st, 8)));
	}
	return o;
}

#define PEOPLE_COLS "person_id, state, via, answered_by, answered_at, note, reason, lat, lon, alarm_id"

int rollcall_people(struct db *db, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT " PEOPLE_COLS " FROM rollcall_people WHERE rollcall_id = ?1 ORDER BY person_id", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	json_t *a = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, person_row(st));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(a);
		return SG_EIO;
	}
	*out = a;
	return 0;
}

static const char *const via_names[] = {"link", "api", "operator"};

/* The questions still waiting for a person who answered: withdrawn. */
static int withdraw(struct db *db, const char *rollcall_id, const char *person_id, const char *why, int64_t now)
{
	char ts[25];
	time_format_ms(now, ts);
	struct db_stmt *st;
	if (db_prepare(db,
		       "UPDATE deliveries SET state = 'withdrawn', last_error = ?3, updated_at = ?4"
		       " WHERE rollcall_id = ?1 AND (?2 IS NULL OR person_id = ?2) AND state = 'pending'",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(rollcall_id), DB_T(person_id), DB_T(why), DB_T(ts));
	return db_run(st) ? SG_EIO : 0;
}

int rollcall_answer(struct db *db, const struct rollcall_answer *a, json_t **out, struct verr *e)
{
	char person[64] = "", rcid[64] = "";
	struct db_stmt *st;
	int rc;
	if (a->via == VIA_LINK) {
		char hash[65];
		secret_hash(a->token ? a->token : "", hash);
		if (db_prepare(db, "SELECT rollcall_id, person_id FROM rollcall_people WHERE token_hash = ?1", &st))
			return SG_EIO;
		db_bind_text(st, 1, hash);
		rc = db_step(st);
		if (rc == DB_ROW) {
			sg_strlcpy(rcid, db_col_text(st, 0), sizeof(rcid));
			sg_strlcpy(person, db_col_text(st, 1), sizeof(person));
		}
		db_reset(st);
		if (rc == DB_DONE) {
			verr_set(e, 404, "/token", "this link is not valid, or was used already");
			return SG_ENOTFOUND;
		}
		if (rc != DB_ROW)
			return SG_EIO;
	} else {
		sg_strlcpy(rcid, a->rollcall_id, sizeof(rcid));
		sg_strlcpy(person, a->person_id ? a->person_id : "", sizeof(person));
	}
	json_t *rec = NULL;
	if ((rc = resource_get(db, res(), rcid, &rec)))
		return rc == SG_ENOTFOUND ? (verr_set(e, 404, "", "no such roll-call"), rc) : rc;
	if (!str_eq(str(rec, "state"), "open")) {
		verr_set(e, 409, "", "the roll-call is closed");
		json_decref(rec);
		return SG_ECONFLICT;
	}
	if (db_prepare(db, "SELECT state FROM rollcall_people WHERE rollcall_id = ?1 AND person_id = ?2", &st)) {
		json_decref(rec);
		return SG_EIO;
	}
	db_bind_all(st, DB_T(rcid), DB_T(person));
	rc = db_step(st);
	bool answered = rc == DB_ROW && !str_eq(db_col_text(st, 0), "no_answer");
	db_reset(st);
	if (rc != DB_ROW || answered) {
		if (rc == DB_ROW)
			verr_set(e, 409, "/person_id", "this person has answered already");
		else if (rc == DB_DONE)
			verr_set(e, 404, "/person_id", "this person was not asked in this roll-call");
		json_decref(rec);
		return rc == DB_ROW ? SG_ECONFLICT : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
	}
	bool exercise = str_eq(str(rec, "status"), "Exercise");
	char ts[25];
	time_format_ms(a->now_ms, ts);
	char help_alarm[64] = "";
	rc = 0;
	/* need_help opens an alarm; a duress PIN in the page a duress alarm
	 * (and the page thanks as for any answer). */
	for (int k = 0; k < 2 && !rc; k++) {
		const char *cause = k == 0 ? (str_eq(a->state, "need_help") ? "need_help" : NULL) : (a->duress ? "duress" : NULL);
		if (!cause)
			continue;
		char note[400];
		snprintf(note, sizeof(note), "roll-call %s: %s%s%s", rcid, k ? "duress PIN given with the answer" : "needs help",
			 a->note && *a->note && !k ? " - " : "", a->note && !k ? a->note : "");
		struct alarm_open o = {.org_id = str(rec, "org_id"), .person_id = person, .cause = cause,
				       .exercise = exercise, .has_position = a->has_position, .lat = a->lat, .lon = a->lon,
				       .position_ms = a->now_ms, .note = note, .actor = a->actor ? a->actor : person,
				       .actor_org = str(rec, "org_id"), .request_id = a->request_id, .now_ms = a->now_ms,
				       .escalate_after_ms = alarm_timer_ms(a->timers, cause)};
		json_t *alarm = NULL;
		rc = alarm_open(db, &o, &alarm, e);
		if (!rc && alarm && k == 0) /* the duress alarm is never shown beside the answer */
			sg_strlcpy(help_alarm, str(alarm, "id"), sizeof(help_alarm));
		json_decref(alarm);
	}
	if (!rc && db_prepare(db,
			      "UPDATE rollcall_people SET state = ?3, via = ?4, answered_by = ?5, answered_at = ?6, note = ?7,"
			      " reason = ?8, lat = ?9, lon = ?10, alarm_id = ?11, token_hash = NULL"
			      " WHERE rollcall_id = ?1 AND person_id = ?2",
			      &st))
		rc = SG_EIO;
	if (!rc) {
		db_bind_all(st, DB_T(rcid), DB_T(person), DB_T(a->state), DB_T(via_names[a->via]),
			    DB_T(a->via == VIA_OPERATOR ? a->actor : person), DB_T(ts), DB_T(a->note && *a->note ? a->note : NULL),
			    DB_T(a->reason && *a->reason ? a->reason : NULL));
		if (a->has_position) {
			db_bind_real(st, 9, a->lat);
			db_bind_real(st, 10, a->lon);
		}
		db_bind_text(st, 11, help_alarm[0] ? help_alarm : NULL);
		rc = db_run(st) ? SG_EIO : 0;
	}
	if (!rc)
		rc = withdraw(db, rcid, person, "answered", a->now_ms);
	if (!rc) {
		json_t *ch = json_pack("{s:s,s:s,s:s,s:s?}", "person_id", person, "state", a->state, "via",
				       via_names[a->via], "reason", a->reason && *a->reason ? a->reason : NULL);
		struct audit_entry ae = {.actor = a->via == VIA_OPERATOR ? a->actor : person, .org_id = str(rec, "org_id"),
					 .action = "answer", .object_type = "rollcall", .object_id = rcid, .changes = ch,
					 .request_id = a->request_id};
		rc = audit_append(db, &ae, a->now_ms);
		json_t *extra = json_pack("{s:s,s:s,s:s}", "person_id", person, "answer", a->state, "via", via_names[a->via]);
		if (!rc)
			rc = announce(db, rec, "rollcall_progress", extra, person, a->now_ms);
		json_decref(extra);
		json_decref(ch);
	}
	if (!rc && out) {
		if (db_prepare(db, "SELECT " PEOPLE_COLS " FROM rollcall_people WHERE rollcall_id = ?1 AND person_id = ?2", &st))
			rc = SG_EIO;
		else {
			db_bind_all(st, DB_T(rcid), DB_T(person));
			*out = db_step(st) == DB_ROW ? person_row(st) : NULL;
			db_reset(st);
			if (*out)
				json_object_set_new(*out, "rollcall_id", json_string(rcid));
		}
	}
	json_decref(rec);
	return rc;
}

static int step(struct db *db, json_t *rec, const char *action, json_t *patch, const char *actor,
		const char *request_id, int64_t now, struct verr *e)
{
	struct write_ctx w = {.actor = actor, .request_id = request_id, .now_ms = now, .err = e, .action = action};
	json_t *after = NULL;
	int rc = resource_update(db, res(), str(rec, "org_id"), str(rec, "id"), patch, &w, &after);
	if (!rc && after) {
		json_object_update(rec, after);
	}
	json_decref(after);
	return rc;
}

int rollcall_close(struct db *db, const char *id, const char *actor, const char *request_id, int64_t now_ms,
		   struct verr *e)
{
	json_t *rec = NULL;
	int rc = resource_get(db, res(), id, &rec);
	if (rc)
		return rc;
	if (!str_eq(str(rec, "state"), "open")) {
		verr_set(e, 409, "", "the roll-call is closed already");
		json_decref(rec);
		return SG_ECONFLICT;
	}
	char ts[25];
	time_format_ms(now_ms, ts);
	json_t *patch = json_pack("{s:s,s:s,s:n}", "state", "closed", "closed_at", ts, "next_wave_ms");
	rc = step(db, rec, "close", patch, actor, request_id, now_ms, e);
	json_decref(patch);
	struct db_stmt *st;
	if (!rc && db_prepare(db, "UPDATE rollcall_people SET token_hash = NULL WHERE rollcall_id = ?1", &st))
		rc = SG_EIO;
	if (!rc) {
		db_bind_text(st, 1, id);
		rc = db_run(st) ? SG_EIO : 0;
	}
	if (!rc)
		rc = withdraw(db, id, NULL, "the roll-call closed", now_ms);
	if (!rc)
		rc = announce(db, rec, "rollcall_closed", NULL, NULL, now_ms);
	json_decref(rec);
	return rc;
}

/* The last wave passed: an alarm per person still silent. */
static int escalate(struct db *db, json_t *rec, int64_t now, const struct alarm_timers *timers)
{
	json_t *silent = NULL;
	int rc = store_strings(db, "SELECT person_id FROM rollcall_people WHERE rollcall_id = ?1 AND state = 'no_answer'",
			    str(rec, "id"), &silent);
	if (rc)
		return rc;
	char note[200];
	snprintf(note, sizeof(note), "no answer to roll-call %s after %lld waves", str(rec, "id"),
		 (long long)json_integer_value(json_object_get(rec, "waves")));
	struct db_stmt *set = NULL;
	if (!rc && db_prepare(db, "UPDATE rollcall_people SET alarm_id = ?3 WHERE rollcall_id = ?1 AND person_id = ?2", &set))
		rc = SG_EIO;
	size_t i;
	json_t *p;
	json_array_foreach(silent, i, p) {
		if (rc)
			break;
		struct verr e = {0};
		json_t *alarm = NULL;
		struct alarm_open o = {.org_id = str(rec, "org_id"), .person_id = json_string_value(p), .cause = "no_answer",
				       .exercise = str_eq(str(rec, "status"), "Exercise"), .note = note, .actor = "rollcall",
				       .actor_org = str(rec, "org_id"), .now_ms = now,
				       .escalate_after_ms = alarm_timer_ms(timers, "no_answer")};
		rc = alarm_open(db, &o, &alarm, &e);
		if (!rc && alarm) {
			db_bind_all(set, DB_T(str(rec, "id")), DB_T(json_string_value(p)), DB_T(str(alarm, "id")));
			rc = db_run(set) ? SG_EIO : 0;
		}
		json_decref(alarm);
	}
	json_decref(silent);
	return rc;
}

int rollcall_advance(struct db *db, int64_t now_ms, const struct alarm_timers *timers)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT id FROM rollcalls WHERE state = 'open' AND next_wave_ms IS NOT NULL AND next_wave_ms <= ?1"
		       " ORDER BY next_wave_ms LIMIT 50",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, now_ms);
	json_t *due = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(due, json_string(db_col_text(st, 0)));
	db_reset(st);
	rc = rc == DB_DONE ? 0 : SG_EIO;
	int moved = 0;
	size_t i;
	json_t *idv;
	json_array_foreach(due, i, idv) {
		if (rc)
			break;
		json_t *rec = NULL;
		if ((rc = resource_get(db, res(), json_string_value(idv), &rec)))
			break;
		json_int_t wave = json_integer_value(json_object_get(rec, "wave"));
		json_int_t waves = json_integer_value(json_object_get(rec, "waves"));
		json_int_t interval = json_integer_value(json_object_get(rec, "wave_interval_s"));
		struct verr e = {0};
		json_t *patch;
		if (wave < waves) {
			patch = json_pack("{s:I,s:I}", "wave", wave + 1, "next_wave_ms", (json_int_t)(now_ms + interval * 1000));
			rc = step(db, rec, "wave", patch, "rollcall", NULL, now_ms, &e);
			if (!rc && delivery_fanout_rollcall(db, str(rec, "org_id"), str(rec, "alert_id"), str(rec, "id"),
							    (int)wave + 1, now_ms) < 0)
				rc = SG_EIO;
			if (!rc)
				rc = announce(db, rec, "rollcall_wave", NULL, NULL, now_ms);
		} else {
			patch = json_pack("{s:n,s:i}", "next_wave_ms", "escalated", 1);
			rc = step(db, rec, "escalate", patch, "rollcall", NULL, now_ms, &e);
			if (!rc)
				rc = escalate(db, rec, now_ms, timers);
			if (!rc)
				rc = announce(db, rec, "rollcall_escalated", NULL, NULL, now_ms);
		}
		json_decref(patch);
		json_decref(rec);
		moved++;
	}
	json_decref(due);
	return rc ? rc : moved;
}

int rollcall_next_due(struct db *db, int64_t *due)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT min(next_wave_ms) FROM rollcalls WHERE state = 'open' AND next_wave_ms IS NOT NULL", &st))
		return SG_EIO;
	int rc = db_step(st);
	*due = rc == DB_ROW && db_col_type(st, 0) != DB_NULL ? db_col_int(st, 0) : INT64_MAX;
	db_reset(st);
	return rc == DB_ROW ? 0 : SG_EIO;
}
