/* Position report lifecycle; see report.h. */
#include "ingest/report.h"

#include "core/err.h"

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

int report_json_number(const json_t *o, const char *k, double min, double max, bool unknown_ok, double *out)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return JNUM_ABSENT;
	if (!json_is_number(v))
		return SG_EINVAL;
	double d = json_number_value(v);
	if (unknown_ok && d == -1)
		return JNUM_UNKNOWN;
	if (!isfinite(d) || d < min || d > max)
		return SG_EINVAL;
	*out = d;
	return JNUM_SET;
}
