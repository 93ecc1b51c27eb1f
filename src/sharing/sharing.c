/* Agreements, grants and pseudonyms in the store; see sharing.h. */
#include "sharing/sharing.h"

#include "alarms/alarms.h"

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

static int index_of(const char *const *names, const char *s)
{
	for (int i = 0; s && names[i]; i++)
		if (str_eq(names[i], s))
			return i;
	return -1;
}

static const char *col(struct db_stmt *st, int i)
{
	return db_col_text(st, i);
}

/* Runs sql with up to three text parameters and returns the first column
 * of every row as a new array of strings (sql is a constant). */
static int column3(struct db *db, const char *sql, const char *p1, const char *p2, const char *p3, json_t **out)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, p1);
	if (p2)
		db_bind_text(st, 2, p2);
	if (p3)
		db_bind_text(st, 3, p3);
	json_t *a = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, json_string(col(st, 0)));
	db_reset(st);
	if (rc < 0) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

static int column(struct db *db, const char *sql, const char *p1, const char *p2, json_t **out)
{
	return column3(db, sql, p1, p2, NULL, out);
}

/* A grant g of agreement a is in force at ?2: both sides accepted, the
 * grantor's side active, ?2 within the grant's validity. */
#define GRANT_IN_FORCE                                                                                      \
	" a.a_accepted_at IS NOT NULL AND a.b_accepted_at IS NOT NULL"                                      \
	" AND ((a.org_id = g.org_id AND a.a_state = 'active') OR (a.partner_id = g.org_id AND a.b_state = 'active'))" \
	" AND (g.valid_from IS NULL OR g.valid_from <= ?2) AND (g.valid_to IS NULL OR g.valid_to > ?2)"

static const char PARTNERS_SQL[] = "SELECT CASE WHEN org_id = ?1 THEN partner_id ELSE org_id END"
				   " FROM agreements WHERE org_id = ?1 OR partner_id = ?1";

int sharing_incoming(struct db *db, const char *grantee, int64_t now_ms, struct grant_set *out)
{
	char now[25];
	struct db_stmt *st;
	time_format_ms(now_ms, now);
	memset(out, 0, sizeof(*out));
	if (db_prepare(db,
		       "SELECT g.id, g.agreement_id, g.org_id, g.category, g.level, g.condition"
		       " FROM grants g JOIN agreements a ON a.id = g.agreement_id"
		       " WHERE g.grantee_id = ?1 AND" GRANT_IN_FORCE " ORDER BY g.id",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, grantee);
	db_bind_text(st, 2, now);
	int rc;
	while ((rc = db_step(st)) == DB_ROW && out->n < MAX_GRANTS) {
		struct grant *g = &out->g[out->n];
		int cat = index_of(category_names, col(st, 3));
		int lvl = index_of(level_names, col(st, 4));
		int cond = index_of(condition_names, col(st, 5));
		if (cat < 0 || lvl < 0 || cond < 0)
			continue; /* unknown values never grant anything */
		sg_strlcpy(g->id, col(st, 0), sizeof(g->id));
		sg_strlcpy(g->agreement_id, col(st, 1), sizeof(g->agreement_id));
		sg_strlcpy(g->grantor, col(st, 2), sizeof(g->grantor));
		g->cat = (enum category)cat;
		g->level = (enum level)lvl;
		g->cond = (enum condition)cond;
		out->n++;
	}
	db_reset(st);
	if (rc < 0)
		return rc;
	json_t *partners;
	if ((rc = column(db, PARTNERS_SQL, grantee, NULL, &partners)))
		return rc;
	size_t i;
	json_t *p;
	json_array_foreach(partners, i, p) {
		if (out->npartners < MAX_PARTNERS)
			sg_strlcpy(out->partners[out->npartners++], json_string_value(p), sizeof(out->partners[0]));
	}
	json_decref(partners);
	return 0;
}

int sharing_grantees(struct db *db, const char *grantor, enum category cat, int64_t now_ms, json_t **out)
{
	char now[25];
	time_format_ms(now_ms, now);
	return column3(db,
		       "SELECT DISTINCT g.grantee_id FROM grants g JOIN agreements a ON a.id = g.agreement_id"
		       " WHERE g.org_id = ?1 AND g.category = ?3 AND g.level = 'full' AND g.condition = 'always' AND"
		       GRANT_IN_FORCE " ORDER BY g.grantee_id",
		       grantor, now, category_names[cat], out);
}

#define CACHE_ENTRIES 64
#define CACHE_TTL_MS 1000

struct grant_cache {
	pthread_mutex_t mu;
	uint64_t generation;
	struct {
		char org[48];
		uint64_t generation;
		int64_t fetched_ms;
		struct grant_set set;
	} e[CACHE_ENTRIES];
	unsigned next;
};

struct grant_cache *grant_cache_new(void)
{
	struct grant_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->generation = 1;
	return c;
}

void grant_cache_free(struct grant_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void grant_cache_invalidate(struct grant_cache *c)
{
	pthread_mutex_lock(&c->mu);
	c->generation++;
	pthread_mutex_unlock(&c->mu);
}

int grant_cache_get(struct grant_cache *c, struct db *db, const char *grantee, int64_t now_ms,
		    struct grant_set *out)
{
	pthread_mutex_lock(&c->mu);
	uint64_t gen = c->generation;
	for (unsigned i = 0; i < CACHE_ENTRIES; i++) {
		if (c->e[i].generation == gen && str_eq(c->e[i].org, grantee) &&
		    now_ms - c->e[i].fetched_ms < CACHE_TTL_MS && now_ms >= c->e[i].fetched_ms) {
			*out = c->e[i].set;
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&c->mu);
	int rc = sharing_incoming(db, grantee, now_ms, out);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	if (c->generation == gen) { /* not invalidated while we read */
		unsigned i = c->next++ % CACHE_ENTRIES;
		sg_strlcpy(c->e[i].org, grantee, sizeof(c->e[i].org));
		c->e[i].generation = gen;
		c->e[i].fetched_ms = now_ms;
		c->e[i].set = *out;
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int sharing_validate_grants(const json_t *grants, json_t **out, struct verr *e)
{
	if (!json_is_array(grants)) {
		verr_set(e, 400, "/grants", "grants must be an array of {category, level, condition, from, to}");
		return SG_EINVAL;
	}
	if (json_array_size(grants) > CAT_COUNT) {
		verr_set(e, 400, "/grants", "at most one grant per category (%d)", CAT_COUNT);
		return SG_EINVAL;
	}
	json_t *norm = json_array();
	bool seen[CAT_COUNT] = {false};
	size_t i;
	json_t *g;
	json_array_foreach(grants, i, g) {
		char p[64];
		if (!json_is_object(g)) {
			snprintf(p, sizeof(p), "/grants/%zu", i);
			verr_set(e, 400, p, "a grant is an object");
			goto bad;
		}
		const char *key;
		json_t *v;
		json_object_foreach(g, key, v) {
			if (index_of((const char *const[]){"category", "level", "condition", "from", "to", NULL}, key) < 0) {
				snprintf(p, sizeof(p), "/grants/%zu/%.30s", i, key);
				verr_set(e, 400, p, "unknown member '%.30s' in a grant", key);
				goto bad;
			}
		}
		int cat = index_of(category_names, json_string_value(json_object_get(g, "category")));
		if (cat < 0) {
			snprintf(p, sizeof(p), "/grants/%zu/category", i);
			verr_set(e, 400, p, "category must be one of people, positions, movements, incidents, zones, alarms, alerts, roll-calls, sites, vehicles");
			goto bad;
		}
		if (seen[cat]) {
			snprintf(p, sizeof(p), "/grants/%zu/category", i);
			verr_set(e, 400, p, "category %s is granted twice", category_names[cat]);
			goto bad;
		}
		seen[cat] = true;
		int lvl = index_of(level_names, json_string_value(json_object_get(g, "level")));
		if (lvl < 0) {
			snprintf(p, sizeof(p), "/grants/%zu/level", i);
			verr_set(e, 400, p, "level must be none, summary or full");
			goto bad;
		}
		json_t *cj = json_object_get(g, "condition");
		int cond = cj && !json_is_null(cj) ? index_of(condition_names, json_string_value(cj)) : COND_ALWAYS;
		if (cond < 0) {
			snprintf(p, sizeof(p), "/grants/%zu/condition", i);
			verr_set(e, 400, p, "condition must be always, during_shared_movement or during_open_sos");
			goto bad;
		}
		if (cond != COND_ALWAYS && cat != CAT_PEOPLE && cat != CAT_POSITIONS) {
			snprintf(p, sizeof(p), "/grants/%zu/condition", i);
			verr_set(e, 400, p, "a condition about a person applies only to people and positions");
			goto bad;
		}
		char times[2][25] = {"", ""};
		int64_t ms[2] = {0, 0};
		const char *names[2] = {"from", "to"};
		for (int k = 0; k < 2; k++) {
			json_t *t = json_object_get(g, names[k]);
			if (!t || json_is_null(t))
				continue;
			if (!json_is_string(t) || time_parse_rfc3339(json_string_value(t), &ms[k])) {
				snprintf(p, sizeof(p), "/grants/%zu/%s", i, names[k]);
				verr_set(e, 400, p, "%s must be an RFC 3339 time or null", names[k]);
				goto bad;
			}
			time_format_ms(ms[k], times[k]);
		}
		if (times[0][0] && times[1][0] && ms[0] >= ms[1]) {
			snprintf(p, sizeof(p), "/grants/%zu/to", i);
			verr_set(e, 400, p, "to must be later than from");
			goto bad;
		}
		json_array_append_new(norm, json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "category", category_names[cat],
						      "level", level_names[lvl], "condition", condition_names[cond],
						      "from", times[0][0] ? times[0] : NULL, "to",
						      times[1][0] ? times[1] : NULL));
	}
	*out = norm;
	return 0;
bad:
	json_decref(norm);
	return SG_EINVAL;
}

/* --- pseudonyms -------------------------------------------------------------- */

bool sharing_is_pseudonym(const char *s)
{
	return s && strlen(s) == 7 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
	       s[2] == '-' && isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
	       isdigit((unsigned char)s[5]) && isdigit((unsigned char)s[6]);
}

static int give_pseudonym(struct db *db, const char *person, const char *partner)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT 1 FROM pseudonyms WHERE person_id = ?1 AND partner_id = ?2", &st))
		return SG_EIO;
	db_bind_text(st, 1, person);
	db_bind_text(st, 2, partner);
	int rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE)
		return rc == DB_ROW ? 0 : rc;
	/* Random, so it reveals nothing; unique per partner (retry on a clash). */
	for (int attempt = 0; attempt < 50; attempt++) {
		char code[16];
		uint32_t r = randombytes_uniform(26 * 26 * 10000);
		snprintf(code, sizeof(code), "%c%c-%04u", 'A' + (int)(r / 260000), 'A' + (int)(r / 10000 % 26),
			 (unsigned)(r % 10000));
		if (db_prepare(db, "INSERT INTO pseudonyms (person_id, partner_id, code) VALUES (?1, ?2, ?3)", &st))
			return SG_EIO;
		db_bind_all(st, DB_T(person), DB_T(partner), DB_T(code));
		rc = db_run(st);
		if (rc != SG_EEXIST)
			return rc;
	}
	return SG_EIO;
}

/* A pseudonym for each pair: one person towards every partner in list, or
 * every person in list towards one partner. Frees list. */
static int give_each(struct db *db, const char *person, json_t *list, const char *partner)
{
	size_t i;
	json_t *v;
	int rc = 0;
	json_array_foreach(list, i, v) {
		if (rc >= 0)
			rc = give_pseudonym(db, person ? person : json_string_value(v),
					    partner ? partner : json_string_value(v));
	}
	json_decref(list);
	return rc < 0 ? rc : 0;
}

int sharing_pseudonyms_for_person(struct db *db, const char *person_id, const char *org_id)
{
	json_t *partners;
	int rc = column(db, PARTNERS_SQL, org_id, NULL, &partners);
	return rc ? rc : give_each(db, person_id, partners, NULL);
}

/* Pseudonyms for every person of owner towards partner. */
static int pseudonyms_for_org(struct db *db, const char *owner, const char *partner)
{
	json_t *ids;
	int rc = column(db, "SELECT id FROM people WHERE org_id = ?1 AND id NOT IN"
			    " (SELECT person_id FROM pseudonyms WHERE partner_id = ?2)", owner, partner, &ids);
	return rc ? rc : give_each(db, NULL, ids, partner);
}

/* The first column of the first row of sql (two text parameters) into out. */
static int first_text(struct db *db, const char *sql, const char *p1, const char *p2, char *out,
		      size_t outsz)
{
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, p1);
	db_bind_text(st, 2, p2);
	int rc = db_step(st);
	if (rc == DB_ROW)
		sg_strlcpy(out, col(st, 0), outsz);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : rc;
}

int sharing_pseudonym(struct db *db, const char *person_id, const char *partner, char code[16])
{
	return first_text(db, "SELECT code FROM pseudonyms WHERE person_id = ?1 AND partner_id = ?2",
			  person_id, partner, code, 16);
}

int sharing_resolve_pseudonym(struct db *db, const char *code, const char *partner,
			      char person_id[48])
{
	return first_text(db, "SELECT person_id FROM pseudonyms WHERE code = ?1 AND partner_id = ?2", code,
			  partner, person_id, 48);
}

/* --- agreements -------------------------------------------------------------- */

struct agreement {
	char id[48], a[48], b[48];
	bool a_accepted, b_accepted;
	char a_state[16], b_state[16];
};

static int load(struct db *db, const char *id, struct agreement *ag)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT id, org_id, partner_id, a_accepted_at, b_accepted_at, a_state, b_state"
			   " FROM agreements WHERE id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		sg_strlcpy(ag->id, col(st, 0), sizeof(ag->id));
		sg_strlcpy(ag->a, col(st, 1), sizeof(ag->a));
		sg_strlcpy(ag->b, col(st, 2), sizeof(ag->b));
		ag->a_accepted = col(st, 3) != NULL;
		ag->b_accepted = col(st, 4) != NULL;
		sg_strlcpy(ag->a_state, col(st, 5), sizeof(ag->a_state));
		sg_strlcpy(ag->b_state, col(st, 6), sizeof(ag->b_state));
	}
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : rc;
}

static int audit(struct db *db, const struct agreement_write *w, const char *action, const char *type,
		 const char *id, const json_t *changes)
{
	struct audit_entry ae = {.actor = w->actor, .org_id = w->actor_org, .action = action,
				 .object_type = type, .object_id = id, .changes = changes,
				 .request_id = w->request_id};
	return audit_append(db, &ae, w->now_ms);
}

static int insert_grants(struct db *db, const struct agreement_write *w, const char *agreement,
			 const char *grantee, const json_t *grants)
{
	size_t i;
	json_t *g;
	char ts[25];
	time_format_ms(w->now_ms, ts);
	json_array_foreach(grants, i, g) {
		char gid[ID_MAX];
		struct db_stmt *st;
		id_new("grt", w->now_ms, gid);
		if (db_prepare(db,
			       "INSERT INTO grants (id, agreement_id, org_id, grantee_id, category, level, condition,"
			       " valid_from, valid_to, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			       &st))
			return SG_EIO;
		db_bind_all(st, DB_T(gid), DB_T(agreement), DB_T(w->actor_org), DB_T(grantee),
		                DB_T(json_string_value(json_object_get(g, "category"))),
		                DB_T(json_string_value(json_object_get(g, "level"))),
		                DB_T(json_string_value(json_object_get(g, "condition"))),
		                DB_T(json_string_value(json_object_get(g, "from"))),
		                DB_T(json_string_value(json_object_get(g, "to"))), DB_T(ts));
		int rc = db_run(st);
		if (!rc)
			rc = audit(db, w, "create", "grant", gid, g);
		if (rc)
			return rc;
	}
	return 0;
}

static int touch(struct db *db, const struct agreement_write *w, const char *id)
{
	char ts[25];
	struct db_stmt *st;
	time_format_ms(w->now_ms, ts);
	if (db_prepare(db, "UPDATE agreements SET updated_at = ?2 WHERE id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, ts);
	return db_run(st);
}

int sharing_create(struct db *db, const struct agreement_write *w, const char *partner,
		   const json_t *grants, char id_out[48])
{
	struct db_stmt *st;
	if (!id_valid(partner, "org") || str_eq(partner, w->actor_org)) {
		verr_set(w->err, 422, "/partner_id", "partner_id must be another organisation's id");
		return SG_EINVAL;
	}
	if (db_prepare(db, "SELECT 1 FROM organisations WHERE id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, partner);
	int rc = db_step(st);
	db_reset(st);
	if (rc != DB_ROW) {
		verr_set(w->err, 422, "/partner_id", "no such organisation");
		return rc < 0 ? rc : SG_EINVAL;
	}
	if (db_prepare(db,
		       "SELECT id FROM agreements WHERE ((org_id = ?1 AND partner_id = ?2) OR"
		       " (org_id = ?2 AND partner_id = ?1)) AND NOT (a_state = 'revoked' AND b_state = 'revoked')",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, w->actor_org);
	db_bind_text(st, 2, partner);
	rc = db_step(st);
	if (rc == DB_ROW)
		verr_set(w->err, 409, "/partner_id",
			 "agreement %s with this organisation is still open; change its grants instead", col(st, 0));
	db_reset(st);
	if (rc != DB_DONE)
		return rc == DB_ROW ? SG_EEXIST : rc;
	char id[ID_MAX], ts[25];
	id_new("agr", w->now_ms, id);
	time_format_ms(w->now_ms, ts);
	if (db_prepare(db,
		       "INSERT INTO agreements (id, org_id, partner_id, a_accepted_at, a_accepted_by,"
		       " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?4)",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(id), DB_T(w->actor_org), DB_T(partner), DB_T(ts), DB_T(w->actor));
	if ((rc = db_run(st)))
		return rc;
	json_t *ch = json_pack("{s:s,s:O}", "partner_id", partner, "grants", grants);
	rc = audit(db, w, "propose", "agreement", id, ch);
	json_decref(ch);
	if (!rc)
		rc = insert_grants(db, w, id, partner, grants);
	if (!rc)
		rc = pseudonyms_for_org(db, w->actor_org, partner);
	if (!rc)
		rc = pseudonyms_for_org(db, partner, w->actor_org);
	if (!rc)
		sg_strlcpy(id_out, id, 48);
	return rc;
}

static int party(const struct agreement *ag, const char *org)
{
	return str_eq(ag->a, org) ? 0 : str_eq(ag->b, org) ? 1 : -1;
}

/* The agreement id as one of its parties (*side 0 or 1) sees it; 404 for
 * anyone else, as for an agreement that does not exist. */
static int load_own(struct db *db, const struct agreement_write *w, const char *id, struct agreement *ag, int *side)
{
	int rc = load(db, id, ag);
	*side = rc ? -1 : party(ag, w->actor_org);
	if (rc == SG_ENOTFOUND || (rc == 0 && *side < 0)) {
		verr_set(w->err, 404, "", "no such agreement");
		return SG_ENOTFOUND;
	}
	return rc;
}

int sharing_set_grants(struct db *db, const struct agreement_write *w, const char *id,
		       const json_t *grants)
{
	struct agreement ag;
	int side, rc = load_own(db, w, id, &ag, &side);
	if (rc)
		return rc;
	if (str_eq(side ? ag.b_state : ag.a_state, "revoked")) {
		verr_set(w->err, 409, "", "your side of this agreement is revoked; propose a new agreement");
		return SG_ECONFLICT;
	}
	struct db_stmt *st;
	json_t *old;
	if ((rc = column(db, "SELECT id FROM grants WHERE agreement_id = ?1 AND org_id = ?2", id,
			 w->actor_org, &old)))
		return rc;
	size_t i;
	json_t *gid;
	json_array_foreach(old, i, gid) {
		if (rc < 0)
			break;
		if (db_prepare(db, "DELETE FROM grants WHERE id = ?1", &st)) {
			rc = SG_EIO;
			break;
		}
		db_bind_text(st, 1, json_string_value(gid));
		rc = db_run(st);
		if (!rc)
			rc = audit(db, w, "delete", "grant", json_string_value(gid), NULL);
	}
	json_decref(old);
	if (rc < 0)
		return rc;
	rc = insert_grants(db, w, id, side ? ag.a : ag.b, grants);
	if (!rc)
		rc = touch(db, w, id);
	if (!rc) {
		json_t *ch = json_pack("{s:O}", "grants", grants);
		rc = audit(db, w, "change_grants", "agreement", id, ch);
		json_decref(ch);
	}
	return rc;
}

int sharing_act(struct db *db, const struct agreement_write *w, const char *id, const char *action)
{
	struct agreement ag;
	int side, rc = load_own(db, w, id, &ag, &side);
	if (rc)
		return rc;
	if (rc)
		return rc;
	const char *state = side ? ag.b_state : ag.a_state;
	bool accepted = side ? ag.b_accepted : ag.a_accepted;
	if (str_eq(state, "revoked")) {
		verr_set(w->err, 409, "", "your side of this agreement is revoked for good");
		return SG_ECONFLICT;
	}
	const char *sql = NULL, *new_state = state;
	char ts[25];
	time_format_ms(w->now_ms, ts);
	if (str_eq(action, "accept")) {
		if (accepted)
			return 0; /* idempotent */
		sql = side ? "UPDATE agreements SET b_accepted_at = ?2, b_accepted_by = ?3, updated_at = ?2 WHERE id = ?1"
			   : "UPDATE agreements SET a_accepted_at = ?2, a_accepted_by = ?3, updated_at = ?2 WHERE id = ?1";
	} else {
		if (str_eq(action, "suspend"))
			new_state = "suspended";
		else if (str_eq(action, "resume"))
			new_state = "active";
		else if (str_eq(action, "revoke"))
			new_state = "revoked";
		else
			BUG("unknown agreement action %s", action);
		if (str_eq(new_state, state))
			return 0; /* idempotent */
		sql = side ? "UPDATE agreements SET b_state = ?4, updated_at = ?2 WHERE id = ?1 AND ?3 IS NOT NULL"
			   : "UPDATE agreements SET a_state = ?4, updated_at = ?2 WHERE id = ?1 AND ?3 IS NOT NULL";
	}
	struct db_stmt *st;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_all(st, DB_T(id), DB_T(ts), DB_T(w->actor), DB_T(new_state));
	if ((rc = db_run(st)))
		return rc;
	json_t *ch = json_pack("{s:s}", "side", side ? ag.b : ag.a);
	rc = audit(db, w, action, "agreement", id, ch);
	json_decref(ch);
	return rc;
}

int sharing_list(struct db *db, const char *org, json_t **ids)
{
	return column(db, "SELECT id FROM agreements WHERE org_id = ?1 OR partner_id = ?1 ORDER BY id DESC",
		      org, NULL, ids);
}

int sharing_render(struct db *db, const char *id, const char *org, int64_t now_ms,
		   bool with_history, json_t **out)
{
	struct db_stmt *st;
	char now[25];
	time_format_ms(now_ms, now);
	if (db_prepare(db,
		       "SELECT id, org_id, partner_id, a_accepted_at, a_accepted_by, b_accepted_at, b_accepted_by,"
		       " a_state, b_state, created_at, updated_at FROM agreements WHERE id = ?1",
		       &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	int rc = db_step(st);
	if (rc != DB_ROW || (!str_eq(col(st, 1), org) && !str_eq(col(st, 2), org))) {
		db_reset(st);
		return rc < 0 ? rc : SG_ENOTFOUND;
	}
	bool both = col(st, 3) && col(st, 5);
	json_t *ag = json_pack(
		"{s:s,s:s,s:s,s:b,s:[{s:s,s:s?,s:s?,s:s},{s:s,s:s?,s:s?,s:s}],s:s,s:s}", "id", col(st, 0),
		"org_id", col(st, 1), "partner_id", col(st, 2), "accepted_by_both", both, "sides", "org_id",
		col(st, 1), "accepted_at", col(st, 3), "accepted_by", col(st, 4), "state", col(st, 7),
		"org_id", col(st, 2), "accepted_at", col(st, 5), "accepted_by", col(st, 6), "state",
		col(st, 8), "created_at", col(st, 9), "updated_at", col(st, 10));
	char a[48], b[48], a_state[16], b_state[16];
	sg_strlcpy(a, col(st, 1), sizeof(a));
	sg_strlcpy(b, col(st, 2), sizeof(b));
	sg_strlcpy(a_state, col(st, 7), sizeof(a_state));
	sg_strlcpy(b_state, col(st, 8), sizeof(b_state));
	db_reset(st);
	json_t *grants = json_array();
	json_object_set_new(ag, "grants", grants);
	if (db_prepare(db,
		       "SELECT id, org_id, grantee_id, category, level, condition, valid_from, valid_to"
		       " FROM grants WHERE agreement_id = ?1 ORDER BY org_id, category",
		       &st)) {
		json_decref(ag);
		return SG_EIO;
	}
	db_bind_text(st, 1, id);
	while ((rc = db_step(st)) == DB_ROW) {
		const char *grantor = col(st, 1), *from = col(st, 6), *to = col(st, 7);
		bool active = str_eq(grantor, a) ? str_eq(a_state, "active") : str_eq(b_state, "active");
		bool in_force = both && active && (!from || strcmp(from, now) <= 0) && (!to || strcmp(to, now) > 0) &&
				!str_eq(col(st, 4), "none");
		json_array_append_new(grants, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:b}", "id", col(st, 0),
							"grantor_id", grantor, "grantee_id", col(st, 2),
							"category", col(st, 3), "level", col(st, 4), "condition",
							col(st, 5), "from", from, "to", to, "in_force", in_force));
	}
	db_reset(st);
	if (with_history && rc >= 0) {
		json_t *hist = json_array();
		json_object_set_new(ag, "history", hist);
		if (db_prepare(db, "SELECT at, actor, org_id, action FROM audit WHERE object_type = 'agreement'"
				   " AND object_id = ?1 ORDER BY seq", &st)) {
			json_decref(ag);
			return SG_EIO;
		}
		db_bind_text(st, 1, id);
		while ((rc = db_step(st)) == DB_ROW)
			json_array_append_new(hist, json_pack("{s:s,s:s,s:s?,s:s}", "at", col(st, 0), "actor",
							      col(st, 1), "org_id", col(st, 2), "action", col(st, 3)));
		db_reset(st);
	}
	if (rc < 0) {
		json_decref(ag);
		return rc;
	}
	*out = ag;
	return 0;
}

bool sharing_condition_met(void *ctx, const struct grant *g, const char *person_id)
{
	switch (g->cond) {
	case COND_ALWAYS:
		return true;
	case COND_DURING_MOVEMENT: /* movements: a later issue */
		return false;
	case COND_DURING_SOS:
		return ctx && person_id && alarm_set_has(ctx, person_id);
	}
	return false;
}
