/* Login, current session, logout. Passwords are checked with argon2id
 * (libsodium); failed logins are throttled per username and per client
 * address; an unknown username costs the same hash as a known one. */
#include "core/config.h"
#include "http/api/api.h"

#include "alarms/alarms.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/auth.h"
#include "http/throttle.h"
#include "registry/accounts.h"
#include "registry/lockout.h"
#include "registry/resource.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	char pw[33];
	secret_new("", pw, sizeof(pw));
	if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE))
		BUG("argon2id out of memory");
}

void api_check_secrets(const char *hash, const char *dhash, const char *given, bool *ok, bool *duress)
{
	pthread_once(&dummy_once, make_dummy);
	/* Both checked every time (a dummy for a missing one), so neither the
	 * answer nor its time tells a PIN from a password, or an account with a
	 * PIN from one without. */
	*ok = crypto_pwhash_str_verify(hash && *hash ? hash : dummy_hash, given, strlen(given)) == 0 && hash && *hash;
	*duress = crypto_pwhash_str_verify(dhash && *dhash ? dhash : dummy_hash, given, strlen(given)) == 0 && dhash &&
		  *dhash && !*ok;
}

struct login_job {
	char token_hash[65];
	char csrf[40];
	const char *user_id, *org_id, *request_id;
	int64_t now, expires;
	bool duress;             /* the duress PIN was given: a duress alarm opens with the session */
	struct alarm_open alarm;
	struct verr e;
};

static int login_fn(struct db *db, void *arg)
{
	struct login_job *j = arg;
	int rc = session_insert(db, j->token_hash, j->user_id, j->csrf, j->now, j->expires);
	if (rc)
		return rc;
	struct audit_entry ae = {.actor = j->user_id, .org_id = j->org_id, .action = "login",
				 .object_type = "session", .object_id = j->user_id,
				 .request_id = j->request_id};
	rc = audit_append(db, &ae, j->now);
	if (!rc && j->duress)
		rc = alarm_open(db, &j->alarm, NULL, &j->e);
	return rc;
}

/* 429 with Retry-After for a throttled key (wait_ms until it may try). */
static void reply_throttled(struct req *r, int64_t wait_ms, const char *title, const char *detail)
{
	snprintf(r->retry_after, sizeof(r->retry_after), "%lld", (long long)((wait_ms + 999) / 1000));
	reply_problem(r, 429, "throttled", title, detail, NULL);
}

static void cookie(struct req *r, const char *value, int64_t max_age_s)
{
	free(r->set_cookie);
	r->set_cookie = xasprintf("%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
				  SESSION_COOKIE, value, (long long)max_age_s,
				  r->env->cookie_secure ? "; Secure" : "");
}

/* The throttle's verdict on the throttle keys (k2 may be NULL), then the
 * request's reader connection: NULL when a 429 (logged, counted) or a 503
 * was sent. */
static struct db *unthrottled_db(struct req *r, const char *k1, const char *k2, int64_t now, const char *user,
				 const char *title, const char *detail)
{
	int64_t wait = throttle_check(r->env->throttle, k1, now);
	int64_t wait2 = k2 ? throttle_check(r->env->throttle, k2, now) : 0;
	if (wait2 > wait)
		wait = wait2;
	if (wait > 0) {
		atomic_fetch_add(&r->env->metrics.login_throttled, 1);
		log_warn("login throttled", "req", r->id, "username", user, "client", r->client, NULL);
		reply_throttled(r, wait, title, detail);
		return NULL;
	}
	return req_db(r);
}

void api_session_create(struct req *r)
{
	static const char *const members[] = {"username", "password", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	const char *user_in = json_string_value(json_object_get(body, "username"));
	const char *pw = json_string_value(json_object_get(body, "password"));
	if (!user_in || !*user_in || strlen(user_in) > 64) {
		reply_problem(r, 400, "validation", "Invalid request", "username must be a string of 1 to 64 characters", "/username");
		json_decref(body);
		return;
	}
	if (!pw || json_string_length(json_object_get(body, "password")) > 1024) {
		reply_problem(r, 400, "validation", "Invalid request", "password must be a string of at most 1024 characters", "/password");
		json_decref(body);
		return;
	}
	char user[72];
	sg_strlcpy(user, user_in, sizeof(user));
	int64_t now = clock_now_ms();
	char ukey[96], ikey[96];
	snprintf(ukey, sizeof(ukey), "u:%s", user);
	snprintf(ikey, sizeof(ikey), "ip:%s", r->client);
	struct db *db = unthrottled_db(r, ukey, ikey, now, user, "Too many failed logins",
				       "too many failed logins; wait before trying again (see Retry-After)");
	if (!db) {
		json_decref(body);
		return;
	}
	char hash[crypto_pwhash_STRBYTES] = "", uid[48] = "", org[48] = "", role[32] = "", name[256] = "";
	json_t *user_json = NULL;
	struct account who;
	bool found = account_for_login(db, user, &who, hash, sizeof(hash), name, sizeof(name)) == 0;
	if (found) {
		sg_strlcpy(uid, who.id, sizeof(uid));
		sg_strlcpy(org, who.org_id, sizeof(org));
		sg_strlcpy(role, who.role, sizeof(role));
		user_json = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?}", "id", uid, "username", user, "org_id", org, "role",
				      role, "person_id", who.person_id[0] ? who.person_id : NULL, "display_name",
				      name[0] ? name : NULL);
	}
	/* An account's lockout lives in the store: no flood evicts it. */
	int failures = 0;
	struct lockout_job lj = {.user_id = uid, .now_ms = now,
				 .rule = {r->env->login_max_failures, r->env->login_window_ms, r->env->login_lockout_ms}};
	int64_t locked = found ? lockout_wait(db, uid, now, &failures) : 0;
	if (locked > 0) {
		sodium_memzero(hash, sizeof(hash));
		json_decref(body);
		json_decref(user_json);
		atomic_fetch_add(&r->env->metrics.login_throttled, 1);
		log_warn("login throttled", "req", r->id, "username", user, "client", r->client, NULL);
		reply_throttled(r, locked, "Too many failed logins",
				"too many failed logins; wait before trying again (see Retry-After)");
		return;
	}
	/* A duress PIN given instead of the password logs in as usual and opens
	 * a duress alarm. */
	char dhash[crypto_pwhash_STRBYTES] = "";
	if (found && who.person_id[0])
		account_duress_hash(db, uid, dhash, sizeof(dhash));
	bool ok, duress;
	api_check_secrets(found ? hash : "", dhash, pw, &ok, &duress);
	ok |= duress;
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(dhash, sizeof(dhash));
	json_decref(body);
	if (!ok) {
		throttle_failure(r->env->throttle, ukey, now);
		throttle_failure(r->env->throttle, ikey, now);
		if (found)
			store_write(r->env->store, lockout_fail_fn, &lj); /* on failure: logged, login still refused */
		atomic_fetch_add(&r->env->metrics.login_failures, 1);
		log_warn("login failed", "req", r->id, "username", user, "client", r->client, NULL);
		json_decref(user_json);
		reply_problem(r, 401, "invalid-credentials", "Invalid credentials",
			      "the username or password is wrong", NULL);
		return;
	}
	throttle_success(r->env->throttle, ukey);
	throttle_success(r->env->throttle, ikey);
	if (failures > 0)
		store_write(r->env->store, lockout_clear_fn, &lj);
	char token[64], csrf[40];
	secret_new(SESSION_PREFIX, token, sizeof(token));
	secret_new("", csrf, sizeof(csrf));
	struct login_job j = {.user_id = uid, .org_id = org, .request_id = r->id, .now = now,
			      .expires = now + r->env->absolute_timeout_ms, .duress = duress};
	if (duress) {
		j.alarm = (struct alarm_open){.org_id = org, .person_id = who.person_id, .cause = "duress", .actor = uid,
					      .actor_org = org, .request_id = r->id, .now_ms = now,
					      .escalate_after_ms = alarm_timer_ms(r->env->alarm_timers, "duress")};
		api_person_position(r, db, who.person_id, &j.alarm.has_position, &j.alarm.lat, &j.alarm.lon,
				    &j.alarm.position_ms);
	}
	secret_hash(token, j.token_hash);
	sg_strlcpy(j.csrf, csrf, sizeof(j.csrf));
	int rc = store_write(r->env->store, login_fn, &j);
	if (rc) {
		json_decref(user_json);
		reply_err(r, rc, NULL);
		return;
	}
	char exp[25];
	time_format_ms(j.expires, exp);
	cookie(r, token, r->env->absolute_timeout_ms / 1000);
	reply_json(r, 201, json_pack("{s:s,s:s,s:s,s:o}", "token", token, "csrf_token", csrf,
				     "expires_at", exp, "user", user_json));
	sodium_memzero(token, sizeof(token));
}

void api_session_get(struct req *r)
{
	const struct actor *a = &r->actor;
	const struct config *cfg = r->env->cfg;
	const char *tiles = cfg ? config_str(cfg, "console.tile_url") : "";
	const char *attribution = cfg ? config_str(cfg, "console.tile_attribution") : "";
	/* What the console needs to draw its map (config.c: console.*). */
	json_t *console = json_pack("{s:s?,s:s?,s:I}", "tile_url", *tiles ? tiles : NULL, "tile_attribution",
				    *attribution ? attribution : NULL, "stale_after_s",
				    (json_int_t)(cfg ? config_int(cfg, "console.stale_after_s") : 900));
	reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:b,s:b,s:o}", "id", a->id, "org_id", a->org_id,
				     "role", role_name(a->role), "username",
				     a->username[0] ? a->username : NULL, "person_id",
				     a->person_id[0] ? a->person_id : NULL, "api_key", a->api_key,
				     "root_org", a->root_org, "console", console));
}

struct logout_job {
	char token_hash[65];
	const char *user_id, *org_id, *request_id;
	int64_t now;
};

static int logout_fn(struct db *db, void *arg)
{
	struct logout_job *j = arg;
	int rc = session_delete(db, j->token_hash);
	if (rc)
		return rc;
	struct audit_entry ae = {.actor = j->user_id, .org_id = j->org_id, .action = "logout",
				 .object_type = "session", .object_id = j->user_id,
				 .request_id = j->request_id};
	return audit_append(db, &ae, j->now);
}

void api_session_delete(struct req *r)
{
	if (r->actor.api_key) {
		reply_problem(r, 400, "validation", "Not a session",
			      "API keys are revoked through /api/v1/api_keys/{id}", NULL);
		return;
	}
	struct logout_job j = {.user_id = r->actor.id, .org_id = r->actor.org_id,
			       .request_id = r->id, .now = clock_now_ms()};
	secret_hash(auth_token(r), j.token_hash);
	int rc = store_write(r->env->store, logout_fn, &j);
	if (rc) {
		reply_err(r, rc, NULL);
		return;
	}
	atomic_fetch_add(&r->env->auth_epoch, 1);
	cookie(r, "", 0);
	reply_empty(r, 204);
}

struct passwd_job {
	const char *user_id, *org_id, *request_id;
	char keep_hash[65]; /* the session that asked: it stays */
	json_t *patch;
	struct verr e;
	int64_t now;
};

static int passwd_fn(struct db *db, void *arg)
{
	struct passwd_job *j = arg;
	struct write_ctx w = {.actor = j->user_id, .request_id = j->request_id, .now_ms = j->now,
			      .err = &j->e, .keep_session = j->keep_hash};
	/* the users resource ends every other session of the user */
	return resource_update(db, resource_find("users"), j->org_id, j->user_id, j->patch, &w, NULL);
}

/* The caller proves it knows its own password (member names it in the
 * body): false after a 429, 503 or 403 (a failure counted against the
 * account's throttle key, written to ukey). */
static bool own_password(struct req *r, const char *given, const char *member, char ukey[96], int64_t now)
{
	snprintf(ukey, 96, "u:%s", r->actor.username);
	struct db *db = unthrottled_db(r, ukey, NULL, now, r->actor.username, "Too many failed attempts",
				       "wait before trying again");
	if (!db)
		return false;
	char hash[crypto_pwhash_STRBYTES] = "";
	account_password_hash(db, r->actor.id, hash, sizeof(hash));
	bool ok = hash[0] && crypto_pwhash_str_verify(hash, given, strlen(given)) == 0;
	sodium_memzero(hash, sizeof(hash));
	if (!ok) {
		char detail[64], ptr[40];
		snprintf(detail, sizeof(detail), "%s is not your password", member);
		snprintf(ptr, sizeof(ptr), "/%s", member);
		throttle_failure(r->env->throttle, ukey, now);
		atomic_fetch_add(&r->env->metrics.login_failures, 1);
		reply_problem(r, 403, "invalid-credentials", "Wrong password", detail, ptr);
	}
	return ok;
}

void api_session_password(struct req *r)
{
	if (r->actor.api_key) {
		reply_problem(r, 400, "validation", "Not a user", "API keys have no password", NULL);
		return;
	}
	static const char *const members[] = {"current_password", "new_password", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	const char *cur = json_string_value(json_object_get(body, "current_password"));
	json_t *np = json_object_get(body, "new_password");
	if (!cur || strlen(cur) > 1024) {
		reply_problem(r, 400, "validation", "Invalid request", "current_password is required", "/current_password");
		json_decref(body);
		return;
	}
	char ukey[96];
	int64_t now = clock_now_ms();
	if (!own_password(r, cur, "current_password", ukey, now)) {
		json_decref(body);
		return;
	}
	struct passwd_job j = {.user_id = r->actor.id, .org_id = r->actor.org_id,
			       .request_id = r->id, .now = now,
			       .patch = json_pack("{s:s}", "username", r->actor.username)}; /* unchanged; for the password rules */
	json_t *in = json_pack("{s:O?}", "password", np);
	int rc = np ? resource_apply(resource_find("users"), j.patch, in, true, &j.e) : SG_EINVAL;
	json_decref(in);
	json_decref(body);
	if (rc) {
		if (!np)
			verr_set(&j.e, 400, "/new_password", "new_password is required");
		else if (str_eq(j.e.pointer, "/password"))
			snprintf(j.e.pointer, sizeof(j.e.pointer), "/new_password");
		reply_verr(r, &j.e);
		json_decref(j.patch);
		return;
	}
	secret_hash(auth_token(r), j.keep_hash);
	rc = store_write(r->env->store, passwd_fn, &j);
	json_decref(j.patch);
	if (rc) {
		reply_err(r, rc, NULL);
		return;
	}
	atomic_fetch_add(&r->env->auth_epoch, 1);
	throttle_success(r->env->throttle, ukey);
	reply_empty(r, 204);
}

struct duress_job {
	const char *user_id, *org_id, *request_id;
	char hash[crypto_pwhash_STRBYTES];
	int64_t now;
};

static int duress_fn(struct db *db, void *arg)
{
	struct duress_job *j = arg;
	int rc = account_set_duress(db, j->user_id, j->hash);
	struct audit_entry ae = {.actor = j->user_id, .org_id = j->org_id, .action = "duress_pin_set",
				 .object_type = "user", .object_id = j->user_id, .request_id = j->request_id};
	return rc ? rc : audit_append(db, &ae, j->now);
}

/* A person's account registers its duress PIN, proving it knows its
 * password; the PIN is kept as an argon2id hash, like a password. */
void api_session_duress(struct req *r)
{
	if (r->actor.api_key || !r->actor.person_id[0]) {
		reply_problem(r, 409, "conflict", "Not a person's account",
			      "a duress PIN belongs to the account of a protected person", NULL);
		return;
	}
	static const char *const members[] = {"password", "pin", NULL};
	json_t *body = req_json_members(r, members);
	if (!body)
		return;
	const char *pw = json_string_value(json_object_get(body, "password"));
	const char *pin = json_string_value(json_object_get(body, "pin"));
	size_t n = pin ? strlen(pin) : 0;
	const char *bad = !pw || strlen(pw) > 1024 ? "/password" : n < 4 || n > 64 ? "/pin" : NULL;
	if (bad || str_eq(pin, pw)) {
		reply_problem(r, 400, "validation", "Invalid request",
			      bad && str_eq(bad, "/password") ? "password is required"
							      : "pin must be 4 to 64 characters and differ from the password",
			      bad ? bad : "/pin");
		json_decref(body);
		return;
	}
	char ukey[96];
	int64_t now = clock_now_ms();
	if (!own_password(r, pw, "password", ukey, now)) {
		json_decref(body);
		return;
	}
	struct duress_job j = {.user_id = r->actor.id, .org_id = r->actor.org_id, .request_id = r->id, .now = now};
	if (crypto_pwhash_str(j.hash, pin, n, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
		json_decref(body);
		reply_err(r, SG_EIO, NULL);
		return;
	}
	json_decref(body);
	int rc = store_write(r->env->store, duress_fn, &j);
	sodium_memzero(j.hash, sizeof(j.hash));
	if (rc)
		reply_err(r, rc, NULL);
	else
		reply_json(r, 200, json_pack("{s:b}", "duress_pin", 1));
}
