/* Test plugin whose descriptor's struct_size is too small for the host's ABI (a truncated struct). */
#include "test_backend.h"

TEST_BACKENDS("broken-size")

static const struct ivd_plugin plugin = {
	IVD_ABI_MAJOR, IVD_ABI_MINOR, (uint32_t)(3u * sizeof(uint32_t)),
	.name = "broken-size",
	.version = "1.0.0",
	.description = "declares a descriptor of 12 bytes",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
