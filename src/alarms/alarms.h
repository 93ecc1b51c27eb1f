/* Alarms: a person in danger, raised by a device's SOS (in the transaction
 * that stores the report), by the person, or by an operator; owned by one
 * operations centre until it is resolved.
 *
 *   open ──acknowledge──> acknowledged ──resolve(outcome, note)──> resolved
 *     │  └──────────────────resolve──────────────────────────────────┘
 *     └─ not acknowledged in time: escalates, duty officers -> security
 *        manager -> the partners' duty officers (each step an event)
 *   handover: to a partner centre the person's organisation shares alarms
 *   with in full; the partner then owns it (open again, its own timer).
 *
 * The record (registry resource "alarms") belongs to the person's
 * organisation: who may see it follows the sharing agreements (category
 * alarms) like any record; a duress alarm is decided under the rule
 * "alarms_duress" (duty officers and security managers only). Every step
 * writes, in one transaction: the record, a line of alarm_log, an audit
 * entry in the trail of the person's organisation and of the acting or
 * receiving organisation when it is another, and an outbox event (category
 * alarms or alarms_duress, subject the person).
 *
 * The people with an open real (not exercise) alarm are kept in memory
 * (struct alarm_set), fed by the event path after each commit: the sharing
 * condition "during_open_sos" holds for them. */
#ifndef SG_ALARMS_H
#define SG_ALARMS_H

#include "core/verr.h"
#include "events/events.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Every cause an alarm may have: ours, then the alarm values of Traccar's
 * position model (what Traccar Client and OsmAnd-protocol trackers send as
 * alarm=). NULL-terminated. */
extern const char *const alarm_causes[];
extern const char *const alarm_outcomes[];
/* 1 duress, 2 a person in danger (sos, need_help, fallDown, accident, ...),
 * 3 a device condition (lowBattery, powerCut, ...). */
int alarm_priority(const char *cause);
/* The cause for a device's alarm value: itself when known, "general" when
 * not (the raw value is kept as device_alarm). NULL for an empty value. */
const char *alarm_cause_of_device(const char *value);

/* Escalation delays per cause, from the configuration: "alarms.escalate_s"
 * (every cause) and "alarms.escalate_s_by_cause" ("duress=30,sos=60"). */
struct alarm_timers {
	int64_t default_ms;
	char causes[16][24];
	int64_t ms[16];
	int n;
};
/* 0, or SG_EINVAL with err naming the bad entry. */
int alarm_timers_parse(struct alarm_timers *t, int64_t default_s, const char *by_cause, char *err, size_t errsz);
int64_t alarm_timer_ms(const struct alarm_timers *t, const char *cause);

/* --- writes, inside store_write ----------------------------------------- */

struct alarm_open {
	const char *org_id;     /* the person's organisation */
	const char *person_id;
	const char *device_id;  /* NULL: not raised by a device */
	const char *cause;
	const char *device_alarm; /* the device's own value, NULL if none */
	bool exercise;
	bool has_position;
	double lat, lon;
	int64_t position_ms;
	const char *note;
	const char *actor;      /* user, API key or device id */
	const char *actor_org;
	const char *request_id;
	int64_t now_ms;
	int64_t escalate_after_ms;
	bool dedupe;            /* a device's repeated alarm: none opened while one of that cause is open */
};
/* Opens an alarm; *out (may be NULL) receives the record. With dedupe, 0
 * and *out NULL when one was open already. */
int alarm_open(struct db *db, const struct alarm_open *o, json_t **out, struct verr *e);

/* ALARM_CANCEL: the person themselves calls it off (a false alarm), whoever
 * owns it; the caller checked that it is theirs and their password. */
enum alarm_action { ALARM_ACKNOWLEDGE, ALARM_HANDOVER, ALARM_RESOLVE, ALARM_COMMENT, ALARM_CANCEL };
struct alarm_step {
	const char *id;
	enum alarm_action action;
	const char *actor, *actor_org, *request_id;
	int64_t now_ms;
	const char *to_org;     /* handover */
	const char *outcome;    /* resolve */
	const char *note;       /* resolve (required), comment (required), others optional */
	const struct alarm_timers *timers;
};
/* One step by an operator of actor_org, who the caller checked may read
 * the alarm. 403 (not the owner), 409 (wrong state), 400 (bad member) in e. */
int alarm_act(struct db *db, const struct alarm_step *s, json_t **out, struct verr *e);

/* Escalates every alarm due at now_ms (not acknowledged in time): one
 * step each. Returns how many, or SG_EIO. */
int alarm_escalate_due(struct db *db, const struct alarm_timers *t, int64_t now_ms);
/* The earliest escalation due (INT64_MAX: none). */
int alarm_next_due(struct db *db, int64_t *ms);

/* The ids of a person's devices: a new array. */
int alarm_person_devices(struct db *db, const char *person_id, json_t **out);

/* The steps of an alarm, oldest first: [{at, actor, actor_org, action, note}]. */
int alarm_log(struct db *db, const char *id, json_t **out);

/* --- who has an open alarm ------------------------------------------------ */

struct alarm_set;
struct alarm_set *alarm_set_new(void);
void alarm_set_free(struct alarm_set *s);
/* At start, before the event path runs: the open real alarms. */
int alarm_set_load(struct alarm_set *s, struct db *db);
/* An events_fn (the dispatcher's volatile subscriber "alarms"). */
int alarm_set_event(void *ctx, const struct event *e);
bool alarm_set_has(const struct alarm_set *s, const char *person_id);
size_t alarm_set_size(const struct alarm_set *s);

/* What an OwnTracks phone is told in the answer to its report (a JSON
 * array of messages): while its person has an open alarm, move mode
 * (frequent reports: setConfiguration monitoring 2); on the first report
 * after, back to significant-changes mode (monitoring 1), once. A new
 * string, or NULL for nothing to say. */
char *alarm_set_owntracks_reply(struct alarm_set *s, const char *device_id, const char *person_id);

#endif
