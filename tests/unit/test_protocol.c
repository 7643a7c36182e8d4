/* Unit tests: parsing client messages into actions or protocol error codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ivd_protocol.h"

static const char *parse_error(const char *text)
{
	struct ivd_client_msg msg;
	const char *code = NULL;
	char message[200];
	if (ivd_protocol_parse(text, strlen(text), &msg, &code, message, sizeof message) == 0) {
		ivd_client_msg_free(&msg);
		return "ok";
	}
	assert_true(message[0] != '\0');
	return code;
}

static void test_valid_messages(void **state)
{
	(void)state;
	struct ivd_client_msg msg;
	const char *code;
	char message[200];
	const char *answer = "{\"type\":\"answer\",\"text\":\"\xec\x95\x88\xeb\x85\x95\",\"index\":2}";
	assert_int_equal(ivd_protocol_parse(answer, strlen(answer), &msg, &code, message, sizeof message), 0);
	assert_int_equal(msg.type, IVD_MSG_ANSWER);
	assert_string_equal(msg.text, "\xec\x95\x88\xeb\x85\x95");
	assert_true(msg.has_index);
	assert_int_equal(msg.index, 2);
	ivd_client_msg_free(&msg);

	const char *start = "{\"type\":\"answer_audio_start\",\"mime_type\":\"audio/webm\"}";
	assert_int_equal(ivd_protocol_parse(start, strlen(start), &msg, &code, message, sizeof message), 0);
	assert_int_equal(msg.type, IVD_MSG_AUDIO_START);
	assert_string_equal(msg.mime_type, "audio/webm");
	assert_false(msg.has_index);
	ivd_client_msg_free(&msg);

	assert_string_equal(parse_error("{\"type\":\"skip\"}"), "ok");
	assert_string_equal(parse_error("{\"type\":\"repeat\"}"), "ok");
	assert_string_equal(parse_error("{\"type\":\"end\"}"), "ok");
	assert_string_equal(parse_error("{\"type\":\"answer_audio_end\"}"), "ok");
}

static void test_not_nul_terminated(void **state)
{
	(void)state;
	/* Frames are not NUL-terminated: only `len` bytes may be read. */
	const char buffer[] = "{\"type\":\"skip\"}GARBAGE";
	struct ivd_client_msg msg;
	const char *code;
	char message[200];
	assert_int_equal(ivd_protocol_parse(buffer, 15, &msg, &code, message, sizeof message), 0);
	assert_int_equal(msg.type, IVD_MSG_SKIP);
	ivd_client_msg_free(&msg);
}

static void test_errors(void **state)
{
	(void)state;
	assert_string_equal(parse_error("hello"), "bad_json");
	assert_string_equal(parse_error(""), "bad_json");
	assert_string_equal(parse_error("[1,2]"), "bad_json");
	assert_string_equal(parse_error("\"answer\""), "bad_json");
	assert_string_equal(parse_error("{\"text\":\"hi\"}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":5}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":\"dance\"}"), "unknown_type");
	assert_string_equal(parse_error("{\"type\":\"answer\"}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":\"answer\",\"text\":7}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":\"skip\",\"index\":-1}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":\"skip\",\"index\":1.5}"), "bad_message");
	assert_string_equal(parse_error("{\"type\":\"answer_audio_start\",\"mime_type\":3}"), "bad_message");
}

static void test_server_messages(void **state)
{
	(void)state;
	size_t len = 0;
	char *text = ivd_msg_finish(ivd_msg_error("bad_json", "message is not valid JSON"), &len);
	assert_string_equal(text, "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"message is not valid JSON\"}");
	assert_int_equal(len, strlen(text));
	cJSON_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_messages),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_server_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
