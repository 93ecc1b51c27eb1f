/* Shared by unit tests that need a store in a temporary directory. */
#ifndef SG_TESTLIB_H
#define SG_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *test_tmpdir(void)
{
	char tmpl[] = "/tmp/sg-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d)
		abort();
	return strdup(d);
}

static inline void test_rmdir(char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		abort();
	free(dir);
}

#endif
