/* The WebSocket protocol's messages: parsing client messages and building server messages (docs/protocol.md). */
#include "ivd_protocol.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum ivd_client_msg_type type;
} client_types[] = {
	{"answer", IVD_MSG_ANSWER}, {"answer_audio_start", IVD_MSG_AUDIO_START},
	{"answer_audio_end", IVD_MSG_AUDIO_END}, {"skip", IVD_MSG_SKIP},
	{"repeat", IVD_MSG_REPEAT}, {"end", IVD_MSG_END},
};

static int fail(const char **code_out, const char *code, char *message, size_t size,
                const char *text)
{
	*code_out = code;
	snprintf(message, size, "%s", text);
	return -1;
}

int ivd_protocol_parse(const char *data, size_t len, struct ivd_client_msg *msg,
                       const char **error_code, char *error_message, size_t error_size)
{
	memset(msg, 0, sizeof *msg);
	cJSON *json = cJSON_ParseWithLength(data, len);
	if (!json)
		return fail(error_code, "bad_json", error_message, error_size,
		            "message is not valid JSON");
	msg->json = json;
	if (!cJSON_IsObject(json)) {
		ivd_client_msg_free(msg);
		return fail(error_code, "bad_json", error_message, error_size,
		            "message must be a JSON object");
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
	if (!cJSON_IsString(type)) {
		ivd_client_msg_free(msg);
		return fail(error_code, "bad_message", error_message, error_size,
		            "message needs a string field \"type\"");
	}
	for (size_t i = 0; i < sizeof client_types / sizeof client_types[0]; i++)
		if (strcmp(type->valuestring, client_types[i].name) == 0)
			msg->type = client_types[i].type;
	if (!msg->type) {
		char text[160];
		snprintf(text, sizeof text, "unknown message type \"%.64s\"", type->valuestring);
		ivd_client_msg_free(msg);
		return fail(error_code, "unknown_type", error_message, error_size, text);
	}
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(json, "index");
	if (index && !cJSON_IsNull(index)) {
		if (!cJSON_IsNumber(index) || index->valuedouble < 0 ||
		    index->valuedouble != floor(index->valuedouble) || index->valuedouble > 1e9) {
			ivd_client_msg_free(msg);
			return fail(error_code, "bad_message", error_message, error_size,
			            "\"index\" must be a whole number >= 0");
		}
		msg->has_index = true;
		msg->index = (int64_t)index->valuedouble;
	}
	if (msg->type == IVD_MSG_ANSWER) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(json, "text");
		if (!cJSON_IsString(text)) {
			ivd_client_msg_free(msg);
			return fail(error_code, "bad_message", error_message, error_size,
			            "\"answer\" needs a string field \"text\"");
		}
		msg->text = text->valuestring;
	}
	if (msg->type == IVD_MSG_AUDIO_START) {
		const cJSON *mime = cJSON_GetObjectItemCaseSensitive(json, "mime_type");
		if (mime && !cJSON_IsNull(mime)) {
			if (!cJSON_IsString(mime) || strlen(mime->valuestring) > 100) {
				ivd_client_msg_free(msg);
				return fail(error_code, "bad_message", error_message, error_size,
				            "\"mime_type\" must be a string of at most 100 bytes");
			}
			msg->mime_type = mime->valuestring;
		}
	}
	return 0;
}

void ivd_client_msg_free(struct ivd_client_msg *msg)
{
	cJSON_Delete(msg->json);
	memset(msg, 0, sizeof *msg);
}

cJSON *ivd_msg_new(const char *type)
{
	cJSON *object = cJSON_CreateObject();
	if (object && !cJSON_AddStringToObject(object, "type", type)) {
		cJSON_Delete(object);
		return NULL;
	}
	return object;
}

cJSON *ivd_msg_error(const char *code, const char *message)
{
	cJSON *object = ivd_msg_new("error");
	if (!object)
		return NULL;
	cJSON_AddStringToObject(object, "code", code);
	cJSON_AddStringToObject(object, "message", message);
	return object;
}

char *ivd_msg_finish(cJSON *object, size_t *len)
{
	if (!object)
		return NULL;
	char *text = cJSON_PrintUnformatted(object);
	cJSON_Delete(object);
	if (text)
		*len = strlen(text);
	return text;
}
