/* Session and API-key authentication; see auth.h. */
#include "http/auth.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "registry/accounts.h"
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

/* The actor a credential stands for. false when its role is unknown. */
static bool actor_of(struct actor *a, const struct account *who)
{
	sg_strlcpy(a->id, who->id, sizeof(a->id));
	sg_strlcpy(a->org_id, who->org_id, sizeof(a->org_id));
	sg_strlcpy(a->person_id, who->person_id, sizeof(a->person_id));
	sg_strlcpy(a->username, who->username, sizeof(a->username));
	a->root_org = who->root_org;
	int role = role_parse(who->role);
	a->role = role < 0 ? ROLE_PERSON : (enum role)role;
	return role >= 0;
}

static int auth_session(struct req *r, const char *token, bool by_cookie)
{
	struct db *db = req_db(r);
	if (!db)
		return SG_EIO;
	char hash[65];
	secret_hash(token, hash);
	struct session_row s;
	if (account_by_session(db, hash, &s))
		return SG_EAUTH;
	int64_t now = clock_now_ms();
	if (!actor_of(&r->actor, &s.who) || session_expired(now, s.last_ms, s.expires_ms, r->env->idle_timeout_ms))
		return SG_EAUTH;
	if (by_cookie) {
		r->cookie_auth = true;
		bool safe = str_eq(r->method, "GET") || str_eq(r->method, "HEAD");
		const char *sent = req_header(r, "X-CSRF-Token");
		if (!safe && (!sent || !str_ct_eq(sent, s.csrf)))
			return SG_EFORBIDDEN;
	}
	/* Idle expiry needs last use; record it at most once a minute. */
	if (now - s.last_ms > 60000) {
		struct session_touch t = {.now_ms = now};
		memcpy(t.token_hash, hash, sizeof(hash));
		store_write(r->env->store, session_touch_fn, &t);
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
	struct account k;
	if (account_by_api_key(db, hash, false, &k))
		return SG_EAUTH;
	struct actor *a = &r->actor;
	bool known = actor_of(a, &k);
	int role = known ? (int)a->role : -1;
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
	r->actor.cond_ctx = r->env->alarms;
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
