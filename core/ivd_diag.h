/* Collected diagnostics ("file:line: message") for config and plugin checks. */
#ifndef IVD_DIAG_H
#define IVD_DIAG_H

#include <interviewd/plugin.h>
#include <stdio.h>

struct ivd_diag {
	const char *file; /* name used in messages: a path or "<embedded default>"; NULL: none */
	char **lines;
	size_t count, capacity;
};

/* Add one error; line 0 means "no line" (then only the file is named). */
void ivd_diag_add(struct ivd_diag *diag, unsigned line, const char *fmt, ...) IVD_PRINTF(3, 4);
void ivd_diag_print(const struct ivd_diag *diag, FILE *out);
void ivd_diag_free(struct ivd_diag *diag);

#endif
