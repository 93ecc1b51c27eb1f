/* Declared configuration keys and their layered loading; see config.h. */
#include "config.h"

#include "err.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef SG_WEB_ROOT
#define SG_WEB_ROOT "" /* the console compiled into the binary */
#endif

enum ctype { C_STR, C_INT, C_BOOL };

struct cdef {
	const char *name; /* section.key */
	enum ctype type;
	const char *def;
	int64_t min, max; /* C_INT */
	bool secret;
	const char *help;
};

static const struct cdef defs[] = {
	{"server.listen", C_STR, "127.0.0.1:8080", 0, 0, false, "address:port of the HTTP API and console"},
	{"server.web_root", C_STR, SG_WEB_ROOT, 0, 0, false, "a directory to serve the console from instead of the copy compiled into the binary (development)"},
	{"incidents.fresh_s", C_INT, "3600", 1, 2592000, false, "a latest position at most this old puts its person in an incident's exposure list"},
	{"alerts.fresh_s", C_INT, "3600", 1, 2592000, false, "a latest position at most this old makes its person a recipient of an alert on its area"},
	{"delivery.retry_base_ms", C_INT, "2000", 10, 3600000, false, "a failed delivery is tried again after this long, doubling each time"},
	{"delivery.max_backoff_s", C_INT, "3600", 1, 86400, false, "the longest pause between two tries of one delivery"},
	{"delivery.max_attempts", C_INT, "10", 1, 100, false, "after this many failed tries a delivery is failed (listed, not retried)"},
	{"delivery.timeout_s", C_INT, "15", 1, 300, false, "a webhook, SMS gateway or SMTP exchange taking longer has failed"},
	{"delivery.smtp_user", C_STR, "", 0, 0, false, "the SMTP server's user name (empty: no login)"},
	{"delivery.smtp_password", C_STR, "", 0, 0, true, "the SMTP server's password"},
	{"delivery.sms_user", C_STR, "", 0, 0, false, "the SMS gateway's user name, sent with HTTP basic authentication (empty: none)"},
	{"delivery.sms_password", C_STR, "", 0, 0, true, "the SMS gateway's password"},
	{"delivery.public_url", C_STR, "", 0, 0, false, "the address people reach this server at (https://safeguard.example.org), for roll-call answer links; empty: the listen address"},
	{"alarms.escalate_s", C_INT, "120", 5, 86400, false, "an alarm nobody acknowledged escalates after this long: duty officers, then the security manager, then the partners' duty officers"},
	{"alarms.escalate_s_by_cause", C_STR, "duress=60", 0, 0, false, "the same per cause, overriding it: CAUSE=SECONDS,... e.g. duress=60,sos=90"},
	{"console.tile_url", C_STR, "", 0, 0, false, "a raster tile server for the console's map, e.g. https://tiles.example.org/{z}/{x}/{y}.png (empty: the offline basemap compiled in; no request leaves the server's origin)"},
	{"console.tile_attribution", C_STR, "", 0, 0, false, "the attribution the tile server requires, shown on the map"},
	{"console.stale_after_s", C_INT, "900", 10, 604800, false, "a latest position older than this is drawn as stale, with its age"},
	{"server.max_body_bytes", C_INT, "1048576", 1024, 1 << 30, false, "largest request body accepted"},
	{"server.max_header_bytes", C_INT, "32768", 4096, 1 << 20, false, "memory for one request's headers"},
	{"server.connection_timeout_s", C_INT, "30", 1, 3600, false, "idle connection timeout"},
	{"server.header_timeout_s", C_INT, "10", 1, 3600, false, "a request's headers must be complete this long after its first line (slow clients are cut off)"},
	{"server.max_connections", C_INT, "4096", 1, 100000, false, "connections in total (the process raises its descriptor limit to fit)"},
	{"server.per_ip_connections", C_INT, "64", 1, 100000, false, "connections per client address"},
	{"server.event_threads", C_INT, "0", 0, 64, false, "event-loop threads serving the connections (0 = one per core)"},
	{"server.workers", C_INT, "64", 1, 1024, false, "threads running requests that may wait (logins, commits, store reads); connections wait in a queue beyond them"},
	{"server.shutdown_grace_s", C_INT, "30", 0, 3600, false, "how long SIGTERM waits for in-flight requests"},
	{"server.trust_proxy", C_BOOL, "false", 0, 0, false, "take the client address from X-Forwarded-For (behind a proxy only)"},
	{"store.backend", C_STR, "sqlite", 0, 0, false, "the store's engine (src/store/backend.h): sqlite (embedded, default)"},
	{"store.data_dir", C_STR, "./safeguard-data", 0, 0, false, "directory holding the database and keys"},
	{"store.postgres_url", C_STR, "", 0, 0, true, "PostgreSQL connection string (shared store)"},
	{"store.max_batch", C_INT, "512", 1, 100000, false, "most writes sharing one commit"},
	{"store.max_readers", C_INT, "64", 1, 256, false, "reader connections open at once (a request beyond waits up to 2 s, then gets 503)"},
	{"store.checkpoint_pages", C_INT, "1000", 16, 1000000, false, "the writer copies its log into the database between commits once it holds this many 4 KiB pages"},
	{"session.idle_timeout_s", C_INT, "1800", 60, 86400 * 30, false, "a session ends after this long unused"},
	{"session.absolute_timeout_s", C_INT, "43200", 60, 86400 * 90, false, "a session ends this long after login"},
	{"session.cookie_secure", C_BOOL, "true", 0, 0, false, "mark the console cookie Secure (keep true behind TLS)"},
	{"security.login_max_failures", C_INT, "5", 1, 1000, false, "failed logins before throttling"},
	{"security.login_window_s", C_INT, "900", 1, 86400, false, "window in which failures count"},
	{"security.login_lockout_s", C_INT, "60", 1, 86400, false, "first lockout; doubles with each further failure"},
	{"ingest.osmand_listen", C_STR, "", 0, 0, false, "extra listener for Traccar Client's default settings (path /), e.g. 0.0.0.0:5055; empty = off"},
	{"ingest.event_threads", C_INT, "0", 0, 64, false, "event-loop threads of the OsmAnd listener (0 = one per core)"},
	{"ingest.max_future_s", C_INT, "300", 0, 86400, false, "a fix further in the future than this is refused"},
	{"ingest.device_rate_per_s", C_INT, "50", 1, 100000, false, "sustained reports per second per device"},
	{"ingest.max_attributes", C_INT, "64", 0, 1000, false, "extra attributes a report may keep (beyond: dropped, said in the reply's Safeguard-Attributes-Dropped header, counted in /metrics)"},
	{"ingest.max_attributes_bytes", C_INT, "4096", 64, 1048576, false, "bytes of JSON the extra attributes of one report may take"},
	{"ingest.device_burst", C_INT, "1000", 1, 1000000, false, "reports a device may send at once (a phone catching up)"},
	{"retention.history_days", C_INT, "90", 0, 36500, false, "position history older than this is purged (0 = keep forever), pinned reports excepted"},
	{"retention.partition_hours", C_INT, "1", 1, 168, false, "the position history is kept in one table per this many hours of fix time; retention drops a table once all of it is older than history_days (so a report lives at most this much longer)"},
	{"retention.interval_s", C_INT, "3600", 1, 86400, false, "how often the purge runs"},
	{"events.retention_s", C_INT, "3600", 60, 31536000, false, "events kept in the outbox for streams resuming with Last-Event-ID (older ones go once every durable subscriber has passed them)"},
	{"stream.flush_ms", C_INT, "25", 0, 1000, false, "the least time between two deliveries to an open stream: events gather meanwhile (fewer, larger writes under load; an event after a quiet spell goes at once)"},
	{"stream.tick_ms", C_INT, "1000", 100, 600000, false, "how often every open stream wakes without events (heartbeats, re-checking its session)"},
	{"stream.buffer_events", C_INT, "65536", 16, 10000000, false, "events kept for resuming streams; a reader further behind is dropped"},
	{"sharing.summary_grid_m", C_INT, "1000", 10, 100000, false, "positions shared as summary are rounded to this grid"},
	{"sharing.summary_delay_s", C_INT, "900", 0, 86400, false, "positions shared as summary are at least this old"},
	{"log.level", C_STR, "info", 0, 0, false, "debug, info, warn or error"},
};

struct config {
	char *values[ARRAY_LEN(defs)];
};

static int find(const char *name)
{
	for (unsigned i = 0; i < ARRAY_LEN(defs); i++)
		if (str_eq(defs[i].name, name))
			return (int)i;
	return -1;
}

struct config *config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	for (unsigned i = 0; i < ARRAY_LEN(defs); i++)
		cfg->values[i] = xstrdup(defs[i].def);
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (unsigned i = 0; i < ARRAY_LEN(defs); i++)
		free(cfg->values[i]);
	free(cfg);
}

static int parse_bool(const char *v, bool *out)
{
	if (str_eq(v, "true") || str_eq(v, "yes") || str_eq(v, "on") || str_eq(v, "1"))
		*out = true;
	else if (str_eq(v, "false") || str_eq(v, "no") || str_eq(v, "off") || str_eq(v, "0"))
		*out = false;
	else
		return SG_EINVAL;
	return 0;
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errsz)
{
	int i = find(name);
	if (i < 0) {
		snprintf(err, errsz, "unknown configuration key '%s'", name);
		return SG_EINVAL;
	}
	const struct cdef *d = &defs[i];
	if (d->type == C_INT) {
		int64_t v;
		if (parse_i64(value, d->min, d->max, &v)) {
			snprintf(err, errsz, "%s: '%s' is not a whole number from %lld to %lld", name,
				 value, (long long)d->min, (long long)d->max);
			return SG_EINVAL;
		}
	} else if (d->type == C_BOOL) {
		bool b;
		if (parse_bool(value, &b)) {
			snprintf(err, errsz, "%s: '%s' is not true or false", name, value);
			return SG_EINVAL;
		}
	}
	free(cfg->values[i]);
	cfg->values[i] = xstrdup(value);
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return SG_EIO;
	}
	char line[4096], section[64] = "";
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] || e - s - 1 >= (long)sizeof(section) || e == s + 1) {
				snprintf(err, errsz, "%s:%d: bad section header", path, lineno);
				rc = SG_EINVAL;
				break;
			}
			*e = '\0';
			sg_strlcpy(section, s + 1, sizeof(section));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq || !*section) {
			snprintf(err, errsz, "%s:%d: expected key = value inside a [section]", path, lineno);
			rc = SG_EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		char name[160], msg[256];
		snprintf(name, sizeof(name), "%s.%s", section, key);
		if (config_set(cfg, name, val, msg, sizeof(msg))) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, msg);
			rc = SG_EINVAL;
			break;
		}
	}
	fclose(f);
	return rc;
}

int config_load_env(struct config *cfg, char *err, size_t errsz)
{
	for (unsigned i = 0; i < ARRAY_LEN(defs); i++) {
		char var[160], *p;
		snprintf(var, sizeof(var), "SAFEGUARD_%s", defs[i].name);
		for (p = var; *p; p++)
			*p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
		const char *v = getenv(var);
		if (v) {
			char msg[256];
			if (config_set(cfg, defs[i].name, v, msg, sizeof(msg))) {
				snprintf(err, errsz, "%s: %s", var, msg);
				return SG_EINVAL;
			}
		}
	}
	return 0;
}

const char *config_str(const struct config *cfg, const char *name)
{
	int i = find(name);
	if (i < 0)
		BUG("undeclared configuration key %s", name);
	return cfg->values[i];
}

int64_t config_int(const struct config *cfg, const char *name)
{
	int64_t v = 0;
	if (parse_i64(config_str(cfg, name), INT64_MIN, INT64_MAX, &v))
		BUG("configuration key %s holds no integer", name);
	return v;
}

bool config_bool(const struct config *cfg, const char *name)
{
	bool b = false;
	if (parse_bool(config_str(cfg, name), &b))
		BUG("configuration key %s holds no boolean", name);
	return b;
}

void config_print(const struct config *cfg, FILE *out)
{
	char section[64] = "";
	for (unsigned i = 0; i < ARRAY_LEN(defs); i++) {
		const char *dot = strchr(defs[i].name, '.');
		size_t sl = (size_t)(dot - defs[i].name);
		if (strlen(section) != sl || strncmp(section, defs[i].name, sl) != 0) {
			snprintf(section, sizeof(section), "%.*s", (int)sl, defs[i].name);
			fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
		}
		const char *v = cfg->values[i];
		if (defs[i].secret && *v)
			v = "(hidden)";
		fprintf(out, "# %s\n%s = %s\n", defs[i].help, dot + 1, v);
	}
}
