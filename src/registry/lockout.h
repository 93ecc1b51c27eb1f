/* Failed-login lockout per account, kept in the store. After max_failures
 * failures within window_ms the account is locked for lockout_ms, doubling
 * with every further failure (at most one hour); a success clears it. Unlike
 * the in-memory throttle (http/throttle.h, per client address and for names
 * that are no account), no flood of other names can evict it, and it
 * survives a restart. */
#ifndef SG_LOCKOUT_H
#define SG_LOCKOUT_H

#include "store/db.h"

#include <stdint.h>

struct lockout_rule {
	int max_failures;
	int64_t window_ms, lockout_ms;
};

/* Milliseconds until the account may try again (0: now); *failures (may be
 * NULL) the failures counted so far. 0 on a read error too (the login then
 * goes on; a failure is recorded by the writer). */
int64_t lockout_wait(struct db *db, const char *user_id, int64_t now_ms, int *failures);

struct lockout_job {
	const char *user_id;
	int64_t now_ms;
	struct lockout_rule rule;
};
/* store_write functions: count one failure; clear after a success. */
int lockout_fail_fn(struct db *db, void *arg);
int lockout_clear_fn(struct db *db, void *arg);

#endif
