/* core/clock: injected time, RFC 3339 formatting and strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/err.h"

static int64_t fake_now;
static int64_t fake(void) { return fake_now; }

static void test_injected_clock_is_used(void **state)
{
	(void)state;
	fake_now = 1234567;
	clock_set_source(fake);
	assert_int_equal(clock_now_ms(), 1234567);
	clock_set_source(NULL);
	assert_true(clock_now_ms() > 1700000000000LL);
}

static void test_format_round_trips(void **state)
{
	(void)state;
	char s[25];
	int64_t ms;
	time_format_ms(1796568927123LL, s);
	assert_string_equal(s, "2026-12-06T14:55:27.123Z");
	assert_int_equal(time_parse_rfc3339(s, &ms), 0);
	assert_int_equal(ms, 1796568927123LL);
}

static void test_parse_offsets_and_rejects(void **state)
{
	(void)state;
	int64_t ms = -1;
	assert_int_equal(time_parse_rfc3339("2026-11-29T19:35:00+05:00", &ms), 0);
	int64_t utc;
	assert_int_equal(time_parse_rfc3339("2026-11-29T14:35:00Z", &utc), 0);
	assert_int_equal(ms, utc);
	assert_int_equal(time_parse_rfc3339("2026-02-29T00:00:00Z", &ms), SG_EINVAL); /* not a leap year */
	assert_int_equal(time_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
	assert_int_equal(time_parse_rfc3339("2026-11-29 14:35:00Z", &ms), SG_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-11-29T14:35:00", &ms), SG_EINVAL); /* no zone */
	assert_int_equal(time_parse_rfc3339("2026-13-01T00:00:00Z", &ms), SG_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-11-29T14:35:00.5Z", &ms), 0);
	assert_int_equal(ms % 1000, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_injected_clock_is_used),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_parse_offsets_and_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
