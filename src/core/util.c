/* Allocation, string buffers and small string helpers; see util.h. */
#include "util.h"
#include "err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void sg_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xcalloc_aligned(size_t align, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	size_t bytes = n * size;
	if (!bytes)
		bytes = 1;
	void *p = NULL;
	if (posix_memalign(&p, align, bytes) != 0)
		oom(bytes);
	memset(p, 0, bytes);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct sb sb;
	va_list ap;
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	return sb_detach(&sb);
}

static char sb_empty[1];

void sb_init(struct sb *sb)
{
	sb->buf = sb_empty;
	sb->len = 0;
	sb->cap = 0;
}

void sb_release(struct sb *sb)
{
	if (sb->cap)
		free(sb->buf);
	sb_init(sb);
}

static void sb_grow(struct sb *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	if (sb->cap) {
		sb->buf = xrealloc(sb->buf, cap);
	} else {
		sb->buf = xmalloc(cap);
		sb->buf[0] = '\0';
	}
	sb->cap = cap;
}

void sb_add(struct sb *sb, const void *data, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(struct sb *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct sb *sb, char c)
{
	sb_add(sb, &c, 1);
}

void sb_vaddf(struct sb *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		BUG("bad format %s", fmt);
	sb_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

void sb_reset(struct sb *sb)
{
	sb->len = 0;
	if (sb->cap)
		sb->buf[0] = '\0';
}

char *sb_detach(struct sb *sb)
{
	char *p = sb->cap ? sb->buf : xstrdup("");
	sb_init(sb);
	return p;
}

size_t sg_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t n = strlen(src);
	if (dstsz) {
		size_t c = n < dstsz - 1 ? n : dstsz - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	if (!s || !*s)
		return SG_EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return SG_EINVAL;
	*out = v;
	return 0;
}

int parse_double(const char *s, double *out)
{
	char *end;
	if (!s || !*s)
		return SG_EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return SG_EINVAL;
	*out = v;
	return 0;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *b64url_encode(const unsigned char *in, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = xmalloc(len);
	sodium_bin2base64(out, len, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

bool str_ct_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}


/* Decodes one UTF-8 character at *p (end bounds it); -1 for an invalid
 * sequence, after which *p has moved one byte. */
static long utf8_next(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *q = *p;
	unsigned c = *q;
	size_t k;
	unsigned min;
	if (c < 0x80) {
		*p = q + 1;
		return (long)c;
	} else if ((c & 0xE0) == 0xC0) {
		k = 1, min = 0x80, c &= 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		k = 2, min = 0x800, c &= 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		k = 3, min = 0x10000, c &= 0x07;
	} else {
		*p = q + 1;
		return -1;
	}
	if ((size_t)(end - q) <= k) {
		*p = q + 1;
		return -1;
	}
	for (size_t i = 1; i <= k; i++) {
		if ((q[i] & 0xC0) != 0x80) {
			*p = q + 1;
			return -1;
		}
		c = (c << 6) | (q[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
		*p = q + 1;
		return -1;
	}
	*p = q + k + 1;
	return (long)c;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end)
		if (*p == 0 || utf8_next(&p, end) < 0)
			return false;
	return true;
}

static bool char_clean(long c, bool multiline)
{
	if (c < 0)
		return false;
	if (c < 0x20)
		return multiline && (c == '\t' || c == '\n' || c == '\r');
	if (c >= 0x7F && c <= 0x9F)
		return false;
	if (c >= 0xFDD0 && c <= 0xFDEF)
		return false;
	if ((c & 0xFFFE) == 0xFFFE)
		return false;
	return true;
}

bool text_clean(const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end)
		if (!char_clean(utf8_next(&p, end), multiline))
			return false;
	return true;
}

char *xml_text(const char *s)
{
	struct sb out;
	sb_init(&out);
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		const unsigned char *start = p;
		long c = utf8_next(&p, end);
		/* XML 1.0 allows C1 controls and DEL; the rest of text_clean's refusals it cannot carry */
		if (char_clean(c, true) || (c >= 0x7F && c <= 0x9F))
			sb_add(&out, start, (size_t)(p - start));
		else
			sb_adds(&out, "\xEF\xBF\xBD");
	}
	return sb_detach(&out);
}

void sb_add_csv(struct sb *sb, const char *s, bool text)
{
	bool formula = text && s[0] && strchr("=+-@\t\r", s[0]);
	bool quote = formula || s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' ') || strpbrk(s, ",\"\r\n");
	if (!quote) {
		sb_adds(sb, s);
		return;
	}
	sb_addc(sb, '"');
	if (formula)
		sb_addc(sb, '\'');
	for (; *s; s++) {
		if (*s == '"')
			sb_addc(sb, '"');
		sb_addc(sb, *s);
	}
	sb_addc(sb, '"');
}

uint32_t str_hash32(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
