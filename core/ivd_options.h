/* Validated option sections: checks INI values against option specs and answers lookups. */
#ifndef IVD_OPTIONS_H
#define IVD_OPTIONS_H

#include <interviewd/plugin.h>

#include "ivd_diag.h"

/* One key = value line as read from the INI file. */
struct ivd_ini_entry {
	char *section;
	char *key;
	char *value;
	unsigned line;
	bool used; /* claimed by a section's validation */
};

/* What relative paths and ${prefix} resolve against. */
struct ivd_path_context {
	const char *prefix;   /* the installation prefix */
	const char *base_dir; /* directory of the config file, or the working directory */
};

struct ivd_option_value {
	const struct ivd_option_spec *spec;
	char *text;     /* resolved text form (absolute path for IVD_OPT_PATH); NULL if unset */
	int64_t number; /* IVD_OPT_INT, IVD_OPT_BOOL (0/1) */
	unsigned line;  /* 0: default */
};

struct ivd_options {
	char *section;
	struct ivd_option_value *values;
	size_t n_values;
};

/* Validate every entry of `section` against `specs` (NULL-key terminated), marking entries used.
 * Problems are added to `diag` with the file and line.  Returns a new options object (even when
 * errors were found, so more can be reported), or NULL if out of memory. */
struct ivd_options *ivd_options_build(const char *section, const struct ivd_option_spec *specs,
                                      struct ivd_ini_entry *entries, size_t n_entries,
                                      const struct ivd_path_context *paths, struct ivd_diag *diag);
void ivd_options_free(struct ivd_options *options);

const struct ivd_option_value *ivd_options_find(const struct ivd_options *options, const char *key);
const char *ivd_options_string(const struct ivd_options *options, const char *key);
int64_t ivd_options_int(const struct ivd_options *options, const char *key);
bool ivd_options_bool(const struct ivd_options *options, const char *key);

/* Expand ${prefix} and resolve a relative path; returns a malloc'ed string or NULL. */
char *ivd_path_resolve(const char *value, const struct ivd_path_context *paths);

/* Print "key = value" lines (secrets shown as "(set)") to `out`, for --check-config. */
void ivd_options_print(const struct ivd_options *options, FILE *out);

#endif
