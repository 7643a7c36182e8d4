/* mock TTS plugin: injected failures, by marker text or by configuration. */
#ifndef MOCK_FAULTS_H
#define MOCK_FAULTS_H

#include <interviewd/plugin.h>

/* The class names accepted by `fail_class` and by markers, in the order of enum ivd_error_class. */
#define MOCK_FAIL_CLASS_CHOICES "config|credentials|bad_input|throttled|unavailable|internal"

/* A failure to inject into one synthesis. */
struct mock_fault {
	enum ivd_error_class error_class; /* IVD_ERRC_NONE: no failure */
	uint64_t after_bytes;             /* fail once this many audio bytes were written */
};

/* Parse the first `[[mock-fail:CLASS]]` or `[[mock-fail:CLASS:after=N]]` marker in `text`.
 * Returns false (and leaves *fault unset) if the text has no valid marker. */
bool mock_fault_from_marker(const char *text, struct mock_fault *fault);

/* The class named `name` (one of MOCK_FAIL_CLASS_CHOICES), or IVD_ERRC_NONE. */
enum ivd_error_class mock_fault_class_from_name(const char *name, size_t len);

/* Fill `err` the way a provider failing with `error_class` would. */
void mock_fault_report(const struct ivd_host_api *api, enum ivd_error_class error_class,
                       uint64_t bytes_written, const char *cause, struct ivd_error *err);

#endif
