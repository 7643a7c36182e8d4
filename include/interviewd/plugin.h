/* interviewd plugin ABI: versions, the plugin descriptor, the host service table, errors and options. */
/* SPDX-License-Identifier: MIT */
#ifndef IVD_PLUGIN_H
#define IVD_PLUGIN_H

/*
 * HOW TO READ THIS HEADER
 *
 * This header and the interface headers it includes (tts.h, questions.h) are the whole contract
 * between the interviewd daemon (the "host") and a backend plugin (a .so file).  A plugin includes
 * <interviewd/plugin.h>, defines one `struct ivd_plugin`, and exports it with IVD_PLUGIN_DECLARE().
 * It never links against the daemon: every service it needs comes through `struct ivd_host_api`.
 *
 * VERSIONING POLICY
 *   IVD_ABI_MAJOR changes when anything is removed, reordered, resized in the middle, or changes
 *   meaning.  The host refuses a plugin whose major differs from its own.
 *   IVD_ABI_MINOR changes when something is appended to the END of a struct or a new backend kind
 *   is added.  The host refuses a plugin whose minor is newer than its own (the plugin may call
 *   services the host does not have); an older minor is accepted.
 *   Every struct that crosses the boundary starts with (or carries) `struct_size`, so either side
 *   can tell which trailing members the other knows.  Before using a host service added in minor N,
 *   a plugin checks `api->abi_minor >= N` (or IVD_HOST_HAS(api, member)).
 *
 * CHANGELOG
 *   1.0  first stable ABI: kinds tts and questions.
 *
 * THREADING TAGS used below
 *   [load]    called once, on the daemon's main thread, before any session exists.
 *   [worker]  called on one of the daemon's worker threads; may block (network, disk, sleep).
 *             Several worker threads may call into the same backend at the same time.
 *   [any]     may be called from any thread, including the plugin's own threads.
 *   Nothing in a plugin ever runs on the WebSocket loop thread.
 *
 * MEMORY
 *   Strings and structs the host passes in are borrowed: valid only until the call returns, unless
 *   a comment says otherwise.  Memory a plugin hands to the host (question text, ids) is allocated
 *   with api->alloc()/api->strdup() and freed by the host with api->free().
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IVD_ABI_MAJOR 1u
#define IVD_ABI_MINOR 0u

/* The one symbol a plugin exports.  The build links plugins with a version script that exports
 * only this symbol, under the ELF version node IVD_PLUGIN_1. */
#define IVD_PLUGIN_ENTRY_SYMBOL "ivd_plugin_entry"

#if defined(__GNUC__)
#define IVD_EXPORT __attribute__((visibility("default")))
#define IVD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define IVD_EXPORT
#define IVD_PRINTF(fmt, args)
#endif

/* ---------------------------------------------------------------------------------------------
 * Return codes.  Every action in this ABI returns one of these.
 */
enum ivd_status {
	IVD_OK = 0,         /* done */
	IVD_END = 1,        /* questions: the sequence has no more questions (not an error) */
	IVD_ERROR = -1,     /* failed; the `struct ivd_error` argument says why */
	IVD_CANCELLED = -2, /* the host cancelled the work (client gone, question skipped): stop now */
};

/* Error classes.  The core turns the class into a machine-readable code for the client
 * (e.g. "tts_throttled") and into the log level; the message says the rest. */
enum ivd_error_class {
	IVD_ERRC_NONE = 0,
	IVD_ERRC_CONFIG = 1,      /* the backend is misconfigured (bad option, unknown voice) */
	IVD_ERRC_CREDENTIALS = 2, /* missing/expired credentials or permission denied */
	IVD_ERRC_BAD_INPUT = 3,   /* the request itself is bad (text too long, invalid SSML) */
	IVD_ERRC_THROTTLED = 4,   /* the provider asks us to slow down */
	IVD_ERRC_UNAVAILABLE = 5, /* the provider cannot be reached or failed (5xx, timeout) */
	IVD_ERRC_INTERNAL = 6,    /* a bug or resource exhaustion inside the plugin */
};

#define IVD_ERROR_MESSAGE_MAX 256u
#define IVD_ERROR_DETAIL_MAX 768u

/* Filled by a plugin when it returns IVD_ERROR; set it with api->error_set().
 * `message` may be shown to the interview client: short, no secrets, no internal paths.
 * `detail` goes to the daemon log only: the cause, request id and the fix. */
struct ivd_error {
	enum ivd_error_class error_class;
	char message[IVD_ERROR_MESSAGE_MAX];
	char detail[IVD_ERROR_DETAIL_MAX];
};

/* How question and synthesis text is to be read. */
enum ivd_text_type {
	IVD_TEXT_PLAIN = 1, /* plain text; the backend escapes it if it wraps it in markup */
	IVD_TEXT_SSML = 2,  /* a complete <speak>...</speak> document */
};

enum ivd_log_level {
	IVD_LOG_ERROR = 1,
	IVD_LOG_WARN = 2,
	IVD_LOG_INFO = 3,
	IVD_LOG_DEBUG = 4,
};

/* ---------------------------------------------------------------------------------------------
 * Options.  A backend declares the keys its config section accepts; the host validates the
 * section (naming file and line on error), fills in defaults, and hands the backend a read-only
 * `struct ivd_options` view.  The backend named "mock" of kind tts reads section [tts.mock].
 */
enum ivd_option_type {
	IVD_OPT_STRING = 1, /* any UTF-8 text (may be empty) */
	IVD_OPT_INT = 2,    /* decimal integer in [min, max] */
	IVD_OPT_BOOL = 3,   /* true/false, yes/no, on/off, 1/0 */
	IVD_OPT_ENUM = 4,   /* one of the '|'-separated words in `choices` */
	IVD_OPT_PATH = 5,   /* a file or directory path; relative paths are resolved by the host */
	IVD_OPT_SECRET = 6, /* like STRING, but never printed by --check-config or logged */
};

struct ivd_option_spec {
	const char *key;           /* option name, lower-case, e.g. "voice" */
	enum ivd_option_type type;
	const char *default_value; /* text form; NULL means "no default" (the option is unset) */
	int64_t min, max;          /* IVD_OPT_INT only; ignored otherwise */
	const char *choices;       /* IVD_OPT_ENUM only: "mp3|ogg_vorbis|pcm" */
	const char *help;          /* one line for --check-config and docs */
};

/* Opaque read-only view of one validated config section.  Valid from create() until destroy(). */
struct ivd_options;

/* ---------------------------------------------------------------------------------------------
 * Host handles.
 */
struct ivd_host;       /* one per backend instance: logging and option context, valid until destroy() */
struct ivd_audio_sink; /* one per synthesis: where audio goes (see tts.h) */

/* The service table the host hands to every backend.  Append-only; check `struct_size` or
 * `abi_minor` before using members added after 1.0.  Every function is [any] thread-safe. */
struct ivd_host_api {
	uint32_t struct_size; /* sizeof(struct ivd_host_api) in the host */
	uint32_t abi_major;   /* the host's IVD_ABI_MAJOR */
	uint32_t abi_minor;   /* the host's IVD_ABI_MINOR */

	/* Log one line, prefixed by the host with the backend's name.  No trailing newline needed.
	 * Never pass secrets.  `host` may be NULL (then the line is prefixed with the plugin only). */
	void (*log)(struct ivd_host *host, enum ivd_log_level level, const char *fmt, ...) IVD_PRINTF(3, 4);
	/* True if a line at `level` would be written: skip building expensive debug text. */
	bool (*log_enabled)(struct ivd_host *host, enum ivd_log_level level);

	/* Allocation for memory that crosses the boundary.  alloc/calloc return NULL on failure;
	 * free(NULL) is a no-op; strdup(NULL) returns NULL. */
	void *(*alloc)(size_t size);
	void *(*calloc)(size_t count, size_t size);
	void (*free)(void *ptr);
	char *(*strdup)(const char *text);

	/* Options of this backend's section.  The returned string is owned by the host and valid until
	 * destroy().  option_string returns NULL for an unset option without default.  Asking for a key
	 * the backend did not declare returns NULL / 0 / false and logs a warning. */
	const char *(*option_string)(const struct ivd_options *options, const char *key);
	int64_t (*option_int)(const struct ivd_options *options, const char *key);
	bool (*option_bool)(const struct ivd_options *options, const char *key);

	/* Fill `err` (NULL is allowed: then nothing happens).  `message` is shown to clients,
	 * the printf-style detail goes to the log.  Both are truncated to their buffers. */
	void (*error_set)(struct ivd_error *err, enum ivd_error_class error_class, const char *message,
	                  const char *detail_fmt, ...) IVD_PRINTF(4, 5);

	/* --- audio sink: see tts.h for the full contract --- */

	/* Declare the format of the audio about to be written: a MIME type ("audio/mpeg",
	 * "audio/ogg", "audio/L16") and the sample rate in Hz.  Must be called once, before the first
	 * sink_write.  Returns IVD_OK, or IVD_CANCELLED. */
	int (*sink_format)(struct ivd_audio_sink *sink, const char *mime_type, uint32_t sample_rate);
	/* Hand `len` bytes of audio to the host, in stream order, as soon as they are produced.  The
	 * host copies them.  Blocks while the session's bounded buffer is full (a slow client slows
	 * its own synthesis).  Returns IVD_OK, or IVD_CANCELLED: stop the synthesis and return
	 * IVD_CANCELLED. */
	int (*sink_write)(struct ivd_audio_sink *sink, const void *data, size_t len);
	/* True once the host has cancelled this synthesis.  Cheap: poll it in loops. */
	bool (*sink_cancelled)(struct ivd_audio_sink *sink);
	/* Sleep up to `ms` milliseconds, waking at once on cancellation.  Returns IVD_OK after the
	 * full wait, IVD_CANCELLED if cancelled.  Use it instead of sleep() so cancellation is prompt. */
	int (*sink_wait)(struct ivd_audio_sink *sink, uint32_t ms);
};

/* True if the host's table is large enough to contain `member`. */
#define IVD_HOST_HAS(api, member)                                                                  \
	((api)->struct_size >= offsetof(struct ivd_host_api, member) + sizeof((api)->member))

/* What create() receives: everything a backend instance needs from the host.  Borrowed; the
 * pointers inside stay valid until destroy(). */
struct ivd_backend_context {
	uint32_t struct_size;
	const struct ivd_host_api *api;
	struct ivd_host *host;             /* pass to api->log() */
	const struct ivd_options *options; /* this backend's validated section */
	const char *backend_name;          /* e.g. "polly-neural" */
};

/* ---------------------------------------------------------------------------------------------
 * Backends and the plugin descriptor.
 */
enum ivd_backend_kind {
	IVD_KIND_TTS = 1,       /* iface is a `const struct ivd_tts_iface *` (tts.h) */
	IVD_KIND_QUESTIONS = 2, /* iface is a `const struct ivd_questions_iface *` (questions.h) */
	/* reserved for later minors: IVD_KIND_STT = 3 */
};

struct ivd_backend_desc {
	uint32_t struct_size;       /* sizeof(struct ivd_backend_desc) as the plugin was built */
	enum ivd_backend_kind kind;
	const char *name;           /* unique across all plugins: [a-z0-9-]+, e.g. "polly-standard" */
	const char *description;    /* one line for --list-plugins */
	const void *iface;          /* kind-specific table, see above */
	const struct ivd_option_spec *options; /* accepted keys of [<kind>.<name>], NULL-key terminated */
};

struct ivd_plugin {
	/* These three come first and never move: the host reads them before anything else. */
	uint32_t abi_major;   /* IVD_ABI_MAJOR the plugin was built against */
	uint32_t abi_minor;   /* IVD_ABI_MINOR the plugin was built against */
	uint32_t struct_size; /* sizeof(struct ivd_plugin) as the plugin was built */

	const char *name;        /* plugin name, unique: [a-z0-9-]+ */
	const char *version;     /* the plugin's own version, e.g. "1.2.0" */
	const char *description; /* one line */

	/* [load] Optional (may be NULL).  Called once after the ABI check, before any backend is
	 * created.  Return IVD_OK, or IVD_ERROR with `err` filled: the plugin is then refused. */
	int (*init)(const struct ivd_host_api *api, struct ivd_error *err);
	/* [load] Optional.  Called once at shutdown after every backend was destroyed. */
	void (*fini)(void);

	const struct ivd_backend_desc *backends; /* array of n_backends entries */
	uint32_t n_backends;
};

/* Export the descriptor.  Use exactly once per plugin, at file scope:
 *     static const struct ivd_plugin my_plugin = { IVD_PLUGIN_HEADER, "my-plugin", ... };
 *     IVD_PLUGIN_DECLARE(my_plugin)
 */
#define IVD_PLUGIN_HEADER IVD_ABI_MAJOR, IVD_ABI_MINOR, (uint32_t)sizeof(struct ivd_plugin)
#define IVD_PLUGIN_DECLARE(descriptor)                                                             \
	IVD_EXPORT const struct ivd_plugin *ivd_plugin_entry(void);                                \
	IVD_EXPORT const struct ivd_plugin *ivd_plugin_entry(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif

#include <interviewd/questions.h>
#include <interviewd/tts.h>

#endif /* IVD_PLUGIN_H */
