/* Command table and shared flag parsing; see cli.h. */
#include "cli/cli.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cmd commands[] = {
	{"init", cmd_init, "create the database and the first administrator"},
	{"serve", cmd_serve, "run the server"},
	{"user", cmd_user, "manage user accounts from the command line (recovery)"},
	{"import", cmd_import, "import people, sites, vehicles or devices from CSV or GeoJSON"},
	{"export", cmd_export, "export people, sites, vehicles or devices as CSV or GeoJSON"},
	{"audit", cmd_audit, "audit verify: check the audit trail and the registry against it"},
	{"demo", cmd_demo, "create a demo database with two organisations and serve it"},
	{"simulate", cmd_simulate, "moving devices reporting to a running server (OsmAnd protocol)"},
	{"version", cmd_version, "print the version"},
	{"routes", cmd_routes, "print the HTTP route table as JSON"},
	{"openapi", cmd_openapi, "print the OpenAPI description generated from the routes"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: safeguard COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'safeguard COMMAND --help' describes a command's options.\n");
}

int cli_main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "safeguard: libsodium failed to initialise\n");
		return 1;
	}
	const char *clock_file = getenv("SAFEGUARD_TEST_CLOCK_OFFSET_FILE");
	if (clock_file && clock_use_offset_file(clock_file))
		fprintf(stderr, "safeguard: TEST CLOCK in use (offset from %s); never set this in production\n",
			clock_file);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (str_eq(argv[1], "--help") || str_eq(argv[1], "-h") || str_eq(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (str_eq(argv[1], "--version"))
		return cmd_version(1, argv + 1);
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (str_eq(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "safeguard: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}

static const char common_help[] =
	"common options:\n"
	"  --config FILE            INI configuration file\n"
	"  --data-dir DIR           data directory (store.data_dir)\n"
	"  --listen ADDR:PORT       HTTP address (server.listen)\n"
	"  --set SECTION.KEY=VALUE  any configuration key\n"
	"  --print-config           print the effective configuration (secrets hidden) and exit\n"
	"  --help                   this text\n"
	"Environment variables SAFEGUARD_<SECTION>_<KEY> override the file; flags override both.\n";

int cli_parse(int argc, char **argv, const char *usage_text, const struct cli_opt *extra,
	      struct config **out, char ***pos, int *npos)
{
	const char *config_file = NULL;
	bool print = false;
	char err[512];
	/* Flags are applied after the file and the environment: collect them first. */
	const char **sets = xcalloc((size_t)argc + 1, sizeof(*sets));
	int nsets = 0;
	char **positional = xcalloc((size_t)argc + 1, sizeof(*positional));
	int np = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		bool need = str_eq(a, "--config") || str_eq(a, "--data-dir") || str_eq(a, "--listen") ||
			    str_eq(a, "--set");
		const struct cli_opt *o = NULL;
		for (int k = 0; extra && extra[k].name; k++)
			if (str_eq(a, extra[k].name))
				o = &extra[k];
		if (need || (o && o->value)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "safeguard %s: %s needs a value\n", argv[0], a);
				goto usage_err;
			}
			val = argv[++i];
		}
		if (str_eq(a, "--help") || str_eq(a, "-h")) {
			printf("usage: %s\n", usage_text);
			for (int k = 0; extra && extra[k].name; k++)
				printf("  %-24s %s\n", extra[k].name, extra[k].help);
			printf("%s", common_help);
			free(sets);
			free(positional);
			return CLI_DONE;
		} else if (str_eq(a, "--print-config")) {
			print = true;
		} else if (str_eq(a, "--config")) {
			config_file = val;
		} else if (str_eq(a, "--data-dir")) {
			sets[nsets++] = xasprintf("store.data_dir=%s", val);
		} else if (str_eq(a, "--listen")) {
			sets[nsets++] = xasprintf("server.listen=%s", val);
		} else if (str_eq(a, "--set")) {
			sets[nsets++] = xstrdup(val);
		} else if (o) {
			if (o->value)
				*o->value = val;
			else if (o->flag)
				*o->flag = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "safeguard %s: unknown option %s\n", argv[0], a);
			goto usage_err;
		} else {
			positional[np++] = argv[i];
		}
	}
	struct config *cfg = config_new();
	if (!config_file)
		config_file = getenv("SAFEGUARD_CONFIG");
	if (config_file && config_load_file(cfg, config_file, err, sizeof(err))) {
		fprintf(stderr, "safeguard: %s\n", err);
		goto cfg_err;
	}
	if (config_load_env(cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard: %s\n", err);
		goto cfg_err;
	}
	for (int i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');
		if (!eq) {
			fprintf(stderr, "safeguard: --set takes SECTION.KEY=VALUE, not '%s'\n", sets[i]);
			goto cfg_err;
		}
		*eq = '\0';
		if (config_set(cfg, sets[i], eq + 1, err, sizeof(err))) {
			fprintf(stderr, "safeguard: %s\n", err);
			goto cfg_err;
		}
	}
	for (int i = 0; i < nsets; i++)
		free((void *)sets[i]);
	free(sets);
	if (print) {
		config_print(cfg, stdout);
		config_free(cfg);
		free(positional);
		return CLI_DONE;
	}
	*out = cfg;
	if (pos)
		*pos = positional;
	else
		free(positional);
	if (npos)
		*npos = np;
	return 0;
cfg_err:
	config_free(cfg);
	for (int i = 0; i < nsets; i++)
		free((void *)sets[i]);
	free(sets);
	free(positional);
	return 2;
usage_err:
	for (int i = 0; i < nsets; i++)
		free((void *)sets[i]);
	free(sets);
	free(positional);
	fprintf(stderr, "usage: %s\n", usage_text);
	return 2;
}

char *cli_read_secret(const char *path, const char *what)
{
	FILE *f = str_eq(path, "-") ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "safeguard: cannot read %s from %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	char buf[1100];
	char *line = fgets(buf, sizeof(buf), f);
	if (f != stdin)
		fclose(f);
	if (!line) {
		fprintf(stderr, "safeguard: %s: no %s found\n", path, what);
		return NULL;
	}
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	char *s = xstrdup(buf);
	sodium_memzero(buf, sizeof(buf));
	return s;
}
