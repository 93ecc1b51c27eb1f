/* Paced device ingest with event-stream subscribers, for bench/stream.sh.
 *
 *   stream_load HOST OSMAND_PORT API_PORT DEVICE_KEYS SUB_KEYS RATE CONNS SUBS SECONDS
 *
 * Thread 1 opens SUBS Server-Sent Events connections to /api/v1/stream (the
 * API keys of SUB_KEYS in turn) and reads them all from one epoll loop,
 * taking each event's delivery latency: the wall clock at arrival minus the
 * report's fix time, which the sender set to its own wall clock when it sent
 * it (same machine, same clock).
 * Thread 2 sends OsmAnd reports (GET /?id=KEY&lat&lon&timestamp=ms) from the
 * devices of DEVICE_KEYS in turn over CONNS keep-alive connections, paced at
 * RATE reports/s: report k is due at t0 + k/RATE, and its latency runs from
 * that due time (a report that waits for a free connection is late by that
 * wait too: no coordinated omission).
 * The first 3 s of the ingest are warm-up and not counted. Prints
 *   RESULT ingest sent=.. ok=.. failed=.. rate=.. p50_ms=.. p99_ms=..
 *   RESULT stream subs=.. connected=.. events=.. per_s=.. p50_ms=.. p99_ms=.. max_ms=.. lost=.. */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host;
static int osmand_port, api_port, nconns, nsubs;
static double rate, seconds;
static char **dev_keys, **sub_keys;
static int ndev, nsubkeys;
static atomic_bool ingest_running, stop_all;
static double t_measure; /* monotonic time from which samples count */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char **read_lines(const char *path, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	char **v = NULL, line[512];
	int cap = 0;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		if (*n == cap)
			v = realloc(v, sizeof(*v) * (size_t)(cap = cap ? 2 * cap : 1024));
		v[(*n)++] = strdup(line);
	}
	fclose(f);
	return v;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Blocking send of a whole request on a non-blocking socket (requests are small). */
static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			usleep(100);
			continue;
		}
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

struct samples {
	double *v;
	size_t n, cap;
};

static void add_sample(struct samples *s, double x)
{
	if (s->n == s->cap)
		s->v = realloc(s->v, sizeof(double) * (s->cap = s->cap ? 2 * s->cap : 65536));
	s->v[s->n++] = x;
}

static double pct(struct samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p * (double)(s->n - 1));
	return s->v[i];
}

/* --- subscribers ------------------------------------------------------------ */

enum { HDR, CHUNK_SIZE, CHUNK_DATA, CHUNK_END };

struct sub {
	int fd;
	int state;
	size_t chunk_left;
	char hdr[2048];
	size_t hlen;
	char line[4096];
	size_t llen;
	bool ok, dead;
};

static struct samples sub_lat;
static long sub_events, sub_connected, sub_lost;

static void sse_line(struct sub *s)
{
	s->line[s->llen] = 0;
	if (strncmp(s->line, "data: ", 6) != 0)
		return;
	const char *t = strstr(s->line, "\"time\":\"");
	if (!t)
		return;
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ": the day's epoch cached, the rest by hand */
	static char day[11];
	static int64_t day_ms;
	t += 8;
	if (strlen(t) < 24)
		return;
	if (memcmp(day, t, 10) != 0) {
		struct tm tm = {0};
		if (sscanf(t, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
			return;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		day_ms = (int64_t)timegm(&tm) * 1000;
		memcpy(day, t, 10);
	}
#define D2(p) (((p)[0] - '0') * 10 + ((p)[1] - '0'))
	int64_t fix = day_ms + ((int64_t)D2(t + 11) * 3600 + D2(t + 14) * 60 + D2(t + 17)) * 1000 +
		      (t[20] - '0') * 100 + (t[21] - '0') * 10 + (t[22] - '0');
#undef D2
	sub_events++;
	if (now_s() >= t_measure && atomic_load(&ingest_running))
		add_sample(&sub_lat, (double)(wall_ms() - fix));
}

static void sse_bytes(struct sub *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			sse_line(s);
			s->llen = 0;
		} else if (s->llen + 1 < sizeof(s->line)) {
			s->line[s->llen++] = p[i];
		}
	}
}

/* Feeds bytes through the HTTP response head and the chunked framing. */
static void sub_feed(struct sub *s, const char *p, size_t n)
{
	while (n) {
		if (s->state == HDR) {
			s->hdr[s->hlen++] = *p++;
			n--;
			if (s->hlen >= 4 && !memcmp(s->hdr + s->hlen - 4, "\r\n\r\n", 4)) {
				s->hdr[s->hlen] = 0;
				s->ok = !strncmp(s->hdr, "HTTP/1.1 200", 12);
				if (s->ok)
					sub_connected++;
				s->state = CHUNK_SIZE;
				s->hlen = 0;
			} else if (s->hlen + 1 >= sizeof(s->hdr)) {
				s->dead = true;
				return;
			}
		} else if (s->state == CHUNK_SIZE) {
			s->hdr[s->hlen++] = *p++;
			n--;
			if (s->hlen >= 2 && s->hdr[s->hlen - 2] == '\r' && s->hdr[s->hlen - 1] == '\n') {
				s->hdr[s->hlen] = 0;
				s->chunk_left = strtoul(s->hdr, NULL, 16);
				s->hlen = 0;
				s->state = s->chunk_left ? CHUNK_DATA : CHUNK_END;
			} else if (s->hlen + 1 >= sizeof(s->hdr)) {
				s->dead = true;
				return;
			}
		} else if (s->state == CHUNK_DATA) {
			size_t k = n < s->chunk_left ? n : s->chunk_left;
			sse_bytes(s, p, k);
			p += k;
			n -= k;
			s->chunk_left -= k;
			if (!s->chunk_left)
				s->state = CHUNK_END;
		} else { /* the CRLF after a chunk */
			s->hlen++;
			p++;
			n--;
			if (s->hlen == 2) {
				s->hlen = 0;
				s->state = CHUNK_SIZE;
			}
		}
	}
}

static void *subscribers_main(void *arg)
{
	(void)arg;
	int ep = epoll_create1(0);
	struct sub *subs = calloc((size_t)nsubs ? (size_t)nsubs : 1, sizeof(*subs));
	for (int i = 0; i < nsubs; i++) {
		struct sub *s = &subs[i];
		s->fd = dial(api_port);
		if (s->fd < 0) {
			s->dead = true;
			continue;
		}
		/* wait for the connect, then send the request */
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
		epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
		struct epoll_event out;
		if (epoll_wait(ep, &out, 1, 5000) != 1) {
			s->dead = true;
			continue;
		}
		char req[512];
		int n = snprintf(req, sizeof(req),
				 "GET /api/v1/stream HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
				 "Authorization: Bearer %s\r\n\r\n",
				 host, sub_keys[i % nsubkeys]);
		if (!send_all(s->fd, req, (size_t)n))
			s->dead = true;
		ev.events = EPOLLIN;
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
	}
	static char buf[1 << 16];
	struct epoll_event evs[256];
	while (!atomic_load(&stop_all)) {
		int k = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < k; i++) {
			struct sub *s = evs[i].data.ptr;
			for (;;) {
				ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
				if (r > 0) {
					sub_feed(s, buf, (size_t)r);
					if (r < (ssize_t)sizeof(buf))
						break;
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				s->dead = true; /* closed by the server or failed */
				break;
			}
			if (s->dead) {
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
				close(s->fd);
				s->fd = -1;
				if (atomic_load(&ingest_running))
					sub_lost++;
			}
		}
	}
	for (int i = 0; i < nsubs; i++)
		if (subs[i].fd >= 0)
			close(subs[i].fd);
	free(subs);
	close(ep);
	return NULL;
}

/* --- ingest ------------------------------------------------------------------- */

struct conn {
	int fd;
	bool busy;
	double due;
	char in[4096];
	size_t inlen;
};

static struct samples ing_lat;
static long ing_sent, ing_ok, ing_failed;

/* A complete response in c->in? Returns its status, 0 when incomplete. */
static int response_done(struct conn *c)
{
	c->in[c->inlen] = 0;
	char *end = strstr(c->in, "\r\n\r\n");
	if (!end)
		return 0;
	size_t clen = 0;
	const char *cl = strcasestr(c->in, "\r\nContent-Length:");
	if (cl && cl < end)
		clen = strtoul(cl + 17, NULL, 10);
	size_t total = (size_t)(end + 4 - c->in) + clen;
	if (c->inlen < total)
		return 0;
	int status = atoi(c->in + 9);
	memmove(c->in, c->in + total, c->inlen - total);
	c->inlen -= total;
	return status ? status : -1;
}

/* The slowest report of each second of the load (printed with TRACE=1). */
#define MAX_SECONDS 3600
static double sec_max[MAX_SECONDS];

static void *ingest_main(void *arg)
{
	(void)arg;
	int ep = epoll_create1(0);
	struct conn *cs = calloc((size_t)nconns, sizeof(*cs));
	for (int i = 0; i < nconns; i++) {
		cs[i].fd = dial(osmand_port);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	usleep(200000); /* the connects complete */
	double t0 = now_s(), end = t0 + seconds;
	t_measure = t0 + 3.0;
	atomic_store(&ingest_running, true);
	long k = 0;
	struct epoll_event evs[256];
	while (now_s() < end) {
		double now = now_s();
		/* send every due report a free connection can take */
		int free_conns = 0;
		for (int i = 0; i < nconns; i++) {
			struct conn *c = &cs[i];
			if (c->busy || c->fd < 0)
				continue;
			if (t0 + (double)k / rate > now) {
				free_conns++;
				continue;
			}
			char req[512];
			const char *key = dev_keys[k % ndev];
			double lat = 30.0 + (double)(k % 997) * 0.001, lon = 70.0 + (double)(k % 991) * 0.001;
			int n = snprintf(req, sizeof(req),
					 "GET /?id=%s&lat=%.6f&lon=%.6f&timestamp=%lld HTTP/1.1\r\nHost: %s\r\n\r\n", key,
					 lat, lon, (long long)wall_ms(), host);
			c->due = t0 + (double)k / rate;
			if (!send_all(c->fd, req, (size_t)n)) {
				ing_failed++;
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->busy = true;
			ing_sent++;
			k++;
		}
		/* sleep until the next report is due, or (none free) a response comes */
		double next = t0 + (double)k / rate - now_s();
		int timeout = !free_conns || next > 0.005 ? 5 : next > 0.001 ? (int)(next * 1000) : 1;
		int m = epoll_wait(ep, evs, 256, timeout);
		for (int i = 0; i < m; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				ing_failed++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->inlen += (size_t)r;
			int st;
			while ((st = response_done(c)) != 0) {
				double t = now_s();
				if (st == 200)
					ing_ok++;
				else
					ing_failed++;
				if (c->due >= t_measure)
					add_sample(&ing_lat, (t - c->due) * 1000.0);
				int sec = (int)(c->due - t0);
				if (sec >= 0 && sec < MAX_SECONDS && (t - c->due) * 1000.0 > sec_max[sec])
					sec_max[sec] = (t - c->due) * 1000.0;
				c->busy = false;
			}
		}
	}
	atomic_store(&ingest_running, false);
	for (int i = 0; i < nconns; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	free(cs);
	close(ep);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr, "usage: %s HOST OSMAND_PORT API_PORT DEVICE_KEYS SUB_KEYS RATE CONNS SUBS SECONDS\n",
			argv[0]);
		return 2;
	}
	host = argv[1];
	osmand_port = atoi(argv[2]);
	api_port = atoi(argv[3]);
	dev_keys = read_lines(argv[4], &ndev);
	sub_keys = read_lines(argv[5], &nsubkeys);
	rate = atof(argv[6]);
	nconns = atoi(argv[7]);
	nsubs = atoi(argv[8]);
	seconds = atof(argv[9]);
	if (!ndev || (nsubs && !nsubkeys) || rate <= 0 || nconns <= 0 || seconds <= 3) {
		fprintf(stderr, "nothing to do\n");
		return 2;
	}
	struct rlimit rl = {.rlim_cur = 65536, .rlim_max = 65536};
	setrlimit(RLIMIT_NOFILE, &rl);
	pthread_t st, it;
	pthread_create(&st, NULL, subscribers_main, NULL);
	/* let the subscribers connect before the load starts */
	double wait_until = now_s() + 60;
	while (nsubs && now_s() < wait_until && sub_connected < nsubs)
		usleep(100000);
	usleep(500000);
	long connected_before = sub_connected;
	pthread_create(&it, NULL, ingest_main, NULL);
	pthread_join(it, NULL);
	usleep(500000); /* the last events arrive */
	atomic_store(&stop_all, true);
	pthread_join(st, NULL);
	double measured = seconds - 3.0;
	qsort(ing_lat.v, ing_lat.n, sizeof(double), cmp_d);
	qsort(sub_lat.v, sub_lat.n, sizeof(double), cmp_d);
	printf("RESULT ingest sent=%ld ok=%ld failed=%ld rate=%.0f p50_ms=%.2f p99_ms=%.2f\n", ing_sent, ing_ok,
	       ing_failed, (double)ing_lat.n / measured, pct(&ing_lat, 0.5), pct(&ing_lat, 0.99));
	if (getenv("TRACE"))
		for (int i = 0; i < seconds && i < MAX_SECONDS; i++)
			printf("# second %d: slowest report %.1f ms\n", i, sec_max[i]);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT load_tool cpu_s=%.1f\n", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
						     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	printf("RESULT stream subs=%d connected=%ld events=%ld per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f lost=%ld\n",
	       nsubs, connected_before, sub_events, (double)sub_lat.n / measured, pct(&sub_lat, 0.5),
	       pct(&sub_lat, 0.99), sub_lat.n ? sub_lat.v[sub_lat.n - 1] : 0.0, sub_lost);
	return 0;
}
