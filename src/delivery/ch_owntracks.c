/* The OwnTracks app: the phone has no address to push to in HTTP mode; a
 * message waits until the phone's next report and goes out in the answer
 * to it, as a remote command the app shows its user (OwnTracks booklet,
 * "JSON" / _type=cmd, action "action": its content appears in the app's
 * featured-content view on iOS; the Android app ignores it — email and
 * SMS reach those). It counts as sent once the answer is handed over; a
 * server that stops before recording that hands it over again. */
#include "delivery/delivery.h"

#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pull channel's send writes the message into out. */
static int ot_send(void *state, const struct delivery_msg *m, char *out, size_t outsz)
{
	(void)state;
	/* The content is shown as HTML by the app: the text is escaped. */
	struct sb sb;
	sb_init(&sb);
	for (const char *p = m->text; p && *p; p++) {
		switch (*p) {
		case '<': sb_adds(&sb, "&lt;"); break;
		case '>': sb_adds(&sb, "&gt;"); break;
		case '&': sb_adds(&sb, "&amp;"); break;
		case '"': sb_adds(&sb, "&quot;"); break;
		case '\n': sb_adds(&sb, "<br>"); break;
		default: sb_addc(&sb, *p);
		}
	}
	json_t *cmd = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "_type", "cmd", "action", "action", "content",
				sb.buf ? sb.buf : "", "delivery_id", m->id, "alert_id", m->alert_id, "rollcall_id",
				m->rollcall_id);
	sb_release(&sb);
	char *s = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_decref(cmd);
	int rc = s && strlen(s) < outsz ? 0 : SG_EINVAL;
	if (!rc)
		memcpy(out, s, strlen(s) + 1);
	free(s);
	return rc;
}

const struct channel_ops ch_owntracks = {.name = "owntracks", .pull = true, .send = ot_send};
