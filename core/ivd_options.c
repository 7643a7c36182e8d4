/* Validated option sections: checks INI values against option specs and answers lookups. */
#include "ivd_options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ivd_log.h"

static int parse_bool(const char *text)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return 1;
		if (strcasecmp(text, no[i]) == 0)
			return 0;
	}
	return -1;
}

static bool choice_listed(const char *choices, const char *word)
{
	size_t len = strlen(word);
	const char *p = choices;
	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && strncmp(p, word, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

char *ivd_path_resolve(const char *value, const struct ivd_path_context *paths)
{
	static const char token[] = "${prefix}";
	char expanded[4096];
	size_t used = 0;
	for (const char *p = value; *p;) {
		if (strncmp(p, token, sizeof token - 1) == 0) {
			int n = snprintf(expanded + used, sizeof expanded - used, "%s", paths->prefix);
			if (n < 0 || (size_t)n >= sizeof expanded - used)
				return NULL;
			used += (size_t)n;
			p += sizeof token - 1;
			continue;
		}
		if (used + 1 >= sizeof expanded)
			return NULL;
		expanded[used++] = *p++;
	}
	expanded[used] = '\0';
	if (expanded[0] == '/' || expanded[0] == '\0')
		return strdup(expanded);
	char joined[4096 + 1024];
	snprintf(joined, sizeof joined, "%s/%s", paths->base_dir, expanded);
	return strdup(joined);
}

/* Validate `text` for `spec` into `out`; returns false (with a message in diag) if invalid. */
static bool set_value(struct ivd_option_value *out, const char *section, const char *text,
                      unsigned line, const struct ivd_path_context *paths, struct ivd_diag *diag)
{
	const struct ivd_option_spec *spec = out->spec;
	char *end = NULL;
	switch (spec->type) {
	case IVD_OPT_INT: {
		errno = 0;
		long long number = strtoll(text, &end, 10);
		if (errno || end == text || *end != '\0') {
			ivd_diag_add(diag, line, "[%s] %s: '%s' is not a whole number", section,
			             spec->key, text);
			return false;
		}
		if (number < spec->min || number > spec->max) {
			ivd_diag_add(diag, line, "[%s] %s: %lld is out of range (%" PRId64 "..%" PRId64 ")",
			             section, spec->key, number, spec->min, spec->max);
			return false;
		}
		out->number = number;
		break;
	}
	case IVD_OPT_BOOL: {
		int flag = parse_bool(text);
		if (flag < 0) {
			ivd_diag_add(diag, line, "[%s] %s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
			             section, spec->key, text);
			return false;
		}
		out->number = flag;
		break;
	}
	case IVD_OPT_ENUM:
		if (!choice_listed(spec->choices, text)) {
			ivd_diag_add(diag, line, "[%s] %s: '%s' is not one of %s", section, spec->key,
			             text, spec->choices);
			return false;
		}
		break;
	case IVD_OPT_PATH:
		if (text[0] != '\0') {
			char *resolved = ivd_path_resolve(text, paths);
			if (!resolved) {
				ivd_diag_add(diag, line, "[%s] %s: path too long", section, spec->key);
				return false;
			}
			free(out->text);
			out->text = resolved;
			out->line = line;
			return true;
		}
		break;
	case IVD_OPT_STRING:
	case IVD_OPT_SECRET:
		break;
	}
	free(out->text);
	out->text = strdup(text);
	out->line = line;
	return out->text != NULL;
}

struct ivd_options *ivd_options_build(const char *section, const struct ivd_option_spec *specs,
                                      struct ivd_ini_entry *entries, size_t n_entries,
                                      const struct ivd_path_context *paths, struct ivd_diag *diag)
{
	struct ivd_options *options = calloc(1, sizeof *options);
	if (!options)
		return NULL;
	options->section = strdup(section);
	size_t n_specs = 0;
	while (specs && specs[n_specs].key)
		n_specs++;
	options->values = calloc(n_specs ? n_specs : 1, sizeof *options->values);
	if (!options->section || !options->values) {
		ivd_options_free(options);
		return NULL;
	}
	options->n_values = n_specs;
	for (size_t i = 0; i < n_specs; i++) {
		options->values[i].spec = &specs[i];
		if (specs[i].default_value) {
			struct ivd_diag quiet = {.file = "<default>"};
			if (!set_value(&options->values[i], section, specs[i].default_value, 0, paths, &quiet))
				ivd_log_error("[%s] %s: the built-in default '%s' is invalid", section,
				              specs[i].key, specs[i].default_value);
			ivd_diag_free(&quiet);
			options->values[i].line = 0;
		}
	}
	for (size_t e = 0; e < n_entries; e++) {
		struct ivd_ini_entry *entry = &entries[e];
		if (strcmp(entry->section, section) != 0)
			continue;
		entry->used = true;
		struct ivd_option_value *value = NULL;
		for (size_t i = 0; i < n_specs; i++)
			if (strcmp(specs[i].key, entry->key) == 0)
				value = &options->values[i];
		if (!value) {
			char known[512] = "";
			size_t used = 0;
			for (size_t i = 0; i < n_specs && used < sizeof known; i++) {
				int n = snprintf(known + used, sizeof known - used, "%s%s",
				                 i ? ", " : "", specs[i].key);
				if (n > 0)
					used += (size_t)n;
			}
			ivd_diag_add(diag, entry->line, "[%s] unknown key '%s' (known keys: %s)", section,
			             entry->key, n_specs ? known : "none");
			continue;
		}
		set_value(value, section, entry->value, entry->line, paths, diag);
	}
	return options;
}

void ivd_options_free(struct ivd_options *options)
{
	if (!options)
		return;
	for (size_t i = 0; i < options->n_values; i++) {
		if (options->values[i].text && options->values[i].spec->type == IVD_OPT_SECRET)
			explicit_bzero(options->values[i].text, strlen(options->values[i].text));
		free(options->values[i].text);
	}
	free(options->values);
	free(options->section);
	free(options);
}

const struct ivd_option_value *ivd_options_find(const struct ivd_options *options, const char *key)
{
	for (size_t i = 0; options && i < options->n_values; i++)
		if (strcmp(options->values[i].spec->key, key) == 0)
			return &options->values[i];
	ivd_log_warn("[%s] asked for the undeclared option '%s'", options ? options->section : "?",
	             key);
	return NULL;
}

const char *ivd_options_string(const struct ivd_options *options, const char *key)
{
	const struct ivd_option_value *value = ivd_options_find(options, key);
	return value ? value->text : NULL;
}

int64_t ivd_options_int(const struct ivd_options *options, const char *key)
{
	const struct ivd_option_value *value = ivd_options_find(options, key);
	return value ? value->number : 0;
}

bool ivd_options_bool(const struct ivd_options *options, const char *key)
{
	const struct ivd_option_value *value = ivd_options_find(options, key);
	return value && value->number != 0;
}

void ivd_options_print(const struct ivd_options *options, FILE *out)
{
	fprintf(out, "[%s]\n", options->section);
	for (size_t i = 0; i < options->n_values; i++) {
		const struct ivd_option_value *value = &options->values[i];
		const char *shown = value->text ? value->text : "";
		if (value->spec->type == IVD_OPT_SECRET)
			shown = value->text && value->text[0] ? "(set, hidden)" : "";
		fprintf(out, "%s = %s%s\n", value->spec->key, shown,
		        value->line ? "" : "    ; default");
	}
	fputc('\n', out);
}
