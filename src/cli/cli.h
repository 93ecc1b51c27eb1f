/* The command table (git's git.c in spirit): one function per subcommand,
 * shared parsing of the configuration flags. Each command returns the
 * process exit code. */
#ifndef SG_CLI_H
#define SG_CLI_H

#include "core/config.h"

#include <stdbool.h>

struct cli_opt {
	const char *name;   /* "--admin-user" */
	const char **value; /* takes an argument; NULL for a flag */
	bool *flag;
	const char *help;
};

/* Parses argv[1..] (argv[0] is the command name): the common flags
 *   --config FILE, --data-dir DIR, --listen ADDR:PORT, --set SECTION.KEY=VALUE,
 *   --print-config, --help
 * and the command's own extra options; everything else is positional.
 * Builds the configuration in order defaults < file < environment < flags.
 * Returns 0 to go on, CLI_DONE when --help or --print-config was answered,
 * or 2 after printing a usage error. */
#define CLI_DONE (-1)
int cli_parse(int argc, char **argv, const char *usage, const struct cli_opt *extra,
	      struct config **cfg, char ***pos, int *npos);

/* Reads a secret from FILE ('-' = stdin): first line, newline stripped.
 * Returns a new string or NULL with a message printed. */
char *cli_read_secret(const char *path, const char *what);

int cli_main(int argc, char **argv);

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_openapi(int argc, char **argv);
int cmd_simulate(int argc, char **argv);

#endif
