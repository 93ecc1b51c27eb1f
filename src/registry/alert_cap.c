/* An alert as a CAP 1.2 document; see alert_cap.h. */
#include "registry/alert_cap.h"

#include "core/clock.h"
#include "core/util.h"
#include "registry/resource.h"

#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CAP's dateTime: no "Z", no fraction. */
static void cap_time(const char *iso, char out[32])
{
	int64_t ms = 0;
	time_parse_rfc3339(iso, &ms);
	char ts[25];
	time_format_ms(ms, ts);
	snprintf(out, 32, "%.19s+00:00", ts);
}

void xml_element(xmlTextWriterPtr w, const char *name, const char *text)
{
	if (!text || !*text)
		return;
	char *clean = xml_text(text);
	xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST clean);
	free(clean);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

char *alert_cap_xml(struct db *db, const json_t *a, size_t *len)
{
	json_t *ref = NULL, *inc = NULL;
	if (str(a, "references_id"))
		resource_get(db, resource_find("alerts"), str(a, "references_id"), &ref);
	if (str(a, "incident_id") && !json_is_object(json_object_get(a, "geometry")))
		resource_get(db, resource_find("incidents"), str(a, "incident_id"), &inc);
	char sender[80], sent[32];
	snprintf(sender, sizeof(sender), "%s@safeguard", str(a, "org_id"));
	cap_time(str(a, "sent_at"), sent);
	xmlBufferPtr xb = xmlBufferCreate();
	xmlTextWriterPtr w = xmlNewTextWriterMemory(xb, 0);
	xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL);
	xmlTextWriterStartElementNS(w, NULL, BAD_CAST "alert", BAD_CAST "urn:oasis:names:tc:emergency:cap:1.2");
	xml_element(w, "identifier", str(a, "id"));
	xml_element(w, "sender", sender);
	xml_element(w, "sent", sent);
	xml_element(w, "status", str(a, "status"));
	xml_element(w, "msgType", str(a, "msg_type"));
	xml_element(w, "scope", str(a, "scope"));
	if (str_eq(str(a, "scope"), "Restricted"))
		xml_element(w, "restriction", "the sending organisation's own people");
	if (str_eq(str(a, "scope"), "Private")) {
		json_t *ids = json_loads(str(a, "person_ids") ? str(a, "person_ids") : "[]", 0, NULL);
		struct sb sb;
		sb_init(&sb);
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v) sb_addf(&sb, "%s%s", i ? " " : "", json_string_value(v));
		xml_element(w, "addresses", sb.buf);
		sb_release(&sb);
		json_decref(ids);
	}
	if (str_eq(str(a, "status"), "Exercise"))
		xml_element(w, "note", "EXERCISE: not a real alert");
	if (ref) {
		char rsent[32], refs[200];
		cap_time(str(ref, "sent_at"), rsent);
		snprintf(refs, sizeof(refs), "%s@safeguard,%s,%s", str(ref, "org_id"), str(ref, "id"), rsent);
		xml_element(w, "references", refs);
	}
	xmlTextWriterStartElement(w, BAD_CAST "info");
	xml_element(w, "category", "Security");
	xml_element(w, "event", str(a, "event"));
	xml_element(w, "urgency", str(a, "urgency"));
	xml_element(w, "severity", str(a, "severity"));
	xml_element(w, "certainty", str(a, "certainty"));
	xml_element(w, "headline", str(a, "headline"));
	xml_element(w, "description", str(a, "description"));
	xml_element(w, "instruction", str(a, "instruction"));
	const json_t *src = json_is_object(json_object_get(a, "geometry")) ? a : inc;
	if (src) {
		const json_t *g = json_object_get(src, "geometry");
		xmlTextWriterStartElement(w, BAD_CAST "area");
		xml_element(w, "areaDesc", str(a, "area_desc") ? str(a, "area_desc") : "the area of the alert");
		char buf[64];
		if (str_eq(str(g, "type"), "Point")) {
			const json_t *c = json_object_get(g, "coordinates");
			snprintf(buf, sizeof(buf), "%.6f,%.6f %.3f", json_number_value(json_array_get(c, 1)),
				 json_number_value(json_array_get(c, 0)), json_number_value(json_object_get(src, "radius_m")) / 1000);
			xml_element(w, "circle", buf);
		} else {
			struct sb sb;
			sb_init(&sb);
			size_t i;
			json_t *p;
			json_array_foreach(json_array_get(json_object_get(g, "coordinates"), 0), i, p)
				sb_addf(&sb, "%s%.6f,%.6f", i ? " " : "", json_number_value(json_array_get(p, 1)),
					json_number_value(json_array_get(p, 0)));
			xml_element(w, "polygon", sb.buf);
			sb_release(&sb);
		}
		xmlTextWriterEndElement(w);
	}
	xmlTextWriterEndElement(w); /* info */
	xmlTextWriterEndElement(w); /* alert */
	xmlTextWriterEndDocument(w);
	xmlFreeTextWriter(w);
	*len = (size_t)xmlBufferLength(xb);
	char *out = xmalloc(*len + 1);
	memcpy(out, xmlBufferContent(xb), *len);
	out[*len] = 0;
	xmlBufferFree(xb);
	json_decref(ref);
	json_decref(inc);
	return out;
}

