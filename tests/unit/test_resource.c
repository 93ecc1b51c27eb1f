/* registry/resource: strict validation naming the member, password hashing,
 * derived site bounding boxes, and the public view hiding secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "core/err.h"
#include "registry/resource.h"
#include "store/store.h"
#include "testlib.h"

static int apply(const char *res, const char *body, bool patch, struct verr *e, json_t **out)
{
	json_t *b = json_loads(body, 0, NULL);
	assert_non_null(b);
	json_t *rec = json_object();
	memset(e, 0, sizeof(*e));
	int rc = resource_apply(resource_find(res), rec, b, patch, e);
	json_decref(b);
	if (out)
		*out = rec;
	else
		json_decref(rec);
	return rc;
}

#define REJECTS(res, body, ptr)                                                                     \
	do {                                                                                        \
		struct verr e_;                                                                     \
		assert_int_equal(apply(res, body, false, &e_, NULL), SG_EINVAL);                    \
		assert_string_equal(e_.pointer, ptr);                                               \
		assert_true(e_.detail[0] != '\0');                                                  \
	} while (0)

static void test_person_validation_names_member(void **state)
{
	(void)state;
	struct verr e;
	json_t *rec;
	assert_int_equal(apply("people", "{\"name\":\"Wei Jun\",\"kind\":\"staff\",\"status\":\"in_country\",\"phone\":\"+92 300 1234567\",\"email\":\"wei@example.com\"}", false, &e, &rec), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "name")), "Wei Jun");
	json_decref(rec);
	REJECTS("people", "{\"kind\":\"staff\",\"status\":\"in_country\"}", "/name");
	REJECTS("people", "{\"name\":\"A\",\"kind\":\"staff\",\"status\":\"in_country\",\"shoe_size\":42}", "/shoe_size");
	REJECTS("people", "{\"name\":\"A\",\"kind\":\"staff\",\"status\":\"gone\"}", "/status");
	REJECTS("people", "{\"name\":7,\"kind\":\"staff\",\"status\":\"in_country\"}", "/name");
	REJECTS("people", "{\"name\":\" padded\",\"kind\":\"staff\",\"status\":\"in_country\"}", "/name");
	REJECTS("people", "{\"name\":\"A\",\"kind\":\"staff\",\"status\":\"in_country\",\"email\":\"not-an-email\"}", "/email");
	REJECTS("people", "{\"name\":\"A\",\"kind\":\"staff\",\"status\":\"in_country\",\"phone\":\"call me\"}", "/phone");
	REJECTS("people", "{\"name\":\"A\",\"kind\":\"staff\",\"status\":\"in_country\",\"home_site_id\":\"per_01M8KWF48VMR504K8G6CKAVBQH\"}", "/home_site_id");
	REJECTS("people", "{\"id\":\"per_01M8KWF48VMR504K8G6CKAVBQH\",\"name\":\"A\",\"kind\":\"staff\",\"status\":\"in_country\"}", "/id");
	REJECTS("people", "{\"name\":\"A\\u0007\",\"kind\":\"staff\",\"status\":\"in_country\"}", "/name");
}

static void test_site_geometry_and_radius_rules(void **state)
{
	(void)state;
	struct verr e;
	json_t *rec;
	assert_int_equal(apply("sites", "{\"name\":\"Airport\",\"kind\":\"airport\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[67.16,24.9]},\"radius_m\":1000}", false, &e, &rec), 0);
	double min_lat = json_real_value(json_object_get(rec, "min_lat"));
	assert_true(min_lat < 24.9 - 0.0089 && min_lat > 24.9 - 0.0091); /* 1 km */
	json_decref(rec);
	REJECTS("sites", "{\"name\":\"A\",\"kind\":\"airport\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[67.16,24.9]}}", "/radius_m");
	REJECTS("sites", "{\"name\":\"A\",\"kind\":\"airport\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[67.16,124.9]},\"radius_m\":5}", "/geometry/coordinates/1");
	REJECTS("sites", "{\"name\":\"A\",\"kind\":\"camp\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]},\"radius_m\":5}", "/radius_m");
	REJECTS("sites", "{\"name\":\"A\",\"kind\":\"camp\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]},\"radius_m\":0}", "/radius_m");
	REJECTS("sites", "{\"name\":\"A\",\"kind\":\"camp\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]},\"radius_m\":5,\"min_lat\":3}", "/min_lat");
}

static void test_password_is_hashed_with_argon2id(void **state)
{
	(void)state;
	struct verr e;
	json_t *rec;
	assert_int_equal(apply("users", "{\"username\":\"duty.one\",\"password\":\"a long passphrase\",\"role\":\"duty_officer\"}", false, &e, &rec), 0);
	const char *h = json_string_value(json_object_get(rec, "password_hash"));
	assert_non_null(h);
	assert_true(strncmp(h, "$argon2id$v=19$", 15) == 0);
	assert_int_equal(crypto_pwhash_str_verify(h, "a long passphrase", 17), 0);
	assert_null(json_object_get(rec, "password"));
	json_object_set_new(rec, "id", json_string("usr_1"));
	json_t *pub = resource_public(resource_find("users"), rec, VIEW_FULL);
	assert_null(json_object_get(pub, "password"));
	assert_null(json_object_get(pub, "password_hash"));
	json_decref(pub);
	json_decref(rec);
	REJECTS("users", "{\"username\":\"duty.two\",\"password\":\"short\",\"role\":\"viewer\"}", "/password");
	REJECTS("users", "{\"username\":\"Bad Name\",\"password\":\"a long passphrase\",\"role\":\"viewer\"}", "/username");
	REJECTS("users", "{\"username\":\"p.one\",\"password\":\"a long passphrase\",\"role\":\"person\"}", "/person_id");
}

static void test_patch_respects_immutable_and_required(void **state)
{
	(void)state;
	struct verr e;
	assert_int_equal(apply("users", "{\"username\":\"renamed\"}", true, &e, NULL), SG_EINVAL);
	assert_string_equal(e.pointer, "/username");
	assert_int_equal(apply("people", "{\"name\":null}", true, &e, NULL), SG_EINVAL);
	assert_string_equal(e.pointer, "/name");
	json_t *rec;
	assert_int_equal(apply("people", "{\"phone\":null}", true, &e, &rec), 0);
	assert_true(json_is_null(json_object_get(rec, "phone")));
	json_decref(rec);
}

static void test_summary_view_hides_contact_details(void **state)
{
	(void)state;
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", "per_1", "org_id", "org_1", "name",
				"Wei Jun", "phone", "+92 300 1234567", "email", "w@example.com", "job",
				"Surveyor", "kind", "staff");
	json_t *pub = resource_public(resource_find("people"), rec, VIEW_SUMMARY);
	assert_null(json_object_get(pub, "name"));
	assert_null(json_object_get(pub, "phone"));
	assert_null(json_object_get(pub, "email"));
	assert_string_equal(json_string_value(json_object_get(pub, "job")), "Surveyor");
	json_decref(pub);
	json_decref(rec);
}

/* The engine itself refuses another organisation's record on update and
 * delete (not only the HTTP layer in front of it). */
struct foreign_job {
	const char *org, *id;
	bool del;
	json_t *rec;
	struct verr e;
};

static int org_fn(struct db *db, void *arg)
{
	(void)arg;
	return db_exec(db, "INSERT INTO organisations (id, org_id, name, kind, created_at, updated_at) VALUES"
			   " ('org_A', 'org_A', 'A', 'other', 'x', 'x'), ('org_B', 'org_B', 'B', 'other', 'x', 'x')");
}

static int foreign_fn(struct db *db, void *arg)
{
	struct foreign_job *j = arg;
	struct write_ctx w = {.actor = "test", .now_ms = 1, .err = &j->e};
	const struct resource *res = resource_find("vehicles");
	if (j->rec)
		return resource_insert(db, res, j->rec, &w);
	if (j->del)
		return resource_delete(db, res, j->org, j->id, &w);
	json_t *patch = json_pack("{s:s}", "colour", "red");
	int rc = resource_update(db, res, j->org, j->id, patch, &w, NULL);
	json_decref(patch);
	return rc;
}

static void test_update_and_delete_check_the_organisation(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), err[256];
	struct store *s;
	struct store_opts o = {.data_dir = dir};
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(store_write(s, org_fn, NULL), 0);
	struct foreign_job ins = {.rec = json_pack("{s:s,s:s,s:s,s:s}", "id", "veh_1", "org_id", "org_A",
						   "registration", "KHI-1", "colour", "white")};
	assert_int_equal(store_write(s, foreign_fn, &ins), 0);
	json_decref(ins.rec);
	struct foreign_job upd = {.org = "org_B", .id = "veh_1"};
	assert_int_equal(store_write(s, foreign_fn, &upd), SG_ENOTFOUND);
	struct foreign_job del = {.org = "org_B", .id = "veh_1", .del = true};
	assert_int_equal(store_write(s, foreign_fn, &del), SG_ENOTFOUND);
	struct db *db = store_reader(s);
	json_t *rec;
	assert_int_equal(resource_get(db, resource_find("vehicles"), "veh_1", &rec), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "colour")), "white");
	json_decref(rec);
	store_reader_put(s, db);
	struct foreign_job own = {.org = "org_A", .id = "veh_1"};
	assert_int_equal(store_write(s, foreign_fn, &own), 0); /* its own organisation may */
	store_close(s);
	test_rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	resources_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_person_validation_names_member),
		cmocka_unit_test(test_site_geometry_and_radius_rules),
		cmocka_unit_test(test_password_is_hashed_with_argon2id),
		cmocka_unit_test(test_patch_respects_immutable_and_required),
		cmocka_unit_test(test_summary_view_hides_contact_details),
		cmocka_unit_test(test_update_and_delete_check_the_organisation),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	resources_release();
	return rc;
}
