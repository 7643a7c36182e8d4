/* interviewd: the command line, start-up checks and the serve loop's setup and teardown. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivd_config.h"
#include "ivd_host.h"
#include "ivd_log.h"
#include "ivd_plugin_loader.h"
#include "ivd_records.h"
#include "ivd_server.h"

#ifndef IVD_VERSION
#define IVD_VERSION "0.0.0"
#endif

static void print_help(FILE *out)
{
	fprintf(out,
	        "Usage: interviewd [--config FILE] [ACTION]\n"
	        "Runs spoken job interviews over WebSocket.\n\n"
	        "  -c, --config FILE        read FILE instead of the embedded default config\n"
	        "      --check-config       validate the config, load plugins, create the backends,\n"
	        "                           print the resolved settings; exit 0 if all is well\n"
	        "      --list-plugins       list every plugin and backend in the plugin directory\n"
	        "      --check-plugin FILE  check one plugin file (ABI, descriptor, backends)\n"
	        "      --print-default-config  print the embedded default config\n"
	        "  -V, --version            print the version and plugin ABI\n"
	        "  -h, --help               this text\n\n"
	        "Without an action, serve until SIGTERM or SIGINT.\n"
	        "Docs: README.md, docs/configuration.md, docs/protocol.md, docs/plugin-abi.md\n");
}

/* Everything the daemon builds at start-up, torn down in reverse order. */
struct ivd_daemon {
	struct ivd_config config;
	struct ivd_diag diag;
	struct ivd_diag plugin_diag;
	struct ivd_plugin_registry plugins;
	struct ivd_backend_instance *tts;
	struct ivd_backend_instance *questions;
	struct ivd_options **backend_options; /* one per backend, NULL if not built */
};

static bool is_backend_section(void *ctx, const char *section)
{
	const struct ivd_plugin_registry *plugins = ctx;
	for (size_t i = 0; i < plugins->n_backends; i++) {
		char name[160];
		snprintf(name, sizeof name, "%s.%s", ivd_backend_kind_name(plugins->backends[i].kind),
		         plugins->backends[i].name);
		if (strcmp(name, section) == 0)
			return true;
	}
	return false;
}

/* Validate the option section of every backend (present or selected); keep the options. */
static void build_backend_options(struct ivd_daemon *daemon)
{
	struct ivd_config *config = &daemon->config;
	daemon->backend_options = calloc(daemon->plugins.n_backends + 1, sizeof(struct ivd_options *));
	if (!daemon->backend_options)
		return;
	for (size_t i = 0; i < daemon->plugins.n_backends; i++) {
		const struct ivd_backend *backend = &daemon->plugins.backends[i];
		char section[160];
		snprintf(section, sizeof section, "%s.%s", ivd_backend_kind_name(backend->kind),
		         backend->name);
		bool selected = (backend->kind == IVD_KIND_TTS && config->tts_backend &&
		                 strcmp(backend->name, config->tts_backend) == 0) ||
		                (backend->kind == IVD_KIND_QUESTIONS && config->question_source &&
		                 strcmp(backend->name, config->question_source) == 0);
		if (!selected && ivd_config_section_line(config, section) == 0)
			continue;
		daemon->backend_options[i] =
			ivd_options_build(section, backend->desc->options, config->entries,
			                  config->n_entries, &config->paths, &daemon->diag);
	}
}

static struct ivd_backend_instance *create_selected(struct ivd_daemon *daemon,
                                                    enum ivd_backend_kind kind, const char *name,
                                                    unsigned line, const char *key)
{
	const struct ivd_backend *backend = ivd_plugins_find(&daemon->plugins, kind, name);
	if (!backend) {
		char names[512];
		ivd_plugins_names(&daemon->plugins, kind, names, sizeof names);
		ivd_diag_add(&daemon->diag, line,
		             "[%s] %s: no %s backend named '%s'; available: %s%s",
		             ivd_backend_kind_name(kind), key,
		             kind == IVD_KIND_TTS ? "TTS" : "question source", name, names,
		             daemon->plugins.n_refused ? " (some plugins were refused, see above)" : "");
		return NULL;
	}
	size_t index = (size_t)(backend - daemon->plugins.backends);
	struct ivd_options *options = daemon->backend_options[index];
	daemon->backend_options[index] = NULL; /* the instance owns them now */
	char section[160];
	snprintf(section, sizeof section, "%s.%s", ivd_backend_kind_name(kind), name);
	struct ivd_error err;
	struct ivd_backend_instance *instance = NULL;
	if (ivd_backend_instance_create(backend, options, &instance, &err) != 0) {
		unsigned section_line = ivd_config_section_line(&daemon->config, section);
		ivd_diag_add(&daemon->diag, section_line ? section_line : line,
		             "[%s] backend '%s' cannot start: %s%s%s", section, name, err.message,
		             err.detail[0] ? ": " : "", err.detail);
		return NULL;
	}
	return instance;
}

static void daemon_free(struct ivd_daemon *daemon)
{
	ivd_backend_instance_destroy(daemon->tts);
	ivd_backend_instance_destroy(daemon->questions);
	if (daemon->backend_options)
		for (size_t i = 0; i < daemon->plugins.n_backends; i++)
			ivd_options_free(daemon->backend_options[i]);
	free(daemon->backend_options);
	ivd_plugins_unload(&daemon->plugins);
	ivd_config_free(&daemon->config);
	ivd_diag_free(&daemon->diag);
	ivd_diag_free(&daemon->plugin_diag);
}

/* Read the config, load plugins, create the selected backends.  Returns 0 if all is well;
 * otherwise every problem was printed to stderr. */
static int daemon_setup(struct ivd_daemon *daemon, const char *config_path)
{
	struct ivd_config *config = &daemon->config;
	int rc = ivd_config_load(config, config_path, &daemon->diag);
	if (config->log_level)
		ivd_log_set_level(config->log_level);
	if (!config->plugins || !config->plugin_dir) {
		ivd_diag_print(&daemon->diag, stderr);
		return -1;
	}
	daemon->plugin_diag.file = NULL;
	if (ivd_plugins_load_dir(&daemon->plugins, config->plugin_dir, &daemon->plugin_diag) != 0) {
		/* Without the directory no backend can exist: name the setting, not its consequences. */
		for (size_t i = 0; i < daemon->plugin_diag.count; i++)
			ivd_diag_add(&daemon->diag, config->plugin_dir_line, "[plugins] directory: %s",
			             daemon->plugin_diag.lines[i]);
		ivd_diag_print(&daemon->diag, stderr);
		return -1;
	}
	for (size_t i = 0; i < daemon->plugin_diag.count; i++)
		ivd_log_error("%s", daemon->plugin_diag.lines[i]);
	build_backend_options(daemon);
	ivd_config_check_unclaimed(config, is_backend_section, &daemon->plugins, &daemon->diag);
	/* Name a missing backend even when other errors were found. */
	bool creatable = rc == 0 && daemon->diag.count == 0;
	if (config->tts_backend && config->question_source) {
		if (creatable || !ivd_plugins_find(&daemon->plugins, IVD_KIND_TTS, config->tts_backend))
			daemon->tts = create_selected(daemon, IVD_KIND_TTS, config->tts_backend,
			                              config->tts_backend_line, "backend");
		if (creatable || !ivd_plugins_find(&daemon->plugins, IVD_KIND_QUESTIONS,
		                                   config->question_source))
			daemon->questions =
				create_selected(daemon, IVD_KIND_QUESTIONS, config->question_source,
				                config->question_source_line, "source");
	}
	if (daemon->diag.count > 0 || !daemon->tts || !daemon->questions) {
		ivd_diag_print(&daemon->diag, stderr);
		return -1;
	}
	return 0;
}

static void print_plugin(const struct ivd_plugin_registry *registry, size_t index, FILE *out)
{
	const struct ivd_loaded_plugin *plugin = registry->plugins[index];
	fprintf(out, "%s %s (plugin ABI %u.%u) %s\n", plugin->desc->name, plugin->desc->version,
	        plugin->desc->abi_major, plugin->desc->abi_minor, plugin->path);
	if (plugin->desc->description)
		fprintf(out, "    %s\n", plugin->desc->description);
	for (size_t i = 0; i < registry->n_backends; i++) {
		const struct ivd_backend *backend = &registry->backends[i];
		if (backend->plugin != plugin)
			continue;
		fprintf(out, "    %-9s %-16s %s\n", ivd_backend_kind_name(backend->kind), backend->name,
		        backend->desc->description ? backend->desc->description : "");
	}
}

static int list_plugins(const char *config_path)
{
	struct ivd_config config;
	struct ivd_diag diag = {0};
	int status = 0;
	if (ivd_config_load(&config, config_path, &diag) != 0 || !config.plugin_dir) {
		ivd_diag_print(&diag, stderr);
		status = 1;
	}
	if (config.plugin_dir) {
		struct ivd_plugin_registry registry = {0};
		struct ivd_diag plugin_diag = {0};
		printf("interviewd %s, plugin ABI %u.%u, plugin directory %s\n\n", IVD_VERSION,
		       IVD_ABI_MAJOR, IVD_ABI_MINOR, config.plugin_dir);
		if (ivd_plugins_load_dir(&registry, config.plugin_dir, &plugin_diag) != 0)
			status = 1;
		for (size_t i = 0; i < registry.n_plugins; i++)
			print_plugin(&registry, i, stdout);
		if (registry.n_plugins == 0)
			printf("(no plugins)\n");
		ivd_diag_print(&plugin_diag, stderr);
		if (registry.n_refused > 0)
			status = 1;
		ivd_plugins_unload(&registry);
		ivd_diag_free(&plugin_diag);
	}
	ivd_config_free(&config);
	ivd_diag_free(&diag);
	return status;
}

static int check_plugin(const char *path)
{
	struct ivd_plugin_registry registry = {0};
	struct ivd_diag diag = {0};
	int status = 0;
	if (ivd_plugins_load_file(&registry, path, &diag) == 0) {
		print_plugin(&registry, 0, stdout);
		printf("OK: the plugin matches this interviewd (plugin ABI %u.%u)\n", IVD_ABI_MAJOR,
		       IVD_ABI_MINOR);
	} else {
		ivd_diag_print(&diag, stderr);
		status = 1;
	}
	ivd_plugins_unload(&registry);
	ivd_diag_free(&diag);
	return status;
}

static int check_config(struct ivd_daemon *daemon)
{
	const struct ivd_config *config = &daemon->config;
	printf("interviewd %s, plugin ABI %u.%u\n", IVD_VERSION, IVD_ABI_MAJOR, IVD_ABI_MINOR);
	ivd_config_print(config, stdout);
	ivd_options_print(daemon->tts->options, stdout);
	ivd_options_print(daemon->questions->options, stdout);
	int status = 0;
	const struct ivd_tts_iface *tts = &daemon->tts->backend->tts;
	if (tts->check) {
		struct ivd_error err = {0};
		if (tts->check(daemon->tts->state, &err) != IVD_OK) {
			fprintf(stderr, "%s: [tts.%s] check failed (%s): %s%s%s\n", config->source_name,
			        daemon->tts->backend->name, ivd_error_class_name(err.error_class),
			        err.message, err.detail[0] ? ": " : "", err.detail);
			status = 1;
		}
	}
	char error[512];
	if (ivd_records_prepare(config->records_dir, error, sizeof error) != 0) {
		fprintf(stderr, "%s: [records] directory: %s\n", config->source_name, error);
		status = 1;
	}
	printf("%s\n", status == 0 ? "configuration OK" : "configuration has errors");
	return status;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK_CONFIG = 256, OPT_LIST_PLUGINS, OPT_CHECK_PLUGIN, OPT_PRINT_DEFAULT };
	static const struct option long_options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
		{"list-plugins", no_argument, NULL, OPT_LIST_PLUGINS},
		{"check-plugin", required_argument, NULL, OPT_CHECK_PLUGIN},
		{"print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	const char *plugin_path = NULL;
	int action = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:Vh", long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_CHECK_PLUGIN:
			plugin_path = optarg;
			action = opt;
			break;
		case OPT_CHECK_CONFIG:
		case OPT_LIST_PLUGINS:
		case OPT_PRINT_DEFAULT:
			action = opt;
			break;
		case 'V':
			printf("interviewd %s (plugin ABI %u.%u)\n", IVD_VERSION, IVD_ABI_MAJOR,
			       IVD_ABI_MINOR);
			return 0;
		case 'h':
			print_help(stdout);
			return 0;
		default:
			print_help(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "interviewd: unexpected argument '%s'\n", argv[optind]);
		print_help(stderr);
		return 2;
	}
	switch (action) {
	case OPT_PRINT_DEFAULT:
		fputs(ivd_default_config_text, stdout);
		return 0;
	case OPT_LIST_PLUGINS:
		return list_plugins(config_path);
	case OPT_CHECK_PLUGIN:
		return check_plugin(plugin_path);
	default:
		break;
	}

	struct ivd_daemon daemon;
	memset(&daemon, 0, sizeof daemon);
	int status = 1;
	if (daemon_setup(&daemon, config_path) != 0) {
		fprintf(stderr, "interviewd: not started: fix the configuration above\n");
	} else if (action == OPT_CHECK_CONFIG) {
		status = check_config(&daemon);
	} else {
		char error[512];
		if (ivd_records_prepare(daemon.config.records_dir, error, sizeof error) != 0) {
			ivd_log_error("%s", error);
		} else {
			ivd_log_info("interviewd %s starting (config %s, records in %s)", IVD_VERSION,
			             daemon.config.source_name, daemon.config.records_dir);
			status = ivd_server_run(&daemon.config, daemon.tts, daemon.questions);
		}
	}
	daemon_free(&daemon);
	return status;
}
