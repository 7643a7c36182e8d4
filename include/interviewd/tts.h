/* interviewd plugin ABI: the text-to-speech backend interface (kind IVD_KIND_TTS). */
/* SPDX-License-Identifier: MIT */
#ifndef IVD_TTS_H
#define IVD_TTS_H

/* Include <interviewd/plugin.h>, not this file. */
#include <interviewd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One synthesis request.  Borrowed for the duration of synthesize(). */
struct ivd_tts_request {
	uint32_t struct_size;
	const char *text;             /* UTF-8, never NULL, may be long: split it if the provider must */
	enum ivd_text_type text_type;
	const char *voice;            /* NULL: the backend's configured voice */
	const char *language;         /* BCP-47 code, NULL: the backend's configured language */
	const char *session_id;       /* for log lines only */
};

/* What a backend will produce with its configuration, for the client's session_start message.
 * Filled by describe(); strings point into the backend's own storage (valid until destroy()). */
struct ivd_tts_voice_info {
	uint32_t struct_size;
	const char *voice;      /* e.g. "Seoyeon" */
	const char *language;   /* e.g. "ko-KR", or NULL */
	const char *mime_type;  /* e.g. "audio/mpeg" */
	uint32_t sample_rate;   /* Hz, e.g. 24000 */
};

/* Statistics a backend may report per synthesis (e.g. billed characters). */
struct ivd_tts_result {
	uint32_t struct_size;
	uint64_t billed_characters; /* 0 if the provider does not bill per character */
	uint32_t requests;          /* provider requests made, retries included */
};

struct ivd_tts_iface {
	uint32_t struct_size; /* sizeof(struct ivd_tts_iface) as the plugin was built */

	/* [load] Create a backend instance from its validated options.  Store what you need from
	 * `ctx` (it stays valid until destroy).  Return IVD_OK and set *backend, or IVD_ERROR with
	 * `err` filled (class IVD_ERRC_CONFIG for bad options): the daemon refuses to start. */
	int (*create)(const struct ivd_backend_context *ctx, void **backend, struct ivd_error *err);

	/* [load] Destroy the instance.  No synthesis is running when it is called. */
	void (*destroy)(void *backend);

	/* [load] Report the configured voice and audio format.  Return IVD_OK. */
	int (*describe)(void *backend, struct ivd_tts_voice_info *info);

	/* [worker] Synthesize `request` and stream the audio to `sink` as it is produced:
	 *   1. call api->sink_format() once, before any audio;
	 *   2. call api->sink_write() for each block, in order, as soon as it arrives (never collect
	 *      the whole audio first); it may block while the client catches up;
	 *   3. return IVD_OK when all audio was written.
	 * Cancellation: when sink_write/sink_wait return IVD_CANCELLED, or sink_cancelled() becomes
	 * true, stop within 100 ms and return IVD_CANCELLED.  Never sleep without sink_wait().
	 * Errors: return IVD_ERROR with `err` filled.  If some audio was already written, the host
	 * ends the question with an error after that audio; never write the same audio twice.
	 * `result` (may be NULL) receives statistics.  Many calls run concurrently on one instance. */
	int (*synthesize)(void *backend, const struct ivd_tts_request *request, struct ivd_audio_sink *sink,
	                  struct ivd_tts_result *result, struct ivd_error *err);

	/* [load] Optional (may be NULL): a deeper check for --check-config, such as asking the provider
	 * whether the voice exists.  May use the network.  Return IVD_OK or IVD_ERROR with `err`. */
	int (*check)(void *backend, struct ivd_error *err);
};

#ifdef __cplusplus
}
#endif

#endif /* IVD_TTS_H */
