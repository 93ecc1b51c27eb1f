/* The route table: every HTTP endpoint in one list, with the policy resource
 * and action it needs. Tests walk this table (via `safeguard routes`) to
 * check access route by route, and the OpenAPI description against it. */
#ifndef SG_ROUTER_H
#define SG_ROUTER_H

#include "http/http.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>

typedef void (*route_fn)(struct req *r);

#define RT_PUBLIC 1u   /* no authentication */
#define RT_NOAPI 2u    /* operational endpoint, not part of the OpenAPI description */
#define RT_DEVICE 4u   /* a device protocol: authenticated by the device key */
#define RT_WORKER 8u   /* a read that may take long (an export): on a worker, not the event loop */

struct route {
	const char *method;
	const char *pattern; /* "/api/v1/people/{id}": one {id} segment at most */
	route_fn fn;
	const char *resource; /* policy resource (NULL for public routes) */
	enum action action;
	unsigned flags;
	const char *summary;
};

/* Every route, the device protocols' included. */
const struct route *router_table(size_t *n);

/* Finds the route for method and path and copies the {id} segment into param.
 * Returns NULL when none matches; *path_known tells whether the path matched
 * with another method (405 rather than 404). */
const struct route *router_match(const char *method, const char *path, char *param,
				 size_t paramsz, bool *path_known);

/* The table as JSON: [{method, path, resource, action, public}]. */
json_t *router_describe(void);
/* The methods path accepts, as an Allow header value ("GET, HEAD, PATCH"). */
void router_allowed(const char *path, char *out, size_t outsz);

#endif
