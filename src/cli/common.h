/* Helpers shared by the offline commands (init, user, demo, import). */
#ifndef SG_CLI_COMMON_H
#define SG_CLI_COMMON_H

#include "registry/resource.h"
#include "store/store.h"

#include <jansson.h>

/* 1 when at least one organisation exists, 0 when none, negative on error. */
int cli_initialised(struct store *st);

/* Creates an organisation (from org_body) and its first user (from
 * user_body, validated like API input) in one transaction, audited as "cli".
 * On success writes the new ids to org_id_out (ID_MAX bytes) if not NULL. */
int cli_create_org(struct store *st, const json_t *org_body, const json_t *user_body, bool root,
		   struct verr *e, char *org_id_out);

/* Validates body as API input and inserts it into org_id (audited as "cli").
 * extra (may be NULL) is merged after validation (server-set columns such as
 * key_hash). Writes the new id to id_out (ID_MAX) if not NULL. */
int cli_create(struct store *st, const char *resource, const char *org_id, const json_t *body,
	       const json_t *extra, struct verr *e, char *id_out);

/* Finds the id of the organisation named name (or the only/root one when name
 * is NULL); 0 or SG_ENOTFOUND. */
int cli_find_org(struct store *st, const char *name, char out[48]);

#endif
