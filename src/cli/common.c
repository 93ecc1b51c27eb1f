/* Offline command helpers; see common.h. */
#include "cli/common.h"

#include "registry/accounts.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/util.h"

#include <string.h>

int cli_initialised(struct store *st)
{
	struct db *db = store_reader(st);
	if (!db)
		return SG_EIO;
	int rc = org_any(db);
	store_reader_put(st, db);
	return rc;
}

struct ins_job {
	const struct resource *res[2];
	json_t *rec[2];
	struct verr *e;
};

static int ins_fn(struct db *db, void *arg)
{
	struct ins_job *j = arg;
	struct write_ctx w = {.actor = "cli", .now_ms = clock_now_ms(), .err = j->e};
	for (int i = 0; i < 2 && j->res[i]; i++) {
		int rc = resource_insert(db, j->res[i], j->rec[i], &w);
		if (rc)
			return rc;
	}
	return 0;
}

int cli_create_org(struct store *st, const json_t *org_body, const json_t *user_body, bool root,
		   struct verr *e, char *org_id_out)
{
	struct ins_job j = {.res = {resource_find("organisations"), resource_find("users")}, .e = e};
	j.rec[0] = resource_new_record(j.res[0], org_body, NULL, e);
	if (!j.rec[0])
		return SG_EINVAL;
	json_object_set_new(j.rec[0], "is_root", json_boolean(root));
	const char *oid = json_string_value(json_object_get(j.rec[0], "id"));
	j.rec[1] = resource_new_record(j.res[1], user_body, oid, e);
	if (!j.rec[1]) {
		json_decref(j.rec[0]);
		return SG_EINVAL;
	}
	int rc = store_write(st, ins_fn, &j);
	if (!rc && org_id_out)
		sg_strlcpy(org_id_out, oid, ID_MAX);
	json_decref(j.rec[0]);
	json_decref(j.rec[1]);
	return rc;
}

int cli_create(struct store *st, const char *resource, const char *org_id, const json_t *body,
	       const json_t *extra, struct verr *e, char *id_out)
{
	struct ins_job j = {.res = {resource_find(resource), NULL}, .e = e};
	if (!j.res[0])
		return SG_EINVAL;
	j.rec[0] = resource_new_record(j.res[0], body, org_id, e);
	if (!j.rec[0])
		return SG_EINVAL;
	if (extra)
		json_object_update(j.rec[0], (json_t *)extra);
	int rc = store_write(st, ins_fn, &j);
	if (!rc && id_out)
		sg_strlcpy(id_out, json_string_value(json_object_get(j.rec[0], "id")), ID_MAX);
	json_decref(j.rec[0]);
	return rc;
}

int cli_find_org(struct store *st, const char *name, char out[48])
{
	struct db *db = store_reader(st);
	if (!db)
		return SG_EIO;
	int rc = org_find(db, name, out);
	store_reader_put(st, db);
	return rc;
}
