/* The state of one Polly backend instance (polly-neural or polly-standard), shared by its parts. */
#ifndef POLLY_BACKEND_H
#define POLLY_BACKEND_H

#include <interviewd/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "polly_config.h"
#include "polly_credentials.h"
#include "polly_http.h"
#include "polly_retry.h"

/* Immutable after create() except the atomics, the provider, the pool and the quota, which are
 * thread-safe themselves: many syntheses run on one instance at once. */
struct polly_backend {
	const struct ivd_host_api *api;
	struct ivd_host *host;
	const char *name;         /* "polly-neural" */
	const char *engine;       /* "neural" or "standard" */
	char region[POLLY_REGION_MAX];
	char endpoint[POLLY_ENDPOINT_MAX];
	char host_header[POLLY_HOST_MAX];
	const char *voice;
	const char *language;     /* NULL when unset */
	const char *format;       /* OutputFormat */
	const char *mime;
	uint32_t sample_rate;     /* effective */
	bool ssml;                /* text_type = ssml */
	const char *speaking_rate; /* "" when unset */
	char lexicons[POLLY_LEXICONS_MAX][POLLY_LEXICON_NAME_MAX + 1];
	size_t n_lexicons;
	bool check_voice;
	unsigned max_attempts;

	struct polly_http *http;
	struct polly_cred_provider *credentials;
	struct polly_retry_quota quota;
	atomic_uint_fast64_t total_requests;
	atomic_uint_fast64_t total_billed;
	atomic_uint_fast64_t total_syntheses;
};

/* polly_synth.c */
int polly_synthesize(void *backend, const struct ivd_tts_request *request, struct ivd_audio_sink *sink,
                     struct ivd_tts_result *result, struct ivd_error *err);
/* polly_check.c */
int polly_check(void *backend, struct ivd_error *err);

#endif
