/* Request helpers and replies: headers, problem+json, body parsing. */
#include "http/http.h"

#include "core/err.h"
#include "core/log.h"
#include "http/router.h"
#include "registry/resource.h"

#include <string.h>

struct db *req_db(struct req *r)
{
	if (!r->rdb) {
		r->rdb = store_reader(r->env->store);
		if (!r->rdb)
			reply_problem(r, 503, "unavailable", "Service unavailable",
				      "the store cannot be read right now", NULL);
	}
	return r->rdb;
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct qcheck {
	const char *const *allowed;
	const char *bad;
	bool dup;
	const char *seen[32];
	int nseen;
};

static enum MHD_Result qcheck_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct qcheck *q = cls;
	(void)kind;
	(void)value;
	bool ok = false;
	for (int i = 0; q->allowed && q->allowed[i]; i++)
		if (str_eq(key, q->allowed[i]))
			ok = true;
	if (!ok) {
		q->bad = key;
		return MHD_NO;
	}
	for (int i = 0; i < q->nseen; i++) {
		if (str_eq(q->seen[i], key)) {
			q->bad = key;
			q->dup = true;
			return MHD_NO;
		}
	}
	if (q->nseen < 32)
		q->seen[q->nseen++] = key;
	return MHD_YES;
}

bool req_query_allowed(struct req *r, const char *const *allowed)
{
	struct qcheck q = {.allowed = allowed};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, qcheck_it, &q);
	if (q.bad) {
		char detail[200], ptr[100];
		snprintf(detail, sizeof(detail), q.dup ? "query parameter '%.80s' is given twice"
							: "unknown query parameter '%.80s'",
			 q.bad);
		snprintf(ptr, sizeof(ptr), "?%.80s", q.bad);
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", detail, ptr);
		return false;
	}
	return true;
}

json_t *req_json(struct req *r)
{
	const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct || (strncasecmp(ct, "application/json", 16) != 0) ||
	    (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
		reply_problem(r, 415, "unsupported-media-type", "Unsupported media type",
			      "the body must be sent as Content-Type: application/json", NULL);
		return NULL;
	}
	if (!utf8_valid(r->body.buf, r->body.len)) {
		reply_problem(r, 400, "invalid-json", "Invalid JSON",
			      "the body is not valid UTF-8 (or contains NUL bytes)", "");
		return NULL;
	}
	json_error_t jerr;
	json_t *j = json_loadb(r->body.buf, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		char detail[400], ptr[140] = "";
		/* jansson names the key: duplicate object key near '"name"' */
		const char *q = strstr(jerr.text, "near '\"");
		if (str_startswith(jerr.text, "duplicate object key") && q) {
			const char *s = q + 7, *e = strchr(s, '"');
			if (e && e - s < 120)
				snprintf(ptr, sizeof(ptr), "/%.*s", (int)(e - s), s);
		}
		snprintf(detail, sizeof(detail), "%s (line %d, column %d)", jerr.text, jerr.line,
			 jerr.column);
		reply_problem(r, 400, "invalid-json", "Invalid JSON", detail, ptr);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_problem(r, 400, "invalid-json", "Invalid JSON", "the body must be a JSON object", "");
		return NULL;
	}
	return j;
}

json_t *req_json_members(struct req *r, const char *const *allowed)
{
	json_t *body = req_json(r);
	const char *key;
	json_t *v;
	if (!body)
		return NULL;
	json_object_foreach(body, key, v) {
		bool ok = false;
		for (int i = 0; allowed[i]; i++)
			ok = ok || str_eq(key, allowed[i]);
		if (!ok) {
			struct sb names;
			char ptr[90];
			sb_init(&names);
			for (int i = 0; allowed[i]; i++)
				sb_addf(&names, "%s%s", i ? ", " : "", allowed[i]);
			char *detail = xasprintf("unknown member '%.80s'; this request takes: %s", key, names.buf);
			snprintf(ptr, sizeof(ptr), "/%.80s", key);
			reply_problem(r, 400, "validation", "Invalid request", detail, ptr);
			free(detail);
			sb_release(&names);
			json_decref(body);
			return NULL;
		}
	}
	return body;
}

static void add_common_headers(struct req *r, struct MHD_Response *resp, const char *ct, unsigned status)
{
	/* RFC 9110: a 401 names how to authenticate, a 405 what the path takes. */
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					r->route && str_eq(r->route->pattern, "/ingest/owntracks")
						? "Basic realm=\"safeguard devices\", charset=\"UTF-8\""
						: "Bearer realm=\"safeguard\"");
	if (status == 405 && r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->attrs_dropped > 0) {
		char n[16];
		snprintf(n, sizeof(n), "%d", r->attrs_dropped);
		MHD_add_response_header(resp, "Safeguard-Attributes-Dropped", n);
	}
	MHD_add_response_header(resp, "X-Request-Id", r->id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Content-Security-Policy", r->env->csp);
	/* Authenticated data is never cached; static console files may be. */
	if (!r->route || r->authed || str_startswith(r->path, "/api/"))
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (ct)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	if (r->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
	if (r->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->server_timing[0])
		MHD_add_response_header(resp, "Server-Timing", r->server_timing);
	if (r->set_cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
	if (atomic_load(&r->env->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues the reply, or keeps it while a worker runs the handler (the event
 * loop queues it when the worker resumes the connection). */
static void queue(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->in_worker) {
		r->deferred = resp;
		r->deferred_status = status;
		r->queued = MHD_YES;
	} else {
		r->queued = MHD_queue_response(r->conn, status, resp);
		MHD_destroy_response(resp);
	}
	r->status = (int)status;
	r->replied = true;
}

void reply_data(struct req *r, unsigned status, const char *content_type, const void *data,
		size_t len)
{
	if (r->replied)
		BUG("second reply to request %s", r->id);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	add_common_headers(r, resp, content_type, status);
	queue(r, status, resp);
}

void reply_response(struct req *r, unsigned status, const char *content_type, struct MHD_Response *resp)
{
	if (r->replied)
		BUG("second reply to request %s", r->id);
	add_common_headers(r, resp, content_type, status);
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	queue(r, status, resp);
}

void reply_json(struct req *r, unsigned status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(body);
	reply_data(r, status, "application/json", s, strlen(s));
	free(s);
}

void reply_empty(struct req *r, unsigned status)
{
	reply_data(r, status, NULL, "", 0);
}

void reply_problem(struct req *r, unsigned status, const char *slug, const char *title,
		   const char *detail, const char *pointer)
{
	json_t *p = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", "about:blank", "title", title,
			      "status", (int)status, "detail", detail ? detail : title,
			      "request_id", r->id);
	char *type = xasprintf("https://safeguard.invalid/problems/%s", slug);
	json_object_set_new(p, "type", json_string(type));
	free(type);
	if (pointer) {
		json_object_set_new(p, "field", json_string(pointer));
		json_object_set_new(p, "errors", json_pack("[{s:s,s:s}]", "pointer", pointer,
							   "detail", detail ? detail : title));
	}
	char *s = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	reply_data(r, status, "application/problem+json", s, strlen(s));
	free(s);
}

void reply_verr(struct req *r, const struct verr *e)
{
	unsigned st = e->status ? (unsigned)e->status : 400;
	const char *title = st == 404 ? "Not found" : st == 409 ? "Conflict" : st == 422 ? "Unprocessable reference" : "Invalid request";
	const char *slug = st == 404 ? "not-found" : st == 409 ? "conflict" : "validation";
	reply_problem(r, st, slug, title, e->detail, st == 404 ? NULL : e->pointer);
}

void reply_err(struct req *r, int code, const char *what)
{
	char detail[200];
	switch (code) {
	case SG_ENOTFOUND:
		snprintf(detail, sizeof(detail), "no such %s", what ? what : "object");
		reply_problem(r, 404, "not-found", "Not found", detail, NULL);
		break;
	case SG_EFORBIDDEN:
		reply_problem(r, 403, "forbidden", "Forbidden",
			      "your role does not allow this action", NULL);
		break;
	case SG_EAUTH:
		reply_problem(r, 401, "unauthenticated", "Authentication required",
			      "log in (POST /api/v1/session) and send the token as Authorization: Bearer", NULL);
		break;
	case SG_EBUSY:
		reply_problem(r, 503, "unavailable", "Service unavailable", "the server is shutting down", NULL);
		break;
	case SG_ENOSPC:
		reply_problem(r, 503, "store-full", "Store full",
			      "the store's disk is full; nothing was changed. Try again once space is freed", NULL);
		break;
	case SG_EIO:
		reply_problem(r, 503, "store-unavailable", "Store unavailable",
			      "the write could not be made durable; nothing was changed", NULL);
		break;
	default:
		log_error("unexpected error", "req", r->id, "error", err_str(code), NULL);
		reply_problem(r, 500, "internal", "Internal error", "an unexpected error occurred", NULL);
	}
}
