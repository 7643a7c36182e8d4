/* Unit tests: config validation names file and line for every kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ivd_config.h"

static char path[256];

static void write_config(const char *text)
{
	snprintf(path, sizeof path, "/tmp/ivd-test-config-%d.ini", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* True if some diagnostic is exactly "<path>:<line>: ..." and contains `needle`. */
static bool has_error(const struct ivd_diag *diag, unsigned line, const char *needle)
{
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
	for (size_t i = 0; i < diag->count; i++)
		if (strncmp(diag->lines[i], prefix, strlen(prefix)) == 0 && strstr(diag->lines[i], needle))
			return true;
	for (size_t i = 0; i < diag->count; i++)
		print_message("diag: %s\n", diag->lines[i]);
	return false;
}

static void test_embedded_default_is_valid(void **state)
{
	(void)state;
	struct ivd_config config;
	struct ivd_diag diag = {0};
	assert_int_equal(ivd_config_load(&config, NULL, &diag), 0);
	assert_int_equal(diag.count, 0);
	assert_string_equal(config.listen, "127.0.0.1");
	assert_int_equal(config.port, 8000);
	assert_string_equal(config.ws_path, "/api/v1/ws/interview");
	assert_int_equal(config.audio_chunk_bytes, 1024);
	assert_string_equal(config.tts_backend, "mock");
	assert_string_equal(config.question_source, "file");
	/* ${prefix} expanded */
	assert_null(strstr(config.plugin_dir, "${prefix}"));
	assert_true(config.plugin_dir[0] == '/');
	/* workers = 0: one thread per session and some spare, so no session waits for another's */
	assert_int_equal(config.workers, config.max_sessions + IVD_WORKERS_SPARE);
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

static void test_values_and_defaults(void **state)
{
	(void)state;
	write_config("; comment\n[server]\nport = 0\naudio_chunk_bytes = 4096\n"
	             "[records]\ndirectory = recs\n[limits]\nworkers = 8\n[log]\nlevel = debug\n");
	struct ivd_config config;
	struct ivd_diag diag = {0};
	assert_int_equal(ivd_config_load(&config, path, &diag), 0);
	assert_int_equal(config.port, 0);
	assert_int_equal(config.audio_chunk_bytes, 4096);
	assert_int_equal(config.workers, 8);
	assert_int_equal(config.max_sessions, 2000); /* default */
	assert_string_equal(config.records_dir, "/tmp/recs"); /* relative to the file */
	assert_int_equal(config.log_level, IVD_LOG_DEBUG);
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	write_config("[server]\n"                 /* 1 */
	             "port = 99999\n"             /* 2 out of range */
	             "audio_chunk_bytes = abc\n"  /* 3 not a number */
	             "colour = blue\n"            /* 4 unknown key */
	             "port = 1\n"                 /* 5 duplicate */
	             "[log]\n"                    /* 6 */
	             "level = loud\n"             /* 7 bad enum */
	             "[server\n"                  /* 8 syntax */
	             "listen = not an address\n"  /* 9: in the broken section, inih keeps [log]... */
	);
	struct ivd_config config;
	struct ivd_diag diag = {0};
	assert_int_equal(ivd_config_load(&config, path, &diag), -1);
	assert_true(has_error(&diag, 2, "out of range"));
	assert_true(has_error(&diag, 3, "not a whole number"));
	assert_true(has_error(&diag, 4, "unknown key 'colour'"));
	assert_true(has_error(&diag, 5, "set twice"));
	assert_true(has_error(&diag, 7, "not one of error|warn|info|debug"));
	assert_true(has_error(&diag, 8, "syntax error"));
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

static void test_long_line_is_an_error(void **state)
{
	(void)state;
	char text[600];
	char value[301];
	memset(value, 'a', 300);
	value[300] = '\0';
	snprintf(text, sizeof text, "[server]\nport = 8000\npath = /%s\n", value);
	write_config(text);
	struct ivd_config config;
	struct ivd_diag diag = {0};
	assert_int_equal(ivd_config_load(&config, path, &diag), -1);
	assert_true(has_error(&diag, 3, "bytes long"));
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

static bool no_backends(void *ctx, const char *section)
{
	(void)ctx;
	return strcmp(section, "tts.mock") == 0;
}

static void test_unknown_sections(void **state)
{
	(void)state;
	write_config("[server]\n[tts.mock]\n[tts.nothere]\n[colours]\nred = 1\n");
	struct ivd_config config;
	struct ivd_diag diag = {0};
	ivd_config_load(&config, path, &diag);
	ivd_config_check_unclaimed(&config, no_backends, NULL, &diag);
	assert_true(has_error(&diag, 3, "no plugin provides a backend named 'nothere'"));
	assert_true(has_error(&diag, 4, "unknown section [colours]"));
	assert_int_equal(diag.count, 2);
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct ivd_config config;
	struct ivd_diag diag = {0};
	assert_int_equal(ivd_config_load(&config, "/nonexistent/interviewd.ini", &diag), -1);
	assert_int_equal(diag.count, 1);
	assert_non_null(strstr(diag.lines[0], "/nonexistent/interviewd.ini: cannot open"));
	ivd_config_free(&config);
	ivd_diag_free(&diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_default_is_valid),
		cmocka_unit_test(test_values_and_defaults),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_long_line_is_an_error),
		cmocka_unit_test(test_unknown_sections),
		cmocka_unit_test(test_missing_file),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return failed;
}
