/* Small commands: version, routes (the route table as JSON), openapi. */
#include "cli/cli.h"

#include "core/util.h"
#include "http/openapi.h"
#include "http/router.h"
#include "registry/resource.h"

#include <sqlite3.h>
#include <stdio.h>

#ifndef SG_VERSION
#define SG_VERSION "dev"
#endif

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("safeguard %s (sqlite %s)\n", SG_VERSION, sqlite3_libversion());
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
	(void)argc;
	(void)argv;
	return dump(router_describe());
}

int cmd_openapi(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	resources_init();
	int rc = dump(openapi_generate(SG_VERSION));
	resources_release();
	return rc;
}
