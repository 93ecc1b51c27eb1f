/* The registry's resources as data: organisations, users, API keys, people,
 * sites, vehicles, devices. See resource.h for the flags. */
#include "registry/resource.h"

#include "core/clock.h"
#include "core/err.h"
#include "alarms/alarms.h"
#include "events/events.h"
#include "core/util.h"
#include "ingest/protocols.h"
#include "sharing/sharing.h"
#include "store/db.h"

#include <math.h>
#include <string.h>

static const char *const org_kinds[] = {"employer", "host_security", "other", NULL};
static const char *const person_kinds[] = {"staff", "escort", "contractor", "visitor", NULL};
static const char *const person_status[] = {"in_country", "on_leave", "departed", NULL};
static const char *const site_kinds[] = {"project_site", "camp", "office", "airport", "hotel", "other", NULL};
static const char *const device_kinds[] = {"phone", "tracker", "vehicle_unit", NULL};
static const char *const key_roles[] = {"security_manager", "duty_officer", "liaison", "viewer", NULL};

static const struct field org_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 120, 0, 0, NULL, NULL, "organisation name, unique in the installation"},
	{"kind", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, org_kinds, NULL, "employer, host_security or other"},
	{"is_root", NULL, FT_BOOL, FF_READONLY, 0, 0, 0, NULL, NULL, "the installation's first organisation"},
};

static const struct field user_fields[] = {
	{"username", NULL, FT_USERNAME, FF_REQUIRED | FF_IMMUTABLE, 64, 0, 0, NULL, NULL, "login name: 3-64 of a-z 0-9 . _ -"},
	{"display_name", NULL, FT_NAME, 0, 120, 0, 0, NULL, NULL, "name shown in the console"},
	{"role", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, role_names, NULL, "admin, security_manager, duty_officer, liaison, viewer or person"},
	{"person_id", NULL, FT_REF, FF_FILTER, 0, 0, 0, NULL, "people", "the protected person this account belongs to (role person)"},
	{"password", "password_hash", FT_PASSWORD, FF_REQUIRED | FF_HIDDEN, 0, 0, 0, NULL, NULL, "write-only; 12 to 1024 characters; stored as argon2id"},
	{"disabled", NULL, FT_BOOL, FF_FILTER, 0, 0, 0, NULL, NULL, "a disabled account cannot log in and its sessions end at once"},
};

static const struct field api_key_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 120, 0, 0, NULL, NULL, "what the key is for"},
	{"role", NULL, FT_ENUM, FF_REQUIRED | FF_IMMUTABLE | FF_FILTER, 0, 0, 0, key_roles, NULL, "role the key acts with"},
	{"key_hash", NULL, FT_TEXT, FF_READONLY | FF_HIDDEN, 64, 0, 0, NULL, NULL, "SHA-256 of the key"},
	{"revoked", NULL, FT_BOOL, FF_FILTER, 0, 0, 0, NULL, NULL, "a revoked key opens nothing"},
};

static const struct field person_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED | FF_PRIVATE, 160, 0, 0, NULL, NULL, "full name"},
	{"kind", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, person_kinds, NULL, "staff, escort, contractor or visitor"},
	{"job", NULL, FT_NAME, FF_FILTER, 120, 0, 0, NULL, NULL, "job title"},
	{"nationality", NULL, FT_NAME, FF_FILTER, 60, 0, 0, NULL, NULL, "nationality (free text or ISO 3166 code)"},
	{"phone", NULL, FT_PHONE, FF_PRIVATE, 32, 0, 0, NULL, NULL, "phone number"},
	{"email", NULL, FT_EMAIL, FF_PRIVATE, 254, 0, 0, NULL, NULL, "email address"},
	{"emergency_contact", NULL, FT_TEXT, FF_PRIVATE, 300, 0, 0, NULL, NULL, "who to call, and how"},
	{"home_site_id", NULL, FT_REF, FF_FILTER, 0, 0, 0, NULL, "sites", "the site the person lives or works at"},
	{"status", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, person_status, NULL, "in_country, on_leave or departed"},
	{"notes", NULL, FT_TEXT, FF_PRIVATE, 2000, 0, 0, NULL, NULL, "free-text notes"},
};

static const struct field site_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 160, 0, 0, NULL, NULL, "site name"},
	{"kind", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, site_kinds, NULL, "project_site, camp, office, airport, hotel or other"},
	{"geometry", NULL, FT_GEOMETRY, FF_REQUIRED, 0, 0, 0, NULL, NULL, "GeoJSON Point (with radius_m), Polygon or MultiPolygon"},
	{"radius_m", NULL, FT_REAL, 0, 0, 1, 100000, NULL, NULL, "radius around a Point, metres"},
	{"address", NULL, FT_TEXT, FF_PRIVATE, 300, 0, 0, NULL, NULL, "postal address"},
	{"notes", NULL, FT_TEXT, FF_PRIVATE, 2000, 0, 0, NULL, NULL, "free-text notes"},
	{"min_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"min_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
	{"max_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"max_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
};

static const struct field vehicle_fields[] = {
	{"registration", NULL, FT_NAME, FF_REQUIRED | FF_FILTER, 32, 0, 0, NULL, NULL, "number plate, unique in the organisation"},
	{"make_model", NULL, FT_NAME, 0, 120, 0, 0, NULL, NULL, "make and model"},
	{"colour", NULL, FT_NAME, 0, 40, 0, 0, NULL, NULL, "colour"},
	{"armoured", NULL, FT_BOOL, FF_FILTER, 0, 0, 0, NULL, NULL, "armoured (B6/B7) vehicle"},
	{"seats", NULL, FT_INT, 0, 0, 1, 100, NULL, NULL, "passenger seats"},
	{"notes", NULL, FT_TEXT, FF_PRIVATE, 2000, 0, 0, NULL, NULL, "free-text notes"},
};

static const struct field device_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 120, 0, 0, NULL, NULL, "label, e.g. the phone's owner"},
	{"kind", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, device_kinds, NULL, "phone, tracker or vehicle_unit"},
	{"protocol", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, protocol_names, NULL, "the device protocol it reports with: osmand (Traccar Client) or owntracks"},
	{"person_id", NULL, FT_REF, FF_FILTER, 0, 0, 0, NULL, "people", "the person carrying it"},
	{"vehicle_id", NULL, FT_REF, FF_FILTER, 0, 0, 0, NULL, "vehicles", "the vehicle it is fitted to"},
	{"key_hash", NULL, FT_TEXT, FF_READONLY | FF_HIDDEN, 64, 0, 0, NULL, NULL, "SHA-256 of the device key"},
	{"notes", NULL, FT_TEXT, FF_PRIVATE, 2000, 0, 0, NULL, NULL, "free-text notes"},
};

static const struct field zone_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 160, 0, 0, NULL, NULL, "zone name"},
	{"level", NULL, FT_INT, FF_REQUIRED | FF_FILTER, 0, 1, 6, NULL, NULL, "1 minimal, 2 low, 3 moderate, 4 substantial, 5 high, 6 extreme"},
	{"reason", NULL, FT_TEXT, FF_PRIVATE, 2000, 0, 0, NULL, NULL, "why the zone has this level"},
	{"geometry", NULL, FT_GEOMETRY, FF_REQUIRED, 0, 0, 0, NULL, NULL, "GeoJSON Polygon (holes allowed), MultiPolygon, or Point with radius_m"},
	{"radius_m", NULL, FT_REAL, 0, 0, 1, 1000000, NULL, NULL, "radius around a Point, metres"},
	{"valid_from", NULL, FT_TIME, 0, 0, 0, 0, NULL, NULL, "in force from (null: always was)"},
	{"valid_to", NULL, FT_TIME, 0, 0, 0, 0, NULL, NULL, "in force until, exclusive (null: until retired)"},
	{"retired", NULL, FT_BOOL, FF_FILTER, 0, 0, 0, NULL, NULL, "a retired zone tags nothing"},
	{"min_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"min_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
	{"max_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"max_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
};

static const char *const incident_types[] = {"explosive_device", "vehicle_borne_device", "armed_attack", "kidnapping",
					     "protest", "road_closure", "crime", "accident", "threat_report", "other", NULL};
static const char *const cap_severities[] = {"extreme", "severe", "moderate", "minor", "unknown", NULL};
static const char *const confidences[] = {"confirmed", "probable", "possible", "unconfirmed", NULL};
static const char *const incident_states[] = {"open", "closed", NULL};

static const struct field incident_fields[] = {
	{"type", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, incident_types, NULL, "explosive_device, vehicle_borne_device, armed_attack, kidnapping, protest, road_closure, crime, accident, threat_report or other"},
	{"time", NULL, FT_TIME, FF_REQUIRED, 0, 0, 0, NULL, NULL, "when it happened (or was reported)"},
	{"geometry", NULL, FT_GEOMETRY, FF_REQUIRED, 0, 0, 0, NULL, NULL, "area of effect: GeoJSON Point with radius_m, or Polygon"},
	{"radius_m", NULL, FT_REAL, 0, 0, 1, 1000000, NULL, NULL, "radius of effect around a Point, metres"},
	{"severity", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, cap_severities, NULL, "CAP severity: extreme, severe, moderate, minor or unknown"},
	{"casualties", NULL, FT_INT, 0, 0, 0, 1000000, NULL, NULL, "people killed or injured, as known"},
	{"source", NULL, FT_NAME, FF_PRIVATE, 300, 0, 0, NULL, NULL, "who reported it"},
	{"confidence", NULL, FT_ENUM, FF_REQUIRED | FF_FILTER, 0, 0, 0, confidences, NULL, "confirmed, probable, possible or unconfirmed"},
	{"notes", NULL, FT_TEXT, FF_PRIVATE, 4000, 0, 0, NULL, NULL, "the owner's notes"},
	{"status", NULL, FT_ENUM, FF_FILTER, 0, 0, 0, incident_states, NULL, "open (default) or closed"},
	{"exercise", NULL, FT_BOOL, FF_FILTER | FF_IMMUTABLE, 0, 0, 0, NULL, NULL, "an exercise, never counted with real incidents (set on create only)"},
	{"min_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"min_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
	{"max_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"max_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
};

/* Alarms (src/alarms/alarms.h): written by the server only, every member
 * read-only here; the routes are the list and the read, and the actions of
 * src/http/api/alarms.c. */
static const char *const alarm_states[] = {"open", "acknowledged", "resolved", NULL};
static const char *const alarm_levels[] = {"duty_officers", "security_manager", "partner_duty_officers", NULL};

static const struct field alarm_fields[] = {
	{"owner_org", NULL, FT_TEXT, FF_READONLY | FF_FILTER, 64, 0, 0, NULL, NULL, "the operations centre that owns it (a partner's after a hand-over)"},
	{"person_id", NULL, FT_REF, FF_READONLY | FF_FILTER, 0, 0, 0, NULL, "people", "the person in danger (a pseudonym at summary)"},
	{"device_id", NULL, FT_REF, FF_READONLY | FF_PRIVATE, 0, 0, 0, NULL, "devices", "the device that raised it, if one did"},
	{"cause", NULL, FT_ENUM, FF_READONLY | FF_FILTER, 0, 0, 0, alarm_causes, NULL, "sos, duress, need_help, or a device alarm Traccar knows (fallDown, accident, ...)"},
	{"device_alarm", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 64, 0, 0, NULL, NULL, "the alarm value as the device sent it"},
	{"priority", NULL, FT_INT, FF_READONLY | FF_FILTER, 0, 1, 3, NULL, NULL, "1 (duress) highest, 2 (a person in danger), 3 (a device condition)"},
	{"state", NULL, FT_ENUM, FF_READONLY | FF_FILTER, 0, 0, 0, alarm_states, NULL, "open, acknowledged or resolved"},
	{"exercise", NULL, FT_BOOL, FF_READONLY | FF_FILTER, 0, 0, 0, NULL, NULL, "an exercise, never counted with real alarms"},
	{"lat", NULL, FT_REAL, FF_READONLY | FF_PRIVATE, 0, -90, 90, NULL, NULL, "where the person was when it opened"},
	{"lon", NULL, FT_REAL, FF_READONLY | FF_PRIVATE, 0, -180, 180, NULL, NULL, "where the person was when it opened"},
	{"position_time", NULL, FT_TIME, FF_READONLY | FF_PRIVATE, 0, 0, 0, NULL, NULL, "the time of that position"},
	{"note", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 2000, 0, 0, NULL, NULL, "what the person or operator said when raising it"},
	{"opened_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when it opened"},
	{"opened_by", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 64, 0, 0, NULL, NULL, "the user, API key or device that raised it"},
	{"acknowledged_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when an operator took it"},
	{"acknowledged_by", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 64, 0, 0, NULL, NULL, "who took it"},
	{"resolved_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when it was resolved"},
	{"resolved_by", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 64, 0, 0, NULL, NULL, "who resolved it"},
	{"outcome", NULL, FT_ENUM, FF_READONLY | FF_FILTER, 0, 0, 0, alarm_outcomes, NULL, "false_alarm, assisted, escalated_to_authorities or other"},
	{"resolution", NULL, FT_TEXT, FF_READONLY | FF_PRIVATE, 2000, 0, 0, NULL, NULL, "the resolving operator's note"},
	{"escalation", NULL, FT_ENUM, FF_READONLY, 0, 0, 0, alarm_levels, NULL, "who is being called: duty_officers, security_manager, partner_duty_officers"},
	{"escalate_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when it escalates next unless acknowledged (null: no further step)"},
	{"escalate_at_ms", NULL, FT_INT, FF_READONLY | FF_HIDDEN, 0, 0, 9e15, NULL, NULL, NULL},
	{"handed_over_from", NULL, FT_TEXT, FF_READONLY, 64, 0, 0, NULL, NULL, "the centre that handed it over, if any"},
};

/* Alerts (issue 14): CAP 1.2's own values, spelled as CAP spells them. */
static const char *const cap_statuses[] = {"Actual", "Exercise", NULL};
static const char *const cap_msg_types[] = {"Alert", "Update", "Cancel", NULL};
static const char *const cap_scopes[] = {"Restricted", "Private", NULL};
static const char *const cap_urgencies[] = {"Immediate", "Expected", "Future", "Past", "Unknown", NULL};
static const char *const cap_severity_names[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown", NULL};
static const char *const cap_certainties[] = {"Observed", "Likely", "Possible", "Unlikely", "Unknown", NULL};

static const struct field alert_fields[] = {
	{"status", NULL, FT_ENUM, FF_FILTER | FF_IMMUTABLE, 0, 0, 0, cap_statuses, NULL, "Actual (default) or Exercise: an exercise is marked everywhere and never counted"},
	{"msg_type", NULL, FT_ENUM, FF_FILTER | FF_IMMUTABLE, 0, 0, 0, cap_msg_types, NULL, "Alert (default), Update or Cancel (these two name references_id)"},
	{"references_id", NULL, FT_REF, FF_IMMUTABLE, 0, 0, 0, NULL, "alerts", "the alert an Update or Cancel is about"},
	{"scope", NULL, FT_ENUM, FF_IMMUTABLE, 0, 0, 0, cap_scopes, NULL, "Restricted (default: the organisation's people) or Private (named people only)"},
	{"event", NULL, FT_NAME, FF_REQUIRED | FF_IMMUTABLE, 120, 0, 0, NULL, NULL, "what happened, e.g. Car bomb"},
	{"urgency", NULL, FT_ENUM, FF_REQUIRED | FF_IMMUTABLE, 0, 0, 0, cap_urgencies, NULL, "CAP urgency"},
	{"severity", NULL, FT_ENUM, FF_REQUIRED | FF_IMMUTABLE, 0, 0, 0, cap_severity_names, NULL, "CAP severity"},
	{"certainty", NULL, FT_ENUM, FF_REQUIRED | FF_IMMUTABLE, 0, 0, 0, cap_certainties, NULL, "CAP certainty"},
	{"headline", NULL, FT_NAME, FF_REQUIRED | FF_IMMUTABLE, 160, 0, 0, NULL, NULL, "one line for the phone's screen"},
	{"description", NULL, FT_TEXT, FF_IMMUTABLE, 4000, 0, 0, NULL, NULL, "what is known"},
	{"instruction", NULL, FT_TEXT, FF_IMMUTABLE, 4000, 0, 0, NULL, NULL, "what to do"},
	{"area_desc", NULL, FT_NAME, FF_IMMUTABLE, 200, 0, 0, NULL, NULL, "the area in words (CAP areaDesc)"},
	{"geometry", NULL, FT_GEOMETRY, FF_IMMUTABLE, 0, 0, 0, NULL, NULL, "the area: a Point with radius_m, or a Polygon"},
	{"radius_m", NULL, FT_REAL, FF_IMMUTABLE, 0, 1, 1000000, NULL, NULL, "radius around a Point, metres"},
	{"incident_id", NULL, FT_REF, FF_IMMUTABLE | FF_FILTER, 0, 0, 0, NULL, "incidents", "an incident whose area of effect is the alert's area"},
	{"person_ids", NULL, FT_TEXT, FF_READONLY | FF_HIDDEN, 100000, 0, 0, NULL, NULL, NULL},
	{"site_ids", NULL, FT_TEXT, FF_READONLY | FF_HIDDEN, 100000, 0, 0, NULL, NULL, NULL},
	{"relayed_from", NULL, FT_TEXT, FF_READONLY, 64, 0, 0, NULL, NULL, "the partner's alert this one relays"},
	{"recipients", NULL, FT_INT, FF_READONLY, 0, 0, 1e9, NULL, NULL, "how many people it was sent to"},
	{"min_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"min_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
	{"max_lon", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -180, 180, NULL, NULL, NULL},
	{"max_lat", NULL, FT_REAL, FF_READONLY | FF_HIDDEN, 0, -90, 90, NULL, NULL, NULL},
	{"sent_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when it was sent"},
};

/* Delivery channels of an organisation (issue 14), configured by its admins.
 * Credentials of an SMS gateway or SMTP server come from the configuration
 * (delivery.*), never from here; a webhook's key is write-only. */
static const char *const channel_kinds[] = {"webhook", "email", "sms", NULL};
static const char *const webhook_formats[] = {"json", "cap", NULL};
static const char *const http_methods[] = {"POST", "PUT", "GET", NULL};

static const struct field channel_fields[] = {
	{"name", NULL, FT_NAME, FF_REQUIRED, 100, 0, 0, NULL, NULL, "what the channel is, e.g. Ops webhook"},
	{"kind", NULL, FT_ENUM, FF_REQUIRED | FF_IMMUTABLE | FF_FILTER, 0, 0, 0, channel_kinds, NULL, "webhook, email (SMTP) or sms (an HTTP gateway)"},
	{"url", NULL, FT_TEXT, FF_REQUIRED, 2000, 0, 0, NULL, NULL, "webhook and SMS gateway: http(s) URL ({to} and the other placeholders allowed for SMS); email: smtp:// or smtps:// server"},
	{"format", NULL, FT_ENUM, 0, 0, 0, 0, webhook_formats, NULL, "webhook body: json (default) or cap (CAP 1.2 XML)"},
	{"secret", NULL, FT_TEXT, FF_HIDDEN | FF_WRITEONLY, 256, 0, 0, NULL, NULL, "webhook: the HMAC-SHA256 key of X-Safeguard-Signature, 16 to 256 characters; write-only"},
	{"method", NULL, FT_ENUM, 0, 0, 0, 0, http_methods, NULL, "SMS gateway: the request's method (POST)"},
	{"body_template", NULL, FT_TEXT, 0, 2000, 0, 0, NULL, NULL, "SMS gateway: the body, with {to} {text} {alert_id} {recipient_id} {delivery_id} replaced (escaped for the content type)"},
	{"content_type", NULL, FT_TEXT, 0, 100, 0, 0, NULL, NULL, "SMS gateway: the body's Content-Type (application/x-www-form-urlencoded)"},
	{"mail_from", NULL, FT_EMAIL, 0, 254, 0, 0, NULL, NULL, "email: the sender's address"},
	{"enabled", NULL, FT_BOOL, FF_FILTER, 0, 0, 0, NULL, NULL, "false: no new deliveries through it"},
};

/* Roll-calls (issue 14): asked through an alert, answered per person
 * (rollcall_people); the record changes only by audited steps. */
static const char *const rollcall_states[] = {"open", "closed", NULL};

static const struct field rollcall_fields[] = {
	{"title", NULL, FT_NAME, FF_REQUIRED | FF_IMMUTABLE, 160, 0, 0, NULL, NULL, "what is asked about, e.g. Car bomb at the airport exit"},
	{"alert_id", NULL, FT_REF, FF_READONLY | FF_FILTER, 0, 0, 0, NULL, "alerts", "the alert whose recipients are asked"},
	{"status", NULL, FT_ENUM, FF_READONLY | FF_FILTER, 0, 0, 0, cap_statuses, NULL, "Actual or Exercise (the alert's): an exercise is marked everywhere and counted apart"},
	{"state", NULL, FT_ENUM, FF_READONLY | FF_FILTER, 0, 0, 0, rollcall_states, NULL, "open or closed"},
	{"waves", NULL, FT_INT, FF_IMMUTABLE, 0, 1, 10, NULL, NULL, "how many times the silent are asked (3) before each becomes an alarm"},
	{"wave", NULL, FT_INT, FF_READONLY, 0, 0, 10, NULL, NULL, "the wave asked last"},
	{"wave_interval_s", NULL, FT_INT, FF_IMMUTABLE, 0, 30, 86400, NULL, NULL, "seconds between two waves (600)"},
	{"next_wave_ms", NULL, FT_INT, FF_READONLY | FF_HIDDEN, 0, 0, 9e15, NULL, NULL, NULL},
	{"escalated", NULL, FT_INT, FF_READONLY, 0, 0, 1, NULL, NULL, "1 once the silent became alarms"},
	{"token_key", NULL, FT_TEXT, FF_READONLY | FF_HIDDEN, 64, 0, 0, NULL, NULL, NULL},
	{"started_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when the first wave went out"},
	{"closed_at", NULL, FT_TIME, FF_READONLY, 0, 0, 0, NULL, NULL, "when it was closed"},
};

static bool url_scheme(const char *u, const char *const *schemes)
{
	for (; *schemes; schemes++)
		if (u && !strncmp(u, *schemes, strlen(*schemes)) && u[strlen(*schemes)])
			return true;
	return false;
}

static int channel_check(json_t *rec, struct verr *e)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *url = json_string_value(json_object_get(rec, "url"));
	static const char *const http[] = {"http://", "https://", NULL}, *const smtp[] = {"smtp://", "smtps://", NULL};
	if (!url_scheme(url, str_eq(kind, "email") ? smtp : http)) {
		verr_set(e, 400, "/url", str_eq(kind, "email") ? "an email channel's url is smtp://host[:port] or smtps://host[:port]"
							    : "a %s channel's url is an http:// or https:// URL", kind);
		return SG_EINVAL;
	}
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			verr_set(e, 400, "/url", "the url holds a space or a control character");
			return SG_EINVAL;
		}
	const char *secret = json_string_value(json_object_get(rec, "secret"));
	if (str_eq(kind, "webhook") && (!secret || strlen(secret) < 16)) {
		verr_set(e, 400, "/secret", "a webhook needs a secret of at least 16 characters (it signs every body)");
		return SG_EINVAL;
	}
	static const struct { const char *member, *kind; } only[] = {
		{"format", "webhook"}, {"secret", "webhook"}, {"method", "sms"}, {"body_template", "sms"},
		{"content_type", "sms"}, {"mail_from", "email"}};
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		json_t *v = json_object_get(rec, only[i].member);
		if (v && !json_is_null(v) && !str_eq(kind, only[i].kind)) {
			char ptr[32];
			snprintf(ptr, sizeof(ptr), "/%s", only[i].member);
			verr_set(e, 400, ptr, "%s is only for a %s channel", only[i].member, only[i].kind);
			return SG_EINVAL;
		}
	}
	if (str_eq(kind, "email") && !json_string_value(json_object_get(rec, "mail_from"))) {
		verr_set(e, 400, "/mail_from", "an email channel needs mail_from");
		return SG_EINVAL;
	}
	if (!json_object_get(rec, "enabled") || json_is_null(json_object_get(rec, "enabled")))
		json_object_set_new(rec, "enabled", json_true());
	return 0;
}

/* A site is a point with a radius or a polygon; its bounding box columns are
 * derived here (the spatial index of later issues reads them). */
static int site_check(json_t *rec, struct verr *e)
{
	const json_t *g = json_object_get(rec, "geometry");
	const char *type = json_string_value(json_object_get(g, "type"));
	json_t *r = json_object_get(rec, "radius_m");
	bool has_radius = r && !json_is_null(r);
	if (str_eq(type, "Point") && !has_radius) {
		verr_set(e, 400, "/radius_m", "radius_m is required when geometry is a Point");
		return SG_EINVAL;
	}
	if (!str_eq(type, "Point") && has_radius) {
		verr_set(e, 400, "/radius_m", "radius_m is only for a Point geometry");
		return SG_EINVAL;
	}
	double min_lon = 180, min_lat = 90, max_lon = -180, max_lat = -90;
	/* Walk every position (depth-first over nested arrays). */
	const json_t *stack[8];
	size_t idx[8];
	int sp = 0;
	stack[0] = json_object_get(g, "coordinates");
	idx[0] = 0;
	if (json_is_number(json_array_get(stack[0], 0))) {
		min_lon = max_lon = json_number_value(json_array_get(stack[0], 0));
		min_lat = max_lat = json_number_value(json_array_get(stack[0], 1));
		sp = -1;
	}
	while (sp >= 0) {
		const json_t *a = stack[sp];
		if (idx[sp] >= json_array_size(a)) {
			sp--;
			continue;
		}
		const json_t *c = json_array_get(a, idx[sp]++);
		if (json_is_number(json_array_get(c, 0))) {
			double lon = json_number_value(json_array_get(c, 0));
			double lat = json_number_value(json_array_get(c, 1));
			min_lon = fmin(min_lon, lon), max_lon = fmax(max_lon, lon);
			min_lat = fmin(min_lat, lat), max_lat = fmax(max_lat, lat);
		} else if (sp + 1 < 8) {
			stack[++sp] = c;
			idx[sp] = 0;
		}
	}
	if (has_radius) {
		double rm = json_number_value(r);
		double dlat = rm / 111320.0;
		double dlon = rm / (111320.0 * fmax(cos(min_lat * M_PI / 180.0), 0.01));
		min_lat = fmax(-90, min_lat - dlat), max_lat = fmin(90, max_lat + dlat);
		min_lon = fmax(-180, min_lon - dlon), max_lon = fmin(180, max_lon + dlon);
	}
	json_object_set_new(rec, "min_lon", json_real(min_lon));
	json_object_set_new(rec, "min_lat", json_real(min_lat));
	json_object_set_new(rec, "max_lon", json_real(max_lon));
	json_object_set_new(rec, "max_lat", json_real(max_lat));
	return 0;
}

static int zone_check(json_t *rec, struct verr *e)
{
	const char *from = json_string_value(json_object_get(rec, "valid_from"));
	const char *to = json_string_value(json_object_get(rec, "valid_to"));
	if (from && to && strcmp(from, to) >= 0) {
		verr_set(e, 400, "/valid_to", "valid_to must be later than valid_from");
		return SG_EINVAL;
	}
	return site_check(rec, e);
}

/* An area of effect: a Point with its radius or a Polygon, with its box. */
static int incident_check_area(json_t *rec, struct verr *e)
{
	const char *type = json_string_value(json_object_get(json_object_get(rec, "geometry"), "type"));
	if (!str_eq(type, "Point") && !str_eq(type, "Polygon")) {
		verr_set(e, 400, "/geometry", "an area is a Point with radius_m or a Polygon");
		return SG_EINVAL;
	}
	return site_check(rec, e);
}

/* An incident's area is a Point with its radius or a Polygon; a new one is
 * open and real unless it says otherwise. */
static int incident_check(json_t *rec, struct verr *e)
{
	const char *type = json_string_value(json_object_get(json_object_get(rec, "geometry"), "type"));
	if (!str_eq(type, "Point") && !str_eq(type, "Polygon")) {
		verr_set(e, 400, "/geometry", "an incident's area is a Point with radius_m or a Polygon");
		return SG_EINVAL;
	}
	if (!json_is_string(json_object_get(rec, "status")))
		json_object_set_new(rec, "status", json_string("open"));
	if (!json_is_boolean(json_object_get(rec, "exercise")))
		json_object_set_new(rec, "exercise", json_false());
	return site_check(rec, e);
}

/* An alert: CAP defaults; an Update or Cancel references the alert it is
 * about, an Alert references nothing; its area, if any, as for a site. */
static int alert_check(json_t *rec, struct verr *e)
{
	static const struct { const char *k, *v; } dflt[] = {{"status", "Actual"}, {"msg_type", "Alert"}, {"scope", "Restricted"}};
	for (size_t i = 0; i < ARRAY_LEN(dflt); i++)
		if (!json_is_string(json_object_get(rec, dflt[i].k)))
			json_object_set_new(rec, dflt[i].k, json_string(dflt[i].v));
	bool alert = str_eq(json_string_value(json_object_get(rec, "msg_type")), "Alert");
	json_t *ref = json_object_get(rec, "references_id");
	if (alert == (ref && !json_is_null(ref))) {
		verr_set(e, 400, "/references_id", alert ? "an Alert references nothing: an Update or Cancel does"
							 : "an Update or Cancel names the alert it is about (references_id)");
		return SG_EINVAL;
	}
	json_t *g = json_object_get(rec, "geometry");
	if (!g || json_is_null(g)) {
		json_t *r = json_object_get(rec, "radius_m");
		if (r && !json_is_null(r)) {
			verr_set(e, 400, "/radius_m", "radius_m is only for a Point geometry");
			return SG_EINVAL;
		}
		return 0;
	}
	return incident_check_area(rec, e);
}

static int user_check(json_t *rec, struct verr *e)
{
	const char *role = json_string_value(json_object_get(rec, "role"));
	json_t *p = json_object_get(rec, "person_id");
	bool has_person = p && !json_is_null(p);
	if (str_eq(role, "person") && !has_person) {
		verr_set(e, 400, "/person_id", "an account with role person must name its person_id");
		return SG_EINVAL;
	}
	return 0;
}

/* A device is carried by a person or fitted to a vehicle, not both. */
static int device_check(json_t *rec, struct verr *e)
{
	json_t *p = json_object_get(rec, "person_id"), *v = json_object_get(rec, "vehicle_id");
	if (p && !json_is_null(p) && v && !json_is_null(v)) {
		verr_set(e, 400, "/vehicle_id", "a device is bound to a person or to a vehicle, not both");
		return SG_EINVAL;
	}
	return 0;
}

/* A new person gets a pseudonym for every partner of their organisation. */
static int person_inserted(struct db *db, const json_t *rec)
{
	return sharing_pseudonyms_for_person(db, json_string_value(json_object_get(rec, "id")),
					     json_string_value(json_object_get(rec, "org_id")));
}

/* A new or reset password, and disabling, end the user's sessions (and so
 * their streams) at once, all but the one that changed its own password. */
static int user_updated(struct db *db, const char *id, const json_t *changes, const struct write_ctx *w)
{
	const json_t *dis = json_object_get(json_object_get(changes, "disabled"), "to");
	if (!json_object_get(changes, "password") && !json_is_true(dis))
		return 0;
	struct db_stmt *st;
	if (db_prepare(db, "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, json_is_true(dis) ? NULL : w->keep_session);
	return db_run(st);
}

#define FIELDS(f) .fields = f, .nfields = ARRAY_LEN(f)

static struct resource res_incidents;

/* An incident is an event on the stream, in the transaction that stores it:
 * the record as its own organisation and full partners see it (summary
 * readers never get stream events), then each change. */
static int incident_inserted(struct db *db, const json_t *rec)
{
	json_t *body = resource_public(&res_incidents, rec, VIEW_FULL);
	int rc = events_append(db, json_string_value(json_object_get(rec, "org_id")), "incidents", "incident", body,
			       clock_now_ms());
	json_decref(body);
	return rc;
}

static int incident_updated(struct db *db, const char *id, const json_t *changes, const struct write_ctx *w)
{
	struct db_stmt *st;
	if (db_prepare(db, "SELECT org_id FROM incidents WHERE id = ?1", &st))
		return SG_EIO;
	db_bind_text(st, 1, id);
	int rc = db_step(st);
	char org[64] = "";
	if (rc == DB_ROW)
		sg_strlcpy(org, db_col_text(st, 0) ? db_col_text(st, 0) : "", sizeof(org));
	db_reset(st);
	if (rc != DB_ROW)
		return SG_EIO;
	json_t *body = json_pack("{s:s,s:s,s:O}", "id", id, "org_id", org, "changes", changes);
	rc = events_append(db, org, "incidents", "incident_changed", body, w->now_ms);
	json_decref(body);
	return rc;
}

static struct resource res_organisations = {
	.name = "organisations", .type = "organisation", .table = "organisations", .id_prefix = "org",
	FIELDS(org_fields), .one = "an organisation", .many = "organisations", .read_roles = ROLES_ALL, .write_roles = ROLE_BIT(ROLE_ADMIN),
	.category = CAT_NONE, .routes = RES_LIST | RES_READ | RES_UPDATE /* created with its admin */};
static struct resource res_users = {
	.name = "users", .type = "user", .table = "users", .id_prefix = "usr", FIELDS(user_fields),
	.check = user_check, .after_update = user_updated, .one = "a user", .many = "users", .read_roles = ROLE_BIT(ROLE_ADMIN),
	.write_roles = ROLE_BIT(ROLE_ADMIN), .category = CAT_NONE, .routes = RES_CRUD};
static struct resource res_api_keys = {
	.name = "api_keys", .type = "api_key", .table = "api_keys", .id_prefix = "key", FIELDS(api_key_fields),
	.one = "an API key", .many = "API keys", .read_roles = ROLE_BIT(ROLE_ADMIN), .write_roles = ROLE_BIT(ROLE_ADMIN),
	.category = CAT_NONE, .routes = RES_CRUD & ~RES_CREATE /* the key is shown once */};
static struct resource res_people = {
	.name = "people", .type = "person", .table = "people", .id_prefix = "per", FIELDS(person_fields),
	.after_insert = person_inserted, .one = "a person", .many = "people", .read_roles = ROLES_STAFF,
	.write_roles = ROLES_MANAGERS, .self = true, .category = CAT_PEOPLE, .routes = RES_CRUD};
static struct resource res_sites = {
	.name = "sites", .type = "site", .table = "sites", .id_prefix = "sit", FIELDS(site_fields),
	.check = site_check, .one = "a site", .many = "sites", .read_roles = ROLES_ALL, .write_roles = ROLES_MANAGERS,
	.category = CAT_SITES, .routes = RES_CRUD};
static struct resource res_vehicles = {
	.name = "vehicles", .type = "vehicle", .table = "vehicles", .id_prefix = "veh", FIELDS(vehicle_fields),
	.one = "a vehicle", .many = "vehicles", .read_roles = ROLES_STAFF, .write_roles = ROLES_MANAGERS, .category = CAT_VEHICLES,
	.routes = RES_CRUD};
static struct resource res_zones = {
	.name = "zones", .type = "zone", .table = "zones", .id_prefix = "zon", FIELDS(zone_fields),
	.check = zone_check, .one = "a risk zone", .many = "risk zones", .read_roles = ROLES_ALL, .write_roles = ROLES_MANAGERS,
	.category = CAT_ZONES, .routes = RES_CRUD};
static struct resource res_devices = {
	.name = "devices", .type = "device", .table = "devices", .id_prefix = "dev", FIELDS(device_fields),
	.check = device_check, .one = "a device", .many = "devices", .read_roles = ROLES_STAFF, .write_roles = ROLES_MANAGERS,
	.category = CAT_NONE, .routes = RES_CRUD};

static struct resource res_incidents = {
	.name = "incidents", .type = "incident", .table = "incidents", .id_prefix = "inc", FIELDS(incident_fields),
	.check = incident_check, .after_insert = incident_inserted, .after_update = incident_updated,
	.one = "an incident", .many = "incidents", .read_roles = ROLES_STAFF, .write_roles = ROLES_OPERATORS,
	.category = CAT_INCIDENTS, .routes = RES_CRUD & ~RES_DELETE /* closed, never deleted */};

/* A duress alarm is decided under its own rule: duty officers and
 * security managers only, never the person or a viewer. */
static const char *alarm_rule(const json_t *rec)
{
	return str_eq(json_string_value(json_object_get(rec, "cause")), "duress") ? "alarms_duress" : "alarms";
}

static struct resource res_alarms = {
	.name = "alarms", .type = "alarm", .table = "alarms", .id_prefix = "alm", FIELDS(alarm_fields),
	.rule_of = alarm_rule, .extra_rule = &(const struct policy_rule){"alarms_duress",
		ROLE_BIT(ROLE_SECURITY_MANAGER) | ROLE_BIT(ROLE_DUTY_OFFICER), ROLE_BIT(ROLE_SECURITY_MANAGER) | ROLE_BIT(ROLE_DUTY_OFFICER),
		false, CAT_ALARMS},
	.one = "an alarm", .many = "alarms", .read_roles = ROLES_STAFF, .write_roles = ROLES_OPERATORS,
	.category = CAT_ALARMS, .routes = RES_LIST | RES_READ /* opened and moved on by their own routes */};

static struct resource res_alerts = {
	.name = "alerts", .type = "alert", .table = "alerts", .id_prefix = "alr", FIELDS(alert_fields),
	.check = alert_check, .one = "an alert", .many = "alerts", .read_roles = ROLES_STAFF, .write_roles = ROLES_OPERATORS,
	.category = CAT_ALERTS, .routes = RES_LIST /* sent, read and relayed by their own routes */};

static struct resource res_rollcalls = {
	.name = "rollcalls", .type = "rollcall", .table = "rollcalls", .id_prefix = "rcl", FIELDS(rollcall_fields),
	.one = "a roll-call", .many = "roll-calls", .read_roles = ROLES_STAFF, .write_roles = ROLES_OPERATORS,
	.category = CAT_ROLLCALLS, .routes = RES_LIST /* started, answered and closed by their own routes */};

static struct resource res_channels = {
	.name = "channels", .type = "channel", .table = "channels", .id_prefix = "chn", FIELDS(channel_fields),
	.check = channel_check, .one = "a delivery channel", .many = "delivery channels", .read_roles = ROLE_BIT(ROLE_ADMIN),
	.write_roles = ROLE_BIT(ROLE_ADMIN), .category = CAT_NONE, .routes = RES_CRUD};

const struct resource *const resources[] = {
	&res_organisations, &res_users, &res_api_keys, &res_people,
	&res_sites,         &res_vehicles, &res_devices, &res_zones, &res_incidents, &res_alarms, &res_alerts, &res_rollcalls, &res_channels, NULL,
};
