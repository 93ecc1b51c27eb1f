/* Operational endpoints (/healthz, /readyz, /metrics), the OpenAPI document
 * and the console's static files (compiled in, or from server.web_root). */
#include "http/api/api.h"

#include "alarms/alarms.h"

#include "core/embed.h"
#include "core/log.h"
#include "delivery/delivery.h"
#include "http/router.h"
#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t http_bucket_bound_us(int i);

void api_healthz(struct req *r)
{
	reply_data(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

void api_readyz(struct req *r)
{
	if (atomic_load(&r->env->draining)) {
		reply_data(r, 503, "text/plain; charset=utf-8", "draining\n", 9);
		return;
	}
	if (!store_healthy(r->env->store)) {
		const char *why = store_full(r->env->store) ? "store full: the disk has no space; free some\n"
							    : "store broken: a commit failed; restart\n";
		reply_data(r, 503, "text/plain; charset=utf-8", why, strlen(why));
		return;
	}
	struct db *db = req_db(r);
	if (!db)
		return;
	if (store_readable(db))
		reply_data(r, 200, "text/plain; charset=utf-8", "ready\n", 6);
	else
		reply_data(r, 503, "text/plain; charset=utf-8", "store unreadable\n", 17);
}

void api_metrics(struct req *r)
{
	struct metrics *m = &r->env->metrics;
	struct store_stats ss;
	struct sb sb;
	store_get_stats(r->env->store, &ss);
	struct delivery_stats ds = {0};
	if (r->env->deliverer)
		deliverer_stats(r->env->deliverer, &ds);
	sb_init(&sb);
	sb_adds(&sb, "# HELP safeguard_http_requests_total HTTP requests by status class.\n"
		     "# TYPE safeguard_http_requests_total counter\n");
	for (int c = 1; c <= 5; c++)
		sb_addf(&sb, "safeguard_http_requests_total{code=\"%dxx\"} %llu\n", c,
			(unsigned long long)atomic_load(&m->requests[c]));
	sb_adds(&sb, "# HELP safeguard_http_request_duration_seconds Time from request start to completion.\n"
		     "# TYPE safeguard_http_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (int b = 0; b <= HIST_BUCKETS; b++) {
		cum += atomic_load(&m->duration_bucket[b]);
		if (b < HIST_BUCKETS)
			sb_addf(&sb, "safeguard_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				(double)http_bucket_bound_us(b) / 1e6, (unsigned long long)cum);
		else
			sb_addf(&sb, "safeguard_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				(unsigned long long)cum);
	}
	sb_addf(&sb, "safeguard_http_request_duration_seconds_sum %.6f\n",
		(double)atomic_load(&m->duration_sum_us) / 1e6);
	sb_addf(&sb, "safeguard_http_request_duration_seconds_count %llu\n", (unsigned long long)cum);
	/* One line each: name, type, help, value (counters and gauges). */
	const struct {
		const char *name, *type, *help;
		long long value;
	} one[] = {
		{"safeguard_http_in_flight", "gauge", "Requests being processed.", (long long)atomic_load(&m->in_flight)},
		{"safeguard_alarms_open", "gauge", "Real alarms not yet resolved (exercises are not counted).",
		 r->env->alarms ? (long long)alarm_set_size(r->env->alarms) : 0},
		{"safeguard_deliveries_sent_total", "counter", "Alert and roll-call messages handed to a channel.",
		 (long long)ds.sent},
		{"safeguard_deliveries_retried_total", "counter", "Failed sends to be tried again.", (long long)ds.retried},
		{"safeguard_deliveries_failed_total", "counter", "Deliveries given up after the last try.",
		 (long long)ds.failed},
		{"safeguard_http_slow_clients_dropped_total", "counter",
		 "Connections cut for missing the header or idle deadline.", (long long)atomic_load(&m->slow_clients_dropped)},
		{"safeguard_login_failures_total", "counter", "Failed logins.", (long long)atomic_load(&m->login_failures)},
		{"safeguard_login_throttled_total", "counter", "Logins refused by throttling.",
		 (long long)atomic_load(&m->login_throttled)},
		{"safeguard_store_commits_total", "counter", "Write transactions committed (group commits).",
		 (long long)ss.commits},
		{"safeguard_store_writes_total", "counter", "Writes committed.", (long long)ss.writes},
		{"safeguard_store_writes_refused_total", "counter", "Writes rolled back.", (long long)ss.failed},
		{"safeguard_store_batch_max", "gauge", "Largest number of writes sharing one commit.",
		 (long long)ss.max_batch},
		{"safeguard_store_readers_open", "gauge", "Reader connections open (in use or idle).",
		 (long long)ss.readers_open},
		{"safeguard_store_readers_refused_total", "counter",
		 "Requests that found no reader connection in time (503).", (long long)ss.readers_refused},
		{"safeguard_store_checkpoints_total", "counter", "Checkpoints of the log into the database, by the writer.",
		 (long long)ss.checkpoints},
		{"safeguard_ingest_attributes_dropped_total", "counter",
		 "Extra attributes of reports beyond the configured bounds, not stored.",
		 (long long)pipeline_attrs_dropped(r->env->pipeline)},
		{"safeguard_store_healthy", "gauge", "1 while commits succeed and the disk has space.",
		 store_healthy(r->env->store) ? 1 : 0},
	};
	for (size_t i = 0; i < ARRAY_LEN(one); i++)
		sb_addf(&sb, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", one[i].name, one[i].help, one[i].name,
			one[i].type, one[i].name, one[i].value);
	reply_data(r, 200, "text/plain; version=0.0.4; charset=utf-8", sb.buf, sb.len);
	sb_release(&sb);
}

void api_openapi(struct req *r)
{
	const struct embedded_file *f = embed_find(sg_web_files, "openapi.json");
	reply_data(r, 200, "application/json", f->data, f->len);
}

static const char *mime(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	if (str_eq(dot, ".html"))
		return "text/html; charset=utf-8";
	if (str_eq(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (str_eq(dot, ".css"))
		return "text/css; charset=utf-8";
	if (str_eq(dot, ".json"))
		return "application/json";
	if (str_eq(dot, ".svg"))
		return "image/svg+xml";
	if (str_eq(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

bool api_static(struct req *r)
{
	const char *name = r->path;
	if (str_startswith(name, "/api/"))
		return false;
	if (str_eq(name, "/"))
		name = "/index.html";
	name++;
	/* Only plain file names: no directories, no dot files, no traversal. */
	if (!*name || strchr(name, '/') || name[0] == '.' || strstr(name, ".."))
		return false;
	const char *root = r->env->web_root;
	if (root && *root) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", root, name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat stt;
		if (fd < 0 || fstat(fd, &stt) || !S_ISREG(stt.st_mode) || stt.st_size > (16 << 20)) {
			if (fd >= 0)
				close(fd);
			return false;
		}
		char *buf = xmalloc((size_t)stt.st_size + 1);
		ssize_t n = read(fd, buf, (size_t)stt.st_size);
		close(fd);
		if (n == stt.st_size)
			reply_data(r, 200, mime(name), buf, (size_t)n);
		free(buf);
		return n == stt.st_size;
	}
	const struct embedded_file *f = embed_find(sg_web_files, name);
	if (!f || str_eq(name, "openapi.json"))
		return false;
	reply_data(r, 200, mime(name), f->data, f->len);
	return true;
}
