/* policy: organisation isolation and the role table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "policy/policy.h"

static struct actor mk(enum role role, const char *org)
{
	struct actor a;
	memset(&a, 0, sizeof(a));
	a.role = role;
	sg_strlcpy(a.org_id, org, sizeof(a.org_id));
	sg_strlcpy(a.id, "usr_x", sizeof(a.id));
	return a;
}

static void test_other_organisation_is_hidden_for_every_role(void **state)
{
	(void)state;
	const char *res[] = {"people", "sites", "vehicles", "devices", "users", "api_keys", "organisations"};
	for (int r = 0; r < ROLE_COUNT; r++) {
		struct actor a = mk((enum role)r, "org_A");
		for (size_t i = 0; i < ARRAY_LEN(res); i++) {
			assert_int_equal(policy_decide(&a, ACT_READ, res[i], "org_B", "x_1", NULL), DECIDE_HIDE);
			assert_int_equal(policy_decide(&a, ACT_UPDATE, res[i], "org_B", "x_1", NULL), DECIDE_HIDE);
		}
	}
}

static void test_viewer_reads_but_cannot_write(void **state)
{
	(void)state;
	struct actor v = mk(ROLE_VIEWER, "org_A");
	struct access acc = {.view = VIEW_SUMMARY};
	assert_int_equal(policy_decide(&v, ACT_READ, "people", "org_A", "per_1", &acc), DECIDE_ALLOW);
	assert_int_equal(acc.view, VIEW_OWN);
	assert_int_equal(policy_decide(&v, ACT_CREATE, "people", NULL, NULL, NULL), DECIDE_FORBID);
	assert_int_equal(policy_decide(&v, ACT_DELETE, "sites", "org_A", "sit_1", NULL), DECIDE_FORBID);
	assert_int_equal(policy_decide(&v, ACT_LIST, "users", NULL, NULL, NULL), DECIDE_FORBID);
}

static void test_person_sees_only_own_record(void **state)
{
	(void)state;
	struct actor p = mk(ROLE_PERSON, "org_A");
	sg_strlcpy(p.person_id, "per_me", sizeof(p.person_id));
	assert_int_equal(policy_decide(&p, ACT_READ, "people", "org_A", "per_me", NULL), DECIDE_ALLOW);
	assert_int_equal(policy_decide(&p, ACT_READ, "people", "org_A", "per_other", NULL), DECIDE_HIDE);
	assert_true(policy_list_self_only(&p, "people"));
	assert_int_equal(policy_decide(&p, ACT_LIST, "devices", NULL, NULL, NULL), DECIDE_FORBID);
}

static void test_only_root_admins_create_organisations(void **state)
{
	(void)state;
	struct actor a = mk(ROLE_ADMIN, "org_A");
	assert_int_equal(policy_decide(&a, ACT_CREATE, "organisations", NULL, NULL, NULL), DECIDE_FORBID);
	a.root_org = true;
	assert_int_equal(policy_decide(&a, ACT_CREATE, "organisations", NULL, NULL, NULL), DECIDE_ALLOW);
	assert_int_equal(policy_decide(&a, ACT_READ, "organisations", "org_B", "org_B", NULL), DECIDE_ALLOW);
	struct actor m = mk(ROLE_SECURITY_MANAGER, "org_A");
	m.root_org = true;
	assert_int_equal(policy_decide(&m, ACT_READ, "organisations", "org_B", "org_B", NULL), DECIDE_HIDE);
}

static void test_unknown_resource_is_denied(void **state)
{
	(void)state;
	struct actor a = mk(ROLE_ADMIN, "org_A");
	assert_int_equal(policy_decide(&a, ACT_READ, "nuclear_codes", "org_A", "x", NULL), DECIDE_FORBID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_organisation_is_hidden_for_every_role),
		cmocka_unit_test(test_viewer_reads_but_cannot_write),
		cmocka_unit_test(test_person_sees_only_own_record),
		cmocka_unit_test(test_only_root_admins_create_organisations),
		cmocka_unit_test(test_unknown_resource_is_denied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
