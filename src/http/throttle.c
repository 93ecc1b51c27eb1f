/* Fixed-size failure table; see throttle.h. Linear scans are fine: a login
 * costs an argon2id hash, thousands of times more than the scan. */
#include "http/throttle.h"

#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

struct slot {
	char key[96];
	int failures;
	int64_t first_ms, last_ms, locked_until_ms;
};

struct throttle {
	pthread_mutex_t mu;
	int max_failures;
	int64_t window_ms, lockout_ms;
	struct slot slots[SLOTS];
};

struct throttle *throttle_new(int max_failures, int64_t window_ms, int64_t lockout_ms)
{
	struct throttle *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	t->max_failures = max_failures;
	t->window_ms = window_ms;
	t->lockout_ms = lockout_ms;
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static struct slot *find(struct throttle *t, const char *key, bool create, int64_t now)
{
	struct slot *stale = NULL;
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &t->slots[i];
		if (s->key[0] && strncmp(s->key, key, sizeof(s->key) - 1) == 0)
			return s;
		if (!stale || !s->key[0] || (stale->key[0] && s->last_ms < stale->last_ms))
			stale = s;
	}
	if (!create)
		return NULL;
	memset(stale, 0, sizeof(*stale));
	sg_strlcpy(stale->key, key, sizeof(stale->key));
	stale->first_ms = now;
	return stale;
}

int64_t throttle_check(struct throttle *t, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, key, false, now_ms);
	int64_t wait = s && s->locked_until_ms > now_ms ? s->locked_until_ms - now_ms : 0;
	pthread_mutex_unlock(&t->mu);
	return wait;
}

void throttle_failure(struct throttle *t, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, key, true, now_ms);
	if (now_ms - s->first_ms > t->window_ms && s->locked_until_ms <= now_ms) {
		s->failures = 0;
		s->first_ms = now_ms;
	}
	s->failures++;
	s->last_ms = now_ms;
	if (s->failures >= t->max_failures) {
		int extra = s->failures - t->max_failures;
		int64_t lock = t->lockout_ms << (extra > 6 ? 6 : extra);
		if (lock > 3600 * 1000)
			lock = 3600 * 1000;
		s->locked_until_ms = now_ms + lock;
	}
	pthread_mutex_unlock(&t->mu);
}

void throttle_success(struct throttle *t, const char *key)
{
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, key, false, 0);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->mu);
}
