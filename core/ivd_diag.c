/* Collected diagnostics ("file:line: message") for config and plugin checks. */
#include "ivd_diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ivd_diag_add(struct ivd_diag *diag, unsigned line, const char *fmt, ...)
{
	char message[1024];
	va_list args;
	va_start(args, fmt);
	vsnprintf(message, sizeof message, fmt, args);
	va_end(args);

	char text[1400];
	if (!diag->file)
		snprintf(text, sizeof text, "%s", message);
	else if (line > 0)
		snprintf(text, sizeof text, "%s:%u: %s", diag->file, line, message);
	else
		snprintf(text, sizeof text, "%s: %s", diag->file, message);
	if (diag->count == diag->capacity) {
		size_t capacity = diag->capacity ? diag->capacity * 2 : 8;
		char **lines = realloc(diag->lines, capacity * sizeof *lines);
		if (!lines)
			return;
		diag->lines = lines;
		diag->capacity = capacity;
	}
	char *copy = strdup(text);
	if (copy)
		diag->lines[diag->count++] = copy;
}

void ivd_diag_print(const struct ivd_diag *diag, FILE *out)
{
	for (size_t i = 0; i < diag->count; i++)
		fprintf(out, "%s\n", diag->lines[i]);
}

void ivd_diag_free(struct ivd_diag *diag)
{
	for (size_t i = 0; i < diag->count; i++)
		free(diag->lines[i]);
	free(diag->lines);
	diag->lines = NULL;
	diag->count = diag->capacity = 0;
}
