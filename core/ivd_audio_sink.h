/* The audio sink handed to TTS plugins: cuts their stream into messages on the session's bounded queue. */
#ifndef IVD_AUDIO_SINK_H
#define IVD_AUDIO_SINK_H

#include <interviewd/plugin.h>
#include <stdatomic.h>

#include "ivd_audio_cutter.h"

struct ivd_session;

struct ivd_audio_sink {
	struct ivd_session *session;
	atomic_bool cancelled;
	bool format_set;
	char mime_type[64];
	uint32_t sample_rate;
	size_t chunk_bytes;
	size_t buffer_bytes;       /* the session's audio bound */
	struct ivd_audio_cutter cutter;
	uint64_t bytes_in;         /* as written by the plugin */
	uint64_t bytes_out;        /* as queued for the client (under the session lock) */
	uint64_t bytes_purged;     /* queued, then dropped unsent by an interrupt (session lock) */
	uint64_t first_byte_ns;    /* CLOCK_MONOTONIC when the first message was queued; 0: none */
};

/* Loop or worker thread.  Returns NULL if out of memory. */
struct ivd_audio_sink *ivd_sink_create(struct ivd_session *session, size_t chunk_bytes,
                                       size_t buffer_bytes);
/* Emit what the cutter holds (call after synthesize returned IVD_OK). */
void ivd_sink_finish(struct ivd_audio_sink *sink);
/* Loop thread: stop the synthesis; wakes a writer blocked on the full buffer or in sink_wait. */
void ivd_sink_cancel(struct ivd_audio_sink *sink);
void ivd_sink_free(struct ivd_audio_sink *sink);
/* Audio bytes that reached (or are still queued for) the client: queued minus purged. */
uint64_t ivd_sink_bytes_delivered(struct ivd_audio_sink *sink);

/* The ABI's sink services (struct ivd_host_api). */
int ivd_sink_format(struct ivd_audio_sink *sink, const char *mime_type, uint32_t sample_rate);
int ivd_sink_write(struct ivd_audio_sink *sink, const void *data, size_t len);
bool ivd_sink_cancelled(struct ivd_audio_sink *sink);
int ivd_sink_wait(struct ivd_audio_sink *sink, uint32_t ms);

#endif
