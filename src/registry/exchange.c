/* CSV and GeoJSON import/export of registry records; see exchange.h. */
#include "registry/exchange.h"

#include "core/err.h"
#include "core/util.h"

#include <errno.h>
#include <string.h>

int xfmt_parse(const char *s, enum xfmt *out)
{
	const char *dot = strrchr(s, '.');
	const char *ext = dot ? dot + 1 : s;
	if (str_eq(ext, "csv"))
		*out = XF_CSV;
	else if (str_eq(ext, "geojson") || str_eq(ext, "json"))
		*out = XF_GEOJSON;
	else
		return SG_EINVAL;
	return 0;
}

static bool exported(const struct field *f)
{
	return !(f->flags & FF_HIDDEN);
}

static void csv_cell(FILE *out, const char *s, bool text)
{
	struct sb sb;
	sb_init(&sb);
	sb_add_csv(&sb, s, text);
	fputs(sb.buf, out);
	sb_release(&sb);
}

static void csv_value(FILE *out, const json_t *v)
{
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		csv_cell(out, json_string_value(v), true);
	} else {
		/* numbers, booleans, GeoJSON: never a formula (an object starts with '{') */
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		csv_cell(out, s, !json_is_number(v));
		free(s);
	}
}

int exchange_export(struct db *db, const struct resource *res, const char *org_id, enum xfmt fmt,
		    FILE *out)
{
	struct list_query q = {.org_id = org_id, .limit = 500};
	char after[64] = "";
	bool first = true;
	if (fmt == XF_CSV) {
		fputs("id", out);
		for (unsigned i = 0; i < res->nfields; i++)
			if (exported(&res->fields[i]))
				fprintf(out, ",%s", res->fields[i].name);
		fputs("\r\n", out);
	} else {
		fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", out);
	}
	for (;;) {
		json_t *rows;
		bool more;
		q.after = after[0] ? after : NULL;
		int rc = resource_list(db, res, &q, &rows, &more);
		if (rc)
			return rc;
		size_t i;
		json_t *rec;
		json_array_foreach(rows, i, rec) {
			json_t *pub = resource_public(res, rec, VIEW_OWN);
			if (fmt == XF_CSV) {
				csv_value(out, json_object_get(pub, "id"));
				for (unsigned f = 0; f < res->nfields; f++) {
					if (!exported(&res->fields[f]))
						continue;
					fputc(',', out);
					csv_value(out, json_object_get(pub, res->fields[f].name));
				}
				fputs("\r\n", out);
			} else {
				const json_t *g = resource_geometry(res, rec);
				json_t *id = json_incref(json_object_get(pub, "id"));
				json_object_del(pub, "id");
				json_object_del(pub, "org_id");
				json_object_del(pub, "created_at");
				json_object_del(pub, "updated_at");
				json_object_del(pub, "geometry");
				json_t *feat = json_pack("{s:s,s:o,s:O,s:O}", "type", "Feature", "id", id,
							 "geometry", g ? g : json_null(), "properties", pub);
				char *s = json_dumps(feat, JSON_COMPACT | JSON_REAL_PRECISION(15));
				fprintf(out, "%s%s", first ? "" : ",\n", s);
				free(s);
				json_decref(feat);
				first = false;
			}
			sg_strlcpy(after, json_string_value(json_object_get(rec, "id")), sizeof(after));
			json_decref(pub);
		}
		json_decref(rows);
		if (!more)
			break;
	}
	if (fmt == XF_GEOJSON)
		fputs("\n]}\n", out);
	return ferror(out) ? SG_EIO : 0;
}

/* --- CSV reading ------------------------------------------------------------- */

struct csv {
	FILE *f;
	int line; /* current physical line */
};

/* Reads one record into cells (a new array of strings). Returns 1 for a
 * record, 0 at end of file, SG_EINVAL for malformed quoting. */
static int csv_record(struct csv *c, json_t **cells)
{
	struct sb cell;
	int ch;
	bool quoted = false, any = false, after_quote = false;
	json_t *arr = json_array();
	sb_init(&cell);
	c->line++;
	while ((ch = fgetc(c->f)) != EOF) {
		any = true;
		if (quoted) {
			if (ch == '"') {
				int nx = fgetc(c->f);
				if (nx == '"') {
					sb_addc(&cell, '"');
				} else {
					quoted = false;
					after_quote = true;
					if (nx != EOF)
						ungetc(nx, c->f);
				}
			} else {
				if (ch == '\n')
					c->line++;
				sb_addc(&cell, (char)ch);
			}
			continue;
		}
		if (ch == '"' && cell.len == 0 && !after_quote) {
			quoted = true;
		} else if (ch == ',') {
			json_array_append_new(arr, json_string(cell.buf));
			sb_reset(&cell);
			after_quote = false;
		} else if (ch == '\r') {
			continue;
		} else if (ch == '\n') {
			break;
		} else if (after_quote) {
			sb_release(&cell);
			json_decref(arr);
			return SG_EINVAL;
		} else {
			sb_addc(&cell, (char)ch);
		}
	}
	if (quoted) {
		sb_release(&cell);
		json_decref(arr);
		return SG_EINVAL;
	}
	if (!any) {
		sb_release(&cell);
		json_decref(arr);
		return 0;
	}
	json_array_append_new(arr, json_string(cell.buf));
	sb_release(&cell);
	*cells = arr;
	return 1;
}

/* Types a CSV cell by its field. Returns a new value, or NULL with a message. */
static json_t *csv_typed(const struct field *f, const char *s, char *msg, size_t msgsz)
{
	switch (f->type) {
	case FT_INT: {
		int64_t v;
		if (parse_i64(s, INT64_MIN, INT64_MAX, &v)) {
			snprintf(msg, msgsz, "'%s' is not a whole number", s);
			return NULL;
		}
		return json_integer(v);
	}
	case FT_REAL: {
		double d;
		if (parse_double(s, &d)) {
			snprintf(msg, msgsz, "'%s' is not a number", s);
			return NULL;
		}
		return json_real(d);
	}
	case FT_BOOL:
		if (str_eq(s, "true"))
			return json_true();
		if (str_eq(s, "false"))
			return json_false();
		snprintf(msg, msgsz, "'%s' is not true or false", s);
		return NULL;
	case FT_GEOMETRY: {
		json_error_t je;
		json_t *g = json_loads(s, JSON_REJECT_DUPLICATES, &je);
		if (!g)
			snprintf(msg, msgsz, "not GeoJSON: %s", je.text);
		return g;
	}
	default:
		/* An exported cell neutralised against formulas ('=...) comes back as it was. */
		if (s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]))
			s++;
		return json_string(s);
	}
}

static int parse_csv(const struct resource *res, const char *path, FILE *f, json_t *out, char *err,
		     size_t errsz)
{
	struct csv c = {.f = f};
	json_t *header, *cells;
	int rc = csv_record(&c, &header);
	if (rc <= 0) {
		snprintf(err, errsz, "%s:1: %s", path, rc ? "malformed header" : "the file is empty");
		return SG_EINVAL;
	}
	const struct field *cols[64];
	size_t ncols = json_array_size(header);
	if (ncols > ARRAY_LEN(cols)) {
		snprintf(err, errsz, "%s:1: too many columns", path);
		json_decref(header);
		return SG_EINVAL;
	}
	for (size_t i = 0; i < ncols; i++) {
		const char *name = json_string_value(json_array_get(header, i));
		if (i == 0 && str_startswith(name, "\xEF\xBB\xBF"))
			name += 3; /* byte order mark */
		cols[i] = str_eq(name, "id") ? NULL : resource_field(res, name);
		if (!str_eq(name, "id") && (!cols[i] || !exported(cols[i]))) {
			snprintf(err, errsz, "%s:1: %s: unknown column for %s", path, name, res->name);
			json_decref(header);
			return SG_EINVAL;
		}
	}
	while (true) {
		int start = c.line + 1;
		rc = csv_record(&c, &cells);
		if (rc == 0)
			break;
		if (rc < 0) {
			snprintf(err, errsz, "%s:%d: malformed quoting", path, start);
			json_decref(header);
			return SG_EINVAL;
		}
		if (json_array_size(cells) == 1 && !*json_string_value(json_array_get(cells, 0))) {
			json_decref(cells);
			continue; /* blank line */
		}
		if (json_array_size(cells) != ncols) {
			snprintf(err, errsz, "%s:%d: %zu cells where the header has %zu", path, start,
				 json_array_size(cells), ncols);
			json_decref(cells);
			json_decref(header);
			return SG_EINVAL;
		}
		json_t *body = json_object();
		for (size_t i = 0; i < ncols; i++) {
			const char *v = json_string_value(json_array_get(cells, i));
			if (!*v)
				continue;
			if (!cols[i]) {
				json_object_set_new(body, "id", json_string(v));
				continue;
			}
			char msg[300];
			json_t *tv = csv_typed(cols[i], v, msg, sizeof(msg));
			if (!tv) {
				snprintf(err, errsz, "%s:%d: %s: %s", path, start, cols[i]->name, msg);
				json_decref(body);
				json_decref(cells);
				json_decref(header);
				return SG_EINVAL;
			}
			json_object_set_new(body, cols[i]->name, tv);
		}
		json_decref(cells);
		json_array_append_new(out, json_pack("{s:i,s:o}", "line", start, "body", body));
	}
	json_decref(header);
	return 0;
}

static int parse_geojson(const struct resource *res, const char *path, FILE *f, json_t *out,
			 char *err, size_t errsz)
{
	json_error_t je;
	json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		snprintf(err, errsz, "%s:%d: %s", path, je.line, je.text);
		return SG_EINVAL;
	}
	json_t *feats = json_object_get(doc, "features");
	if (!str_eq(json_string_value(json_object_get(doc, "type")), "FeatureCollection") ||
	    !json_is_array(feats)) {
		snprintf(err, errsz, "%s: expected a GeoJSON FeatureCollection", path);
		json_decref(doc);
		return SG_EINVAL;
	}
	const struct field *geom = NULL;
	for (unsigned i = 0; i < res->nfields; i++)
		if (res->fields[i].type == FT_GEOMETRY)
			geom = &res->fields[i];
	size_t i;
	json_t *ft;
	json_array_foreach(feats, i, ft) {
		json_t *props = json_object_get(ft, "properties");
		json_t *g = json_object_get(ft, "geometry");
		if (!str_eq(json_string_value(json_object_get(ft, "type")), "Feature") ||
		    (props && !json_is_object(props) && !json_is_null(props))) {
			snprintf(err, errsz, "%s: feature %zu: not a GeoJSON Feature with object properties", path, i + 1);
			json_decref(doc);
			return SG_EINVAL;
		}
		json_t *body = json_is_object(props) ? json_deep_copy(props) : json_object();
		if (json_object_get(body, "geometry")) {
			snprintf(err, errsz, "%s: feature %zu: geometry: belongs in the feature, not its properties", path, i + 1);
			json_decref(body);
			json_decref(doc);
			return SG_EINVAL;
		}
		if (geom && g && !json_is_null(g))
			json_object_set(body, geom->name, g);
		else if (!geom && g && !json_is_null(g)) {
			snprintf(err, errsz, "%s: feature %zu: geometry: %s have no geometry; use null", path, i + 1, res->name);
			json_decref(body);
			json_decref(doc);
			return SG_EINVAL;
		}
		json_t *id = json_object_get(ft, "id");
		if (id)
			json_object_set(body, "id", id);
		json_array_append_new(out, json_pack("{s:i,s:o}", "line", (int)i + 1, "body", body));
	}
	json_decref(doc);
	return 0;
}

int exchange_parse(const struct resource *res, enum xfmt fmt, const char *path, json_t **out,
		   char *err, size_t errsz)
{
	FILE *f = str_eq(path, "-") ? stdin : fopen(path, "r");
	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return SG_EIO;
	}
	json_t *arr = json_array();
	int rc = fmt == XF_CSV ? parse_csv(res, path, f, arr, err, errsz)
			       : parse_geojson(res, path, f, arr, err, errsz);
	if (f != stdin)
		fclose(f);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
