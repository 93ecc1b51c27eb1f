/* Alerts over HTTP (issue 14, first part): send one to the organisation's
 * own people (?preview=true answers the recipients and stores nothing),
 * read it with its recipients, relay a partner's, and its CAP 1.2 form.
 * Delivery channels and roll-calls come with the rest of the issue. */
#include "http/api/api.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/util.h"
#include "delivery/delivery.h"
#include "http/router.h"
#include "registry/alert_cap.h"
#include "registry/alert_store.h"
#include "registry/resource.h"

#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct send_job {
	json_t *rec;
	const struct alert_set *recipients;
	struct write_ctx w;
	struct verr e;
};

static int send_fn(struct db *db, void *arg)
{
	struct send_job *j = arg;
	j->w.err = &j->e;
	return alert_store(db, j->rec, j->recipients->a, j->recipients->n, true, &j->w);
}

/* A list of own records' ids from the body (people, sites): a JSON text,
 * or NULL after a 400. */
char *api_own_ids(struct req *r, struct db *db, const json_t *a, const char *collection, const char *member)
{
	const struct resource *res = resource_find(collection);
	char ptr[64];
	if (!a)
		return xstrdup("[]");
	if (!json_is_array(a) || json_array_size(a) > 10000) {
		snprintf(ptr, sizeof(ptr), "/%s", member);
		reply_problem(r, 400, "validation", "Invalid request", "a list of ids of your organisation's records", ptr);
		return NULL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		json_t *rec = NULL;
		const char *id = json_string_value(v);
		bool ok = id && id_valid(id, res->id_prefix) && resource_get(db, res, id, &rec) == 0 &&
			  str_eq(json_string_value(json_object_get(rec, "org_id")), r->actor.org_id);
		json_decref(rec);
		if (!ok) {
			snprintf(ptr, sizeof(ptr), "/%s/%zu", member, i);
			reply_problem(r, 400, "validation", "Invalid request", "not one of your organisation's records", ptr);
			return NULL;
		}
	}
	return json_dumps(a, JSON_COMPACT);
}

/* The answer about an alert: the record at the caller's access; to its own
 * organisation also whom it named and reached. */
static void reply_alert(struct req *r, unsigned status, const json_t *rec, const struct access *acc)
{
	json_t *out = api_render(r, resource_find("alerts"), rec, acc, false);
	if (!out) {
		reply_err(r, SG_ENOTFOUND, "alert");
		return;
	}
	if (acc->view == VIEW_OWN) {
		json_t *rcpt;
		struct db *db = req_db(r);
		json_object_set_new(out, "people", json_loads(json_string_value(json_object_get(rec, "person_ids")) ?: "[]", 0, NULL));
		json_object_set_new(out, "sites", json_loads(json_string_value(json_object_get(rec, "site_ids")) ?: "[]", 0, NULL));
		if (db && alert_recipients(db, json_string_value(json_object_get(rec, "id")), &rcpt) == 0)
			json_object_set_new(out, "recipient_list", rcpt);
	}
	reply_json(r, status, out);
}

/* Stores rec (a validated new alert) to its recipients, or previews them. */
static void send_alert(struct req *r, struct db *db, json_t *rec, bool preview)
{
	struct alert_set rcpt;
	int64_t t0 = clock_mono_us();
	int rc = api_alert_recipients(r, db, rec, &rcpt);
	double found_ms = (double)(clock_mono_us() - t0) / 1000;
	snprintf(r->server_timing, sizeof(r->server_timing), "recipients;dur=%.1f", found_ms);
	if (rc == SG_EINVAL) {
		reply_problem(r, 400, "validation", "Invalid request", "the area could not be read", "/geometry");
		return;
	}
	if (rc) {
		reply_err(r, rc, NULL);
		return;
	}
	if (preview) {
		reply_json(r, 200, json_pack("{s:b,s:I,s:o}", "preview", 1, "count", (json_int_t)rcpt.n, "recipients",
					     api_alert_set_json(&rcpt)));
		api_alert_set_free(&rcpt);
		return;
	}
	char ts[25];
	int64_t now = clock_now_ms();
	time_format_ms(now, ts);
	json_object_set_new(rec, "sent_at", json_string(ts));
	json_object_set_new(rec, "recipients", json_integer((json_int_t)rcpt.n));
	struct send_job j = {.rec = rec, .recipients = &rcpt,
			     .w = {.actor = r->actor.id, .request_id = r->id, .now_ms = now}};
	rc = store_write(r->env->store, send_fn, &j);
	snprintf(r->server_timing, sizeof(r->server_timing), "recipients;dur=%.1f, durable;dur=%.1f", found_ms,
		 (double)(clock_mono_us() - t0) / 1000);
	api_alert_set_free(&rcpt);
	if (rc) {
		if (j.e.detail[0])
			reply_verr(r, &j.e);
		else
			reply_err(r, rc, "alert");
		return;
	}
	snprintf(r->location, sizeof(r->location), "/api/v1/alerts/%s", json_string_value(json_object_get(rec, "id")));
	struct access own = {.view = VIEW_OWN};
	reply_alert(r, 201, rec, &own);
}

void api_alert_create(struct req *r)
{
	static const char *const allowed[] = {"preview", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	const char *pv = req_query(r, "preview");
	if (pv && !str_eq(pv, "true") && !str_eq(pv, "false")) {
		reply_problem(r, 400, "invalid-query", "Invalid query parameter", "preview is true or false", "?preview");
		return;
	}
	json_t *body = req_json(r);
	struct db *db = body ? req_db(r) : NULL;
	if (!db) {
		json_decref(body);
		return;
	}
	char *people = api_own_ids(r, db, json_object_get(body, "people"), "people", "people");
	char *sites = people ? api_own_ids(r, db, json_object_get(body, "sites"), "sites", "sites") : NULL;
	struct verr e = {0};
	json_t *rec = NULL;
	if (sites) {
		json_object_del(body, "people");
		json_object_del(body, "sites");
		rec = resource_new_record(resource_find("alerts"), body, r->actor.org_id, &e);
		if (!rec)
			reply_verr(r, &e);
	}
	const char *inc = rec ? json_string_value(json_object_get(rec, "incident_id")) : NULL;
	json_t *irec = NULL;
	if (rec && inc && (resource_get(db, resource_find("incidents"), inc, &irec) ||
			   !str_eq(json_string_value(json_object_get(irec, "org_id")), r->actor.org_id))) {
		reply_problem(r, 400, "validation", "Invalid request",
			      "incident_id must be one of your incidents (a partner's: give its area as geometry)", "/incident_id");
		json_decref(rec);
		rec = NULL;
	}
	json_decref(irec);
	if (rec) {
		bool area = json_is_object(json_object_get(rec, "geometry")) || inc;
		bool named = strcmp(people, "[]") || strcmp(sites, "[]");
		bool cancel = str_eq(json_string_value(json_object_get(rec, "msg_type")), "Cancel");
		if (!area && !named && !cancel) {
			reply_problem(r, 400, "validation", "Invalid request",
				      "an alert targets an area (geometry), an incident, people or sites", "/geometry");
		} else if (str_eq(json_string_value(json_object_get(rec, "scope")), "Private") && (area || !strcmp(people, "[]"))) {
			reply_problem(r, 400, "validation", "Invalid request",
				      "a Private alert goes to the people it names, and only to them", "/people");
		} else {
			json_object_set_new(rec, "person_ids", json_string(people));
			json_object_set_new(rec, "site_ids", json_string(sites));
			send_alert(r, db, rec, pv && str_eq(pv, "true"));
		}
	}
	json_decref(rec);
	free(people);
	free(sites);
	json_decref(body);
}

void api_alert_get(struct req *r)
{
	struct access acc;
	json_t *rec = api_load_for(r, resource_find("alerts"), ACT_READ, &acc);
	if (rec)
		reply_alert(r, 200, rec, &acc);
	json_decref(rec);
}

/* GET /alerts/{id}/deliveries: the sender's view of its delivery, per
 * recipient and channel (ACT_UPDATE: the sending organisation's operators;
 * a partner who sees the alert learns nothing of whom it reached). */
void api_alert_deliveries(struct req *r)
{
	struct access acc;
	json_t *rec = api_load_for(r, resource_find("alerts"), ACT_UPDATE, &acc);
	if (!rec)
		return;
	struct db *db = req_db(r);
	json_t *rows, *counts;
	if (db && delivery_list(db, json_string_value(json_object_get(rec, "id")), &rows, &counts) == 0) {
		json_t *undeliverable = json_array();
		size_t i;
		json_t *d;
		json_array_foreach(rows, i, d) if (str_eq(json_string_value(json_object_get(d, "state")), "undeliverable"))
			json_array_append(undeliverable, d);
		reply_json(r, 200, json_pack("{s:O,s:o,s:o,s:o}", "alert_id", json_object_get(rec, "id"), "counts", counts,
					     "undeliverable", undeliverable, "deliveries", rows));
	} else if (db) {
		reply_err(r, SG_EIO, NULL);
	}
	json_decref(rec);
}

/* A partner's alert, relayed to the caller's own people in the same area:
 * a new alert of the caller's organisation that names the original. */
void api_alert_relay(struct req *r)
{
	static const char *const allowed[] = {"preview", NULL};
	if (!req_query_allowed(r, allowed))
		return;
	struct access acc;
	json_t *orig = api_load_for(r, resource_find("alerts"), ACT_READ, &acc);
	if (!orig)
		return;
	struct db *db = req_db(r);
	if (!(ROLES_OPERATORS & ROLE_BIT(r->actor.role))) {
		reply_err(r, SG_EFORBIDDEN, NULL);
	} else if (acc.view == VIEW_OWN) {
		reply_problem(r, 409, "conflict", "Your own alert", "relay a partner's alert; yours reached your people", NULL);
	} else if (db) {
		static const char *const copy[] = {"status", "event", "urgency", "severity", "certainty", "headline",
						   "description", "instruction", "area_desc", "geometry", "radius_m", NULL};
		json_t *body = json_object();
		for (const char *const *k = copy; *k; k++) {
			json_t *v = json_object_get(orig, *k);
			if (v && !json_is_null(v))
				json_object_set(body, *k, v);
		}
		struct verr e = {0};
		json_t *rec = resource_new_record(resource_find("alerts"), body, r->actor.org_id, &e);
		if (!rec) {
			reply_verr(r, &e);
		} else if (!json_is_object(json_object_get(rec, "geometry"))) {
			reply_problem(r, 409, "conflict", "Nothing to relay to",
				      "the partner's alert has no area: it named its own people", NULL);
		} else {
			json_object_set(rec, "relayed_from", json_object_get(orig, "id"));
			json_object_set_new(rec, "person_ids", json_string("[]"));
			json_object_set_new(rec, "site_ids", json_string("[]"));
			const char *pv = req_query(r, "preview");
			send_alert(r, db, rec, pv && str_eq(pv, "true"));
		}
		json_decref(rec);
		json_decref(body);
	}
	json_decref(orig);
}

/* --- CAP 1.2 ------------------------------------------------------------------- */

void api_alert_cap(struct req *r)
{
	struct access acc;
	json_t *a = api_load_for(r, resource_find("alerts"), ACT_READ, &acc);
	if (!a)
		return;
	struct db *db = req_db(r);
	size_t len = 0;
	char *xml = db ? alert_cap_xml(db, a, &len) : NULL;
	if (xml)
		reply_data(r, 200, "application/cap+xml", xml, len);
	else if (db)
		reply_err(r, SG_EIO, NULL);
	free(xml);
	json_decref(a);
}


static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* --- the Atom feed --------------------------------------------------------------- */

static int by_sent_desc(const void *x, const void *y)
{
	const char *a = str(*(json_t *const *)x, "sent_at"), *b = str(*(json_t *const *)y, "sent_at");
	return strcmp(b ? b : "", a ? a : "");
}

/* GET /feeds/alerts.atom: the current real alerts the caller may see (its
 * own and its partners' shared with it), newest first, each linking to its
 * CAP document. Exercises are not in it; an alert a Cancel names is not
 * current. */
void api_alerts_feed(struct req *r)
{
	const struct resource *res = resource_find("alerts");
	struct db *db = req_db(r);
	if (!db)
		return;
	const char *orgs[1 + MAX_GRANTS];
	int norgs = 0;
	orgs[norgs++] = r->actor.org_id;
	for (int i = 0; r->actor.grants && i < r->actor.grants->n; i++)
		if (r->actor.grants->g[i].cat == CAT_ALERTS)
			orgs[norgs++] = r->actor.grants->g[i].grantor;
	json_t *all = json_array(), *cancelled = json_object();
	const struct field *st = resource_field(res, "status");
	for (int o = 0; o < norgs; o++) {
		struct list_query q = {.org_id = orgs[o], .limit = 500};
		q.filter[st - res->fields] = "Actual";
		json_t *page;
		bool more;
		if (resource_list(db, res, &q, &page, &more)) {
			json_decref(all);
			json_decref(cancelled);
			reply_err(r, SG_EIO, NULL);
			return;
		}
		size_t i;
		json_t *a;
		json_array_foreach(page, i, a) {
			struct access acc;
			if (policy_decide(&r->actor, ACT_READ, "alerts", str(a, "org_id"), str(a, "id"), &acc) != DECIDE_ALLOW)
				continue;
			if (str_eq(str(a, "msg_type"), "Cancel") && str(a, "references_id"))
				json_object_set_new(cancelled, str(a, "references_id"), json_true());
			json_array_append(all, a);
		}
		json_decref(page);
	}
	size_t n = json_array_size(all);
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(all, i);
	qsort(items, n, sizeof(*items), by_sent_desc);
	xmlBufferPtr xb = xmlBufferCreate();
	xmlTextWriterPtr w = xmlNewTextWriterMemory(xb, 0);
	xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL);
	xmlTextWriterStartElementNS(w, NULL, BAD_CAST "feed", BAD_CAST "http://www.w3.org/2005/Atom");
	char buf[200];
	snprintf(buf, sizeof(buf), "urn:safeguard:alerts:%s", r->actor.org_id);
	xml_element(w, "id", buf);
	xml_element(w, "title", "Safeguard: current alerts");
	char now[25];
	time_format_ms(clock_now_ms(), now);
	xml_element(w, "updated", n ? str(items[0], "sent_at") : now);
	xmlTextWriterStartElement(w, BAD_CAST "link");
	xmlTextWriterWriteAttribute(w, BAD_CAST "rel", BAD_CAST "self");
	xmlTextWriterWriteAttribute(w, BAD_CAST "href", BAD_CAST "/feeds/alerts.atom");
	xmlTextWriterEndElement(w);
	for (size_t i = 0, shown = 0; i < n && shown < 100; i++) {
		const json_t *a = items[i];
		if (json_object_get(cancelled, str(a, "id")) || str_eq(str(a, "msg_type"), "Cancel"))
			continue;
		shown++;
		xmlTextWriterStartElement(w, BAD_CAST "entry");
		snprintf(buf, sizeof(buf), "urn:safeguard:alert:%s", str(a, "id"));
		xml_element(w, "id", buf);
		xml_element(w, "title", str(a, "headline"));
		xml_element(w, "updated", str(a, "sent_at"));
		snprintf(buf, sizeof(buf), "%s · %s · %s · %s", str(a, "event"), str(a, "severity"), str(a, "urgency"),
			 str(a, "certainty"));
		xml_element(w, "summary", buf);
		xmlTextWriterStartElement(w, BAD_CAST "author");
		xml_element(w, "name", str(a, "org_id"));
		xmlTextWriterEndElement(w);
		xmlTextWriterStartElement(w, BAD_CAST "category");
		xmlTextWriterWriteAttribute(w, BAD_CAST "term", BAD_CAST str(a, "severity"));
		xmlTextWriterEndElement(w);
		snprintf(buf, sizeof(buf), "/api/v1/alerts/%s/cap", str(a, "id"));
		xmlTextWriterStartElement(w, BAD_CAST "link");
		xmlTextWriterWriteAttribute(w, BAD_CAST "rel", BAD_CAST "alternate");
		xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "application/cap+xml");
		xmlTextWriterWriteAttribute(w, BAD_CAST "href", BAD_CAST buf);
		xmlTextWriterEndElement(w);
		xmlTextWriterEndElement(w); /* entry */
	}
	xmlTextWriterEndElement(w);
	xmlTextWriterEndDocument(w);
	xmlFreeTextWriter(w);
	reply_data(r, 200, "application/atom+xml", xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
	xmlBufferFree(xb);
	free(items);
	json_decref(all);
	json_decref(cancelled);
}
