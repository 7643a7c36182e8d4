/* Test plugin that is correct: the control case, loaded wherever the broken ones are refused. */
#include "test_backend.h"

TEST_BACKENDS("test-good")

static const struct ivd_plugin plugin = {
	IVD_PLUGIN_HEADER,
	.name = "test-good",
	.version = "2.3.4",
	.description = "a correct test plugin",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
