/* Test plugin providing TTS backend "duplicate"; built twice under two plugin names (TEST_PLUGIN_NAME). */
#include "test_backend.h"

#ifndef TEST_PLUGIN_NAME
#error "define TEST_PLUGIN_NAME"
#endif

TEST_BACKENDS("duplicate")

static const struct ivd_plugin plugin = {
	IVD_PLUGIN_HEADER,
	.name = TEST_PLUGIN_NAME,
	.version = "1.0.0",
	.description = "one of two plugins that provide the same backend",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};
IVD_PLUGIN_DECLARE(plugin)
