/* The host side of the plugin ABI: the service table and backend instances. */
#include "ivd_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivd_audio_sink.h"
#include "ivd_log.h"

static void host_log(struct ivd_host *host, enum ivd_log_level level, const char *fmt, ...)
{
	if (!ivd_log_enabled(level))
		return;
	char text[1536];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof text, fmt, args);
	va_end(args);
	ivd_log(level, "%s: %s", host && host->backend_name ? host->backend_name : "plugin", text);
}

static bool host_log_enabled(struct ivd_host *host, enum ivd_log_level level)
{
	(void)host;
	return ivd_log_enabled(level);
}

static void *host_alloc(size_t size)
{
	return malloc(size ? size : 1);
}

static void *host_calloc(size_t count, size_t size)
{
	return calloc(count ? count : 1, size ? size : 1);
}

static void host_free(void *ptr)
{
	free(ptr);
}

static char *host_strdup(const char *text)
{
	return text ? strdup(text) : NULL;
}

static void host_error_set(struct ivd_error *err, enum ivd_error_class error_class,
                           const char *message, const char *detail_fmt, ...)
{
	if (!err)
		return;
	err->error_class = error_class;
	snprintf(err->message, sizeof err->message, "%s", message ? message : "");
	err->detail[0] = '\0';
	if (detail_fmt) {
		va_list args;
		va_start(args, detail_fmt);
		vsnprintf(err->detail, sizeof err->detail, detail_fmt, args);
		va_end(args);
	}
}

static const struct ivd_host_api host_api_table = {
	.struct_size = sizeof(struct ivd_host_api),
	.abi_major = IVD_ABI_MAJOR,
	.abi_minor = IVD_ABI_MINOR,
	.log = host_log,
	.log_enabled = host_log_enabled,
	.alloc = host_alloc,
	.calloc = host_calloc,
	.free = host_free,
	.strdup = host_strdup,
	.option_string = ivd_options_string,
	.option_int = ivd_options_int,
	.option_bool = ivd_options_bool,
	.error_set = host_error_set,
	.sink_format = ivd_sink_format,
	.sink_write = ivd_sink_write,
	.sink_cancelled = ivd_sink_cancelled,
	.sink_wait = ivd_sink_wait,
};

const struct ivd_host_api *ivd_host_api(void)
{
	return &host_api_table;
}

const char *ivd_error_class_name(enum ivd_error_class error_class)
{
	switch (error_class) {
	case IVD_ERRC_CONFIG:
		return "config";
	case IVD_ERRC_CREDENTIALS:
		return "credentials";
	case IVD_ERRC_BAD_INPUT:
		return "bad_input";
	case IVD_ERRC_THROTTLED:
		return "throttled";
	case IVD_ERRC_UNAVAILABLE:
		return "unavailable";
	case IVD_ERRC_NONE:
	case IVD_ERRC_INTERNAL:
		break;
	}
	return "internal";
}

int ivd_backend_instance_create(const struct ivd_backend *backend, struct ivd_options *options,
                                struct ivd_backend_instance **out, struct ivd_error *err)
{
	struct ivd_backend_instance *instance = calloc(1, sizeof *instance);
	if (!instance) {
		ivd_options_free(options);
		host_error_set(err, IVD_ERRC_INTERNAL, "out of memory", NULL);
		return -1;
	}
	instance->backend = backend;
	instance->host.backend_name = backend->name;
	instance->options = options;
	instance->ctx = (struct ivd_backend_context){
		.struct_size = sizeof(struct ivd_backend_context),
		.api = &host_api_table,
		.host = &instance->host,
		.options = options,
		.backend_name = backend->name,
	};
	memset(err, 0, sizeof *err);
	int rc = backend->kind == IVD_KIND_TTS
	                 ? backend->tts.create(&instance->ctx, &instance->state, err)
	                 : backend->questions.create(&instance->ctx, &instance->state, err);
	if (rc != IVD_OK) {
		if (!err->message[0])
			snprintf(err->message, sizeof err->message, "backend '%s' failed to start",
			         backend->name);
		ivd_options_free(options);
		free(instance);
		return -1;
	}
	*out = instance;
	return 0;
}

void ivd_backend_instance_destroy(struct ivd_backend_instance *instance)
{
	if (!instance)
		return;
	if (instance->backend->kind == IVD_KIND_TTS)
		instance->backend->tts.destroy(instance->state);
	else
		instance->backend->questions.destroy(instance->state);
	ivd_options_free(instance->options);
	free(instance);
}
