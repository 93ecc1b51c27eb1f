/* What every HTTP handler sees: the request (method, path, body, actor,
 * request id, a reader connection on demand) and the reply helpers. Replies
 * carry the security headers and the request id; errors are RFC 9457
 * application/problem+json naming the offending member. */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include "core/util.h"
#include "policy/policy.h"
#include "store/store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct alarm_set;
struct alarm_timers;
struct deliverer;
struct directory;
struct broker;
struct config;
struct grant_cache;
struct pipeline;
struct throttle;
struct route;
struct verr;

#define HIST_BUCKETS 12

/* Counters for /metrics; updated lock-free from request threads. */
struct metrics {
	_Atomic uint64_t requests[6]; /* by status class: [2] = 2xx ... */
	_Atomic uint64_t duration_bucket[HIST_BUCKETS + 1];
	_Atomic uint64_t duration_sum_us;
	_Atomic uint64_t login_failures;
	_Atomic uint64_t login_throttled;
	_Atomic uint64_t slow_clients_dropped; /* connections cut for missing a deadline */
	_Atomic int64_t in_flight;
};

/* The handlers' environment; owned by the app, shared by all threads. */
struct http_env {
	struct store *store;
	const struct config *cfg;
	struct throttle *throttle;
	int login_max_failures;
	int64_t login_window_ms, login_lockout_ms; /* the accounts' lockout (registry/lockout.h) */
	struct metrics metrics;
	int64_t max_body;
	int64_t idle_timeout_ms, absolute_timeout_ms;
	bool cookie_secure;
	bool trust_proxy;
	const char *web_root; /* "" = the console compiled into the binary */
	char csp[600];        /* Content-Security-Policy of every answer (app.c) */
	struct pipeline *pipeline;
	struct broker *broker;
	struct grant_cache *grant_cache;
	struct alarm_set *alarms;                 /* who has an open alarm (alarms.h) */
	struct deliverer *deliverer;              /* alert delivery (delivery.h); NULL until served */
	struct directory *directory;              /* people and devices in memory (directory.h) */
	const struct alarm_timers *alarm_timers;  /* escalation delays per cause */
	int64_t summary_grid_m, summary_delay_ms;
	atomic_bool draining;
	unsigned char cursor_key[32]; /* list cursors (cursor.h) */
	/* Moves on every change to users, keys, sessions, organisations and
	 * grants: an open stream re-checks its caller before its next event. */
	_Atomic uint64_t auth_epoch;
};

struct req {
	struct http_env *env;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	char id[40];         /* request id, echoed as X-Request-Id and in logs */
	struct sb body;
	bool too_big;
	int64_t start_us;
	const struct route *route;
	char param[64];      /* the {id} segment, if the route has one */
	struct actor actor;
	struct grant_set *grants; /* incoming grants in force, loaded at authentication */
	bool authed;
	bool cookie_auth;    /* authenticated by cookie: unsafe methods need CSRF */
	struct db *rdb;      /* reader connection, taken on first use */
	int status;
	bool replied;
	enum MHD_Result queued;
	char *set_cookie;    /* Set-Cookie header to add to the reply */
	char client[64];     /* client address (for throttling and logs) */
	char retry_after[16]; /* Retry-After header value, when throttled */
	char location[96];   /* Location header of a 201 */
	char server_timing[64]; /* Server-Timing header: how long a costly part took */
	char allow[64];      /* Allow header of a 405 */
	int attrs_dropped;   /* a report's extra attributes not stored: Safeguard-Attributes-Dropped */
	char *raw_query;     /* the query string exactly as sent (device protocols) */
	bool started;        /* the first call of the access handler has run */
	bool osmand_only;    /* arrived on the dedicated OsmAnd listener */
	bool event_loop;     /* served by an event-loop thread: never block, suspend */
	/* Set by a handler that suspended the connection to wait (e.g. for a
	 * commit): called on the event-loop thread once it is resumed, to reply. */
	void (*resume)(struct req *r);
	void *pending;       /* what the suspended request waits for */
	int pending_rc;
	const struct protocol *pending_protocol; /* whose reply it gets */
	/* Run by a worker thread (the main listener's handlers may block): the
	 * connection is suspended, the reply is kept here and queued on the
	 * event loop once the worker resumes it. */
	bool in_worker;
	struct MHD_Response *deferred;
	unsigned deferred_status;
	struct req *next_job; /* the worker queue's link */
	bool path_known;      /* the path exists (for a 405 over a 404) */
};

/* Reader connection for this request (released when the request ends); NULL
 * after a 503 was sent. */
struct db *req_db(struct req *r);
/* Value of request header name, or NULL. */
const char *req_header(struct req *r, const char *name);
/* Query-string argument, or NULL. */
const char *req_query(struct req *r, const char *name);
/* Checks that every query argument is in allowed (NULL-terminated) and none
 * repeats; otherwise replies 400 naming it and returns false. */
bool req_query_allowed(struct req *r, const char *const *allowed);

/* Parses the body as one JSON object: Content-Type application/json, UTF-8,
 * no duplicate keys. On failure replies 400/415 and returns NULL. */
json_t *req_json(struct req *r);
/* req_json() for bodies of fixed members: any member not in allowed
 * (NULL-terminated) is refused with 400 naming it. */
json_t *req_json_members(struct req *r, const char *const *allowed);

/* Replies (each sets r->replied). reply_json steals body. */
void reply_json(struct req *r, unsigned status, json_t *body);
void reply_data(struct req *r, unsigned status, const char *content_type, const void *data,
		size_t len);
void reply_empty(struct req *r, unsigned status);
/* Queues a response built by the caller (streams); takes ownership of resp. */
void reply_response(struct req *r, unsigned status, const char *content_type, struct MHD_Response *resp);
/* problem+json: type slug (e.g. "validation"), title, detail, JSON pointer of
 * the member at fault (NULL for none). */
void reply_problem(struct req *r, unsigned status, const char *slug, const char *title,
		   const char *detail, const char *pointer);
void reply_verr(struct req *r, const struct verr *e);
/* Maps a negative SG_E* code to a problem reply. */
void reply_err(struct req *r, int code, const char *what);

#endif
