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

/* What a sharing agreement can cover. Categories whose data arrives in later
 * issues (positions, movements, ...) are defined now and enforced as they come. */
enum category {
	CAT_PEOPLE,
	CAT_POSITIONS,
	CAT_MOVEMENTS,
	CAT_INCIDENTS,
	CAT_ZONES,
	CAT_ALARMS,
	CAT_ALERTS,
	CAT_ROLLCALLS,
	CAT_SITES,
	CAT_VEHICLES,
	CAT_COUNT,
	CAT_NONE = -1, /* never shared (devices, users, keys, audit) */
};
enum level { LEVEL_NONE, LEVEL_SUMMARY, LEVEL_FULL };
enum condition { COND_ALWAYS, COND_DURING_MOVEMENT, COND_DURING_SOS };

extern const char *const category_names[]; /* NULL-terminated, by enum value */
extern const char *const level_names[];
extern const char *const condition_names[];
/* Whether the policy has a rule for resource (an event's category is one). */
bool policy_has_rule(const char *resource);
/* The category a resource belongs to (CAT_NONE when it is never shared). */
enum category category_of(const char *resource);

#define ROLE_BIT(r) (1u << (r))
#define ROLES_STAFF                                                                                       \
	(ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SECURITY_MANAGER) | ROLE_BIT(ROLE_DUTY_OFFICER) |          \
	 ROLE_BIT(ROLE_LIAISON) | ROLE_BIT(ROLE_VIEWER))
#define ROLES_MANAGERS (ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SECURITY_MANAGER))
/* Who runs operations: the managers, the duty officers and the liaison. */
#define ROLES_OPERATORS (ROLES_MANAGERS | ROLE_BIT(ROLE_DUTY_OFFICER) | ROLE_BIT(ROLE_LIAISON))
#define ROLES_ALL (ROLES_STAFF | ROLE_BIT(ROLE_PERSON))

/* Who may do what to a resource at home, and the sharing category that lets
 * partners read it. */
struct policy_rule {
	const char *resource;
	unsigned read;  /* roles (ROLE_BIT) that may list and read */
	unsigned write; /* roles that may create, update, delete */
	bool self;      /* a person account may read its own record */
	enum category cat;
};
/* Adds (or replaces) a resource's rule; at start, before any decision (the
 * registry adds one per resource descriptor). */
void policy_add_rule(const struct policy_rule *r);

/* A grant in force: grantor lets the actor's organisation see cat at level. */
struct grant {
	char id[48];
	char agreement_id[48];
	char grantor[48];
	enum category cat;
	enum level level;
	enum condition cond;
};

#define MAX_GRANTS 64
#define MAX_PARTNERS 16

/* The grants in force towards one organisation at one moment, loaded once
 * per request (sharing_incoming), so a revocation counts from the next
 * request on. partners: organisations with any agreement with it. */
struct grant_set {
	struct grant g[MAX_GRANTS];
	int n;
	char partners[MAX_PARTNERS][48];
	int npartners;
};

struct actor {
	char id[48];        /* user id or api key id */
	char org_id[48];
	char username[72];  /* empty for API keys */
	char person_id[48]; /* the protected person a ROLE_PERSON account is */
	enum role role;
	bool root_org;      /* member of the installation's first organisation */
	bool api_key;
	const struct grant_set *grants; /* incoming grants in force; NULL = none */
	/* Evaluates a grant's condition for one object (the person concerned);
	 * NULL means no condition other than "always" can be met. */
	bool (*condition_met)(void *ctx, const struct grant *g, const char *obj_id);
	void *cond_ctx;
};

enum action { ACT_LIST, ACT_READ, ACT_CREATE, ACT_UPDATE, ACT_DELETE };
const char *action_name(enum action a);

enum decision {
	DECIDE_ALLOW,
	DECIDE_HIDE,   /* answer as if it did not exist: 404 */
	DECIDE_FORBID, /* the actor knows it exists but may not do this: 403 */
};

enum view {
	VIEW_OWN,     /* the actor's own organisation's record: every field but secrets */
	VIEW_FULL,    /* a partner's record shared in full: every field but secrets */
	VIEW_SUMMARY, /* a partner's record shared as summary: no contact details, notes or names */
};
const char *view_name(enum view v); /* "own", "full", "summary" */

/* The outcome of an allowed decision. */
struct access {
	enum view view;
	const struct grant *grant; /* the grant that allowed a partner's record, else NULL */
};

/* Decides action by actor on an object of resource (a collection name such as
 * "people") owned by obj_org (NULL for collection-level actions: list, create).
 * obj_id is the object's id (to let a person read their own record, and to
 * evaluate grant conditions).
 *
 * Own organisation: by role. Another organisation's object: readable only
 * through a grant in force for the resource's category, at its level, when
 * its condition holds, and only by roles that may read such objects at home;
 * never writable (403 when visible, 404 when not). On DECIDE_ALLOW writes the
 * view and the grant to *out when out is not NULL. */
enum decision policy_decide(const struct actor *actor, enum action action, const char *resource,
			    const char *obj_org, const char *obj_id, struct access *out);

/* The grant in force from grantor for cat, or NULL. */
const struct grant *policy_grant(const struct actor *actor, const char *grantor, enum category cat);

/* For lists: true when the actor's list of resource should be narrowed to the
 * actor's own person record (role person). */
bool policy_list_self_only(const struct actor *actor, const char *resource);

#endif
