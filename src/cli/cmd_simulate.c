/* safeguard simulate: moving devices reporting to a running server. */
#include "cli/cli.h"

#include "app.h"
#include "cli/simulate.h"
#include "core/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_simulate(int argc, char **argv)
{
	const char *url = "http://127.0.0.1:8080", *keys_file = NULL, *rate_s = "10", *dur_s = "0";
	const struct cli_opt opts[] = {
		{"--url", &url, NULL, "the server (default http://127.0.0.1:8080)"},
		{"--keys-file", &keys_file, NULL, "device keys, one per line (from enrolment)"},
		{"--rate", &rate_s, NULL, "reports per second in total (default 10)"},
		{"--duration", &dur_s, NULL, "seconds to run (default: until Ctrl-C)"},
		{0},
	};
	struct config *cfg;
	int rc = cli_parse(argc, argv, "safeguard simulate --keys-file FILE [--url URL] [--rate N] [--duration S]",
			   opts, &cfg, NULL, NULL);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	config_free(cfg);
	double rate;
	int64_t dur;
	if (!keys_file || parse_double(rate_s, &rate) || rate <= 0 || rate > 100000 ||
	    parse_i64(dur_s, 0, 86400 * 365, &dur)) {
		fprintf(stderr, "usage: safeguard simulate --keys-file FILE [--url URL] [--rate N] [--duration S]\n");
		return 2;
	}
	FILE *f = fopen(keys_file, "r");
	if (!f) {
		perror(keys_file);
		return 1;
	}
	char line[256], **keys = NULL;
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		keys = xrealloc(keys, (n + 1) * sizeof(*keys));
		keys[n++] = xstrdup(line);
	}
	fclose(f);
	if (!n) {
		fprintf(stderr, "safeguard simulate: %s holds no key\n", keys_file);
		free(keys);
		return 1;
	}
	app_block_signals();
	struct sim *s = sim_start(url, keys, n, rate);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	if (!s) {
		fprintf(stderr, "safeguard simulate: cannot start\n");
		return 1;
	}
	fprintf(stderr, "simulating %zu devices at %.1f reports/s to %s\n", n, rate, url);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	struct timespec ts = {.tv_sec = dur ? dur : 86400 * 365};
	sigtimedwait(&set, NULL, &ts);
	unsigned long ok = sim_stop(s);
	printf("%lu reports accepted\n", ok);
	return 0;
}
