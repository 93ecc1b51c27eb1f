/* Registry resources described as data: each resource (people, sites, ...) is
 * a table of fields with a type, flags and limits. One engine validates
 * input, maps records to rows, generates its SQL once at start-up from these
 * constant descriptors (never from request data), writes the audit entry in
 * the same transaction, and serialises records for the API and exports.
 * Adding a field is one line in resources.c plus a migration.
 *
 * A record in memory is a jansson object holding every column by name (id,
 * org_id, the fields, created_at, updated_at), secrets included; the
 * serialisers decide what leaves the process. */
#ifndef SG_RESOURCE_H
#define SG_RESOURCE_H

#include "core/verr.h"
#include "policy/policy.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum ftype {
	FT_TEXT,
	FT_NAME,     /* text, 1..max chars, no control characters, trimmed */
	FT_USERNAME, /* [a-z0-9._-]{3,64} */
	FT_EMAIL,
	FT_PHONE,
	FT_INT,
	FT_REAL,
	FT_BOOL,
	FT_ENUM,
	FT_REF,      /* id of another resource in the same organisation */
	FT_GEOMETRY, /* GeoJSON geometry object, stored as text */
	FT_PASSWORD, /* write-only; stored as an argon2id PHC string in `col` */
	FT_TIME,     /* RFC 3339, stored normalised as UTC with milliseconds */
};

#define FF_REQUIRED (1u << 0)  /* must be present (and not null) on create */
#define FF_FILTER (1u << 1)    /* usable as ?name=value on lists */
#define FF_READONLY (1u << 2)  /* set by the server; rejected in input */
#define FF_HIDDEN (1u << 3)    /* never serialised (secrets, derived columns) */
#define FF_PRIVATE (1u << 4)   /* contact details and notes: left out of summary views */
#define FF_IMMUTABLE (1u << 5) /* may be set on create only */
#define FF_WRITEONLY (1u << 6) /* with FF_HIDDEN: accepted in input, never serialised (a webhook's key) */

struct field {
	const char *name; /* JSON member name */
	const char *col;  /* column name; NULL = same as name */
	enum ftype type;
	unsigned flags;
	int max_len;                /* FT_TEXT/FT_NAME: characters */
	double min, max;            /* FT_INT/FT_REAL */
	const char *const *values;  /* FT_ENUM: NULL-terminated */
	const char *ref;            /* FT_REF: resource name, e.g. "sites" */
	const char *doc;            /* one line for the OpenAPI description */
};


/* The member every API answer adds to a record: at what access the caller
 * sees it ("own", "full", "summary"). No resource may have a field of that
 * name (resources_init checks). */
#define RESOURCE_ACCESS_MEMBER "access"

struct resource_sql; /* generated at start-up */
struct write_ctx;

/* Which of the collection's routes the router generates (list, create,
 * read, update, delete); a resource with its own create handler leaves
 * RES_CREATE out and lists its route in the router. */
#define RES_LIST 1u
#define RES_CREATE 2u
#define RES_READ 4u
#define RES_UPDATE 8u
#define RES_DELETE 16u
#define RES_CRUD (RES_LIST | RES_CREATE | RES_READ | RES_UPDATE | RES_DELETE)

/* A resource, whole: adding one is this descriptor (resources.c) and its
 * migration. Its access rule and sharing category go to the policy, its
 * table to the audit trail's row check, its routes to the router, at start. */
struct resource {
	const char *name;      /* collection name and URL segment: "people" */
	const char *type;      /* singular, for the audit trail: "person" */
	const char *table;
	const char *id_prefix; /* "per" */
	const struct field *fields;
	unsigned nfields;
	const char *one, *many; /* for route summaries: "a person", "people" */
	unsigned read_roles, write_roles; /* ROLE_BIT masks (policy.h) */
	bool self;             /* a person account may read its own record */
	enum category category; /* what a sharing grant must cover; CAT_NONE: never shared */
	unsigned routes;       /* RES_* */
	/* Optional cross-field check and derivation, after per-field validation
	 * (sites: radius only with a point; bounding box columns). */
	int (*check)(json_t *rec, struct verr *e);
	/* Optional, inside the insert's transaction (people: pseudonyms). */
	int (*after_insert)(struct db *db, const json_t *rec);
	/* Optional, inside the update's transaction, with the audit's changes
	 * ({member: {from, to}}, hidden members as "(changed)"). */
	int (*after_update)(struct db *db, const char *id, const json_t *changes,
			    const struct write_ctx *w);
	/* Optional: the access rule a record is decided under, when it is not
	 * the collection's own (a duress alarm: duty officers only). */
	const char *(*rule_of)(const json_t *rec);
	const struct policy_rule *extra_rule; /* that other rule, given to the policy at start */
	struct resource_sql *sql;
};

/* All resources, NULL-terminated; and lookup by name. */
extern const struct resource *const resources[];
const struct resource *resource_find(const char *name);
const struct field *resource_field(const struct resource *res, const char *name);

/* Generates every resource's SQL. Call once before use. */
void resources_init(void);
void resources_release(void);

/* --- input ------------------------------------------------------------- */

/* Validates body (a JSON object from a client or an import) for create
 * (patch=false) or update (patch=true) and merges it into rec (a new object
 * for create). Unknown members, read-only members, wrong types, bad ranges
 * and invalid GeoJSON are errors naming the member. Passwords are hashed
 * here (argon2id), so call this outside the write transaction. */
int resource_apply(const struct resource *res, json_t *rec, const json_t *body, bool patch,
		   struct verr *e);
/* A new record from a create body (resource_apply), with a fresh id and
 * org_id (NULL: the record is an organisation, its own org_id). NULL with
 * e set when the body is invalid. */
json_t *resource_new_record(const struct resource *res, const json_t *body, const char *org_id, struct verr *e);

/* --- store (call inside store_write; audit entry included) -------------- */

struct write_ctx {
	const char *actor;      /* user or key id, or "cli" */
	const char *request_id; /* may be NULL */
	int64_t now_ms;
	struct verr *err;       /* filled on a refused write */
	/* users: the session (token hash) that a password change keeps; every
	 * other session of the user ends with the change. NULL: none kept. */
	const char *keep_session;
	/* The audit entry's action instead of "update" (alarms: acknowledge,
	 * hand over, resolve, escalate). NULL: update. */
	const char *action;
};

/* Inserts rec (which must hold id and org_id; created/updated are set).
 * Checks references against the same organisation. */
int resource_insert(struct db *db, const struct resource *res, json_t *rec,
		    const struct write_ctx *w);
/* Applies the validated changes in `patch` to the stored record id of org_id
 * and writes it back; on success *out (if not NULL) receives the new record. */
int resource_update(struct db *db, const struct resource *res, const char *org_id, const char *id,
		    const json_t *patch, const struct write_ctx *w, json_t **out);
int resource_delete(struct db *db, const struct resource *res, const char *org_id, const char *id,
		    const struct write_ctx *w);

/* Loads the record id (any organisation); 0, SG_ENOTFOUND or SG_EIO. *out is new. */
int resource_get(struct db *db, const struct resource *res, const char *id, json_t **out);

struct list_query {
	const char *org_id;         /* NULL: every organisation (installation admins) */
	const char *after;          /* cursor: ids greater than this */
	const char *only_id;        /* narrow to one id (a person's own record) */
	const char *filter[24];     /* per field index: value to match, or NULL */
	const char *time_from, *time_to; /* resources with a `time` field: [from, to), normalised UTC */
	bool has_bbox;              /* resources with a bounding box: the records whose box meets */
	double bbox[4];             /* min_lon, min_lat, max_lon, max_lat */
	int limit;
};
/* Lists records of q->org_id in id order; *out is a new array, *more says
 * whether records follow the last one. */
int resource_list(struct db *db, const struct resource *res, const struct list_query *q,
		  json_t **out, bool *more);

/* --- output ------------------------------------------------------------ */

/* New JSON object for the API: every field but hidden ones (and, in summary
 * view, private ones). */
json_t *resource_public(const struct resource *res, const json_t *rec, enum view view);
/* The geometry member of rec, if the resource has one (borrowed), else NULL. */
const json_t *resource_geometry(const struct resource *res, const json_t *rec);

/* Random secret shown once (device and API keys) and its stored hash. */
void secret_new(const char *prefix, char *out, size_t outsz);
void secret_hash(const char *secret, char out[65]);

#endif
