/* file questions plugin: loading and checking a question bank file (plain text or JSON). */
#include "question_bank.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_check.h"

#define BANK_ERROR "question bank invalid"

static unsigned line_of(const char *text, size_t offset)
{
	unsigned line = 1;
	for (size_t i = 0; i < offset; i++)
		line += text[i] == '\n';
	return line;
}

static char *read_bank_file(const struct ivd_host_api *api, const char *path, size_t *len_out,
                            struct ivd_error *err)
{
	FILE *file = fopen(path, "rb");
	if (!file) {
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *text = malloc(QUESTION_BANK_MAX_FILE_BYTES + 1);
	size_t len = text ? fread(text, 1, QUESTION_BANK_MAX_FILE_BYTES + 1, file) : 0;
	bool failed = !text || ferror(file);
	fclose(file);
	if (failed || len > QUESTION_BANK_MAX_FILE_BYTES) {
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s: %s", path,
		               failed ? "read error or out of memory" : "larger than 16 MiB");
		free(text);
		return NULL;
	}
	text[len] = '\0';
	size_t valid = utf8_valid_prefix((const unsigned char *)text, len);
	if (valid != len || memchr(text, '\0', len)) {
		size_t bad = valid != len ? valid : (size_t)((char *)memchr(text, '\0', len) - text);
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR,
		               "%s:%u: not valid UTF-8 text (byte offset %zu); save the file as UTF-8", path,
		               line_of(text, bad), bad);
		free(text);
		return NULL;
	}
	*len_out = len;
	return text;
}

static bool bank_append(struct question_bank *bank, size_t *capacity, const char *id,
                        const char *text, size_t text_len, bool ssml)
{
	if (bank->n_items == *capacity) {
		size_t grown = *capacity ? *capacity * 2 : 16;
		struct question_bank_item *items = realloc(bank->items, grown * sizeof(*items));
		if (!items)
			return false;
		bank->items = items;
		*capacity = grown;
	}
	struct question_bank_item *item = &bank->items[bank->n_items];
	char generated[32];
	if (!id) {
		snprintf(generated, sizeof(generated), "q%zu", bank->n_items + 1);
		id = generated;
	}
	item->id = strdup(id);
	item->text = strndup(text, text_len);
	item->ssml = ssml;
	if (!item->id || !item->text) {
		free(item->id);
		free(item->text);
		return false;
	}
	bank->n_items++;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* One question per line; blank lines and lines whose first non-blank character is '#' are skipped. */
static bool parse_text(const struct ivd_host_api *api, const char *path, const char *text,
                       struct question_bank *bank, struct ivd_error *err)
{
	size_t capacity = 0;
	unsigned line = 0;
	for (const char *start = text; *start;) {
		const char *end = strchr(start, '\n');
		if (!end)
			end = start + strlen(start);
		line++;
		const char *first = start, *last = end;
		while (first < last && is_space(*first))
			first++;
		while (last > first && is_space(last[-1]))
			last--;
		if (first < last && *first != '#') {
			if ((size_t)(last - first) > QUESTION_BANK_MAX_QUESTION_BYTES) {
				api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s:%u: question longer than %u bytes",
				               path, line, QUESTION_BANK_MAX_QUESTION_BYTES);
				return false;
			}
			if (!bank_append(bank, &capacity, NULL, first, (size_t)(last - first), false)) {
				api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
				return false;
			}
		}
		start = *end ? end + 1 : end;
	}
	return true;
}

static bool id_taken(const struct question_bank *bank, const char *id)
{
	for (size_t i = 0; i < bank->n_items; i++)
		if (strcmp(bank->items[i].id, id) == 0)
			return true;
	return false;
}

/* A JSON array (or {"questions": [...]}) of strings or {"id": "...", "text": "...", "ssml": false}. */
static bool parse_json(const struct ivd_host_api *api, const char *path, const char *text, size_t len,
                       struct question_bank *bank, struct ivd_error *err)
{
	const char *parse_end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &parse_end, true); /* + its NUL */
	if (!root) {
		size_t offset = parse_end && parse_end >= text ? (size_t)(parse_end - text) : 0;
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s:%u: not valid JSON", path,
		               line_of(text, offset));
		return false;
	}
	const cJSON *list = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "questions") : root;
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(root);
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR,
		               "%s: expected a JSON array of questions, or an object with a \"questions\" array",
		               path);
		return false;
	}
	size_t capacity = 0, number = 0;
	bool ok = true;
	const cJSON *entry;
	cJSON_ArrayForEach(entry, list)
	{
		number++;
		const cJSON *id = NULL, *question = entry, *ssml = NULL;
		if (cJSON_IsObject(entry)) {
			id = cJSON_GetObjectItemCaseSensitive(entry, "id");
			question = cJSON_GetObjectItemCaseSensitive(entry, "text");
			ssml = cJSON_GetObjectItemCaseSensitive(entry, "ssml");
		}
		const char *problem = NULL;
		if (!cJSON_IsString(question) || question->valuestring[0] == '\0')
			problem = "needs a non-empty \"text\" string";
		else if (strlen(question->valuestring) > QUESTION_BANK_MAX_QUESTION_BYTES)
			problem = "is longer than 64 KiB";
		else if (id && (!cJSON_IsString(id) || id->valuestring[0] == '\0' || strlen(id->valuestring) > 128))
			problem = "has an \"id\" that is not a string of 1-128 characters";
		else if (ssml && !cJSON_IsBool(ssml))
			problem = "has an \"ssml\" that is not true or false";
		else if (id && id_taken(bank, id->valuestring))
			problem = "repeats an \"id\" used before";
		if (problem) {
			api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s: question %zu %s", path, number, problem);
			ok = false;
			break;
		}
		if (!bank_append(bank, &capacity, id ? id->valuestring : NULL, question->valuestring,
		                 strlen(question->valuestring), cJSON_IsTrue(ssml))) {
			api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
			ok = false;
			break;
		}
	}
	cJSON_Delete(root);
	return ok;
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t len = strlen(text), suffix_len = strlen(suffix);
	return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

struct question_bank *question_bank_load(const struct ivd_host_api *api, const char *path,
                                         enum question_bank_format format, struct ivd_error *err)
{
	if (!path || !path[0]) {
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "path is not set: name a question bank file");
		return NULL;
	}
	size_t len = 0;
	char *text = read_bank_file(api, path, &len, err);
	if (!text)
		return NULL;
	struct question_bank *bank = calloc(1, sizeof(*bank));
	if (!bank) {
		free(text);
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return NULL;
	}
	if (format == QUESTION_BANK_AUTO)
		format = ends_with(path, ".json") ? QUESTION_BANK_JSON : QUESTION_BANK_TEXT;
	bool ok = format == QUESTION_BANK_JSON ? parse_json(api, path, text, len, bank, err)
	                                       : parse_text(api, path, text, bank, err);
	free(text);
	if (ok && bank->n_items == 0) {
		api->error_set(err, IVD_ERRC_CONFIG, BANK_ERROR, "%s: the bank has no questions", path);
		ok = false;
	}
	if (!ok) {
		question_bank_free(bank);
		return NULL;
	}
	return bank;
}

void question_bank_free(struct question_bank *bank)
{
	if (!bank)
		return;
	for (size_t i = 0; i < bank->n_items; i++) {
		free(bank->items[i].id);
		free(bank->items[i].text);
	}
	free(bank->items);
	free(bank);
}
