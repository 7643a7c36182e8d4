/* The daemon's configuration: reads the INI file (or the embedded default) and the core sections. */
#ifndef IVD_CONFIG_H
#define IVD_CONFIG_H

#include "ivd_diag.h"
#include "ivd_options.h"

struct ivd_ini_section {
	char *name;
	unsigned line;
};

/* Worker threads beyond max_sessions when [limits] workers is 0: a closed session's last job
 * (cancelled within 100 ms) may still hold a thread while a new session takes its place. */
#define IVD_WORKERS_SPARE 64u

struct ivd_config {
	char *source_name; /* the file path, or "<embedded default>" */
	char *prefix;      /* ${prefix} */
	char *base_dir;    /* relative paths start here */
	struct ivd_path_context paths;

	struct ivd_ini_entry *entries;
	size_t n_entries;
	struct ivd_ini_section *sections;
	size_t n_sections;

	/* Core sections, validated. */
	struct ivd_options *server, *plugins, *tts, *questions, *records, *limits, *log;

	/* Typed core settings (strings point into the options above). */
	const char *listen;
	int port;
	const char *ws_path;
	size_t audio_chunk_bytes;
	const char *allowed_origins;
	const char *plugin_dir;
	unsigned plugin_dir_line; /* 0: the default */
	const char *tts_backend;
	unsigned tts_backend_line;
	const char *question_source;
	unsigned question_source_line;
	const char *records_dir;
	uint32_t max_sessions;
	size_t max_message_bytes;
	size_t max_answer_audio_bytes;
	size_t session_buffer_bytes;
	uint32_t max_pending_messages;
	uint32_t send_timeout_s;
	uint32_t ping_interval_s;
	uint32_t workers; /* resolved: [limits] workers, or max_sessions + IVD_WORKERS_SPARE */
	enum ivd_log_level log_level;
};

/* The text of conf/interviewd.ini, compiled in. */
extern const char ivd_default_config_text[];

/* Read and validate the core sections of `path` (NULL: the embedded default).  Errors go to
 * `diag` (whose `file` this sets).  Returns 0 if the core sections are valid, -1 otherwise; the
 * config must be freed with ivd_config_free() either way. */
int ivd_config_load(struct ivd_config *config, const char *path, struct ivd_diag *diag);

/* Report sections nobody claimed and keys left unread.  `is_backend_section` says whether a
 * "kind.name" section belongs to a known backend.  Call after every backend section was built. */
void ivd_config_check_unclaimed(struct ivd_config *config,
                                bool (*is_backend_section)(void *ctx, const char *section),
                                void *ctx, struct ivd_diag *diag);

/* Find the line of a section header, 0 if absent. */
unsigned ivd_config_section_line(const struct ivd_config *config, const char *section);

void ivd_config_print(const struct ivd_config *config, FILE *out);
void ivd_config_free(struct ivd_config *config);

#endif
