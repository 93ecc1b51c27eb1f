/* safeguard audit verify: offline check of the hash chain, the signed
 * checkpoint and every registry row against the trail. Opens the database
 * read-only; exit 0 when intact, 1 when tampering was found, 2 on usage or
 * I/O errors. */
#include "cli/cli.h"

#include "audit/audit.h"
#include "core/err.h"
#include "core/util.h"
#include "registry/resource.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_audit(int argc, char **argv)
{
	const char *pkhex = NULL;
	const struct cli_opt opts[] = {
		{"--public-key", &pkhex, NULL, "pin the checkpoint key (hex); default DATA_DIR/audit-signing.pub"},
		{0},
	};
	struct config *cfg;
	char **pos;
	int npos;
	int rc = cli_parse(argc, argv, "safeguard audit verify [--data-dir DIR] [--public-key HEX]", opts,
			   &cfg, &pos, &npos);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	if (npos != 1 || !str_eq(pos[0], "verify")) {
		fprintf(stderr, "usage: safeguard audit verify [--data-dir DIR]\n");
		free(pos);
		config_free(cfg);
		return 2;
	}
	free(pos);
	const char *dir = config_str(cfg, "store.data_dir");
	char path[4096], err[512], line[200];
	unsigned char pk[32];
	bool have_pk = false;
	if (!pkhex) {
		snprintf(path, sizeof(path), "%s/audit-signing.pub", dir);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(line, sizeof(line), f))
				pkhex = line;
			fclose(f);
		}
	}
	if (pkhex) {
		size_t n = 0;
		if (sodium_hex2bin(pk, sizeof(pk), pkhex, strlen(pkhex), "\n", &n, NULL) || n != sizeof(pk)) {
			fprintf(stderr, "safeguard audit verify: the public key is not 64 hex digits\n");
			config_free(cfg);
			return 2;
		}
		have_pk = true;
	}
	snprintf(path, sizeof(path), "%s/safeguard.db", dir);
	if (access(path, R_OK)) {
		fprintf(stderr, "safeguard audit verify: no database at %s\n", path);
		config_free(cfg);
		return 2;
	}
	resources_init(); /* the registry's tables the trail vouches for */
	struct store *store;
	struct store_opts so = {.backend = config_str(cfg, "store.backend"), .data_dir = dir, .read_only = true};
	if (store_open(&so, &store, err, sizeof(err))) {
		fprintf(stderr, "safeguard audit verify: %s\n", err);
		config_free(cfg);
		return 2;
	}
	struct db *db = store_reader(store);
	int problems = SG_EIO;
	if (db) {
		/* One read transaction: a consistent snapshot even while a server writes. */
		store_snapshot_begin(db);
		problems = audit_verify(db, have_pk ? pk : NULL, stdout);
		store_snapshot_end(db);
		store_reader_put(store, db);
	}
	store_close(store);
	resources_release();
	config_free(cfg);
	if (problems < 0) {
		fprintf(stderr, "safeguard audit verify: the database could not be read\n");
		return 2;
	}
	return problems ? 1 : 0;
}
