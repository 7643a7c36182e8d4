/* Test plugin built for a newer minor plugin ABI than the host's: the host must refuse it. */
#include "test_backend.h"

TEST_BACKENDS("broken-minor")

static const struct ivd_plugin plugin = {
	IVD_ABI_MAJOR, IVD_ABI_MINOR + 1u, (uint32_t)sizeof(struct ivd_plugin),
	.name = "broken-minor",
	.version = "1.0.0",
	.description = "claims a newer minor ABI",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
