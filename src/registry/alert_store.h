/* An alert's recipients in the store (issue 14): written with the alert, in
 * its transaction; read back for its sender. */
#ifndef SG_ALERT_STORE_H
#define SG_ALERT_STORE_H

#include "registry/resource.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>

/* Inserts rec (an alert record, resource_insert: audited) and its
 * recipients ([{person_id, reasons}]), the outbox event `alert` (category
 * alerts) and, with deliver, a delivery row per recipient and channel (a
 * roll-call's own alert delivers its question instead). */
int alert_store(struct db *db, json_t *rec, const json_t *recipients, bool deliver, const struct write_ctx *w);
/* Lookups of the recipient search (one row each, prepared once): the
 * person carrying a device (false: none, or removed); the name of one of
 * org's people (0, SG_ENOTFOUND: not one of them, or SG_EIO), copied into
 * name. */
bool alert_device_person(struct db *db, const char *device_id, char out[64]);
int alert_person_name(struct db *db, const char *person_id, const char *org_id, char *name, size_t namesz);
/* [{person_id, reasons}] of alert id, by person id. */
int alert_recipients(struct db *db, const char *id, json_t **out);

#endif
