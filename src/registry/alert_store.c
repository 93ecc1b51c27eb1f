/* Alert recipients; see alert_store.h. */
#include "registry/alert_store.h"

#include "core/err.h"
#include "core/util.h"
#include "delivery/delivery.h"
#include "events/events.h"

#include <stdlib.h>

int alert_store(struct db *db, json_t *rec, const json_t *recipients, bool deliver, const struct write_ctx *w)
{
	int rc = resource_insert(db, resource_find("alerts"), rec, w);
	size_t i;
	json_t *p;
	json_array_foreach(recipients, i, p) {
		if (rc)
			break;
		char *why = json_dumps(json_object_get(p, "reasons"), JSON_COMPACT);
		rc = db_run_all(db, "INSERT INTO alert_recipients (alert_id, person_id, reasons) VALUES (?1, ?2, ?3)",
				DB_T(json_string_value(json_object_get(rec, "id"))),
				DB_T(json_string_value(json_object_get(p, "person_id"))), DB_T(why))
			     ? SG_EIO
			     : 0;
		free(why);
	}
	if (!rc) {
		json_t *body = resource_public(resource_find("alerts"), rec, VIEW_FULL);
		rc = events_append(db, json_string_value(json_object_get(rec, "org_id")), "alerts", "alert", body, w->now_ms);
		json_decref(body);
	}
	if (!rc && deliver && delivery_fanout(db, json_string_value(json_object_get(rec, "org_id")),
				   json_string_value(json_object_get(rec, "id")), w->now_ms) < 0)
		rc = SG_EIO;
	return rc;
}

bool alert_device_person(struct db *db, const char *device_id, char out[64])
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT person_id FROM devices WHERE id = ?1", &st))
		return false;
	db_bind_text(st, 1, device_id);
	bool ok = db_step(st) == DB_ROW && db_col_text(st, 0);
	if (ok)
		sg_strlcpy(out, db_col_text(st, 0), 64);
	db_reset(st);
	return ok;
}

int alert_person_name(struct db *db, const char *person_id, const char *org_id, char *name, size_t namesz)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT name FROM people WHERE id = ?1 AND org_id = ?2", &st))
		return SG_EIO;
	db_bind_all(st, DB_T(person_id), DB_T(org_id));
	int rc = db_step(st);
	if (rc == DB_ROW)
		sg_strlcpy(name, db_col_text(st, 0) ? db_col_text(st, 0) : "", namesz);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

int alert_recipients(struct db *db, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT person_id, reasons FROM alert_recipients WHERE alert_id = ?1 ORDER BY person_id", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	json_t *a = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, json_pack("{s:s,s:o}", "person_id", db_col_text(st, 0), "reasons",
						   json_loads(db_col_text(st, 1), 0, NULL)));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(a);
		return SG_EIO;
	}
	*out = a;
	return 0;
}
