/* A validation failure: a JSON pointer (or ?param) to the offending member,
 * a sentence, and the HTTP status it deserves. Filled where the knowledge is
 * (validators, decoders), turned into problem+json by the HTTP layer. */
#ifndef SG_VERR_H
#define SG_VERR_H

struct verr {
	char pointer[160];
	char detail[320];
	int status; /* HTTP status to answer: 400, 401, 404, 409, 415, 422, 429 */
};

void verr_set(struct verr *e, int status, const char *pointer, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
