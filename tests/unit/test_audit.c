/* audit: the chain, the signed checkpoint and the row check catch every kind
 * of tampering: edit, deletion, insertion, reordering, truncation, and rows
 * changed behind the trail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "registry/resource.h"
#include "store/store.h"
#include "testlib.h"

#include <sodium.h>

struct fixture {
	char *dir;
	struct store *s;
	struct audit_key key;
	char site_id[48];
};

struct mk {
	const char *name;
	char id[48];
};

static int create_fn(struct db *db, void *arg)
{
	struct mk *m = arg;
	struct verr e;
	struct write_ctx w = {.actor = "test", .now_ms = clock_now_ms(), .err = &e};
	if (!m->id[0]) {
		json_t *org = json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", "org_01M8KWF48VMR504K8G6CKAVBQH",
					"org_id", "org_01M8KWF48VMR504K8G6CKAVBQH", "name", "Org", "kind",
					"employer", "is_root", 1);
		int rc = resource_insert(db, resource_find("organisations"), org, &w);
		json_decref(org);
		return rc;
	}
	json_t *rec = json_object();
	json_t *body = json_pack("{s:s,s:s,s:s}", "name", m->name, "kind", "staff", "status", "in_country");
	int rc = resource_apply(resource_find("people"), rec, body, false, &e);
	json_object_set_new(rec, "id", json_string(m->id));
	json_object_set_new(rec, "org_id", json_string("org_01M8KWF48VMR504K8G6CKAVBQH"));
	if (!rc)
		rc = resource_insert(db, resource_find("people"), rec, &w);
	json_decref(rec);
	json_decref(body);
	return rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	f->dir = test_tmpdir();
	resources_init();
	assert_int_equal(audit_key_load(f->dir, true, &f->key, err, sizeof(err)), 0);
	struct store_opts o = {.data_dir = f->dir, .before_commit = audit_checkpoint, .hook_ctx = &f->key};
	assert_int_equal(store_open(&o, &f->s, err, sizeof(err)), 0);
	struct mk org = {"", ""};
	assert_int_equal(store_write(f->s, create_fn, &org), 0);
	for (int i = 0; i < 5; i++) {
		struct mk p = {"Person", ""};
		snprintf(p.id, sizeof(p.id), "per_01M8KWF48VMR504K8G6CKAVBQ%c", 'A' + i);
		assert_int_equal(store_write(f->s, create_fn, &p), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	resources_release();
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs verify on a fresh connection after sql tampering (NULL: none). */
static int verify_after(struct fixture *f, const char *sql, char *report, size_t n)
{
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/safeguard.db", f->dir);
	struct db *db;
	assert_int_equal(db_sqlite_open(path, true, &db, err, sizeof(err)), 0);
	if (sql)
		assert_int_equal(db_exec(db, sql), 0);
	FILE *out = fmemopen(report, n - 1, "w");
	int problems = audit_verify(db, f->key.pk, out);
	fclose(out);
	db_close(db);
	return problems;
}

static void test_intact_trail_verifies(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_int_equal(verify_after(f, NULL, rep, sizeof(rep)), 0);
	assert_non_null(strstr(rep, "intact: 6 entries"));
}

static void test_edited_entry_is_named(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "UPDATE audit SET actor = 'mallory' WHERE seq = 3", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "FIRST BAD: audit entry #3 has been edited"));
}

static void test_deleted_entry_is_named(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "DELETE FROM audit WHERE seq = 4", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "FIRST BAD: audit entry #4 is missing"));
}

static void test_truncated_tail_is_caught_by_checkpoint(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "DELETE FROM audit WHERE seq = 6", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "checkpoint names entry #6 but the trail ends at #5"));
}

static void test_reordered_entries_are_caught(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "UPDATE audit SET seq = seq + 100 WHERE seq IN (2, 3);"
				    "UPDATE audit SET seq = 3 WHERE seq = 102; UPDATE audit SET seq = 2 WHERE seq = 103",
				 rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "FIRST BAD: audit entry #2"));
}

static void test_row_edited_behind_trail_is_named(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "UPDATE people SET name = 'Someone else' WHERE id = 'per_01M8KWF48VMR504K8G6CKAVBQC'", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "person per_01M8KWF48VMR504K8G6CKAVBQC was changed behind the audit trail (differs from audit entry #4)"));
}

static void test_row_deleted_and_inserted_behind_trail(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "DELETE FROM people WHERE id = 'per_01M8KWF48VMR504K8G6CKAVBQA'", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "person/per_01M8KWF48VMR504K8G6CKAVBQA was deleted behind the audit trail"));
	assert_true(verify_after(f, "INSERT INTO people (id, org_id, name, kind, status, created_at, updated_at) VALUES"
				    " ('per_X', 'org_01M8KWF48VMR504K8G6CKAVBQH', 'Ghost', 'staff', 'in_country', 'x', 'x')",
				 rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "person per_X has no audit entry"));
}

static void test_forged_checkpoint_fails_signature(void **state)
{
	struct fixture *f = *state;
	char rep[4096] = "";
	assert_true(verify_after(f, "UPDATE audit_checkpoint SET seq = 5", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "signature is not valid"));
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

/* The checkpoint's seq and signing time, read on a fresh connection. */
static void checkpoint_row(struct fixture *f, int64_t *seq, char at[32])
{
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/safeguard.db", f->dir);
	struct db *db;
	struct db_stmt *st;
	assert_int_equal(db_sqlite_open(path, true, &db, err, sizeof(err)), 0);
	assert_int_equal(db_prepare(db, "SELECT seq, at FROM audit_checkpoint WHERE id = 1", &st), 0);
	assert_int_equal(db_step(st), DB_ROW);
	*seq = db_col_int(st, 0);
	snprintf(at, 32, "%s", db_col_text(st, 1));
	db_reset(st);
	db_close(db);
}

static int unaudited_fn(struct db *db, void *arg)
{
	(void)arg;
	struct db_stmt *st;
	if (db_prepare(db, "UPDATE people SET updated_at = updated_at WHERE id = 'per_none'", &st))
		return SG_EIO;
	return db_run(st);
}

static int rolled_back_fn(struct db *db, void *arg)
{
	int rc = create_fn(db, arg);
	return rc ? rc : SG_EINVAL; /* audited, then refused: the savepoint goes */
}

/* A commit that leaves the chain where the last signature left it signs and
 * writes nothing; the next audited write is signed at once. */
static void test_checkpoint_is_signed_only_when_the_chain_moves(void **state)
{
	struct fixture *f = *state;
	char at[32], at2[32], rep[4096] = "";
	int64_t seq;
	clock_set_source(fake_clock);
	fake_now = 1800000000000LL;
	struct mk p = {"Person", "per_01M8KWF48VMR504K8G6CKAVBQX"};
	assert_int_equal(store_write(f->s, create_fn, &p), 0);
	checkpoint_row(f, &seq, at);
	assert_int_equal(seq, 7);
	assert_string_equal(at, "2027-01-15T08:00:00.000Z");
	fake_now += 60000;
	assert_int_equal(store_write(f->s, unaudited_fn, NULL), 0);
	struct mk q = {"Person", "per_01M8KWF48VMR504K8G6CKAVBQY"};
	assert_int_equal(store_write(f->s, rolled_back_fn, &q), SG_EINVAL);
	checkpoint_row(f, &seq, at2);
	assert_int_equal(seq, 7);
	assert_string_equal(at2, at);
	fake_now += 60000;
	assert_int_equal(store_write(f->s, create_fn, &q), 0);
	checkpoint_row(f, &seq, at2);
	assert_int_equal(seq, 8);
	assert_string_equal(at2, "2027-01-15T08:02:00.000Z");
	clock_set_source(NULL);
	assert_int_equal(verify_after(f, NULL, rep, sizeof(rep)), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact_trail_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_entry_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_entry_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_tail_is_caught_by_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordered_entries_are_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_edited_behind_trail_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_deleted_and_inserted_behind_trail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_checkpoint_fails_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_is_signed_only_when_the_chain_moves, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
