/* Role and organisation rules; see policy.h. The table below is the whole
 * role model for the registry: who may read and who may write. */
#include "policy/policy.h"

#include "core/util.h"

#include <string.h>

const char *const role_names[] = {"admin",  "security_manager", "duty_officer", "liaison",
				  "viewer", "person",           NULL};

int role_parse(const char *s)
{
	for (int i = 0; role_names[i]; i++)
		if (str_eq(s, role_names[i]))
			return i;
	return -1;
}

const char *role_name(enum role r)
{
	return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

const char *const category_names[] = {"people", "positions", "movements", "incidents", "zones",
				      "alarms", "alerts", "roll-calls", "sites", "vehicles", NULL};
const char *const level_names[] = {"none", "summary", "full", NULL};
const char *const condition_names[] = {"always", "during_shared_movement", "during_open_sos", NULL};


const char *view_name(enum view v)
{
	static const char *n[] = {"own", "full", "summary"};
	return n[v];
}

const char *action_name(enum action a)
{
	static const char *n[] = {"list", "read", "create", "update", "delete"};
	return n[a];
}

#define R(x) ROLE_BIT(x)
#define STAFF ROLES_STAFF
#define MANAGERS ROLES_MANAGERS

/* What is not a registry resource; the registry adds one rule per resource
 * from its descriptor (policy_add_rule, at start). */
static struct policy_rule rules[32] = {
	{"audit", R(ROLE_ADMIN), 0, false, CAT_NONE},
	{"agreements", STAFF, R(ROLE_ADMIN), false, CAT_NONE},
	{"positions", STAFF, 0, false, CAT_POSITIONS},
	/* One's own session: anyone authenticated may read and end it. */
	{"session", STAFF | R(ROLE_PERSON), STAFF | R(ROLE_PERSON), false, CAT_NONE},
	/* Raising an alarm: a person for themselves, the operators for anyone. */
	{"alarm_raise", 0, ROLES_OPERATORS | R(ROLE_PERSON), false, CAT_NONE},
	/* Messages to people (alerts, roll-call questions) on the stream: the
	 * organisation's staff, and each person their own; never shared. */
	{"messages", STAFF, 0, true, CAT_NONE},
	/* Answering a roll-call: a person for themselves, the operators for anyone. */
	{"rollcall_answer", 0, ROLES_OPERATORS | R(ROLE_PERSON), false, CAT_NONE},
};
static unsigned nrules = 7;

void policy_add_rule(const struct policy_rule *r)
{
	for (unsigned i = 0; i < nrules; i++)
		if (str_eq(rules[i].resource, r->resource)) {
			rules[i] = *r;
			return;
		}
	if (nrules == ARRAY_LEN(rules))
		BUG("too many policy rules");
	rules[nrules++] = *r;
}

static const struct policy_rule *find_rule(const char *resource)
{
	for (unsigned i = 0; i < nrules; i++)
		if (str_eq(rules[i].resource, resource))
			return &rules[i];
	return NULL;
}

bool policy_has_rule(const char *resource)
{
	return resource && find_rule(resource) != NULL;
}

enum category category_of(const char *resource)
{
	const struct policy_rule *r = find_rule(resource);
	return r ? r->cat : CAT_NONE;
}

bool policy_list_self_only(const struct actor *actor, const char *resource)
{
	const struct policy_rule *r = find_rule(resource);
	return r && r->self && !(r->read & R(actor->role)) && actor->role == ROLE_PERSON;
}

const struct grant *policy_grant(const struct actor *actor, const char *grantor, enum category cat)
{
	if (!actor->grants || cat == CAT_NONE)
		return NULL;
	for (int i = 0; i < actor->grants->n; i++) {
		const struct grant *g = &actor->grants->g[i];
		if (g->cat == cat && g->level != LEVEL_NONE && str_eq(g->grantor, grantor))
			return g;
	}
	return NULL;
}

static bool is_partner(const struct actor *actor, const char *org)
{
	for (int i = 0; actor->grants && i < actor->grants->npartners; i++)
		if (str_eq(actor->grants->partners[i], org))
			return true;
	return false;
}

enum decision policy_decide(const struct actor *actor, enum action action, const char *resource,
			    const char *obj_org, const char *obj_id, struct access *out)
{
	const struct policy_rule *r = find_rule(resource);
	if (!r || !actor)
		return DECIDE_FORBID; /* unknown resource: deny by default */
	bool write = action == ACT_CREATE || action == ACT_UPDATE || action == ACT_DELETE;
	bool own = !obj_org || str_eq(obj_org, actor->org_id);
	unsigned bit = R(actor->role);
	struct access acc = {.view = VIEW_OWN};

	if (str_eq(resource, "organisations")) {
		/* The root organisation's admins administer the installation and see
		 * every organisation; others see their own and their partners'. */
		bool root_admin = actor->root_org && actor->role == ROLE_ADMIN;
		if (action == ACT_CREATE && !root_admin)
			return DECIDE_FORBID;
		if (!own && !root_admin) {
			if (!is_partner(actor, obj_org) || !(r->read & bit))
				return DECIDE_HIDE;
			if (write)
				return DECIDE_FORBID;
			acc.view = VIEW_FULL;
			if (out)
				*out = acc;
			return DECIDE_ALLOW;
		}
		own = true;
	}

	if (!own) {
		/* Another organisation's object: only through a grant in force. */
		const struct grant *g = policy_grant(actor, obj_org, category_of(resource));
		if (!g || !(r->read & bit))
			return DECIDE_HIDE;
		if (g->cond != COND_ALWAYS &&
		    !(actor->condition_met && actor->condition_met(actor->cond_ctx, g, obj_id)))
			return DECIDE_HIDE;
		if (write)
			return DECIDE_FORBID; /* visible, but never writable */
		acc.view = g->level == LEVEL_FULL ? VIEW_FULL : VIEW_SUMMARY;
		acc.grant = g;
		if (out)
			*out = acc;
		return DECIDE_ALLOW;
	}

	if (write) {
		if (!(r->write & bit))
			return DECIDE_FORBID;
	} else if (!(r->read & bit)) {
		bool self = r->self && actor->role == ROLE_PERSON;
		if (self && action == ACT_LIST)
			; /* narrowed to the own record by policy_list_self_only() */
		else if (self && obj_id && str_eq(obj_id, actor->person_id))
			;
		else if (self && obj_id)
			return DECIDE_HIDE;
		else
			return DECIDE_FORBID;
	}
	if (out)
		*out = acc;
	return DECIDE_ALLOW;
}
