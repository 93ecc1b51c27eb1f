/* Sharing agreements: two organisations, each side granting the other a
 * level of access per category, optionally under a condition and within a
 * validity period. An agreement is in force once both sides accepted it;
 * each side may suspend, resume or revoke (for good) its own grants at once.
 *
 * This module is the store side: it loads the grants in force towards an
 * organisation (the access policy decides with them), writes agreements and
 * grants with their audit entries, keeps the per-partner pseudonyms of
 * people, and renders agreements. */
#ifndef SG_SHARING_H
#define SG_SHARING_H

#include "policy/policy.h"
#include "registry/resource.h"
#include "store/db.h"

#include <jansson.h>
#include <stdint.h>

/* Loads into out the grants in force towards grantee at now_ms: agreement
 * accepted by both sides, grantor's side active, now within [from, to).
 * Also lists every organisation grantee has an agreement with, in any state.
 * 0 or SG_EIO. */
/* struct actor's condition_met: whether a grant's condition holds for one
 * person now. ctx is the set of people with an open alarm (alarms.h):
 * "during an open SOS" holds for them from the moment the alarm opens to
 * its resolution; "during a shared movement" holds once movements exist (a
 * later issue). Neither holds for no particular person (person_id NULL). */
bool sharing_condition_met(void *ctx, const struct grant *g, const char *person_id);

/* The organisations grantor shares cat with in full, unconditionally, now:
 * a new array of ids. 0 or SG_EIO. */
int sharing_grantees(struct db *db, const char *grantor, enum category cat, int64_t now_ms, json_t **out);

int sharing_incoming(struct db *db, const char *grantee, int64_t now_ms, struct grant_set *out);

/* A cache of sharing_incoming() per organisation, owned by the app: an entry
 * lives at most 1 s (validity periods) and every agreement write in this
 * process drops them all at once (grant_cache_invalidate), so a revocation
 * still counts from the next request. Thread-safe. */
struct grant_cache;
struct grant_cache *grant_cache_new(void);
void grant_cache_free(struct grant_cache *c);
int grant_cache_get(struct grant_cache *c, struct db *db, const char *grantee, int64_t now_ms,
		    struct grant_set *out);
void grant_cache_invalidate(struct grant_cache *c);

/* Validates a grants array from a client (pointer prefix "/grants").
 * Returns 0 or SG_EINVAL with e filled; *out receives a normalised copy. */
int sharing_validate_grants(const json_t *grants, json_t **out, struct verr *e);

/* Write jobs (inside store_write), audited as actor. */
struct agreement_write {
	const char *actor, *actor_org, *request_id;
	int64_t now_ms;
	struct verr *err;
};
/* Creates an agreement from actor_org to partner with actor_org's grants;
 * the proposing side has accepted it. Writes the new id to id_out. */
int sharing_create(struct db *db, const struct agreement_write *w, const char *partner,
		   const json_t *grants, char id_out[48]);
/* Replaces actor_org's grants in agreement id. */
int sharing_set_grants(struct db *db, const struct agreement_write *w, const char *id,
		       const json_t *grants);
/* action: "accept", "suspend", "resume" or "revoke", on actor_org's side. */
int sharing_act(struct db *db, const struct agreement_write *w, const char *id, const char *action);

/* Renders agreement id as seen by org (a party), with its grants and, when
 * with_history, who accepted, suspended, resumed or revoked what and when.
 * 0, SG_ENOTFOUND (also when org is no party) or SG_EIO. */
int sharing_render(struct db *db, const char *id, const char *org, int64_t now_ms,
		   bool with_history, json_t **out);
/* The ids of the agreements org is party to, newest first. */
int sharing_list(struct db *db, const char *org, json_t **ids);

/* Gives person_id a pseudonym for every organisation its owner has an
 * agreement with (idempotent). */
int sharing_pseudonyms_for_person(struct db *db, const char *person_id, const char *org_id);
/* The pseudonym of person_id for partner (code[16]); 0 or SG_ENOTFOUND. */
int sharing_pseudonym(struct db *db, const char *person_id, const char *partner, char code[16]);
/* The person behind code for partner (person_id[48]); 0 or SG_ENOTFOUND. */
int sharing_resolve_pseudonym(struct db *db, const char *code, const char *partner,
			      char person_id[48]);
/* True when s has the form of a pseudonym (two letters, dash, four digits). */
bool sharing_is_pseudonym(const char *s);

#endif
