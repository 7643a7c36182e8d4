/* Cuts a synthesized audio stream into WebSocket-sized messages (whole MP3 frames for MP3). */
#ifndef IVD_AUDIO_CUTTER_H
#define IVD_AUDIO_CUTTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ivd_audio_kind {
	IVD_AUDIO_MP3 = 1,   /* audio/mpeg: messages hold whole MPEG audio Layer III frames */
	IVD_AUDIO_PCM16 = 2, /* audio/L16: messages hold whole 16-bit samples */
	IVD_AUDIO_OPAQUE = 3 /* anything else (Ogg): cut at the chunk size */
};

/* Largest MPEG-1/2/2.5 Layer III frame (320 kbit/s at 32 kHz, padded). */
#define IVD_MP3_MAX_FRAME 1441u

/* Emits one message; returns false to stop (e.g. the session was cancelled). */
typedef bool (*ivd_audio_emit_fn)(void *ctx, const uint8_t *data, size_t len);

struct ivd_audio_cutter {
	enum ivd_audio_kind kind;
	size_t chunk_bytes;     /* largest message */
	uint8_t *staging;       /* bytes not yet emitted */
	size_t staged;
	size_t capacity;        /* chunk_bytes + IVD_MP3_MAX_FRAME */
	uint64_t skip_remaining; /* MP3: bytes of an ID3v2 tag still to drop */
	uint64_t dropped;       /* MP3: bytes that were not part of a frame */
	uint64_t frames;        /* MP3: frames emitted */
	uint64_t emitted;       /* bytes emitted */
};

/* Map a MIME type to a kind. */
enum ivd_audio_kind ivd_audio_kind_from_mime(const char *mime_type);

/* Returns 0, or -1 if out of memory.  chunk_bytes >= 256. */
int ivd_audio_cutter_init(struct ivd_audio_cutter *cutter, enum ivd_audio_kind kind,
                          size_t chunk_bytes);
void ivd_audio_cutter_free(struct ivd_audio_cutter *cutter);

/* Feed bytes; emits every complete message now available (a message is emitted as soon as it
 * holds at least one whole frame: latency before size).  Returns false if emit stopped. */
bool ivd_audio_cutter_push(struct ivd_audio_cutter *cutter, const uint8_t *data, size_t len,
                           ivd_audio_emit_fn emit, void *ctx);
/* End of stream: emit what is left (an incomplete MP3 frame at the end is dropped). */
bool ivd_audio_cutter_finish(struct ivd_audio_cutter *cutter, ivd_audio_emit_fn emit, void *ctx);

/* Length of the MP3 Layer III frame whose header starts at p (4 bytes), or 0 if p is not a valid
 * frame header.  Optionally reports the sample rate. */
size_t ivd_mp3_frame_length(const uint8_t *p, uint32_t *sample_rate);

#endif
