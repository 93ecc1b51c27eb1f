/* An alert (its record) as a CAP 1.2 document, valid against the OASIS
 * schema (tests/data/CAP-v1.2.xsd): the same for GET /alerts/{id}/cap and
 * a webhook channel of format "cap". */
#ifndef SG_ALERT_CAP_H
#define SG_ALERT_CAP_H

#include "store/db.h"

#include <jansson.h>
#include <stddef.h>

/* A malloc'd, NUL-terminated document of *len bytes (db reads the alert it
 * references and its incident's area). */
char *alert_cap_xml(struct db *db, const json_t *alert, size_t *len);

#endif
