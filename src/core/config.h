/* Configuration: built-in defaults, then an INI file, then environment
 * variables SAFEGUARD_<SECTION>_<KEY>, then command-line flags; the last one
 * wins. Every key is declared in config.c's table with its type, so an unknown
 * key or a bad value is an error at start, never a surprise later. */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config;

/* Returns a new configuration holding the defaults; free with config_free(). */
struct config *config_new(void);
void config_free(struct config *cfg);

/* Reads an INI file. On error returns SG_EINVAL/SG_EIO and writes a message
 * naming file:line into err (errsz bytes). */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz);
/* Applies SAFEGUARD_<SECTION>_<KEY> variables from environ. */
int config_load_env(struct config *cfg, char *err, size_t errsz);
/* Sets "section.key" to value (flags). Validates the value's type. */
int config_set(struct config *cfg, const char *name, const char *value, char *err,
	       size_t errsz);

/* Typed getters; the key must be declared (else BUG). Values are validated on set. */
const char *config_str(const struct config *cfg, const char *name);
int64_t config_int(const struct config *cfg, const char *name);
bool config_bool(const struct config *cfg, const char *name);

/* Writes the effective configuration as INI, secrets replaced by "(hidden)". */
void config_print(const struct config *cfg, FILE *out);

#endif
