/* password: NIST SP 800-63B rules, no composition rules; guessable ones
 * refused with a reason (issue 10, item 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core/err.h"
#include "registry/password.h"

static void refused(const char *pw, const char *user, const char *why_part)
{
	char why[200] = "";
	int rc = password_check(pw, user, why, sizeof(why));
	if (rc != SG_EINVAL || !strstr(why, why_part))
		fail_msg("'%s' (user %s): rc %d, '%s'; expected a refusal naming '%s'", pw, user, rc, why, why_part);
}

static void test_guessable_passwords_are_refused(void **s)
{
	(void)s;
	refused("aaaaaaaaaaaa", NULL, "different characters");
	refused("abababababab", NULL, "different characters");
	refused("password1234", NULL, "dictionary word");
	refused("Summer2024!!", NULL, "dictionary word");
	refused("123456789012", NULL, "too easy to guess");
	refused("qwertyuiop12", NULL, "too easy to guess");
	refused("wei.jun.2024!", "wei.jun", "user name");
	refused("my safeguard pass", NULL, "name of this service");
	refused("first admin passphrase 1", "admin", "user name");
}

static void test_long_unrelated_words_pass(void **s)
{
	(void)s;
	char why[200];
	const char *ok[] = {"first admin passphrase 1", "correct horse battery staple", "a new long passphrase 7",
			    "mango river 42 quietly", "天空 海洋 山脉 河流 7", NULL};
	for (int i = 0; ok[i]; i++)
		if (password_check(ok[i], "wei.jun", why, sizeof(why)))
			fail_msg("'%s' refused: %s", ok[i], why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guessable_passwords_are_refused),
		cmocka_unit_test(test_long_unrelated_words_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
