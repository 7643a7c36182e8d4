/* interviewd plugin ABI: the question source interface (kind IVD_KIND_QUESTIONS). */
/* SPDX-License-Identifier: MIT */
#ifndef IVD_QUESTIONS_H
#define IVD_QUESTIONS_H

/* Include <interviewd/plugin.h>, not this file. */
#include <interviewd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One key=value parameter of the session, from the WebSocket URL's query string
 * (e.g. ws://host/api/v1/ws/interview?lang=ko&role=backend).  Borrowed. */
struct ivd_session_param {
	const char *key;
	const char *value;
};

struct ivd_session_info {
	uint32_t struct_size;
	const char *session_id;                 /* 32 hex characters */
	const struct ivd_session_param *params; /* n_params entries */
	uint32_t n_params;
};

enum ivd_answer_kind {
	IVD_ANSWER_TEXT = 1,    /* `text` holds the answer */
	IVD_ANSWER_AUDIO = 2,   /* `audio_path` names the stored recording, `text` is NULL */
	IVD_ANSWER_SKIPPED = 3, /* the candidate skipped the question */
};

/* A previous answer, given back to next() so an adaptive source can use it.  Borrowed. */
struct ivd_answer {
	uint32_t struct_size;
	const char *question_id;
	const char *question_text;
	enum ivd_answer_kind kind;
	const char *text;         /* IVD_ANSWER_TEXT */
	const char *audio_path;   /* IVD_ANSWER_AUDIO: absolute path of the stored file */
	const char *audio_mime;   /* IVD_ANSWER_AUDIO: as the client declared it, may be NULL */
};

/* A question produced by next().  The plugin allocates `id` and `text` with api->strdup (or
 * api->alloc); the host frees them with api->free. */
struct ivd_question {
	uint32_t struct_size;     /* set by the host before the call */
	char *id;                 /* stable id, e.g. "q3" or a bank key; NULL: the host numbers it */
	char *text;               /* UTF-8 question text, required */
	enum ivd_text_type text_type; /* 0 or IVD_TEXT_PLAIN for plain text, IVD_TEXT_SSML */
};

struct ivd_questions_iface {
	uint32_t struct_size; /* sizeof(struct ivd_questions_iface) as the plugin was built */

	/* [load] Create a source instance from its validated options (see tts.h create()). */
	int (*create)(const struct ivd_backend_context *ctx, void **source, struct ivd_error *err);
	/* [load] Destroy it.  No sequence is open when it is called. */
	void (*destroy)(void *source);

	/* [worker] Open the question sequence of one session.  May block.  Set *sequence.
	 * Returns IVD_OK or IVD_ERROR with `err`. */
	int (*open)(void *source, const struct ivd_session_info *session, void **sequence,
	            struct ivd_error *err);

	/* [worker] How many questions the sequence will give, or -1 if unknown (adaptive). */
	int32_t (*count)(void *sequence);

	/* [worker] Produce the next question into `question`, given every answer so far (in order;
	 * `answers` is NULL when n_answers is 0).  Returns IVD_OK with *question filled, IVD_END when
	 * the interview has no more questions, or IVD_ERROR with `err`.  Calls for one sequence never
	 * overlap; calls for different sequences may run concurrently. */
	int (*next)(void *sequence, const struct ivd_answer *answers, uint32_t n_answers,
	            struct ivd_question *question, struct ivd_error *err);

	/* [worker] Close the sequence and free it. */
	void (*close)(void *sequence);
};

#ifdef __cplusplus
}
#endif

#endif /* IVD_QUESTIONS_H */
