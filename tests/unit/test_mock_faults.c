/* Unit tests: the mock TTS backend's failure markers, error reports and MP3 pacing rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ivd_host.h"
#include "mock_faults.h"
#include "mock_pacing.h"

static void test_markers(void **state)
{
	(void)state;
	struct mock_fault fault = {IVD_ERRC_NONE, 0};
	assert_true(mock_fault_from_marker("Say this [[mock-fail:throttled]] please", &fault));
	assert_int_equal(fault.error_class, IVD_ERRC_THROTTLED);
	assert_int_equal(fault.after_bytes, 0);
	assert_true(mock_fault_from_marker("[[mock-fail:unavailable:after=2048]]", &fault));
	assert_int_equal(fault.error_class, IVD_ERRC_UNAVAILABLE);
	assert_int_equal(fault.after_bytes, 2048);
	assert_true(mock_fault_from_marker("[[mock-fail:nonsense]] [[mock-fail:bad_input]]", &fault));
	assert_int_equal(fault.error_class, IVD_ERRC_BAD_INPUT);

	fault.error_class = IVD_ERRC_NONE;
	assert_false(mock_fault_from_marker("no marker here", &fault));
	assert_false(mock_fault_from_marker("[[mock-fail:throttled", &fault));
	assert_false(mock_fault_from_marker("[[mock-fail:throttled:after=x]]", &fault));
	assert_false(mock_fault_from_marker("[[mock-fail:throttled:sometimes]]", &fault));
	assert_int_equal(fault.error_class, IVD_ERRC_NONE);
}

static void test_report(void **state)
{
	(void)state;
	struct ivd_error err = {0};
	mock_fault_report(ivd_host_api(), IVD_ERRC_CREDENTIALS, 512, "mid-stream", &err);
	assert_int_equal(err.error_class, IVD_ERRC_CREDENTIALS);
	assert_non_null(strstr(err.message, "credentials"));
	assert_non_null(strstr(err.detail, "after 512 audio bytes"));
	assert_int_equal(mock_fault_class_from_name("internal", 8), IVD_ERRC_INTERNAL);
	assert_int_equal(mock_fault_class_from_name("intern", 6), IVD_ERRC_NONE);
}

static void test_pacing_rate(void **state)
{
	(void)state;
	/* MPEG-2 Layer III, 48 kbit/s, 24 kHz: 6000 bytes per second. */
	const unsigned char mpeg2[] = {0xff, 0xf3, 0x64, 0xc4};
	assert_int_equal(mock_pacing_mp3_bytes_per_second(mpeg2, sizeof mpeg2), 6000);
	/* An ID3v2 tag of 4 bytes, then MPEG-1 Layer III at 128 kbit/s. */
	const unsigned char tagged[] = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x64};
	assert_int_equal(mock_pacing_mp3_bytes_per_second(tagged, sizeof tagged), 16000);
	const unsigned char noise[] = {1, 2, 3, 4, 5, 6};
	assert_int_equal(mock_pacing_mp3_bytes_per_second(noise, sizeof noise), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_pacing_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
