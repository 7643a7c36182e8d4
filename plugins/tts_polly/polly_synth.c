/* Polly synthesis: request bodies, per-piece requests with retries, audio streamed to the sink. */
#include "polly_backend.h"
#include "polly_client.h"
#include "polly_errors.h"
#include "polly_text.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* State of one synthesis, shared with the HTTP callbacks. */
struct synth {
	struct polly_backend *b;
	struct ivd_audio_sink *sink;
	const char *voice;
	const char *language;
	const char *session;
	bool cancelled;
	uint64_t audio_bytes;         /* written to the sink, all pieces */
	uint64_t piece_bytes;         /* written to the sink by the current request */
	uint64_t first_byte_ms;       /* since the synthesis started, 0 until the first byte */
	uint64_t started_ms;
	uint32_t requests;
	uint64_t billed;
	bool any_reused;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int on_audio(void *user, const void *data, size_t len)
{
	struct synth *s = user;
	if (len == 0)
		return 0;
	if (s->b->api->sink_write(s->sink, data, len) != IVD_OK) {
		s->cancelled = true;
		return -1;
	}
	if (s->audio_bytes == 0)
		s->first_byte_ms = now_ms() - s->started_ms;
	s->audio_bytes += len;
	s->piece_bytes += len;
	return 0;
}

static bool should_abort(void *user)
{
	struct synth *s = user;
	if (s->b->api->sink_cancelled(s->sink))
		s->cancelled = true;
	return s->cancelled;
}

/* The SynthesizeSpeech JSON body (heap string), or NULL. */
static char *build_body(const struct polly_backend *b, const char *text, bool ssml, const char *voice,
                        const char *language)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	char rate[16];
	snprintf(rate, sizeof rate, "%" PRIu32, b->sample_rate);
	bool ok = cJSON_AddStringToObject(root, "Engine", b->engine) &&
	          (!language || cJSON_AddStringToObject(root, "LanguageCode", language)) &&
	          cJSON_AddStringToObject(root, "OutputFormat", b->format) &&
	          cJSON_AddStringToObject(root, "SampleRate", rate) && cJSON_AddStringToObject(root, "Text", text) &&
	          cJSON_AddStringToObject(root, "TextType", ssml ? "ssml" : "text") &&
	          cJSON_AddStringToObject(root, "VoiceId", voice);
	if (ok && b->n_lexicons > 0) {
		cJSON *names = cJSON_AddArrayToObject(root, "LexiconNames");
		for (size_t i = 0; names && i < b->n_lexicons; i++)
			cJSON_AddItemToArray(names, cJSON_CreateString(b->lexicons[i]));
		ok = names != NULL;
	}
	char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return body;
}

static int fail(struct synth *s, struct ivd_error *err, enum ivd_error_class error_class, const char *message,
                const char *detail)
{
	s->b->api->error_set(err, error_class, message, "%s", detail);
	return IVD_ERROR;
}

/* One piece: send it, retrying per the standard policy while none of its audio was written. */
static int synthesize_piece(struct synth *s, const char *text, bool ssml, size_t index, size_t n_pieces,
                            struct ivd_error *err)
{
	struct polly_backend *b = s->b;
	const struct ivd_host_api *api = b->api;
	char *body = build_body(b, text, ssml, s->voice, s->language);
	struct polly_http_exchange ex;
	bool ex_ready = polly_http_exchange_init(&ex);
	if (!body || !ex_ready) {
		free(body);
		if (ex_ready)
			polly_http_exchange_done(&ex);
		return fail(s, err, IVD_ERRC_INTERNAL, polly_error_client_message(IVD_ERRC_INTERNAL), "out of memory");
	}
	ex.on_data = on_audio;
	ex.should_abort = should_abort;
	ex.user = s;
	int status = IVD_ERROR;
	int last_cost = 0;
	bool refreshed = false;
	char detail[IVD_ERROR_DETAIL_MAX];
	for (unsigned attempt = 1;; attempt++) {
		if (should_abort(s)) {
			status = IVD_CANCELLED;
			break;
		}
		s->piece_bytes = 0;
		char why[POLLY_WHY_MAX] = "";
		enum polly_send_status sent = polly_client_send(b, "POST", "/v1/speech", NULL, body, strlen(body), &ex, why,
		                                                sizeof why);
		if (sent == POLLY_SEND_NO_CREDENTIALS) {
			snprintf(detail, sizeof detail, "no usable AWS credentials: %s", why);
			status = fail(s, err, IVD_ERRC_CREDENTIALS, polly_error_client_message(IVD_ERRC_CREDENTIALS), detail);
			break;
		}
		if (sent == POLLY_SEND_INTERNAL) {
			status = fail(s, err, IVD_ERRC_INTERNAL, polly_error_client_message(IVD_ERRC_INTERNAL), why);
			break;
		}
		s->requests++;
		if (ex.reused_connection)
			s->any_reused = true;
		/* Polly bills a request once it answered 200, even if the stream then broke or we
		 * stopped reading it. */
		if (ex.status >= 200 && ex.status < 300 && ex.request_characters > 0)
			s->billed += (uint64_t)ex.request_characters;
		if (s->cancelled || (ex.aborted && should_abort(s))) {
			status = IVD_CANCELLED;
			break;
		}
		if (sent == POLLY_SEND_DONE && ex.status >= 200 && ex.status < 300) {
			polly_retry_quota_success(&b->quota, last_cost);
			status = IVD_OK;
			break;
		}
		if (s->piece_bytes > 0) {
			/* The stream broke after audio reached the sink: never retry (it would repeat audio). */
			snprintf(detail, sizeof detail,
			         "audio stream from Polly broke after %" PRIu64 " bytes (piece %zu of %zu, request id %s, "
			         "attempt %u): %s; not retried because audio was already sent to the client",
			         s->piece_bytes, index + 1, n_pieces, ex.request_id[0] ? ex.request_id : "-", attempt,
			         ex.transport_why[0] ? ex.transport_why : "connection closed");
			status = fail(s, err, IVD_ERRC_UNAVAILABLE, "The speech service stopped in the middle of the audio.",
			              detail);
			break;
		}
		struct polly_error_verdict verdict;
		polly_client_classify(sent, &ex, &verdict);
		if (verdict.refresh_credentials && !refreshed && attempt < b->max_attempts) {
			refreshed = true;
			polly_cred_provider_invalidate(b->credentials);
			api->log(b->host, IVD_LOG_INFO, "session %s: %s from Polly (request id %s): fetching new credentials",
			         s->session, verdict.code, ex.request_id[0] ? ex.request_id : "-");
			continue;
		}
		int cost = 0;
		if (verdict.retryable && attempt < b->max_attempts)
			cost = polly_retry_quota_acquire(&b->quota, ex.timed_out);
		if (cost > 0) {
			last_cost = cost;
			uint32_t delay = polly_retry_delay_ms(attempt, polly_retry_random());
			api->log(b->host, IVD_LOG_DEBUG,
			         "session %s: attempt %u of %u failed (%s, HTTP %ld, request id %s); retrying in %" PRIu32 " ms",
			         s->session, attempt, b->max_attempts, verdict.code, ex.status,
			         ex.request_id[0] ? ex.request_id : "-", delay);
			if (delay > 0 && api->sink_wait(s->sink, delay) != IVD_OK) {
				status = IVD_CANCELLED;
				break;
			}
			continue;
		}
		snprintf(detail, sizeof detail,
		         "%s%s%s (HTTP %ld, request id %s, attempt %u of %u%s; voice %s, engine %s, region %s). Fix: %s",
		         verdict.code, verdict.aws_message[0] ? ": " : "", verdict.aws_message, ex.status,
		         ex.request_id[0] ? ex.request_id : "-", attempt, b->max_attempts,
		         verdict.retryable && attempt < b->max_attempts ? ", retry quota exhausted" : "", s->voice, b->engine,
		         b->region, verdict.fix);
		status = fail(s, err, verdict.error_class, verdict.client_message, detail);
		break;
	}
	free(body);
	polly_http_exchange_done(&ex);
	return status;
}

int polly_synthesize(void *backend, const struct ivd_tts_request *request, struct ivd_audio_sink *sink,
                     struct ivd_tts_result *result, struct ivd_error *err)
{
	struct polly_backend *b = backend;
	const struct ivd_host_api *api = b->api;
	struct synth s = {
		.b = b,
		.sink = sink,
		.voice = request->voice && *request->voice ? request->voice : b->voice,
		.language = request->language && *request->language ? request->language : b->language,
		.session = request->session_id ? request->session_id : "-",
		.started_ms = now_ms(),
	};
	bool ssml = request->text_type == IVD_TEXT_SSML || b->ssml;
	char *wrapped = NULL;
	const char *text = request->text ? request->text : "";
	if (!ssml && b->speaking_rate[0]) {
		wrapped = polly_text_wrap_rate(text, b->speaking_rate);
		if (!wrapped) {
			api->error_set(err, IVD_ERRC_BAD_INPUT, polly_error_client_message(IVD_ERRC_BAD_INPUT),
			               "text of %zu bytes is too long to wrap in SSML", strlen(text));
			return IVD_ERROR;
		}
		text = wrapped;
		ssml = true;
	}
	struct polly_text_pieces pieces;
	const char *why = NULL;
	if (polly_text_split(text, ssml, POLLY_TEXT_MAX_BILLED, POLLY_TEXT_MAX_TOTAL, &pieces, &why) != 0) {
		api->error_set(err, IVD_ERRC_BAD_INPUT, polly_error_client_message(IVD_ERRC_BAD_INPUT),
		               "cannot split %zu bytes of %s for Polly: %s", strlen(text), ssml ? "SSML" : "text",
		               why ? why : "?");
		free(wrapped);
		return IVD_ERROR;
	}
	int status = IVD_OK;
	if (api->sink_format(sink, b->mime, b->sample_rate) != IVD_OK)
		status = IVD_CANCELLED;
	for (size_t i = 0; i < pieces.n && status == IVD_OK; i++)
		status = synthesize_piece(&s, pieces.piece[i], ssml, i, pieces.n, err);

	atomic_fetch_add(&b->total_billed, s.billed);
	atomic_fetch_add(&b->total_syntheses, 1);
	if (result) {
		result->billed_characters = s.billed;
		result->requests = s.requests;
	}
	if (api->log_enabled(b->host, IVD_LOG_DEBUG))
		api->log(b->host, IVD_LOG_DEBUG,
		         "session %s: %s, %zu piece(s), %" PRIu32 " request(s), %" PRIu64 " billed characters, %" PRIu64
		         " audio bytes, first byte after %" PRIu64 " ms, %s connection",
		         s.session, status == IVD_OK ? "done" : status == IVD_CANCELLED ? "cancelled" : "failed", pieces.n,
		         s.requests, s.billed, s.audio_bytes, s.first_byte_ms, s.any_reused ? "reused" : "new");
	polly_text_pieces_free(&pieces);
	free(wrapped);
	return status;
}
