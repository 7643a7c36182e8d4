/* One interview session: the state machine run on the loop thread, and its outgoing queue. */
#include "ivd_session.h"

#include <libwebsockets.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivd_audio_sink.h"
#include "ivd_log.h"
#include "ivd_protocol.h"
#include "ivd_records.h"
#include "ivd_server.h"

#define IVD_MAX_PARAMS 16u

enum job_kind {
	JOB_OPEN = 1,
	JOB_NEXT,
	JOB_SYNTH,
	JOB_STORE_TEXT,
	JOB_SKIP,
	JOB_AUDIO_BEGIN,
	JOB_AUDIO_WRITE,
	JOB_AUDIO_FINISH,
	JOB_TEARDOWN,
};

/* Owned strings behind one `struct ivd_answer` of the history. */
struct ivd_answer_record {
	char *question_id;
	char *question_text;
	char *text;
	char *audio_path;
	char *audio_mime;
};

/* A unit of blocking work for one session; results are read back on the loop thread. */
struct ivd_session_job {
	struct ivd_job base;
	struct ivd_session *session;
	enum job_kind kind;
	int status;
	struct ivd_error err;
	char storage_error[512];
	/* inputs */
	uint32_t index;
	char *question_id;
	char *text;
	enum ivd_text_type text_type;
	char *mime_type;
	bool repeat;
	/* outputs */
	int32_t count;
	struct ivd_question question;
	struct ivd_audio_sink *sink;
	struct ivd_tts_result result;
	bool interrupted;
	uint64_t started_ns;
	uint64_t bytes;
	char sha256[65];
	char file_name[64];
};

/* Most messages, and bytes, one WRITEABLE callback sends before yielding to other sessions. */
#define IVD_WRITE_BURST_MESSAGES 16u
#define IVD_WRITE_BURST_BYTES (64u * 1024u)

static uint64_t monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* ------------------------------------------------------------------ outgoing queue ---- */

struct ivd_out_msg *ivd_out_msg_new(const void *data, size_t len, bool binary, bool audio)
{
	struct ivd_out_msg *msg = malloc(sizeof *msg + LWS_PRE + len);
	if (!msg)
		return NULL;
	msg->next = NULL;
	msg->len = len;
	msg->binary = binary;
	msg->audio = audio;
	msg->data = msg->storage + LWS_PRE;
	memcpy(msg->data, data, len);
	return msg;
}

static void request_write(struct ivd_session *session)
{
	if (!session->wsi)
		return;
	lws_callback_on_writable(session->wsi);
	lws_set_timeout(session->wsi, PENDING_TIMEOUT_USER_OK,
	                (int)session->server->config->send_timeout_s);
}

static void free_messages(struct ivd_out_msg *msg)
{
	while (msg) {
		struct ivd_out_msg *next = msg->next;
		free(msg);
		msg = next;
	}
}

/* Drop queued audio (the question was interrupted) and wake a writer waiting for room. */
static void purge_audio(struct ivd_session *session)
{
	pthread_mutex_lock(&session->lock);
	struct ivd_out_msg **link = &session->out_head;
	session->out_tail = NULL;
	struct ivd_audio_sink *sink = session->synth ? session->synth->sink : NULL;
	while (*link) {
		struct ivd_out_msg *msg = *link;
		if (msg->audio) {
			if (sink)
				sink->bytes_purged += msg->len;
			*link = msg->next;
			free(msg);
		} else {
			session->out_tail = msg;
			link = &msg->next;
		}
	}
	session->out_audio_bytes = 0;
	pthread_cond_broadcast(&session->changed);
	pthread_mutex_unlock(&session->lock);
}

static void close_after_flush(struct ivd_session *session, int code)
{
	if (!session->close_code)
		session->close_code = code;
	if (session->phase != IVD_PHASE_CLOSED)
		session->phase = IVD_PHASE_ENDING;
	request_write(session);
}

static void send_json(struct ivd_session *session, cJSON *object)
{
	if (!session->wsi || !object) {
		cJSON_Delete(object);
		return;
	}
	size_t len = 0;
	char *text = ivd_msg_finish(object, &len);
	struct ivd_out_msg *msg = text ? ivd_out_msg_new(text, len, false, false) : NULL;
	cJSON_free(text);
	if (!msg)
		return;
	bool overflow = false;
	pthread_mutex_lock(&session->lock);
	if (session->out_control >= session->server->config->max_pending_messages) {
		overflow = true;
		free(msg);
	} else {
		if (session->out_tail)
			session->out_tail->next = msg;
		else
			session->out_head = msg;
		session->out_tail = msg;
		session->out_control++;
	}
	pthread_mutex_unlock(&session->lock);
	if (overflow && !session->close_code) {
		ivd_log_warn("session %s: client does not read its messages; closing (1008)", session->id);
		/* Replace the backlog with one last explanation. */
		pthread_mutex_lock(&session->lock);
		free_messages(session->out_head);
		session->out_head = session->out_tail = NULL;
		session->out_audio_bytes = 0;
		session->out_control = 0;
		pthread_cond_broadcast(&session->changed);
		pthread_mutex_unlock(&session->lock);
		session->end_reason = "too_many_messages";
		send_json(session, ivd_msg_error("too_many_messages",
		                                 "too many messages waiting for this client"));
		close_after_flush(session, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return;
	}
	request_write(session);
}

static void send_error(struct ivd_session *session, const char *code, const char *message,
                       int64_t index)
{
	cJSON *object = ivd_msg_error(code, message);
	if (object && index >= 0)
		cJSON_AddNumberToObject(object, "index", (double)index);
	send_json(session, object);
}

/* ------------------------------------------------------------------ jobs ---- */

static void job_run(struct ivd_job *base);
static void job_complete(struct ivd_job *base);

static struct ivd_session_job *job_new(struct ivd_session *session, enum job_kind kind)
{
	struct ivd_session_job *job = calloc(1, sizeof *job);
	if (!job)
		return NULL;
	job->base.strand = &session->strand;
	job->base.run = job_run;
	job->base.complete = job_complete;
	job->session = session;
	job->kind = kind;
	job->index = session->question.index;
	return job;
}

static void job_free(struct ivd_session_job *job)
{
	free(job->question_id);
	free(job->text);
	free(job->mime_type);
	free(job->question.id);
	free(job->question.text);
	ivd_sink_free(job->sink);
	free(job);
}

static void submit(struct ivd_session *session, struct ivd_session_job *job)
{
	if (!job)
		return;
	if (session->teardown_submitted && job->kind != JOB_TEARDOWN) {
		job_free(job);
		return;
	}
	session->jobs_outstanding++;
	ivd_server_submit(session->server, session, &job->base);
}

static bool session_gone(struct ivd_session *session)
{
	pthread_mutex_lock(&session->lock);
	bool gone = session->gone;
	pthread_mutex_unlock(&session->lock);
	return gone;
}

static void storage_failed(struct ivd_session_job *job, const char *what)
{
	job->status = IVD_ERROR;
	snprintf(job->storage_error, sizeof job->storage_error, "%s: %s", what, strerror(errno));
}

/* History of answers, handed to the question source (strand only). */
static void history_add(struct ivd_session *session, enum ivd_answer_kind kind,
                        const struct ivd_session_job *job, const char *text, const char *audio_path)
{
	uint32_t n = session->n_answers;
	struct ivd_answer *answers = realloc(session->answers, (n + 1) * sizeof *answers);
	if (!answers)
		return;
	session->answers = answers;
	struct ivd_answer_record *storage =
		realloc(session->answer_storage, (n + 1) * sizeof *storage);
	if (!storage)
		return;
	session->answer_storage = storage;
	struct ivd_answer_record *owned = &storage[n];
	owned->question_id = job->question_id ? strdup(job->question_id) : NULL;
	owned->question_text = session->question.text ? strdup(session->question.text) : NULL;
	owned->text = text ? strdup(text) : NULL;
	owned->audio_path = audio_path ? strdup(audio_path) : NULL;
	owned->audio_mime = job->mime_type ? strdup(job->mime_type) : NULL;
	/* Pointers into the (possibly moved) storage array are rebuilt for every entry. */
	for (uint32_t i = 0; i <= n; i++) {
		answers[i] = (struct ivd_answer){
			.struct_size = sizeof(struct ivd_answer),
			.question_id = storage[i].question_id,
			.question_text = storage[i].question_text,
			.kind = i == n ? kind : answers[i].kind,
			.text = storage[i].text,
			.audio_path = storage[i].audio_path,
			.audio_mime = storage[i].audio_mime,
		};
	}
	session->n_answers = n + 1;
}

static void history_free(struct ivd_session *session)
{
	for (uint32_t i = 0; i < session->n_answers; i++) {
		free(session->answer_storage[i].question_id);
		free(session->answer_storage[i].question_text);
		free(session->answer_storage[i].text);
		free(session->answer_storage[i].audio_path);
		free(session->answer_storage[i].audio_mime);
	}
	free(session->answer_storage);
	free(session->answers);
	session->answer_storage = NULL;
	session->answers = NULL;
	session->n_answers = 0;
}

static cJSON *record_new(const char *type, const struct ivd_session_job *job)
{
	cJSON *object = cJSON_CreateObject();
	if (!object)
		return NULL;
	cJSON_AddStringToObject(object, "type", type);
	if (job) {
		cJSON_AddNumberToObject(object, "index", job->index);
		if (job->question_id)
			cJSON_AddStringToObject(object, "id", job->question_id);
	}
	return object;
}

static int record_write(struct ivd_session *session, cJSON *object, bool sync)
{
	if (!session->record || !object) {
		cJSON_Delete(object);
		return session->record ? -1 : 0;
	}
	return ivd_record_append(session->record, object, sync);
}

static void run_open(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	struct ivd_server *server = session->server;
	if (ivd_record_open(server->config->records_dir, session->id, &session->record,
	                    job->storage_error, sizeof job->storage_error) != 0) {
		job->status = IVD_ERROR;
		return;
	}
	cJSON *start = record_new("session_start", NULL);
	cJSON_AddStringToObject(start, "session_id", session->id);
	cJSON_AddStringToObject(start, "tts_backend", server->tts->backend->name);
	cJSON_AddStringToObject(start, "voice", server->voice.voice ? server->voice.voice : "");
	cJSON_AddStringToObject(start, "question_source", server->questions->backend->name);
	cJSON *params = cJSON_AddObjectToObject(start, "params");
	for (uint32_t i = 0; i < session->n_params; i++)
		cJSON_AddStringToObject(params, session->params[i].key, session->params[i].value);
	if (record_write(session, start, false) != 0) {
		storage_failed(job, "cannot write the session record");
		return;
	}
	const struct ivd_backend_instance *qs = server->questions;
	struct ivd_session_info info = {
		.struct_size = sizeof info,
		.session_id = session->id,
		.params = session->params,
		.n_params = session->n_params,
	};
	job->status = qs->backend->questions.open(qs->state, &info, &session->sequence, &job->err);
	if (job->status == IVD_OK)
		job->count = qs->backend->questions.count(session->sequence);
}

static void run_next(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	if (session_gone(session)) {
		job->status = IVD_CANCELLED;
		return;
	}
	const struct ivd_backend_instance *qs = session->server->questions;
	job->question.struct_size = sizeof job->question;
	job->status = qs->backend->questions.next(session->sequence, session->answers,
	                                          session->n_answers, &job->question, &job->err);
	if (job->status == IVD_OK && (!job->question.text || !job->question.text[0])) {
		job->status = IVD_ERROR;
		job->err.error_class = IVD_ERRC_INTERNAL;
		snprintf(job->err.message, sizeof job->err.message, "the question source gave an empty question");
	}
}

static void run_synth(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	struct ivd_server *server = session->server;
	cJSON *question = record_new("question", job);
	cJSON_AddStringToObject(question, "text", job->text);
	cJSON_AddBoolToObject(question, "repeat", job->repeat);
	cJSON_AddStringToObject(question, "tts_backend", server->tts->backend->name);
	cJSON_AddStringToObject(question, "voice", server->voice.voice ? server->voice.voice : "");
	record_write(session, question, false);

	job->started_ns = monotonic_ns();
	if (ivd_sink_cancelled(job->sink) || session_gone(session)) {
		job->status = IVD_CANCELLED;
	} else {
		struct ivd_tts_request request = {
			.struct_size = sizeof request,
			.text = job->text,
			.text_type = job->text_type ? job->text_type : IVD_TEXT_PLAIN,
			.session_id = session->id,
		};
		job->result.struct_size = sizeof job->result;
		const struct ivd_backend_instance *tts = server->tts;
		job->status = tts->backend->tts.synthesize(tts->state, &request, job->sink, &job->result,
		                                           &job->err);
		if (job->status == IVD_OK)
			ivd_sink_finish(job->sink);
		if (job->status == IVD_OK && ivd_sink_cancelled(job->sink))
			job->status = IVD_CANCELLED;
	}
	cJSON *audio = record_new("audio", job);
	cJSON_AddStringToObject(audio, "outcome", job->status == IVD_OK          ? "complete"
	                                          : job->status == IVD_CANCELLED ? "cancelled"
	                                                                         : "error");
	cJSON_AddNumberToObject(audio, "bytes", (double)ivd_sink_bytes_delivered(job->sink));
	cJSON_AddStringToObject(audio, "mime_type", job->sink->mime_type);
	cJSON_AddNumberToObject(audio, "billed_characters", (double)job->result.billed_characters);
	cJSON_AddNumberToObject(audio, "requests", job->result.requests);
	if (job->status == IVD_ERROR) {
		cJSON_AddStringToObject(audio, "error_class", ivd_error_class_name(job->err.error_class));
		cJSON_AddStringToObject(audio, "error", job->err.message);
	}
	record_write(session, audio, false);
}

static void run_store_text(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	cJSON *answer = record_new("answer", job);
	cJSON_AddStringToObject(answer, "kind", "text");
	cJSON_AddStringToObject(answer, "text", job->text);
	job->bytes = strlen(job->text);
	cJSON_AddNumberToObject(answer, "bytes", (double)job->bytes);
	if (record_write(session, answer, true) != 0) {
		storage_failed(job, "cannot store the answer");
		return;
	}
	history_add(session, IVD_ANSWER_TEXT, job, job->text, NULL);
}

static void run_skip(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	if (record_write(session, record_new("skip", job), true) != 0) {
		storage_failed(job, "cannot store the skip");
		return;
	}
	history_add(session, IVD_ANSWER_SKIPPED, job, NULL, NULL);
}

/* Move queued upload chunks to the answer file. */
static void drain_upload(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	for (;;) {
		pthread_mutex_lock(&session->lock);
		struct ivd_upload_chunk *chunk = session->up_head;
		if (chunk) {
			session->up_head = chunk->next;
			if (!session->up_head)
				session->up_tail = NULL;
			session->up_bytes -= chunk->len;
		}
		pthread_mutex_unlock(&session->lock);
		if (!chunk)
			return;
		if (job->status == IVD_OK &&
		    ivd_record_audio_write(session->record, chunk->data, chunk->len) != 0)
			storage_failed(job, "cannot write the audio answer");
		free(chunk);
	}
}

static void run_audio_begin(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	if (!session->record ||
	    ivd_record_audio_begin(session->record, job->index, job->mime_type, job->file_name,
	                           sizeof job->file_name) != 0)
		storage_failed(job, "cannot create the audio answer file");
}

static void run_audio_finish(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	drain_upload(job);
	if (job->status != IVD_OK)
		return;
	if (!session->record || !ivd_record_audio_name(session->record)) {
		job->status = IVD_ERROR;
		snprintf(job->storage_error, sizeof job->storage_error, "no audio answer file is open");
		return;
	}
	snprintf(job->file_name, sizeof job->file_name, "%s", ivd_record_audio_name(session->record));
	if (ivd_record_audio_finish(session->record, &job->bytes, job->sha256) != 0) {
		storage_failed(job, "cannot flush the audio answer");
		return;
	}
	cJSON *answer = record_new("answer", job);
	cJSON_AddStringToObject(answer, "kind", "audio");
	cJSON_AddStringToObject(answer, "file", job->file_name);
	cJSON_AddNumberToObject(answer, "bytes", (double)job->bytes);
	cJSON_AddStringToObject(answer, "sha256", job->sha256);
	if (job->mime_type)
		cJSON_AddStringToObject(answer, "mime_type", job->mime_type);
	if (record_write(session, answer, true) != 0) {
		storage_failed(job, "cannot store the answer");
		return;
	}
	char path[4096];
	ivd_record_path(session->record, job->file_name, path, sizeof path);
	history_add(session, IVD_ANSWER_AUDIO, job, NULL, path);
}

static void run_teardown(struct ivd_session_job *job)
{
	struct ivd_session *session = job->session;
	if (session->record) {
		cJSON *end = record_new("session_end", NULL);
		cJSON_AddStringToObject(end, "reason", session->end_reason ? session->end_reason
		                                                           : "disconnected");
		cJSON_AddNumberToObject(end, "answered", session->answered);
		cJSON_AddNumberToObject(end, "skipped", session->skipped);
		record_write(session, end, true);
		ivd_record_close(session->record);
		session->record = NULL;
	}
	if (session->sequence) {
		session->server->questions->backend->questions.close(session->sequence);
		session->sequence = NULL;
	}
	history_free(session);
}

static void job_run(struct ivd_job *base)
{
	struct ivd_session_job *job = (struct ivd_session_job *)base;
	job->status = IVD_OK;
	switch (job->kind) {
	case JOB_OPEN:
		run_open(job);
		break;
	case JOB_NEXT:
		run_next(job);
		break;
	case JOB_SYNTH:
		run_synth(job);
		break;
	case JOB_STORE_TEXT:
		run_store_text(job);
		break;
	case JOB_SKIP:
		run_skip(job);
		break;
	case JOB_AUDIO_BEGIN:
		run_audio_begin(job);
		break;
	case JOB_AUDIO_WRITE:
		drain_upload(job);
		break;
	case JOB_AUDIO_FINISH:
		run_audio_finish(job);
		break;
	case JOB_TEARDOWN:
		run_teardown(job);
		break;
	}
}

/* ------------------------------------------------------------------ state machine (loop) ---- */

static void free_session(struct ivd_session *session);

static void fetch_next(struct ivd_session *session)
{
	session->phase = IVD_PHASE_FETCHING;
	submit(session, job_new(session, JOB_NEXT));
}

static void end_interview(struct ivd_session *session, const char *reason)
{
	if (session->synth) {
		ivd_sink_cancel(session->synth->sink);
		session->synth->interrupted = true;
	}
	purge_audio(session);
	session->end_reason = reason;
	cJSON *end = ivd_msg_new("interview_end");
	cJSON_AddStringToObject(end, "session_id", session->id);
	cJSON_AddStringToObject(end, "reason", reason);
	cJSON_AddNumberToObject(end, "answered", session->answered);
	cJSON_AddNumberToObject(end, "skipped", session->skipped);
	send_json(session, end);
	close_after_flush(session, LWS_CLOSE_STATUS_NORMAL);
}

static void fail_session(struct ivd_session *session, const char *code, const char *message,
                         int close_code)
{
	session->end_reason = code;
	send_error(session, code, message, -1);
	close_after_flush(session, close_code);
}

static void add_count(cJSON *object, int32_t count)
{
	if (count >= 0)
		cJSON_AddNumberToObject(object, "count", count);
	else
		cJSON_AddNullToObject(object, "count");
}

/* Send question_start and start synthesizing the open question. */
static void start_question(struct ivd_session *session, bool repeat)
{
	struct ivd_server *server = session->server;
	cJSON *start = ivd_msg_new("question_start");
	cJSON_AddStringToObject(start, "text", session->question.text);
	cJSON_AddNumberToObject(start, "index", session->question.index);
	cJSON_AddStringToObject(start, "id", session->question.id);
	add_count(start, session->question_count);
	if (repeat)
		cJSON_AddBoolToObject(start, "repeat", true);
	send_json(session, start);

	session->phase = IVD_PHASE_QUESTION;
	struct ivd_session_job *job = job_new(session, JOB_SYNTH);
	if (job) {
		job->question_id = strdup(session->question.id);
		job->text = strdup(session->question.text);
		job->text_type = session->question.text_type;
		job->repeat = repeat;
		job->sink = ivd_sink_create(session, server->config->audio_chunk_bytes,
		                            server->config->session_buffer_bytes);
	}
	if (!job || !job->question_id || !job->text || !job->sink) {
		if (job)
			job_free(job);
		fail_session(session, "internal_error", "out of memory", LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	session->synth = job;
	submit(session, job);
}

/* Stop the audio of the open question, if it is still streaming. */
static void interrupt_audio(struct ivd_session *session)
{
	if (session->synth) {
		ivd_sink_cancel(session->synth->sink);
		session->synth->interrupted = true;
		purge_audio(session);
	}
}

/* The question source's open or next failed: log the detail, tell the client, close. */
static void questions_failed(struct ivd_session *session, const struct ivd_session_job *job,
                             const char *what)
{
	ivd_log_error("session %s: question source %s %s: %s%s%s", session->id,
	              session->server->questions->backend->name, what, job->err.message,
	              job->err.detail[0] ? ": " : "", job->err.detail);
	fail_session(session, "questions_failed",
	             job->err.message[0] ? job->err.message : "the question source failed",
	             LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
}

static void complete_open(struct ivd_session *session, struct ivd_session_job *job)
{
	if (session->phase != IVD_PHASE_OPENING)
		return;
	if (job->storage_error[0]) {
		ivd_log_error("session %s: %s", session->id, job->storage_error);
		fail_session(session, "storage_failed", "the server cannot record this session",
		             LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	if (job->status != IVD_OK) {
		questions_failed(session, job, "failed to open");
		return;
	}
	session->question_count = job->count;
	const struct ivd_server *server = session->server;
	cJSON *start = ivd_msg_new("session_start");
	cJSON_AddNumberToObject(start, "protocol", IVD_PROTOCOL_VERSION);
	cJSON_AddStringToObject(start, "session_id", session->id);
	cJSON_AddStringToObject(start, "backend", server->tts->backend->name);
	cJSON_AddStringToObject(start, "voice", server->voice.voice ? server->voice.voice : "");
	if (server->voice.language && server->voice.language[0])
		cJSON_AddStringToObject(start, "language", server->voice.language);
	else
		cJSON_AddNullToObject(start, "language");
	cJSON *audio = cJSON_AddObjectToObject(start, "audio");
	cJSON_AddStringToObject(audio, "mime_type",
	                        server->voice.mime_type ? server->voice.mime_type : "audio/mpeg");
	cJSON_AddNumberToObject(audio, "sample_rate", server->voice.sample_rate);
	cJSON_AddNumberToObject(start, "chunk_bytes", (double)server->config->audio_chunk_bytes);
	if (job->count >= 0)
		cJSON_AddNumberToObject(start, "question_count", job->count);
	else
		cJSON_AddNullToObject(start, "question_count");
	send_json(session, start);
	fetch_next(session);
}

static void complete_next(struct ivd_session *session, struct ivd_session_job *job)
{
	if (session->phase != IVD_PHASE_FETCHING)
		return;
	if (job->status == IVD_END) {
		end_interview(session, "completed");
		return;
	}
	if (job->status != IVD_OK) {
		questions_failed(session, job, "failed");
		return;
	}
	free(session->question.id);
	free(session->question.text);
	session->question.index = session->questions_asked++;
	if (job->question.id) {
		session->question.id = job->question.id;
	} else {
		char id[32];
		snprintf(id, sizeof id, "q%u", session->question.index + 1);
		session->question.id = strdup(id);
	}
	session->question.text = job->question.text;
	session->question.text_type =
		job->question.text_type == IVD_TEXT_SSML ? IVD_TEXT_SSML : IVD_TEXT_PLAIN;
	job->question.id = NULL;
	job->question.text = NULL;
	session->question.open = true;
	if (!session->question.id) {
		fail_session(session, "internal_error", "out of memory", LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	start_question(session, false);
}

static void complete_synth(struct ivd_session *session, struct ivd_session_job *job)
{
	if (session->synth == job)
		session->synth = NULL;
	double elapsed_ms = (double)(monotonic_ns() - job->started_ns) / 1e6;
	double first_ms = job->sink->first_byte_ns
	                          ? (double)(job->sink->first_byte_ns - job->started_ns) / 1e6
	                          : -1.0;
	if (job->status == IVD_CANCELLED || (job->interrupted && job->status == IVD_OK)) {
		ivd_log_info("session %s: synthesis of question %u cancelled after %.1f ms (%s)",
		             session->id, job->index, elapsed_ms,
		             session->wsi ? "interrupted by the client" : "client gone");
	} else if (job->status == IVD_ERROR) {
		ivd_log_warn("session %s: question %u: %s failed (%s): %s%s%s", session->id, job->index,
		             session->server->tts->backend->name,
		             ivd_error_class_name(job->err.error_class), job->err.message,
		             job->err.detail[0] ? ": " : "", job->err.detail);
	} else {
		ivd_log_debug("session %s: question %u: %llu audio bytes, first after %.2f ms, done in "
		              "%.1f ms", session->id, job->index, (unsigned long long)job->sink->bytes_out,
		              first_ms, elapsed_ms);
	}
	if (!session->wsi || session->phase == IVD_PHASE_ENDING || session->phase == IVD_PHASE_CLOSED)
		return;
	if (job->status == IVD_ERROR) {
		char code[32];
		snprintf(code, sizeof code, "tts_%s", ivd_error_class_name(job->err.error_class));
		send_error(session, code,
		           job->err.message[0] ? job->err.message : "speech synthesis failed",
		           job->index);
	}
	cJSON *end = ivd_msg_new("question_end");
	cJSON_AddNumberToObject(end, "index", job->index);
	cJSON_AddStringToObject(end, "id", job->question_id);
	cJSON_AddNumberToObject(end, "audio_bytes", (double)ivd_sink_bytes_delivered(job->sink));
	if (job->status == IVD_ERROR)
		cJSON_AddBoolToObject(end, "complete", false);
	if (job->interrupted)
		cJSON_AddBoolToObject(end, "interrupted", true);
	send_json(session, end);
	if (session->repeat_after_synth && session->phase == IVD_PHASE_QUESTION) {
		session->repeat_after_synth = false;
		start_question(session, true);
	}
}

static void complete_stored(struct ivd_session *session, struct ivd_session_job *job,
                            const char *kind)
{
	if (job->status != IVD_OK) {
		ivd_log_error("session %s: %s", session->id,
		              job->storage_error[0] ? job->storage_error : "storage failed");
		fail_session(session, "storage_failed",
		             "the answer could not be stored; it was not saved",
		             LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	if (strcmp(kind, "skipped") == 0)
		session->skipped++;
	else
		session->answered++;
	cJSON *saved = ivd_msg_new("answer_saved");
	cJSON_AddNumberToObject(saved, "index", job->index);
	cJSON_AddStringToObject(saved, "id", job->question_id ? job->question_id : "");
	cJSON_AddStringToObject(saved, "kind", kind);
	cJSON_AddNumberToObject(saved, "bytes", (double)job->bytes);
	send_json(session, saved);
	if (session->phase == IVD_PHASE_STORING) {
		session->question.open = false;
		fetch_next(session);
	}
}

static void complete_audio_write(struct ivd_session *session, struct ivd_session_job *job)
{
	session->upload.writer_busy = false;
	if (job->status != IVD_OK) {
		session->upload.failed = true;
		complete_stored(session, job, "audio");
		return;
	}
	pthread_mutex_lock(&session->lock);
	size_t pending = session->up_bytes;
	pthread_mutex_unlock(&session->lock);
	if (session->phase == IVD_PHASE_RECEIVING && pending > 0) {
		session->upload.writer_busy = true;
		submit(session, job_new(session, JOB_AUDIO_WRITE));
	}
	if (session->upload.rx_paused && session->wsi &&
	    pending < session->server->config->session_buffer_bytes / 2) {
		session->upload.rx_paused = false;
		lws_rx_flow_control(session->wsi, 1);
	}
}

static void job_complete(struct ivd_job *base)
{
	struct ivd_session_job *job = (struct ivd_session_job *)base;
	struct ivd_session *session = job->session;
	session->jobs_outstanding--;
	switch (job->kind) {
	case JOB_OPEN:
		complete_open(session, job);
		break;
	case JOB_NEXT:
		complete_next(session, job);
		break;
	case JOB_SYNTH:
		complete_synth(session, job);
		break;
	case JOB_STORE_TEXT:
		complete_stored(session, job, "text");
		break;
	case JOB_SKIP:
		complete_stored(session, job, "skipped");
		break;
	case JOB_AUDIO_BEGIN:
		if (job->status != IVD_OK)
			complete_stored(session, job, "audio");
		break;
	case JOB_AUDIO_WRITE:
		complete_audio_write(session, job);
		break;
	case JOB_AUDIO_FINISH:
		complete_stored(session, job, "audio");
		break;
	case JOB_TEARDOWN:
		job_free(job);
		free_session(session);
		return;
	}
	job_free(job);
}

/* ------------------------------------------------------------------ client messages ---- */

static bool question_open(struct ivd_session *session)
{
	return session->phase == IVD_PHASE_QUESTION && session->question.open;
}

static void start_answer_job(struct ivd_session *session, enum job_kind kind, const char *text,
                             const char *mime_type)
{
	interrupt_audio(session);
	session->repeat_after_synth = false;
	struct ivd_session_job *job = job_new(session, kind);
	if (job) {
		job->question_id = strdup(session->question.id);
		job->text = text ? strdup(text) : NULL;
		job->mime_type = mime_type ? strdup(mime_type) : NULL;
	}
	if (!job || !job->question_id || (text && !job->text) || (mime_type && !job->mime_type)) {
		if (job)
			job_free(job);
		fail_session(session, "internal_error", "out of memory", LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	submit(session, job);
}

static void handle_message(struct ivd_session *session, const struct ivd_client_msg *msg)
{
	if (session->phase == IVD_PHASE_RECEIVING && msg->type != IVD_MSG_AUDIO_END &&
	    msg->type != IVD_MSG_END) {
		send_error(session, "answer_in_progress",
		           "finish the audio answer with answer_audio_end first", session->question.index);
		return;
	}
	if (msg->type == IVD_MSG_END) {
		end_interview(session, "ended_by_client");
		return;
	}
	if (msg->has_index && (!session->question.open || msg->index != session->question.index)) {
		char text[128];
		snprintf(text, sizeof text, "index %lld is not the open question", (long long)msg->index);
		send_error(session, "no_question", text, -1);
		return;
	}
	switch (msg->type) {
	case IVD_MSG_ANSWER:
		if (!question_open(session))
			break;
		session->phase = IVD_PHASE_STORING;
		start_answer_job(session, JOB_STORE_TEXT, msg->text, NULL);
		return;
	case IVD_MSG_SKIP:
		if (!question_open(session))
			break;
		session->phase = IVD_PHASE_STORING;
		start_answer_job(session, JOB_SKIP, NULL, NULL);
		return;
	case IVD_MSG_AUDIO_START:
		if (!question_open(session))
			break;
		session->phase = IVD_PHASE_RECEIVING;
		free(session->upload.mime_type);
		session->upload.mime_type = msg->mime_type ? strdup(msg->mime_type) : NULL;
		session->upload.total = 0;
		session->upload.failed = false;
		start_answer_job(session, JOB_AUDIO_BEGIN, NULL, msg->mime_type);
		return;
	case IVD_MSG_AUDIO_END:
		if (session->phase != IVD_PHASE_RECEIVING) {
			send_error(session, "bad_message", "answer_audio_end without answer_audio_start", -1);
			return;
		}
		session->phase = IVD_PHASE_STORING;
		start_answer_job(session, JOB_AUDIO_FINISH, NULL, session->upload.mime_type);
		return;
	case IVD_MSG_REPEAT:
		if (!question_open(session))
			break;
		if (session->synth) {
			session->repeat_after_synth = true;
			interrupt_audio(session);
		} else {
			start_question(session, true);
		}
		return;
	case IVD_MSG_END:
		return;
	}
	send_error(session, "no_question",
	           session->phase == IVD_PHASE_OPENING || session->phase == IVD_PHASE_FETCHING
	                   ? "no question is open yet"
	                   : "the question was already answered",
	           -1);
}

static void handle_text(struct ivd_session *session, const uint8_t *data, size_t len)
{
	struct ivd_client_msg msg;
	const char *code = NULL;
	char message[200];
	if (ivd_protocol_parse((const char *)data, len, &msg, &code, message, sizeof message) != 0) {
		send_error(session, code, message, -1);
		return;
	}
	handle_message(session, &msg);
	ivd_client_msg_free(&msg);
}

static void upload_append(struct ivd_session *session, const void *data, size_t len)
{
	const struct ivd_config *config = session->server->config;
	if (session->upload.total + len > config->max_answer_audio_bytes) {
		char text[128];
		snprintf(text, sizeof text, "audio answers are limited to %zu bytes",
		         config->max_answer_audio_bytes);
		session->end_reason = "answer_too_large";
		send_error(session, "answer_too_large", text, session->question.index);
		close_after_flush(session, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
		return;
	}
	struct ivd_upload_chunk *chunk = malloc(sizeof *chunk + len);
	if (!chunk) {
		fail_session(session, "internal_error", "out of memory", LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	chunk->next = NULL;
	chunk->len = len;
	memcpy(chunk->data, data, len);
	pthread_mutex_lock(&session->lock);
	if (session->up_tail)
		session->up_tail->next = chunk;
	else
		session->up_head = chunk;
	session->up_tail = chunk;
	session->up_bytes += len;
	size_t pending = session->up_bytes;
	pthread_mutex_unlock(&session->lock);
	session->upload.total += len;
	if (!session->upload.writer_busy) {
		session->upload.writer_busy = true;
		submit(session, job_new(session, JOB_AUDIO_WRITE));
	}
	/* The disk is slower than the client: stop reading until the writer catches up. */
	if (pending >= config->session_buffer_bytes && !session->upload.rx_paused) {
		session->upload.rx_paused = true;
		lws_rx_flow_control(session->wsi, 0);
	}
}

void ivd_session_on_receive(struct ivd_session *session, const void *data, size_t len, bool first,
                            bool final, bool binary)
{
	(void)first;
	if (session->close_code || session->phase == IVD_PHASE_ENDING ||
	    session->phase == IVD_PHASE_CLOSED)
		return;
	if (binary) {
		if (session->phase == IVD_PHASE_RECEIVING) {
			upload_append(session, data, len);
		} else if (!session->rx_discard) {
			send_error(session, "unexpected_binary",
			           "binary frames are only accepted between answer_audio_start and "
			           "answer_audio_end",
			           -1);
			session->rx_discard = true;
		}
		if (final)
			session->rx_discard = false;
		return;
	}
	if (!session->rx_discard) {
		size_t limit = session->server->config->max_message_bytes;
		if (session->rx_len + len > limit) {
			char text[128];
			snprintf(text, sizeof text, "text messages are limited to %zu bytes", limit);
			session->end_reason = "message_too_large";
			send_error(session, "message_too_large", text, -1);
			close_after_flush(session, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
			free(session->rx_buf);
			session->rx_buf = NULL;
			session->rx_len = session->rx_cap = 0;
			return;
		}
		if (session->rx_len + len > session->rx_cap) {
			size_t cap = session->rx_cap ? session->rx_cap : 1024;
			while (cap < session->rx_len + len)
				cap *= 2;
			uint8_t *grown = realloc(session->rx_buf, cap);
			if (!grown) {
				fail_session(session, "internal_error", "out of memory",
				             LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
				return;
			}
			session->rx_buf = grown;
			session->rx_cap = cap;
		}
		memcpy(session->rx_buf + session->rx_len, data, len);
		session->rx_len += len;
	}
	if (!final)
		return;
	if (!session->rx_discard)
		handle_text(session, session->rx_buf, session->rx_len);
	session->rx_discard = false;
	/* An idle session keeps no receive buffer. */
	free(session->rx_buf);
	session->rx_buf = NULL;
	session->rx_len = session->rx_cap = 0;
}

/* ------------------------------------------------------------------ lifecycle ---- */

struct ivd_session *ivd_session_create(struct ivd_server *server, struct lws *wsi)
{
	struct ivd_session *session = calloc(1, sizeof *session);
	if (!session)
		return NULL;
	unsigned char random_id[16];
	if (RAND_bytes(random_id, sizeof random_id) != 1) {
		free(session);
		return NULL;
	}
	for (size_t i = 0; i < sizeof random_id; i++)
		snprintf(session->id + 2 * i, 3, "%02x", random_id[i]);
	session->server = server;
	session->wsi = wsi;
	session->question_count = -1;
	pthread_mutex_init(&session->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&session->changed, &attr);
	pthread_condattr_destroy(&attr);
	session->opened_ms = monotonic_ns() / 1000000u;
	return session;
}

int ivd_session_add_param(struct ivd_session *session, const char *key, const char *value)
{
	if (session->n_params >= IVD_MAX_PARAMS)
		return -1;
	struct ivd_session_param *grown =
		realloc(session->params, (session->n_params + 1) * sizeof *grown);
	if (!grown)
		return -1;
	session->params = grown;
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -1;
	}
	grown[session->n_params++] = (struct ivd_session_param){.key = k, .value = v};
	return 0;
}

void ivd_session_start(struct ivd_session *session, bool over_capacity)
{
	if (over_capacity) {
		session->phase = IVD_PHASE_ENDING;
		fail_session(session, "server_busy", "the server is at capacity; try again later",
		             1013 /* try again later */);
		return;
	}
	session->phase = IVD_PHASE_OPENING;
	submit(session, job_new(session, JOB_OPEN));
}

void ivd_session_on_wake(struct ivd_session *session)
{
	pthread_mutex_lock(&session->lock);
	session->wake_pending = false;
	bool pending = session->out_head != NULL;
	pthread_mutex_unlock(&session->lock);
	if (pending)
		request_write(session);
}

/* Takes the next queued message off the session's queue (loop thread), or NULL. */
static struct ivd_out_msg *dequeue_message(struct ivd_session *session, bool *more)
{
	pthread_mutex_lock(&session->lock);
	struct ivd_out_msg *msg = session->out_head;
	if (msg) {
		session->out_head = msg->next;
		if (!session->out_head)
			session->out_tail = NULL;
		if (msg->audio) {
			session->out_audio_bytes -= msg->len;
			pthread_cond_broadcast(&session->changed);
		} else {
			session->out_control--;
		}
	}
	*more = session->out_head != NULL;
	pthread_mutex_unlock(&session->lock);
	return msg;
}

int ivd_session_on_writeable(struct ivd_session *session)
{
	struct lws *wsi = session->wsi;
	bool more = false;
	struct ivd_out_msg *msg = dequeue_message(session, &more);
	if (!msg) {
		if (session->close_code) {
			lws_close_reason(wsi, (enum lws_close_status)session->close_code, NULL, 0);
			return -1;
		}
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		return 0;
	}
	/* Send a bounded burst while the socket takes it whole: one poll cycle per message would
	 * cost a question of audio dozens of loop turns, yet the bound keeps one session from
	 * holding the loop while others wait. */
	size_t burst_bytes = 0;
	for (unsigned burst = 1;; burst++) {
		int written = lws_write(wsi, msg->data, msg->len,
		                        msg->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		bool failed = written < (int)msg->len;
		burst_bytes += msg->len;
		free(msg);
		if (failed)
			return -1;
		if (!more || burst >= IVD_WRITE_BURST_MESSAGES || burst_bytes >= IVD_WRITE_BURST_BYTES ||
		    lws_send_pipe_choked(wsi))
			break;
		msg = dequeue_message(session, &more);
		if (!msg)
			break;
	}
	if (more || session->close_code)
		request_write(session);
	else
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	return 0;
}

void ivd_session_shutdown(struct ivd_session *session)
{
	if (!session->wsi || session->phase == IVD_PHASE_CLOSED)
		return;
	if (session->phase == IVD_PHASE_ENDING) {
		request_write(session);
		return;
	}
	interrupt_audio(session);
	session->end_reason = "shutdown";
	send_error(session, "shutting_down", "the server is shutting down", -1);
	close_after_flush(session, LWS_CLOSE_STATUS_GOINGAWAY);
}

void ivd_session_on_closed(struct ivd_session *session)
{
	session->wsi = NULL;
	session->phase = IVD_PHASE_CLOSED;
	pthread_mutex_lock(&session->lock);
	session->gone = true;
	free_messages(session->out_head);
	session->out_head = session->out_tail = NULL;
	session->out_audio_bytes = 0;
	session->out_control = 0;
	pthread_cond_broadcast(&session->changed);
	pthread_mutex_unlock(&session->lock);
	if (session->synth) {
		ivd_sink_cancel(session->synth->sink);
		session->synth->interrupted = true;
	}
	ivd_log_info("session %s: closed after %u questions (%u answered, %u skipped, %s)",
	             session->id, session->questions_asked, session->answered, session->skipped,
	             session->end_reason ? session->end_reason : "client disconnected");
	struct ivd_session_job *teardown = job_new(session, JOB_TEARDOWN);
	if (!teardown) {
		ivd_log_error("session %s: out of memory at close; its record stays open", session->id);
		return;
	}
	submit(session, teardown);
	session->teardown_submitted = true;
}

static void free_session(struct ivd_session *session)
{
	ivd_workers_strand_barrier(session->server->workers, &session->strand);
	ivd_server_forget(session->server, session);
	for (uint32_t i = 0; i < session->n_params; i++) {
		free((char *)session->params[i].key);
		free((char *)session->params[i].value);
	}
	free(session->params);
	free(session->question.id);
	free(session->question.text);
	free(session->rx_buf);
	free(session->upload.mime_type);
	free_messages(session->out_head);
	for (struct ivd_upload_chunk *chunk = session->up_head; chunk;) {
		struct ivd_upload_chunk *next = chunk->next;
		free(chunk);
		chunk = next;
	}
	pthread_cond_destroy(&session->changed);
	pthread_mutex_destroy(&session->lock);
	free(session);
}
