/* logfmt writer; one write(2) per line so lines from threads never interleave. */
#include "log.h"

#include "clock.h"
#include "err.h"
#include "util.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < ARRAY_LEN(level_names); i++) {
		if (str_eq(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return SG_EINVAL;
}

static void add_value(struct sb *sb, const char *v)
{
	bool plain = *v != '\0';
	for (const char *p = v; *p; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f) {
			plain = false;
			break;
		}
	}
	if (plain) {
		sb_adds(sb, v);
		return;
	}
	sb_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			sb_addc(sb, '\\');
			sb_addc(sb, (char)*p);
		} else if (*p == '\n') {
			sb_adds(sb, "\\n");
		} else if (*p < ' ') {
			sb_addf(sb, "\\x%02x", *p);
		} else {
			sb_addc(sb, (char)*p);
		}
	}
	sb_addc(sb, '"');
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= min_level;
}

void log_kv(enum log_level lvl, const char *msg, ...)
{
	if (lvl < min_level)
		return;
	struct sb sb;
	char ts[25];
	sb_init(&sb);
	time_format_ms(clock_now_ms(), ts);
	sb_addf(&sb, "ts=%s level=%s msg=", ts, level_names[lvl]);
	add_value(&sb, msg);
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		sb_addc(&sb, ' ');
		sb_adds(&sb, k);
		sb_addc(&sb, '=');
		add_value(&sb, v ? v : "");
	}
	va_end(ap);
	sb_addc(&sb, '\n');
	ssize_t off = 0;
	while ((size_t)off < sb.len) {
		ssize_t n = write(2, sb.buf + off, sb.len - (size_t)off);
		if (n <= 0)
			break;
		off += n;
	}
	sb_release(&sb);
}
