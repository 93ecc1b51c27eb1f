/* Alert recipients; see alert_store.h. */
#include "registry/alert_store.h"

#include "core/err.h"
#include "core/util.h"
#include "delivery/delivery.h"
#include "events/events.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[] = {"position", "home_site", "named", "site"};

/* Every combination of the four reasons, written once at first use. */
static char reasons_text[16][64];
static pthread_once_t reasons_once = PTHREAD_ONCE_INIT;

static void reasons_init(void)
{
	for (unsigned m = 0; m < 16; m++) {
		struct sb sb;
		sb_init(&sb);
		sb_addc(&sb, '[');
		for (int b = 0; b < 4; b++)
			if (m & (1u << b))
				sb_addf(&sb, "%s\"%s\"", sb.len > 1 ? "," : "", reason_names[b]);
		sb_addc(&sb, ']');
		sg_strlcpy(reasons_text[m], sb.buf, sizeof(reasons_text[m]));
		sb_release(&sb);
	}
}

const char *alert_reasons_text(unsigned reasons)
{
	pthread_once(&reasons_once, reasons_init);
	return reasons_text[reasons & 15];
}

json_t *alert_reasons_json(unsigned reasons)
{
	json_t *a = json_array();
	for (int b = 0; b < 4; b++)
		if (reasons & (1u << b))
			json_array_append_new(a, json_string(reason_names[b]));
	return a;
}

int alert_store(struct db *db, json_t *rec, const struct alert_recipient *rcpt, size_t n, bool deliver,
		const struct write_ctx *w)
{
	int rc = resource_insert(db, resource_find("alerts"), rec, w);
	struct db_stmt *st = NULL;
	const char *id = json_string_value(json_object_get(rec, "id"));
	/* The set as one text (ids and reasons are tokens: nothing to escape;
	 * a row each cost 1.5 us, 150 ms for 100,000 people). */
	if (!rc && db_prepare(db, "INSERT INTO alert_recipient_sets (alert_id, count, people) VALUES (?1, ?2, ?3)", &st))
		rc = SG_EIO;
	if (!rc) {
		struct sb set;
		sb_init(&set);
		sb_addc(&set, '[');
		for (size_t i = 0; i < n; i++) {
			sb_adds(&set, i ? ",[\"" : "[\"");
			sb_adds(&set, rcpt[i].person_id);
			sb_adds(&set, "\",");
			sb_adds(&set, alert_reasons_text(rcpt[i].reasons));
			sb_addc(&set, ']');
		}
		sb_addc(&set, ']');
		db_bind_all(st, DB_T(id), DB_I((int64_t)n), DB_T(set.buf));
		rc = db_run(st) ? SG_EIO : 0;
		sb_release(&set);
	}
	if (!rc) {
		json_t *body = resource_public(resource_find("alerts"), rec, VIEW_FULL);
		rc = events_append(db, json_string_value(json_object_get(rec, "org_id")), "alerts", "alert", body, w->now_ms);
		json_decref(body);
	}
	if (!rc && deliver && delivery_fanout(db, json_string_value(json_object_get(rec, "org_id")), id, w->now_ms) < 0)
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

int alert_recipients(struct db *db, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT value ->> 0, value -> 1 FROM json_each((SELECT people FROM alert_recipient_sets WHERE alert_id = ?1))"
		       " ORDER BY key",
		       &st))
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
