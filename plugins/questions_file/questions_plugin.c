/* file questions plugin: the `file` source, which asks the questions of a bank file in order. */
#include <interviewd/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "question_bank.h"

struct file_source {
	const struct ivd_host_api *api;
	struct question_bank *bank;
	size_t limit; /* questions asked per session */
};

struct file_sequence {
	const struct file_source *source;
	size_t next_index;
};

static const struct ivd_option_spec file_options[] = {
	{"path", IVD_OPT_PATH, NULL, 0, 0, NULL, "the question bank file (text or JSON, UTF-8)"},
	{"format", IVD_OPT_ENUM, "auto", 0, 0, "auto|text|json",
	 "text: one question per line, # comments; json: [{\"id\",\"text\",\"ssml\"}]; auto: by extension"},
	{"max_questions", IVD_OPT_INT, "0", 0, 100000, NULL, "ask at most this many questions (0: all)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int file_create(const struct ivd_backend_context *ctx, void **out, struct ivd_error *err)
{
	const struct ivd_host_api *api = ctx->api;
	const char *format_name = api->option_string(ctx->options, "format");
	enum question_bank_format format = strcmp(format_name, "json") == 0   ? QUESTION_BANK_JSON
	                                   : strcmp(format_name, "text") == 0 ? QUESTION_BANK_TEXT
	                                                                      : QUESTION_BANK_AUTO;
	struct file_source *source = calloc(1, sizeof(*source));
	if (!source) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	source->api = api;
	source->bank = question_bank_load(api, api->option_string(ctx->options, "path"), format, err);
	if (!source->bank) {
		free(source);
		return IVD_ERROR;
	}
	size_t max = (size_t)api->option_int(ctx->options, "max_questions");
	source->limit = max && max < source->bank->n_items ? max : source->bank->n_items;
	api->log(ctx->host, IVD_LOG_DEBUG, "%zu questions from %s, %zu asked per session",
	         source->bank->n_items, api->option_string(ctx->options, "path"), source->limit);
	*out = source;
	return IVD_OK;
}

static void file_destroy(void *opaque)
{
	struct file_source *source = opaque;
	question_bank_free(source->bank);
	free(source);
}

static int file_open(void *opaque, const struct ivd_session_info *session, void **out,
                     struct ivd_error *err)
{
	(void)session;
	struct file_source *source = opaque;
	struct file_sequence *sequence = calloc(1, sizeof(*sequence));
	if (!sequence) {
		source->api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	sequence->source = source;
	*out = sequence;
	return IVD_OK;
}

static int32_t file_count(void *opaque)
{
	const struct file_sequence *sequence = opaque;
	return (int32_t)sequence->source->limit;
}

static int file_next(void *opaque, const struct ivd_answer *answers, uint32_t n_answers,
                     struct ivd_question *question, struct ivd_error *err)
{
	(void)answers;
	(void)n_answers;
	struct file_sequence *sequence = opaque;
	const struct file_source *source = sequence->source;
	if (sequence->next_index >= source->limit)
		return IVD_END;
	const struct question_bank_item *item = &source->bank->items[sequence->next_index];
	question->id = source->api->strdup(item->id);
	question->text = source->api->strdup(item->text);
	question->text_type = item->ssml ? IVD_TEXT_SSML : IVD_TEXT_PLAIN;
	if (!question->id || !question->text) {
		source->api->free(question->id);
		source->api->free(question->text);
		question->id = question->text = NULL;
		source->api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	sequence->next_index++;
	return IVD_OK;
}

static void file_close(void *opaque)
{
	free(opaque);
}

static const struct ivd_questions_iface file_questions = {
	.struct_size = sizeof(struct ivd_questions_iface),
	.create = file_create,
	.destroy = file_destroy,
	.open = file_open,
	.count = file_count,
	.next = file_next,
	.close = file_close,
};

static const struct ivd_backend_desc file_backends[] = {{
	.struct_size = sizeof(struct ivd_backend_desc),
	.kind = IVD_KIND_QUESTIONS,
	.name = "file",
	.description = "asks the questions of a bank file (text or JSON) in order",
	.iface = &file_questions,
	.options = file_options,
}};

static const struct ivd_plugin file_plugin = {
	IVD_PLUGIN_HEADER,
	.name = "questions-file",
	.version = "1.0.0",
	.description = "question banks from text or JSON files",
	.init = NULL,
	.fini = NULL,
	.backends = file_backends,
	.n_backends = 1,
};

IVD_PLUGIN_DECLARE(file_plugin)
