/* A webhook receiver for bench/alerts.sh: libmicrohttpd on loopback, a
 * thread per connection (keep-alive), answers 200 to every POST, counts
 * them and notes when the first and the last arrived (CLOCK_REALTIME, ms).
 * Prints "SINK first_ms=... last_ms=... count=..." every time it is sent
 * SIGUSR1, and at SIGTERM; SIGUSR2 starts the count again.
 * Usage: hook_sink PORT */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long first_ms, last_ms;
static _Atomic long count;
static volatile sig_atomic_t report, reset, stop;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *size, void **state)
{
	(void)cls, (void)url, (void)method, (void)version, (void)data;
	if (!*state) {
		*state = (void *)1;
		return MHD_YES;
	}
	if (*size) {
		*size = 0; /* the body is read and dropped */
		return MHD_YES;
	}
	long long t = now_ms(), zero = 0;
	atomic_compare_exchange_strong(&first_ms, &zero, t);
	atomic_store(&last_ms, t);
	atomic_fetch_add(&count, 1);
	struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else if (sig == SIGUSR2)
		reset = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
						(uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
						MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
	if (!d)
		return 1;
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop) {
		usleep(20000);
		if (reset) {
			reset = 0;
			atomic_store(&first_ms, 0);
			atomic_store(&last_ms, 0);
			atomic_store(&count, 0);
		}
		if (report || stop) {
			report = 0;
			printf("SINK first_ms=%lld last_ms=%lld count=%ld\n", atomic_load(&first_ms), atomic_load(&last_ms),
			       atomic_load(&count));
			fflush(stdout);
		}
	}
	MHD_stop_daemon(d);
	return 0;
}
