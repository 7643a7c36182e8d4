/* Unit tests: Polly option validation (endpoint, lexicons, sample rates) and the retry backoff policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "polly_config.h"
#include "polly_retry.h"

static void test_formats_and_rates(void **state)
{
	(void)state;
	assert_string_equal(polly_config_mime("mp3"), "audio/mpeg");
	assert_string_equal(polly_config_mime("ogg_vorbis"), "audio/ogg");
	assert_string_equal(polly_config_mime("pcm"), "audio/L16");
	assert_int_equal(polly_config_default_rate("neural", "mp3"), 24000);
	assert_int_equal(polly_config_default_rate("standard", "ogg_vorbis"), 22050);
	assert_int_equal(polly_config_default_rate("neural", "pcm"), 16000);
	assert_true(polly_config_rate_ok("mp3", 22050));
	assert_true(polly_config_rate_ok("ogg_vorbis", 48000));
	assert_false(polly_config_rate_ok("mp3", 11025));
	assert_true(polly_config_rate_ok("pcm", 8000));
	assert_false(polly_config_rate_ok("pcm", 24000));
}

static void test_lexicons(void **state)
{
	(void)state;
	char names[POLLY_LEXICONS_MAX][POLLY_LEXICON_NAME_MAX + 1];
	size_t n = 99;
	char why[256];
	assert_int_equal(polly_config_lexicons("", names, &n, why, sizeof why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(polly_config_lexicons(" techTerms, names2  acronyms ", names, &n, why, sizeof why), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "techTerms");
	assert_string_equal(names[1], "names2");
	assert_string_equal(names[2], "acronyms");
	assert_int_equal(polly_config_lexicons("a b c d e f", names, &n, why, sizeof why), -1);
	assert_non_null(strstr(why, "at most 5"));
	assert_int_equal(polly_config_lexicons("has-dash", names, &n, why, sizeof why), -1);
	assert_int_equal(polly_config_lexicons("abcdefghijklmnopqrstu", names, &n, why, sizeof why), -1);
}

static void test_endpoint(void **state)
{
	(void)state;
	char url[POLLY_ENDPOINT_MAX], host[POLLY_HOST_MAX], why[256];
	unsetenv("AWS_ENDPOINT_URL_POLLY");
	unsetenv("AWS_ENDPOINT_URL");
	assert_int_equal(polly_config_endpoint("", "ap-northeast-2", url, host, why, sizeof why), 0);
	assert_string_equal(url, "https://polly.ap-northeast-2.amazonaws.com");
	assert_string_equal(host, "polly.ap-northeast-2.amazonaws.com");
	assert_int_equal(polly_config_endpoint(NULL, "cn-northwest-1", url, host, why, sizeof why), 0);
	assert_string_equal(url, "https://polly.cn-northwest-1.amazonaws.com.cn");
	assert_int_equal(polly_config_endpoint("https://127.0.0.1:8443/", "x", url, host, why, sizeof why), 0);
	assert_string_equal(url, "https://127.0.0.1:8443");
	assert_string_equal(host, "127.0.0.1:8443");
	setenv("AWS_ENDPOINT_URL", "https://generic.example:9000", 1);
	assert_int_equal(polly_config_endpoint("", "x", url, host, why, sizeof why), 0);
	assert_string_equal(host, "generic.example:9000");
	setenv("AWS_ENDPOINT_URL_POLLY", "https://polly.example", 1);
	assert_int_equal(polly_config_endpoint("", "x", url, host, why, sizeof why), 0);
	assert_string_equal(url, "https://polly.example");
	unsetenv("AWS_ENDPOINT_URL_POLLY");
	unsetenv("AWS_ENDPOINT_URL");
	/* Plain http only on loopback; no paths. */
	assert_int_equal(polly_config_endpoint("http://polly.example", "x", url, host, why, sizeof why), -1);
	assert_non_null(strstr(why, "https"));
	assert_int_equal(polly_config_endpoint("http://127.0.0.1:8080", "x", url, host, why, sizeof why), 0);
	assert_int_equal(polly_config_endpoint("https://polly.example/prefix", "x", url, host, why, sizeof why), -1);
}

static void test_backoff(void **state)
{
	(void)state;
	/* Full jitter: random * min(50 ms * 2^(n-1), 20 s). */
	assert_int_equal(polly_retry_delay_ms(1, 0.0), 0);
	assert_int_equal(polly_retry_delay_ms(1, 0.5), 25);
	assert_int_equal(polly_retry_delay_ms(2, 0.5), 50);
	assert_int_equal(polly_retry_delay_ms(3, 0.999), 199);
	assert_int_equal(polly_retry_delay_ms(20, 0.5), 10000);
	assert_true(polly_retry_delay_ms(30, 0.9999) < 20000);
	for (int i = 0; i < 100; i++) {
		double r = polly_retry_random();
		assert_true(r >= 0.0 && r < 1.0);
	}
}

static void test_quota(void **state)
{
	(void)state;
	struct polly_retry_quota q;
	polly_retry_quota_init(&q);
	int retries = 0;
	while (polly_retry_quota_acquire(&q, false) > 0)
		retries++;
	assert_int_equal(retries, POLLY_RETRY_QUOTA_INITIAL / POLLY_RETRY_COST);
	/* Empty: no retry until successes refill it. */
	assert_int_equal(polly_retry_quota_acquire(&q, false), 0);
	for (int i = 0; i < POLLY_RETRY_COST; i++)
		polly_retry_quota_success(&q, 0);
	assert_int_equal(polly_retry_quota_acquire(&q, false), POLLY_RETRY_COST);
	assert_int_equal(polly_retry_quota_acquire(&q, true), 0); /* a timeout retry costs more */
	polly_retry_quota_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_and_rates),
		cmocka_unit_test(test_lexicons),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_quota),
	};
	return cmocka_run_group_tests_name("polly_config", tests, NULL, NULL);
}
