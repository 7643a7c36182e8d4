/* Test plugin whose init() fails: the host must refuse it and show the plugin's reason. */
#include "test_backend.h"

static int fail_init(const struct ivd_host_api *api, struct ivd_error *err)
{
	api->error_set(err, IVD_ERRC_CONFIG, "the test plugin refuses to start",
	               "detail for the log: %s", "init-failure-detail");
	return IVD_ERROR;
}

TEST_BACKENDS("broken-init")

static const struct ivd_plugin plugin = {
	IVD_PLUGIN_HEADER,
	.name = "broken-init",
	.version = "1.0.0",
	.description = "init() fails",
	.init = fail_init,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
