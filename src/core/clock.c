/* Wall and monotonic clocks with a test hook, and RFC 3339 formatting. */
#include "clock.h"
#include "err.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic(int64_t (*)(void)) clock_source;
static char offset_file[512];

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Real time plus the offset (ms) written in offset_file: lets the API tests
 * move a running server's clock forward (session expiry, later timers). */
static int64_t offset_ms(void)
{
	FILE *f = fopen(offset_file, "r");
	long long off = 0;
	if (f) {
		if (fscanf(f, "%lld", &off) != 1)
			off = 0;
		fclose(f);
	}
	return real_ms() + off;
}

bool clock_use_offset_file(const char *path)
{
	if (!path || !*path || strlen(path) >= sizeof(offset_file))
		return false;
	memcpy(offset_file, path, strlen(path) + 1);
	clock_set_source(offset_ms);
	return true;
}

void clock_set_source(int64_t (*fn)(void))
{
	atomic_store(&clock_source, fn);
}

int64_t clock_now_ms(void)
{
	int64_t (*fn)(void) = atomic_load(&clock_source);
	return fn ? fn() : real_ms();
}

int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void time_format_ms(int64_t ms, char out[25])
{
	time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)sec * 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char buf[80];
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	memcpy(out, buf, 24);
	out[24] = '\0';
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return SG_EINVAL;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01 (proleptic Gregorian). */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int time_parse_rfc3339(const char *s, int64_t *out_ms)
{
	int y, mo, d, h, mi, sec, ms = 0;
	const char *p = s;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
		return SG_EINVAL;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return SG_EINVAL;
	if (*p == '.') {
		p++;
		int n = 0;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				ms = ms * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0)
			return SG_EINVAL;
		for (; n < 3; n++)
			ms *= 10;
	}
	int off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return SG_EINVAL;
		off_min = sign * (oh * 60 + om);
	} else {
		return SG_EINVAL;
	}
	if (*p)
		return SG_EINVAL;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return SG_EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return SG_EINVAL;
	if (sec == 60)
		sec = 59; /* leap second: clamp */
	int64_t days = days_from_civil(y, mo, d);
	int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec;
	t -= (int64_t)off_min * 60;
	*out_ms = t * 1000 + ms;
	return 0;
}
