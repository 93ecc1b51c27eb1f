/* Start-up and shutdown of the whole server; see app.h. */
#include "app.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "delivery/delivery.h"
#include "registry/directory.h"
#include "rollcall/rollcall.h"
#include "events/events.h"
#include "http/cursor.h"
#include "http/throttle.h"
#include "pipeline/pipeline.h"
#include "http/stream.h"
#include "sharing/sharing.h"
#include "registry/resource.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void app_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Before every COMMIT on the writer: seal the history rows the commit
 * stored, then sign the heads of both chains (the checkpoint covers the seal). */
static int before_commit(struct db *db, void *ctx)
{
	struct app *app = ctx;
	struct pipeline *p = atomic_load(&app->sealer);
	int rc = p ? pipeline_seal(db, p) : 0;
	return rc ? rc : audit_checkpoint(db, &app->akey);
}

/* After every COMMIT: the dispatcher reads what it may now see. */
static void after_commit(void *ctx)
{
	struct app *app = ctx;
	struct events *ev = atomic_load(&app->dispatcher);
	if (ev)
		events_committed(ev);
}

/* The console's Content-Security-Policy: its own origin only, and the tile
 * server's origin for images when one is configured (console.tile_url). */
static int console_csp(const char *tile_url, char *csp, size_t cap, char *err, size_t errsz)
{
	char origin[256] = "";
	if (*tile_url) {
		const char *p = str_startswith(tile_url, "https://") ? tile_url + 8
				: str_startswith(tile_url, "http://") ? tile_url + 7 : NULL;
		size_t host = p ? strcspn(p, "/") : 0;
		if (!p || !host || host >= 200 || strcspn(tile_url, " \t\"';,<>\\") != strlen(tile_url) ||
		    !strstr(tile_url, "{z}") || !strstr(tile_url, "{x}") || !strstr(tile_url, "{y}")) {
			snprintf(err, errsz, "console.tile_url must be an http(s) URL with {z}, {x} and {y}, "
					     "without spaces, quotes, commas or semicolons");
			return SG_EINVAL;
		}
		snprintf(origin, sizeof(origin), " %.*s", (int)(p - tile_url + (ptrdiff_t)host), tile_url);
	}
	snprintf(csp, cap,
		 "default-src 'self'; img-src 'self' data:%s; style-src 'self'; "
		 "script-src 'self'; connect-src 'self'; object-src 'none'; "
		 "frame-ancestors 'none'; base-uri 'none'; form-action 'self'", origin);
	return 0;
}

int app_open(struct app *app, struct config *cfg, char *err, size_t errsz)
{
	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	enum log_level lvl;
	if (log_level_parse(config_str(cfg, "log.level"), &lvl)) {
		snprintf(err, errsz, "log.level must be debug, info, warn or error");
		return SG_EINVAL;
	}
	log_set_level(lvl);
	if (console_csp(config_str(cfg, "console.tile_url"), app->env.csp, sizeof(app->env.csp), err, errsz))
		return SG_EINVAL;
	resources_init();
	const char *dir = config_str(cfg, "store.data_dir");
	struct store_opts so = {.backend = config_str(cfg, "store.backend"), .data_dir = dir, .max_batch = (int)config_int(cfg, "store.max_batch"),
				.checkpoint_pages = (int)config_int(cfg, "store.checkpoint_pages"),
				.max_readers = (int)config_int(cfg, "store.max_readers"),
				.before_commit = before_commit, .hook_ctx = app,
				.after_commit = after_commit, .after_ctx = app};
	int rc = store_open(&so, &app->store, err, errsz);
	if (rc)
		return rc;
	rc = audit_key_load(dir, true, &app->akey, err, errsz);
	if (rc) {
		store_close(app->store);
		app->store = NULL;
		return rc;
	}
	struct http_env *env = &app->env;
	cursor_key_derive(env->cursor_key, app->akey.sk); /* the Ed25519 seed */
	env->store = app->store;
	env->directory = directory_new();
	env->cfg = cfg;
	env->max_body = config_int(cfg, "server.max_body_bytes");
	env->idle_timeout_ms = config_int(cfg, "session.idle_timeout_s") * 1000;
	env->absolute_timeout_ms = config_int(cfg, "session.absolute_timeout_s") * 1000;
	env->cookie_secure = config_bool(cfg, "session.cookie_secure");
	env->trust_proxy = config_bool(cfg, "server.trust_proxy");
	env->web_root = config_str(cfg, "server.web_root");
	if (alarm_timers_parse(&app->timers, config_int(cfg, "alarms.escalate_s"),
			       config_str(cfg, "alarms.escalate_s_by_cause"), err, errsz))
		return SG_EINVAL;
	env->alarm_timers = &app->timers;
	struct pipeline_opts po = {
		.alarm_timers = &app->timers,
		.max_future_ms = config_int(cfg, "ingest.max_future_s") * 1000,
		.device_rate_per_s = (double)config_int(cfg, "ingest.device_rate_per_s"),
		.device_burst = (double)config_int(cfg, "ingest.device_burst"),
		.max_attrs = (int)config_int(cfg, "ingest.max_attributes"),
		.max_attrs_bytes = (int)config_int(cfg, "ingest.max_attributes_bytes"),
		.partition_ms = config_int(cfg, "retention.partition_hours") * 3600000,
	};
	app->pipeline = pipeline_new(app->store, &po);
	atomic_store(&app->sealer, app->pipeline);
	struct db *rdb = store_reader(app->store);
	rc = rdb ? pipeline_rebuild(app->pipeline, rdb) : SG_EIO;
	if (rdb)
		store_reader_put(app->store, rdb);
	if (rc) {
		snprintf(err, errsz, "cannot rebuild the live positions from the history");
		return rc;
	}
	env->pipeline = app->pipeline;
	env->grant_cache = grant_cache_new();
	app->broker = broker_new((size_t)config_int(cfg, "stream.buffer_events"), (int)config_int(cfg, "stream.flush_ms"),
				 (int)config_int(cfg, "stream.tick_ms"));
	env->broker = app->broker;
	/* The event path: the outbox's dispatcher hands every committed event to
	 * the stream's broker (and, later, to durable subscribers). */
	struct events_opts eo = {.retention_ms = config_int(cfg, "events.retention_s") * 1000};
	app->events = events_new(app->store, &eo);
	rdb = store_reader(app->store);
	int64_t head = 0;
	rc = rdb ? events_head(rdb, &head) : SG_EIO;
	if (rdb)
		store_reader_put(app->store, rdb);
	broker_start(app->broker, (uint64_t)head);
	/* Who has an open alarm: loaded now, then kept by the event path
	 * (before the stream's subscriber, so the condition holds by the time a
	 * reader decides on the events after the alarm's). */
	app->alarms = alarm_set_new();
	env->alarms = app->alarms;
	rdb = store_reader(app->store);
	rc = rc ? rc : rdb ? alarm_set_load(app->alarms, rdb) : SG_EIO;
	if (rdb)
		store_reader_put(app->store, rdb);
	struct delivery_opts dopts = {
		.retry_base_ms = config_int(cfg, "delivery.retry_base_ms"),
		.max_backoff_ms = config_int(cfg, "delivery.max_backoff_s") * 1000,
		.max_attempts = (int)config_int(cfg, "delivery.max_attempts"),
		.timeout_s = (long)config_int(cfg, "delivery.timeout_s"),
		.smtp_user = config_str(cfg, "delivery.smtp_user"),
		.smtp_password = config_str(cfg, "delivery.smtp_password"),
		.sms_user = config_str(cfg, "delivery.sms_user"),
		.sms_password = config_str(cfg, "delivery.sms_password"),
		.public_url = config_str(cfg, "delivery.public_url"),
		.rollcall_token = rollcall_token_for,
	};
	app->deliverer = deliverer_new(app->store, &dopts);
	env->deliverer = app->deliverer; /* before any listener reads it; its workers start with serving */
	if (rc || events_subscribe(app->events, "alarms", false, alarm_set_event, app->alarms) ||
	    events_subscribe(app->events, "deliveries", false, deliverer_event, app->deliverer) ||
	    events_subscribe(app->events, "stream", false, broker_publish, app->broker) ||
	    events_start(app->events)) {
		snprintf(err, errsz, "cannot start the event path");
		return SG_EIO;
	}
	atomic_store(&app->dispatcher, app->events);
	env->summary_grid_m = config_int(cfg, "sharing.summary_grid_m");
	env->summary_delay_ms = config_int(cfg, "sharing.summary_delay_s") * 1000;
	env->login_max_failures = (int)config_int(cfg, "security.login_max_failures");
	env->login_window_ms = config_int(cfg, "security.login_window_s") * 1000;
	env->login_lockout_ms = config_int(cfg, "security.login_lockout_s") * 1000;
	env->throttle = throttle_new((int)config_int(cfg, "security.login_max_failures"),
				     config_int(cfg, "security.login_window_s") * 1000,
				     config_int(cfg, "security.login_lockout_s") * 1000);
	return 0;
}

/* Retention: purges old history every retention.interval_s (first one a
 * second after start). */
static void *purger_main(void *arg)
{
	struct app *app = arg;
	int64_t days = config_int(app->cfg, "retention.history_days");
	int64_t every = config_int(app->cfg, "retention.interval_s");
	int64_t wait_s = 1;
	pthread_mutex_lock(&app->purge_mu);
	while (!app->purge_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_s;
		pthread_cond_timedwait(&app->purge_cv, &app->purge_mu, &ts);
		wait_s = every;
		if (app->purge_stop)
			continue;
		pthread_mutex_unlock(&app->purge_mu);
		long gone = events_purge(app->events, clock_now_ms());
		if (gone < 0)
			log_warn("retention: event purge failed", NULL);
		pthread_mutex_lock(&app->purge_mu);
		if (days == 0)
			continue;
		pthread_mutex_unlock(&app->purge_mu);
		long n = pipeline_purge(app->pipeline, clock_now_ms() - days * 86400000);
		if (n != 0) {
			char num[24];
			snprintf(num, sizeof(num), "%ld", n);
			if (n > 0)
				log_info("retention: old position history purged", "reports", num, NULL);
			else
				log_warn("retention: purge failed", "error", num, NULL);
		}
		pthread_mutex_lock(&app->purge_mu);
	}
	pthread_mutex_unlock(&app->purge_mu);
	return NULL;
}

static int escalate_fn(struct db *db, void *arg)
{
	struct app *app = arg;
	int n = alarm_escalate_due(db, &app->timers, clock_now_ms());
	if (n >= 0)
		n = rollcall_advance(db, clock_now_ms(), &app->timers);
	return n < 0 ? n : 0;
}

/* Escalation: twice a second, alarms nobody acknowledged in time move one
 * step up (alarms.h). The due time is read from the store, so a clock moved
 * by a test or an alarm written by another server counts at the next look. */
static void *escalator_main(void *arg)
{
	struct app *app = arg;
	pthread_mutex_lock(&app->purge_mu);
	while (!app->purge_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500000000;
		if (ts.tv_nsec >= 1000000000)
			ts.tv_sec++, ts.tv_nsec -= 1000000000;
		pthread_cond_timedwait(&app->purge_cv, &app->purge_mu, &ts);
		if (app->purge_stop)
			break;
		pthread_mutex_unlock(&app->purge_mu);
		int64_t due = INT64_MAX;
		struct db *db = store_reader(app->store);
		int64_t due2 = INT64_MAX;
		int rc = db ? alarm_next_due(db, &due) : SG_EIO;
		if (rc == 0 && rollcall_next_due(db, &due2) == 0 && due2 < due)
			due = due2;
		if (db)
			store_reader_put(app->store, db);
		if (rc == 0 && due <= clock_now_ms() && store_write(app->store, escalate_fn, app))
			log_warn("alarms: escalation could not be written; trying again", NULL);
		pthread_mutex_lock(&app->purge_mu);
	}
	pthread_mutex_unlock(&app->purge_mu);
	return NULL;
}

/* Room for every connection the listeners may hold, the store's files and
 * readers: the soft descriptor limit up to the hard one (often 1,024 soft). */
static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		char have[24];
		snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
		log_warn("the descriptor limit is below server.max_connections; raise LimitNOFILE", "limit", have, NULL);
	}
}

int app_serve(struct app *app)
{
	char err[512];
	raise_fd_limit((rlim_t)config_int(app->cfg, "server.max_connections") * 2 + 512);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t st = config_int(app->cfg, "server.event_threads");
	struct http_server_opts ho = {
		.event_threads = (unsigned)(st > 0 ? st : cores > 0 ? cores : 1),
		.workers = (unsigned)config_int(app->cfg, "server.workers"),
		.listen = config_str(app->cfg, "server.listen"),
		.connection_timeout_s = (unsigned)config_int(app->cfg, "server.connection_timeout_s"),
		.header_timeout_s = (unsigned)config_int(app->cfg, "server.header_timeout_s"),
		.max_connections = (unsigned)config_int(app->cfg, "server.max_connections"),
		.per_ip_connections = (unsigned)config_int(app->cfg, "server.per_ip_connections"),
		.max_header_bytes = (size_t)config_int(app->cfg, "server.max_header_bytes"),
	};
	if (http_server_start(&app->env, &ho, &app->http, err, sizeof(err))) {
		log_error("cannot start the HTTP server", "error", err, NULL);
		return 1;
	}
	const char *osm = config_str(app->cfg, "ingest.osmand_listen");
	if (*osm) {
		struct http_server_opts oo = ho;
		oo.listen = osm;
		oo.osmand_only = true;
		/* Devices are many and each request only waits for a commit: a few
		 * event-loop threads, connections suspended while they wait. */
		oo.workers = 0;
		int64_t et = config_int(app->cfg, "ingest.event_threads");
		oo.event_threads = (unsigned)(et > 0 ? et : cores > 0 ? cores : 1);
		if (http_server_start(&app->env, &oo, &app->osmand, err, sizeof(err))) {
			log_error("cannot start the OsmAnd listener", "error", err, NULL);
			http_server_stop(app->http, 0);
			app->http = NULL;
			return 1;
		}
		char oport[16];
		snprintf(oport, sizeof(oport), "%u", http_server_port(app->osmand));
		log_info("OsmAnd listener", "listen", osm, "port", oport, NULL);
	}
	pthread_mutex_init(&app->purge_mu, NULL);
	pthread_cond_init(&app->purge_cv, NULL);
	app->purger_running = pthread_create(&app->purger, NULL, purger_main, app) == 0;
	if (app->purger_running)
		pthread_setname_np(app->purger, "sg-retention");
	if (!*config_str(app->cfg, "delivery.public_url")) {
		/* Answer links to where this server listens (delivery.public_url
		 * names the address behind a proxy). */
		char host[256] = "127.0.0.1", url[300];
		const char *l = ho.listen;
		const char *colon = strrchr(l, ':');
		if (colon && colon > l && strncmp(l, "0.0.0.0", 7) && strncmp(l, "[::]", 4))
			snprintf(host, sizeof(host), "%.*s", (int)(colon - l), l);
		else if (colon && colon > l)
			gethostname(host, sizeof(host) - 1);
		snprintf(url, sizeof(url), "http://%s:%u", host, http_server_port(app->http));
		deliverer_set_public_url(app->deliverer, url);
	}
	if (deliverer_start(app->deliverer))
		log_warn("delivery: a channel worker could not start", NULL);
	app->escalator_running = pthread_create(&app->escalator, NULL, escalator_main, app) == 0;
	if (app->escalator_running)
		pthread_setname_np(app->escalator, "sg-escalation");
	char port[16], ver[16];
	snprintf(port, sizeof(port), "%u", http_server_port(app->http));
	snprintf(ver, sizeof(ver), "%d", store_schema_version(app->store));
	log_info("listening", "listen", ho.listen, "port", port, "db", store_path(app->store),
		 "schema", ver, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	int sig = 0;
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart to apply configuration changes", NULL);
			continue;
		}
		break;
	}
	log_info("shutting down: finishing in-flight requests", "signal",
		 sig == SIGTERM ? "TERM" : "INT", NULL);
	int64_t grace = config_int(app->cfg, "server.shutdown_grace_s") * 1000;
	atomic_store(&app->env.draining, true);
	broker_wake_all(app->broker); /* streams end; other requests finish */
	http_server_quiesce(app->osmand);
	http_server_stop(app->http, grace);
	http_server_stop(app->osmand, 0);
	app->http = app->osmand = NULL;
	pthread_mutex_lock(&app->purge_mu);
	app->purge_stop = true;
	pthread_cond_broadcast(&app->purge_cv);
	pthread_mutex_unlock(&app->purge_mu);
	if (app->purger_running) {
		pthread_join(app->purger, NULL);
		app->purger_running = false;
	}
	if (app->escalator_running) {
		pthread_join(app->escalator, NULL);
		app->escalator_running = false;
	}
	deliverer_stop(app->deliverer); /* what is pending stays pending for the next start */
	log_info("stopped", NULL);
	return 0;
}

void app_close(struct app *app)
{
	if (app->http)
		http_server_stop(app->http, 0);
	if (app->osmand)
		http_server_stop(app->osmand, 0);
	atomic_store(&app->dispatcher, NULL);
	app->env.deliverer = NULL;
	deliverer_stop(app->deliverer);
	events_free(app->events); /* its last cursors saved while the store is open */
	deliverer_free(app->deliverer);
	app->deliverer = NULL;
	store_close(app->store);
	pipeline_free(app->pipeline);
	broker_free(app->broker);
	alarm_set_free(app->alarms);
	grant_cache_free(app->env.grant_cache);
	directory_free(app->env.directory);
	app->env.directory = NULL;
	throttle_free(app->env.throttle);
	resources_release();
	sodium_memzero(&app->akey, sizeof(app->akey));
	config_free(app->cfg);
	memset(app, 0, sizeof(*app));
}
