/* Sessions, API keys and login credentials; see accounts.h. */
#include "registry/accounts.h"

#include "core/err.h"
#include "core/util.h"

static void text(struct db_stmt *st, int i, char *out, size_t n)
{
	const char *s = db_col_text(st, i);
	sg_strlcpy(out, s ? s : "", n);
}

/* Steps st once: 0 with a row, SG_ENOTFOUND, or SG_EIO. */
static int one(struct db_stmt *st)
{
	int rc = db_step(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : SG_EIO;
}

int account_by_session(struct db *db, const char *token_hash, struct session_row *out)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT s.csrf, s.last_ms, s.expires_ms, u.id, u.org_id, u.role, u.person_id,"
		       " u.username, o.is_root FROM sessions s JOIN users u ON u.id = s.user_id"
		       " JOIN organisations o ON o.id = u.org_id WHERE s.token_hash = ?1 AND u.disabled = 0",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, token_hash);
	int rc = one(st);
	if (rc == 0) {
		*out = (struct session_row){.last_ms = db_col_int(st, 1), .expires_ms = db_col_int(st, 2)};
		text(st, 0, out->csrf, sizeof(out->csrf));
		text(st, 3, out->who.id, sizeof(out->who.id));
		text(st, 4, out->who.org_id, sizeof(out->who.org_id));
		text(st, 5, out->who.role, sizeof(out->who.role));
		text(st, 6, out->who.person_id, sizeof(out->who.person_id));
		text(st, 7, out->who.username, sizeof(out->who.username));
		out->who.root_org = db_col_int(st, 8) != 0;
	}
	db_reset(st);
	return rc;
}

int account_by_api_key(struct db *db, const char *key, bool by_id, struct account *out)
{
	struct db_stmt *st;
	int rc = by_id ? db_prepare(db,
				    "SELECT k.id, k.org_id, k.role, o.is_root FROM api_keys k"
				    " JOIN organisations o ON o.id = k.org_id WHERE k.id = ?1 AND k.revoked = 0",
				    &st)
		       : db_prepare(db,
				    "SELECT k.id, k.org_id, k.role, o.is_root FROM api_keys k"
				    " JOIN organisations o ON o.id = k.org_id WHERE k.key_hash = ?1 AND k.revoked = 0",
				    &st);
	if (rc)
		return SG_EIO;
	db_bind_text(st, 1, key);
	rc = one(st);
	if (rc == 0) {
		*out = (struct account){.root_org = db_col_int(st, 3) != 0};
		text(st, 0, out->id, sizeof(out->id));
		text(st, 1, out->org_id, sizeof(out->org_id));
		text(st, 2, out->role, sizeof(out->role));
	}
	db_reset(st);
	return rc;
}

int account_for_login(struct db *db, const char *username, struct account *out, char *hash, size_t hash_size,
		      char *display_name, size_t name_size)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT u.id, u.org_id, u.role, u.password_hash, u.person_id, u.display_name, o.is_root"
		       " FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.username = ?1 AND u.disabled = 0",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, username);
	int rc = one(st);
	if (rc == 0) {
		*out = (struct account){.root_org = db_col_int(st, 6) != 0};
		text(st, 0, out->id, sizeof(out->id));
		text(st, 1, out->org_id, sizeof(out->org_id));
		text(st, 2, out->role, sizeof(out->role));
		text(st, 3, hash, hash_size);
		text(st, 4, out->person_id, sizeof(out->person_id));
		text(st, 5, display_name, name_size);
		sg_strlcpy(out->username, username, sizeof(out->username));
	}
	db_reset(st);
	return rc;
}

/* One secret column of a user, by the statement given (constant SQL). */
static int user_secret(struct db *db, const char *sql, const char *user_id, char *hash, size_t hash_size)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, user_id);
	int rc = one(st);
	if (rc == 0)
		text(st, 0, hash, hash_size);
	db_reset(st);
	return rc;
}

int account_password_hash(struct db *db, const char *user_id, char *hash, size_t hash_size)
{
	return user_secret(db, "SELECT password_hash FROM users WHERE id = ?1", user_id, hash, hash_size);
}

int account_duress_hash(struct db *db, const char *user_id, char *hash, size_t hash_size)
{
	return user_secret(db, "SELECT duress_hash FROM users WHERE id = ?1 AND duress_hash IS NOT NULL", user_id, hash,
			   hash_size);
}

int account_set_duress(struct db *db, const char *user_id, const char *hash)
{
	return db_run_all(db, "UPDATE users SET duress_hash = ?2 WHERE id = ?1", DB_T(user_id), DB_T(hash)) ? SG_EIO : 0;
}

int session_insert(struct db *db, const char *token_hash, const char *user_id, const char *csrf, int64_t now_ms,
		   int64_t expires_ms)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "INSERT INTO sessions (token_hash, user_id, csrf, created_ms, last_ms, expires_ms)"
		       " VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(token_hash), DB_T(user_id), DB_T(csrf), DB_I(now_ms), DB_I(expires_ms));
	return db_run(st);
}

int session_delete(struct db *db, const char *token_hash)
{
	struct db_stmt *st;
	if (db_prepare(db, "DELETE FROM sessions WHERE token_hash = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, token_hash);
	return db_run(st);
}

int session_touch_fn(struct db *db, void *arg)
{
	struct session_touch *t = arg;
	struct db_stmt *st;
	if (db_prepare(db, "UPDATE sessions SET last_ms = ?1 WHERE token_hash = ?2", &st))
		return SG_EIO;
	db_bind_int(st, 1, t->now_ms);
	db_bind_text(st, 2, t->token_hash);
	return db_run(st);
}

int account_find_user(struct db *db, const char *username, char id[48], char org[48])
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT id, org_id FROM users WHERE username = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, username);
	int rc = one(st);
	if (rc == 0) {
		text(st, 0, id, 48);
		text(st, 1, org, 48);
	}
	db_reset(st);
	return rc;
}

int account_list_users(struct db *db, void (*fn)(void *ctx, const char *username, const char *role,
					       const char *org_name, bool disabled),
		       void *ctx)
{
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT u.username, u.role, o.name, u.disabled FROM users u JOIN organisations o ON o.id = u.org_id"
		       " ORDER BY o.name, u.username",
		       &st))
		return SG_EIO;
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		fn(ctx, db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2), db_col_int(st, 3) != 0);
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

int org_any(struct db *db)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT count(*) FROM organisations", &st))
		return SG_EIO;
	int rc = one(st);
	if (rc == 0)
		rc = db_col_int(st, 0) > 0;
	db_reset(st);
	return rc == SG_ENOTFOUND ? SG_EIO : rc;
}

int org_find(struct db *db, const char *name, char out[48])
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT id FROM organisations WHERE (?1 IS NULL AND is_root = 1) OR name = ?1 OR id = ?1",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, name);
	int rc = one(st);
	if (rc == 0)
		text(st, 0, out, 48);
	db_reset(st);
	return rc;
}
