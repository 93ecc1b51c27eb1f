/* Authentication of API and console requests.
 *  - Bearer tokens: "sgs_..." sessions (from login), "sgk_..." API keys.
 *  - Cookie "sg_session" for the console; unsafe methods then also need the
 *    X-CSRF-Token header given at login (double submit, compared in constant
 *    time).
 * Only SHA-256 hashes of tokens are stored; a token never appears in a URL or
 * a log line. Sessions end after idle or absolute expiry, at logout, and as
 * soon as the user is disabled or deleted (checked on every request). */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include "http/http.h"

#define SESSION_COOKIE "sg_session"
#define SESSION_PREFIX "sgs_"
#define API_KEY_PREFIX "sgk_"

/* Fills r->actor. Returns 0, SG_EAUTH (401), SG_EFORBIDDEN (CSRF: 403) or
 * SG_EIO (a reply was sent). */
int auth_request(struct req *r);

/* The bearer token or cookie value the request authenticated with, or NULL. */
const char *auth_token(struct req *r);

/* True when idle or absolute expiry has passed (pure; tested with a clock). */
bool session_expired(int64_t now_ms, int64_t last_ms, int64_t expires_ms, int64_t idle_ms);

#endif
