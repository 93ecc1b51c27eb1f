/* Webhooks: a POST per delivery, JSON (default) or CAP 1.2 XML, signed.
 *
 *   X-Safeguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>
 *
 * The receiver recomputes the MAC over the timestamp and the exact body,
 * and refuses a timestamp too far from its clock (a replay). The delivery,
 * alert and recipient ids ride in headers and in the JSON body; a retry
 * carries the same ids (X-Safeguard-Attempt counts). Any answer but 2xx,
 * or none in delivery.timeout_s, is a failure tried again later. */
#include "delivery/curl_channel.h"

#include "core/err.h"
#include "core/util.h"
#include "registry/alert_cap.h"
#include "registry/resource.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The body as the channel's format asks. */
static char *hook_body(const struct delivery_msg *m, bool cap, size_t *len)
{
	if (cap)
		return alert_cap_xml(m->db, m->alert, len);
	json_t *pub = resource_public(resource_find("alerts"), m->alert, VIEW_FULL);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:i,s:i,s:b,s:s,s:o}", "delivery_id", m->id, "alert_id", m->alert_id,
			      "recipient_id", m->person_id, "rollcall_id", m->rollcall_id, "wave", m->wave, "attempt",
			      m->attempts + 1, "exercise",
			      str_eq(json_string_value(json_object_get(m->alert, "status")), "Exercise"), "text", m->text,
			      "alert", pub);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	*len = s ? strlen(s) : 0;
	return s;
}

static int webhook_sign(const char *key, long t, const char *body, size_t len, char out[128])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char ts[24], hex[2 * sizeof(mac) + 1];
	snprintf(ts, sizeof(ts), "%ld.", t);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, 128, "t=%ld,v1=%s", t, hex);
	return 0;
}

static int hook_send(void *state, const struct delivery_msg *m, char *err, size_t errsz)
{
	struct curl_channel *h = state;
	const char *url = json_string_value(json_object_get(m->channel, "url"));
	const char *key = json_string_value(json_object_get(m->channel, "secret"));
	bool cap = str_eq(json_string_value(json_object_get(m->channel, "format")), "cap");
	if (!h->curl || !url || !key) {
		snprintf(err, errsz, "the webhook is not usable");
		return SG_EINVAL;
	}
	size_t len = 0;
	char *body = hook_body(m, cap, &len);
	if (!body) {
		snprintf(err, errsz, "the message could not be written");
		return SG_EIO;
	}
	char sig[128], hdr[4][200];
	webhook_sign(key, (long)time(NULL), body, len, sig);
	struct curl_slist *hl = NULL;
	hl = curl_slist_append(hl, cap ? "Content-Type: application/cap+xml" : "Content-Type: application/json");
	snprintf(hdr[0], sizeof(hdr[0]), "X-Safeguard-Signature: %s", sig);
	snprintf(hdr[1], sizeof(hdr[1]), "X-Safeguard-Delivery: %s", m->id);
	snprintf(hdr[2], sizeof(hdr[2]), "X-Safeguard-Alert: %s", m->alert_id);
	snprintf(hdr[3], sizeof(hdr[3]), "X-Safeguard-Recipient: %s", m->person_id);
	for (int i = 0; i < 4; i++)
		hl = curl_slist_append(hl, hdr[i]);
	char attempt[48];
	snprintf(attempt, sizeof(attempt), "X-Safeguard-Attempt: %d", m->attempts + 1);
	hl = curl_slist_append(hl, attempt);
	hl = curl_slist_append(hl, "Expect:");
	CURL *c = h->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	int rc = curl_channel_http(h, "receiver", err, errsz);
	curl_slist_free_all(hl);
	free(body);
	return rc;
}

const struct channel_ops ch_webhook = {.name = "webhook", .open = curl_channel_open, .close = curl_channel_close, .send = hook_send};
