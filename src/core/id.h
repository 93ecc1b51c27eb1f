/* Object identifiers: a type prefix and 26 Crockford base32 characters
 * holding 48 bits of creation time (ms) and 80 random bits, e.g.
 * "per_01JDX5Q7Y8K3M2N4P6R8S0T2V4". They sort by creation time, reveal no
 * counts, and cannot be guessed. */
#ifndef SG_ID_H
#define SG_ID_H

#include <stdbool.h>
#include <stdint.h>

#define ID_MAX 40

/* Writes a new id for prefix (at most 8 chars) into out[ID_MAX]. */
void id_new(const char *prefix, int64_t now_ms, char out[ID_MAX]);
/* True when s is a well-formed id with the given prefix. */
bool id_valid(const char *s, const char *prefix);

#endif
