/* Helpers shared by the benchmark programs in bench/. */
#ifndef SG_BENCH_UTIL_H
#define SG_BENCH_UTIL_H

#include <time.h>

/* Monotonic seconds. */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort order for doubles (latency samples). */
static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#endif
