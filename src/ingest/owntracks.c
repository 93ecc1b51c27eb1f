/* OwnTracks HTTP-mode decoder; see owntracks.h. */
#include "ingest/owntracks.h"

#include "core/err.h"
#include "core/util.h"

#include <math.h>
#include <string.h>

/* -1 means unknown in OwnTracks' own schema (acc, vel, cog, batt): such a
 * member is left unknown; alt has no such value (-1 m is an altitude). */
static int num(const json_t *o, const char *k, double min, double max, double *out, struct verr *e)
{
	if (report_json_number(o, k, min, max, !str_eq(k, "alt"), out) >= 0)
		return 0;
	char ptr[40];
	snprintf(ptr, sizeof(ptr), "/%s", k);
	verr_set(e, 400, ptr, "%s must be a number from %g to %g", k, min, max);
	return SG_EINVAL;
}

int owntracks_decode_body(const char *body, size_t len, int64_t now_ms, struct report *out,
			  struct verr *e)
{
	json_error_t je;
	json_t *m = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	int rc = SG_EINVAL;
	(void)now_ms;
	if (!m) {
		verr_set(e, 400, "", "invalid JSON: %s", je.text);
		return SG_EINVAL;
	}
	const char *type = json_string_value(json_object_get(m, "_type"));
	if (!json_is_object(m) || !type) {
		verr_set(e, 400, "/_type", "an OwnTracks message is a JSON object with _type");
		goto out;
	}
	json_object_set_new(out->attrs, "_type", json_string(type));
	if (!str_eq(type, "location") && !str_eq(type, "transition")) {
		/* lwt, waypoint(s), cmd, status, card...: no fix, kept as attributes. */
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
			json_object_set(out->attrs, k, v);
		rc = 0;
		goto out;
	}
	json_t *lat = json_object_get(m, "lat"), *lon = json_object_get(m, "lon"), *tst = json_object_get(m, "tst");
	if (!json_is_number(lat) || json_number_value(lat) < -90 || json_number_value(lat) > 90) {
		verr_set(e, 400, "/lat", "lat is required: a number from -90 to 90");
		goto out;
	}
	if (!json_is_number(lon) || json_number_value(lon) < -180 || json_number_value(lon) > 180) {
		verr_set(e, 400, "/lon", "lon is required: a number from -180 to 180");
		goto out;
	}
	if (!json_is_integer(tst) || json_integer_value(tst) < 0 || json_integer_value(tst) > 4102444800) {
		verr_set(e, 400, "/tst", "tst is required: epoch seconds");
		goto out;
	}
	out->lat = json_number_value(lat);
	out->lon = json_number_value(lon);
	out->time_ms = json_integer_value(tst) * 1000;
	double vel = (double)NAN, batt = -1;
	if (num(m, "acc", 0, 1e7, &out->accuracy_m, e) || num(m, "alt", -12000, 100000, &out->altitude_m, e) ||
	    num(m, "vel", 0, 3600, &vel, e) || num(m, "cog", 0, 360, &out->course_deg, e) ||
	    num(m, "batt", 0, 100, &batt, e))
		goto out;
	out->speed_mps = isnan(vel) ? (double)NAN : vel / 3.6; /* km/h */
	out->battery_pct = batt < 0 ? -1 : (int)lround(batt);
	json_t *bs = json_object_get(m, "bs"); /* battery status: 2 charging, 3 full */
	if (json_is_integer(bs))
		out->charging = json_integer_value(bs) == 2 || json_integer_value(bs) == 3;
	if (str_eq(type, "transition")) {
		const char *ev = json_string_value(json_object_get(m, "event"));
		if (!str_eq(ev, "enter") && !str_eq(ev, "leave")) {
			verr_set(e, 400, "/event", "a transition's event is enter or leave");
			goto out;
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach(m, k, v) {
		static const char *const known[] = {"lat", "lon", "tst", "acc", "alt", "vel", "cog", "batt", NULL};
		bool skip = false;
		for (int i = 0; known[i]; i++)
			skip = skip || str_eq(k, known[i]);
		if (!skip)
			json_object_set(out->attrs, k, v);
	}
	out->has_position = true;
	rc = 0;
out:
	json_decref(m);
	return rc;
}

int owntracks_decode(const struct ingest_input *in, struct report *out, struct verr *e)
{
	if (!in->password || !*in->password) {
		verr_set(e, 401, "", "OwnTracks HTTP mode: set the device key as the password (Basic auth)");
		return SG_EAUTH;
	}
	if (strlen(in->password) >= DEVICE_KEY_MAX) {
		verr_set(e, 401, "", "the device key is too long");
		return SG_EAUTH;
	}
	sg_strlcpy(out->device_key, in->password, sizeof(out->device_key));
	out->protocol = "owntracks";
	if (in->body_len == 0) {
		/* The app sends an empty POST at times (e.g. to fetch pending
		 * messages): no fix, answered 200 [] once the key is checked. */
		json_object_set_new(out->attrs, "_type", json_string("empty"));
		return 0;
	}
	int rc = owntracks_decode_body(in->body ? in->body : "", in->body_len, in->now_ms, out, e);
	if (rc == 0) {
		const char *u = in->limit_u ? in->limit_u : in->user;
		if (u)
			json_object_set_new(out->attrs, "user", json_string(u));
		if (in->limit_d)
			json_object_set_new(out->attrs, "device", json_string(in->limit_d));
	}
	return rc;
}
