/* HTTP handlers, one file per resource family; wired in router.c. */
#ifndef SG_API_H
#define SG_API_H

#include "http/http.h"
#include "registry/alert_store.h"

/* registry.c: generic collection handlers driven by the resource tables. */
void api_list(struct req *r);
void api_create(struct req *r);
void api_get(struct req *r);
void api_update(struct req *r);
void api_delete(struct req *r);
void api_org_create(struct req *r);
void api_device_key(struct req *r);
void api_key_create(struct req *r);
void api_audit_list(struct req *r);
/* The route's {id} record of res when the policy lets the caller act on it
 * (a partner's summary people by pseudonym only); replies 404/403 itself. */
struct resource;
json_t *api_load_for(struct req *r, const struct resource *res, enum action act, struct access *acc);
/* The API form of rec at the caller's access (pseudonym at summary); NULL
 * when it cannot be shown. */
json_t *api_render(struct req *r, const struct resource *res, const json_t *rec, const struct access *acc,
		   bool geojson);
/* Notes a read of another organisation's person for the audit (api_audit_reads). */
void api_note_record_read(json_t *reads, const struct resource *res, const struct access *acc, const json_t *rec);

/* exposure.c: who and what lies in an incident's area. */
void api_incident_exposure(struct req *r);
/* The own people an alert reaches, each once with the reasons, by person
 * id (exposure.c); the JSON form [{person_id, name, reasons, position?}]. */
struct db;
struct alert_set {
	struct alert_recipient *a;
	size_t n;
	struct directory *directory;
	const struct dir_org *dir; /* the snapshot the strings belong to */
};
/* Each recipient with its name, reasons and the position that placed them. */
int api_alert_recipients(struct req *r, struct db *db, const json_t *alert, struct alert_set *out);
json_t *api_alert_set_json(const struct alert_set *s);
void api_alert_set_free(struct alert_set *s);
/* alerts.c */
void api_alert_create(struct req *r);
void api_alert_get(struct req *r);
void api_alert_cap(struct req *r);
void api_alert_relay(struct req *r);
void api_alert_deliveries(struct req *r);
void api_alerts_feed(struct req *r);
/* A list of own records' ids from a body member (people, sites): a JSON
 * text, "[]" when absent, or NULL after a 400. */
char *api_own_ids(struct req *r, struct db *db, const json_t *a, const char *collection, const char *member);

/* rollcalls.c */
void api_rollcall_create(struct req *r);
void api_rollcall_get(struct req *r);
void api_rollcall_answer(struct req *r);
void api_rollcall_close(struct req *r);
void api_rollcall_report(struct req *r);
/* The one-time link's page: the question, and the answer (no login). */
void api_answer_question(struct req *r);
void api_answer_submit(struct req *r);
/* An organisation's own assessment of an incident it sees (GET, POST). */
void api_incident_assessment(struct req *r);

/* alarms.c */
void api_alarm_create(struct req *r);
void api_alarm_get(struct req *r);
void api_alarm_act(struct req *r);
void api_alarm_cancel(struct req *r);
/* The newest position of a person's devices (*has false: none known). */
void api_person_position(struct req *r, struct db *db, const char *person, bool *has, double *lat, double *lon,
			 int64_t *time_ms);

/* agreements.c */
void api_agreement_list(struct req *r);
void api_agreement_create(struct req *r);
void api_agreement_get(struct req *r);
void api_agreement_update(struct req *r);
void api_agreement_act(struct req *r);

/* Audit of cross-organisation reads (people, positions): collect per grant,
 * then write before the data leaves; false after a 503 reply. */
void api_note_read(json_t *reads, const struct grant *g, enum view view, const char *id);
bool api_audit_reads(struct req *r, json_t *reads, const char *object_type);

/* session.c */
void api_session_create(struct req *r);
void api_session_get(struct req *r);
void api_session_delete(struct req *r);
void api_session_password(struct req *r);
void api_session_duress(struct req *r);
/* given against an account's password hash and duress PIN hash (either may
 * be empty): *ok for the password, *duress for the PIN. Both argon2id
 * checks run every time, whatever exists or matches. */
void api_check_secrets(const char *hash, const char *dhash, const char *given, bool *ok, bool *duress);

/* ingest.c: device protocols */
struct protocol;
/* Every protocol route of src/ingest/protocols.c. */
void api_ingest(struct req *r);
void api_ingest_protocol(struct req *r, const struct protocol *p);

/* positions.c */
void api_positions_latest(struct req *r);
void api_positions_query(struct req *r);
void api_device_history(struct req *r);
void api_zones_at(struct req *r);

/* meta.c */
void api_healthz(struct req *r);
void api_readyz(struct req *r);
void api_metrics(struct req *r);
void api_openapi(struct req *r);
/* Serves the console's static files; false when path is not one. */
bool api_static(struct req *r);

#endif
