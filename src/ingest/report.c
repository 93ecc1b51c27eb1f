/* Position report lifecycle; see report.h. */
#include "ingest/report.h"

#include <math.h>
#include <string.h>

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->speed_mps = r->course_deg = r->altitude_m = r->accuracy_m = r->hdop = (double)NAN;
	r->battery_pct = -1;
	r->charging = -1;
	r->attrs = json_object();
}

void report_release(struct report *r)
{
	json_decref(r->attrs);
	r->attrs = NULL;
}
