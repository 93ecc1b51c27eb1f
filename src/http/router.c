/* The route table and its matcher; see router.h. */
#include "http/router.h"

#include "http/api/api.h"
#include "http/stream.h"
#include "ingest/protocols.h"
#include "registry/resource.h"

#include <pthread.h>

#include <string.h>

static const struct route base_routes[] = {
	{"GET", "/healthz", api_healthz, NULL, ACT_READ, RT_PUBLIC | RT_NOAPI, "Liveness"},
	{"GET", "/readyz", api_readyz, NULL, ACT_READ, RT_PUBLIC | RT_NOAPI, "Readiness"},
	{"GET", "/metrics", api_metrics, NULL, ACT_READ, RT_PUBLIC | RT_NOAPI, "Prometheus metrics"},
	{"GET", "/api/v1/openapi.json", api_openapi, NULL, ACT_READ, RT_PUBLIC, "This API's OpenAPI 3.1 description"},
	{"GET", "/api/v1/incidents/{id}/exposure", api_incident_exposure, "incidents", ACT_READ, 0,
	 "Who and what lies in an incident's area: people by fresh position or home site, and sites (?fresh_s=)"},
	{"GET", "/api/v1/incidents/{id}/assessment", api_incident_assessment, "incidents", ACT_READ, 0,
	 "Your organisation's own assessment of an incident it sees (the owner's record unchanged)"},
	{"POST", "/api/v1/incidents/{id}/assessment", api_incident_assessment, "incidents", ACT_UPDATE, 0,
	 "Set your organisation's own severity, confidence and notes for an incident it sees"},
	{"GET", "/feeds/alerts.atom", api_alerts_feed, "alerts", ACT_LIST, 0,
	 "Atom feed of the current real alerts you may see, each linking to its CAP document"},
	{"POST", "/api/v1/alerts", api_alert_create, "alerts", ACT_CREATE, 0,
	 "Send an alert to your organisation's people in an area, of an incident, named or at named sites (?preview=true: the recipients only)"},
	{"GET", "/api/v1/alerts/{id}", api_alert_get, "alerts", ACT_READ, 0, "Read an alert (yours: with whom it named and reached)"},
	{"GET", "/api/v1/alerts/{id}/cap", api_alert_cap, "alerts", ACT_READ, 0, "The alert as a CAP 1.2 message (application/cap+xml)"},
	{"GET", "/api/v1/alerts/{id}/deliveries", api_alert_deliveries, "alerts", ACT_UPDATE, 0,
	 "Delivery state of your alert per recipient and channel, with counts (undeliverable listed; queued: not yet written by the fan-out)"},
	{"POST", "/api/v1/alerts/{id}/relay", api_alert_relay, "alerts", ACT_UPDATE, 0,
	 "Relay a partner's alert to your own people in the same area: a new alert of yours that names it (?preview=true)"},
	{"POST", "/api/v1/rollcalls", api_rollcall_create, "rollcalls", ACT_CREATE, 0,
	 "Start a roll-call: \"are you safe?\" to an alert's recipients, or to people and sites (through an alert of its own)"},
	{"GET", "/api/v1/rollcalls/{id}", api_rollcall_get, "rollcalls", ACT_READ, 0,
	 "Read a roll-call with its counts (and each person's answer, if shared in full)"},
	{"POST", "/api/v1/rollcalls/{id}/answers", api_rollcall_answer, "rollcall_answer", ACT_UPDATE, 0,
	 "Answer a roll-call: a person for themselves, an operator for someone with a reason"},
	{"POST", "/api/v1/rollcalls/{id}/close", api_rollcall_close, "rollcalls", ACT_UPDATE, 0,
	 "Close a roll-call: no more waves, the links die"},
	{"GET", "/api/v1/rollcalls/{id}/report", api_rollcall_report, "rollcalls", ACT_READ, RT_WORKER,
	 "Everyone asked with the answer or the last known position (?format=csv)"},
	{"POST", "/api/v1/answer/question", api_answer_question, NULL, ACT_READ, RT_PUBLIC,
	 "The question behind a one-time roll-call link (the token in the body)"},
	{"POST", "/api/v1/answer", api_answer_submit, NULL, ACT_UPDATE, RT_PUBLIC,
	 "Answer a roll-call with its one-time link's token (no login): safe or need_help"},
	{"POST", "/api/v1/alarms", api_alarm_create, "alarm_raise", ACT_CREATE, 0,
	 "Raise an alarm: a person for themselves, an operator for anyone they may see"},
	{"GET", "/api/v1/alarms/{id}", api_alarm_get, "alarms", ACT_READ, 0, "Read an alarm with its steps"},
	{"POST", "/api/v1/alarms/{id}/acknowledge", api_alarm_act, "alarms", ACT_UPDATE, 0,
	 "Acknowledge an alarm your centre owns (stops its escalation)"},
	{"POST", "/api/v1/alarms/{id}/handover", api_alarm_act, "alarms", ACT_UPDATE, 0,
	 "Hand an alarm your centre owns over to a partner's centre that sees the person's alarms in full"},
	{"POST", "/api/v1/alarms/{id}/resolve", api_alarm_act, "alarms", ACT_UPDATE, 0,
	 "Resolve an alarm your centre owns, with an outcome and a note"},
	{"POST", "/api/v1/alarms/{id}/comment", api_alarm_act, "alarms", ACT_UPDATE, 0,
	 "Add a comment to an alarm you see in full"},
	{"POST", "/api/v1/alarms/{id}/cancel", api_alarm_cancel, "alarms", ACT_UPDATE, RT_WORKER,
	 "Call off your own alarm (a person's account, with its password)"},

	{"POST", "/api/v1/session", api_session_create, NULL, ACT_CREATE, RT_PUBLIC, "Log in"},
	{"GET", "/api/v1/session", api_session_get, "session", ACT_READ, 0, "The current session and user"},
	{"DELETE", "/api/v1/session", api_session_delete, "session", ACT_DELETE, 0, "Log out"},
	{"POST", "/api/v1/session/password", api_session_password, "session", ACT_UPDATE, 0, "Change your own password (your other sessions end)"},
	{"POST", "/api/v1/session/duress_pin", api_session_duress, "session", ACT_UPDATE, RT_WORKER,
	 "Register your duress PIN (a protected person's account; your password proves it is you)"},

	{"POST", "/api/v1/organisations", api_org_create, "organisations", ACT_CREATE, 0, "Create an organisation with its first admin"},

	{"POST", "/api/v1/api_keys", api_key_create, "api_keys", ACT_CREATE, 0, "Create an API key (shown once)"},
	{"GET", "/api/v1/zones/at", api_zones_at, "zones", ACT_LIST, 0, "Risk zones and sites containing a point now"},
	{"POST", "/api/v1/devices/{id}/key", api_device_key, "devices", ACT_UPDATE, 0, "Issue a new device key (shown once; the old one stops working)"},
	{"GET", "/api/v1/devices/{id}/history", api_device_history, "devices", ACT_READ, RT_WORKER, "A device's positions between two times (GeoJSON, CSV, GPX or KML)"},
	{"GET", "/api/v1/stream", api_stream, "positions", ACT_LIST, 0, "Server-Sent Events: every event you may see as it happens (Last-Event-ID resumes; ?categories=positions,alarms,... only those)"},
	{"GET", "/api/v1/positions/latest", api_positions_latest, "positions", ACT_LIST, 0, "Latest positions near a point (radius or k nearest) or in a box"},
	{"POST", "/api/v1/positions/query", api_positions_query, "positions", ACT_LIST, 0, "Latest positions inside a GeoJSON polygon"},
	{"GET", "/api/v1/audit", api_audit_list, "audit", ACT_LIST, 0, "List the organisation's audit entries"},

	{"GET", "/api/v1/agreements", api_agreement_list, "agreements", ACT_LIST, 0, "List the sharing agreements your organisation is party to"},
	{"POST", "/api/v1/agreements", api_agreement_create, "agreements", ACT_CREATE, 0, "Propose an agreement to a partner, with your grants (you accept it by proposing)"},
	{"GET", "/api/v1/agreements/{id}", api_agreement_get, "agreements", ACT_READ, 0, "Read an agreement, its grants and its history"},
	{"PATCH", "/api/v1/agreements/{id}", api_agreement_update, "agreements", ACT_UPDATE, 0, "Replace your organisation's grants in an agreement"},
	{"POST", "/api/v1/agreements/{id}/accept", api_agreement_act, "agreements", ACT_UPDATE, 0, "Accept an agreement for your organisation"},
	{"POST", "/api/v1/agreements/{id}/suspend", api_agreement_act, "agreements", ACT_UPDATE, 0, "Suspend your organisation's grants at once"},
	{"POST", "/api/v1/agreements/{id}/resume", api_agreement_act, "agreements", ACT_UPDATE, 0, "Resume your organisation's suspended grants"},
	{"POST", "/api/v1/agreements/{id}/revoke", api_agreement_act, "agreements", ACT_UPDATE, 0, "Revoke your organisation's grants for good"},
};

/* The table: the device protocols' routes (src/ingest/protocols.c), then
 * the rest; built once, read-only after. */
static struct route *table;
static size_t table_n;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* The five routes a resource descriptor asks for (RES_*). */
static const struct crud {
	unsigned flag;
	const char *method, *suffix, *verb;
	route_fn fn;
	enum action action;
	bool many; /* the summary names the collection, not one record */
} crud[] = {
	{RES_LIST, "GET", "", "List", api_list, ACT_LIST, true},
	{RES_CREATE, "POST", "", "Create", api_create, ACT_CREATE, false},
	{RES_READ, "GET", "/{id}", "Read", api_get, ACT_READ, false},
	{RES_UPDATE, "PATCH", "/{id}", "Update", api_update, ACT_UPDATE, false},
	{RES_DELETE, "DELETE", "/{id}", "Delete", api_delete, ACT_DELETE, false},
};

static void build(void)
{
	size_t n = ARRAY_LEN(base_routes) + 5 * 32;
	for (size_t i = 0; i < protocols_count; i++)
		for (int m = 0; m < 3 && protocols[i].methods[m]; m++)
			n++;
	table = xcalloc(n, sizeof(*table));
	for (size_t i = 0; i < protocols_count; i++)
		for (int m = 0; m < 3 && protocols[i].methods[m]; m++)
			table[table_n++] = (struct route){protocols[i].methods[m], protocols[i].path, api_ingest, NULL,
							  ACT_CREATE, RT_PUBLIC | RT_DEVICE, protocols[i].summary};
	/* The hand-written ones first: /zones/at must match before /zones/{id}. */
	for (size_t i = 0; i < ARRAY_LEN(base_routes); i++)
		table[table_n++] = base_routes[i];
	/* Strings built here live as long as the process (the table is static). */
	for (int i = 0; resources[i] && table_n + 5 <= n; i++) {
		const struct resource *res = resources[i];
		for (size_t c = 0; c < ARRAY_LEN(crud); c++)
			if (res->routes & crud[c].flag)
				table[table_n++] = (struct route){
					crud[c].method, xasprintf("/api/v1/%s%s", res->name, crud[c].suffix), crud[c].fn,
					res->name, crud[c].action, 0,
					xasprintf("%s %s", crud[c].verb, crud[c].many ? res->many : res->one)};
	}
}

const struct route *router_table(size_t *n)
{
	pthread_once(&table_once, build);
	*n = table_n;
	return table;
}

/* Matches pattern against path segment by segment; {id} takes one segment. */
static bool match(const char *pattern, const char *path, char *param, size_t paramsz)
{
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			size_t n = se ? (size_t)(se - s) : strlen(s);
			if (n == 0 || n >= paramsz)
				return false;
			memcpy(param, s, n);
			param[n] = '\0';
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++, s++;
	}
	return !*p && !*s;
}

const struct route *router_match(const char *method, const char *path, char *param,
				 size_t paramsz, bool *path_known)
{
	size_t routes_count;
	const struct route *routes = router_table(&routes_count);
	*path_known = false;
	for (size_t i = 0; i < routes_count; i++) {
		char tmp[128] = "";
		if (!match(routes[i].pattern, path, tmp, sizeof(tmp)))
			continue;
		*path_known = true;
		/* HEAD is GET without the body (libmicrohttpd leaves it out) */
		if (str_eq(routes[i].method, method) || (str_eq(method, "HEAD") && str_eq(routes[i].method, "GET"))) {
			sg_strlcpy(param, tmp, paramsz);
			if (!strchr(routes[i].pattern, '{'))
				param[0] = '\0';
			return &routes[i];
		}
	}
	return NULL;
}

void router_allowed(const char *path, char *out, size_t outsz)
{
	size_t routes_count;
	const struct route *routes = router_table(&routes_count);
	struct sb sb;
	sb_init(&sb);
	for (size_t i = 0; i < routes_count; i++) {
		char tmp[128];
		if (!match(routes[i].pattern, path, tmp, sizeof(tmp)) || strstr(sb.buf, routes[i].method))
			continue;
		sb_addf(&sb, "%s%s", sb.len ? ", " : "", routes[i].method);
		if (str_eq(routes[i].method, "GET"))
			sb_adds(&sb, ", HEAD");
	}
	sg_strlcpy(out, sb.buf, outsz);
	sb_release(&sb);
}

json_t *router_describe(void)
{
	size_t routes_count;
	const struct route *routes = router_table(&routes_count);
	json_t *a = json_array();
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes[i];
		json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:s,s:b,s:b,s:s}", "method", r->method,
						   "path", r->pattern, "resource", r->resource,
						   "action", action_name(r->action), "public",
						   (r->flags & RT_PUBLIC) != 0, "openapi",
						   (r->flags & RT_NOAPI) == 0, "summary", r->summary));
	}
	return a;
}
