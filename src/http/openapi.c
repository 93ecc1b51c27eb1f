/* OpenAPI 3.1 generation from routes and resource descriptors; see openapi.h. */
#include "http/openapi.h"

#include "core/util.h"
#include "http/router.h"
#include "registry/resource.h"

#include <ctype.h>
#include <string.h>

static json_t *field_schema(const struct field *f)
{
	json_t *s;
	switch (f->type) {
	case FT_INT:
		s = json_pack("{s:s,s:f,s:f}", "type", "integer", "minimum", f->min, "maximum", f->max);
		break;
	case FT_REAL:
		s = json_pack("{s:s,s:f,s:f}", "type", "number", "minimum", f->min, "maximum", f->max);
		break;
	case FT_BOOL:
		s = json_pack("{s:s}", "type", "boolean");
		break;
	case FT_ENUM: {
		json_t *e = json_array();
		for (int i = 0; f->values[i]; i++)
			json_array_append_new(e, json_string(f->values[i]));
		s = json_pack("{s:s,s:o}", "type", "string", "enum", e);
		break;
	}
	case FT_GEOMETRY:
		s = json_pack("{s:s}", "$ref", "#/components/schemas/Geometry");
		break;
	case FT_TIME:
		s = json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
		break;
	case FT_EMAIL:
		s = json_pack("{s:s,s:s}", "type", "string", "format", "email");
		break;
	case FT_PASSWORD:
		s = json_pack("{s:s,s:i,s:b}", "type", "string", "minLength", 12, "writeOnly", 1);
		break;
	default:
		s = json_pack("{s:s}", "type", "string");
		if (f->max_len)
			json_object_set_new(s, "maxLength", json_integer(f->max_len));
	}
	if (f->doc)
		json_object_set_new(s, "description", json_string(f->doc));
	if (f->flags & FF_READONLY)
		json_object_set_new(s, "readOnly", json_true());
	if (!(f->flags & FF_REQUIRED)) {
		/* Optional members may be null (cleared). */
		json_t *any = json_pack("{s:[o,{s:s}]}", "oneOf", s, "type", "null");
		return any;
	}
	return s;
}

static json_t *resource_schema(const struct resource *res)
{
	json_t *props = json_object(), *req = json_array();
	json_object_set_new(props, "id", json_pack("{s:s,s:b}", "type", "string", "readOnly", 1));
	json_object_set_new(props, "org_id", json_pack("{s:s,s:b}", "type", "string", "readOnly", 1));
	for (unsigned i = 0; i < res->nfields; i++) {
		const struct field *f = &res->fields[i];
		if ((f->flags & FF_HIDDEN) && !(f->flags & FF_WRITEONLY) && f->type != FT_PASSWORD)
			continue;
		json_object_set_new(props, f->name, field_schema(f));
		if (f->flags & FF_REQUIRED)
			json_array_append_new(req, json_string(f->name));
	}
	json_object_set_new(props, "created_at", json_pack("{s:s,s:s,s:b}", "type", "string", "format", "date-time", "readOnly", 1));
	json_object_set_new(props, "updated_at", json_pack("{s:s,s:s,s:b}", "type", "string", "format", "date-time", "readOnly", 1));
	return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", req,
			 "additionalProperties", 0);
}

/* Request bodies of the routes that are not a registry resource. */
static json_t *body_of(const char *method, const char *pattern)
{
	if (str_eq(pattern, "/api/v1/session") && str_eq(method, "POST"))
		return json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:[s,s],s:b}", "type", "object", "properties", "username",
				 "type", "string", "password", "type", "string", "required", "username", "password",
				 "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/session/password"))
		return json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:[s,s],s:b}", "type", "object", "properties",
				 "current_password", "type", "string", "new_password", "type", "string", "required",
				 "current_password", "new_password", "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/alerts") && str_eq(method, "POST"))
		return json_pack("{s:[{s:s},{s:{s:{s:s,s:s},s:{s:s,s:s}}}]}", "allOf", "$ref", "#/components/schemas/Alerts",
				 "properties", "people", "type", "array", "description", "your people to alert by id",
				 "sites", "type", "array", "description", "your sites whose people to alert");
	if (str_eq(pattern, "/api/v1/alerts/{id}/relay"))
		return json_pack("{s:s}", "type", "object");
	if (str_eq(pattern, "/api/v1/incidents/{id}/assessment"))
		return json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s,s:i}},s:[s],s:b}", "type", "object", "properties",
				 "severity", "type", "string", "confidence", "type", "string", "notes", "type", "string",
				 "maxLength", 4000, "required", "severity", "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/session/duress_pin"))
		return json_pack("{s:s,s:{s:{s:s},s:{s:s,s:i,s:i,s:b}},s:[s,s],s:b}", "type", "object", "properties",
				 "password", "type", "string", "pin", "type", "string", "minLength", 4, "maxLength", 64,
				 "writeOnly", 1, "required", "password", "pin", "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/rollcalls") && str_eq(method, "POST"))
		return json_pack("{s:s,s:{s:{s:s,s:i},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s},s:{s:s,s:i,s:i},"
				 "s:{s:s,s:i,s:i},s:{s:s,s:i}},s:[s],s:b}",
				 "type", "object", "properties", "title", "type", "string", "maxLength", 160, "alert_id", "type",
				 "string", "description", "ask this alert's recipients", "people", "type", "array",
				 "description", "or: your people to ask, by id", "sites", "type", "array", "description",
				 "and/or: your sites whose people to ask", "exercise", "type", "boolean", "waves", "type",
				 "integer", "minimum", 1, "maximum", 10, "wave_interval_s", "type", "integer", "minimum", 30,
				 "maximum", 86400, "instruction", "type", "string", "maxLength", 1000, "required", "title",
				 "additionalProperties", 0);
	json_t *answer = json_pack("{s:{s:s,s:[s,s]},s:{s:s,s:i},s:{s:s},s:{s:s}}", "state", "type", "string", "enum",
				   "safe", "need_help", "note", "type", "string", "maxLength", 1000, "lat", "type", "number",
				   "lon", "type", "number");
	if (str_eq(pattern, "/api/v1/rollcalls/{id}/answers")) {
		json_object_set_new(answer, "person_id", json_pack("{s:s,s:s}", "type", "string", "description",
								  "whom an operator answers for (a person answers for themselves)"));
		json_object_set_new(answer, "reason", json_pack("{s:s,s:i,s:s}", "type", "string", "maxLength", 300,
							       "description", "an operator's: how it is known"));
		return json_pack("{s:s,s:o,s:[s],s:b}", "type", "object", "properties", answer, "required", "state",
				 "additionalProperties", 0);
	}
	if (str_eq(pattern, "/api/v1/answer")) {
		json_object_set_new(answer, "token", json_pack("{s:s,s:s}", "type", "string", "description",
							      "the one-time link's code (after the #)"));
		json_object_set_new(answer, "pin", json_pack("{s:s,s:b}", "type", "string", "writeOnly", 1));
		return json_pack("{s:s,s:o,s:[s,s],s:b}", "type", "object", "properties", answer, "required", "token",
				 "state", "additionalProperties", 0);
	}
	json_decref(answer);
	if (str_eq(pattern, "/api/v1/answer/question"))
		return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "token", "type", "string",
				 "required", "token", "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/rollcalls/{id}/close"))
		return json_pack("{s:s}", "type", "object");
	if (str_eq(pattern, "/api/v1/positions/query"))
		return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "geometry", "$ref",
				 "#/components/schemas/Geometry", "required", "geometry", "additionalProperties", 0);
	json_t *grants = json_pack("{s:s,s:{s:s,s:{s:{s:s},s:{s:s,s:[s,s,s]},s:{s:s},s:{s:s},s:{s:s}}}}",
				   "type", "array", "items", "type", "object", "properties", "category", "type",
				   "string", "level", "type", "string", "enum", "none", "summary", "full",
				   "condition", "type", "string", "from", "type", "string", "to", "type", "string");
	if (str_eq(pattern, "/api/v1/agreements") && str_eq(method, "POST"))
		return json_pack("{s:s,s:{s:{s:s},s:o},s:[s,s],s:b}", "type", "object", "properties", "partner_id",
				 "type", "string", "grants", grants, "required", "partner_id", "grants",
				 "additionalProperties", 0);
	if (str_eq(pattern, "/api/v1/agreements/{id}") && str_eq(method, "PATCH"))
		return json_pack("{s:s,s:{s:o},s:[s],s:b}", "type", "object", "properties", "grants", grants,
				 "required", "grants", "additionalProperties", 0);
	json_decref(grants);
	if (str_eq(pattern, "/api/v1/alarms"))
		return json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:i},s:{s:s},s:{s:s},s:{s:s}},s:b}", "type",
				 "object", "properties", "person_id", "type", "string", "description",
				 "whose alarm (an operator must name them; a person's account raises its own)", "cause",
				 "type", "string", "description", "sos (default), need_help, general or a device alarm",
				 "note", "type", "string", "maxLength", 2000, "exercise", "type", "boolean", "lat", "type",
				 "number", "lon", "type", "number", "additionalProperties", 0);
	if (strstr(pattern, "/api/v1/alarms/{id}/cancel"))
		return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "password", "type", "string",
				 "required", "password", "additionalProperties", 0);
	if (strstr(pattern, "/api/v1/alarms/{id}/")) {
		json_t *props = json_pack("{s:{s:s,s:i}}", "note", "type", "string", "maxLength", 2000);
		json_t *req = json_array();
		if (strstr(pattern, "/handover"))
			json_object_set_new(props, "to_org", json_pack("{s:s,s:s}", "type", "string", "description",
								       "the partner organisation taking it over")),
				json_array_append_new(req, json_string("to_org"));
		if (strstr(pattern, "/resolve")) {
			json_object_set_new(props, "outcome", json_pack("{s:s,s:[s,s,s,s]}", "type", "string", "enum",
									"false_alarm", "assisted", "escalated_to_authorities",
									"other"));
			json_array_append_new(req, json_string("outcome"));
			json_array_append_new(req, json_string("note"));
		}
		if (strstr(pattern, "/comment"))
			json_array_append_new(req, json_string("note"));
		return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", req,
				 "additionalProperties", 0);
	}
	return NULL;
}

static char *schema_name(const char *res)
{
	char *s = xstrdup(res);
	s[0] = (char)toupper((unsigned char)s[0]);
	for (char *p = s; *p; p++)
		if (*p == '_')
			p[1] = (char)toupper((unsigned char)p[1]);
	return s;
}

json_t *openapi_generate(const char *version)
{
	json_t *doc = json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o}", "openapi", "3.1.0", "info", "title",
		"Safeguard API", "version", version, "description",
		"Joint security management: registry, accounts and audit. Errors are RFC 9457 "
		"application/problem+json with `field` (a JSON pointer) naming the offending member.",
		"servers", "url", "/", "paths", json_object());
	json_t *paths = json_object_get(doc, "paths");
	json_t *schemas = json_object();
	for (int i = 0; resources[i]; i++) {
		char *n = schema_name(resources[i]->name);
		json_object_set_new(schemas, n, resource_schema(resources[i]));
		free(n);
	}
	json_object_set_new(schemas, "Geometry", json_pack(
		"{s:s,s:s,s:{s:{s:s,s:[s,s,s,s]},s:{s:s}},s:[s,s]}", "type", "object", "description",
		"GeoJSON geometry (RFC 7946), [longitude, latitude] order, WGS 84", "properties", "type",
		"type", "string", "enum", "Point", "Polygon", "MultiPolygon", "LineString", "coordinates",
		"type", "array", "required", "type", "coordinates"));
	json_object_set_new(schemas, "Problem", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s}}}", "type", "object",
		"properties", "type", "type", "string", "title", "type", "string", "status", "type",
		"integer", "detail", "type", "string", "field", "type", "string", "description",
		"JSON pointer of the offending member (or ?param for a query parameter)", "request_id",
		"type", "string"));
	json_object_set_new(schemas, "List", json_pack(
		"{s:s,s:{s:{s:s},s:{s:[{s:s},{s:s}]}}}", "type", "object", "properties", "items", "type",
		"array", "next", "oneOf", "type", "string", "type", "null"));
	json_object_set_new(doc, "components", json_pack(
		"{s:o,s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}}", "schemas", schemas, "securitySchemes",
		"bearer", "type", "http", "scheme", "bearer", "cookie", "type", "apiKey", "in", "cookie",
		"name", "sg_session"));

	size_t routes_count;
	const struct route *routes = router_table(&routes_count);
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *rt = &routes[i];
		if (rt->flags & RT_NOAPI)
			continue;
		json_t *item = json_object_get(paths, rt->pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		char *method = xstrdup(rt->method);
		for (char *p = method; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		/* raising an alarm answers the alarm */
		const struct resource *res =
			rt->resource ? resource_find(str_eq(rt->resource, "alarm_raise") ? "alarms" : rt->resource) : NULL;
		char *sn = res ? schema_name(res->name) : NULL;
		char *ref = sn ? xasprintf("#/components/schemas/%s", sn) : NULL;
		json_t *op = json_pack("{s:s,s:o}", "summary", rt->summary, "responses", json_object());
		json_t *resp = json_object_get(op, "responses");
		if (strchr(rt->pattern, '{'))
			json_object_set_new(op, "parameters", json_pack("[{s:s,s:s,s:b,s:{s:s}}]", "name", "id",
									"in", "path", "required", 1, "schema",
									"type", "string"));
		if (rt->flags & RT_PUBLIC)
			json_object_set_new(op, "security", json_array());
		else
			json_object_set_new(op, "security", json_pack("[{s:[]},{s:[]}]", "bearer", "cookie"));
		json_t *body_schema = ref ? json_pack("{s:s}", "$ref", ref) : json_pack("{s:s}", "type", "object");
		json_t *in_schema = body_of(rt->method, rt->pattern);
		if (!in_schema)
			in_schema = ref ? json_incref(body_schema) : json_pack("{s:s}", "type", "object");
		if (str_eq(rt->pattern, "/api/v1/organisations") && str_eq(rt->method, "POST")) {
			/* an organisation comes with its first admin, in the same request */
			json_decref(in_schema);
			in_schema = json_pack("{s:[O,{s:{s:{s:s,s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:s}}}},s:[s]}]}", "allOf",
					      body_schema, "properties", "admin", "type", "object", "description",
					      "the organisation's first admin account", "required", "username", "password",
					      "properties", "username", "type", "string", "password", "type", "string",
					      "display_name", "type", "string", "required", "admin");
		}
		if ((str_eq(rt->method, "POST") || str_eq(rt->method, "PATCH")) && !(rt->flags & RT_DEVICE))
			json_object_set_new(op, "requestBody", json_pack("{s:b,s:{s:{s:O}}}", "required",
									 !strstr(rt->pattern, "/key"), "content",
									 "application/json", "schema", in_schema));
		json_decref(in_schema);
		if (rt->action == ACT_LIST && ref) {
			json_t *params = json_array();
			json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s,s:i,s:i}}", "name", "limit", "in", "query", "schema", "type", "integer", "minimum", 1, "maximum", 500));
			json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", "cursor", "in", "query", "schema", "type", "string"));
			json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s,s:[s,s]}}", "name", "format", "in", "query", "schema", "type", "string", "enum", "json", "geojson"));
			for (unsigned f = 0; f < res->nfields; f++)
				if (res->fields[f].flags & FF_FILTER)
					json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", res->fields[f].name, "in", "query", "schema", "type", "string"));
			static const char *const timed[] = {"from", "until", NULL}, *const placed[] = {"bbox", "near", "radius_m", NULL};
			for (const char *const *q = timed; resource_field(res, "time") && *q; q++)
				json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "name", *q, "in", "query", "description",
									"time window on `time`: [from, until)", "schema", "type", "string", "format", "date-time"));
			for (const char *const *q = placed; resource_field(res, "min_lon") && *q; q++)
				json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", *q, "in", "query", "description",
									"bbox=min_lon,min_lat,max_lon,max_lat, or near=LAT,LON with radius_m (metres): the areas that reach it",
									"schema", "type", "string"));
			json_object_set_new(op, "parameters", params);
			json_object_set_new(resp, "200", json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "A page of records",
								   "content", "application/json", "schema", "$ref", "#/components/schemas/List"));
		} else if (rt->flags & RT_DEVICE) {
			/* a device's report: 200 once on disk; OwnTracks gets a JSON array of messages */
			json_object_set_new(resp, "200", str_eq(rt->pattern, "/ingest/owntracks")
				? json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "Stored; messages for the app",
					    "content", "application/json", "schema", "type", "array")
				: json_pack("{s:s}", "description", "Stored (on disk)"));
		} else if (strstr(rt->pattern, "/history")) {
			json_object_set_new(resp, "200", json_pack(
				"{s:s,s:{s:{s:{s:s,s:s}},s:{s:{s:s}},s:{s:{s:s}},s:{s:{s:s}}}}", "description",
				"The positions, oldest first, by ?format",
				"content", "application/geo+json", "schema", "type", "object", "description",
				"GeoJSON FeatureCollection of Points with time and the report's values",
				"text/csv", "schema", "type", "string", "application/gpx+xml", "schema", "type", "string",
				"application/vnd.google-earth.kml+xml", "schema", "type", "string"));
		} else if (str_eq(rt->method, "DELETE")) {
			json_object_set_new(resp, "204", json_pack("{s:s}", "description", "Deleted"));
		} else {
			const char *code = str_eq(rt->method, "POST") && rt->action == ACT_CREATE ? "201" : "200";
			json_object_set_new(resp, code, json_pack("{s:s,s:{s:{s:O}}}", "description", "OK", "content",
								  "application/json", "schema", body_schema));
		}
		json_decref(body_schema);
		json_object_set_new(resp, "default", json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "Problem",
							      "content", "application/problem+json", "schema",
							      "$ref", "#/components/schemas/Problem"));
		json_object_set_new(item, method, op);
		free(method);
		free(sn);
		free(ref);
	}
	return doc;
}
