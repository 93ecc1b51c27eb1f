/* Structured logs: one logfmt line per event on stderr,
 *   ts=2026-11-29T14:35:27.123Z level=info msg="request" req=... status=201
 * Values are quoted and escaped when needed. Callers never pass passwords,
 * tokens or device keys: the HTTP layer logs method, route and status only. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
int log_level_parse(const char *s, enum log_level *out);

/* Whether a line at lvl would be written: callers skip building costly fields. */
bool log_enabled(enum log_level lvl);

/* fields: alternating key, value C strings, ending with NULL. */
void log_kv(enum log_level lvl, const char *msg, ...);

#define log_info(msg, ...) log_kv(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_kv(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_kv(LOG_ERROR, msg, __VA_ARGS__)

#endif
