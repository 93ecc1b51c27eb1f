/* safeguard user: account administration from the shell, for recovery when
 * no admin can log in. add | passwd | disable | enable | list. */
#include "cli/cli.h"

#include "app.h"
#include "cli/common.h"
#include "registry/accounts.h"
#include "core/clock.h"
#include "core/err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct upd_job {
	const char *id, *org;
	json_t *patch;
	struct verr e;
};

static int upd_fn(struct db *db, void *arg)
{
	struct upd_job *j = arg;
	struct write_ctx w = {.actor = "cli", .now_ms = clock_now_ms(), .err = &j->e};
	return resource_update(db, resource_find("users"), j->org, j->id, j->patch, &w, NULL);
}

static int find_user(struct store *st, const char *username, char id[48], char org[48])
{
	struct db *db = store_reader(st);
	if (!db)
		return SG_EIO;
	int rc = account_find_user(db, username, id, org);
	store_reader_put(st, db);
	return rc;
}

static void print_user(void *ctx, const char *username, const char *role, const char *org_name, bool disabled)
{
	(void)ctx;
	printf("%-24s %-18s %-8s %s\n", username, role, disabled ? "disabled" : "active", org_name);
}

static int list_users(struct store *st)
{
	struct db *db = store_reader(st);
	if (!db)
		return 1;
	printf("%-24s %-18s %-8s %s\n", "USERNAME", "ROLE", "STATE", "ORGANISATION");
	int rc = account_list_users(db, print_user, NULL);
	store_reader_put(st, db);
	return rc ? 1 : 0;
}

int cmd_user(int argc, char **argv)
{
	const char *username = NULL, *role = NULL, *pwfile = NULL, *org = NULL;
	const struct cli_opt opts[] = {
		{"--username", &username, NULL, "the account"},
		{"--role", &role, NULL, "role for add: admin, security_manager, duty_officer, liaison, viewer or person (default viewer)"},
		{"--password-file", &pwfile, NULL, "read the password from FILE ('-' = stdin)"},
		{"--org", &org, NULL, "organisation name or id for add (default: the first organisation)"},
		{0},
	};
	struct config *cfg;
	char **pos;
	int npos;
	const char *usage = "safeguard user add|passwd|disable|enable|list [--username U] [--role R] [--password-file F] [--org ORG]";
	int rc = cli_parse(argc, argv, usage, opts, &cfg, &pos, &npos);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	const char *sub = npos ? pos[0] : NULL;
	free(pos);
	if (!sub || (!str_eq(sub, "list") && !username) ||
	    (!str_eq(sub, "add") && !str_eq(sub, "passwd") && !str_eq(sub, "disable") &&
	     !str_eq(sub, "enable") && !str_eq(sub, "list"))) {
		fprintf(stderr, "usage: %s\n", usage);
		config_free(cfg);
		return 2;
	}
	struct app app;
	char err[512];
	if (app_open(&app, cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard user: %s\n", err);
		return 1;
	}
	rc = 1;
	if (str_eq(sub, "list")) {
		rc = list_users(app.store);
		goto out;
	}
	char *pw = NULL;
	if (str_eq(sub, "add") || str_eq(sub, "passwd")) {
		if (!pwfile) {
			fprintf(stderr, "safeguard user %s: --password-file is required ('-' reads stdin)\n", sub);
			goto out;
		}
		if (!(pw = cli_read_secret(pwfile, "password")))
			goto out;
	}
	struct verr e = {0};
	if (str_eq(sub, "add")) {
		char oid[48];
		if (cli_find_org(app.store, org, oid)) {
			fprintf(stderr, "safeguard user add: no such organisation\n");
		} else {
			json_t *body = json_pack("{s:s,s:s,s:s}", "username", username, "password", pw,
						 "role", role ? role : "viewer");
			int r2 = cli_create(app.store, "users", oid, body, NULL, &e, NULL);
			json_decref(body);
			if (r2)
				fprintf(stderr, "safeguard user add: %s %s\n", e.pointer, e.detail[0] ? e.detail : err_str(r2));
			else
				printf("user %s added\n", username), rc = 0;
		}
	} else {
		struct upd_job j = {0};
		char id[48], oid[48];
		if (find_user(app.store, username, id, oid)) {
			fprintf(stderr, "safeguard user %s: no such user '%s'\n", sub, username);
		} else {
			j.id = id;
			j.org = oid;
			j.patch = json_pack("{s:s}", "username", username); /* unchanged; for the password rules */
			if (str_eq(sub, "passwd")) {
				json_t *body = json_pack("{s:s}", "password", pw);
				int r2 = resource_apply(resource_find("users"), j.patch, body, true, &j.e);
				json_decref(body);
				if (r2) {
					fprintf(stderr, "safeguard user passwd: %s\n", j.e.detail);
					json_decref(j.patch);
					goto pwout;
				}
			} else {
				json_object_set_new(j.patch, "disabled", json_boolean(str_eq(sub, "disable")));
			}
			int r2 = store_write(app.store, upd_fn, &j);
			json_decref(j.patch);
			if (r2)
				fprintf(stderr, "safeguard user %s: %s\n", sub, j.e.detail[0] ? j.e.detail : err_str(r2));
			else
				printf("user %s: %s done\n", username, sub), rc = 0;
		}
	}
pwout:
	if (pw) {
		sodium_memzero(pw, strlen(pw));
		free(pw);
	}
out:
	app_close(&app);
	return rc;
}
