/* The WebSocket protocol's messages: parsing client messages and building server messages (docs/protocol.md). */
#ifndef IVD_PROTOCOL_H
#define IVD_PROTOCOL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IVD_PROTOCOL_VERSION 1

enum ivd_client_msg_type {
	IVD_MSG_ANSWER = 1,
	IVD_MSG_AUDIO_START,
	IVD_MSG_AUDIO_END,
	IVD_MSG_SKIP,
	IVD_MSG_REPEAT,
	IVD_MSG_END,
};

struct ivd_client_msg {
	enum ivd_client_msg_type type;
	const char *text;      /* IVD_MSG_ANSWER; points into `json` */
	const char *mime_type; /* IVD_MSG_AUDIO_START, may be NULL; points into `json` */
	bool has_index;
	int64_t index;
	cJSON *json;           /* owns the strings above */
};

/* Parse one text message.  Returns 0, or -1 with an error code ("bad_json", "bad_message",
 * "unknown_type") and a human message. */
int ivd_protocol_parse(const char *data, size_t len, struct ivd_client_msg *msg,
                       const char **error_code, char *error_message, size_t error_size);
void ivd_client_msg_free(struct ivd_client_msg *msg);

/* Server messages: each returns a new object with "type" set (NULL if out of memory). */
cJSON *ivd_msg_new(const char *type);
cJSON *ivd_msg_error(const char *code, const char *message);
/* Serialize and free; returns a malloc'ed string (free with cJSON_free) or NULL. */
char *ivd_msg_finish(cJSON *object, size_t *len);

#endif
