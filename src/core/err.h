/* One project-wide error enum. Functions return 0 on success or a negative
 * SG_E* code; outputs go through out-parameters written only on success. */
#ifndef SG_ERR_H
#define SG_ERR_H

enum sg_err {
	SG_OK = 0,
	SG_EINVAL = -1,    /* bad input from a client, file or device */
	SG_ENOTFOUND = -2, /* no such object (or not visible to the actor) */
	SG_EEXIST = -3,    /* unique key already taken */
	SG_ECONFLICT = -4, /* object still referenced / state conflict */
	SG_EFORBIDDEN = -5,
	SG_EAUTH = -6,     /* not authenticated */
	SG_EIO = -7,       /* store or file I/O failed */
	SG_ETOOBIG = -8,
	SG_EBUSY = -9,     /* throttled / shutting down */
	SG_EINTERNAL = -10,
	SG_ENOSPC = -11,   /* the store's disk is full (nothing was written) */
};

/* Returns a static, human-readable name for an error code. */
const char *err_str(int code);

#endif
