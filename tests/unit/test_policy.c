/* policy: organisation isolation and the role table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "policy/policy.h"
#include "registry/resource.h"
#include "alarms/alarms.h"
#include "sharing/sharing.h"

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

/* A fake condition: holds for one person while *held. */
struct cond_fake {
	bool held;
	const char *person;
	int asked;
};

static bool fake_met(void *ctx, const struct grant *g, const char *person_id)
{
	struct cond_fake *c = ctx;
	c->asked++;
	return g->cond == COND_DURING_SOS && c->held && person_id && str_eq(person_id, c->person);
}

static void test_a_conditional_grant_shows_positions_while_its_condition_holds(void **state)
{
	(void)state;
	struct grant_set gs = {.n = 1};
	gs.g[0] = (struct grant){.cat = CAT_POSITIONS, .level = LEVEL_FULL, .cond = COND_DURING_SOS};
	sg_strlcpy(gs.g[0].grantor, "org_B", sizeof(gs.g[0].grantor));
	struct actor a = mk(ROLE_LIAISON, "org_A");
	a.grants = &gs;
	struct cond_fake c = {.person = "per_1"};
	a.condition_met = fake_met;
	a.cond_ctx = &c;
	struct access acc;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_HIDE);
	c.held = true; /* an SOS opens for per_1 */
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_ALLOW);
	assert_int_equal(acc.view, VIEW_FULL);
	assert_ptr_equal(acc.grant, &gs.g[0]);
	/* Another person, or nobody in particular (an area query): not met. */
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_2", &acc), DECIDE_HIDE);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", NULL, &acc), DECIDE_HIDE);
	/* At summary level the condition met gives the summary view. */
	gs.g[0].level = LEVEL_SUMMARY;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_ALLOW);
	assert_int_equal(acc.view, VIEW_SUMMARY);
	/* Never writable, condition or not. */
	assert_int_equal(policy_decide(&a, ACT_UPDATE, "positions", "org_B", "per_1", NULL), DECIDE_FORBID);
	c.held = false;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_HIDE);
	assert_true(c.asked >= 5);
	/* The server's hook: the people with an open alarm, fed by the event
	 * path; an exercise alarm does not count, a resolved one stops it. */
	struct alarm_set *set = alarm_set_new();
	a.condition_met = sharing_condition_met;
	a.cond_ctx = set;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_HIDE);
	struct event ev = {.seq = 1, .org_id = "org_B", .category = "alarms", .type = "alarm",
			   .body = "{\"id\":\"alm_1\",\"person_id\":\"per_1\",\"state\":\"open\",\"exercise\":true}"};
	alarm_set_event(set, &ev);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_HIDE);
	ev.body = "{\"id\":\"alm_2\",\"person_id\":\"per_1\",\"state\":\"open\",\"exercise\":false}";
	alarm_set_event(set, &ev);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_ALLOW);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_2", &acc), DECIDE_HIDE);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", NULL, &acc), DECIDE_HIDE);
	ev.type = "alarm_changed";
	ev.body = "{\"id\":\"alm_2\",\"person_id\":\"per_1\",\"state\":\"acknowledged\",\"exercise\":false}";
	alarm_set_event(set, &ev);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_ALLOW);
	ev.body = "{\"id\":\"alm_2\",\"person_id\":\"per_1\",\"state\":\"resolved\",\"exercise\":false}";
	alarm_set_event(set, &ev);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_HIDE);
	assert_int_equal(alarm_set_size(set), 0);
	alarm_set_free(set);
	gs.g[0].cond = COND_ALWAYS;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", "per_1", &acc), DECIDE_ALLOW);
}

static void test_positions_and_the_stream_follow_the_grant_level(void **state)
{
	(void)state;
	struct grant_set gs = {.n = 1};
	gs.g[0] = (struct grant){.cat = CAT_POSITIONS, .level = LEVEL_SUMMARY, .cond = COND_ALWAYS};
	sg_strlcpy(gs.g[0].grantor, "org_B", sizeof(gs.g[0].grantor));
	struct actor a = mk(ROLE_DUTY_OFFICER, "org_A");
	a.grants = &gs;
	struct access acc;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", NULL, &acc), DECIDE_ALLOW);
	assert_int_equal(acc.view, VIEW_SUMMARY);
	gs.g[0].level = LEVEL_FULL;
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_B", NULL, &acc), DECIDE_ALLOW);
	assert_int_equal(acc.view, VIEW_FULL);
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_C", NULL, &acc), DECIDE_HIDE);
	a.role = ROLE_PERSON; /* a protected person reads no positions, not even at home */
	assert_int_equal(policy_decide(&a, ACT_READ, "positions", "org_A", NULL, &acc), DECIDE_FORBID);
}

int main(void)
{
	resources_init(); /* the registry's rules come from its descriptors */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_organisation_is_hidden_for_every_role),
		cmocka_unit_test(test_viewer_reads_but_cannot_write),
		cmocka_unit_test(test_person_sees_only_own_record),
		cmocka_unit_test(test_only_root_admins_create_organisations),
		cmocka_unit_test(test_unknown_resource_is_denied),
		cmocka_unit_test(test_a_conditional_grant_shows_positions_while_its_condition_holds),
		cmocka_unit_test(test_positions_and_the_stream_follow_the_grant_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
