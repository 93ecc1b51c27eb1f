/* Roll-calls (issue 14): "are you safe?" to the recipients of an alert.
 *
 *   start ──> rollcall row, a rollcall_people row per recipient (no_answer,
 *             with the SHA-256 of its link token), wave 1 through every
 *             channel (delivery_fanout_rollcall), event `rollcall`
 *   answer ─> safe | need_help, by link (token), API (the person) or an
 *             operator (with a reason); need_help opens an alarm, a duress
 *             PIN in the page a duress alarm; the token dies; event
 *             `rollcall_progress` with the counts
 *   due ────> the next wave to those still silent; after the last, an
 *             alarm per silent person (cause no_answer); event each
 *   close ──> the tokens die; no more waves
 *
 * A link's token is HMAC-SHA256(the roll-call's key, person id), so a
 * retry or a wave can write it again; the store keeps only its SHA-256.
 * All writes run inside store_write; times are the injected clock's. */
#ifndef SG_ROLLCALL_H
#define SG_ROLLCALL_H

#include "alarms/alarms.h"
#include "core/verr.h"
#include "registry/resource.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ROLLCALL_TOKEN_MAX 64

/* The link token of person_id in the roll-call with key key_hex. */
void rollcall_token(const char *key_hex, const char *person_id, char out[ROLLCALL_TOKEN_MAX]);
/* delivery_opts.rollcall_token: reads the key, refuses (SG_ENOTFOUND) when
 * the person answered or the roll-call closed. */
int rollcall_token_for(void *ctx, struct db *db, const char *rollcall_id, const char *person_id, char *out,
		       size_t outsz);

/* rec: a new roll-call record (title, waves, wave_interval_s, alert_id,
 * status) without its key; adds the people (the alert's recipients), wave 1
 * and its deliveries. */
int rollcall_start(struct db *db, json_t *rec, const struct write_ctx *w);

enum rollcall_via { VIA_LINK, VIA_API, VIA_OPERATOR };
struct rollcall_answer {
	const char *rollcall_id, *person_id; /* or token (VIA_LINK) */
	const char *token;
	enum rollcall_via via;
	const char *state; /* safe | need_help */
	const char *note, *reason;
	bool has_position;
	double lat, lon;
	bool duress; /* the page's PIN was the person's duress PIN */
	const char *actor, *actor_org, *request_id;
	int64_t now_ms;
	const struct alarm_timers *timers;
};
/* Records one answer. 404 (SG_ENOTFOUND) for an unknown, used or dead
 * token or someone not asked; 409 answered already or closed. *out: the
 * person's row. */
int rollcall_answer(struct db *db, const struct rollcall_answer *a, json_t **out, struct verr *e);

/* The person a live token belongs to (for the page's duress check), or
 * SG_ENOTFOUND. */
int rollcall_token_person(struct db *db, const char *token, char person_id[64]);

/* What a live token's page shows: {title, exercise, headline, instruction},
 * or SG_ENOTFOUND (unknown, used, or the roll-call closed). */
int rollcall_question(struct db *db, const char *token, json_t **out);
/* The duress PIN hash of the person's own enabled account (SG_ENOTFOUND:
 * none, or no PIN set). */
int rollcall_person_duress_hash(struct db *db, const char *person_id, char *hash, size_t hashsz);

int rollcall_close(struct db *db, const char *id, const char *actor, const char *request_id, int64_t now_ms,
		   struct verr *e);

/* Waves and escalation that are due. Returns how many roll-calls moved. */
int rollcall_advance(struct db *db, int64_t now_ms, const struct alarm_timers *timers);
/* The earliest due time of an open roll-call (INT64_MAX: none). */
int rollcall_next_due(struct db *db, int64_t *due);

/* The people of a roll-call: [{person_id, state, via, answered_by,
 * answered_at, note, reason, lat, lon, alarm_id}] by person. */
int rollcall_people(struct db *db, const char *id, json_t **out);

#endif
