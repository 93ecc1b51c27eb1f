/* Names of the project-wide error codes. */
#include "err.h"

const char *err_str(int code)
{
	switch (code) {
	case SG_OK: return "ok";
	case SG_EINVAL: return "invalid input";
	case SG_ENOTFOUND: return "not found";
	case SG_EEXIST: return "already exists";
	case SG_ECONFLICT: return "conflict";
	case SG_EFORBIDDEN: return "forbidden";
	case SG_EAUTH: return "not authenticated";
	case SG_EIO: return "I/O error";
	case SG_ETOOBIG: return "too large";
	case SG_EBUSY: return "busy";
	case SG_EINTERNAL: return "internal error";
	case SG_ENOSPC: return "no space left on the store's disk";
	}
	return "unknown error";
}
