/* The daemon's configuration: reads the INI file (or the embedded default) and the core sections. */
#include "ivd_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivd_log.h"

#define IVD_CONFIG_MAX_BYTES (1024 * 1024)
#define IVD_EMBEDDED_NAME "<embedded default>"

static const struct ivd_option_spec server_specs[] = {
	{"listen", IVD_OPT_STRING, "127.0.0.1", 0, 0, NULL, "address to listen on, or * for all"},
	{"port", IVD_OPT_INT, "8000", 0, 65535, NULL, "TCP port; 0 picks a free one"},
	{"path", IVD_OPT_STRING, "/api/v1/ws/interview", 0, 0, NULL, "WebSocket URL path"},
	{"audio_chunk_bytes", IVD_OPT_INT, "1024", 256, 65536, NULL, "largest binary message"},
	{"allowed_origins", IVD_OPT_STRING, "", 0, 0, NULL, "browser origins allowed; empty: any"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec plugins_specs[] = {
	{"directory", IVD_OPT_PATH, "${prefix}/lib/interviewd/plugins", 0, 0, NULL,
	 "the only directory plugins are loaded from"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec tts_specs[] = {
	{"backend", IVD_OPT_STRING, "mock", 0, 0, NULL, "TTS backend name"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec questions_specs[] = {
	{"source", IVD_OPT_STRING, "file", 0, 0, NULL, "question source backend name"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec records_specs[] = {
	{"directory", IVD_OPT_PATH, "interviewd-records", 0, 0, NULL, "where sessions are recorded"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec limits_specs[] = {
	{"max_sessions", IVD_OPT_INT, "2000", 1, 100000, NULL, "concurrent sessions"},
	{"max_message_bytes", IVD_OPT_INT, "65536", 1024, 16777216, NULL, "largest client text message"},
	{"max_answer_audio_bytes", IVD_OPT_INT, "20971520", 0, 1073741824, NULL, "largest audio answer"},
	{"session_buffer_bytes", IVD_OPT_INT, "262144", 16384, 67108864, NULL,
	 "audio waiting to be sent, per session"},
	{"max_pending_messages", IVD_OPT_INT, "64", 8, 100000, NULL,
	 "server messages waiting for a slow client"},
	{"send_timeout_s", IVD_OPT_INT, "30", 1, 3600, NULL, "close clients that read nothing this long"},
	{"ping_interval_s", IVD_OPT_INT, "30", 0, 3600, NULL, "ping idle connections; 0: never"},
	{"workers", IVD_OPT_INT, "0", 0, 200000, NULL, "most worker threads; 0: max_sessions + 64"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct ivd_option_spec log_specs[] = {
	{"level", IVD_OPT_ENUM, "info", 0, 0, "error|warn|info|debug", "most verbose level logged"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct {
	const char *name;
	const struct ivd_option_spec *specs;
	size_t offset;
} core_sections[] = {
	{"server", server_specs, offsetof(struct ivd_config, server)},
	{"plugins", plugins_specs, offsetof(struct ivd_config, plugins)},
	{"tts", tts_specs, offsetof(struct ivd_config, tts)},
	{"questions", questions_specs, offsetof(struct ivd_config, questions)},
	{"records", records_specs, offsetof(struct ivd_config, records)},
	{"limits", limits_specs, offsetof(struct ivd_config, limits)},
	{"log", log_specs, offsetof(struct ivd_config, log)},
};

/* State of one parse: the text, the reader position and the current line. */
struct ini_reader_state {
	struct ivd_config *config;
	struct ivd_diag *diag;
	const char *text;
	size_t pos, len;
	unsigned line;
	bool out_of_memory;
};

static void remember_section(struct ini_reader_state *state, const char *line_text)
{
	const char *p = line_text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[')
		return;
	const char *close = strchr(p, ']');
	if (!close)
		return; /* inih reports the syntax error */
	struct ivd_config *config = state->config;
	struct ivd_ini_section *grown =
		realloc(config->sections, (config->n_sections + 1) * sizeof *grown);
	if (!grown) {
		state->out_of_memory = true;
		return;
	}
	config->sections = grown;
	grown[config->n_sections].name = strndup(p + 1, (size_t)(close - p - 1));
	grown[config->n_sections].line = state->line;
	if (!grown[config->n_sections].name) {
		state->out_of_memory = true;
		return;
	}
	config->n_sections++;
}

/* fgets-style reader for ini_parse_stream: one line per call, so state->line is the line of
 * whatever the handler is called with next.  Over-long lines are reported, not truncated silently. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_reader_state *state = stream;
	if (state->pos >= state->len)
		return NULL;
	state->line++;
	const char *start = state->text + state->pos;
	const char *newline = memchr(start, '\n', state->len - state->pos);
	size_t line_len = newline ? (size_t)(newline - start) : state->len - state->pos;
	state->pos += line_len + (newline ? 1 : 0);
	size_t content_len = line_len;
	if (content_len > 0 && start[content_len - 1] == '\r')
		content_len--;
	size_t max = (size_t)num - 2; /* room for '\n' and '\0', as fgets would keep */
	if (content_len > max) {
		ivd_diag_add(state->diag, state->line,
		             "line is %zu bytes long; the most a config line may hold is %zu", content_len,
		             max);
		content_len = 0; /* feed an empty line: the error above is fatal anyway */
	}
	if (memchr(start, '\0', content_len)) {
		ivd_diag_add(state->diag, state->line, "line contains a NUL byte");
		content_len = 0;
	}
	memcpy(str, start, content_len);
	str[content_len] = '\n';
	str[content_len + 1] = '\0';
	char saved = str[content_len];
	str[content_len] = '\0';
	remember_section(state, str);
	str[content_len] = saved;
	return str;
}

static int ini_on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_reader_state *state = user;
	struct ivd_config *config = state->config;
	for (size_t i = 0; i < config->n_entries; i++) {
		struct ivd_ini_entry *seen = &config->entries[i];
		if (strcmp(seen->section, section) == 0 && strcmp(seen->key, name) == 0) {
			ivd_diag_add(state->diag, state->line,
			             "[%s] %s is set twice (first on line %u)", section, name, seen->line);
			return 1;
		}
	}
	if (section[0] == '\0') {
		ivd_diag_add(state->diag, state->line, "'%s' comes before any [section]", name);
		return 1;
	}
	struct ivd_ini_entry *grown =
		realloc(config->entries, (config->n_entries + 1) * sizeof *grown);
	if (!grown) {
		state->out_of_memory = true;
		return 0;
	}
	config->entries = grown;
	struct ivd_ini_entry *entry = &grown[config->n_entries];
	entry->section = strdup(section);
	entry->key = strdup(name);
	entry->value = strdup(value);
	entry->line = state->line;
	entry->used = false;
	if (!entry->section || !entry->key || !entry->value) {
		free(entry->section);
		free(entry->key);
		free(entry->value);
		state->out_of_memory = true;
		return 0;
	}
	config->n_entries++;
	return 1;
}

static char *read_file(const char *path, size_t *len, struct ivd_diag *diag)
{
	FILE *file = fopen(path, "rb");
	if (!file) {
		ivd_diag_add(diag, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *text = malloc(IVD_CONFIG_MAX_BYTES + 1);
	size_t n = text ? fread(text, 1, IVD_CONFIG_MAX_BYTES + 1, file) : 0;
	bool failed = text == NULL || ferror(file);
	fclose(file);
	if (failed) {
		ivd_diag_add(diag, 0, "cannot read the file");
		free(text);
		return NULL;
	}
	if (n > IVD_CONFIG_MAX_BYTES) {
		ivd_diag_add(diag, 0, "the file is larger than %d bytes", IVD_CONFIG_MAX_BYTES);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = n;
	return text;
}

/* The directory above the one holding our executable. */
static char *find_prefix(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return strdup("/usr");
	exe[n] = '\0';
	char *bin_dir = dirname(exe);
	char *prefix = dirname(bin_dir);
	return strdup(prefix);
}

static bool listen_address_valid(const char *text)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return strcmp(text, "*") == 0 || strcmp(text, "localhost") == 0 ||
	       inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

static unsigned value_line(const struct ivd_options *options, const char *key)
{
	const struct ivd_option_value *value = ivd_options_find(options, key);
	return value ? value->line : 0;
}

static void extract_core(struct ivd_config *config, struct ivd_diag *diag)
{
	config->listen = ivd_options_string(config->server, "listen");
	config->port = (int)ivd_options_int(config->server, "port");
	config->ws_path = ivd_options_string(config->server, "path");
	config->audio_chunk_bytes = (size_t)ivd_options_int(config->server, "audio_chunk_bytes");
	config->allowed_origins = ivd_options_string(config->server, "allowed_origins");
	config->plugin_dir = ivd_options_string(config->plugins, "directory");
	config->plugin_dir_line = value_line(config->plugins, "directory");
	config->tts_backend = ivd_options_string(config->tts, "backend");
	config->tts_backend_line = value_line(config->tts, "backend");
	config->question_source = ivd_options_string(config->questions, "source");
	config->question_source_line = value_line(config->questions, "source");
	config->records_dir = ivd_options_string(config->records, "directory");
	config->max_sessions = (uint32_t)ivd_options_int(config->limits, "max_sessions");
	config->max_message_bytes = (size_t)ivd_options_int(config->limits, "max_message_bytes");
	config->max_answer_audio_bytes =
		(size_t)ivd_options_int(config->limits, "max_answer_audio_bytes");
	config->session_buffer_bytes = (size_t)ivd_options_int(config->limits, "session_buffer_bytes");
	config->max_pending_messages = (uint32_t)ivd_options_int(config->limits, "max_pending_messages");
	config->send_timeout_s = (uint32_t)ivd_options_int(config->limits, "send_timeout_s");
	config->ping_interval_s = (uint32_t)ivd_options_int(config->limits, "ping_interval_s");
	config->workers = (uint32_t)ivd_options_int(config->limits, "workers");
	if (config->workers == 0) /* a session runs one job at a time: then no session waits for another's */
		config->workers = config->max_sessions + IVD_WORKERS_SPARE;
	const char *level = ivd_options_string(config->log, "level");
	config->log_level = level ? ivd_log_level_from_name(level) : IVD_LOG_INFO;

	if (config->listen && !listen_address_valid(config->listen))
		ivd_diag_add(diag, value_line(config->server, "listen"),
		             "[server] listen: '%s' is not an IPv4/IPv6 address, localhost or *",
		             config->listen);
	if (config->ws_path && config->ws_path[0] != '/')
		ivd_diag_add(diag, value_line(config->server, "path"),
		             "[server] path: '%s' must start with /", config->ws_path);
	if (config->tts_backend && config->tts_backend[0] == '\0')
		ivd_diag_add(diag, config->tts_backend_line, "[tts] backend: must name a backend");
	if (config->question_source && config->question_source[0] == '\0')
		ivd_diag_add(diag, config->question_source_line, "[questions] source: must name a source");
}

int ivd_config_load(struct ivd_config *config, const char *path, struct ivd_diag *diag)
{
	memset(config, 0, sizeof *config);
	config->source_name = strdup(path ? path : IVD_EMBEDDED_NAME);
	config->prefix = find_prefix();
	if (path) {
		char *copy = strdup(path);
		char *dir = copy ? dirname(copy) : NULL;
		char resolved[PATH_MAX];
		config->base_dir = dir && realpath(dir, resolved) ? strdup(resolved) : dir ? strdup(dir) : NULL;
		free(copy);
	} else {
		char cwd[PATH_MAX];
		config->base_dir = strdup(getcwd(cwd, sizeof cwd) ? cwd : ".");
	}
	if (!config->source_name || !config->prefix || !config->base_dir)
		return -1;
	config->paths.prefix = config->prefix;
	config->paths.base_dir = config->base_dir;
	diag->file = config->source_name;

	size_t len = 0;
	char *owned = NULL;
	const char *text = ivd_default_config_text;
	if (path) {
		owned = read_file(path, &len, diag);
		if (!owned)
			return -1;
		text = owned;
	} else {
		len = strlen(text);
	}

	size_t errors_before = diag->count;
	struct ini_reader_state state = {
		.config = config, .diag = diag, .text = text, .len = len, .line = 0};
	ini_allow_multiline = false;
	int rc = ini_parse_stream(ini_read_line, &state, ini_on_entry, &state);
	free(owned);
	if (state.out_of_memory) {
		ivd_diag_add(diag, 0, "out of memory");
		return -1;
	}
	if (rc > 0)
		ivd_diag_add(diag, (unsigned)rc, "syntax error: expected [section] or key = value");
	else if (rc < 0)
		ivd_diag_add(diag, 0, "cannot parse (error %d)", rc);

	for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++) {
		struct ivd_options **slot =
			(struct ivd_options **)((char *)config + core_sections[i].offset);
		*slot = ivd_options_build(core_sections[i].name, core_sections[i].specs,
		                          config->entries, config->n_entries, &config->paths, diag);
		if (!*slot)
			return -1;
	}
	extract_core(config, diag);
	return diag->count > errors_before ? -1 : 0;
}

unsigned ivd_config_section_line(const struct ivd_config *config, const char *section)
{
	for (size_t i = 0; i < config->n_sections; i++)
		if (strcmp(config->sections[i].name, section) == 0)
			return config->sections[i].line;
	return 0;
}

static bool core_section(const char *name)
{
	for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
		if (strcmp(core_sections[i].name, name) == 0)
			return true;
	return false;
}

void ivd_config_check_unclaimed(struct ivd_config *config,
                                bool (*is_backend_section)(void *ctx, const char *section),
                                void *ctx, struct ivd_diag *diag)
{
	for (size_t i = 0; i < config->n_sections; i++) {
		const char *name = config->sections[i].name;
		bool seen_before = false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(config->sections[j].name, name) == 0)
				seen_before = true;
		if (seen_before || core_section(name) || is_backend_section(ctx, name))
			continue;
		if (strncmp(name, "tts.", 4) == 0 || strncmp(name, "questions.", 10) == 0)
			ivd_diag_add(diag, config->sections[i].line,
			             "[%s]: no plugin provides a backend named '%s' (see --list-plugins)",
			             name, strchr(name, '.') + 1);
		else
			ivd_diag_add(diag, config->sections[i].line,
			             "unknown section [%s] (known: server, plugins, tts, tts.<backend>, "
			             "questions, questions.<source>, records, limits, log)",
			             name);
	}
}

void ivd_config_print(const struct ivd_config *config, FILE *out)
{
	fprintf(out, "; resolved configuration from %s (${prefix} = %s)\n\n", config->source_name,
	        config->prefix);
	struct ivd_options *const all[] = {config->server,  config->plugins, config->tts,
	                                   config->questions, config->records, config->limits,
	                                   config->log};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i])
			ivd_options_print(all[i], out);
	if (ivd_options_int(config->limits, "workers") == 0)
		fprintf(out, "; [limits] workers = 0: at most %u worker threads (max_sessions + %u)\n\n",
		        config->workers, IVD_WORKERS_SPARE);
}

void ivd_config_free(struct ivd_config *config)
{
	for (size_t i = 0; i < config->n_entries; i++) {
		free(config->entries[i].section);
		free(config->entries[i].key);
		if (config->entries[i].value)
			explicit_bzero(config->entries[i].value, strlen(config->entries[i].value));
		free(config->entries[i].value);
	}
	free(config->entries);
	for (size_t i = 0; i < config->n_sections; i++)
		free(config->sections[i].name);
	free(config->sections);
	ivd_options_free(config->server);
	ivd_options_free(config->plugins);
	ivd_options_free(config->tts);
	ivd_options_free(config->questions);
	ivd_options_free(config->records);
	ivd_options_free(config->limits);
	ivd_options_free(config->log);
	free(config->source_name);
	free(config->prefix);
	free(config->base_dir);
	memset(config, 0, sizeof *config);
}
