/* safeguard import / export: registry records in CSV or GeoJSON. An import
 * is all-or-nothing: every record is validated like API input, then all are
 * inserted in one transaction; the first bad record is named by file, line
 * (or feature) and field, and nothing is written. */
#include "cli/cli.h"

#include "app.h"
#include "cli/common.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "registry/exchange.h"
#include "registry/resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const types[] = {"people", "sites", "vehicles", "devices", NULL};

static const struct resource *exchange_resource(const char *type)
{
	for (int i = 0; type && types[i]; i++)
		if (str_eq(type, types[i]))
			return resource_find(type);
	fprintf(stderr, "safeguard: --type must be people, sites, vehicles or devices\n");
	return NULL;
}

struct import_job {
	const struct resource *res;
	json_t *recs;  /* validated records */
	json_t *lines; /* their line numbers */
	size_t failed; /* index of the refused record */
	struct verr e;
	bool progress;
};

static int import_fn(struct db *db, void *arg)
{
	struct import_job *j = arg;
	struct write_ctx w = {.actor = "cli", .now_ms = clock_now_ms(), .err = &j->e};
	size_t i, n = json_array_size(j->recs);
	json_t *rec;
	json_array_foreach(j->recs, i, rec) {
		int rc = resource_insert(db, j->res, rec, &w);
		if (rc) {
			j->failed = i;
			return rc;
		}
		if (j->progress && (i % 200 == 0 || i + 1 == n))
			fprintf(stderr, "\rwriting %zu/%zu", i + 1, n);
	}
	return 0;
}

static void where(char *buf, size_t n, const char *path, enum xfmt fmt, json_int_t line)
{
	if (fmt == XF_CSV)
		snprintf(buf, n, "%s:%lld", path, (long long)line);
	else
		snprintf(buf, n, "%s: feature %lld", path, (long long)line);
}

int cmd_import(int argc, char **argv)
{
	const char *type = NULL, *format = NULL, *org = NULL;
	const struct cli_opt opts[] = {
		{"--type", &type, NULL, "people, sites, vehicles or devices"},
		{"--format", &format, NULL, "csv or geojson (default: from the file name)"},
		{"--org", &org, NULL, "organisation name or id (default: the first organisation)"},
		{0},
	};
	struct config *cfg;
	char **pos;
	int npos;
	const char *usage = "safeguard import --type TYPE [--format csv|geojson] [--org ORG] [--data-dir DIR] FILE";
	int rc = cli_parse(argc, argv, usage, opts, &cfg, &pos, &npos);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	const char *path = npos == 1 ? pos[0] : NULL;
	free(pos);
	enum xfmt fmt;
	const struct resource *res = NULL;
	struct app app;
	char err[1024];
	if (!path) {
		fprintf(stderr, "usage: %s\n", usage);
		config_free(cfg);
		return 2;
	}
	if (xfmt_parse(format ? format : path, &fmt)) {
		fprintf(stderr, "safeguard import: say --format csv or --format geojson\n");
		config_free(cfg);
		return 2;
	}
	if (app_open(&app, cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard import: %s\n", err);
		return 1;
	}
	rc = 1;
	char oid[48];
	json_t *items = NULL;
	struct import_job j = {.recs = json_array(), .lines = json_array(), .progress = isatty(2)};
	if (!(res = exchange_resource(type)))
		goto out;
	j.res = res;
	if (cli_find_org(app.store, org, oid)) {
		fprintf(stderr, "safeguard import: no such organisation%s%s\n", org ? " " : "", org ? org : "");
		goto out;
	}
	if (exchange_parse(res, fmt, path, &items, err, sizeof(err))) {
		fprintf(stderr, "safeguard import: %s\nnothing was imported\n", err);
		goto out;
	}
	size_t i, n = json_array_size(items);
	json_t *it;
	json_array_foreach(items, i, it) {
		json_t *body = json_object_get(it, "body");
		json_int_t line = json_integer_value(json_object_get(it, "line"));
		char w[300];
		where(w, sizeof(w), path, fmt, line);
		const char *id = json_string_value(json_object_get(body, "id"));
		char newid[ID_MAX];
		if (json_object_get(body, "id") && !id_valid(id, res->id_prefix)) {
			fprintf(stderr, "safeguard import: %s: id: not a %s id (%s_...)\nnothing was imported\n",
				w, res->type, res->id_prefix);
			goto out;
		}
		if (!id) {
			id_new(res->id_prefix, clock_now_ms(), newid);
			id = newid;
		}
		json_t *rec = json_object();
		json_object_set_new(rec, "id", json_string(id));
		json_object_del(body, "id");
		struct verr e = {0};
		if (resource_apply(res, rec, body, false, &e)) {
			fprintf(stderr, "safeguard import: %s: %s: %s\nnothing was imported\n", w,
				e.pointer[0] ? e.pointer + 1 : "(record)", e.detail);
			json_decref(rec);
			goto out;
		}
		json_object_set_new(rec, "org_id", json_string(oid));
		json_array_append_new(j.recs, rec);
		json_array_append_new(j.lines, json_integer(line));
		if (j.progress && (i % 200 == 0 || i + 1 == n))
			fprintf(stderr, "\rvalidating %zu/%zu", i + 1, n);
	}
	if (j.progress)
		fputc('\n', stderr);
	int wrc = store_write(app.store, import_fn, &j);
	if (j.progress)
		fputc('\n', stderr);
	if (wrc) {
		char w[300];
		where(w, sizeof(w), path, fmt, json_integer_value(json_array_get(j.lines, j.failed)));
		fprintf(stderr, "safeguard import: %s: %s: %s\nnothing was imported\n", w,
			j.e.pointer[0] ? j.e.pointer + 1 : "(record)", j.e.detail[0] ? j.e.detail : err_str(wrc));
		goto out;
	}
	printf("imported %zu %s\n", n, res->name);
	rc = 0;
out:
	json_decref(items);
	json_decref(j.recs);
	json_decref(j.lines);
	app_close(&app);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	const char *type = NULL, *format = "csv", *org = NULL, *output = NULL;
	const struct cli_opt opts[] = {
		{"--type", &type, NULL, "people, sites, vehicles or devices"},
		{"--format", &format, NULL, "csv (default) or geojson"},
		{"--org", &org, NULL, "organisation name or id (default: the first organisation)"},
		{"--output", &output, NULL, "write to FILE instead of standard output"},
		{0},
	};
	struct config *cfg;
	int rc = cli_parse(argc, argv, "safeguard export --type TYPE [--format csv|geojson] [--org ORG] [--output FILE]",
			   opts, &cfg, NULL, NULL);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	enum xfmt fmt;
	if (xfmt_parse(format, &fmt)) {
		fprintf(stderr, "safeguard export: --format must be csv or geojson\n");
		config_free(cfg);
		return 2;
	}
	/* Read-only: an export runs beside a server that holds the store. */
	struct store *store;
	char err[512];
	struct store_opts so = {.backend = config_str(cfg, "store.backend"), .data_dir = config_str(cfg, "store.data_dir"), .read_only = true};
	resources_init();
	if (store_open(&so, &store, err, sizeof(err))) {
		fprintf(stderr, "safeguard export: %s\n", err);
		resources_release();
		config_free(cfg);
		return 1;
	}
	rc = 1;
	const struct resource *res = exchange_resource(type);
	char oid[48];
	FILE *out = NULL;
	if (!res)
		goto out;
	if (cli_find_org(store, org, oid)) {
		fprintf(stderr, "safeguard export: no such organisation\n");
		goto out;
	}
	out = output ? fopen(output, "w") : stdout;
	if (!out) {
		perror(output);
		goto out;
	}
	struct db *db = store_reader(store);
	if (!db)
		goto out;
	store_snapshot_begin(db); /* one snapshot for the whole export */
	rc = exchange_export(db, res, oid, fmt, out) ? 1 : 0;
	store_snapshot_end(db);
	store_reader_put(store, db);
	if (output && fclose(out)) {
		perror(output);
		rc = 1;
	}
	if (!output)
		fflush(stdout);
out:
	store_close(store);
	resources_release();
	config_free(cfg);
	return rc;
}
