/* Audit trail: append-only, hash-chained, written in the same transaction as
 * the change it records; a signed checkpoint of the chain's head; an offline
 * verifier.
 *
 * Entry hash = SHA-256(prev_hash, seq, at, actor, org_id, action, object_type,
 * object_id, changes, row_hash, request_id), each field length-prefixed.
 * row_hash = SHA-256 of the object's whole row (all columns, canonical JSON)
 * right after the change, so a row edited, inserted or deleted behind the
 * server's back no longer matches the last entry about it. */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct audit_entry {
	const char *actor;       /* user id, api key id, or "cli" */
	const char *org_id;      /* organisation the object belongs to (may be NULL) */
	const char *action;      /* create, update, delete, login, logout, ... */
	const char *object_type; /* organisation, user, person, site, vehicle, device, api_key, session */
	const char *object_id;
	const json_t *changes;   /* borrowed; NULL means {} */
	const char *request_id;
};

/* Adds an object type whose rows the trail vouches for (the registry, from
 * its descriptors, at start, before any append or verification). */
void audit_add_type(const char *type, const char *table);

/* Appends e inside the current write transaction. For the registry object
 * types the row is re-read to compute row_hash (absent row = deletion).
 * Returns 0 or SG_EIO. */
int audit_append(struct db *db, const struct audit_entry *e, int64_t now_ms);

/* Signing key for checkpoints, kept in DATA_DIR/audit-signing.key (0600); the
 * public half also in DATA_DIR/audit-signing.pub. */
struct audit_key {
	unsigned char pk[32];
	unsigned char sk[64];
	/* The head the last checkpoint signed (writer thread): a commit that
	 * leaves the chain as it was signs nothing and writes nothing. */
	int64_t signed_seq;
	char signed_hash[65];
	int64_t signed_batch; /* and the history chain's (evidence.h) */
	char signed_link[65];
};
/* Loads the key from data_dir, creating it when create is true and it is
 * missing. 0, SG_ENOTFOUND, or SG_EIO with a message in err. */
int audit_key_load(const char *data_dir, bool create, struct audit_key *out, char *err,
		   size_t errsz);
/* store_commit_hook: signs the chain's current head when it moved since the
 * last signature (ctx is a struct audit_key). */
int audit_checkpoint(struct db *db, void *ctx);

/* Checks the chain, the checkpoint against pk (NULL: the key stored in the
 * checkpoint) and every registry row against its last entry. Writes findings
 * to report, the first bad entry first. Returns the number of problems found
 * (0 = intact) or a negative code when the database cannot be read. */
int audit_verify(struct db *db, const unsigned char *pk, FILE *report);

/* A page of org's trail, newest first: entries with seq < before, at most
 * limit, as JSON objects appended to items; *more when older ones remain,
 * *last the seq of the last one listed. 0 or SG_EIO. */
/* Narrows audit_list: NULL members match everything; from/to are RFC 3339
 * times as stored (UTC, milliseconds), to exclusive. */
struct audit_filter {
	const char *action, *actor, *object_type, *object_id, *from, *to;
};
int audit_list(struct db *db, const char *org_id, const struct audit_filter *f, int64_t before, int64_t limit,
	       json_t *items, bool *more, int64_t *last);

/* Canonical hash of one registry row: 0, SG_ENOTFOUND or SG_EIO. */
#define AUDIT_ROW_HASH_LEN 68 /* "2:" + 64 hex + NUL */
int audit_row_hash(struct db *db, const char *object_type, const char *id, char out[AUDIT_ROW_HASH_LEN]);

#endif
