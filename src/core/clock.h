/* Injectable wall clock. Everything that compares times (session expiry,
 * login throttling, later timers) asks clock_now_ms(), so tests can move
 * time forward in milliseconds instead of sleeping. */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Epoch milliseconds, UTC. */
int64_t clock_now_ms(void);
/* Monotonic microseconds, for durations only. */
int64_t clock_mono_us(void);

/* Tests: replace the wall clock with fn (NULL restores the real one). */
void clock_set_source(int64_t (*fn)(void));
/* Tests of the running binary (SAFEGUARD_TEST_CLOCK_OFFSET_FILE): the clock
 * becomes real time plus the milliseconds written in path, read at each call.
 * Returns false when path is unusable. */
bool clock_use_offset_file(const char *path);

/* Formats epoch ms as RFC 3339 UTC with milliseconds: 2026-11-29T14:35:27.123Z.
 * out must hold 25 bytes. */
void time_format_ms(int64_t ms, char out[25]);
/* Parses RFC 3339 (any offset, optional fraction) into epoch ms. 0 or SG_EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *out_ms);

#endif
