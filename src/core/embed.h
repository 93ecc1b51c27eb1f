/* Files compiled into the binary by tools/embed.c (migrations, console,
 * OpenAPI). Each array ends with an entry whose name is NULL. */
#ifndef SG_EMBED_H
#define SG_EMBED_H

#include <stddef.h>

struct embedded_file {
	const char *name;
	const char *data; /* NUL-terminated */
	size_t len;
};

extern const struct embedded_file sg_migrations_sqlite[];
extern const struct embedded_file sg_web_files[];

/* Returns the entry named name, or NULL. */
const struct embedded_file *embed_find(const struct embedded_file *files, const char *name);

#endif
