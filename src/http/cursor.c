/* Sealed list cursors; see cursor.h. */
#include "http/cursor.h"

#include "core/util.h"
#include "http/http.h"
#include "http/router.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_MAX (NONCE + CURSOR_VALUE_MAX + TAG)

void cursor_key_derive(unsigned char key[CURSOR_KEY_BYTES], const unsigned char master[32])
{
	crypto_kdf_derive_from_key(key, CURSOR_KEY_BYTES, 1, "sgcursor", master);
}

/* What a cursor is bound to: who asks, on which route, with which filters. */
static char *bound_to(const struct req *r, const char *scope)
{
	return xasprintf("%s\n%s\n%s\n%s", r->actor.id, r->actor.org_id,
			 r->route ? r->route->pattern : r->path, scope ? scope : "");
}

char *cursor_seal(const struct req *r, const char *scope, const char *value)
{
	size_t n = strlen(value);
	if (n > CURSOR_VALUE_MAX)
		BUG("cursor value too long");
	unsigned char sealed[SEALED_MAX];
	randombytes_buf(sealed, NONCE);
	char *ad = bound_to(r, scope);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + NONCE, &clen, (const unsigned char *)value, n,
						   (const unsigned char *)ad, strlen(ad), NULL, sealed,
						   r->env->cursor_key);
	free(ad);
	size_t blen = sodium_base64_ENCODED_LEN(NONCE + clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = xmalloc(blen);
	sodium_bin2base64(out, blen, sealed, NONCE + clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

bool cursor_open(const struct req *r, const char *scope, const char *cursor, char *out, size_t outsz)
{
	unsigned char sealed[SEALED_MAX];
	size_t len;
	if (strlen(cursor) > sodium_base64_ENCODED_LEN(SEALED_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    sodium_base642bin(sealed, sizeof(sealed), cursor, strlen(cursor), NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    len < NONCE + TAG)
		return false;
	char plain[CURSOR_VALUE_MAX + 1];
	unsigned long long plen;
	char *ad = bound_to(r, scope);
	int rc = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL,
							    sealed + NONCE, len - NONCE,
							    (const unsigned char *)ad, strlen(ad), sealed,
							    r->env->cursor_key);
	free(ad);
	if (rc || plen >= outsz || plen > CURSOR_VALUE_MAX)
		return false;
	memcpy(out, plain, plen);
	out[plen] = '\0';
	return true;
}
