/* Amazon Polly TTS plugin: the descriptor, options and lifecycle of the polly-neural and polly-standard backends. */
#include <interviewd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polly_backend.h"
#include "polly_errors.h"
#include "polly_http.h"
#include "polly_text.h"

#define POLLY_OPTIONS(engine_help)                                                                                \
	{                                                                                                             \
		{"region", IVD_OPT_STRING, NULL, 0, 0, NULL,                                                              \
		 "AWS region; unset: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region"},                         \
		{"voice", IVD_OPT_STRING, "Seoyeon", 0, 0, NULL, "Polly VoiceId (must support the " engine_help " engine)"}, \
		{"language", IVD_OPT_STRING, NULL, 0, 0, NULL, "LanguageCode, sent only if set (bilingual voices)"},       \
		{"format", IVD_OPT_ENUM, "mp3", 0, 0, "mp3|ogg_vorbis|pcm", "OutputFormat"},                              \
		{"sample_rate", IVD_OPT_INT, "0", 0, 48000, NULL,                                                         \
		 "Hz; 0: engine default (neural 24000, standard 22050, pcm 16000)"},                                      \
		{"text_type", IVD_OPT_ENUM, "text", 0, 0, "text|ssml", "how question text is sent"},                      \
		{"speaking_rate", IVD_OPT_STRING, "", 0, 0, NULL,                                                         \
		 "if set (e.g. 90% or slow), plain text is wrapped in <prosody rate=...>"},                              \
		{"lexicons", IVD_OPT_STRING, "", 0, 0, NULL, "up to 5 LexiconNames, space or comma separated"},           \
		{"endpoint", IVD_OPT_STRING, "", 0, 0, NULL,                                                              \
		 "endpoint URL; empty: AWS_ENDPOINT_URL_POLLY, AWS_ENDPOINT_URL, else https://polly.REGION.amazonaws.com"}, \
		{"profile", IVD_OPT_STRING, "", 0, 0, NULL, "shared config profile; empty: AWS_PROFILE, else default"},  \
		{"ca_file", IVD_OPT_PATH, NULL, 0, 0, NULL, "CA bundle to verify the endpoint (default: system store)"},  \
		{"connect_timeout_ms", IVD_OPT_INT, "3000", 100, 60000, NULL, "connect timeout"},                        \
		{"timeout_ms", IVD_OPT_INT, "30000", 1000, 600000, NULL, "whole request, including streaming the audio"}, \
		{"max_attempts", IVD_OPT_INT, "3", 1, 10, NULL,                                                           \
		 "attempts per request (throttling, 5xx, connection errors; only before audio was sent)"},              \
		{"check_voice", IVD_OPT_BOOL, "false", 0, 0, NULL,                                                        \
		 "--check-config asks DescribeVoices whether the voice supports the engine"},                            \
		{NULL, 0, NULL, 0, 0, NULL, NULL},                                                                        \
	}

static const struct ivd_option_spec neural_options[] = POLLY_OPTIONS("neural");
static const struct ivd_option_spec standard_options[] = POLLY_OPTIONS("standard");

static int config_error(const struct ivd_host_api *api, struct ivd_error *err, const char *backend, const char *detail)
{
	api->error_set(err, IVD_ERRC_CONFIG, "The speech service is misconfigured.", "[tts.%s] %s", backend, detail);
	return IVD_ERROR;
}

static bool voice_ok(const char *voice)
{
	size_t len = strlen(voice);
	if (len == 0 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((voice[i] >= 'A' && voice[i] <= 'Z') || (voice[i] >= 'a' && voice[i] <= 'z') ||
		      (voice[i] >= '0' && voice[i] <= '9')))
			return false;
	return true;
}

static bool language_ok(const char *language)
{
	size_t len = strlen(language);
	if (len < 2 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((language[i] >= 'A' && language[i] <= 'Z') || (language[i] >= 'a' && language[i] <= 'z') ||
		      (language[i] >= '0' && language[i] <= '9') || language[i] == '-'))
			return false;
	return true;
}

static void polly_destroy(void *opaque);

static int polly_create(const struct ivd_backend_context *ctx, void **out, struct ivd_error *err)
{
	const struct ivd_host_api *api = ctx->api;
	const struct ivd_options *o = ctx->options;
	const char *name = ctx->backend_name;
	struct polly_backend *b = calloc(1, sizeof *b);
	if (!b) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	b->api = api;
	b->host = ctx->host;
	b->name = name;
	b->engine = strcmp(name, "polly-standard") == 0 ? "standard" : "neural";
	polly_retry_quota_init(&b->quota);
	char why[POLLY_WHY_MAX] = "";

	const char *profile = api->option_string(o, "profile");
	const char *region_from = NULL;
	if (polly_config_region(api->option_string(o, "region"), profile, b->region, &region_from, why, sizeof why) != 0)
		goto config_fail;
	if (polly_config_endpoint(api->option_string(o, "endpoint"), b->region, b->endpoint, b->host_header, why,
	                          sizeof why) != 0)
		goto config_fail;
	b->voice = api->option_string(o, "voice");
	if (!voice_ok(b->voice)) {
		snprintf(why, sizeof why, "voice '%.40s' is not a Polly VoiceId (letters only, e.g. Seoyeon)", b->voice);
		goto config_fail;
	}
	b->language = api->option_string(o, "language");
	if (b->language && !*b->language)
		b->language = NULL;
	if (b->language && !language_ok(b->language)) {
		snprintf(why, sizeof why, "language '%.40s' is not a language code such as ko-KR", b->language);
		goto config_fail;
	}
	b->format = api->option_string(o, "format");
	b->mime = polly_config_mime(b->format);
	int64_t rate = api->option_int(o, "sample_rate");
	b->sample_rate = rate > 0 ? (uint32_t)rate : polly_config_default_rate(b->engine, b->format);
	if (!polly_config_rate_ok(b->format, b->sample_rate)) {
		snprintf(why, sizeof why, "sample_rate %u is not allowed for format %s (mp3/ogg_vorbis: 8000, 16000, 22050, "
		         "24000, 44100, 48000; pcm: 8000, 16000; 0: default)", b->sample_rate, b->format);
		goto config_fail;
	}
	b->ssml = strcmp(api->option_string(o, "text_type"), "ssml") == 0;
	b->speaking_rate = api->option_string(o, "speaking_rate");
	if (b->speaking_rate[0] && !polly_text_rate_ok(b->speaking_rate)) {
		snprintf(why, sizeof why, "speaking_rate '%.20s' must be x-slow, slow, medium, fast, x-fast or a "
		         "percentage such as 90%%", b->speaking_rate);
		goto config_fail;
	}
	if (polly_config_lexicons(api->option_string(o, "lexicons"), b->lexicons, &b->n_lexicons, why, sizeof why) != 0)
		goto config_fail;
	b->check_voice = api->option_bool(o, "check_voice");
	b->max_attempts = (unsigned)api->option_int(o, "max_attempts");

	b->http = polly_http_new(api->option_string(o, "ca_file"), (long)api->option_int(o, "connect_timeout_ms"),
	                         (long)api->option_int(o, "timeout_ms"));
	b->credentials = polly_cred_provider_new(api, ctx->host, profile);
	if (!b->http || !b->credentials) {
		polly_destroy(b);
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "cannot create the HTTP client");
		return IVD_ERROR;
	}
	api->log(ctx->host, IVD_LOG_INFO, "engine %s, voice %s, %s at %u Hz, region %s (from %s), endpoint %s", b->engine,
	         b->voice, b->format, b->sample_rate, b->region, region_from, b->endpoint);
	*out = b;
	return IVD_OK;

config_fail:
	polly_retry_quota_destroy(&b->quota);
	free(b);
	return config_error(api, err, name, why);
}

static void polly_destroy(void *opaque)
{
	struct polly_backend *b = opaque;
	if (b->http && b->credentials)
		b->api->log(b->host, IVD_LOG_INFO, "%llu requests, %llu billed characters",
		            (unsigned long long)atomic_load(&b->total_requests),
		            (unsigned long long)atomic_load(&b->total_billed));
	polly_cred_provider_free(b->credentials);
	polly_http_free(b->http);
	polly_retry_quota_destroy(&b->quota);
	free(b);
}

static int polly_describe(void *opaque, struct ivd_tts_voice_info *info)
{
	struct polly_backend *b = opaque;
	info->voice = b->voice;
	info->language = b->language;
	info->mime_type = b->mime;
	info->sample_rate = b->sample_rate;
	return IVD_OK;
}

static int polly_init(const struct ivd_host_api *api, struct ivd_error *err)
{
	if (polly_http_global_init() != 0) {
		api->error_set(err, IVD_ERRC_INTERNAL, "cannot initialise libcurl", "curl_global_init failed");
		return IVD_ERROR;
	}
	return IVD_OK;
}

static void polly_fini(void)
{
	curl_global_cleanup();
}

static const struct ivd_tts_iface polly_tts = {
	.struct_size = sizeof(struct ivd_tts_iface),
	.create = polly_create,
	.destroy = polly_destroy,
	.describe = polly_describe,
	.synthesize = polly_synthesize,
	.check = polly_check,
};

static const struct ivd_backend_desc polly_backends[] = {
	{
		.struct_size = sizeof(struct ivd_backend_desc),
		.kind = IVD_KIND_TTS,
		.name = "polly-neural",
		.description = "Amazon Polly, neural engine (streams audio as it is synthesized)",
		.iface = &polly_tts,
		.options = neural_options,
	},
	{
		.struct_size = sizeof(struct ivd_backend_desc),
		.kind = IVD_KIND_TTS,
		.name = "polly-standard",
		.description = "Amazon Polly, standard engine",
		.iface = &polly_tts,
		.options = standard_options,
	},
};

static const struct ivd_plugin polly_plugin = {
	IVD_PLUGIN_HEADER,
	.name = "tts-polly",
	.version = "1.0.0",
	.description = "Amazon Polly text-to-speech (SigV4, streaming, retries)",
	.init = polly_init,
	.fini = polly_fini,
	.backends = polly_backends,
	.n_backends = 2,
};

IVD_PLUGIN_DECLARE(polly_plugin)
