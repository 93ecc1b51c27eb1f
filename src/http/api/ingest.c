/* Device endpoints: the OsmAnd / Traccar Client protocol and OwnTracks HTTP
 * mode. Authentication is the device key (never a user session); a device key
 * opens these routes and no other. The answer goes out only after the report
 * is on disk. */
#include "http/api/api.h"

#include "alarms/alarms.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "delivery/delivery.h"
#include "http/router.h"
#include "ingest/protocols.h"
#include "pipeline/pipeline.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void ingest_reply(struct req *r, int rc, const struct verr *e, const struct protocol *p,
			 const struct ingest_result *res)
{
	if (rc == 0) {
		r->attrs_dropped = res->attrs_dropped;
		char *say = NULL;
		if (str_eq(p->name, "owntracks")) {
			/* The app reads an array of messages: the alarm's mode
			 * change, then the alerts and questions waiting for it. */
			char *mode = alarm_set_owntracks_reply(r->env->alarms, res->device_id, res->person_id);
			char *mail = deliverer_owntracks_take(r->env->deliverer, res->person_id);
			if (mode && mail) {
				say = xasprintf("%.*s,%s", (int)strlen(mode) - 1, mode, mail + 1);
				free(mode);
				free(mail);
			} else {
				say = mode ? mode : mail;
			}
		}
		if (say)
			reply_data(r, 200, p->reply_type, say, strlen(say));
		else if (p->reply_type)
			reply_data(r, 200, p->reply_type, p->reply_body, strlen(p->reply_body));
		else
			reply_empty(r, 200);
		free(say);
		return;
	}
	if (rc == SG_EAUTH) {
		reply_problem(r, 401, "unknown-device", "Unknown device",
			      e->detail[0] ? e->detail : "unknown device key", NULL);
	} else if (rc == SG_EBUSY && e->status == 429) {
		sg_strlcpy(r->retry_after, "1", sizeof(r->retry_after));
		reply_problem(r, 429, "rate-limited", "Too many reports", e->detail, NULL);
	} else if (rc == SG_EINVAL) {
		reply_problem(r, e->status ? (unsigned)e->status : 400, "invalid-report", "Invalid position report",
			      e->detail, e->pointer);
	} else {
		reply_err(r, rc, NULL);
	}
}

/* On the event loop, once the commit resumed the connection. */
static void ingest_resumed(struct req *r)
{
	struct ingest_result res = {0};
	struct verr e = {0};
	int rc = pipeline_finish(r->env->pipeline, r->pending, r->pending_rc, &res);
	r->pending = NULL;
	ingest_reply(r, rc, &e, r->pending_protocol, &res);
}

/* On the store's writer thread, after the commit: wake the connection. */
static void ingest_committed(void *ctx, int rc)
{
	struct req *r = ctx;
	r->pending_rc = rc;
	MHD_resume_connection(r->conn); /* the last touch: r may be gone after it */
}

static void ingest(struct req *r, const struct protocol *p, const struct ingest_input *in)
{
	struct report rep;
	struct verr e = {0};
	struct ingest_result res = {0};
	report_init(&rep);
	int rc = p->decode(in, &rep, &e);
	struct db *db = rc ? NULL : req_db(r);
	if (!rc && !db) {
		report_release(&rep);
		return;
	}
	if (!rc && r->event_loop) {
		/* Never wait on an event-loop thread: the connection sleeps until
		 * the commit holding its report wakes it. */
		struct pipeline_job *job;
		rc = pipeline_begin(r->env->pipeline, db, &rep, in->now_ms, &job, &res, &e);
		report_release(&rep);
		store_reader_put(r->env->store, r->rdb); /* not held while waiting */
		r->rdb = NULL;
		if (rc == 0) {
			r->pending = job;
			r->pending_protocol = p;
			r->resume = ingest_resumed;
			MHD_suspend_connection(r->conn);
			int qrc = pipeline_store_async(r->env->pipeline, job, ingest_committed, r);
			if (qrc) { /* refused at once: answer on resumption */
				r->pending_rc = qrc;
				MHD_resume_connection(r->conn);
			}
			return;
		}
		ingest_reply(r, rc == 1 ? 0 : rc, &e, p, &res);
		return;
	}
	if (!rc)
		rc = pipeline_submit(r->env->pipeline, db, &rep, in->now_ms, &res, &e);
	report_release(&rep);
	ingest_reply(r, rc, &e, p, &res);
}

/* Any protocol of the table: the request's parts, the protocol's decoder. */
void api_ingest_protocol(struct req *r, const struct protocol *p)
{
	bool allowed = false;
	char allow[64] = "";
	for (int i = 0; i < 3 && p->methods[i]; i++) {
		allowed |= str_eq(r->method, p->methods[i]) || (str_eq(p->methods[i], "GET") && str_eq(r->method, "HEAD"));
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s%s", i ? ", " : "", p->methods[i],
			 str_eq(p->methods[i], "GET") ? ", HEAD" : "");
	}
	if (!allowed) {
		sg_strlcpy(r->allow, allow, sizeof(r->allow));
		reply_problem(r, 405, "method-not-allowed", "Method not allowed", "send one of the methods in Allow", NULL);
		return;
	}
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(r->conn, &pass);
	struct ingest_input in = {
		.query = r->raw_query,
		.content_type = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = r->body.buf,
		.body_len = r->body.len,
		.user = user,
		.password = pass,
		.limit_u = req_header(r, "X-Limit-U"),
		.limit_d = req_header(r, "X-Limit-D"),
		.now_ms = clock_now_ms(),
	};
	ingest(r, p, &in);
	if (pass) {
		sodium_memzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
}

void api_ingest(struct req *r)
{
	for (size_t i = 0; i < protocols_count; i++)
		if (str_eq(r->route->pattern, protocols[i].path)) {
			api_ingest_protocol(r, &protocols[i]);
			return;
		}
	reply_err(r, SG_ENOTFOUND, NULL);
}
