/* mock TTS plugin: injected failures, by marker text or by configuration. */
#include "mock_faults.h"

#include <stdlib.h>
#include <string.h>

#define MARKER_PREFIX "[[mock-fail:"
#define MARKER_SUFFIX "]]"

static const struct {
	const char *name;
	enum ivd_error_class error_class;
	const char *client_message;
} fault_classes[] = {
	{"config", IVD_ERRC_CONFIG, "The speech service is misconfigured (mock)."},
	{"credentials", IVD_ERRC_CREDENTIALS, "The speech service refused our credentials (mock)."},
	{"bad_input", IVD_ERRC_BAD_INPUT, "The speech service could not read this question (mock)."},
	{"throttled", IVD_ERRC_THROTTLED, "The speech service is busy; please try again (mock)."},
	{"unavailable", IVD_ERRC_UNAVAILABLE, "The speech service is unavailable (mock)."},
	{"internal", IVD_ERRC_INTERNAL, "The speech service failed (mock)."},
};

enum ivd_error_class mock_fault_class_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fault_classes) / sizeof(fault_classes[0]); i++)
		if (strlen(fault_classes[i].name) == len && strncmp(fault_classes[i].name, name, len) == 0)
			return fault_classes[i].error_class;
	return IVD_ERRC_NONE;
}

bool mock_fault_from_marker(const char *text, struct mock_fault *fault)
{
	for (const char *start = strstr(text, MARKER_PREFIX); start;
	     start = strstr(start + 1, MARKER_PREFIX)) {
		const char *name = start + strlen(MARKER_PREFIX);
		const char *end = strstr(name, MARKER_SUFFIX);
		if (!end)
			return false;
		size_t name_len = strcspn(name, ":]");
		enum ivd_error_class error_class = mock_fault_class_from_name(name, name_len);
		if (error_class == IVD_ERRC_NONE)
			continue;
		uint64_t after = 0;
		const char *option = name + name_len;
		if (option < end && strncmp(option, ":after=", 7) == 0) {
			char *number_end = NULL;
			after = strtoull(option + 7, &number_end, 10);
			if (number_end != end)
				continue;
		} else if (option != end) {
			continue;
		}
		fault->error_class = error_class;
		fault->after_bytes = after;
		return true;
	}
	return false;
}

void mock_fault_report(const struct ivd_host_api *api, enum ivd_error_class error_class,
                       uint64_t bytes_written, const char *cause, struct ivd_error *err)
{
	for (size_t i = 0; i < sizeof(fault_classes) / sizeof(fault_classes[0]); i++) {
		if (fault_classes[i].error_class != error_class)
			continue;
		api->error_set(err, error_class, fault_classes[i].client_message,
		               "injected %s failure after %llu audio bytes (%s)", fault_classes[i].name,
		               (unsigned long long)bytes_written, cause);
		return;
	}
	api->error_set(err, IVD_ERRC_INTERNAL, "The speech service failed (mock).",
	               "injected failure of unknown class %d", (int)error_class);
}
