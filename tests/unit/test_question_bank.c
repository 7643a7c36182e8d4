/* Unit tests: the file question source's bank parsing (text and JSON, UTF-8 and error lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ivd_host.h"
#include "question_bank.h"
#include "utf8_check.h"

static char bank_path[64];

static struct question_bank *load(const char *name_suffix, const char *content,
                                  enum question_bank_format format, struct ivd_error *err)
{
	snprintf(bank_path, sizeof bank_path, "/tmp/ivd-bank-XXXXXX%s", name_suffix);
	int fd = mkstemps(bank_path, (int)strlen(name_suffix));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	memset(err, 0, sizeof *err);
	struct question_bank *bank = question_bank_load(ivd_host_api(), bank_path, format, err);
	unlink(bank_path);
	return bank;
}

static void test_text_bank(void **state)
{
	(void)state;
	struct ivd_error err;
	struct question_bank *bank = load(".txt",
	                                  "# comment\n\n  First question?  \r\n\t# indented comment\n"
	                                  "Second; with a semicolon\nlast without newline",
	                                  QUESTION_BANK_AUTO, &err);
	assert_non_null(bank);
	assert_int_equal(bank->n_items, 3);
	assert_string_equal(bank->items[0].id, "q1");
	assert_string_equal(bank->items[0].text, "First question?");
	assert_string_equal(bank->items[1].text, "Second; with a semicolon");
	assert_string_equal(bank->items[2].id, "q3");
	assert_string_equal(bank->items[2].text, "last without newline");
	assert_false(bank->items[0].ssml);
	question_bank_free(bank);
}

static void test_json_bank(void **state)
{
	(void)state;
	struct ivd_error err;
	struct question_bank *bank =
		load(".json",
		     "{\"questions\":[{\"id\":\"intro\",\"text\":\"\xec\x95\x88\xeb\x85\x95?\"},"
		     "\"plain string\",{\"text\":\"<speak>Hi</speak>\",\"ssml\":true}]}",
		     QUESTION_BANK_AUTO, &err);
	assert_non_null(bank);
	assert_int_equal(bank->n_items, 3);
	assert_string_equal(bank->items[0].id, "intro");
	assert_string_equal(bank->items[0].text, "\xec\x95\x88\xeb\x85\x95?");
	assert_string_equal(bank->items[1].id, "q2");
	assert_true(bank->items[2].ssml);
	question_bank_free(bank);

	bank = load(".txt", "[\"forced json\"]", QUESTION_BANK_JSON, &err);
	assert_non_null(bank);
	assert_string_equal(bank->items[0].text, "forced json");
	question_bank_free(bank);
}

static void expect_error(const char *suffix, const char *content, const char *fragment)
{
	struct ivd_error err;
	struct question_bank *bank = load(suffix, content, QUESTION_BANK_AUTO, &err);
	assert_null(bank);
	assert_int_equal(err.error_class, IVD_ERRC_CONFIG);
	if (!strstr(err.detail, fragment))
		fail_msg("detail '%s' lacks '%s'", err.detail, fragment);
	assert_non_null(strstr(err.detail, bank_path)); /* names the file */
}

static void test_bank_errors(void **state)
{
	(void)state;
	expect_error(".txt", "ok\nbad \xff byte\n", ":2: not valid UTF-8");
	expect_error(".txt", "ok\n\xed\xa0\x80 surrogate\n", ":2: not valid UTF-8");
	expect_error(".txt", "# only comments\n\n", "no questions");
	expect_error(".json", "[\n\"a\",\n\"b\"\n,,]", ":4: not valid JSON");
	expect_error(".json", "{\"questions\": 3}", "expected a JSON array");
	expect_error(".json", "[{\"id\":\"a\",\"text\":\"x\"},{\"id\":\"a\",\"text\":\"y\"}]",
	             "question 2 repeats an \"id\"");
	expect_error(".json", "[{\"id\":\"a\"}]", "question 1 needs a non-empty \"text\"");
	expect_error(".json", "[{\"text\":\"x\",\"ssml\":\"yes\"}]", "\"ssml\" that is not true or false");
}

static void test_utf8(void **state)
{
	(void)state;
	const unsigned char good[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	assert_int_equal(utf8_valid_prefix(good, sizeof good - 1), sizeof good - 1);
	const unsigned char overlong[] = "ab\xc0\xaf";
	assert_int_equal(utf8_valid_prefix(overlong, 4), 2);
	const unsigned char truncated[] = "ab\xe2\x82";
	assert_int_equal(utf8_valid_prefix(truncated, 4), 2);
	const unsigned char too_high[] = "\xf4\x90\x80\x80";
	assert_int_equal(utf8_valid_prefix(too_high, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_bank),
		cmocka_unit_test(test_json_bank),
		cmocka_unit_test(test_bank_errors),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
