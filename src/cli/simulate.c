/* Simulated devices on the move; see simulate.h. */
#include "cli/simulate.h"

#include "core/clock.h"
#include "core/util.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Waypoints: airport, power plant, port, dam, coal field, and the roads between. */
static const double places[][2] = {
	{24.9065, 67.1608}, {24.7840, 67.3640}, {25.1155, 62.3400}, {35.2980, 73.1780},
	{24.7250, 70.2300}, {25.3960, 68.3578}, {30.1798, 71.4249}, {33.6844, 73.0479},
};
#define NPLACES (sizeof(places) / sizeof(places[0]))

struct dev {
	char key[128];
	bool owntracks; /* reports as the OwnTracks app does (HTTP mode), else as Traccar Client */
	int from, to;
	double progress; /* 0..1 along the leg */
	double speed_mps;
};

struct sim {
	char url[256];
	struct dev *devs;
	size_t n;
	double rate;
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong ok;
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static double leg_m(const struct dev *d)
{
	double dlat = (places[d->to][0] - places[d->from][0]) * 111000;
	double dlon = (places[d->to][1] - places[d->from][1]) * 111000 * cos(places[d->from][0] * M_PI / 180);
	return fmax(1000, sqrt(dlat * dlat + dlon * dlon));
}

static void *run(void *arg)
{
	struct sim *s = arg;
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	struct curl_slist *json_hdr = curl_slist_append(NULL, "Content-Type: application/json");
	double interval = 1.0 / s->rate;
	size_t i = 0;
	int64_t last_us = clock_mono_us();
	while (!atomic_load(&s->stop)) {
		struct dev *d = &s->devs[i++ % s->n];
		int64_t now_us = clock_mono_us();
		double dt = (double)(now_us - last_us) / 1e6 * (double)s->n;
		last_us = now_us;
		/* Each device advances by what its share of the time allows. */
		d->progress += d->speed_mps * fmin(dt, 60) / leg_m(d);
		if (d->progress >= 1) {
			d->from = d->to;
			d->to = (d->to + 1 + rand() % (int)(NPLACES - 1)) % (int)NPLACES;
			d->progress = 0;
		}
		double lat = places[d->from][0] + (places[d->to][0] - places[d->from][0]) * d->progress;
		double lon = places[d->from][1] + (places[d->to][1] - places[d->from][1]) * d->progress;
		char url[768], body[256];
		if (d->owntracks) {
			snprintf(url, sizeof(url), "%s/ingest/owntracks", s->url);
			snprintf(body, sizeof(body),
				 "{\"_type\":\"location\",\"lat\":%.6f,\"lon\":%.6f,\"tst\":%lld,\"vel\":%d,\"batt\":%d,\"tid\":\"SG\"}",
				 lat, lon, (long long)(clock_now_ms() / 1000), (int)(d->speed_mps * 3.6), 40 + (int)(i % 60));
			curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body); /* copied: body is this turn's */
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, json_hdr);
			curl_easy_setopt(c, CURLOPT_USERNAME, "safeguard");
			curl_easy_setopt(c, CURLOPT_PASSWORD, d->key);
		} else {
			char *key = curl_easy_escape(c, d->key, 0);
			snprintf(url, sizeof(url), "%s/ingest/osmand?id=%s&lat=%.6f&lon=%.6f&timestamp=%lld&speed=%.1f&batt=%d",
				 s->url, key ? key : "", lat, lon, (long long)(clock_now_ms() / 1000),
				 d->speed_mps / 0.514444, 40 + (int)(i % 60));
			curl_free(key);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
			curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
			curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		long code = 0;
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
			atomic_fetch_add(&s->ok, 1);
		else
			usleep(200000); /* the server is not up (yet): do not spin */
		usleep((useconds_t)(interval * 1e6));
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(json_hdr);
	return NULL;
}

struct sim *sim_start(const char *base_url, char **keys, size_t n, double rate_per_s)
{
	if (!n || rate_per_s <= 0)
		return NULL;
	struct sim *s = xcalloc(1, sizeof(*s));
	sg_strlcpy(s->url, base_url, sizeof(s->url));
	s->devs = xcalloc(n, sizeof(*s->devs));
	s->n = n;
	s->rate = rate_per_s;
	srand((unsigned)time(NULL));
	for (size_t i = 0; i < n; i++) {
		s->devs[i].owntracks = str_startswith(keys[i], SIM_OWNTRACKS);
		sg_strlcpy(s->devs[i].key, keys[i] + (s->devs[i].owntracks ? strlen(SIM_OWNTRACKS) : 0),
			   sizeof(s->devs[i].key));
		s->devs[i].from = (int)(i % NPLACES);
		s->devs[i].to = (int)((i + 1 + i / NPLACES) % NPLACES);
		if (s->devs[i].to == s->devs[i].from)
			s->devs[i].to = (s->devs[i].to + 1) % (int)NPLACES;
		s->devs[i].progress = (double)(rand() % 1000) / 1000.0;
		s->devs[i].speed_mps = 10 + rand() % 15;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_create(&s->thread, NULL, run, s)) {
		free(s->devs);
		free(s);
		return NULL;
	}
	return s;
}

unsigned long sim_stop(struct sim *s)
{
	if (!s)
		return 0;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	unsigned long ok = atomic_load(&s->ok);
	free(s->devs);
	free(s);
	return ok;
}
