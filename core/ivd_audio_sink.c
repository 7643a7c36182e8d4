/* The audio sink handed to TTS plugins: cuts their stream into messages on the session's bounded queue. */
#include "ivd_audio_sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivd_log.h"
#include "ivd_server.h"
#include "ivd_session.h"

static uint64_t monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

struct ivd_audio_sink *ivd_sink_create(struct ivd_session *session, size_t chunk_bytes,
                                       size_t buffer_bytes)
{
	struct ivd_audio_sink *sink = calloc(1, sizeof *sink);
	if (!sink)
		return NULL;
	sink->session = session;
	sink->chunk_bytes = chunk_bytes;
	sink->buffer_bytes = buffer_bytes;
	atomic_init(&sink->cancelled, false);
	return sink;
}

void ivd_sink_free(struct ivd_audio_sink *sink)
{
	if (!sink)
		return;
	ivd_audio_cutter_free(&sink->cutter);
	free(sink);
}

uint64_t ivd_sink_bytes_delivered(struct ivd_audio_sink *sink)
{
	pthread_mutex_lock(&sink->session->lock);
	uint64_t delivered = sink->bytes_out - sink->bytes_purged;
	pthread_mutex_unlock(&sink->session->lock);
	return delivered;
}

bool ivd_sink_cancelled(struct ivd_audio_sink *sink)
{
	return atomic_load(&sink->cancelled);
}

void ivd_sink_cancel(struct ivd_audio_sink *sink)
{
	struct ivd_session *session = sink->session;
	pthread_mutex_lock(&session->lock);
	atomic_store(&sink->cancelled, true);
	pthread_cond_broadcast(&session->changed);
	pthread_mutex_unlock(&session->lock);
}

int ivd_sink_format(struct ivd_audio_sink *sink, const char *mime_type, uint32_t sample_rate)
{
	if (ivd_sink_cancelled(sink))
		return IVD_CANCELLED;
	if (sink->format_set)
		return IVD_OK; /* a second declaration is ignored: one stream, one format */
	snprintf(sink->mime_type, sizeof sink->mime_type, "%s", mime_type ? mime_type : "");
	sink->sample_rate = sample_rate;
	if (ivd_audio_cutter_init(&sink->cutter, ivd_audio_kind_from_mime(mime_type),
	                          sink->chunk_bytes) != 0)
		return IVD_CANCELLED;
	sink->format_set = true;
	return IVD_OK;
}

/* Queue one message, waiting while the session's audio buffer is full. */
static bool queue_message(void *ctx, const uint8_t *data, size_t len)
{
	struct ivd_audio_sink *sink = ctx;
	struct ivd_session *session = sink->session;
	struct ivd_out_msg *msg = ivd_out_msg_new(data, len, true, true);
	if (!msg)
		return false;
	pthread_mutex_lock(&session->lock);
	while (!atomic_load(&sink->cancelled) && !session->gone && session->out_audio_bytes > 0 &&
	       session->out_audio_bytes + len > sink->buffer_bytes)
		pthread_cond_wait(&session->changed, &session->lock);
	if (atomic_load(&sink->cancelled) || session->gone) {
		pthread_mutex_unlock(&session->lock);
		free(msg);
		return false;
	}
	if (session->out_tail)
		session->out_tail->next = msg;
	else
		session->out_head = msg;
	session->out_tail = msg;
	session->out_audio_bytes += len;
	sink->bytes_out += len;
	bool wake = !session->wake_pending;
	session->wake_pending = true;
	pthread_mutex_unlock(&session->lock);
	if (!sink->first_byte_ns)
		sink->first_byte_ns = monotonic_ns();
	if (wake)
		ivd_server_wake(session->server, session);
	return true;
}

int ivd_sink_write(struct ivd_audio_sink *sink, const void *data, size_t len)
{
	if (ivd_sink_cancelled(sink))
		return IVD_CANCELLED;
	if (!sink->format_set) {
		ivd_log_warn("session %s: the TTS backend wrote audio before declaring its format; "
		             "assuming audio/mpeg", sink->session->id);
		if (ivd_sink_format(sink, "audio/mpeg", 0) != IVD_OK)
			return IVD_CANCELLED;
	}
	sink->bytes_in += len;
	if (!ivd_audio_cutter_push(&sink->cutter, data, len, queue_message, sink))
		return IVD_CANCELLED;
	return ivd_sink_cancelled(sink) ? IVD_CANCELLED : IVD_OK;
}

void ivd_sink_finish(struct ivd_audio_sink *sink)
{
	if (sink->format_set && !ivd_sink_cancelled(sink))
		ivd_audio_cutter_finish(&sink->cutter, queue_message, sink);
}

int ivd_sink_wait(struct ivd_audio_sink *sink, uint32_t ms)
{
	struct ivd_session *session = sink->session;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&session->lock);
	int rc = 0;
	while (!atomic_load(&sink->cancelled) && !session->gone && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&session->changed, &session->lock, &deadline);
	bool cancelled = atomic_load(&sink->cancelled) || session->gone;
	pthread_mutex_unlock(&session->lock);
	return cancelled ? IVD_CANCELLED : IVD_OK;
}
