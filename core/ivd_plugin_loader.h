/* Plugin loading: finds .so files, checks their safety and ABI, and registers their backends. */
#ifndef IVD_PLUGIN_LOADER_H
#define IVD_PLUGIN_LOADER_H

#include <interviewd/plugin.h>

#include "ivd_diag.h"

struct ivd_loaded_plugin {
	char *path;
	void *handle;
	int fd; /* the checked file the plugin was loaded through; open while it is loaded */
	const struct ivd_plugin *desc;
	bool initialized;
};

struct ivd_backend {
	const struct ivd_loaded_plugin *plugin;
	const struct ivd_backend_desc *desc;
	enum ivd_backend_kind kind;
	const char *name;
	/* Host-sized, zero-filled copies of the plugin's tables (members it does not know are NULL). */
	struct ivd_tts_iface tts;
	struct ivd_questions_iface questions;
};

struct ivd_plugin_registry {
	struct ivd_loaded_plugin **plugins; /* heap objects: backends point at them */
	size_t n_plugins;
	struct ivd_backend *backends;
	size_t n_backends;
	size_t n_refused;
};

/* Load every *.so in `dir` (sorted by name).  Refused files are reported in `diag` and counted
 * in n_refused; the others stay loaded.  Returns -1 if the directory itself cannot be used. */
int ivd_plugins_load_dir(struct ivd_plugin_registry *registry, const char *dir,
                         struct ivd_diag *diag);
/* Load one file.  Returns 0, or -1 (reported in diag) if it is refused. */
int ivd_plugins_load_file(struct ivd_plugin_registry *registry, const char *path,
                          struct ivd_diag *diag);

const struct ivd_backend *ivd_plugins_find(const struct ivd_plugin_registry *registry,
                                           enum ivd_backend_kind kind, const char *name);
/* "a, b, c": the backend names of one kind, for error messages. */
void ivd_plugins_names(const struct ivd_plugin_registry *registry, enum ivd_backend_kind kind,
                       char *out, size_t size);
const char *ivd_backend_kind_name(enum ivd_backend_kind kind);

/* Call every plugin's fini() and unload them. */
void ivd_plugins_unload(struct ivd_plugin_registry *registry);

#endif
