/* The host side of the plugin ABI: the service table and backend instances. */
#ifndef IVD_HOST_H
#define IVD_HOST_H

#include <interviewd/plugin.h>

#include "ivd_options.h"
#include "ivd_plugin_loader.h"

struct ivd_host {
	const char *backend_name; /* log prefix */
};

struct ivd_backend_instance {
	const struct ivd_backend *backend;
	struct ivd_host host;
	struct ivd_options *options;
	struct ivd_backend_context ctx;
	void *state; /* what the plugin's create() returned */
};

/* The table handed to plugins; static, valid for the life of the process. */
const struct ivd_host_api *ivd_host_api(void);

/* Create a backend instance with its validated options (ownership of `options` passes to the
 * instance).  Returns 0, or -1 with `err` filled. */
int ivd_backend_instance_create(const struct ivd_backend *backend, struct ivd_options *options,
                                struct ivd_backend_instance **out, struct ivd_error *err);
void ivd_backend_instance_destroy(struct ivd_backend_instance *instance);

/* "config", "credentials", "bad_input", "throttled", "unavailable", "internal". */
const char *ivd_error_class_name(enum ivd_error_class error_class);

#endif
