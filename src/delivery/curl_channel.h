/* What the channels that speak through libcurl share (webhooks, SMS, email):
 * one easy handle per worker thread, kept between sends so connections are
 * reused. */
#ifndef SG_CURL_CHANNEL_H
#define SG_CURL_CHANNEL_H

#include "delivery/delivery.h"

#include <curl/curl.h>
#include <stddef.h>

struct curl_channel {
	CURL *curl;
	const struct delivery_opts *o;
};

void *curl_channel_open(const struct delivery_opts *o);
void curl_channel_close(void *state);
/* Sends the HTTP(S) request set up on cc->curl (adding the timeout, the user
 * agent and a sink for the answer): 0 for a 2xx, else SG_EIO with the
 * reason in err ("the <who> answered HTTP 500"). */
int curl_channel_http(struct curl_channel *cc, const char *who, char *err, size_t errsz);

#endif
