/* An alert's recipients in the store (issue 14): written with the alert, in
 * its transaction; read back for its sender. */
#ifndef SG_ALERT_STORE_H
#define SG_ALERT_STORE_H

#include "registry/resource.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Why a person is reached (a person found several ways holds several). */
enum { ALERT_BY_POSITION = 1, ALERT_BY_HOME_SITE = 2, ALERT_BY_NAME = 4, ALERT_BY_SITE = 8 };
/* A recipient as the search finds it (strings borrowed from the search). */
struct alert_recipient {
	const char *person_id, *name;
	unsigned reasons;
	bool has_pos; /* the fresh latest position that placed them in the area */
	const char *device_id;
	double lat, lon;
	int64_t time_ms;
};
/* ["position", "home_site", ...] as JSON text (static) and as JSON. */
const char *alert_reasons_text(unsigned reasons);
json_t *alert_reasons_json(unsigned reasons);

/* Inserts rec (an alert record, resource_insert: audited) and its n
 * recipients, the outbox event `alert` (category alerts) and, with deliver,
 * a delivery row per recipient and channel (a roll-call's own alert
 * delivers its question instead). */
int alert_store(struct db *db, json_t *rec, const struct alert_recipient *rcpt, size_t n, bool deliver,
		const struct write_ctx *w);
/* The person carrying a device (false: none, or removed). */
bool alert_device_person(struct db *db, const char *device_id, char out[64]);
/* [{person_id, reasons}] of alert id, by person id. */
int alert_recipients(struct db *db, const char *id, json_t **out);

#endif
