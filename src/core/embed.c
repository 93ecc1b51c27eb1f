/* Lookup in the embedded file tables. */
#include "embed.h"

#include <string.h>

const struct embedded_file *embed_find(const struct embedded_file *files, const char *name)
{
	for (; files->name; files++)
		if (strcmp(files->name, name) == 0)
			return files;
	return NULL;
}
