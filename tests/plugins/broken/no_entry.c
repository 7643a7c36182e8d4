/* Test plugin that exports a misspelt entry point instead of ivd_plugin_entry. */
#include "test_backend.h"

TEST_BACKENDS("broken-entry")

static const struct ivd_plugin plugin = {
	IVD_PLUGIN_HEADER,
	.name = "broken-entry",
	.version = "1.0.0",
	.description = "exports the wrong symbol",
	.init = NULL,
	.fini = NULL,
	.backends = test_backends,
	.n_backends = 1,
};

IVD_EXPORT const struct ivd_plugin *ivd_plugin_entri(void);
IVD_EXPORT const struct ivd_plugin *ivd_plugin_entri(void)
{
	return &plugin;
}
