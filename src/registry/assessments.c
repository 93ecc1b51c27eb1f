/* Incident assessments; see assessments.h. */
#include "registry/assessments.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"

int assessment_set(struct db *db, const char *incident, const char *org, const char *severity,
		   const char *confidence, const char *notes, const char *actor, const char *request_id,
		   int64_t now_ms)
{
	char ts[25];
	time_format_ms(now_ms, ts);
	if (db_run_all(db,
		       "INSERT INTO incident_assessments (incident_id, org_id, severity, confidence, notes, updated_at,"
		       " updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (incident_id, org_id) DO UPDATE SET"
		       " severity = excluded.severity, confidence = excluded.confidence, notes = excluded.notes,"
		       " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
		       DB_T(incident), DB_T(org), DB_T(severity), DB_T(confidence), DB_T(notes), DB_T(ts), DB_T(actor)))
		return SG_EIO;
	json_t *ch = json_pack("{s:s,s:s?,s:s?}", "severity", severity, "confidence", confidence, "notes", notes);
	struct audit_entry ae = {.actor = actor, .org_id = org, .action = "assess", .object_type = "incident_assessment",
				 .object_id = incident, .changes = ch, .request_id = request_id};
	int rc = audit_append(db, &ae, now_ms);
	json_decref(ch);
	return rc;
}

int assessment_get(struct db *db, const char *incident, const char *org, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT severity, confidence, notes, updated_at, updated_by FROM incident_assessments"
		       " WHERE incident_id = ?1 AND org_id = ?2",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, incident);
	db_bind_text(st, 2, org);
	int rc = db_step(st);
	if (rc == DB_ROW)
		*out = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:s}", "incident_id", incident, "severity", db_col_text(st, 0),
				 "confidence", db_col_text(st, 1), "notes", db_col_text(st, 2), "updated_at",
				 db_col_text(st, 3), "updated_by", db_col_text(st, 4), "org_id", org);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}
