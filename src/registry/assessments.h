/* An organisation's own assessment of an incident it sees: severity,
 * confidence and notes of its own, kept beside the owner's record, which it
 * never changes; only the assessing organisation reads it. */
#ifndef SG_ASSESSMENTS_H
#define SG_ASSESSMENTS_H

#include "store/db.h"

#include <jansson.h>
#include <stdint.h>

/* Sets org's assessment of incident (inside a write; audited in org's
 * trail as "assess"). severity is a CAP severity; confidence and notes may
 * be NULL. */
int assessment_set(struct db *db, const char *incident, const char *org, const char *severity,
		   const char *confidence, const char *notes, const char *actor, const char *request_id,
		   int64_t now_ms);
/* org's assessment: 0 with *out a new object, SG_ENOTFOUND, or SG_EIO. */
int assessment_get(struct db *db, const char *incident, const char *org, json_t **out);

#endif
