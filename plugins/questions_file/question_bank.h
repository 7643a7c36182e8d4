/* file questions plugin: loading and checking a question bank file (plain text or JSON). */
#ifndef QUESTION_BANK_H
#define QUESTION_BANK_H

#include <interviewd/plugin.h>

struct question_bank_item {
	char *id;
	char *text;
	bool ssml;
};

struct question_bank {
	struct question_bank_item *items;
	size_t n_items;
};

enum question_bank_format {
	QUESTION_BANK_AUTO,
	QUESTION_BANK_TEXT,
	QUESTION_BANK_JSON,
};

/* Largest bank file read, and largest single question (bytes). */
#define QUESTION_BANK_MAX_FILE_BYTES (16u * 1024u * 1024u)
#define QUESTION_BANK_MAX_QUESTION_BYTES (64u * 1024u)

/* Read and check `path`.  On error returns NULL with `err` filled (class CONFIG); the detail names
 * the file and, where known, the line. */
struct question_bank *question_bank_load(const struct ivd_host_api *api, const char *path,
                                         enum question_bank_format format, struct ivd_error *err);
void question_bank_free(struct question_bank *bank);

#endif
