/* libmicrohttpd glue: request lifecycle, body limits, dispatch through the
 * router with authentication, per-request log line and metrics. */
#include "http/server.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/api/api.h"
#include "http/auth.h"
#include "http/router.h"
#include "http/stream.h"
#include "ingest/protocols.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection's clock (the watchdog below). */
enum conn_phase { WAIT_REQUEST, HEADERS, BUSY };
struct conn_watch {
	int fd;
	enum conn_phase phase;
	int64_t since_us;
	struct conn_watch *prev, *next;
};

struct http_server {
	struct MHD_Daemon *d;
	struct http_env *env;
	unsigned port;
	bool osmand_only;
	bool event_loop;
	/* Deadlines libmicrohttpd 0.9.75 lacks (its timeout is idle time, which a
	 * client resets by sending a byte at a time): a request's headers must be
	 * complete header_timeout after its request line, and the next request
	 * line must come within idle_timeout of the connection's start or its
	 * last answer. A watchdog thread shuts down the sockets that miss them. */
	int64_t header_timeout_us, idle_timeout_us;
	pthread_mutex_t watch_mu;
	struct conn_watch watch; /* list head */
	pthread_t watchdog;
	bool watchdog_running, stopping;
	pthread_cond_t watch_cv;
	/* The main listener's handlers may block (argon2id, a commit, a store
	 * read): they run on a pool of worker threads while their connection is
	 * suspended, so a connection costs no thread and an open stream only
	 * its buffer. Device reports (which suspend instead of waiting) and the
	 * stream's writes stay on the event loop. */
	pthread_t *workers;
	unsigned nworkers;
	pthread_mutex_t jobs_mu;
	struct req *jobs_head, *jobs_tail;
	bool jobs_stop;
	/* Idle workers, the last to become idle on top: a request goes to the
	 * one that ran last, whose caches and malloc arena are warm (a request
	 * that reads 100,000 people into fresh pages pays a page fault per 4 KB
	 * on a worker that has not done it before); under load all run. */
	struct idle_worker *idle;
	struct idle_worker *slots;
	unsigned nslots;
	/* Quiesced once: libmicrohttpd 0.9.75 hands the listening socket back
	 * again on a second MHD_quiesce_daemon, and closing it twice closed
	 * whatever had its number by then (a store reader's file, in CI). */
	bool quiesced;
};

static void watch_set(struct http_server *srv, struct MHD_Connection *conn, enum conn_phase phase)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (!srv || !ci || !ci->socket_context)
		return;
	struct conn_watch *w = ci->socket_context;
	pthread_mutex_lock(&srv->watch_mu);
	w->phase = phase;
	w->since_us = clock_mono_us();
	pthread_mutex_unlock(&srv->watch_mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conn_watch *w = xcalloc(1, sizeof(*w));
		w->fd = ci ? ci->connect_fd : -1;
		w->phase = WAIT_REQUEST;
		w->since_us = clock_mono_us();
		pthread_mutex_lock(&srv->watch_mu);
		w->next = srv->watch.next;
		w->prev = &srv->watch;
		srv->watch.next->prev = w;
		srv->watch.next = w;
		pthread_mutex_unlock(&srv->watch_mu);
		*socket_context = w;
	} else if (*socket_context) {
		/* Under the mutex: the socket is closed after this returns, so the
		 * watchdog never shuts down a descriptor that was reused. */
		struct conn_watch *w = *socket_context;
		pthread_mutex_lock(&srv->watch_mu);
		w->prev->next = w->next;
		w->next->prev = w->prev;
		pthread_mutex_unlock(&srv->watch_mu);
		free(w);
		*socket_context = NULL;
	}
}

static void *watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	pthread_mutex_lock(&srv->watch_mu);
	while (!srv->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&srv->watch_cv, &srv->watch_mu, &ts);
		int64_t now = clock_mono_us();
		for (struct conn_watch *w = srv->watch.next; w != &srv->watch; w = w->next) {
			int64_t limit = w->phase == HEADERS ? srv->header_timeout_us
				      : w->phase == WAIT_REQUEST ? srv->idle_timeout_us : 0;
			if (!limit || now - w->since_us <= limit || w->fd < 0)
				continue;
			shutdown(w->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
			w->fd = -1;
			atomic_fetch_add(&srv->env->metrics.slow_clients_dropped, 1);
		}
	}
	pthread_mutex_unlock(&srv->watch_mu);
	return NULL;
}

static const uint64_t bucket_us[HIST_BUCKETS] = {500,    1000,   2500,   5000,    10000,   25000,
						 50000,  100000, 250000, 500000,  1000000, 5000000};

static unsigned char request_prefix[3];

static void request_id_init(void)
{
	randombytes_buf(request_prefix, sizeof(request_prefix));
}

static void request_id(struct req *r)
{
	const char *in = req_header(r, "X-Request-Id");
	if (in && strlen(in) >= 8 && strlen(in) < sizeof(r->id)) {
		bool ok = true;
		for (const char *p = in; *p; p++)
			if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
				ok = false;
		if (ok) {
			sg_strlcpy(r->id, in, sizeof(r->id));
			return;
		}
	}
	/* Unique, not secret: a random per-process prefix and a counter, so a
	 * request costs no system call for it. */
	static atomic_uint_fast64_t counter;
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, request_id_init);
	unsigned char b[8];
	uint64_t n = atomic_fetch_add(&counter, 1);
	memcpy(b, request_prefix, sizeof(request_prefix));
	for (int i = 0; i < 5; i++) /* 2^40 requests before it wraps */
		b[3 + i] = (unsigned char)(n >> (8 * (4 - i)));
	hex_encode(b, sizeof(b), r->id);
}

static void client_address(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (r->env->trust_proxy) {
		const char *xff = req_header(r, "X-Forwarded-For");
		if (xff) {
			/* The proxy appends the address it saw last. */
			const char *last = strrchr(xff, ',');
			last = last ? last + 1 : xff;
			while (*last == ' ')
				last++;
			snprintf(r->client, sizeof(r->client), "%.63s", last);
			return;
		}
	}
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client, sizeof(r->client));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client, sizeof(r->client));
	}
	if (!r->client[0])
		sg_strlcpy(r->client, "unknown", sizeof(r->client));
}

/* Which route serves the request (NULL: none; r->path_known tells 405 from
 * 404). */
static void route(struct req *r)
{
	if (!r->osmand_only)
		r->route = router_match(r->method, r->path, r->param, sizeof(r->param), &r->path_known);
}

static void dispatch(struct req *r)
{
	if (r->osmand_only) {
		/* Traccar Client's default settings: any path, the OsmAnd protocol. */
		api_ingest_protocol(r, protocol_find("osmand"));
		return;
	}
	if (!r->route) {
		if ((str_eq(r->method, "GET") || str_eq(r->method, "HEAD")) && api_static(r))
			return;
		if (r->path_known) {
			router_allowed(r->path, r->allow, sizeof(r->allow));
			reply_problem(r, 405, "method-not-allowed", "Method not allowed",
				      "this path does not accept that method", NULL);
		}
		else
			reply_problem(r, 404, "not-found", "Not found", "no such endpoint", NULL);
		return;
	}
	if (!(r->route->flags & RT_PUBLIC)) {
		int rc = auth_request(r);
		if (rc == SG_EFORBIDDEN) {
			reply_problem(r, 403, "csrf", "CSRF check failed",
				      "requests authenticated by cookie must send the X-CSRF-Token header given at login",
				      NULL);
			return;
		}
		if (rc) {
			if (!r->replied)
				reply_err(r, rc == SG_EAUTH ? SG_EAUTH : rc, NULL);
			return;
		}
		/* Collection-level actions are decided before the handler runs;
		 * object-level ones by the handler once it knows the object. */
		if (r->route->action == ACT_LIST || r->route->action == ACT_CREATE) {
			if (policy_decide(&r->actor, r->route->action, r->route->resource, NULL, NULL,
					  NULL) != DECIDE_ALLOW) {
				reply_err(r, SG_EFORBIDDEN, NULL);
				return;
			}
		}
	}
	r->route->fn(r);
	if (!r->replied && !r->resume)
		BUG("handler for %s %s gave no reply", r->route->method, r->route->pattern);
}

/* Served on the event loop itself: device reports (they suspend until their
 * commit), and reads, which answer from memory or one indexed query in well
 * under a millisecond (a hop through a worker doubled their latency);
 * writes, logins (argon2id) and exports go to a worker. */
static bool on_loop(const struct req *r)
{
	if (r->route && (r->route->flags & RT_DEVICE))
		return true;
	if (r->route && (r->route->flags & RT_WORKER))
		return false;
	return str_eq(r->method, "GET") || str_eq(r->method, "HEAD");
}

/* On the event loop, once the worker resumed the connection. */
static void queue_deferred(struct req *r)
{
	r->in_worker = false;
	r->queued = MHD_queue_response(r->conn, r->deferred_status, r->deferred);
	MHD_destroy_response(r->deferred);
	r->deferred = NULL;
}

struct idle_worker {
	struct http_server *srv;
	pthread_cond_t cv;
	bool waiting;
	struct idle_worker *next;
};

static void *worker_main(void *arg)
{
	struct idle_worker *me = arg;
	struct http_server *srv = me->srv;
	for (;;) {
		pthread_mutex_lock(&srv->jobs_mu);
		while (!srv->jobs_head && !srv->jobs_stop) {
			me->waiting = true;
			me->next = srv->idle;
			srv->idle = me;
			while (me->waiting) /* taken off the stack by to_worker or the stop */
				pthread_cond_wait(&me->cv, &srv->jobs_mu);
		}
		struct req *r = srv->jobs_head;
		if (!r) { /* stopping, and every queued request served */
			pthread_mutex_unlock(&srv->jobs_mu);
			return NULL;
		}
		srv->jobs_head = r->next_job;
		if (!srv->jobs_head)
			srv->jobs_tail = NULL;
		pthread_mutex_unlock(&srv->jobs_mu);
		dispatch(r);
		if (r->replied)
			r->resume = queue_deferred;
		else
			BUG("handler for %s %s gave no reply", r->method, r->path);
		MHD_resume_connection(r->conn); /* the last touch: r is the event loop's again */
	}
}

/* Hands a complete request to a worker; its connection sleeps meanwhile.
 * false once the workers have stopped (the caller serves it itself). */
static bool to_worker(struct http_server *srv, struct req *r)
{
	pthread_mutex_lock(&srv->jobs_mu);
	if (srv->jobs_stop) {
		pthread_mutex_unlock(&srv->jobs_mu);
		return false;
	}
	r->in_worker = true;
	r->event_loop = false; /* a worker may wait */
	r->next_job = NULL;
	MHD_suspend_connection(r->conn);
	if (srv->jobs_tail)
		srv->jobs_tail->next_job = r;
	else
		srv->jobs_head = r;
	srv->jobs_tail = r;
	struct idle_worker *w = srv->idle;
	if (w) {
		srv->idle = w->next;
		w->waiting = false;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&srv->jobs_mu);
	return true;
}

static int workers_start(struct http_server *srv, unsigned n)
{
	srv->workers = xcalloc(n ? n : 1, sizeof(pthread_t));
	srv->slots = xcalloc(n ? n : 1, sizeof(*srv->slots));
	srv->nslots = n;
	for (unsigned i = 0; i < n; i++) {
		srv->slots[i].srv = srv;
		pthread_cond_init(&srv->slots[i].cv, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&srv->workers[i], NULL, worker_main, &srv->slots[i]))
			break;
		char name[16];
		snprintf(name, sizeof(name), "sg-worker-%u", i);
		pthread_setname_np(srv->workers[i], name);
		srv->nworkers++;
	}
	return n && !srv->nworkers ? SG_EIO : 0;
}

/* The workers finish what is queued (their connections wait for them). */
static void workers_stop(struct http_server *srv)
{
	pthread_mutex_lock(&srv->jobs_mu);
	srv->jobs_stop = true;
	for (struct idle_worker *w = srv->idle; w; w = w->next) {
		w->waiting = false;
		pthread_cond_signal(&w->cv);
	}
	srv->idle = NULL;
	pthread_mutex_unlock(&srv->jobs_mu);
	for (unsigned i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
}

static void server_free(struct http_server *srv)
{
	free(srv->workers);
	for (unsigned i = 0; srv->slots && i < srv->nslots; i++)
		pthread_cond_destroy(&srv->slots[i].cv);
	free(srv->slots);
	pthread_mutex_destroy(&srv->watch_mu);
	pthread_cond_destroy(&srv->watch_cv);
	pthread_mutex_destroy(&srv->jobs_mu);
	free(srv);
}

/* Called first with the raw request URI: the only place that sees the query
 * string exactly as sent, which the device protocols parse themselves. The
 * URI is never logged (an OsmAnd device key travels in it). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct req *r = xcalloc(1, sizeof(*r));
	const char *q = strchr(uri, '?');
	watch_set(cls, conn, HEADERS); /* the request line is in: the headers' clock runs */
	if (q && strlen(q + 1) <= 16384)
		r->raw_query = xstrdup(q + 1);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_env *env = srv->env;
	struct req *r = *con_cls;
	(void)version;
	if (!r) {
		r = *con_cls = on_uri(srv, url, conn);
	}
	if (!r->started) {
		r->started = true;
		watch_set(srv, conn, BUSY); /* headers complete: no deadline while served */
		r->osmand_only = srv->osmand_only;
		r->event_loop = srv->event_loop;
		r->env = env;
		r->conn = conn;
		r->method = method;
		r->path = url;
		r->start_us = clock_mono_us();
		sb_init(&r->body);
		*con_cls = r;
		atomic_fetch_add(&env->metrics.in_flight, 1);
		request_id(r);
		client_address(r);
		/* A request that starts once shutdown has begun (a keep-alive
		 * connection's next one) does no work: it could still be waiting,
		 * suspended, when the listener stops, which libmicrohttpd does not
		 * survive. Nothing it sent is acknowledged; clients send it again. */
		if (atomic_load(&env->draining)) {
			sg_strlcpy(r->retry_after, "5", sizeof(r->retry_after));
			reply_problem(r, 503, "shutting-down", "Shutting down",
				      "the server is stopping; send it again shortly", NULL);
			return r->queued;
		}
		const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		int64_t len;
		if (cl && parse_i64(cl, 0, INT64_MAX, &len) == 0 && len > env->max_body) {
			reply_problem(r, 413, "too-large", "Request body too large",
				      "the body exceeds server.max_body_bytes", NULL);
			return r->queued;
		}
		return MHD_YES;
	}
	if (r->resume) { /* resumed after a wait: the handler replies now */
		void (*fn)(struct req *) = r->resume;
		r->resume = NULL;
		fn(r);
		if (!r->replied && !r->resume)
			BUG("resumed request %s gave no reply", r->id);
		return r->replied ? r->queued : MHD_YES;
	}
	if (r->replied) {
		*upload_size = 0; /* discard the rest of a rejected body */
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big) {
			if ((int64_t)(r->body.len + *upload_size) > env->max_body) {
				r->too_big = true;
				sb_release(&r->body);
			} else {
				sb_add(&r->body, upload, *upload_size);
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big) {
		reply_problem(r, 413, "too-large", "Request body too large",
			      "the body exceeds server.max_body_bytes", NULL);
		return r->queued;
	}
	route(r);
	if (srv->nworkers && !on_loop(r) && to_worker(srv, r))
		return MHD_YES;
	dispatch(r);
	return r->replied ? r->queued : MHD_YES; /* not replied: suspended, waiting */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_env *env = srv->env;
	struct req *r = *con_cls;
	watch_set(srv, conn, WAIT_REQUEST); /* the next request line's clock */
	if (!r)
		return;
	if (!r->started) { /* refused before the handler ran (e.g. headers too large) */
		free(r->raw_query);
		free(r);
		*con_cls = NULL;
		return;
	}
	int64_t us = clock_mono_us() - r->start_us;
	enum log_level lvl = r->status >= 500 ? LOG_WARN : LOG_INFO;
	if (log_enabled(lvl)) {
		char status[8], dur[24];
		snprintf(status, sizeof(status), "%d", r->replied ? r->status : 0);
		snprintf(dur, sizeof(dur), "%.3f", (double)us / 1000.0);
		/* Method, route pattern (not the raw URL: ids only), status. Never
		 * headers, bodies or query strings, which may carry credentials. */
		log_kv(lvl, "request", "req", r->id, "method", r->method, "route",
		       r->route ? r->route->pattern : (r->status == 404 ? "(none)" : r->path), "status",
		       status, "ms", dur, "client", r->client, "user", r->authed ? r->actor.id : "-", "end",
		       toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", NULL);
	}
	int cls_idx = r->status / 100;
	if (cls_idx >= 1 && cls_idx <= 5)
		atomic_fetch_add(&env->metrics.requests[cls_idx], 1);
	int b = 0;
	while (b < HIST_BUCKETS && (uint64_t)us > bucket_us[b])
		b++;
	atomic_fetch_add(&env->metrics.duration_bucket[b], 1);
	atomic_fetch_add(&env->metrics.duration_sum_us, (uint64_t)us);
	if (r->rdb)
		store_reader_put(env->store, r->rdb);
	if (r->deferred)
		MHD_destroy_response(r->deferred);
	sb_release(&r->body);
	free(r->raw_query);
	free(r->set_cookie);
	free(r->grants);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&env->metrics.in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_kv(LOG_WARN, "http", "detail", msg, NULL);
}

uint64_t http_bucket_bound_us(int i);
uint64_t http_bucket_bound_us(int i)
{
	return i < HIST_BUCKETS ? bucket_us[i] : UINT64_MAX;
}

int http_server_start(struct http_env *env, const struct http_server_opts *opts,
		      struct http_server **out, char *err, size_t errsz)
{
	char host[256];
	const char *colon = strrchr(opts->listen, ':');
	if (!colon || colon == opts->listen) {
		snprintf(err, errsz, "listen address '%s' must be HOST:PORT", opts->listen);
		return SG_EINVAL;
	}
	const char *h = opts->listen;
	size_t hl = (size_t)(colon - h);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
		h++, hl -= 2;
	if (hl >= sizeof(host)) {
		snprintf(err, errsz, "listen host too long");
		return SG_EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	int64_t port;
	if (parse_i64(colon + 1, 0, 65535, &port)) {
		snprintf(err, errsz, "listen port in '%s' is not 0..65535", opts->listen);
		return SG_EINVAL;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *ai;
	int gai = getaddrinfo(host, colon + 1, &hints, &ai);
	if (gai) {
		snprintf(err, errsz, "listen address '%s': %s (use a numeric address)", opts->listen,
			 gai_strerror(gai));
		return SG_EINVAL;
	}
	/* A few epoll event-loop threads (one per core); handlers that may
	 * block run on the worker pool (opts->workers), a device report
	 * suspends its connection until its commit wakes it. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	srv->env = env;
	srv->header_timeout_us = (int64_t)opts->header_timeout_s * 1000000;
	srv->idle_timeout_us = (int64_t)opts->connection_timeout_s * 1000000;
	pthread_mutex_init(&srv->watch_mu, NULL);
	pthread_cond_init(&srv->watch_cv, NULL);
	srv->watch.next = srv->watch.prev = &srv->watch;
	srv->osmand_only = opts->osmand_only;
	srv->event_loop = true;
	unsigned threads = opts->event_threads ? opts->event_threads : 1;
	pthread_mutex_init(&srv->jobs_mu, NULL);
	if (workers_start(srv, opts->workers)) {
		snprintf(err, errsz, "cannot start the worker threads");
		freeaddrinfo(ai);
		server_free(srv);
		return SG_EIO;
	}
	srv->d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT,
		opts->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT, opts->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->per_ip_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, opts->max_header_bytes,
#if MHD_VERSION >= 0x00097700
		/* also bare LF line ends and folded header lines: 400 */
		MHD_OPTION_CLIENT_DISCIPLINE_LVL, 1,
#else
		/* no Host in HTTP/1.1, spaces in the URL: 400 (bare LF, folded
		 * lines and NUL need 0.9.77's discipline levels; 0.9.75 cuts a
		 * value at a NUL before the application sees it) */
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
#endif
		/* a pool of event loops, or nothing (MHD_OPTION_END ends the list) */
		threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!srv->d) {
		snprintf(err, errsz, "cannot listen on %s (address in use or not available)",
			 opts->listen);
		workers_stop(srv);
		server_free(srv);
		return SG_EIO;
	}
	srv->watchdog_running = pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0;
	if (srv->watchdog_running)
		pthread_setname_np(srv->watchdog, "sg-watchdog");
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : (unsigned)port;
	*out = srv;
	return 0;
}

unsigned http_server_port(struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv, int64_t grace_ms)
{
	if (!srv)
		return;
	atomic_store(&srv->env->draining, true);
	http_server_quiesce(srv);
	int64_t deadline = clock_mono_us() + grace_ms * 1000;
	while (atomic_load(&srv->env->metrics.in_flight) > 0 && clock_mono_us() < deadline)
		usleep(10000);
	int64_t left = atomic_load(&srv->env->metrics.in_flight);
	if (left > 0) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)left);
		log_warn("shutdown grace expired; closing connections", "in_flight", n, NULL);
	}
	pthread_mutex_lock(&srv->watch_mu);
	srv->stopping = true;
	pthread_cond_signal(&srv->watch_cv);
	pthread_mutex_unlock(&srv->watch_mu);
	if (srv->watchdog_running)
		pthread_join(srv->watchdog, NULL);
	/* The workers finish what is queued (their connections wait for them),
	 * then the open streams are woken to end, then the loops stop. */
	workers_stop(srv);
	if (srv->env->broker)
		broker_wake_all(srv->env->broker);
	MHD_stop_daemon(srv->d);
	server_free(srv);
}

/* No new connections from now on: the socket is closed at once, so a
 * client is refused rather than left waiting in the backlog (with epoll,
 * MHD_quiesce_daemon has taken it out of every event loop's set already).
 * A second call does nothing. */
void http_server_quiesce(struct http_server *srv)
{
	if (!srv || srv->quiesced)
		return;
	srv->quiesced = true;
	MHD_socket fd = MHD_quiesce_daemon(srv->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}
