/* Password rules after NIST SP 800-63B: 12 to 1024 characters, no
 * composition rules, and refused when easy to guess: a dictionary word (also
 * with digits or symbols around it, "Summer2024!"), a keyboard or number
 * sequence, a palindrome or a run of one character, too few different
 * characters, the user name in any form, or the service's own name. The
 * dictionary check is libpwquality's with cracklib's dictionary. */
#ifndef SG_PASSWORD_H
#define SG_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when pw is acceptable for username (may be NULL); otherwise SG_EINVAL
 * with the reason, a sentence for the user, in why. */
int password_check(const char *pw, const char *username, char *why, size_t whysz);

#endif
