/* mock TTS plugin: the `mock` backend, which replays recorded audio like a real provider would. */
#include <interviewd/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock_faults.h"
#include "mock_library.h"
#include "mock_pacing.h"

struct mock_backend {
	const struct ivd_host_api *api;
	struct ivd_host *host;
	struct mock_library *library;
	const char *voice;
	const char *language;
	uint32_t sample_rate;
	uint32_t first_byte_delay_ms;
	bool pace_realtime;
	uint32_t pace_percent;
	size_t block_bytes;
	uint32_t fail_every;
	struct mock_fault configured_fault; /* class and after_bytes of `fail_every` failures */
	atomic_uint_fast64_t syntheses;     /* started so far, for fail_every */
};

static const struct ivd_option_spec mock_options[] = {
	{"audio_dir", IVD_OPT_PATH, "${prefix}/share/interviewd/mock-audio", 0, 0, NULL,
	 "directory of the audio files to replay"},
	{"manifest", IVD_OPT_STRING, "manifest.json", 0, 0, NULL,
	 "JSON object mapping question text to a file in audio_dir (optional file)"},
	{"default_file", IVD_OPT_STRING, "default.mp3", 0, 0, NULL,
	 "file in audio_dir replayed for text without a recording"},
	{"voice", IVD_OPT_STRING, "mock", 0, 0, NULL, "voice name reported to clients"},
	{"language", IVD_OPT_STRING, "en-US", 0, 0, NULL, "language reported to clients"},
	{"sample_rate", IVD_OPT_INT, "24000", 8000, 48000, NULL, "sample rate reported to clients (Hz)"},
	{"first_byte_delay_ms", IVD_OPT_INT, "0", 0, 60000, NULL,
	 "wait this long before the first audio byte, like a provider's latency"},
	{"pace", IVD_OPT_ENUM, "none", 0, 0, "none|realtime",
	 "none: as fast as the client reads; realtime: at the audio's own bitrate"},
	{"pace_percent", IVD_OPT_INT, "100", 10, 10000, NULL,
	 "with pace = realtime, speed in percent of real time (200 = twice as fast)"},
	{"block_bytes", IVD_OPT_INT, "4096", 64, 1048576, NULL, "bytes handed to the core per write"},
	{"fail_every", IVD_OPT_INT, "0", 0, 1000000, NULL,
	 "if N > 0, the 1st, N+1th, 2N+1th ... synthesis fails (0: never)"},
	{"fail_class", IVD_OPT_ENUM, "unavailable", 0, 0, MOCK_FAIL_CLASS_CHOICES,
	 "error class of failures injected by fail_every"},
	{"fail_after_bytes", IVD_OPT_INT, "0", 0, INT64_MAX, NULL,
	 "injected failures happen after this many audio bytes (0: before any audio)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int mock_create(const struct ivd_backend_context *ctx, void **out, struct ivd_error *err)
{
	const struct ivd_host_api *api = ctx->api;
	const struct ivd_options *options = ctx->options;
	struct mock_backend *backend = calloc(1, sizeof(*backend));
	if (!backend) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	backend->api = api;
	backend->host = ctx->host;
	backend->voice = api->option_string(options, "voice");
	backend->language = api->option_string(options, "language");
	backend->sample_rate = (uint32_t)api->option_int(options, "sample_rate");
	backend->first_byte_delay_ms = (uint32_t)api->option_int(options, "first_byte_delay_ms");
	backend->pace_realtime = strcmp(api->option_string(options, "pace"), "realtime") == 0;
	backend->pace_percent = (uint32_t)api->option_int(options, "pace_percent");
	backend->block_bytes = (size_t)api->option_int(options, "block_bytes");
	backend->fail_every = (uint32_t)api->option_int(options, "fail_every");
	const char *fail_class = api->option_string(options, "fail_class");
	backend->configured_fault.error_class = mock_fault_class_from_name(fail_class, strlen(fail_class));
	backend->configured_fault.after_bytes = (uint64_t)api->option_int(options, "fail_after_bytes");
	backend->library = mock_library_open(api, api->option_string(options, "audio_dir"),
	                                     api->option_string(options, "manifest"),
	                                     api->option_string(options, "default_file"), err);
	if (!backend->library) {
		free(backend);
		return IVD_ERROR;
	}
	api->log(ctx->host, IVD_LOG_DEBUG, "replaying audio from %s (%zu manifest entries)",
	         api->option_string(options, "audio_dir"), mock_library_manifest_size(backend->library));
	*out = backend;
	return IVD_OK;
}

static void mock_destroy(void *opaque)
{
	struct mock_backend *backend = opaque;
	mock_library_close(backend->library);
	free(backend);
}

static int mock_describe(void *opaque, struct ivd_tts_voice_info *info)
{
	struct mock_backend *backend = opaque;
	info->voice = backend->voice;
	info->language = backend->language[0] ? backend->language : NULL;
	info->mime_type = "audio/mpeg";
	info->sample_rate = backend->sample_rate;
	return IVD_OK;
}

static uint64_t monotonic_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Which failure, if any, this synthesis must imitate. */
static struct mock_fault choose_fault(struct mock_backend *backend, const char *text)
{
	struct mock_fault fault = {IVD_ERRC_NONE, 0};
	uint64_t number = atomic_fetch_add(&backend->syntheses, 1); /* 0-based */
	if (mock_fault_from_marker(text, &fault))
		return fault;
	if (backend->fail_every > 0 && number % backend->fail_every == 0)
		return backend->configured_fault;
	return fault;
}

/* Wait until `bytes_sent` bytes would have played at `bytes_per_second` (scaled by pace_percent)
 * since `start_ms`.  Returns IVD_OK or IVD_CANCELLED. */
static int pace(struct mock_backend *backend, struct ivd_audio_sink *sink, uint64_t start_ms,
                uint64_t bytes_sent, uint32_t bytes_per_second)
{
	if (!backend->pace_realtime || bytes_per_second == 0)
		return backend->api->sink_cancelled(sink) ? IVD_CANCELLED : IVD_OK;
	uint64_t due_ms = start_ms + bytes_sent * 1000u * 100u / ((uint64_t)bytes_per_second * backend->pace_percent);
	uint64_t now = monotonic_ms();
	if (due_ms <= now)
		return IVD_OK;
	return backend->api->sink_wait(sink, (uint32_t)(due_ms - now));
}

static int mock_synthesize(void *opaque, const struct ivd_tts_request *request,
                           struct ivd_audio_sink *sink, struct ivd_tts_result *result,
                           struct ivd_error *err)
{
	struct mock_backend *backend = opaque;
	const struct ivd_host_api *api = backend->api;
	struct mock_fault fault = choose_fault(backend, request->text);
	char path[PATH_MAX];
	bool recorded = mock_library_lookup(backend->library, request->text, path, sizeof(path));
	if (!recorded)
		api->log(backend->host, IVD_LOG_DEBUG, "session %s: no recording for this text, replaying %s",
		         request->session_id ? request->session_id : "-", path);
	if (result)
		result->requests = 1;

	if (api->sink_format(sink, "audio/mpeg", backend->sample_rate) != IVD_OK)
		return IVD_CANCELLED;
	if (backend->first_byte_delay_ms && api->sink_wait(sink, backend->first_byte_delay_ms) != IVD_OK)
		return IVD_CANCELLED;
	if (fault.error_class != IVD_ERRC_NONE && fault.after_bytes == 0) {
		mock_fault_report(api, fault.error_class, 0, "before any audio", err);
		return IVD_ERROR;
	}

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		api->error_set(err, IVD_ERRC_CONFIG, "The speech service is misconfigured (mock).",
		               "cannot open %s: %s", path, strerror(errno));
		return IVD_ERROR;
	}
	unsigned char *block = malloc(backend->block_bytes);
	if (!block) {
		close(fd);
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	int status = IVD_OK;
	uint64_t sent = 0, start_ms = monotonic_ms();
	uint32_t bytes_per_second = 0;
	for (;;) {
		size_t want = backend->block_bytes;
		if (fault.error_class != IVD_ERRC_NONE && fault.after_bytes - sent < want)
			want = (size_t)(fault.after_bytes - sent);
		ssize_t got = want ? read(fd, block, want) : 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			api->error_set(err, IVD_ERRC_INTERNAL, "The speech service failed (mock).",
			               "reading %s: %s", path, strerror(errno));
			status = IVD_ERROR;
			break;
		}
		if (got == 0 && fault.error_class != IVD_ERRC_NONE) {
			mock_fault_report(api, fault.error_class, sent, "mid-stream", err);
			status = IVD_ERROR;
			break;
		}
		if (got == 0)
			break;
		if (sent == 0)
			bytes_per_second = mock_pacing_mp3_bytes_per_second(block, (size_t)got);
		if (api->sink_write(sink, block, (size_t)got) != IVD_OK) {
			status = IVD_CANCELLED;
			break;
		}
		sent += (uint64_t)got;
		if (pace(backend, sink, start_ms, sent, bytes_per_second) != IVD_OK) {
			status = IVD_CANCELLED;
			break;
		}
	}
	free(block);
	close(fd);
	return status;
}

static const struct ivd_tts_iface mock_tts = {
	.struct_size = sizeof(struct ivd_tts_iface),
	.create = mock_create,
	.destroy = mock_destroy,
	.describe = mock_describe,
	.synthesize = mock_synthesize,
	.check = NULL,
};

static const struct ivd_backend_desc mock_backends[] = {{
	.struct_size = sizeof(struct ivd_backend_desc),
	.kind = IVD_KIND_TTS,
	.name = "mock",
	.description = "replays recorded audio files (offline development and tests)",
	.iface = &mock_tts,
	.options = mock_options,
}};

static const struct ivd_plugin mock_plugin = {
	IVD_PLUGIN_HEADER,
	.name = "tts-mock",
	.version = "1.0.0",
	.description = "file-replay text-to-speech for offline work",
	.init = NULL,
	.fini = NULL,
	.backends = mock_backends,
	.n_backends = 1,
};

IVD_PLUGIN_DECLARE(mock_plugin)
