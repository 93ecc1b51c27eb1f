/* Generates the OpenAPI 3.1 description from the route table and the
 * resource field tables. `safeguard openapi > docs/openapi.json` refreshes the
 * committed copy the server serves; a test fails when they differ or when a
 * route is missing from it. */
#ifndef SG_OPENAPI_H
#define SG_OPENAPI_H

#include <jansson.h>

/* Returns a new JSON document. */
json_t *openapi_generate(const char *version);

#endif
