/* Test plugin built for the next major plugin ABI: the host must refuse it and say to rebuild. */
#include "test_backend.h"

TEST_BACKENDS("broken-major")

static const struct ivd_plugin plugin = {
	IVD_ABI_MAJOR + 1u, 0u, (uint32_t)sizeof(struct ivd_plugin),
	.name = "broken-major",
	.version = "1.0.0",
	.description = "claims the next major ABI",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
