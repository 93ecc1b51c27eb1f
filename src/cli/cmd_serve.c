/* safeguard serve: run the HTTP server until SIGTERM/SIGINT. */
#include "cli/cli.h"

#include "app.h"
#include "cli/common.h"

#include <stdio.h>

int cmd_serve(int argc, char **argv)
{
	struct config *cfg;
	int rc = cli_parse(argc, argv, "safeguard serve [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]",
			   NULL, &cfg, NULL, NULL);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	app_block_signals();
	struct app app;
	char err[512];
	if (app_open(&app, cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard serve: %s\n", err);
		return 1;
	}
	if (cli_initialised(app.store) != 1) {
		fprintf(stderr, "safeguard serve: %s holds no organisation yet; run 'safeguard init' first\n",
			config_str(app.cfg, "store.data_dir"));
		app_close(&app);
		return 1;
	}
	rc = app_serve(&app);
	app_close(&app);
	return rc;
}
