/* Plugin loading: finds .so files, checks their safety and ABI, and registers their backends. */
#include "ivd_plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ivd_host.h"
#include "ivd_log.h"

#define MIN_SIZE(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

const char *ivd_backend_kind_name(enum ivd_backend_kind kind)
{
	switch (kind) {
	case IVD_KIND_TTS:
		return "tts";
	case IVD_KIND_QUESTIONS:
		return "questions";
	}
	return "unknown";
}

/* Owned by root or by us, and not writable by group or others. */
static bool safe_owner_and_mode(const struct stat *st, const char *what, const char *path,
                                struct ivd_diag *diag)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		ivd_diag_add(diag, 0,
		             "%s '%s' is owned by uid %u, neither root nor the daemon's user: refused "
		             "(fix: chown root %s)",
		             what, path, (unsigned)st->st_uid, path);
		return false;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		ivd_diag_add(diag, 0,
		             "%s '%s' is writable by %s: refused, anyone who can write it could run "
		             "code in the daemon (fix: chmod go-w %s)",
		             what, path, (st->st_mode & S_IWOTH) ? "others" : "its group", path);
		return false;
	}
	return true;
}

static bool valid_name(const char *name)
{
	if (!name || !name[0] || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* Copy a plugin's kind-specific table into host-sized zeroed storage and check its callbacks. */
static bool adopt_iface(struct ivd_backend *backend, const char *path, struct ivd_diag *diag)
{
	const void *iface = backend->desc->iface;
	if (!iface) {
		ivd_diag_add(diag, 0, "plugin '%s': backend '%s' has no interface table: refused",
		             path, backend->name);
		return false;
	}
	uint32_t size = *(const uint32_t *)iface;
	if (backend->kind == IVD_KIND_TTS) {
		if (size < MIN_SIZE(struct ivd_tts_iface, synthesize)) {
			ivd_diag_add(diag, 0, "plugin '%s': tts backend '%s' has a table of %u bytes, "
			             "too small for ABI 1.0: refused (fix: rebuild the plugin)",
			             path, backend->name, size);
			return false;
		}
		memcpy(&backend->tts, iface, size < sizeof backend->tts ? size : sizeof backend->tts);
		if (!backend->tts.create || !backend->tts.destroy || !backend->tts.describe ||
		    !backend->tts.synthesize) {
			ivd_diag_add(diag, 0, "plugin '%s': tts backend '%s' lacks create, destroy, "
			             "describe or synthesize: refused", path, backend->name);
			return false;
		}
		return true;
	}
	if (size < MIN_SIZE(struct ivd_questions_iface, close)) {
		ivd_diag_add(diag, 0, "plugin '%s': questions backend '%s' has a table of %u bytes, "
		             "too small for ABI 1.0: refused (fix: rebuild the plugin)",
		             path, backend->name, size);
		return false;
	}
	memcpy(&backend->questions, iface,
	       size < sizeof backend->questions ? size : sizeof backend->questions);
	const struct ivd_questions_iface *q = &backend->questions;
	if (!q->create || !q->destroy || !q->open || !q->count || !q->next || !q->close) {
		ivd_diag_add(diag, 0, "plugin '%s': questions backend '%s' lacks one of create, "
		             "destroy, open, count, next, close: refused", path, backend->name);
		return false;
	}
	return true;
}

/* Check the descriptor: versions first, then names and backends. */
static bool check_descriptor(const struct ivd_plugin *desc, const char *path, struct ivd_diag *diag)
{
	if (desc->abi_major != IVD_ABI_MAJOR) {
		ivd_diag_add(diag, 0,
		             "plugin '%s' was built for plugin ABI %u.%u, this interviewd has ABI %u.%u: "
		             "the major versions must match (fix: rebuild the plugin against the "
		             "interviewd %u.x headers, include/interviewd/plugin.h)",
		             path, desc->abi_major, desc->abi_minor, IVD_ABI_MAJOR, IVD_ABI_MINOR,
		             IVD_ABI_MAJOR);
		return false;
	}
	if (desc->abi_minor > IVD_ABI_MINOR) {
		ivd_diag_add(diag, 0,
		             "plugin '%s' needs plugin ABI %u.%u, this interviewd has only ABI %u.%u: "
		             "the plugin's minor version may not be newer (fix: upgrade interviewd, or "
		             "rebuild the plugin against the ABI %u.%u headers)",
		             path, desc->abi_major, desc->abi_minor, IVD_ABI_MAJOR, IVD_ABI_MINOR,
		             IVD_ABI_MAJOR, IVD_ABI_MINOR);
		return false;
	}
	if (desc->struct_size < MIN_SIZE(struct ivd_plugin, n_backends)) {
		ivd_diag_add(diag, 0,
		             "plugin '%s' (ABI %u.%u) has a descriptor of %u bytes, ABI %u.%u needs at "
		             "least %zu: refused (fix: rebuild the plugin against include/interviewd/plugin.h)",
		             path, desc->abi_major, desc->abi_minor, desc->struct_size, IVD_ABI_MAJOR,
		             IVD_ABI_MINOR, MIN_SIZE(struct ivd_plugin, n_backends));
		return false;
	}
	if (!valid_name(desc->name) || !desc->version) {
		ivd_diag_add(diag, 0, "plugin '%s': its name must be 1-64 characters of a-z, 0-9, - "
		             "and it must have a version: refused", path);
		return false;
	}
	if (desc->n_backends == 0 || !desc->backends || desc->n_backends > 64) {
		ivd_diag_add(diag, 0, "plugin '%s' (%s) provides no backends: refused", path, desc->name);
		return false;
	}
	return true;
}

/* Unload a plugin and close the descriptor it was loaded through.  The descriptor stays open while
 * the plugin is loaded: the dynamic loader knows the library by its "/proc/self/fd/N" name, and a
 * reused descriptor number would make it hand back the old library for a different file. */
static void unload_handle(void *handle, int fd)
{
#ifndef IVD_SANITIZE
	dlclose(handle);
	close(fd);
#else
	/* Sanitizer builds keep plugins mapped (and so their descriptor's name taken) so reports can
	 * name their frames. */
	(void)handle;
	(void)fd;
#endif
}

int ivd_plugins_load_file(struct ivd_plugin_registry *registry, const char *path,
                          struct ivd_diag *diag)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ivd_diag_add(diag, 0, "plugin '%s': cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ivd_diag_add(diag, 0, "plugin '%s': not a regular file: refused", path);
		close(fd);
		return -1;
	}
	if (!safe_owner_and_mode(&st, "plugin file", path, diag)) {
		close(fd);
		return -1;
	}
	/* Load through the descriptor we checked, so the file cannot be swapped in between. */
	char fd_path[64];
	snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
	void *handle = dlopen(fd_path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		close(fd);
		ivd_diag_add(diag, 0, "plugin '%s': cannot load: %s", path, dlerror());
		return -1;
	}
	const struct ivd_plugin *(*entry)(void);
	*(void **)&entry = dlsym(handle, IVD_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		ivd_diag_add(diag, 0,
		             "plugin '%s' does not export '%s': not an interviewd plugin, or built "
		             "without IVD_PLUGIN_DECLARE() (fix: add IVD_PLUGIN_DECLARE(descriptor) and "
		             "link with the plugin version script)",
		             path, IVD_PLUGIN_ENTRY_SYMBOL);
		unload_handle(handle, fd);
		return -1;
	}
	const struct ivd_plugin *desc = entry();
	if (!desc) {
		ivd_diag_add(diag, 0, "plugin '%s': %s() returned NULL: refused", path,
		             IVD_PLUGIN_ENTRY_SYMBOL);
		unload_handle(handle, fd);
		return -1;
	}
	if (!check_descriptor(desc, path, diag)) {
		unload_handle(handle, fd);
		return -1;
	}
	for (size_t i = 0; i < registry->n_plugins; i++) {
		if (strcmp(registry->plugins[i]->desc->name, desc->name) == 0) {
			ivd_diag_add(diag, 0, "plugin '%s': a plugin named '%s' is already loaded from "
			             "'%s': refused (fix: remove one of the two files)",
			             path, desc->name, registry->plugins[i]->path);
			unload_handle(handle, fd);
			return -1;
		}
	}
	/* Validate every backend before registering any. */
	struct ivd_backend *found = calloc(desc->n_backends, sizeof *found);
	if (!found) {
		unload_handle(handle, fd);
		return -1;
	}
	bool ok = true;
	for (uint32_t b = 0; ok && b < desc->n_backends; b++) {
		const struct ivd_backend_desc *bd = &desc->backends[b];
		struct ivd_backend *backend = &found[b];
		backend->desc = bd;
		backend->name = bd->name;
		backend->kind = bd->kind;
		if (bd->struct_size < MIN_SIZE(struct ivd_backend_desc, options) || !valid_name(bd->name)) {
			ivd_diag_add(diag, 0, "plugin '%s': backend #%u has a bad descriptor or name: refused",
			             path, b + 1);
			ok = false;
		} else if (bd->kind != IVD_KIND_TTS && bd->kind != IVD_KIND_QUESTIONS) {
			ivd_diag_add(diag, 0, "plugin '%s': backend '%s' has kind %d, unknown to ABI %u.%u: refused",
			             path, bd->name, (int)bd->kind, IVD_ABI_MAJOR, IVD_ABI_MINOR);
			ok = false;
		} else if (!adopt_iface(backend, path, diag)) {
			ok = false;
		}
		for (size_t i = 0; ok && i < registry->n_backends; i++) {
			const struct ivd_backend *other = &registry->backends[i];
			if (other->kind == bd->kind && strcmp(other->name, bd->name) == 0) {
				ivd_diag_add(diag, 0, "plugin '%s': %s backend '%s' is already provided by "
				             "'%s': refused (fix: remove one of the two plugins)",
				             path, ivd_backend_kind_name(bd->kind), bd->name,
				             other->plugin->path);
				ok = false;
			}
		}
		for (uint32_t c = 0; ok && c < b; c++) {
			if (found[c].kind == bd->kind && strcmp(found[c].name, bd->name) == 0) {
				ivd_diag_add(diag, 0, "plugin '%s': backend '%s' is declared twice: refused",
				             path, bd->name);
				ok = false;
			}
		}
	}
	struct ivd_error err = {0};
	if (ok && desc->init && desc->init(ivd_host_api(), &err) != IVD_OK) {
		ivd_diag_add(diag, 0, "plugin '%s' (%s) failed to initialize: %s%s%s", path, desc->name,
		             err.message, err.detail[0] ? ": " : "", err.detail);
		ok = false;
	}
	struct ivd_loaded_plugin *plugin = ok ? calloc(1, sizeof *plugin) : NULL;
	struct ivd_loaded_plugin **plugins =
		plugin ? realloc(registry->plugins, (registry->n_plugins + 1) * sizeof *plugins) : NULL;
	if (plugins)
		registry->plugins = plugins;
	struct ivd_backend *backends =
		plugins ? realloc(registry->backends,
		                  (registry->n_backends + desc->n_backends) * sizeof *backends)
		        : NULL;
	if (backends)
		registry->backends = backends;
	char *path_copy = backends ? strdup(path) : NULL;
	if (!path_copy) {
		if (ok && desc->init && desc->fini)
			desc->fini();
		free(plugin);
		free(found);
		unload_handle(handle, fd);
		return -1;
	}
	*plugin = (struct ivd_loaded_plugin){
		.path = path_copy, .handle = handle, .fd = fd, .desc = desc, .initialized = desc->init != NULL};
	registry->plugins[registry->n_plugins++] = plugin;
	for (uint32_t b = 0; b < desc->n_backends; b++) {
		found[b].plugin = plugin;
		registry->backends[registry->n_backends++] = found[b];
	}
	free(found);
	ivd_log_debug("loaded plugin %s %s from %s", desc->name, desc->version, path);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ivd_plugins_load_dir(struct ivd_plugin_registry *registry, const char *dir,
                         struct ivd_diag *diag)
{
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ivd_diag_add(diag, 0, "plugin directory '%s' does not exist or is not a directory "
		             "(set [plugins] directory)", dir);
		return -1;
	}
	if (!safe_owner_and_mode(&st, "plugin directory", dir, diag))
		return -1;
	DIR *d = opendir(dir);
	if (!d) {
		ivd_diag_add(diag, 0, "plugin directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0 || de->d_name[0] == '.')
			continue;
		char **grown = realloc(names, (n + 1) * sizeof *names);
		if (!grown)
			break;
		names = grown;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, compare_names);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (ivd_plugins_load_file(registry, path, diag) != 0)
			registry->n_refused++;
		free(names[i]);
	}
	free(names);
	return 0;
}

const struct ivd_backend *ivd_plugins_find(const struct ivd_plugin_registry *registry,
                                           enum ivd_backend_kind kind, const char *name)
{
	for (size_t i = 0; i < registry->n_backends; i++)
		if (registry->backends[i].kind == kind && strcmp(registry->backends[i].name, name) == 0)
			return &registry->backends[i];
	return NULL;
}

void ivd_plugins_names(const struct ivd_plugin_registry *registry, enum ivd_backend_kind kind,
                       char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < registry->n_backends && used < size; i++) {
		if (registry->backends[i].kind != kind)
			continue;
		int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "",
		                 registry->backends[i].name);
		if (n > 0)
			used += (size_t)n;
	}
	if (!out[0])
		snprintf(out, size, "(none)");
}

void ivd_plugins_unload(struct ivd_plugin_registry *registry)
{
	for (size_t i = registry->n_plugins; i-- > 0;) {
		struct ivd_loaded_plugin *plugin = registry->plugins[i];
		if (plugin->initialized && plugin->desc->fini)
			plugin->desc->fini();
		unload_handle(plugin->handle, plugin->fd);
		free(plugin->path);
		free(plugin);
	}
	free(registry->plugins);
	free(registry->backends);
	memset(registry, 0, sizeof *registry);
}
