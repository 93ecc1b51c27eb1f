/* Accounts as the HTTP layer authenticates them: sessions, API keys and the
 * password a login checks. The repository of the sessions and api_keys
 * tables and of the users' credentials; http/ holds no SQL (issue 11). */
#ifndef SG_ACCOUNTS_H
#define SG_ACCOUNTS_H

#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Who a credential stands for. */
struct account {
	char id[48]; /* user id, or api key id */
	char org_id[48];
	char person_id[48]; /* "" when none */
	char username[72];  /* "" for API keys */
	char role[32];
	bool root_org; /* member of the installation's first organisation */
};

struct session_row {
	struct account who;
	char csrf[64];
	int64_t last_ms, expires_ms;
};

/* The session with this token hash, of a user not disabled: 0, SG_ENOTFOUND
 * or SG_EIO. */
int account_by_session(struct db *db, const char *token_hash, struct session_row *out);
/* The API key with this key hash (by_id false) or id (true), not revoked. */
int account_by_api_key(struct db *db, const char *key, bool by_id, struct account *out);

/* A login's lookup: the user named username, not disabled, with the stored
 * password hash (hash_size bytes at most). 0, SG_ENOTFOUND or SG_EIO. */
int account_for_login(struct db *db, const char *username, struct account *out, char *hash, size_t hash_size,
		      char *display_name, size_t name_size);
/* The stored password hash of user id. 0, SG_ENOTFOUND or SG_EIO. */
int account_password_hash(struct db *db, const char *user_id, char *hash, size_t hash_size);
/* A user's duress PIN hash: 0, SG_ENOTFOUND (none registered) or SG_EIO. */
int account_duress_hash(struct db *db, const char *user_id, char *hash, size_t hash_size);
/* Sets it (inside a write; the caller audits). */
int account_set_duress(struct db *db, const char *user_id, const char *hash);

/* The user named username: its id and organisation. 0, SG_ENOTFOUND or SG_EIO. */
int account_find_user(struct db *db, const char *username, char id[48], char org[48]);
/* Every user, by organisation name and username: fn(ctx, username, role,
 * organisation name, disabled). 0 or SG_EIO. */
int account_list_users(struct db *db, void (*fn)(void *ctx, const char *username, const char *role,
					       const char *org_name, bool disabled),
		       void *ctx);
/* 1 when the installation has an organisation (initialised), 0 when not,
 * or SG_EIO. */
int org_any(struct db *db);
/* The organisation named or with id name, or the root one when name is NULL:
 * 0, SG_ENOTFOUND or SG_EIO. */
int org_find(struct db *db, const char *name, char out[48]);

/* In a write transaction. */
int session_insert(struct db *db, const char *token_hash, const char *user_id, const char *csrf, int64_t now_ms,
		   int64_t expires_ms);
int session_delete(struct db *db, const char *token_hash);
/* store_write function: records a session's last use (arg: struct session_touch). */
struct session_touch {
	char token_hash[65];
	int64_t now_ms;
};
int session_touch_fn(struct db *db, void *arg);

#endif
