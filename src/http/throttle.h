/* Failed-login throttling, in memory: after `max_failures` failures within
 * `window_ms` for the same key (a username, or a client address), the key is
 * locked for `lockout_ms`, doubling with every further failure (at most one
 * hour). A success clears the key. Bounded: the table holds a fixed number of
 * keys and forgets the stalest when full. Thread-safe. */
#ifndef SG_THROTTLE_H
#define SG_THROTTLE_H

#include <stdint.h>

struct throttle;

struct throttle *throttle_new(int max_failures, int64_t window_ms, int64_t lockout_ms);
void throttle_free(struct throttle *t);
/* 0 when key may try now; else the milliseconds until it may. */
int64_t throttle_check(struct throttle *t, const char *key, int64_t now_ms);
void throttle_failure(struct throttle *t, const char *key, int64_t now_ms);
void throttle_success(struct throttle *t, const char *key);

#endif
