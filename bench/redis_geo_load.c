/* Redis GEOSEARCH at a given concurrency, the peer of the HTTP radius
 * benchmark: CONNS connections over THREADS threads, each connection with one
 * query in flight (as each keep-alive HTTP connection of wrk has one request
 * in flight), centres uniformly random over the devices' area, replies with
 * coordinates and distance, nearest first (what Safeguard's answer carries).
 *   redis_geo_load PORT CONNS SECONDS RADIUS_M K      (K = 0: every hit)
 * Prints one "RESULT rps=.. p50_ms=.. p99_ms=.. avg_hits=.." line. */
#include "bench_util.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 2
#define MAX_SAMPLES 4000000

static int port, conns, seconds, k;
static double radius;
static double *lat_ms;
static long nsamples;
static long long hits;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;


static void *run(void *arg)
{
	unsigned long long seed = 0x9E3779B97F4A7C15ull * (1 + (unsigned long long)(size_t)arg);
	int n = conns / THREADS;
	redisContext **c = calloc((size_t)n, sizeof(*c));
	for (int i = 0; i < n; i++) {
		c[i] = redisConnect("127.0.0.1", port);
		if (!c[i] || c[i]->err) {
			fprintf(stderr, "redis: cannot connect\n");
			exit(1);
		}
	}
	double end = now_s() + seconds, *t0 = calloc((size_t)n, sizeof(double));
	long long myhits = 0;
	while (now_s() < end) {
		/* one query in flight per connection: send on all, then read all */
		for (int i = 0; i < n; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			double la = 24 + (double)(seed >> 11) / 9007199254740992.0 * 13;
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			double lo = 61 + (double)(seed >> 11) / 9007199254740992.0 * 16;
			t0[i] = now_s();
			if (k)
				redisAppendCommand(c[i], "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS 50000 m ASC COUNT %d WITHCOORD WITHDIST",
						   lo, la, k);
			else
				redisAppendCommand(c[i], "GEOSEARCH devs FROMLONLAT %f %f BYRADIUS %f m ASC WITHCOORD WITHDIST",
						   lo, la, radius);
		}
		for (int i = 0; i < n; i++) {
			redisReply *rep;
			if (redisGetReply(c[i], (void **)&rep) != REDIS_OK || rep->type != REDIS_REPLY_ARRAY) {
				fprintf(stderr, "redis: bad reply\n");
				exit(1);
			}
			myhits += (long long)rep->elements;
			freeReplyObject(rep);
			double dt = now_s() - t0[i];
			pthread_mutex_lock(&mu);
			if (nsamples < MAX_SAMPLES)
				lat_ms[nsamples++] = dt * 1000;
			pthread_mutex_unlock(&mu);
		}
	}
	pthread_mutex_lock(&mu);
	hits += myhits;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		redisFree(c[i]);
	free(c);
	free(t0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: redis_geo_load PORT CONNS SECONDS RADIUS_M K\n");
		return 2;
	}
	port = atoi(argv[1]), conns = atoi(argv[2]), seconds = atoi(argv[3]);
	radius = atof(argv[4]), k = atoi(argv[5]);
	if (conns < THREADS)
		conns = THREADS;
	lat_ms = malloc(MAX_SAMPLES * sizeof(double));
	pthread_t th[THREADS];
	double t = now_s();
	for (size_t i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, run, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	t = now_s() - t;
	qsort(lat_ms, (size_t)nsamples, sizeof(double), cmp_d);
	printf("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f avg_hits=%.1f\n", (double)nsamples / t,
	       nsamples ? lat_ms[nsamples / 2] : 0, nsamples ? lat_ms[nsamples * 99 / 100] : 0,
	       nsamples ? (double)hits / (double)nsamples : 0);
	free(lat_ms);
	return 0;
}
