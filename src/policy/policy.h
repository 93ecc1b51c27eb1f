/* The access policy: one function decides, for (actor, action, object),
 * whether the action is allowed and at which level the actor sees the object.
 * Every HTTP endpoint asks it; nothing else decides access.
 *
 * Today it enforces organisation isolation and roles. Sharing agreements
 * between organisations (issue 3) plug into policy_decide(): a partner's
 * object is then visible at the level of the grant in force instead of
 * hidden. An object the actor may not see is answered exactly like one that
 * does not exist (DECIDE_HIDE -> 404). */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stdbool.h>

enum role {
	ROLE_ADMIN,
	ROLE_SECURITY_MANAGER,
	ROLE_DUTY_OFFICER,
	ROLE_LIAISON,
	ROLE_VIEWER,
	ROLE_PERSON,
	ROLE_COUNT
};

/* Returns the role named s (admin, security_manager, ...) or -1. */
int role_parse(const char *s);
const char *role_name(enum role r);
extern const char *const role_names[]; /* NULL-terminated, for validation */

struct actor {
	char id[48];        /* user id or api key id */
	char org_id[48];
	char username[72];  /* empty for API keys */
	char person_id[48]; /* the protected person a ROLE_PERSON account is */
	enum role role;
	bool root_org;      /* member of the installation's first organisation */
	bool api_key;
};

enum action { ACT_LIST, ACT_READ, ACT_CREATE, ACT_UPDATE, ACT_DELETE };
const char *action_name(enum action a);

enum decision {
	DECIDE_ALLOW,
	DECIDE_HIDE,   /* answer as if it did not exist: 404 */
	DECIDE_FORBID, /* the actor knows it exists but may not do this: 403 */
};

enum view {
	VIEW_FULL,    /* every field but secrets */
	VIEW_SUMMARY, /* without contact details and notes (sharing level "summary") */
};

/* Decides action by actor on an object of resource (a collection name such as
 * "people") owned by obj_org (NULL for collection-level actions: list, create).
 * obj_id is the object's id (to let a person read their own record).
 * On DECIDE_ALLOW writes the view level to *view when view is not NULL. */
enum decision policy_decide(const struct actor *actor, enum action action, const char *resource,
			    const char *obj_org, const char *obj_id, enum view *view);

/* For lists: true when the actor's list of resource should be narrowed to the
 * actor's own person record (role person). */
bool policy_list_self_only(const struct actor *actor, const char *resource);

#endif
