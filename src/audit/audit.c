/* Hash-chained audit trail, signed checkpoints and the offline verifier; see audit.h. */
#include "audit/audit.h"

#include "audit/evidence.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The tables whose rows the trail vouches for: the sharing tables here, the
 * registry's added from its descriptors (audit_add_type, at start). The SQL
 * is built once and constant after. */
struct audited {
	const char *type, *table, *one_sql, *all_sql;
};
static struct audited audited[32] = {
	{"agreement", "agreements", "SELECT * FROM agreements WHERE id = ?", "SELECT * FROM agreements ORDER BY id"},
	{"grant", "grants", "SELECT * FROM grants WHERE id = ?", "SELECT * FROM grants ORDER BY id"},
};
static unsigned naudited = 2;

void audit_add_type(const char *type, const char *table)
{
	for (unsigned i = 0; i < naudited; i++)
		if (str_eq(audited[i].type, type))
			return;
	if (naudited == ARRAY_LEN(audited))
		BUG("too many audited types");
	/* Names come from the constant descriptors, never from input; checked
	 * anyway, since they are formatted into SQL. */
	for (const char *c = table; *c; c++)
		if (!(*c == '_' || (*c >= 'a' && *c <= 'z')))
			BUG("audited table name %s is not an identifier", table);
	audited[naudited++] = (struct audited){type, table, xasprintf("SELECT * FROM %s WHERE id = ?", table),
					       xasprintf("SELECT * FROM %s ORDER BY id", table)};
}

static const struct audited *find_audited(const char *type)
{
	for (unsigned i = 0; i < naudited; i++)
		if (str_eq(audited[i].type, type))
			return &audited[i];
	return NULL;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, n);
	hex_encode(h, sizeof(h), out);
}

/* The row under st, every byte of every column: name, type and the stored
 * bytes with their length (a NUL inside a text, invalid UTF-8, a type
 * changed from integer to text all count). Written as "2:" + hex. */
static void row_hash_v2(struct db_stmt *st, char out[AUDIT_ROW_HASH_LEN])
{
	crypto_hash_sha256_state h;
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&h);
	int n = db_col_count(st);
	for (int i = 0; i < n; i++) {
		char head[160];
		enum db_type t = db_col_type(st, i);
		int l = snprintf(head, sizeof(head), "%s|%d|", db_col_name(st, i), (int)t);
		crypto_hash_sha256_update(&h, (const unsigned char *)head, (size_t)l);
		char num[40];
		const void *p = NULL;
		size_t len = 0;
		switch (t) {
		case DB_INT: len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)db_col_int(st, i)); p = num; break;
		case DB_REAL: len = (size_t)snprintf(num, sizeof(num), "%.17g", db_col_real(st, i)); p = num; break;
		case DB_TEXT:
		case DB_BLOB: p = db_col_blob(st, i, &len); break; /* the raw bytes, NULs and all */
		default: break;
		}
		l = snprintf(head, sizeof(head), "%zu:", len);
		crypto_hash_sha256_update(&h, (const unsigned char *)head, (size_t)l);
		if (len)
			crypto_hash_sha256_update(&h, p, len);
		crypto_hash_sha256_update(&h, (const unsigned char *)"|", 1);
	}
	crypto_hash_sha256_final(&h, d);
	memcpy(out, "2:", 2);
	hex_encode(d, sizeof(d), out + 2);
}

/* Version 1 (entries written before 2026-12): a JSON form that dropped text
 * it could not hold (invalid UTF-8) and cut text at a NUL. Kept to verify
 * those entries until their rows next change. */
static void row_hash_current(struct db_stmt *st, char out[65])
{
	json_t *o = json_object();
	int n = db_col_count(st);
	for (int i = 0; i < n; i++) {
		json_t *v;
		switch (db_col_type(st, i)) {
		case DB_INT: v = json_integer(db_col_int(st, i)); break;
		case DB_REAL: v = json_real(db_col_real(st, i)); break;
		case DB_TEXT: v = json_string(db_col_text(st, i)); break;
		case DB_BLOB: {
			size_t len;
			const unsigned char *b = db_col_blob(st, i, &len);
			char *hex = xmalloc(2 * len + 1);
			hex_encode(b, len, hex);
			v = json_string(hex);
			free(hex);
			break;
		}
		default: v = json_null();
		}
		json_object_set_new(o, db_col_name(st, i), v ? v : json_null());
	}
	char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
	sha256_hex(s, strlen(s), out);
	free(s);
	json_decref(o);
}

int audit_row_hash(struct db *db, const char *object_type, const char *id, char out[AUDIT_ROW_HASH_LEN])
{
	const struct audited *a = find_audited(object_type);
	struct db_stmt *st;
	if (!a)
		return SG_ENOTFOUND;
	if (db_prepare(db, a->one_sql, &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	int rc = db_step(st);
	if (rc == DB_ROW)
		row_hash_v2(st, out);
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? SG_ENOTFOUND : rc;
}

/* One field of an entry: its bytes and their length (NULL: absent). */
struct span {
	const char *p;
	size_t n;
};

static struct span str_span(const char *s)
{
	return (struct span){s, s ? strlen(s) : 0};
}

/* A column's stored bytes, whatever they hold (verification). */
static struct span col_span(struct db_stmt *st, int i)
{
	if (db_col_type(st, i) == DB_NULL)
		return (struct span){NULL, 0};
	size_t n;
	const char *p = db_col_blob(st, i, &n);
	return (struct span){p ? p : "", n};
}

static void field(crypto_hash_sha256_state *h, struct span sp)
{
	char len[24];
	const char *s = sp.p;
	if (!s) {
		crypto_hash_sha256_update(h, (const unsigned char *)"-|", 2);
		return;
	}
	size_t n = sp.n;
	int l = snprintf(len, sizeof(len), "%zu:", n);
	crypto_hash_sha256_update(h, (const unsigned char *)len, (size_t)l);
	crypto_hash_sha256_update(h, (const unsigned char *)s, n);
	crypto_hash_sha256_update(h, (const unsigned char *)"|", 1);
}

/* fields: at, actor, org, action, type, object id, changes, row hash,
 * request id, in that order (every column of an entry but the two hashes). */
static void entry_hash(struct span prev, int64_t seq, const struct span fields[9], char out[65])
{
	crypto_hash_sha256_state h;
	char seqs[24];
	unsigned char d[crypto_hash_sha256_BYTES];
	snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
	crypto_hash_sha256_init(&h);
	field(&h, prev);
	field(&h, str_span(seqs));
	for (unsigned i = 0; i < 9; i++)
		field(&h, fields[i]);
	crypto_hash_sha256_final(&h, d);
	hex_encode(d, sizeof(d), out);
}

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

static int chain_head(struct db *db, int64_t *seq, char hash[65])
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &st))
		return SG_EIO;
	int rc = db_step(st);
	if (rc == DB_ROW) {
		*seq = db_col_int(st, 0);
		sg_strlcpy(hash, db_col_text(st, 1), 65);
	} else {
		*seq = 0;
		memcpy(hash, ZERO_HASH, 65);
	}
	db_reset(st);
	return rc < 0 ? rc : 0;
}

int audit_append(struct db *db, const struct audit_entry *e, int64_t now_ms)
{
	int64_t seq;
	char prev[65], rh[AUDIT_ROW_HASH_LEN], hash[65], at[25];
	const char *row_hash = NULL;
	int rc = chain_head(db, &seq, prev);
	if (rc)
		return rc;
	seq++;
	if (find_audited(e->object_type) && e->object_id) {
		rc = audit_row_hash(db, e->object_type, e->object_id, rh);
		if (rc == 0)
			row_hash = rh;
		else if (rc != SG_ENOTFOUND)
			return rc;
	}
	time_format_ms(now_ms, at);
	char *changes = e->changes ? json_dumps(e->changes, JSON_SORT_KEYS | JSON_COMPACT)
				   : xstrdup("{}");
	const struct span fields[9] = {str_span(at), str_span(e->actor), str_span(e->org_id),
				       str_span(e->action), str_span(e->object_type), str_span(e->object_id),
				       str_span(changes), str_span(row_hash), str_span(e->request_id)};
	entry_hash(str_span(prev), seq, fields, hash);
	struct db_stmt *st;
	rc = db_prepare(db,
			"INSERT INTO audit (seq, at, actor, org_id, action, object_type, object_id,"
			" changes, row_hash, request_id, prev_hash, hash)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			&st);
	if (!rc) {
		db_bind_all(st, DB_I(seq), DB_T(at), DB_T(e->actor), DB_T(e->org_id), DB_T(e->action),
		                DB_T(e->object_type), DB_T(e->object_id), DB_T(changes), DB_T(row_hash),
		                DB_T(e->request_id), DB_T(prev), DB_T(hash));
		rc = db_run(st);
	}
	free(changes);
	return rc ? SG_EIO : 0;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	size_t n = strlen(data);
	bool ok = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	return ok ? 0 : -1;
}

int audit_key_load(const char *data_dir, bool create, struct audit_key *out, char *err,
		   size_t errsz)
{
	char path[4096], pubpath[4096], buf[160];
	snprintf(path, sizeof(path), "%s/audit-signing.key", data_dir);
	snprintf(pubpath, sizeof(pubpath), "%s/audit-signing.pub", data_dir);
	FILE *f = fopen(path, "r");
	if (!f && errno == ENOENT && create) {
		struct audit_key k = {0};
		char skhex[129], pkhex[65], line[140];
		crypto_sign_keypair(k.pk, k.sk);
		hex_encode(k.sk, sizeof(k.sk), skhex);
		hex_encode(k.pk, sizeof(k.pk), pkhex);
		snprintf(line, sizeof(line), "%s\n", skhex);
		if (write_file(path, line, 0600)) {
			snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
			return SG_EIO;
		}
		snprintf(line, sizeof(line), "%s\n", pkhex);
		unlink(pubpath);
		if (write_file(pubpath, line, 0644)) {
			snprintf(err, errsz, "cannot create %s: %s", pubpath, strerror(errno));
			return SG_EIO;
		}
		*out = k;
		sodium_memzero(&k, sizeof(k));
		return 0;
	}
	if (!f) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		return errno == ENOENT ? SG_ENOTFOUND : SG_EIO;
	}
	struct audit_key k = {0};
	size_t bin_len = 0;
	bool ok = fgets(buf, sizeof(buf), f) &&
		  sodium_hex2bin(k.sk, sizeof(k.sk), buf, strlen(buf), "\n", &bin_len, NULL) == 0 &&
		  bin_len == sizeof(k.sk);
	fclose(f);
	sodium_memzero(buf, sizeof(buf));
	if (!ok) {
		snprintf(err, errsz, "%s does not hold an Ed25519 secret key", path);
		return SG_EIO;
	}
	crypto_sign_ed25519_sk_to_pk(k.pk, k.sk);
	*out = k;
	sodium_memzero(&k, sizeof(k));
	return 0;
}

/* Version 3 signs the history chain's head too (src/audit/evidence.h);
 * version 2 (before it) the checkpoint's time; version 1 (before 2026-12)
 * neither. Older versions verify only while the history chain is empty. */
static void checkpoint_message(int version, int64_t seq, const char *hash, const char *at, int64_t hbatch,
			       const char *hlink, char *out, size_t n)
{
	if (version == 3)
		snprintf(out, n, "safeguard-audit-checkpoint-v3|%lld|%s|%s|%lld|%s", (long long)seq, hash, at,
			 (long long)hbatch, hlink);
	else if (version == 2)
		snprintf(out, n, "safeguard-audit-checkpoint-v2|%lld|%s|%s", (long long)seq, hash, at);
	else
		snprintf(out, n, "safeguard-audit-checkpoint|%lld|%s", (long long)seq, hash);
}

int audit_checkpoint(struct db *db, void *ctx)
{
	struct audit_key *k = ctx;
	int64_t seq, hbatch;
	char hash[65], msg[400], at[25], pkhex[65], hlink[65];
	unsigned char sig[crypto_sign_BYTES];
	char sighex[2 * crypto_sign_BYTES + 1];
	if (!k)
		return 0;
	if (chain_head(db, &seq, hash) || evidence_head(db, &hbatch, hlink))
		return SG_EIO;
	if ((seq == 0 && hbatch == 0) ||
	    (seq == k->signed_seq && str_eq(hash, k->signed_hash) && hbatch == k->signed_batch &&
	     str_eq(hlink, k->signed_link)))
		return 0;
	time_format_ms(clock_now_ms(), at);
	checkpoint_message(3, seq, hash, at, hbatch, hlink, msg, sizeof(msg));
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), k->sk);
	hex_encode(sig, sizeof(sig), sighex);
	hex_encode(k->pk, sizeof(k->pk), pkhex);
	struct db_stmt *st;
	if (db_prepare(db,
		       "INSERT INTO audit_checkpoint (id, seq, hash, signature, public_key, at, history_batch, history_link)"
		       " VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq,"
		       " hash = excluded.hash, signature = excluded.signature,"
		       " public_key = excluded.public_key, at = excluded.at,"
		       " history_batch = excluded.history_batch, history_link = excluded.history_link",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_I(seq), DB_T(hash), DB_T(sighex), DB_T(pkhex), DB_T(at), DB_I(hbatch),
	                DB_T(hlink));
	if (db_run(st))
		return SG_EIO;
	/* Should this commit fail, the store stops writing, or (disk full) the
	 * heads on disk differ from these and the next commit signs again. */
	k->signed_seq = seq;
	memcpy(k->signed_hash, hash, sizeof(k->signed_hash));
	k->signed_batch = hbatch;
	memcpy(k->signed_link, hlink, sizeof(k->signed_link));
	return 0;
}

/* Verification ------------------------------------------------------------ */

struct vstate {
	FILE *out;
	int problems;
};

static void problem(struct vstate *vs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vstate *vs, const char *fmt, ...)
{
	va_list ap;
	if (vs->problems < 50) {
		fputs(vs->problems == 0 ? "FIRST BAD: " : "also bad: ", vs->out);
		va_start(ap, fmt);
		vfprintf(vs->out, fmt, ap);
		va_end(ap);
		fputc('\n', vs->out);
	}
	vs->problems++;
}

static void history_problem(void *ctx, const char *msg)
{
	problem(ctx, "%s", msg);
}

/* What the walk of the trail learns, for the later checks. */
struct walk {
	char prev[65];        /* the last entry's hash */
	int64_t expect;       /* the seq the next entry should have */
	int64_t entries;
	json_t *last;         /* "type/id" -> [seq, row_hash|null]: the last word on each object */
	struct evidence_expect hx;
};

/* A history purge entry tells the history check what retention removed. */
static void note_purge(struct walk *w, const char *changes)
{
	json_t *c = json_loads(changes ? changes : "", 0, NULL);
	int64_t cut = json_integer_value(json_object_get(c, "cutoff_ms"));
	if (cut > w->hx.max_cutoff_ms)
		w->hx.max_cutoff_ms = cut;
	w->hx.first_batch = json_integer_value(json_object_get(c, "first_batch"));
	const char *fp = json_string_value(json_object_get(c, "first_prev"));
	sg_strlcpy(w->hx.first_prev, fp ? fp : "", sizeof(w->hx.first_prev));
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(c, "partitions"), i, id) {
		w->hx.dropped = xrealloc(w->hx.dropped, (w->hx.ndropped + 1) * sizeof(*w->hx.dropped));
		w->hx.dropped[w->hx.ndropped++] = json_integer_value(id);
	}
	json_decref(c);
}

/* Every entry in order: sequence, link to the one before, its own hash. */
static int verify_entries(struct db *db, struct vstate *vs, struct walk *w)
{
	struct db_stmt *st;
	char hash[65];
	if (db_prepare(db,
		       "SELECT seq, at, actor, org_id, action, object_type, object_id, changes,"
		       " row_hash, request_id, prev_hash, hash FROM audit ORDER BY seq",
		       &st))
		return SG_EIO;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		int64_t seq = db_col_int(st, 0);
		const char *type = db_col_text(st, 5), *oid = db_col_text(st, 6);
		const char *stored_prev = db_col_text(st, 10), *stored = db_col_text(st, 11);
		w->entries++;
		if (seq > w->expect)
			problem(vs, "audit entry #%lld is missing (deleted); the next entry is #%lld", (long long)w->expect,
				(long long)seq);
		else if (seq < w->expect)
			problem(vs, "audit entry #%lld is out of order", (long long)seq);
		if (!str_eq(stored_prev, w->prev))
			problem(vs, "audit entry #%lld does not follow the entry before it (prev_hash differs: inserted, deleted or reordered)",
				(long long)seq);
		struct span fields[9];
		for (int c = 0; c < 9; c++)
			fields[c] = col_span(st, c + 1);
		struct span sprev = col_span(st, 10);
		entry_hash(sprev.p ? sprev : str_span(""), seq, fields, hash);
		if (!str_eq(hash, stored) || col_span(st, 11).n != strlen(stored ? stored : ""))
			problem(vs, "audit entry #%lld has been edited (its hash no longer matches its content)",
				(long long)seq);
		sg_strlcpy(w->prev, stored ? stored : "", sizeof(w->prev));
		w->expect = seq + 1;
		if (str_eq(type, "history") && str_eq(db_col_text(st, 4), "purge"))
			note_purge(w, db_col_text(st, 7));
		if (type && oid && find_audited(type)) {
			char *key = xasprintf("%s/%s", type, oid);
			json_object_set_new(w->last, key, json_pack("[Is?]", (json_int_t)seq, db_col_text(st, 8)));
			free(key);
		}
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

/* The signed checkpoint pins both heads: a truncated tail shows here. */
static int verify_checkpoint(struct db *db, const unsigned char *pk, struct vstate *vs, struct walk *w)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT seq, hash, signature, public_key, at, history_batch, history_link"
			   " FROM audit_checkpoint WHERE id = 1",
		       &st))
		return SG_EIO;
	int rc = db_step(st);
	if (rc == DB_ROW) {
		int64_t cseq = db_col_int(st, 0), hbatch = db_col_int(st, 5);
		const char *chash = db_col_text(st, 1), *cat = db_col_text(st, 4);
		const char *hlink = db_col_text(st, 6) ? db_col_text(st, 6) : "";
		const char *sighex = db_col_text(st, 2), *pkhex = db_col_text(st, 3);
		unsigned char sig[crypto_sign_BYTES], key[32];
		size_t n1 = 0, n2 = 0;
		char msg[400];
		bool parsed = sighex && pkhex &&
			      sodium_hex2bin(sig, sizeof(sig), sighex, strlen(sighex), NULL, &n1, NULL) == 0 &&
			      n1 == sizeof(sig) &&
			      sodium_hex2bin(key, sizeof(key), pkhex, strlen(pkhex), NULL, &n2, NULL) == 0 &&
			      n2 == sizeof(key);
		if (pk)
			memcpy(key, pk, sizeof(key));
		bool good = false;
		/* Versions before 3 signed no history: valid only while it is empty. */
		for (int v = 3; parsed && v >= 1 && !good && (v == 3 || (hbatch == 0 && !hlink[0])); v--) {
			checkpoint_message(v, cseq, chash ? chash : "", cat ? cat : "", hbatch, hlink, msg, sizeof(msg));
			good = crypto_sign_verify_detached(sig, (const unsigned char *)msg, strlen(msg), key) == 0;
		}
		w->hx.signed_batch = hbatch;
		sg_strlcpy(w->hx.signed_link, hlink, sizeof(w->hx.signed_link));
		if (!good)
			problem(vs, "the audit checkpoint's signature is not valid (checkpoint edited or signed by another key)");
		else if (cseq != w->expect - 1 || !str_eq(chash, w->prev))
			problem(vs, "the signed checkpoint names entry #%lld but the trail ends at #%lld: entries were deleted from or added to the end",
				(long long)cseq, (long long)(w->expect - 1));
	} else if (rc == DB_DONE && w->entries > 0) {
		problem(vs, "the audit checkpoint is missing (deleted)");
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}

/* Every audited row must match the last entry about it, and every object the
 * trail says exists must still be there. */
static int verify_rows(struct db *db, struct vstate *vs, struct walk *w)
{
	struct db_stmt *st;
	int rc = 0;
	for (unsigned t = 0; t < naudited && rc >= 0; t++) {
		if (db_prepare(db, audited[t].all_sql, &st))
			return SG_EIO;
		while ((rc = db_step(st)) == DB_ROW) {
			const char *id = db_col_text(st, 0);
			char *key = xasprintf("%s/%s", audited[t].type, id ? id : "");
			json_t *l = json_object_get(w->last, key);
			char rh[AUDIT_ROW_HASH_LEN];
			if (!l) {
				problem(vs, "%s %s has no audit entry (inserted behind the audit trail)", audited[t].type, id);
			} else {
				const char *want = json_string_value(json_array_get(l, 1));
				long long seq = (long long)json_integer_value(json_array_get(l, 0));
				if (want && str_startswith(want, "2:"))
					row_hash_v2(st, rh);
				else
					row_hash_current(st, rh); /* an entry written before version 2 */
				if (!want)
					problem(vs, "%s %s exists but audit entry #%lld records its deletion", audited[t].type,
						id, seq);
				else if (!str_eq(want, rh))
					problem(vs, "%s %s was changed behind the audit trail (differs from audit entry #%lld)",
						audited[t].type, id, seq);
				json_object_del(w->last, key);
			}
			free(key);
		}
		db_reset(st);
	}
	if (rc < 0)
		return SG_EIO;
	const char *key;
	json_t *l;
	json_object_foreach(w->last, key, l) {
		if (json_string_value(json_array_get(l, 1)))
			problem(vs, "%s was deleted behind the audit trail (last audit entry #%lld)", key,
				(long long)json_integer_value(json_array_get(l, 0)));
	}
	return 0;
}

int audit_verify(struct db *db, const unsigned char *pk, FILE *report)
{
	struct vstate vs = {.out = report};
	struct walk w = {.expect = 1, .last = json_object(), .hx = {.signed_batch = -1}};
	memcpy(w.prev, ZERO_HASH, 65);
	int rc = verify_entries(db, &vs, &w);
	if (!rc)
		rc = verify_checkpoint(db, pk, &vs, &w);
	if (!rc)
		rc = verify_rows(db, &vs, &w);
	json_decref(w.last);
	if (rc) {
		free(w.hx.dropped);
		return SG_EIO;
	}
	if (vs.problems == 0)
		fprintf(report, "audit trail intact: %lld entries, every registry row matches its last entry\n",
			(long long)w.entries);
	/* Position history and geofence events: every commit against its seal. */
	rc = evidence_verify(db, &w.hx, history_problem, &vs, report);
	free(w.hx.dropped);
	return rc < 0 ? SG_EIO : vs.problems;
}

int audit_list(struct db *db, const char *org_id, const struct audit_filter *f, int64_t before, int64_t limit,
	       json_t *items, bool *more, int64_t *last)
{
	static const struct audit_filter none = {0};
	struct db_stmt *st;
	if (!f)
		f = &none;
	if (db_prepare(db,
		       "SELECT seq, at, actor, action, object_type, object_id, changes, request_id, hash"
		       " FROM audit WHERE org_id = ?1 AND seq < ?2"
		       " AND (?4 IS NULL OR action = ?4) AND (?5 IS NULL OR actor = ?5)"
		       " AND (?6 IS NULL OR object_type = ?6) AND (?7 IS NULL OR object_id = ?7)"
		       " AND (?8 IS NULL OR at >= ?8) AND (?9 IS NULL OR at < ?9)"
		       " ORDER BY seq DESC LIMIT ?3",
		       &st))
		return SG_EIO;
	db_bind_all(st, DB_T(org_id), DB_I(before), DB_I(limit + 1), DB_T(f->action), DB_T(f->actor),
		    DB_T(f->object_type), DB_T(f->object_id), DB_T(f->from), DB_T(f->to));
	int n = 0, rc;
	*more = false;
	*last = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		if (n++ == limit) {
			*more = true;
			break;
		}
		*last = db_col_int(st, 0);
		json_t *changes = json_loads(db_col_text(st, 6), 0, NULL);
		json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s?,s:o,s:s?,s:s}", "seq", (json_int_t)*last,
						       "at", db_col_text(st, 1), "actor", db_col_text(st, 2), "action",
						       db_col_text(st, 3), "object_type", db_col_text(st, 4), "object_id",
						       db_col_text(st, 5), "changes", changes ? changes : json_object(),
						       "request_id", db_col_text(st, 7), "hash", db_col_text(st, 8)));
	}
	db_reset(st);
	return rc < 0 ? SG_EIO : 0;
}
