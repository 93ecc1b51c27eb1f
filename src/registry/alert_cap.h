/* An alert (its record) as a CAP 1.2 document, valid against the OASIS
 * schema (tests/data/CAP-v1.2.xsd): the same for GET /alerts/{id}/cap and
 * a webhook channel of format "cap". */
#ifndef SG_ALERT_CAP_H
#define SG_ALERT_CAP_H

#include "store/db.h"

#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <stddef.h>

/* A malloc'd, NUL-terminated document of *len bytes (db reads the alert it
 * references and its incident's area). */
char *alert_cap_xml(struct db *db, const json_t *alert, size_t *len);
/* <name>text</name>, the text cleaned of what XML 1.0 cannot hold; nothing
 * for a NULL or empty text (the Atom feed writes with it too). */
void xml_element(xmlTextWriterPtr w, const char *name, const char *text);

#endif
