/* safeguard init: creates the database, the installation's first
 * organisation and its first admin. No default credentials: the password
 * comes from a file or stdin, or a strong one is generated and shown once. */
#include "cli/cli.h"

#include "app.h"
#include "cli/common.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "registry/resource.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_init(int argc, char **argv)
{
	const char *user = "admin", *pwfile = NULL, *org_name = "Security Office", *org_kind = "employer";
	const struct cli_opt opts[] = {
		{"--admin-user", &user, NULL, "username of the first admin (default admin)"},
		{"--admin-password-file", &pwfile, NULL, "read the admin password from FILE ('-' = stdin); without it a password is generated and printed once"},
		{"--org-name", &org_name, NULL, "name of the first organisation"},
		{"--org-kind", &org_kind, NULL, "employer (default), host_security or other"},
		{0},
	};
	struct config *cfg;
	int rc = cli_parse(argc, argv, "safeguard init [--data-dir DIR] [--admin-user NAME] [--admin-password-file FILE]",
			   opts, &cfg, NULL, NULL);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	char *pw = NULL;
	char generated[64] = "";
	if (pwfile) {
		pw = cli_read_secret(pwfile, "admin password");
		if (!pw) {
			config_free(cfg);
			return 1;
		}
	} else {
		secret_new("", generated, sizeof(generated));
		pw = xstrdup(generated);
	}
	struct app app;
	char err[512];
	if (app_open(&app, cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard init: %s\n", err);
		free(pw);
		return 1;
	}
	rc = 1;
	if (cli_initialised(app.store) != 0) {
		fprintf(stderr, "safeguard init: %s is already initialised; use 'safeguard user' to manage accounts\n",
			config_str(app.cfg, "store.data_dir"));
		goto out;
	}
	struct verr e = {0};
	json_t *org = json_pack("{s:s,s:s}", "name", org_name, "kind", org_kind);
	json_t *adm = json_pack("{s:s,s:s,s:s}", "username", user, "password", pw, "role", "admin");
	rc = cli_create_org(app.store, org, adm, true, &e, NULL);
	json_decref(org);
	json_decref(adm);
	if (rc) {
		fprintf(stderr, "safeguard init: %s%s%s\n", e.pointer, e.pointer[0] ? ": " : "", e.detail[0] ? e.detail : err_str(rc));
		rc = 1;
		goto out;
	}
	printf("initialised %s\n", config_str(app.cfg, "store.data_dir"));
	printf("organisation: %s\nadmin user:   %s\n", org_name, user);
	if (!pwfile)
		printf("admin password (shown once, change it after the first login): %s\n", generated);
	rc = 0;
out:
	sodium_memzero(pw, strlen(pw));
	sodium_memzero(generated, sizeof(generated));
	free(pw);
	app_close(&app);
	return rc;
}
