/* Password rules; see password.h. */
#include "registry/password.h"

#include "core/err.h"
#include "core/util.h"

#include <ctype.h>
#include <pthread.h>
#include <pwquality.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pwquality_settings_t *settings;

/* No composition rules (minclass and the credits off); the checks that find
 * guessable passwords on. The length rule is ours (characters, not bytes). */
static const char *const options[] = {
	"minlen=0",  "minclass=0", "dcredit=0",   "ucredit=0",   "lcredit=0",     "ocredit=0",
	"difok=0",   "maxrepeat=0", "maxsequence=4", "maxclassrepeat=0", "dictcheck=1", "usercheck=1",
	"usersubstr=4", "gecoscheck=0", "badwords=safeguard", NULL,
};

static pwquality_settings_t *get_settings(void)
{
	if (!settings) {
		settings = pwquality_default_settings();
		if (!settings)
			BUG("libpwquality: out of memory");
		for (int i = 0; options[i]; i++)
			if (pwquality_set_option(settings, options[i]))
				BUG("libpwquality refuses option %s", options[i]);
	}
	return settings;
}

static size_t distinct(const char *s)
{
	bool seen[256] = {0};
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!seen[*p]) {
			seen[*p] = true;
			n++;
		}
	return n;
}

static void reason(int rc, char *why, size_t whysz)
{
	const char *r;
	switch (rc) {
	case PWQ_ERROR_CRACKLIB_CHECK: r = "it is a dictionary word, or a keyboard or number sequence"; break;
	case PWQ_ERROR_PALINDROME: r = "it reads the same backwards"; break;
	case PWQ_ERROR_USER_CHECK: r = "it contains the user name"; break;
	case PWQ_ERROR_BAD_WORDS: r = "it contains the name of this service"; break;
	case PWQ_ERROR_MAX_SEQUENCE: r = "it contains a long sequence such as 12345 or abcde"; break;
	case PWQ_ERROR_ROTATED:
	case PWQ_ERROR_CASE_CHANGES_ONLY:
	case PWQ_ERROR_TOO_SIMILAR: r = "it is too close to a word that is easy to guess"; break;
	default: r = "it is too easy to guess"; break;
	}
	snprintf(why, whysz, "password is too easy to guess: %s; a few unrelated words make a strong one", r);
}

int password_check(const char *pw, const char *username, char *why, size_t whysz)
{
	if (distinct(pw) < 5) {
		snprintf(why, whysz, "password is too easy to guess: it has fewer than 5 different characters; "
				     "a few unrelated words make a strong one");
		return SG_EINVAL;
	}
	/* The word inside: digits, symbols and spaces around a dictionary word
	 * add little ("password1234", "Summer2024!!"). */
	size_t n = strlen(pw), a = 0, b = n;
	while (a < n && !isalpha((unsigned char)pw[a]))
		a++;
	while (b > a && !isalpha((unsigned char)pw[b - 1]))
		b--;
	char *core = xstrndup(pw + a, b - a);
	pthread_mutex_lock(&mu);
	int rc = pwquality_check(get_settings(), pw, NULL, username, NULL);
	if (rc >= 0 && strlen(core) >= 4 && strlen(core) < n &&
	    pwquality_check(get_settings(), core, NULL, username, NULL) == PWQ_ERROR_CRACKLIB_CHECK)
		rc = PWQ_ERROR_CRACKLIB_CHECK;
	pthread_mutex_unlock(&mu);
	free(core);
	if (rc >= 0)
		return 0;
	if (rc == PWQ_ERROR_MEM_ALLOC || rc == PWQ_ERROR_FATAL_FAILURE)
		BUG("libpwquality failed (%d)", rc);
	reason(rc, why, whysz);
	return SG_EINVAL;
}
