/* Validation failures; see verr.h. */
#include "core/verr.h"

#include <stdarg.h>
#include <stdio.h>

void verr_set(struct verr *e, int status, const char *pointer, const char *fmt, ...)
{
	va_list ap;
	if (!e)
		return;
	e->status = status;
	snprintf(e->pointer, sizeof(e->pointer), "%s", pointer);
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}
