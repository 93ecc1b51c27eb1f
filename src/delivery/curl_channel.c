/* The libcurl channels' shared handle and request; see curl_channel.h. */
#include "delivery/curl_channel.h"

#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>

void *curl_channel_open(const struct delivery_opts *o)
{
	struct curl_channel *c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	c->o = o;
	return c;
}

void curl_channel_close(void *state)
{
	struct curl_channel *c = state;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

int curl_channel_http(struct curl_channel *cc, const char *who, char *err, size_t errsz)
{
	CURL *c = cc->curl;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, cc->o->timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Safeguard");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(err, errsz, "%s", curl_easy_strerror(rc));
		return SG_EIO;
	}
	if (status < 200 || status > 299) {
		snprintf(err, errsz, "the %s answered HTTP %ld", who, status);
		return SG_EIO;
	}
	return 0;
}
