/* A minimal valid TTS backend (silence, never called in tests) shared by the test plugins. */
#ifndef IVD_TEST_BACKEND_H
#define IVD_TEST_BACKEND_H

#include <interviewd/plugin.h>

static int test_create(const struct ivd_backend_context *ctx, void **backend, struct ivd_error *err)
{
	(void)err;
	*backend = (void *)ctx;
	return IVD_OK;
}

static void test_destroy(void *backend)
{
	(void)backend;
}

static int test_describe(void *backend, struct ivd_tts_voice_info *info)
{
	(void)backend;
	info->voice = "test";
	info->mime_type = "audio/mpeg";
	info->sample_rate = 24000;
	return IVD_OK;
}

static int test_synthesize(void *backend, const struct ivd_tts_request *request,
                           struct ivd_audio_sink *sink, struct ivd_tts_result *result,
                           struct ivd_error *err)
{
	(void)backend;
	(void)request;
	(void)sink;
	(void)result;
	(void)err;
	return IVD_OK;
}

static const struct ivd_tts_iface test_tts = {
	.struct_size = sizeof(struct ivd_tts_iface),
	.create = test_create,
	.destroy = test_destroy,
	.describe = test_describe,
	.synthesize = test_synthesize,
	.check = NULL,
};

static const struct ivd_option_spec test_options[] = {
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* One TTS backend named `backend_name`. */
#define TEST_BACKENDS(backend_name)                                                                       \
	static const struct ivd_backend_desc test_backends[] = {{                                  \
		.struct_size = sizeof(struct ivd_backend_desc),                                    \
		.kind = IVD_KIND_TTS,                                                              \
		.name = (backend_name),                                                                  \
		.description = "test backend",                                                     \
		.iface = &test_tts,                                                                \
		.options = test_options,                                                           \
	}};

#endif /* IVD_TEST_BACKEND_H */
