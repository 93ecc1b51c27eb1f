/* Dependency-free helpers: allocation that aborts on OOM, a growable string
 * buffer (git's strbuf in spirit), bounded string helpers and hex/base64url.
 * Nothing here does I/O except BUG(), which logs and aborts. */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A broken invariant is a bug: log file:line and abort. */
#define BUG(...) sg_bug(__FILE__, __LINE__, __VA_ARGS__)
void sg_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* Allocation never fails: out of memory aborts the process. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* Zeroed, on an align boundary (a power of two, a multiple of sizeof(void *));
 * free() releases it. */
void *xcalloc_aligned(size_t align, size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable NUL-terminated byte buffer. buf is never NULL after sb_init. */
struct sb {
	char *buf;
	size_t len;
	size_t cap;
};
void sb_init(struct sb *sb);
void sb_release(struct sb *sb);
void sb_add(struct sb *sb, const void *data, size_t n);
void sb_adds(struct sb *sb, const char *s);
void sb_addc(struct sb *sb, char c);
void sb_addf(struct sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(struct sb *sb, const char *fmt, va_list ap);
void sb_reset(struct sb *sb);
/* Hands the buffer to the caller (free with free()); sb is re-initialised. */
char *sb_detach(struct sb *sb);

/* Copies at most dstsz-1 bytes and always terminates; returns strlen(src). */
size_t sg_strlcpy(char *dst, const char *src, size_t dstsz);
bool str_eq(const char *a, const char *b); /* NULL-safe */
bool str_startswith(const char *s, const char *prefix);

/* Strict integer parse of the whole string; 0 or SG_EINVAL. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int parse_double(const char *s, double *out);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* FNV-1a of a string, for in-memory hash tables (not for anything an
 * attacker's input could flood: the live index and the rate buckets key on
 * device ids the server issued). */
uint32_t str_hash32(const char *s);
/* base64url without padding; returns a new string. */
char *b64url_encode(const unsigned char *in, size_t n);

/* Constant-time comparison of two strings of possibly different length. */
bool str_ct_eq(const char *a, const char *b);

/* True when s is valid UTF-8 without NUL bytes among its first n bytes. */
bool utf8_valid(const char *s, size_t n);

/* True when the UTF-8 string s holds only characters fit for a text member:
 * no C0 control but tab, LF and CR (those three only when multiline), no DEL
 * or C1 control, no surrogate, no Unicode noncharacter (U+FDD0..U+FDEF and
 * U+xxFFFE/U+xxFFFF: XML cannot carry U+FFFE/U+FFFF). */
bool text_clean(const char *s, bool multiline);

/* A copy of s that any XML 1.0 document can carry: every byte sequence that
 * is not valid UTF-8 and every character text_clean() refuses (tab, LF and
 * CR allowed) becomes U+FFFD. Free with free(). */
char *xml_text(const char *s);

/* Appends s as one CSV cell (RFC 4180 quoting). A text cell that a
 * spreadsheet would run as a formula (starting with =, +, -, @, tab or CR)
 * is neutralised with a leading apostrophe (OWASP's rule for CSV
 * injection); numbers are written with text=false and left alone. */
void sb_add_csv(struct sb *sb, const char *s, bool text);

#endif
