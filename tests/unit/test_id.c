/* core/id: format, validation, time order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "core/id.h"

static void test_ids_are_valid_unique_and_time_ordered(void **state)
{
	(void)state;
	char a[ID_MAX], b[ID_MAX], c[ID_MAX];
	id_new("per", 1000, a);
	id_new("per", 1000, b);
	id_new("per", 2000, c);
	assert_int_equal(strlen(a), 4 + 26);
	assert_true(id_valid(a, "per"));
	assert_false(id_valid(a, "sit"));
	assert_string_not_equal(a, b);
	assert_true(strcmp(a, c) < 0 && strcmp(b, c) < 0);
}

static void test_id_valid_rejects_malformed(void **state)
{
	(void)state;
	assert_false(id_valid("per_", "per"));
	assert_false(id_valid("per_01M8KWF4B0G0PT2N4YH3703B9", "per"));   /* 25 chars */
	assert_false(id_valid("per_01M8KWF4B0G0PT2N4YH3703B9U", "per"));  /* U not Crockford */
	assert_false(id_valid("per_91M8KWF4B0G0PT2N4YH3703B9W", "per"));  /* overflows 128 bits */
	assert_false(id_valid("per_01m8kwf4b0g0pt2n4yh3703b9w", "per"));  /* lower case */
	assert_true(id_valid("per_01M8KWF4B0G0PT2N4YH3703B9W", "per"));
	assert_false(id_valid(NULL, "per"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_are_valid_unique_and_time_ordered),
		cmocka_unit_test(test_id_valid_rejects_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
