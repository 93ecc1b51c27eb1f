/* The application: configuration, store (with the audit checkpoint hook),
 * handler environment and HTTP server, started and stopped in one place and
 * passed explicitly, never global. */
#ifndef SG_APP_H
#define SG_APP_H

#include "alarms/alarms.h"
#include "audit/audit.h"
#include "core/config.h"
#include "http/http.h"
#include "http/server.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct app {
	struct config *cfg; /* owned */
	struct store *store;
	struct audit_key akey;
	struct http_env env;
	struct pipeline *pipeline;
	_Atomic(struct pipeline *) sealer; /* the writer's commit hook seals its history rows */
	struct broker *broker;
	struct events *events;             /* the outbox's dispatcher */
	struct alarm_set *alarms;          /* who has an open alarm */
	struct alarm_timers timers;        /* escalation delays */
	struct deliverer *deliverer;       /* the channel workers */
	pthread_t escalator;               /* escalates alarms nobody acknowledged */
	bool escalator_running;
	_Atomic(struct events *) dispatcher; /* what the writer wakes after a commit */
	struct http_server *http;
	struct http_server *osmand; /* the optional dedicated OsmAnd listener */
	pthread_t purger;
	bool purger_running;
	pthread_mutex_t purge_mu;
	pthread_cond_t purge_cv;
	bool purge_stop;
};

/* Opens the store in the configured data directory (creating it and the audit
 * signing key when needed). Takes ownership of cfg. 0 or an error with a
 * message in err. */
int app_open(struct app *app, struct config *cfg, char *err, size_t errsz);
/* Serves HTTP until SIGTERM or SIGINT, then drains in-flight requests.
 * Signals must be blocked in every thread before app_open (main does this). */
int app_serve(struct app *app);
void app_close(struct app *app);

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and the threads it starts. */
void app_block_signals(void);

#endif
