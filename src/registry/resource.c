/* The registry engine: validation, rows, SQL and serialisation driven by the
 * field tables in resources.c; see resource.h. */
#include "registry/resource.h"

#include "ingest/protocols.h"
#include "registry/password.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/util.h"
#include "geo/geojson.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct resource_sql {
	char *insert, *update, *get, *list, *list_all, *del, *ref_org;
	const char *cols[48]; /* column order of get/list rows */
	int ncols;
};

const struct resource *resource_find(const char *name)
{
	for (int i = 0; resources[i]; i++)
		if (str_eq(resources[i]->name, name))
			return resources[i];
	return NULL;
}

const struct field *resource_field(const struct resource *res, const char *name)
{
	for (unsigned i = 0; i < res->nfields; i++)
		if (str_eq(res->fields[i].name, name))
			return &res->fields[i];
	return NULL;
}

static const char *fcol(const struct field *f)
{
	return f->col ? f->col : f->name;
}

/* SQL is generated here, once, from the constant field tables above: no
 * request data ever reaches SQL text. Placeholders are numbered (?N), which
 * both SQLite and (after ?->$ translation) PostgreSQL accept. */
static void gen_sql(const struct resource *res)
{
	struct resource_sql *q = res->sql;
	struct sb cols, vals, set, sb;
	sb_init(&cols);
	sb_init(&vals);
	sb_init(&set);
	sb_init(&sb);
	q->ncols = 0;
	q->cols[q->ncols++] = "id";
	q->cols[q->ncols++] = "org_id";
	sb_adds(&cols, "id, org_id");
	sb_adds(&vals, "?1, ?2");
	int n = 2;
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		n++;
		q->cols[q->ncols++] = fcol(f);
		sb_addf(&cols, ", %s", fcol(f));
		sb_addf(&vals, ", ?%d", n);
		sb_addf(&set, "%s = ?%d, ", fcol(f), n);
	}
	q->cols[q->ncols++] = "created_at";
	q->cols[q->ncols++] = "updated_at";
	if ((size_t)q->ncols > ARRAY_LEN(q->cols))
		BUG("too many fields in %s", res->name);
	sb_addf(&cols, ", created_at, updated_at");
	sb_addf(&vals, ", ?%d, ?%d", n + 1, n + 2);
	sb_addf(&set, "updated_at = ?%d", n + 2);

	q->insert = xasprintf("INSERT INTO %s (%s) VALUES (%s)", res->table, cols.buf, vals.buf);
	q->update = xasprintf("UPDATE %s SET %s WHERE id = ?1 AND org_id = ?2", res->table, set.buf);
	q->get = xasprintf("SELECT %s FROM %s WHERE id = ?1", cols.buf, res->table);
	q->del = xasprintf("DELETE FROM %s WHERE id = ?1 AND org_id = ?2", res->table);
	q->ref_org = xasprintf("SELECT org_id FROM %s WHERE id = ?1", res->table);
	/* list: ?1 org, ?2 cursor, ?3 only-id, ?4 limit, then one ?N per field filter. */
	for (int all = 0; all < 2; all++) {
		sb_addf(&sb, "SELECT %s FROM %s WHERE %s AND id > ?2 AND (?3 IS NULL OR id = ?3)",
			cols.buf, res->table, all ? "?1 IS NULL" : "org_id = ?1");
		for (unsigned i = 0; i < res->nfields; i++)
			if (res->fields[i].flags & FF_FILTER)
				sb_addf(&sb, " AND (?%u IS NULL OR %s = ?%u)", 5 + i,
					fcol(&res->fields[i]), 5 + i);
		/* a time window on the field named time, a box on the bounding box columns */
		if (resource_field(res, "time"))
			sb_adds(&sb, " AND (?40 IS NULL OR time >= ?40) AND (?41 IS NULL OR time < ?41)");
		if (resource_field(res, "min_lon"))
			sb_adds(&sb, " AND (?42 IS NULL OR (max_lon >= ?42 AND min_lon <= ?44 AND max_lat >= ?43"
				     " AND min_lat <= ?45))");
		sb_adds(&sb, " ORDER BY id LIMIT ?4");
		if (all)
			q->list_all = sb_detach(&sb);
		else
			q->list = sb_detach(&sb);
	}
	sb_release(&cols);
	sb_release(&vals);
	sb_release(&set);
}

static struct resource_sql sqls[16];

void resources_init(void)
{
	protocols_init(); /* the devices' protocol names */
	for (int i = 0; resources[i]; i++) {
		const struct resource *r = resources[i];
		policy_add_rule(&(struct policy_rule){r->name, r->read_roles, r->write_roles, r->self, r->category});
		if (r->extra_rule)
			policy_add_rule(r->extra_rule);
		audit_add_type(r->type, r->table);
		if ((size_t)i >= ARRAY_LEN(sqls))
			BUG("too many resources");
		((struct resource *)resources[i])->sql = &sqls[i];
		if (resources[i]->nfields + 5 > 24 + 5)
			BUG("resource %s has more fields than list filters allow", resources[i]->name);
		if (resource_field(resources[i], RESOURCE_ACCESS_MEMBER))
			BUG("resource %s has a field named like the access label", resources[i]->name);
		gen_sql(resources[i]);
	}
}

void resources_release(void)
{
	for (int i = 0; resources[i]; i++) {
		struct resource_sql *q = resources[i]->sql;
		if (!q)
			continue;
		free(q->insert);
		free(q->update);
		free(q->get);
		free(q->list);
		free(q->list_all);
		free(q->del);
		free(q->ref_org);
		memset(q, 0, sizeof(*q));
	}
}

/* --- validation ---------------------------------------------------------- */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static bool valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
		return false;
	const char *dot = strrchr(at, '.');
	if (!dot || dot == at + 1 || !dot[1])
		return false;
	for (const char *p = s; *p; p++)
		if (isspace((unsigned char)*p) || *p == ',' || *p == ';' || *p == '<' || *p == '>')
			return false;
	return true;
}

static bool valid_phone(const char *s)
{
	int digits = 0;
	size_t n = strlen(s);
	if (n < 3 || n > 32)
		return false;
	for (const char *p = s; *p; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (!(*p == '+' && p == s) && *p != ' ' && *p != '-' && *p != '(' && *p != ')')
			return false;
	}
	return digits >= 5 && digits <= 15;
}

static bool valid_username(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static const struct resource *ref_resource(const struct field *f)
{
	const struct resource *r = resource_find(f->ref);
	if (!r)
		BUG("field %s refers to unknown resource %s", f->name, f->ref);
	return r;
}

/* Validates one member; on success returns the value to store (new ref).
 * ctx_user: the account's user name, which a password must not contain. */
/* Text members: a string without NUL, clean of control characters and
 * noncharacters, within its length, of its kind's form; a password is
 * checked against the rules and stored as its argon2id hash. */
static int check_text(const struct field *f, const json_t *v, const char *ctx_user, const char *ptr,
		      struct verr *e, json_t **out)
{
	if (!json_is_string(v)) {
		verr_set(e, 400, ptr, "%s must be a string", f->name);
		return SG_EINVAL;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) != len) {
		verr_set(e, 400, ptr, "%s must not contain NUL characters", f->name);
		return SG_EINVAL;
	}
	size_t chars = utf8_chars(s);
	if (f->type == FT_PASSWORD) {
		if (chars < 12 || len > 1024) {
			verr_set(e, 400, ptr, "%s must have 12 to 1024 characters", f->name);
			return SG_EINVAL;
		}
		char why[200];
		if (password_check(s, ctx_user, why, sizeof(why))) {
			verr_set(e, 400, ptr, "%s", why);
			return SG_EINVAL;
		}
		char hash[crypto_pwhash_STRBYTES];
		if (crypto_pwhash_str(hash, s, len, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE))
			BUG("argon2id hashing ran out of memory");
		*out = json_string(hash);
		return 0;
	}
	bool multiline = f->type == FT_TEXT;
	if (!text_clean(s, multiline)) {
		verr_set(e, 400, ptr,
			 multiline ? "%s must not contain control characters (but tab and line ends) or Unicode noncharacters"
				   : "%s must not contain control characters, line ends or Unicode noncharacters",
			 f->name);
		return SG_EINVAL;
	}
	int max = f->max_len ? f->max_len : 200;
	if (chars > (size_t)max) {
		verr_set(e, 400, ptr, "%s may have at most %d characters", f->name, max);
		return SG_EINVAL;
	}
	const char *bad = NULL;
	if (f->type == FT_NAME && (!*s || isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])))
		bad = "must not be empty or start or end with spaces";
	else if (f->type == FT_EMAIL && !valid_email(s))
		bad = "is not an email address";
	else if (f->type == FT_PHONE && !valid_phone(s))
		bad = "is not a phone number (digits, optional leading +, 5 to 15 digits)";
	else if (f->type == FT_USERNAME && !valid_username(s))
		bad = "must have 3 to 64 characters of a-z, 0-9, '.', '_' or '-'";
	if (bad) {
		verr_set(e, 400, ptr, "%s %s", f->name, bad);
		return SG_EINVAL;
	}
	*out = json_incref((json_t *)v);
	return 0;
}

static int check_value(const struct field *f, const json_t *v, const char *ctx_user, struct verr *e,
		       json_t **out)
{
	char ptr[80];
	snprintf(ptr, sizeof(ptr), "/%s", f->name);
	switch (f->type) {
	case FT_TEXT:
	case FT_NAME:
	case FT_EMAIL:
	case FT_PHONE:
	case FT_USERNAME:
	case FT_PASSWORD:
		return check_text(f, v, ctx_user, ptr, e, out);
	case FT_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
			verr_set(e, 400, ptr, "%s must be a whole number from %g to %g", f->name, f->min, f->max);
			return SG_EINVAL;
		}
		*out = json_incref((json_t *)v);
		return 0;
	case FT_REAL: {
		double d = json_number_value(v);
		if (!json_is_number(v) || !isfinite(d) || d < f->min || d > f->max) {
			verr_set(e, 400, ptr, "%s must be a number from %g to %g", f->name, f->min, f->max);
			return SG_EINVAL;
		}
		*out = json_real(d);
		return 0;
	}
	case FT_BOOL:
		if (!json_is_boolean(v)) {
			verr_set(e, 400, ptr, "%s must be true or false", f->name);
			return SG_EINVAL;
		}
		*out = json_incref((json_t *)v);
		return 0;
	case FT_ENUM: {
		const char *s = json_string_value(v);
		for (int i = 0; s && f->values[i]; i++) {
			if (str_eq(s, f->values[i])) {
				*out = json_incref((json_t *)v);
				return 0;
			}
		}
		struct sb sb;
		sb_init(&sb);
		for (int i = 0; f->values[i]; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", f->values[i]);
		verr_set(e, 400, ptr, "%s must be one of: %s", f->name, sb.buf);
		sb_release(&sb);
		return SG_EINVAL;
	}
	case FT_REF: {
		const struct resource *r = ref_resource(f);
		if (!json_is_string(v) || !id_valid(json_string_value(v), r->id_prefix)) {
			verr_set(e, 400, ptr, "%s must be the id of one of your %s (%s_...)", f->name, r->name,
				 r->id_prefix);
			return SG_EINVAL;
		}
		*out = json_incref((json_t *)v);
		return 0;
	}
	case FT_TIME: {
		int64_t ms;
		char ts[25];
		if (!json_is_string(v) || time_parse_rfc3339(json_string_value(v), &ms)) {
			verr_set(e, 400, ptr, "%s must be an RFC 3339 time such as 2026-11-29T14:35:00Z", f->name);
			return SG_EINVAL;
		}
		time_format_ms(ms, ts);
		*out = json_string(ts);
		return 0;
	}
	case FT_GEOMETRY: {
		struct bbox bb;
		char where[160], detail[256];
		if (geojson_validate(v, GJ_POINT | GJ_POLYGON | GJ_MULTIPOLYGON, &bb, where,
				     sizeof(where), detail, sizeof(detail))) {
			char p2[240];
			snprintf(p2, sizeof(p2), "%s%s", ptr, where);
			verr_set(e, 400, p2, "%s: %s", f->name, detail);
			return SG_EINVAL;
		}
		*out = json_incref((json_t *)v);
		return 0;
	}
	}
	BUG("unhandled field type %d", f->type);
}

int resource_apply(const struct resource *res, json_t *rec, const json_t *body, bool patch,
		   struct verr *e)
{
	if (!json_is_object(body)) {
		verr_set(e, 400, "", "the body must be a JSON object");
		return SG_EINVAL;
	}
	const char *key;
	json_t *v;
	/* Unknown and read-only members first, so nothing is half-applied. */
	json_object_foreach((json_t *)body, key, v) {
		const struct field *f = resource_field(res, key);
		char ptr[80];
		snprintf(ptr, sizeof(ptr), "/%.70s", key);
		if (!f && (str_eq(key, "id") || str_eq(key, "org_id") || str_eq(key, "created_at") ||
			   str_eq(key, "updated_at"))) {
			verr_set(e, 400, ptr, "%s is set by the server and cannot be written", key);
			return SG_EINVAL;
		}
		if (!f || (f->flags & FF_HIDDEN && !(f->flags & FF_WRITEONLY) && f->type != FT_PASSWORD)) {
			verr_set(e, 400, ptr, "unknown member '%s' for %s", key, res->name);
			return SG_EINVAL;
		}
		if (f->flags & FF_READONLY) {
			verr_set(e, 400, ptr, "%s is set by the server and cannot be written", key);
			return SG_EINVAL;
		}
		if (patch && (f->flags & FF_IMMUTABLE)) {
			verr_set(e, 400, ptr, "%s cannot be changed after creation", key);
			return SG_EINVAL;
		}
	}
	/* A password is checked against the account's name: the body's on
	 * create, the record's (callers put it there) on a change. */
	const char *ctx_user = json_string_value(json_object_get(body, "username"));
	if (!ctx_user)
		ctx_user = json_string_value(json_object_get(rec, "username"));
	json_t *staged = json_object();
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		json_t *in = json_object_get(body, f->name);
		char ptr[80];
		snprintf(ptr, sizeof(ptr), "/%s", f->name);
		if (!in) {
			if (!patch && (f->flags & FF_REQUIRED)) {
				verr_set(e, 400, ptr, "%s is required", f->name);
				json_decref(staged);
				return SG_EINVAL;
			}
			continue;
		}
		if (json_is_null(in)) {
			if (f->flags & FF_REQUIRED) {
				verr_set(e, 400, ptr, "%s is required and cannot be null", f->name);
				json_decref(staged);
				return SG_EINVAL;
			}
			json_object_set_new(staged, fcol(f), json_null());
			continue;
		}
		json_t *val;
		if (check_value(f, in, ctx_user, e, &val)) {
			json_decref(staged);
			return SG_EINVAL;
		}
		json_object_set_new(staged, fcol(f), val);
	}
	json_object_update(rec, staged);
	json_decref(staged);
	/* Cross-field checks need the whole record: for a patch they run in
	 * resource_update() on the merged record. */
	if (!patch && res->check && res->check(rec, e))
		return SG_EINVAL;
	return 0;
}

json_t *resource_new_record(const struct resource *res, const json_t *body, const char *org_id, struct verr *e)
{
	json_t *rec = json_object();
	if (resource_apply(res, rec, body, false, e)) {
		json_decref(rec);
		return NULL;
	}
	char id[ID_MAX];
	id_new(res->id_prefix, clock_now_ms(), id);
	json_object_set_new(rec, "id", json_string(id));
	json_object_set_new(rec, "org_id", json_string(org_id ? org_id : id));
	return rec;
}

/* --- rows ----------------------------------------------------------------- */

static const struct field *field_by_col(const struct resource *res, const char *col)
{
	for (unsigned i = 0; i < res->nfields; i++)
		if (str_eq(fcol(&res->fields[i]), col))
			return &res->fields[i];
	return NULL;
}

static void bind_value(struct db_stmt *st, int idx, const struct field *f, const json_t *v)
{
	if (!v || json_is_null(v)) {
		db_bind_null(st, idx);
		return;
	}
	switch (f ? f->type : FT_TEXT) {
	case FT_INT:
		db_bind_int(st, idx, json_integer_value(v));
		break;
	case FT_REAL:
		db_bind_real(st, idx, json_number_value(v));
		break;
	case FT_BOOL:
		db_bind_int(st, idx, json_is_true(v));
		break;
	case FT_GEOMETRY: {
		/* 15 significant digits: a stable text for every coordinate (sub-micrometre). */
		char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
		db_bind_text(st, idx, s);
		free(s);
		break;
	}
	default:
		db_bind_text(st, idx, json_string_value(v));
	}
}

static json_t *row_value(struct db_stmt *st, int i, const struct field *f)
{
	switch (db_col_type(st, i)) {
	case DB_NULL:
		return json_null();
	case DB_INT:
		if (f && f->type == FT_BOOL)
			return json_boolean(db_col_int(st, i));
		if (f && f->type == FT_REAL)
			return json_real((double)db_col_int(st, i));
		return json_integer(db_col_int(st, i));
	case DB_REAL:
		return json_real(db_col_real(st, i));
	case DB_TEXT:
		if (f && f->type == FT_GEOMETRY) {
			json_t *g = json_loads(db_col_text(st, i), 0, NULL);
			return g ? g : json_null();
		}
		return json_string(db_col_text(st, i));
	default:
		return json_null();
	}
}

static json_t *row_to_record(const struct resource *res, struct db_stmt *st)
{
	json_t *rec = json_object();
	for (int i = 0; i < res->sql->ncols; i++) {
		const char *col = res->sql->cols[i];
		json_object_set_new(rec, col, row_value(st, i, field_by_col(res, col)));
	}
	return rec;
}

static void bind_record(const struct resource *res, struct db_stmt *st, const json_t *rec)
{
	db_bind_text(st, 1, json_string_value(json_object_get(rec, "id")));
	db_bind_text(st, 2, json_string_value(json_object_get(rec, "org_id")));
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		bind_value(st, 3 + (int)i, f, json_object_get(rec, fcol(f)));
	}
	db_bind_text(st, 3 + (int)res->nfields, json_string_value(json_object_get(rec, "created_at")));
	db_bind_text(st, 4 + (int)res->nfields, json_string_value(json_object_get(rec, "updated_at")));
}

/* References must name an object of the same organisation. */
static int check_refs(struct db *db, const struct resource *res, const json_t *rec, struct verr *e)
{
	const char *org = json_string_value(json_object_get(rec, "org_id"));
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		if (f->type != FT_REF)
			continue;
		const char *id = json_string_value(json_object_get(rec, fcol(f)));
		if (!id)
			continue;
		const struct resource *r = ref_resource(f);
		struct db_stmt *st;
		if (db_prepare(db, r->sql->ref_org, &st))
			return SG_EIO;
		db_bind_text(st, 1, id);
		int rc = db_step(st);
		bool ok = rc == DB_ROW && str_eq(db_col_text(st, 0), org);
		db_reset(st);
		if (rc < 0)
			return rc;
		if (!ok) {
			char ptr[80];
			snprintf(ptr, sizeof(ptr), "/%s", f->name);
			verr_set(e, 422, ptr, "%s: no such %s in your organisation", f->name, r->type);
			return SG_EINVAL;
		}
	}
	return 0;
}

static json_t *audit_snapshot(const struct resource *res, const json_t *rec)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		if (f->flags & FF_HIDDEN)
			continue;
		json_t *v = json_object_get(rec, fcol(f));
		if (v)
			json_object_set(o, f->name, v);
	}
	return o;
}

static int write_audit(struct db *db, const struct resource *res, const char *action,
		       const json_t *rec, const json_t *changes, const struct write_ctx *w)
{
	struct audit_entry ae = {
		.actor = w->actor,
		.org_id = json_string_value(json_object_get(rec, "org_id")),
		.action = action,
		.object_type = res->type,
		.object_id = json_string_value(json_object_get(rec, "id")),
		.changes = changes,
		.request_id = w->request_id,
	};
	return audit_append(db, &ae, w->now_ms);
}

static int unique_conflict(const struct resource *res, struct verr *e)
{
	/* Name the unique member for the client: the first immutable/unique-ish text field. */
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		if (f->type == FT_USERNAME || str_eq(f->name, "registration") ||
		    (str_eq(res->name, "organisations") && str_eq(f->name, "name"))) {
			char ptr[80];
			snprintf(ptr, sizeof(ptr), "/%s", f->name);
			verr_set(e, 409, ptr, "another %s already has this %s", res->type, f->name);
			return SG_EEXIST;
		}
	}
	verr_set(e, 409, "/id", "a %s with this id already exists", res->type);
	return SG_EEXIST;
}

int resource_insert(struct db *db, const struct resource *res, json_t *rec,
		    const struct write_ctx *w)
{
	char ts[25];
	time_format_ms(w->now_ms, ts);
	if (!json_object_get(rec, "created_at"))
		json_object_set_new(rec, "created_at", json_string(ts));
	if (!json_object_get(rec, "updated_at"))
		json_object_set_new(rec, "updated_at", json_string(ts));
	/* Booleans default to false rather than NULL. */
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		json_t *v = json_object_get(rec, fcol(f));
		if (f->type == FT_BOOL && (!v || json_is_null(v)))
			json_object_set_new(rec, fcol(f), json_false());
	}
	int rc = check_refs(db, res, rec, w->err);
	if (rc)
		return rc;
	struct db_stmt *st;
	if (db_prepare(db, res->sql->insert, &st))
		return SG_EIO;
	bind_record(res, st, rec);
	rc = db_run(st);
	if (rc == SG_EEXIST)
		return unique_conflict(res, w->err);
	if (rc)
		return rc;
	if (res->after_insert && (rc = res->after_insert(db, rec)) != 0)
		return rc;
	json_t *snap = audit_snapshot(res, rec);
	rc = write_audit(db, res, "create", rec, snap, w);
	json_decref(snap);
	return rc;
}

int resource_get(struct db *db, const struct resource *res, const char *id, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, res->sql->get, &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	int rc = db_step(st);
	if (rc == DB_ROW)
		*out = row_to_record(res, st);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : rc;
}

/* The record id of org_id, for a change: another organisation's record is
 * "no such" as much as a missing one (404, nothing learnt). */
static int own_record(struct db *db, const struct resource *res, const char *org_id, const char *id,
		      const struct write_ctx *w, json_t **rec)
{
	int rc = resource_get(db, res, id, rec);
	if (rc == SG_ENOTFOUND || (rc == 0 && !str_eq(json_string_value(json_object_get(*rec, "org_id")), org_id))) {
		if (rc == 0)
			json_decref(*rec);
		verr_set(w->err, 404, "", "no such %s", res->type);
		return SG_ENOTFOUND;
	}
	return rc;
}

int resource_update(struct db *db, const struct resource *res, const char *org_id, const char *id,
		    const json_t *patch, const struct write_ctx *w, json_t **out)
{
	json_t *rec;
	int rc = own_record(db, res, org_id, id, w, &rec);
	if (rc)
		return rc;
	json_t *before = json_deep_copy(rec);
	json_object_update(rec, (json_t *)patch);
	if (res->check && (rc = res->check(rec, w->err)) != 0)
		goto out;
	char ts[25];
	time_format_ms(w->now_ms, ts);
	json_object_set_new(rec, "updated_at", json_string(ts));
	if ((rc = check_refs(db, res, rec, w->err)) != 0)
		goto out;
	struct db_stmt *st;
	if (db_prepare(db, res->sql->update, &st)) {
		rc = SG_EIO;
		goto out;
	}
	bind_record(res, st, rec);
	rc = db_run(st);
	if (rc == SG_EEXIST) {
		rc = unique_conflict(res, w->err);
		goto out;
	}
	if (rc)
		goto out;
	json_t *changes = json_object();
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		json_t *a = json_object_get(before, fcol(f)), *b = json_object_get(rec, fcol(f));
		if (json_equal(a ? a : json_null(), b ? b : json_null()))
			continue;
		if (f->flags & FF_HIDDEN)
			json_object_set_new(changes, f->name, json_string("(changed)"));
		else
			json_object_set_new(changes, f->name,
					    json_pack("{s:O?,s:O?}", "from", a, "to", b));
	}
	rc = write_audit(db, res, w->action ? w->action : "update", rec, changes, w);
	if (rc == 0 && res->after_update)
		rc = res->after_update(db, id, changes, w);
	json_decref(changes);
out:
	json_decref(before);
	if (rc == 0 && out)
		*out = rec;
	else
		json_decref(rec);
	return rc;
}

int resource_delete(struct db *db, const struct resource *res, const char *org_id, const char *id,
		    const struct write_ctx *w)
{
	json_t *rec;
	int rc = own_record(db, res, org_id, id, w, &rec);
	if (rc)
		return rc;
	struct db_stmt *st;
	if (db_prepare(db, res->sql->del, &st)) {
		json_decref(rec);
		return SG_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, org_id);
	rc = db_run(st);
	if (rc == SG_ECONFLICT) {
		verr_set(w->err, 409, "", "this %s is still referenced by other records; remove those references first",
			 res->type);
	} else if (rc == 0) {
		json_t *snap = audit_snapshot(res, rec);
		rc = write_audit(db, res, "delete", rec, snap, w);
		json_decref(snap);
	}
	json_decref(rec);
	return rc;
}

int resource_list(struct db *db, const struct resource *res, const struct list_query *q,
		  json_t **out, bool *more)
{
	struct db_stmt *st;
	if (db_prepare(db, q->org_id ? res->sql->list : res->sql->list_all, &st))
		return SG_EIO;
	db_bind_all(st, DB_T(q->org_id), DB_T(q->after ? q->after : ""), DB_T(q->only_id),
	                DB_I(q->limit + 1));
	for (unsigned i = 0; i < res->nfields; i++) {
		if (!(res->fields[i].flags & FF_FILTER))
			continue;
		const char *v = q->filter[i];
		if (!v)
			db_bind_null(st, 5 + (int)i);
		else if (res->fields[i].type == FT_BOOL)
			db_bind_int(st, 5 + (int)i, str_eq(v, "true"));
		else
			db_bind_text(st, 5 + (int)i, v);
	}
	if (q->time_from)
		db_bind_text(st, 40, q->time_from);
	if (q->time_to)
		db_bind_text(st, 41, q->time_to);
	for (int i = 0; q->has_bbox && i < 4; i++)
		db_bind_real(st, 42 + i, q->bbox[i]);
	json_t *arr = json_array();
	int rc, n = 0;
	*more = false;
	while ((rc = db_step(st)) == DB_ROW) {
		if (n++ == q->limit) {
			*more = true;
			break;
		}
		json_array_append_new(arr, row_to_record(res, st));
	}
	db_reset(st);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

json_t *resource_public(const struct resource *res, const json_t *rec, enum view view)
{
	json_t *o = json_object();
	json_object_set(o, "id", json_object_get(rec, "id"));
	json_object_set(o, "org_id", json_object_get(rec, "org_id"));
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		if ((f->flags & FF_HIDDEN) || (view == VIEW_SUMMARY && (f->flags & FF_PRIVATE)))
			continue;
		json_t *v = json_object_get(rec, fcol(f));
		json_object_set(o, f->name, v ? v : json_null());
	}
	json_object_set(o, "created_at", json_object_get(rec, "created_at"));
	json_object_set(o, "updated_at", json_object_get(rec, "updated_at"));
	return o;
}

const json_t *resource_geometry(const struct resource *res, const json_t *rec)
{
	for (unsigned i = 0; i < res->nfields; i++)
		if (res->fields[i].type == FT_GEOMETRY)
			return json_object_get(rec, fcol(&res->fields[i]));
	return NULL;
}

void secret_new(const char *prefix, char *out, size_t outsz)
{
	unsigned char raw[24];
	randombytes_buf(raw, sizeof(raw));
	char *b = b64url_encode(raw, sizeof(raw));
	snprintf(out, outsz, "%s%s", prefix, b);
	sodium_memzero(raw, sizeof(raw));
	free(b);
}

void secret_hash(const char *secret, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
	hex_encode(h, sizeof(h), out);
}
