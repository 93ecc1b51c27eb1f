/* http/throttle and session expiry, with injected time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "http/auth.h"
#include "http/throttle.h"

#include <stdio.h>

static void test_locks_after_max_failures_and_doubles(void **state)
{
	(void)state;
	struct throttle *t = throttle_new(3, 60000, 1000);
	int64_t now = 1000000;
	throttle_failure(t, "u:alice", now);
	throttle_failure(t, "u:alice", now + 1);
	assert_int_equal(throttle_check(t, "u:alice", now + 2), 0);
	throttle_failure(t, "u:alice", now + 2);
	assert_int_equal(throttle_check(t, "u:alice", now + 2), 1000);
	assert_int_equal(throttle_check(t, "u:bob", now + 2), 0);
	assert_int_equal(throttle_check(t, "u:alice", now + 1002), 0);
	throttle_failure(t, "u:alice", now + 1002); /* fourth: 2 s */
	assert_int_equal(throttle_check(t, "u:alice", now + 1002), 2000);
	throttle_success(t, "u:alice");
	assert_int_equal(throttle_check(t, "u:alice", now + 1003), 0);
	throttle_free(t);
}

static void test_failures_outside_window_are_forgotten(void **state)
{
	(void)state;
	struct throttle *t = throttle_new(2, 1000, 5000);
	throttle_failure(t, "ip:1", 0);
	throttle_failure(t, "ip:1", 5000); /* window passed: counts as the first again */
	assert_int_equal(throttle_check(t, "ip:1", 5000), 0);
	throttle_failure(t, "ip:1", 5001);
	assert_int_equal(throttle_check(t, "ip:1", 5001), 5000);
	throttle_free(t);
}

static void test_table_is_bounded(void **state)
{
	(void)state;
	struct throttle *t = throttle_new(1, 60000, 1000);
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "ip:%d", i);
		throttle_failure(t, key, i);
	}
	assert_true(throttle_check(t, "ip:9999", 9999) > 0); /* the newest survive */
	throttle_free(t);
}

static void test_session_idle_and_absolute_expiry(void **state)
{
	(void)state;
	int64_t idle = 30 * 60000;
	assert_false(session_expired(1000, 1000, 1000 + 12 * 3600000LL, idle));
	assert_false(session_expired(1000 + idle - 1, 1000, 1000 + 12 * 3600000LL, idle));
	assert_true(session_expired(1000 + idle, 1000, 1000 + 12 * 3600000LL, idle));
	assert_true(session_expired(50000, 49000, 50000, idle)); /* absolute */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locks_after_max_failures_and_doubles),
		cmocka_unit_test(test_failures_outside_window_are_forgotten),
		cmocka_unit_test(test_table_is_bounded),
		cmocka_unit_test(test_session_idle_and_absolute_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
