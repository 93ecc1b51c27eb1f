/* List cursors that tell the caller nothing: the position a page ended at
 * (often the id of a record the caller may not see, such as the real id of a
 * pseudonymous person) is encrypted and authenticated with a key derived from
 * the installation's signing key, and bound to the caller (user and
 * organisation), the route and the query's filters. A cursor changed by one
 * bit, replayed by another user, or used with other filters is refused. */
#ifndef SG_CURSOR_H
#define SG_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

struct req;

#define CURSOR_KEY_BYTES 32
#define CURSOR_VALUE_MAX 96

/* Derives the cursor key from a 32-byte master secret (the audit signing
 * key's seed), so that cursors survive a restart. */
void cursor_key_derive(unsigned char key[CURSOR_KEY_BYTES], const unsigned char master[32]);

/* Seals value (at most CURSOR_VALUE_MAX bytes) for this caller, route and
 * scope (the query's filters, canonical). Returns a new URL-safe string,
 * free with free(). */
char *cursor_seal(const struct req *r, const char *scope, const char *value);

/* Opens a cursor sealed by cursor_seal for the same caller, route and scope.
 * true with the value in out; false when it is not one (the caller answers
 * 400 "cursor must be the `next` value of a previous page"). */
bool cursor_open(const struct req *r, const char *scope, const char *cursor, char *out, size_t outsz);

#endif
