/* The stream channel: the message goes on the outbox as an `alert_message`
 * event about its person, in the write that records it as sent; the
 * person's own SSE client and the organisation's consoles read it (policy
 * rule "messages": never shared with a partner). It carries no answer link:
 * operators read the stream too. */
#include "delivery/delivery.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>

static int stream_send(void *state, const struct delivery_msg *m, char *err, size_t errsz)
{
	(void)state;
	const char *status = json_string_value(json_object_get(m->alert, "status"));
	json_t *body = json_pack("{s:s,s:s,s:s,s:s?,s:i,s:b,s:s?,s:s?,s:s}", "delivery_id", m->id, "alert_id", m->alert_id,
				 "person_id", m->person_id, "rollcall_id", m->rollcall_id, "wave", m->wave, "exercise",
				 str_eq(status, "Exercise"), "status", status, "headline",
				 json_string_value(json_object_get(m->alert, "headline")), "text", m->text);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	int rc = text ? events_append_about(m->db, m->org_id, "messages", m->rollcall_id ? "rollcall_question" : "alert_message",
					text, m->person_id, clock_now_ms())
		  : SG_EIO;
	free(text);
	if (rc)
		snprintf(err, errsz, "the outbox could not be written");
	return rc;
}

const struct channel_ops ch_stream = {.name = "stream", .in_store = true, .send = stream_send};
