/* core/config: layering (defaults < file < env < flags), validation, secrets hidden. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/err.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/sg-config-%d.ini", getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_layers_in_order(void **state)
{
	(void)state;
	char err[256];
	struct config *c = config_new();
	assert_string_equal(config_str(c, "server.listen"), "127.0.0.1:8080");
	char *p = write_tmp("# comment\n[server]\nlisten = 0.0.0.0:9000\nmax_body_bytes = 2048\n");
	assert_int_equal(config_load_file(c, p, err, sizeof(err)), 0);
	assert_string_equal(config_str(c, "server.listen"), "0.0.0.0:9000");
	setenv("SAFEGUARD_SERVER_LISTEN", "127.0.0.1:9100", 1);
	assert_int_equal(config_load_env(c, err, sizeof(err)), 0);
	assert_string_equal(config_str(c, "server.listen"), "127.0.0.1:9100");
	unsetenv("SAFEGUARD_SERVER_LISTEN");
	assert_int_equal(config_set(c, "server.listen", "127.0.0.1:9200", err, sizeof(err)), 0);
	assert_string_equal(config_str(c, "server.listen"), "127.0.0.1:9200");
	assert_int_equal(config_int(c, "server.max_body_bytes"), 2048);
	unlink(p);
	config_free(c);
}

static void test_bad_values_named(void **state)
{
	(void)state;
	char err[256];
	struct config *c = config_new();
	char *p = write_tmp("[server]\nmax_body_bytes = lots\n");
	assert_int_equal(config_load_file(c, p, err, sizeof(err)), SG_EINVAL);
	assert_non_null(strstr(err, ":2:"));
	assert_non_null(strstr(err, "max_body_bytes"));
	p = write_tmp("[server]\nnonsense = 1\n");
	assert_int_equal(config_load_file(c, p, err, sizeof(err)), SG_EINVAL);
	assert_non_null(strstr(err, "unknown configuration key 'server.nonsense'"));
	assert_int_equal(config_set(c, "session.cookie_secure", "maybe", err, sizeof(err)), SG_EINVAL);
	assert_true(config_bool(c, "session.cookie_secure"));
	unlink(p);
	config_free(c);
}

static void test_print_hides_secrets(void **state)
{
	(void)state;
	char err[256], buf[8192] = "";
	struct config *c = config_new();
	assert_int_equal(config_set(c, "store.postgres_url", "postgres://u:hunter2@db/sg", err, sizeof(err)), 0);
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	config_print(c, f);
	fclose(f);
	assert_null(strstr(buf, "hunter2"));
	assert_non_null(strstr(buf, "postgres_url = (hidden)"));
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_in_order),
		cmocka_unit_test(test_bad_values_named),
		cmocka_unit_test(test_print_hides_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
