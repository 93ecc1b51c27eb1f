/* Time-ordered random identifiers; see id.h. */
#include "id.h"

#include "util.h"

#include <string.h>

#include <sodium.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void id_new(const char *prefix, int64_t now_ms, char out[ID_MAX])
{
	unsigned char bytes[16];
	uint64_t t = (uint64_t)now_ms;
	for (int i = 0; i < 6; i++)
		bytes[i] = (unsigned char)(t >> (8 * (5 - i)));
	randombytes_buf(bytes + 6, 10);
	size_t pl = strlen(prefix);
	if (pl > 8)
		BUG("id prefix too long: %s", prefix);
	memcpy(out, prefix, pl);
	out[pl] = '_';
	char *p = out + pl + 1;
	/* 128 bits -> 26 base32 digits; the top digit holds 3 bits. */
	for (int i = 0; i < 26; i++) {
		int bit = 128 - 5 * (26 - i); /* top bit of this digit, counted from the MSB */
		unsigned v = 0;
		for (int b = 0; b < 5; b++) {
			int pos = bit + b; /* bit position counted from the top, may be negative */
			v <<= 1;
			if (pos >= 0)
				v |= (bytes[pos / 8] >> (7 - pos % 8)) & 1;
		}
		p[i] = crockford[v];
	}
	p[26] = '\0';
}

bool id_valid(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (!s || strncmp(s, prefix, pl) != 0 || s[pl] != '_')
		return false;
	s += pl + 1;
	if (strlen(s) != 26 || s[0] > '7')
		return false;
	for (int i = 0; i < 26; i++)
		if (!strchr(crockford, s[i]) || !s[i])
			return false;
	return true;
}
