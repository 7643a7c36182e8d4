/* Unit tests: Polly error responses and transport failures mapped to classes, client messages and fixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "polly_errors.h"

static struct polly_error_verdict classify(long status, const char *type, const char *body)
{
	struct polly_failure f = {.http_status = status, .error_type = type, .body = body,
	                          .body_len = body ? strlen(body) : 0};
	struct polly_error_verdict v;
	polly_error_classify(&f, &v);
	return v;
}

static void test_sanitize(void **state)
{
	(void)state;
	char code[64];
	polly_error_sanitize_code("ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", code,
	                          sizeof code);
	assert_string_equal(code, "ThrottlingException");
	polly_error_sanitize_code("com.amazonaws.polly#InvalidSsmlException", code, sizeof code);
	assert_string_equal(code, "InvalidSsmlException");
	polly_error_sanitize_code(NULL, code, sizeof code);
	assert_string_equal(code, "");
}

static void test_throttling_and_server_errors(void **state)
{
	(void)state;
	struct polly_error_verdict v = classify(400, "ThrottlingException:http://internal.amazon.com/x",
	                                        "{\"message\":\"Rate exceeded\"}");
	assert_int_equal(v.error_class, IVD_ERRC_THROTTLED);
	assert_true(v.retryable);
	assert_string_equal(v.aws_message, "Rate exceeded");
	assert_string_equal(v.client_message, "The speech service is busy; please try again.");

	v = classify(429, NULL, NULL);
	assert_int_equal(v.error_class, IVD_ERRC_THROTTLED);
	assert_true(v.retryable);

	v = classify(402, "ServiceQuotaExceededException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_THROTTLED);

	v = classify(500, "ServiceFailureException", "{\"Message\":\"internal\"}");
	assert_int_equal(v.error_class, IVD_ERRC_UNAVAILABLE);
	assert_true(v.retryable);
	assert_string_equal(v.aws_message, "internal");
	assert_string_equal(v.client_message, "The speech service is unavailable.");

	v = classify(503, NULL, "<html>Service Unavailable</html>");
	assert_int_equal(v.error_class, IVD_ERRC_UNAVAILABLE);
	assert_true(v.retryable);
	assert_string_equal(v.code, "HTTP 503");
	assert_string_equal(v.aws_message, "<html>Service Unavailable</html>");
}

static void test_transport(void **state)
{
	(void)state;
	struct polly_failure f = {.transport_failed = true, .timed_out = true, .transport_why = "Operation timed out"};
	struct polly_error_verdict v;
	polly_error_classify(&f, &v);
	assert_int_equal(v.error_class, IVD_ERRC_UNAVAILABLE);
	assert_true(v.retryable);
	assert_non_null(strstr(v.fix, "timeout_ms"));
	f.timed_out = false;
	f.transport_why = "Could not connect";
	polly_error_classify(&f, &v);
	assert_true(v.retryable);
	assert_string_equal(v.code, "ConnectionError");
}

static void test_credentials(void **state)
{
	(void)state;
	struct polly_error_verdict v = classify(400, "AccessDeniedException:http://x",
	                                        "{\"message\":\"User is not authorized to perform: polly:SynthesizeSpeech\"}");
	assert_int_equal(v.error_class, IVD_ERRC_CREDENTIALS);
	assert_false(v.retryable);
	assert_non_null(strstr(v.fix, "polly:SynthesizeSpeech"));
	assert_string_equal(v.client_message, "The speech service refused our credentials.");

	v = classify(403, "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/",
	             "{\"message\":\"The security token included in the request is invalid.\"}");
	assert_int_equal(v.error_class, IVD_ERRC_CREDENTIALS);
	v = classify(403, "InvalidSignatureException", "{\"message\":\"The request signature we calculated does not match\"}");
	assert_int_equal(v.error_class, IVD_ERRC_CREDENTIALS);
	assert_non_null(strstr(v.fix, "clock"));
	v = classify(403, "ExpiredTokenException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_CREDENTIALS);
	assert_true(v.refresh_credentials);
	assert_false(v.retryable);
	v = classify(403, NULL, NULL);
	assert_int_equal(v.error_class, IVD_ERRC_CREDENTIALS);
}

static void test_input_and_config(void **state)
{
	(void)state;
	struct polly_error_verdict v = classify(400, "InvalidSsmlException", "{\"message\":\"Invalid SSML request\"}");
	assert_int_equal(v.error_class, IVD_ERRC_BAD_INPUT);
	assert_false(v.retryable);
	assert_non_null(strstr(v.fix, "&amp;"));
	v = classify(400, "TextLengthExceededException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_BAD_INPUT);
	v = classify(400, "SsmlMarksNotSupportedForTextTypeException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_BAD_INPUT);
	v = classify(400, "InvalidSampleRateException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_CONFIG);
	v = classify(400, "ValidationException", "{\"message\":\"This voice does not support the selected engine: neural\"}");
	assert_int_equal(v.error_class, IVD_ERRC_CONFIG);
	assert_non_null(strstr(v.fix, "voice"));
	v = classify(400, "EngineNotSupportedException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_CONFIG);
	v = classify(404, "LexiconNotFoundException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_CONFIG);
	v = classify(400, "LanguageNotSupportedException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_CONFIG);
	/* Code from the body when the header is missing. */
	v = classify(400, NULL, "{\"__type\":\"com.amazonaws.polly#InvalidSsmlException\",\"message\":\"bad\"}");
	assert_int_equal(v.error_class, IVD_ERRC_BAD_INPUT);
	assert_string_equal(v.code, "InvalidSsmlException");
	/* Anything else is internal and not retried. */
	v = classify(400, "SomethingNewException", "{}");
	assert_int_equal(v.error_class, IVD_ERRC_INTERNAL);
	assert_false(v.retryable);
}

static void test_messages_are_sanitised(void **state)
{
	(void)state;
	struct polly_error_verdict v = classify(400, "InvalidSsmlException", "{\"message\":\"line1\\nline2\\u0007\"}");
	assert_null(strchr(v.aws_message, '\n'));
	assert_null(strchr(v.aws_message, '\a'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_throttling_and_server_errors),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_input_and_config),
		cmocka_unit_test(test_messages_are_sanitised),
	};
	return cmocka_run_group_tests_name("polly_errors", tests, NULL, NULL);
}
