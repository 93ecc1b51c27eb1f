/* Email over SMTP with libcurl: STARTTLS whenever the server offers it
 * (smtp://), TLS from the start with smtps://; the login from the
 * configuration (delivery.smtp_user, delivery.smtp_password), never from
 * the channel's record. One message per recipient, plain text in UTF-8,
 * with the delivery, alert and recipient ids in X-Safeguard-* headers and
 * the delivery id in Message-ID (a retry is the same message). */
#include "delivery/curl_channel.h"

#include "core/err.h"
#include "core/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct reader {
	const char *p;
	size_t left;
};

static size_t read_cb(char *buf, size_t sz, size_t n, void *u)
{
	struct reader *r = u;
	size_t k = sz * n < r->left ? sz * n : r->left;
	memcpy(buf, r->p, k);
	r->p += k;
	r->left -= k;
	return k;
}

/* A header value: one line, encoded (RFC 2047) when not plain ASCII. */
static void header_text(struct sb *sb, const char *s)
{
	bool ascii = true;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c >= 0x7f || *c < ' ')
			ascii = false;
	if (ascii) {
		sb_adds(sb, s);
		return;
	}
	size_t n = strlen(s);
	char *b64 = xcalloc(1, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
	sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), (const unsigned char *)s, n,
			  sodium_base64_VARIANT_ORIGINAL);
	sb_addf(sb, "=?UTF-8?B?%s?=", b64);
	free(b64);
}

/* Body text with CRLF line ends (libcurl escapes a leading dot). */
static void body_text(struct sb *sb, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			sb_adds(sb, "\r\n");
		else
			sb_addc(sb, *s);
	}
	sb_adds(sb, "\r\n");
}

static int mail_send(void *state, const struct delivery_msg *m, char *err, size_t errsz)
{
	struct curl_channel *ml = state;
	const char *url = json_string_value(json_object_get(m->channel, "url"));
	const char *from = json_string_value(json_object_get(m->channel, "mail_from"));
	if (!ml->curl || !url || !from || !m->address) {
		snprintf(err, errsz, "the email channel is not usable");
		return SG_EINVAL;
	}
	bool exercise = str_eq(json_string_value(json_object_get(m->alert, "status")), "Exercise");
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	struct sb sb;
	sb_init(&sb);
	sb_addf(&sb, "Date: %s\r\nFrom: Safeguard <%s>\r\nTo: <%s>\r\nMessage-ID: <%s@safeguard>\r\nSubject: ", date, from,
		m->address, m->id);
	struct sb subj;
	sb_init(&subj);
	sb_addf(&subj, "%s%s%s", exercise ? "[EXERCISE] " : "", m->rollcall_id ? "Are you safe? " : "",
		json_string_value(json_object_get(m->alert, "headline")));
	header_text(&sb, subj.buf);
	sb_release(&subj);
	sb_addf(&sb, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
		     "X-Safeguard-Delivery: %s\r\nX-Safeguard-Alert: %s\r\nX-Safeguard-Recipient: %s\r\n%s\r\n",
		m->id, m->alert_id, m->person_id, exercise ? "X-Safeguard-Exercise: yes\r\n" : "");
	body_text(&sb, m->text);
	const char *desc = json_string_value(json_object_get(m->alert, "description"));
	if (desc && *desc) {
		sb_adds(&sb, "\r\n");
		body_text(&sb, desc);
	}
	struct reader rd = {sb.buf, sb.len};
	struct curl_slist *rcpt = curl_slist_append(NULL, m->address);
	char mfrom[300];
	snprintf(mfrom, sizeof(mfrom), "<%s>", from);
	CURL *c = ml->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, mfrom);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, ml->o->timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (ml->o->smtp_user && *ml->o->smtp_user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, ml->o->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, ml->o->smtp_password ? ml->o->smtp_password : "");
	}
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(rcpt);
	sodium_memzero(sb.buf, sb.len);
	sb_release(&sb);
	if (cc != CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		snprintf(err, errsz, "%s (SMTP %ld)", curl_easy_strerror(cc), code);
		return code >= 500 && code < 600 && cc == CURLE_SEND_ERROR ? SG_EINVAL : SG_EIO;
	}
	return 0;
}

const struct channel_ops ch_email = {.name = "email", .open = curl_channel_open, .close = curl_channel_close, .send = mail_send};
