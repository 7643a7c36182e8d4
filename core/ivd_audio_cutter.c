/* Cuts a synthesized audio stream into WebSocket-sized messages (whole MP3 frames for MP3). */
#include "ivd_audio_cutter.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Layer III bitrates in kbit/s: [0] MPEG-1, [1] MPEG-2 and 2.5. */
static const uint16_t mp3_bitrates[2][16] = {
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
};
/* Sample rates in Hz for MPEG-1; MPEG-2 halves them, MPEG-2.5 quarters them. */
static const uint32_t mp3_rates[4] = {44100, 48000, 32000, 0};

size_t ivd_mp3_frame_length(const uint8_t *p, uint32_t *sample_rate)
{
	if (p[0] != 0xFF || (p[1] & 0xE0) != 0xE0)
		return 0;
	unsigned version = (p[1] >> 3) & 3u; /* 0: 2.5, 1: reserved, 2: 2, 3: 1 */
	unsigned layer = (p[1] >> 1) & 3u;   /* 1: Layer III */
	unsigned bitrate_index = (p[2] >> 4) & 15u;
	unsigned rate_index = (p[2] >> 2) & 3u;
	unsigned padding = (p[2] >> 1) & 1u;
	if (version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15 ||
	    rate_index == 3)
		return 0;
	uint32_t rate = mp3_rates[rate_index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
	uint32_t bitrate = mp3_bitrates[version == 3 ? 0 : 1][bitrate_index] * 1000u;
	uint32_t coefficient = version == 3 ? 144u : 72u;
	if (sample_rate)
		*sample_rate = rate;
	return (size_t)(coefficient * bitrate / rate + padding);
}

enum ivd_audio_kind ivd_audio_kind_from_mime(const char *mime_type)
{
	if (!mime_type)
		return IVD_AUDIO_OPAQUE;
	if (strcasecmp(mime_type, "audio/mpeg") == 0 || strcasecmp(mime_type, "audio/mp3") == 0)
		return IVD_AUDIO_MP3;
	if (strncasecmp(mime_type, "audio/L16", 9) == 0 || strcasecmp(mime_type, "audio/pcm") == 0)
		return IVD_AUDIO_PCM16;
	return IVD_AUDIO_OPAQUE;
}

int ivd_audio_cutter_init(struct ivd_audio_cutter *cutter, enum ivd_audio_kind kind,
                          size_t chunk_bytes)
{
	memset(cutter, 0, sizeof *cutter);
	cutter->kind = kind;
	cutter->chunk_bytes = chunk_bytes;
	cutter->capacity = chunk_bytes + IVD_MP3_MAX_FRAME;
	cutter->staging = malloc(cutter->capacity);
	return cutter->staging ? 0 : -1;
}

void ivd_audio_cutter_free(struct ivd_audio_cutter *cutter)
{
	free(cutter->staging);
	cutter->staging = NULL;
}

static void consume(struct ivd_audio_cutter *cutter, size_t n)
{
	memmove(cutter->staging, cutter->staging + n, cutter->staged - n);
	cutter->staged -= n;
}

static bool emit_bytes(struct ivd_audio_cutter *cutter, size_t n, ivd_audio_emit_fn emit,
                       void *ctx)
{
	if (n == 0)
		return true;
	bool go_on = emit(ctx, cutter->staging, n);
	cutter->emitted += n;
	consume(cutter, n);
	return go_on;
}

/* MP3: the staging buffer always starts at a frame boundary (or at bytes being resynced).
 * Emit the longest run of whole frames that fits in a chunk; a lone frame larger than the
 * chunk is emitted alone. */
static bool mp3_drain(struct ivd_audio_cutter *cutter, ivd_audio_emit_fn emit, void *ctx)
{
	for (;;) {
		/* Drop an ID3v2 tag (possibly across pushes) and bytes that are not a frame. */
		if (cutter->skip_remaining > 0) {
			size_t n = cutter->staged < cutter->skip_remaining ? cutter->staged
			                                                   : (size_t)cutter->skip_remaining;
			consume(cutter, n);
			cutter->skip_remaining -= n;
			cutter->dropped += n;
			if (cutter->skip_remaining > 0)
				return true;
		}
		if (cutter->staged >= 10 && memcmp(cutter->staging, "ID3", 3) == 0) {
			const uint8_t *h = cutter->staging;
			uint64_t size = ((uint64_t)(h[6] & 0x7F) << 21) | ((uint64_t)(h[7] & 0x7F) << 14) |
			                ((uint64_t)(h[8] & 0x7F) << 7) | (uint64_t)(h[9] & 0x7F);
			cutter->skip_remaining = 10 + size + ((h[5] & 0x10) ? 10 : 0);
			continue;
		}
		if (cutter->staged < 4)
			return true;
		/* Measure the run of whole frames at the start, up to one chunk. */
		size_t run = 0;
		while (cutter->staged - run >= 4) {
			size_t frame = ivd_mp3_frame_length(cutter->staging + run, NULL);
			if (frame == 0 || run + frame > cutter->staged)
				break;
			if (run > 0 && run + frame > cutter->chunk_bytes)
				break;
			run += frame;
			cutter->frames++;
			if (run >= cutter->chunk_bytes)
				break;
		}
		if (run > 0) {
			if (!emit_bytes(cutter, run, emit, ctx))
				return false;
			continue;
		}
		/* No whole frame at the start: either wait for more bytes, or resync. */
		if (ivd_mp3_frame_length(cutter->staging, NULL) != 0)
			return true; /* a frame whose end has not arrived yet */
		if (cutter->staged >= 10 && memcmp(cutter->staging, "ID3", 3) == 0)
			continue;
		if (cutter->staged < 10 && memcmp(cutter->staging, "ID3", cutter->staged < 3 ? cutter->staged : 3) == 0)
			return true; /* maybe the start of a tag */
		size_t skip = 1;
		while (skip < cutter->staged && cutter->staging[skip] != 0xFF &&
		       cutter->staging[skip] != 'I')
			skip++;
		consume(cutter, skip);
		cutter->dropped += skip;
	}
}

static bool linear_drain(struct ivd_audio_cutter *cutter, bool at_end, ivd_audio_emit_fn emit,
                         void *ctx)
{
	while (cutter->staged > 0) {
		size_t n = cutter->staged < cutter->chunk_bytes ? cutter->staged : cutter->chunk_bytes;
		if (cutter->kind == IVD_AUDIO_PCM16 && !at_end)
			n &= ~(size_t)1; /* keep a half sample for the next push */
		if (n == 0)
			return true;
		if (!emit_bytes(cutter, n, emit, ctx))
			return false;
	}
	return true;
}

bool ivd_audio_cutter_push(struct ivd_audio_cutter *cutter, const uint8_t *data, size_t len,
                           ivd_audio_emit_fn emit, void *ctx)
{
	while (len > 0) {
		size_t room = cutter->capacity - cutter->staged;
		size_t n = len < room ? len : room;
		memcpy(cutter->staging + cutter->staged, data, n);
		cutter->staged += n;
		data += n;
		len -= n;
		bool go_on = cutter->kind == IVD_AUDIO_MP3 ? mp3_drain(cutter, emit, ctx)
		                                           : linear_drain(cutter, false, emit, ctx);
		if (!go_on)
			return false;
	}
	return true;
}

bool ivd_audio_cutter_finish(struct ivd_audio_cutter *cutter, ivd_audio_emit_fn emit, void *ctx)
{
	if (cutter->kind == IVD_AUDIO_MP3) {
		if (!mp3_drain(cutter, emit, ctx))
			return false;
		cutter->dropped += cutter->staged; /* a truncated last frame or trailing tag */
		cutter->staged = 0;
		return true;
	}
	return linear_drain(cutter, true, emit, ctx);
}
