/* An SMS gateway over HTTP, from the channel's template: its url and
 * body_template with {to} {text} {alert_id} {recipient_id} {delivery_id}
 * replaced (URL-encoded in the url and in a form body, JSON-escaped in a
 * JSON body), its method and content type. The gateway's credentials come
 * from the configuration (delivery.sms_user, delivery.sms_password: HTTP
 * basic authentication), never from the record, and are never logged.
 * Any answer but 2xx is a failure tried again later. */
#include "delivery/curl_channel.h"

#include "core/err.h"
#include "core/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum esc { ESC_URL, ESC_JSON, ESC_NONE };

static void add_escaped(struct sb *sb, CURL *c, const char *v, enum esc how)
{
	if (how == ESC_URL) {
		char *e = curl_easy_escape(c, v, 0);
		sb_adds(sb, e ? e : "");
		curl_free(e);
	} else if (how == ESC_JSON) {
		json_t *s = json_string(v);
		char *d = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		if (d)
			sb_add(sb, d + 1, strlen(d) - 2); /* without the quotes */
		free(d);
		json_decref(s);
	} else {
		sb_adds(sb, v);
	}
}

/* tpl with its placeholders replaced; an unknown {name} stays as written. */
static char *fill(CURL *c, const char *tpl, const struct delivery_msg *m, enum esc how)
{
	const struct { const char *name, *value; } vars[] = {
		{"{to}", m->address},       {"{text}", m->text},      {"{alert_id}", m->alert_id},
		{"{recipient_id}", m->person_id}, {"{delivery_id}", m->id},
	};
	struct sb sb;
	sb_init(&sb);
	for (const char *p = tpl; *p;) {
		bool done = false;
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && !done; i++)
			if (!strncmp(p, vars[i].name, strlen(vars[i].name))) {
				add_escaped(&sb, c, vars[i].value ? vars[i].value : "", how);
				p += strlen(vars[i].name);
				done = true;
			}
		if (!done)
			sb_addc(&sb, *p++);
	}
	if (!sb.buf)
		sb_adds(&sb, "");
	return sb_detach(&sb);
}

static void zfree(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static int sms_send(void *state, const struct delivery_msg *m, char *err, size_t errsz)
{
	struct curl_channel *s = state;
	const char *url = json_string_value(json_object_get(m->channel, "url"));
	const char *method = json_string_value(json_object_get(m->channel, "method"));
	const char *tpl = json_string_value(json_object_get(m->channel, "body_template"));
	const char *ctype = json_string_value(json_object_get(m->channel, "content_type"));
	if (!s->curl || !url || !m->address) {
		snprintf(err, errsz, "the SMS channel is not usable");
		return SG_EINVAL;
	}
	if (!method)
		method = "POST";
	if (!ctype)
		ctype = "application/x-www-form-urlencoded";
	enum esc how = strstr(ctype, "json") ? ESC_JSON : strstr(ctype, "x-www-form-urlencoded") ? ESC_URL : ESC_NONE;
	CURL *c = s->curl;
	curl_easy_reset(c);
	char *u = fill(c, url, m, ESC_URL);
	char *body = !str_eq(method, "GET") ? fill(c, tpl ? tpl : "to={to}&text={text}", m, how) : NULL;
	char hdr[160];
	snprintf(hdr, sizeof(hdr), "Content-Type: %.120s", ctype);
	struct curl_slist *hl = curl_slist_append(NULL, hdr);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, u);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		if (!str_eq(method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	}
	if (s->o->sms_user && *s->o->sms_user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, s->o->sms_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->o->sms_password ? s->o->sms_password : "");
	}
	int rc = curl_channel_http(s, "gateway", err, errsz);
	curl_slist_free_all(hl);
	zfree(u);
	zfree(body);
	return rc;
}

const struct channel_ops ch_sms = {.name = "sms", .open = curl_channel_open, .close = curl_channel_close, .send = sms_send};
