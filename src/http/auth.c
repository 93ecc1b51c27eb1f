/* Session and API-key authentication; see auth.h. */
#include "http/auth.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "registry/resource.h"
#include "sharing/sharing.h"

#include <string.h>

bool session_expired(int64_t now_ms, int64_t last_ms, int64_t expires_ms, int64_t idle_ms)
{
	return now_ms >= expires_ms || now_ms - last_ms >= idle_ms;
}

const char *auth_token(struct req *r)
{
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		return h;
	}
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
}

struct touch {
	char hash[65];
	int64_t now;
};

static int touch_fn(struct db *db, void *arg)
{
	struct touch *t = arg;
	struct db_stmt *st;
	if (db_prepare(db, "UPDATE sessions SET last_ms = ?1 WHERE token_hash = ?2", &st))
		return SG_EIO;
	db_bind_int(st, 1, t->now);
	db_bind_text(st, 2, t->hash);
	return db_run(st);
}

static int auth_session(struct req *r, const char *token, bool by_cookie)
{
	struct db *db = req_db(r);
	if (!db)
		return SG_EIO;
	char hash[65];
	secret_hash(token, hash);
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT s.csrf, s.last_ms, s.expires_ms, u.id, u.org_id, u.role, u.person_id,"
		       " u.username, o.is_root FROM sessions s JOIN users u ON u.id = s.user_id"
		       " JOIN organisations o ON o.id = u.org_id WHERE s.token_hash = ?1 AND u.disabled = 0",
		       &st))
		return SG_EAUTH;
	db_bind_text(st, 1, hash);
	if (db_step(st) != DB_ROW) {
		db_reset(st);
		return SG_EAUTH;
	}
	int64_t now = clock_now_ms();
	int64_t last = db_col_int(st, 1), expires = db_col_int(st, 2);
	char csrf[64];
	sg_strlcpy(csrf, db_col_text(st, 0), sizeof(csrf));
	struct actor *a = &r->actor;
	sg_strlcpy(a->id, db_col_text(st, 3), sizeof(a->id));
	sg_strlcpy(a->org_id, db_col_text(st, 4), sizeof(a->org_id));
	int role = role_parse(db_col_text(st, 5));
	sg_strlcpy(a->person_id, db_col_text(st, 6) ? db_col_text(st, 6) : "", sizeof(a->person_id));
	sg_strlcpy(a->username, db_col_text(st, 7), sizeof(a->username));
	a->root_org = db_col_int(st, 8) != 0;
	db_reset(st);
	if (role < 0 || session_expired(now, last, expires, r->env->idle_timeout_ms))
		return SG_EAUTH;
	a->role = (enum role)role;
	if (by_cookie) {
		r->cookie_auth = true;
		bool safe = str_eq(r->method, "GET") || str_eq(r->method, "HEAD");
		const char *sent = req_header(r, "X-CSRF-Token");
		if (!safe && (!sent || !str_ct_eq(sent, csrf)))
			return SG_EFORBIDDEN;
	}
	/* Idle expiry needs last use; record it at most once a minute. */
	if (now - last > 60000) {
		struct touch t = {.now = now};
		memcpy(t.hash, hash, sizeof(hash));
		store_write(r->env->store, touch_fn, &t);
	}
	r->authed = true;
	return 0;
}

static int auth_api_key(struct req *r, const char *token)
{
	struct db *db = req_db(r);
	if (!db)
		return SG_EIO;
	char hash[65];
	secret_hash(token, hash);
	struct db_stmt *st;
	if (db_prepare(db,
		       "SELECT k.id, k.org_id, k.role, o.is_root FROM api_keys k"
		       " JOIN organisations o ON o.id = k.org_id WHERE k.key_hash = ?1 AND k.revoked = 0",
		       &st))
		return SG_EAUTH;
	db_bind_text(st, 1, hash);
	if (db_step(st) != DB_ROW) {
		db_reset(st);
		return SG_EAUTH;
	}
	struct actor *a = &r->actor;
	sg_strlcpy(a->id, db_col_text(st, 0), sizeof(a->id));
	sg_strlcpy(a->org_id, db_col_text(st, 1), sizeof(a->org_id));
	int role = role_parse(db_col_text(st, 2));
	a->root_org = db_col_int(st, 3) != 0;
	db_reset(st);
	if (role < 0 || role == ROLE_ADMIN || role == ROLE_PERSON)
		return SG_EAUTH;
	a->role = (enum role)role;
	a->api_key = true;
	r->authed = true;
	return 0;
}

/* Loads the grants in force towards the actor's organisation: every access
 * decision of this request uses this snapshot, so a revocation counts from
 * the next request on. */
static int load_grants(struct req *r)
{
	r->grants = xcalloc(1, sizeof(*r->grants));
	if (grant_cache_get(r->env->grant_cache, r->rdb, r->actor.org_id, clock_now_ms(), r->grants))
		return SG_EIO;
	r->actor.grants = r->grants;
	r->actor.condition_met = sharing_condition_met;
	r->actor.cond_ctx = r->env;
	return 0;
}

static int authenticate(struct req *r);

int auth_request(struct req *r)
{
	int rc = authenticate(r);
	if (rc == 0 && load_grants(r)) {
		reply_err(r, SG_EIO, NULL);
		return SG_EIO;
	}
	return rc;
}

static int authenticate(struct req *r)
{
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return SG_EAUTH;
		const char *tok = h + 7;
		while (*tok == ' ')
			tok++;
		if (str_startswith(tok, SESSION_PREFIX))
			return auth_session(r, tok, false);
		if (str_startswith(tok, API_KEY_PREFIX))
			return auth_api_key(r, tok);
		return SG_EAUTH;
	}
	const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
	if (cookie && str_startswith(cookie, SESSION_PREFIX))
		return auth_session(r, cookie, true);
	return SG_EAUTH;
}
