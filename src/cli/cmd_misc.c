/* Small commands: version, routes (the route table as JSON), openapi. */
#include "cli/cli.h"
#include "store/store.h"

#include "core/util.h"
#include "http/openapi.h"
#include "http/router.h"
#include "registry/resource.h"

#include <stdio.h>

#ifndef SG_VERSION
#define SG_VERSION "dev"
#endif

/* These commands take no arguments but --help: 0 to go on, else the exit code. */
static int no_args(int argc, char **argv, const char *usage, const char *what)
{
	for (int i = 1; i < argc; i++) {
		if (str_eq(argv[i], "--help") || str_eq(argv[i], "-h")) {
			printf("usage: %s\n\n%s\n", usage, what);
			return CLI_DONE;
		}
		fprintf(stderr, "%s: unexpected argument '%s'\nusage: %s\n", usage, argv[i], usage);
		return 2;
	}
	return 0;
}

int cmd_version(int argc, char **argv)
{
	int rc = no_args(argc, argv, "safeguard version", "Prints the version and the database engine in use.");
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	printf("safeguard %s (%s)\n", SG_VERSION, store_engine());
	return 0;
}

static int dump(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	puts(s);
	free(s);
	return 0;
}

int cmd_routes(int argc, char **argv)
{
	int rc = no_args(argc, argv, "safeguard routes",
			 "Prints the HTTP route table as JSON: method, path, policy resource and action.");
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	return dump(router_describe());
}

int cmd_openapi(int argc, char **argv)
{
	int rc = no_args(argc, argv, "safeguard openapi",
			 "Prints the OpenAPI 3.1 description of the API (docs/openapi.json).");
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	resources_init();
	rc = dump(openapi_generate(SG_VERSION));
	resources_release();
	return rc;
}
