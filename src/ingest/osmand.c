/* OsmAnd / Traccar Client decoder; see osmand.h. */
#include "ingest/osmand.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KNOTS_TO_MPS 0.514444

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into a new string; NULL when the
 * result is not valid UTF-8 or holds a NUL. */
static char *url_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
			   hexval((unsigned char)s[i + 2]) >= 0) {
			out[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (!utf8_valid(out, o)) {
		free(out);
		return NULL;
	}
	return out;
}

int osmand_parse_time(const char *s, int64_t *out_ms)
{
	double d;
	if (parse_double(s, &d) == 0) {
		if (d < 0 || d > 1e14)
			return SG_EINVAL;
		/* Below 10^12 seconds, from 10^12 on milliseconds. Every millisecond
		 * value a clock gives since 2001-09-09 is 10^12 or more; read as
		 * seconds, numbers from 2^31 to 10^12 are years 2038 to 33658, which
		 * the pipeline refuses as in the future (Traccar's rule, "2^31 and
		 * more is milliseconds", would read year 2100 in seconds as 1970). */
		*out_ms = d >= 1e12 ? (int64_t)d : (int64_t)llround(d * 1000.0);
		return 0;
	}
	if (time_parse_rfc3339(s, out_ms) == 0)
		return 0;
	/* "yyyy-MM-dd HH:mm:ss" or ISO without a zone: UTC. */
	char buf[40];
	size_t n = strlen(s);
	if (n < 19 || n > 30)
		return SG_EINVAL;
	memcpy(buf, s, n + 1);
	if (buf[10] == ' ')
		buf[10] = 'T';
	if (n + 1 < sizeof(buf)) {
		buf[n] = 'Z';
		buf[n + 1] = '\0';
	}
	return time_parse_rfc3339(buf, out_ms);
}

static int bad(struct verr *e, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct verr *e, const char *where, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	verr_set(e, 400, where, "%s", msg);
	return SG_EINVAL;
}

/* A number, with -1 meaning unknown (NaN) when unknown_ok. */
static int number(const char *v, double min, double max, bool unknown_ok, double *out)
{
	double d;
	if (parse_double(v, &d))
		return SG_EINVAL;
	if (unknown_ok && d == -1) {
		*out = (double)NAN;
		return 0;
	}
	if (d < min || d > max)
		return SG_EINVAL;
	*out = d;
	return 0;
}

static json_t *attr_value(const char *v)
{
	double d;
	if (str_eq(v, "true"))
		return json_true();
	if (str_eq(v, "false"))
		return json_false();
	if (parse_double(v, &d) == 0 && strlen(v) < 20) {
		int64_t i;
		if (parse_i64(v, INT64_MIN, INT64_MAX, &i) == 0)
			return json_integer(i);
		return json_real(d);
	}
	return json_string(v);
}

static void add_attr(json_t *attrs, const char *k, json_t *v)
{
	json_t *old = json_object_get(attrs, k);
	if (!old) {
		json_object_set_new(attrs, k, v);
	} else if (json_is_array(old)) {
		json_array_append_new(old, v);
	} else {
		json_object_set_new(attrs, k, json_pack("[O,o]", old, v));
	}
}

int osmand_decode_query(const char *query, size_t len, int64_t now_ms, struct report *out,
			struct verr *e)
{
	bool have_lat = false, have_lon = false, have_time = false;
	const char *p = query, *end = query + len;
	int rc = 0;
	if (len > 16384)
		return bad(e, "?", "the query is longer than 16384 bytes%s", "");
	while (p < end && rc == 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (stop == p) {
			p = stop + 1;
			continue;
		}
		char *k = url_decode(p, (size_t)((eq ? eq : stop) - p));
		char *v = eq ? url_decode(eq + 1, (size_t)(stop - eq - 1)) : xstrdup("");
		p = stop + 1;
		if (!k || !v) {
			free(k);
			free(v);
			return bad(e, "?", "a parameter is not valid UTF-8%s", "");
		}
		char where[80];
		snprintf(where, sizeof(where), "?%.70s", k);
		double d;
		if (str_eq(k, "id") || str_eq(k, "deviceid")) {
			if (!*v || strlen(v) >= DEVICE_KEY_MAX)
				rc = bad(e, where, "the device id must have 1 to 127 characters%s", "");
			else
				sg_strlcpy(out->device_key, v, sizeof(out->device_key));
		} else if (str_eq(k, "lat")) {
			rc = number(v, -90, 90, false, &out->lat) ? bad(e, where, "lat '%.40s' is not a latitude (-90..90)", v) : 0;
			have_lat = true;
		} else if (str_eq(k, "lon")) {
			rc = number(v, -180, 180, false, &out->lon) ? bad(e, where, "lon '%.40s' is not a longitude (-180..180)", v) : 0;
			have_lon = true;
		} else if (str_eq(k, "location")) {
			char *comma = strchr(v, ',');
			if (!comma)
				rc = bad(e, where, "location must be 'lat,lon', not '%.40s'", v);
			else {
				*comma = '\0';
				if (number(v, -90, 90, false, &out->lat) || number(comma + 1, -180, 180, false, &out->lon))
					rc = bad(e, where, "location '%.40s' is not 'lat,lon' in range", v);
				have_lat = have_lon = true;
			}
		} else if (str_eq(k, "timestamp")) {
			rc = osmand_parse_time(v, &out->time_ms) ? bad(e, where, "timestamp '%.40s' is not epoch seconds, epoch milliseconds or ISO 8601", v) : 0;
			have_time = true;
		} else if (str_eq(k, "speed")) {
			rc = number(v, 0, 2000, true, &d) ? bad(e, where, "speed '%.40s' is not a speed in knots", v) : 0;
			out->speed_mps = isnan(d) ? (double)NAN : d * KNOTS_TO_MPS;
		} else if (str_eq(k, "bearing") || str_eq(k, "heading")) {
			rc = number(v, 0, 360, true, &out->course_deg) ? bad(e, where, "'%.40s' is not a course in degrees (0..360)", v) : 0;
		} else if (str_eq(k, "altitude")) {
			rc = number(v, -12000, 100000, false, &out->altitude_m) ? bad(e, where, "altitude '%.40s' is not metres", v) : 0;
		} else if (str_eq(k, "accuracy") || str_eq(k, "hacc")) {
			rc = number(v, 0, 1e7, true, &out->accuracy_m) ? bad(e, where, "accuracy '%.40s' is not metres", v) : 0;
		} else if (str_eq(k, "hdop")) {
			rc = number(v, 0, 1000, true, &out->hdop) ? bad(e, where, "hdop '%.40s' is not a number", v) : 0;
		} else if (str_eq(k, "batt")) {
			rc = number(v, 0, 100, true, &d) ? bad(e, where, "batt '%.40s' is not a percentage", v) : 0;
			out->battery_pct = isnan(d) ? -1 : (int)lround(d);
		} else if (str_eq(k, "charge")) {
			if (str_eq(v, "true") || str_eq(v, "1"))
				out->charging = 1;
			else if (str_eq(v, "false") || str_eq(v, "0"))
				out->charging = 0;
			else
				rc = bad(e, where, "charge '%.40s' is not true or false", v);
		} else {
			add_attr(out->attrs, k, attr_value(v));
		}
		free(k);
		free(v);
	}
	if (rc)
		return rc;
	if (!out->device_key[0])
		return bad(e, "?id", "the device id (id or deviceid) is required%s", "");
	if (!have_lat || !have_lon)
		return bad(e, have_lat ? "?lon" : "?lat", "lat and lon (or location=lat,lon) are required%s", "");
	if (!have_time)
		out->time_ms = now_ms;
	out->has_position = true;
	return 0;
}

/* JSON members: a number or null; -1 is unknown (NaN). */
static int jnum(const json_t *o, const char *k, double min, double max, bool unknown_ok,
		double *out, bool *present)
{
	int rc = report_json_number(o, k, min, max, unknown_ok, out);
	if (present)
		*present = rc != JNUM_ABSENT;
	if (rc == JNUM_UNKNOWN)
		*out = (double)NAN;
	return rc < 0 ? rc : 0;
}

int osmand_decode_json(const char *body, size_t len, int64_t now_ms, struct report *out,
		       struct verr *e)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	int rc = SG_EINVAL;
	if (!doc) {
		verr_set(e, 400, "", "invalid JSON: %s", je.text);
		return SG_EINVAL;
	}
	const json_t *loc = json_object_get(doc, "location");
	const json_t *coords = json_object_get(loc, "coords");
	const char *id = json_string_value(json_object_get(doc, "device_id"));
	if (!json_is_object(doc)) {
		verr_set(e, 400, "", "the body must be a JSON object");
		goto out;
	}
	if (!id || !*id || strlen(id) >= DEVICE_KEY_MAX) {
		verr_set(e, 400, "/device_id", "device_id must be a string of 1 to 127 characters");
		goto out;
	}
	sg_strlcpy(out->device_key, id, sizeof(out->device_key));
	if (!json_is_object(loc) || !json_is_object(coords)) {
		verr_set(e, 400, "/location/coords", "location.coords is required");
		goto out;
	}
	bool have_lat, have_lon;
	if (jnum(coords, "latitude", -90, 90, false, &out->lat, &have_lat) || !have_lat) {
		verr_set(e, 400, "/location/coords/latitude", "latitude must be a number from -90 to 90");
		goto out;
	}
	if (jnum(coords, "longitude", -180, 180, false, &out->lon, &have_lon) || !have_lon) {
		verr_set(e, 400, "/location/coords/longitude", "longitude must be a number from -180 to 180");
		goto out;
	}
	static const struct {
		const char *name;
		double min, max;
		bool unknown_ok;
		size_t off;
	} opt[] = {
		{"accuracy", 0, 1e7, true, offsetof(struct report, accuracy_m)},
		{"speed", 0, 1000, true, offsetof(struct report, speed_mps)},
		{"heading", 0, 360, true, offsetof(struct report, course_deg)},
		{"altitude", -12000, 100000, false, offsetof(struct report, altitude_m)},
	};
	for (size_t i = 0; i < ARRAY_LEN(opt); i++) {
		if (jnum(coords, opt[i].name, opt[i].min, opt[i].max, opt[i].unknown_ok,
			 (double *)((char *)out + opt[i].off), NULL)) {
			char ptr[64];
			snprintf(ptr, sizeof(ptr), "/location/coords/%s", opt[i].name);
			verr_set(e, 400, ptr, "%s must be a number from %g to %g (or -1)", opt[i].name, opt[i].min, opt[i].max);
			goto out;
		}
	}
	json_t *ts = json_object_get(loc, "timestamp");
	if (ts && !json_is_null(ts)) {
		if (!json_is_string(ts) || osmand_parse_time(json_string_value(ts), &out->time_ms)) {
			verr_set(e, 400, "/location/timestamp", "timestamp must be an ISO 8601 time");
			goto out;
		}
	} else {
		out->time_ms = now_ms;
	}
	const json_t *batt = json_object_get(loc, "battery");
	if (batt && !json_is_null(batt)) {
		double lvl = (double)NAN;
		json_t *ch = json_object_get(batt, "is_charging");
		if (!json_is_object(batt) || jnum(batt, "level", 0, 1, true, &lvl, NULL) ||
		    (ch && !json_is_boolean(ch))) {
			verr_set(e, 400, "/location/battery", "battery is {level: 0..1 or -1, is_charging: boolean}");
			goto out;
		}
		out->battery_pct = isnan(lvl) ? -1 : (int)lround(lvl * 100);
		out->charging = ch ? json_is_true(ch) : -1;
	}
	/* Everything else the client says is kept. */
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)loc, k, v) {
		if (str_eq(k, "coords") || str_eq(k, "battery") || str_eq(k, "timestamp"))
			continue;
		if (str_eq(k, "extras") && json_is_object(v))
			json_object_update(out->attrs, v);
		else if (str_eq(k, "is_moving"))
			json_object_set(out->attrs, "motion", v);
		else
			json_object_set(out->attrs, k, v);
	}
	out->has_position = true;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

int osmand_decode(const struct ingest_input *in, struct report *out, struct verr *e)
{
	const char *ct = in->content_type ? in->content_type : "";
	out->protocol = "osmand";
	if (in->body_len && strncasecmp(ct, "application/json", 16) == 0)
		return osmand_decode_json(in->body, in->body_len, in->now_ms, out, e);
	if (in->body_len && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
		/* The body's keys; a query string may add more (older clients send both). */
		struct sb all;
		sb_init(&all);
		sb_add(&all, in->body, in->body_len);
		if (in->query && *in->query) {
			sb_addc(&all, '&');
			sb_adds(&all, in->query);
		}
		int rc = osmand_decode_query(all.buf, all.len, in->now_ms, out, e);
		sb_release(&all);
		return rc;
	}
	if (in->body_len && *ct) {
		verr_set(e, 415, "", "send the report as a query string, a form or application/json");
		return SG_EINVAL;
	}
	const char *q = in->query ? in->query : "";
	return osmand_decode_query(q, strlen(q), in->now_ms, out, e);
}
