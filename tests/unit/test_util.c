/* core/util: string buffer, bounded copies, strict parsing, UTF-8 checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"

static void test_sb_grows_and_detaches(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	assert_string_equal(sb.buf, "");
	for (int i = 0; i < 1000; i++)
		sb_addf(&sb, "%d,", i);
	assert_true(sb.len > 3000);
	assert_int_equal(strncmp(sb.buf, "0,1,2,", 6), 0);
	char *s = sb_detach(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strlen(s), strlen("0,") * 10 + strlen("10,") * 90 + strlen("100,") * 900);
	free(s);
	sb_release(&sb);
}

static void test_strlcpy_truncates_and_terminates(void **state)
{
	(void)state;
	char buf[4];
	assert_int_equal(sg_strlcpy(buf, "abcdef", sizeof(buf)), 6);
	assert_string_equal(buf, "abc");
}

static void test_parse_i64_rejects_garbage_and_range(void **state)
{
	(void)state;
	int64_t v = 7;
	assert_int_equal(parse_i64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_i64("42x", 0, 100, &v), SG_EINVAL);
	assert_int_equal(parse_i64("", 0, 100, &v), SG_EINVAL);
	assert_int_equal(parse_i64("101", 0, 100, &v), SG_EINVAL);
	assert_int_equal(parse_i64("99999999999999999999", 0, INT64_MAX, &v), SG_EINVAL);
	assert_int_equal(v, 42); /* untouched on failure */
}

static void test_utf8_valid_rejects_overlong_surrogates_nul(void **state)
{
	(void)state;
	assert_true(utf8_valid("h\xc3\xa9llo \xe4\xb8\xad", 10));
	assert_false(utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(utf8_valid("a\0b", 3));              /* NUL */
	assert_false(utf8_valid("\xe4\xb8", 2));          /* truncated */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_ct_eq(void **state)
{
	(void)state;
	assert_true(str_ct_eq("abc", "abc"));
	assert_false(str_ct_eq("abc", "abd"));
	assert_false(str_ct_eq("abc", "abcd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sb_grows_and_detaches),
		cmocka_unit_test(test_strlcpy_truncates_and_terminates),
		cmocka_unit_test(test_parse_i64_rejects_garbage_and_range),
		cmocka_unit_test(test_utf8_valid_rejects_overlong_surrogates_nul),
		cmocka_unit_test(test_ct_eq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
