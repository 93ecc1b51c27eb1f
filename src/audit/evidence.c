/* Position history and geofence events in the signed chain; see evidence.h. */
#include "audit/evidence.h"

#include "audit/audit.h"
#include "core/err.h"
#include "core/util.h"
#include "pipeline/parts.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HLEN 32

static const char ZERO_LINK[] = "0000000000000000000000000000000000000000000000000000000000000000";

static void put64(crypto_generichash_state *h, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
	crypto_generichash_update(h, b, 8);
}

/* The values of a row but its time: type, then the stored value (integers
 * and reals as 8 bytes, text and blobs with their length). */
static void rest_hash_values(const struct db_value *v, int n, unsigned char out[HLEN])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, HLEN);
	crypto_generichash_update(&h, (const unsigned char *)"sg-rest-1", 9);
	for (int i = 0; i < n; i++) {
		unsigned char tb = (unsigned char)v[i].type;
		crypto_generichash_update(&h, &tb, 1);
		if (v[i].type == DB_INT) {
			put64(&h, (uint64_t)v[i].i);
		} else if (v[i].type == DB_REAL) {
			uint64_t u;
			memcpy(&u, &v[i].d, sizeof(u));
			put64(&h, u);
		} else if (v[i].type == DB_TEXT || v[i].type == DB_BLOB) {
			size_t len = (size_t)v[i].i;
			put64(&h, len);
			if (len)
				crypto_generichash_update(&h, (const unsigned char *)v[i].s, len);
		}
	}
	crypto_generichash_final(&h, out, HLEN);
}

/* Columns first..n-1 of the row under st, as they are stored. */
static void rest_hash(struct db_stmt *st, int first, unsigned char out[HLEN])
{
	struct db_value v[32];
	int n = db_col_count(st) - first;
	n = n < 32 ? n : 32;
	for (int i = 0; i < n; i++) {
		int c = first + i;
		v[i] = (struct db_value){.type = db_col_type(st, c)};
		if (v[i].type == DB_INT) {
			v[i].i = db_col_int(st, c);
		} else if (v[i].type == DB_REAL) {
			v[i].d = db_col_real(st, c);
		} else if (v[i].type == DB_TEXT || v[i].type == DB_BLOB) {
			size_t len = 0;
			v[i].s = db_col_blob(st, c, &len);
			v[i].i = (int64_t)len;
		}
	}
	rest_hash_values(v, n, out);
}

static void row_hash(char kind, int64_t time_ms, const unsigned char rest[HLEN], unsigned char out[HLEN])
{
	crypto_generichash_state h;
	unsigned char k = (unsigned char)kind;
	crypto_generichash_init(&h, NULL, 0, HLEN);
	crypto_generichash_update(&h, (const unsigned char *)"sg-row-1", 8);
	crypto_generichash_update(&h, &k, 1);
	put64(&h, (uint64_t)time_ms);
	crypto_generichash_update(&h, rest, HLEN);
	crypto_generichash_final(&h, out, HLEN);
}

static void push(struct evidence *e, uint32_t seal, const unsigned char h[HLEN])
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 64;
		e->rows = xrealloc(e->rows, e->cap * sizeof(*e->rows));
	}
	e->rows[e->n].seal = seal;
	memcpy(e->rows[e->n++].h, h, HLEN);
}

/* The seal open for part (evidence_batch opened it). */
static uint32_t seal_of(const struct evidence *e, int64_t part)
{
	for (size_t i = 0; i < e->nseals; i++)
		if (e->seals[i].part == part)
			return (uint32_t)i;
	BUG("a row added to a partition with no seal open");
}

static void add_row(struct evidence *e, uint32_t seal, char kind, struct db_stmt *st, int first)
{
	unsigned char rest[HLEN], h[HLEN];
	rest_hash(st, first + 1, rest);
	row_hash(kind, db_col_int(st, first), rest, h);
	push(e, seal, h);
}

void evidence_add(struct evidence *e, int64_t part, char kind, struct db_stmt *st)
{
	add_row(e, seal_of(e, part), kind, st, 0);
}

void evidence_add_values(struct evidence *e, int64_t part, char kind, int64_t time_ms,
			 const struct db_value *v, int n)
{
	unsigned char rest[HLEN], h[HLEN];
	struct db_value t[32];
	n = n < 32 ? n : 32;
	for (int i = 0; i < n; i++) {
		t[i] = v[i];
		if (t[i].type == DB_TEXT && !t[i].s)
			t[i].type = DB_NULL; /* as a NULL text binds */
		else if (t[i].type == DB_TEXT)
			t[i].i = (int64_t)strlen(t[i].s);
	}
	rest_hash_values(t, n, rest);
	row_hash(kind, time_ms, rest, h);
	push(e, seal_of(e, part), h);
}

int evidence_batch(struct db *db, struct evidence *e, int64_t part, int64_t *batch)
{
	if (e->n == 0)
		e->nseals = 0; /* the commit's first row: what was opened before is void */
	for (size_t i = 0; i < e->nseals; i++) {
		if (e->seals[i].part == part) {
			*batch = e->seals[i].batch;
			return 0;
		}
	}
	int64_t next;
	if (e->nseals) {
		next = e->seals[e->nseals - 1].batch + 1;
	} else {
		char link[65];
		if (evidence_head(db, &next, link))
			return SG_EIO;
		next++;
	}
	if (e->nseals == e->seals_cap) {
		e->seals_cap = e->seals_cap ? 2 * e->seals_cap : 4;
		e->seals = xrealloc(e->seals, e->seals_cap * sizeof(*e->seals));
	}
	e->seals[e->nseals++] = (struct evidence_open){.part = part, .batch = next};
	*batch = next;
	return 0;
}

void evidence_free(struct evidence *e)
{
	free(e->rows);
	free(e->seals);
	*e = (struct evidence){0};
}

static int by_seal_then_bytes(const void *a, const void *b)
{
	const struct evidence_row *x = a, *y = b;
	if (x->seal != y->seal)
		return x->seal < y->seal ? -1 : 1;
	return memcmp(x->h, y->h, HLEN);
}

/* The digest of n rows sorted by seal and bytes (one seal's). */
static void digest_of(const struct evidence_row *r, size_t n, char out[65])
{
	crypto_generichash_state h;
	unsigned char d[HLEN];
	crypto_generichash_init(&h, NULL, 0, HLEN);
	crypto_generichash_update(&h, (const unsigned char *)"sg-commit-1", 11);
	put64(&h, n);
	for (size_t i = 0; i < n; i++)
		crypto_generichash_update(&h, r[i].h, HLEN);
	crypto_generichash_final(&h, d, HLEN);
	hex_encode(d, HLEN, out);
}

static void digest_all(struct evidence *e, char out[65])
{
	qsort(e->rows, e->n, sizeof(*e->rows), by_seal_then_bytes);
	digest_of(e->rows, e->n, out);
}

static void link_of(const char *prev, int64_t batch, int64_t rows, const char *digest, int64_t at_ms,
		    char out[65])
{
	crypto_generichash_state h;
	unsigned char d[HLEN];
	crypto_generichash_init(&h, NULL, 0, HLEN);
	crypto_generichash_update(&h, (const unsigned char *)"sg-link-1", 9);
	put64(&h, strlen(prev));
	crypto_generichash_update(&h, (const unsigned char *)prev, strlen(prev));
	put64(&h, (uint64_t)batch);
	put64(&h, (uint64_t)rows);
	put64(&h, strlen(digest));
	crypto_generichash_update(&h, (const unsigned char *)digest, strlen(digest));
	put64(&h, (uint64_t)at_ms);
	crypto_generichash_final(&h, d, HLEN);
	hex_encode(d, HLEN, out);
}

int evidence_head(struct db *db, int64_t *batch, char link[65])
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT batch, link FROM history_chain ORDER BY batch DESC LIMIT 1", &st))
		return SG_EIO;
	int rc = db_step(st);
	*batch = 0;
	link[0] = 0;
	if (rc == DB_ROW) {
		*batch = db_col_int(st, 0);
		sg_strlcpy(link, db_col_text(st, 1) ? db_col_text(st, 1) : "", 65);
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

static int write_link(struct db *db, int64_t batch, int64_t part, int64_t rows, const char *digest,
		      int64_t now_ms, char prev[65])
{
	char link[65];
	link_of(prev, batch, rows, digest, now_ms, link);
	struct db_stmt *st;
	if (db_prepare(db,
		       "INSERT INTO history_chain (batch, rows, digest, at_ms, prev, link, part)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_I(batch), DB_I(rows), DB_T(digest), DB_I(now_ms), DB_T(prev), DB_T(link),
	                DB_I(part));
	if (db_run(st))
		return SG_EIO;
	memcpy(prev, link, 65);
	return 0;
}

int evidence_seal(struct db *db, struct evidence *e, int64_t now_ms)
{
	if (e->n == 0)
		return 0;
	int64_t head;
	char prev[65];
	int rc = evidence_head(db, &head, prev);
	size_t n = e->n;
	e->n = 0;
	if (rc)
		return rc;
	if (e->nseals == 0 || e->seals[0].batch != head + 1)
		return SG_EIO; /* the rows carry another number: refuse the commit */
	if (!prev[0])
		memcpy(prev, ZERO_LINK, sizeof(ZERO_LINK));
	qsort(e->rows, n, sizeof(*e->rows), by_seal_then_bytes);
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i;
		while (j < n && e->rows[j].seal == e->rows[i].seal)
			j++;
		const struct evidence_open *o = &e->seals[e->rows[i].seal];
		char digest[65];
		digest_of(e->rows + i, j - i, digest);
		rc = write_link(db, o->batch, o->part, (int64_t)(j - i), digest, now_ms, prev);
		i = j;
	}
	return rc;
}

/* Retention ---------------------------------------------------------------- */

struct doomed {
	char kind;
	char *device; /* positions: key (device, time); events: seq in time */
	int64_t time_ms, seq;
};

/* Rows of one kind older than the cutoff: their rest hashes go to
 * history_pruned (sealed rows only), their keys to out. */
static int collect(struct db *db, const char *sql, char kind, int64_t cutoff, int limit, struct doomed *out,
		   int *n)
{
	struct db_stmt *st, *ins;
	if (db_prepare(db, sql, &st))
		return SG_EIO;
	db_bind_int(st, 1, cutoff);
	db_bind_int(st, 2, limit);
	int rc;
	/* Read everything first: the insert reuses no statement of the scan. */
	struct pending {
		int64_t batch, time_ms;
		unsigned char rest[HLEN];
	} *p = xmalloc((size_t)(limit > 0 ? limit : 1) * sizeof(*p));
	int k = 0;
	while (k < limit && (rc = db_step(st)) == DB_ROW) {
		/* columns: batch, key column, then the covered columns, time first */
		struct doomed *d = &out[*n + k];
		d->kind = kind;
		d->device = kind == EVIDENCE_POSITION ? xstrdup(db_col_text(st, 1) ? db_col_text(st, 1) : "") : NULL;
		d->seq = kind == EVIDENCE_POSITION ? 0 : db_col_int(st, 1);
		d->time_ms = db_col_int(st, 2);
		p[k].batch = db_col_int(st, 0);
		p[k].time_ms = d->time_ms;
		rest_hash(st, 3, p[k].rest);
		k++;
	}
	db_reset(st);
	if (rc < 0 && k < limit) {
		free(p);
		*n += k;
		return SG_EIO;
	}
	rc = 0;
	for (int i = 0; i < k && !rc; i++) {
		if (p[i].batch <= 0)
			continue; /* stored before the chain: nothing to keep */
		if (db_prepare(db, "INSERT INTO history_pruned (batch, kind, time_ms, rest) VALUES (?1, ?2, ?3, ?4)",
			       &ins)) {
			rc = SG_EIO;
			break;
		}
		char ks[2] = {kind, 0};
		db_bind_all(ins, DB_I(p[i].batch), DB_T(ks), DB_I(p[i].time_ms));
		db_bind_blob(ins, 4, p[i].rest, HLEN);
		rc = db_run(ins) ? SG_EIO : 0;
	}
	free(p);
	*n += k;
	return rc;
}

static int delete_doomed(struct db *db, const struct doomed *d)
{
	struct db_stmt *st;
	if (d->kind == EVIDENCE_POSITION) {
		if (db_prepare(db, "DELETE FROM positions WHERE device_id = ?1 AND time_ms = ?2", &st))
			return SG_EIO;
		db_bind_text(st, 1, d->device);
		db_bind_int(st, 2, d->time_ms);
	} else {
		if (db_prepare(db, "DELETE FROM geofence_events WHERE seq = ?1", &st))
			return SG_EIO;
		db_bind_int(st, 1, d->seq);
	}
	return db_run(st) ? SG_EIO : 0;
}

/* Drops the chain rows (and their pruned rows) of the oldest commits whose
 * every row is gone (purged row by row, or in a dropped partition), at most
 * COMPACT_MAX per call and never the last one (the next commit links to
 * it). *first/prev: the first chain row left; *more: there may be more. */
#define COMPACT_MAX 20000

static int compact(struct db *db, int64_t *first, char prev[65], bool *dropped, bool *more)
{
	struct db_stmt *st, *cnt;
	int64_t upto = 0, last = 0;
	*dropped = *more = false;
	if (evidence_head(db, &last, prev))
		return SG_EIO;
	if (db_prepare(db,
		       "SELECT c.batch, c.rows, c.part, coalesce(p.dropped_ms, 0) FROM history_chain c"
		       " LEFT JOIN history_parts p ON p.id = c.part ORDER BY c.batch LIMIT ?1",
		       &st))
		return SG_EIO;
	db_bind_int(st, 1, COMPACT_MAX);
	struct link_row {
		int64_t batch, rows, part, dropped_ms;
	} *c = xmalloc(COMPACT_MAX * sizeof(*c));
	int n = 0, rc;
	while (n < COMPACT_MAX && (rc = db_step(st)) == DB_ROW) {
		c[n] = (struct link_row){db_col_int(st, 0), db_col_int(st, 1), db_col_int(st, 2), db_col_int(st, 3)};
		n++;
	}
	db_reset(st);
	if (n == COMPACT_MAX)
		rc = DB_DONE;
	for (int i = 0; rc >= 0 && i < n && c[i].batch != last; i++) {
		if (c[i].part != EVIDENCE_ROWWISE) {
			if (!c[i].dropped_ms)
				break;
		} else {
			if (db_prepare(db, "SELECT count(*) FROM history_pruned WHERE batch = ?1", &cnt)) {
				rc = SG_EIO;
				break;
			}
			db_bind_int(cnt, 1, c[i].batch);
			int64_t gone = db_step(cnt) == DB_ROW ? db_col_int(cnt, 0) : -1;
			db_reset(cnt);
			if (gone != c[i].rows)
				break;
		}
		upto = c[i].batch;
		*more = i == n - 1 && n == COMPACT_MAX;
	}
	free(c);
	if (rc < 0)
		return SG_EIO;
	if (upto) {
		if (db_prepare(db, "DELETE FROM history_pruned WHERE batch <= ?1", &st))
			return SG_EIO;
		db_bind_int(st, 1, upto);
		if (db_run(st) || db_prepare(db, "DELETE FROM history_chain WHERE batch <= ?1", &st))
			return SG_EIO;
		db_bind_int(st, 1, upto);
		if (db_run(st))
			return SG_EIO;
		*dropped = true;
	}
	if (db_prepare(db, "SELECT batch, prev FROM history_chain ORDER BY batch LIMIT 1", &st))
		return SG_EIO;
	*first = 0;
	prev[0] = 0;
	if ((rc = db_step(st)) == DB_ROW) {
		*first = db_col_int(st, 0);
		sg_strlcpy(prev, db_col_text(st, 1) ? db_col_text(st, 1) : "", 65);
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

/* The rows the chain sealed in a partition. */
static int sealed_rows(struct db *db, int64_t part, int64_t *rows)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT coalesce(sum(rows), 0) FROM history_chain WHERE part = ?1", &st))
		return SG_EIO;
	db_bind_int(st, 1, part);
	int rc = db_step(st);
	*rows = rc == DB_ROW ? db_col_int(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : SG_EIO;
}

int evidence_purge(struct db *db, int64_t cutoff_ms, int limit, const int64_t *dropped, size_t ndropped,
		   int64_t now_ms, long *deleted)
{
	struct doomed *d = xmalloc((size_t)limit * sizeof(*d));
	int n = 0, positions;
	int64_t part_rows = 0;
	int rc = collect(db,
			 "SELECT batch, device_id, " EVIDENCE_POSITION_COLS
			 " FROM positions WHERE time_ms < ?1 AND pinned = 0 LIMIT ?2",
			 EVIDENCE_POSITION, cutoff_ms, limit, d, &n);
	positions = n;
	if (!rc && n < limit)
		rc = collect(db,
			     "SELECT batch, seq, " EVIDENCE_EVENT_COLS " FROM geofence_events WHERE time_ms < ?1 LIMIT ?2",
			     EVIDENCE_EVENT, cutoff_ms, limit - n, d, &n);
	for (int i = 0; i < n && !rc; i++)
		rc = delete_doomed(db, &d[i]);
	for (int i = 0; i < n; i++)
		free(d[i].device);
	free(d);
	for (size_t i = 0; i < ndropped && !rc; i++) {
		int64_t r;
		rc = sealed_rows(db, dropped[i], &r);
		part_rows += r;
	}
	*deleted = rc ? 0 : n + (long)part_rows;
	if (rc)
		return rc;
	int64_t first;
	char prev[65];
	bool compacted, more;
	if (compact(db, &first, prev, &compacted, &more))
		return SG_EIO;
	if (n == 0 && ndropped == 0 && !compacted)
		return 0;
	if (more && *deleted < limit)
		*deleted = limit; /* the caller comes back for the rest */
	json_t *ids = json_array();
	for (size_t i = 0; i < ndropped; i++)
		json_array_append_new(ids, json_integer(dropped[i]));
	json_t *changes = json_pack("{s:I,s:i,s:i,s:o,s:I,s:I,s:s}", "cutoff_ms", (json_int_t)cutoff_ms, "positions",
				    positions, "geofence_events", n - positions, "partitions", ids,
				    "partition_rows", (json_int_t)part_rows, "first_batch", (json_int_t)first,
				    "first_prev", prev);
	struct audit_entry e = {.actor = "retention", .action = "purge", .object_type = "history",
				.changes = changes};
	rc = audit_append(db, &e, now_ms);
	json_decref(changes);
	return rc;
}

/* Verification -------------------------------------------------------------- */

struct cursor {
	struct db_stmt *st;
	int rc;       /* DB_ROW while positioned on a row */
	int64_t batch; /* of the current row */
};

static void advance(struct cursor *c)
{
	c->rc = db_step(c->st);
	c->batch = c->rc == DB_ROW ? db_col_int(c->st, 0) : INT64_MAX;
}

struct vctx {
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
	int problems;
};

static void say(struct vctx *v, char *msg)
{
	v->problem(v->ctx, msg);
	v->problems++;
	free(msg);
}

/* Rows of a commit that is not in the chain. */
static void orphans(struct vctx *v, struct cursor *c, int64_t below, const char *what)
{
	while (c->rc == DB_ROW && c->batch < below) {
		int64_t b = c->batch, n = 0;
		while (c->rc == DB_ROW && c->batch == b) {
			n++;
			advance(c);
		}
		say(v, xasprintf("%lld %s claim commit #%lld, which the history chain does not hold"
				 " (added behind the server's back, or their commit's seal was deleted)",
				 (long long)n, what, (long long)b));
	}
}

/* The partitions the catalog lists. */
struct vpart {
	int64_t id;
	bool legacy, dropped;
	char tbl[32];
};

static int load_parts(struct db *db, struct vpart **out, size_t *n)
{
	struct db_stmt *st;
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	if (db_prepare(db, "SELECT id, legacy, dropped_ms FROM history_parts ORDER BY id", &st))
		return SG_EIO;
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		struct vpart *p = &(*out)[(*n)++];
		*p = (struct vpart){.id = db_col_int(st, 0), .legacy = db_col_int(st, 1) != 0,
				    .dropped = db_col_int(st, 2) != 0};
		parts_table(p->id, p->legacy, p->tbl);
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

static const struct vpart *find_part(const struct vpart *ps, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ps[i].id == id)
			return &ps[i];
	return NULL;
}

/* One partition's rows against the chain rows naming it. */
static int verify_part(struct db *db, struct vctx *v, const struct vpart *p, int64_t *rows_total)
{
	char sql[256];
	struct cursor pos = {0};
	struct db_stmt *chain;
	snprintf(sql, sizeof(sql), "SELECT batch, " EVIDENCE_POSITION_COLS " FROM %s ORDER BY batch", p->tbl);
	if (db_prepare_text(db, sql, &pos.st)) {
		say(v, xasprintf("history partition %lld (%s) is listed but its table is gone: its positions were"
				 " deleted behind the server's back",
				 (long long)p->id, p->tbl));
		return 0;
	}
	if (db_prepare(db, "SELECT batch, rows, digest FROM history_chain WHERE part = ?1 ORDER BY batch", &chain))
		return SG_EIO;
	db_bind_int(chain, 1, p->id);
	advance(&pos);
	struct evidence e = {0};
	int rc;
	while ((rc = db_step(chain)) == DB_ROW) {
		int64_t batch = db_col_int(chain, 0), rows = db_col_int(chain, 1), found = 0;
		const char *digest = db_col_text(chain, 2);
		orphans(v, &pos, batch, "positions");
		for (; pos.rc == DB_ROW && pos.batch == batch; advance(&pos), found++)
			add_row(&e, 0, EVIDENCE_POSITION, pos.st, 1);
		*rows_total += found;
		if (found != rows) {
			say(v, xasprintf("history commit #%lld sealed %lld rows of partition %lld, %lld are stored:"
					 " positions were %s behind the server's back",
					 (long long)batch, (long long)rows, (long long)p->id, (long long)found,
					 found < rows ? "deleted" : "added"));
		} else {
			char want[65];
			digest_all(&e, want);
			if (!str_eq(want, digest ? digest : ""))
				say(v, xasprintf("history commit #%lld no longer matches its seal: a stored position was"
						 " changed behind the server's back",
						 (long long)batch));
		}
		e.n = 0;
	}
	db_reset(chain);
	if (rc >= 0)
		orphans(v, &pos, INT64_MAX, "positions");
	db_reset(pos.st);
	evidence_free(&e);
	return rc < 0 || pos.rc < 0 ? SG_EIO : 0;
}

static bool was_dropped(const struct evidence_expect *x, int64_t id)
{
	for (size_t i = 0; i < x->ndropped; i++)
		if (x->dropped[i] == id)
			return true;
	return false;
}

/* The row-wise rows (legacy table, geofence events, what retention kept of
 * them), stepped side by side in batch order against the chain. */
struct rowwise {
	struct cursor pos, ev, pr;
	struct evidence e;
	int64_t rows, pruned;
};

/* One row-wise commit's rows against its seal. */
static void check_rowwise(struct vctx *v, const struct evidence_expect *x, struct rowwise *w, int64_t batch,
			  int64_t rows, const char *digest)
{
	orphans(v, &w->pos, batch, "positions");
	orphans(v, &w->ev, batch, "geofence events");
	int64_t found = 0, gone = 0;
	for (; w->pos.rc == DB_ROW && w->pos.batch == batch; advance(&w->pos), found++)
		add_row(&w->e, 0, EVIDENCE_POSITION, w->pos.st, 1);
	for (; w->ev.rc == DB_ROW && w->ev.batch == batch; advance(&w->ev), found++)
		add_row(&w->e, 0, EVIDENCE_EVENT, w->ev.st, 1);
	while (w->pr.rc == DB_ROW && w->pr.batch < batch) {
		say(v, xasprintf("purged rows are recorded for commit #%lld, which the chain does not hold",
				 (long long)w->pr.batch));
		advance(&w->pr);
	}
	for (; w->pr.rc == DB_ROW && w->pr.batch == batch; advance(&w->pr), gone++) {
		const char *kind = db_col_text(w->pr.st, 1);
		int64_t t = db_col_int(w->pr.st, 2);
		size_t len = 0;
		const void *rest = db_col_blob(w->pr.st, 3, &len);
		unsigned char h[HLEN];
		if (t >= x->max_cutoff_ms)
			say(v, xasprintf("commit #%lld: a row recorded as purged (time %lld) is newer than any"
					 " retention cutoff in the audit trail",
					 (long long)batch, (long long)t));
		if (len != HLEN || !kind)
			continue; /* the digest below fails */
		row_hash(kind[0], t, rest, h);
		push(&w->e, 0, h);
	}
	w->rows += found;
	w->pruned += gone;
	if (found + gone != rows) {
		say(v, xasprintf("history commit #%lld sealed %lld rows, %lld are stored and %lld purged:"
				 " positions or geofence events were %s behind the server's back",
				 (long long)batch, (long long)rows, (long long)found, (long long)gone,
				 found + gone < rows ? "deleted" : "added"));
	} else {
		char want[65];
		digest_all(&w->e, want);
		if (!str_eq(want, digest))
			say(v, xasprintf("history commit #%lld no longer matches its seal: a stored position or"
					 " geofence event was changed behind the server's back",
					 (long long)batch));
	}
	w->e.n = 0;
}

/* Every partition in the catalog: its rows against its seals, or, dropped,
 * the retention entry that dropped it. */
static int check_parts(struct db *db, struct vctx *v, const struct evidence_expect *x, const struct vpart *parts,
		       size_t nparts, int64_t *rows, size_t *dropped)
{
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].legacy)
			continue;
		if (parts[i].dropped) {
			++*dropped;
			if (!was_dropped(x, parts[i].id))
				say(v, xasprintf("history partition %lld is marked dropped but no retention entry in the"
						 " audit trail dropped it: its positions were deleted behind the server's back",
						 (long long)parts[i].id));
		} else if (verify_part(db, v, &parts[i], rows)) {
			return SG_EIO;
		}
	}
	return 0;
}

/* The chain's first link where the last purge left it, every other linked
 * to the one before, each link as computed. */
static void check_link(struct vctx *v, const struct evidence_expect *x, bool first, const char *prev,
		       int64_t batch, int64_t rows, const char *digest, int64_t at_ms, const char *sprev,
		       const char *slink)
{
	char link[65];
	if (first) {
		const char *anchor = x->first_batch ? x->first_prev : ZERO_LINK;
		if ((x->first_batch && batch != x->first_batch) || !str_eq(sprev, anchor))
			say(v, xasprintf("the history chain starts at commit #%lld, not where the last purge left it"
					 " (#%lld): sealed commits were deleted from its start",
					 (long long)batch, (long long)(x->first_batch ? x->first_batch : 1)));
	} else if (!str_eq(sprev, prev)) {
		say(v, xasprintf("history commit #%lld does not follow the commit before it"
				 " (its seal was deleted, inserted or reordered)",
				 (long long)batch));
	}
	link_of(sprev, batch, rows, digest, at_ms, link);
	if (!str_eq(link, slink))
		say(v, xasprintf("history commit #%lld's seal has been edited", (long long)batch));
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int evidence_verify(struct db *db, const struct evidence_expect *x, void (*problem)(void *ctx, const char *msg),
		    void *ctx, FILE *out)
{
	struct vctx v = {.problem = problem, .ctx = ctx};
	struct rowwise w = {0};
	struct db_stmt *chain, *legacy;
	struct vpart *parts;
	size_t nparts, dropped = 0;
	if (load_parts(db, &parts, &nparts))
		return SG_EIO;
	/* A separate statement each: they are stepped side by side. */
	if (db_prepare(db, "SELECT batch, " EVIDENCE_POSITION_COLS " FROM positions WHERE batch > 0 ORDER BY batch",
		       &w.pos.st) ||
	    db_prepare(db, "SELECT batch, " EVIDENCE_EVENT_COLS " FROM geofence_events WHERE batch > 0 ORDER BY batch",
		       &w.ev.st) ||
	    db_prepare(db, "SELECT batch, kind, time_ms, rest FROM history_pruned ORDER BY batch", &w.pr.st) ||
	    db_prepare(db, "SELECT batch, rows, digest, at_ms, prev, link, part FROM history_chain ORDER BY batch",
		       &chain)) {
		free(parts);
		return SG_EIO;
	}
	advance(&w.pos);
	advance(&w.ev);
	advance(&w.pr);
	char prev[65] = "";
	int64_t last_batch = 0, commits = 0, dropped_rows = 0;
	int rc;
	while ((rc = db_step(chain)) == DB_ROW) {
		int64_t batch = db_col_int(chain, 0), rows = db_col_int(chain, 1), part = db_col_int(chain, 6);
		const char *digest = or_empty(db_col_text(chain, 2)), *slink = or_empty(db_col_text(chain, 5));
		check_link(&v, x, commits++ == 0, prev, batch, rows, digest, db_col_int(chain, 3),
			   or_empty(db_col_text(chain, 4)), slink);
		sg_strlcpy(prev, slink, sizeof(prev));
		last_batch = batch;
		if (part == EVIDENCE_ROWWISE) {
			check_rowwise(&v, x, &w, batch, rows, digest);
			continue;
		}
		/* a partition's rows: checked partition by partition below */
		const struct vpart *vp = find_part(parts, nparts, part);
		if (!vp || vp->legacy)
			say(&v, xasprintf("history commit #%lld names partition %lld, which the catalog does not list",
					  (long long)batch, (long long)part));
		else if (vp->dropped)
			dropped_rows += rows;
	}
	db_reset(chain);
	orphans(&v, &w.pos, INT64_MAX, "positions");
	orphans(&v, &w.ev, INT64_MAX, "geofence events");
	if (w.pr.rc == DB_ROW)
		say(&v, xasprintf("purged rows are recorded for commit #%lld, which the chain does not hold",
				  (long long)w.pr.batch));
	db_reset(w.pos.st);
	db_reset(w.ev.st);
	db_reset(w.pr.st);
	evidence_free(&w.e);
	if (rc >= 0 && check_parts(db, &v, x, parts, nparts, &w.rows, &dropped))
		rc = SG_EIO;
	free(parts);
	if (rc < 0)
		return SG_EIO;
	if (x->signed_batch >= 0 && (x->signed_batch != last_batch || !str_eq(x->signed_link, prev)))
		say(&v, xasprintf("the signed checkpoint names history commit #%lld but the chain ends at #%lld:"
				  " sealed commits were deleted from or added to its end",
				  (long long)x->signed_batch, (long long)last_batch));
	int64_t old = 0;
	if (db_prepare(db, "SELECT (SELECT count(*) FROM positions WHERE batch = 0)"
			   " + (SELECT count(*) FROM geofence_events WHERE batch = 0)",
		       &legacy))
		return SG_EIO;
	if (db_step(legacy) == DB_ROW)
		old = db_col_int(legacy, 0);
	db_reset(legacy);
	if (v.problems == 0) {
		fprintf(out,
			"history intact: %lld commits sealed, %lld rows stored, %lld purged by retention row by row,"
			" %zu partitions dropped whole (%lld rows)\n",
			(long long)commits, (long long)w.rows, (long long)w.pruned, dropped, (long long)dropped_rows);
		if (old)
			fprintf(out, "note: %lld rows were stored before the history chain (schema 7) and are not covered\n",
				(long long)old);
	}
	return v.problems;
}
