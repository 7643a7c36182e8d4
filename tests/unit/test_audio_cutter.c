/* Unit tests: cutting audio streams into WebSocket messages of whole MP3 frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ivd_audio_cutter.h"

struct collected {
	uint8_t data[1 << 20];
	size_t len;
	size_t messages;
	size_t largest;
	size_t lens[8192];
};

static bool collect(void *ctx, const uint8_t *data, size_t len)
{
	struct collected *c = ctx;
	assert_true(c->len + len <= sizeof c->data);
	memcpy(c->data + c->len, data, len);
	c->lens[c->messages++] = len;
	c->len += len;
	if (len > c->largest)
		c->largest = len;
	return true;
}

/* MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes, 418 with padding. */
static size_t make_frame(uint8_t *out, bool padded, uint8_t fill)
{
	size_t len = padded ? 418 : 417;
	out[0] = 0xFF;
	out[1] = 0xFB;
	out[2] = (uint8_t)(0x90 | (padded ? 0x02 : 0x00));
	out[3] = 0x64;
	for (size_t i = 4; i < len; i++)
		out[i] = (uint8_t)(fill + i * 7);
	return len;
}

static size_t make_stream(uint8_t *out, size_t frames)
{
	size_t len = 0;
	for (size_t i = 0; i < frames; i++)
		len += make_frame(out + len, i % 3 == 0, (uint8_t)i);
	return len;
}

/* Every message starts on a frame header and ends on a frame boundary. */
static void assert_whole_frames(const struct collected *c)
{
	size_t offset = 0;
	for (size_t m = 0; m < c->messages; m++) {
		size_t end = offset + c->lens[m];
		size_t p = offset;
		while (p < end) {
			size_t frame = ivd_mp3_frame_length(c->data + p, NULL);
			assert_true(frame > 0);
			p += frame;
		}
		assert_int_equal(p, end);
		offset = end;
	}
}

static void test_frame_length(void **state)
{
	(void)state;
	uint8_t frame[500];
	uint32_t rate = 0;
	make_frame(frame, false, 0);
	assert_int_equal(ivd_mp3_frame_length(frame, &rate), 417);
	assert_int_equal(rate, 44100);
	make_frame(frame, true, 0);
	assert_int_equal(ivd_mp3_frame_length(frame, NULL), 418);
	/* MPEG-2 Layer III 48 kbit/s 22.05 kHz: 72 * 48000 / 22050 = 156 */
	uint8_t mpeg2[4] = {0xFF, 0xF3, 0x60, 0xC4};
	assert_int_equal(ivd_mp3_frame_length(mpeg2, &rate), 156);
	assert_int_equal(rate, 22050);
	uint8_t not_frame[4] = {0xFF, 0xFB, 0xF0, 0x00}; /* bitrate index 15 */
	assert_int_equal(ivd_mp3_frame_length(not_frame, NULL), 0);
	uint8_t layer2[4] = {0xFF, 0xFD, 0x90, 0x00};
	assert_int_equal(ivd_mp3_frame_length(layer2, NULL), 0);
}

static void test_whole_frames_any_split(void **state)
{
	(void)state;
	static uint8_t stream[64 * 420];
	size_t len = make_stream(stream, 64);
	size_t splits[] = {1, 3, 100, 417, 1000, 4096, 100000};
	for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
		struct collected *c = calloc(1, sizeof *c);
		struct ivd_audio_cutter cutter;
		assert_int_equal(ivd_audio_cutter_init(&cutter, IVD_AUDIO_MP3, 1024), 0);
		for (size_t off = 0; off < len; off += splits[s]) {
			size_t n = len - off < splits[s] ? len - off : splits[s];
			assert_true(ivd_audio_cutter_push(&cutter, stream + off, n, collect, c));
		}
		assert_true(ivd_audio_cutter_finish(&cutter, collect, c));
		assert_int_equal(c->len, len);
		assert_memory_equal(c->data, stream, len);
		assert_true(c->largest <= 1024);
		assert_whole_frames(c);
		assert_int_equal(cutter.frames, 64);
		assert_int_equal(cutter.dropped, 0);
		ivd_audio_cutter_free(&cutter);
		free(c);
	}
}

static void test_id3_and_garbage_dropped(void **state)
{
	(void)state;
	static uint8_t input[16 * 420 + 200];
	static uint8_t frames[16 * 420];
	size_t flen = make_stream(frames, 16);
	size_t len = 0;
	/* ID3v2 tag with a 20-byte body */
	const uint8_t id3[10] = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 20};
	memcpy(input, id3, 10);
	memset(input + 10, 0xAB, 20);
	len = 30;
	memcpy(input + len, frames, 417 * 0 + 418); /* first frame is padded (418) */
	len += 418;
	memcpy(input + len, "junk!", 5); /* bytes between frames */
	len += 5;
	memcpy(input + len, frames + 418, flen - 418);
	len += flen - 418;
	memcpy(input + len, frames, 100); /* truncated frame at the end */
	len += 100;
	struct collected *c = calloc(1, sizeof *c);
	struct ivd_audio_cutter cutter;
	assert_int_equal(ivd_audio_cutter_init(&cutter, IVD_AUDIO_MP3, 1024), 0);
	for (size_t off = 0; off < len; off += 7) {
		size_t n = len - off < 7 ? len - off : 7;
		assert_true(ivd_audio_cutter_push(&cutter, input + off, n, collect, c));
	}
	assert_true(ivd_audio_cutter_finish(&cutter, collect, c));
	assert_int_equal(c->len, flen);
	assert_memory_equal(c->data, frames, flen);
	assert_whole_frames(c);
	assert_int_equal(cutter.dropped, 30 + 5 + 100);
	ivd_audio_cutter_free(&cutter);
	free(c);
}

static void test_frame_larger_than_chunk_goes_alone(void **state)
{
	(void)state;
	static uint8_t stream[8 * 420];
	size_t len = make_stream(stream, 8);
	struct collected *c = calloc(1, sizeof *c);
	struct ivd_audio_cutter cutter;
	assert_int_equal(ivd_audio_cutter_init(&cutter, IVD_AUDIO_MP3, 256), 0);
	assert_true(ivd_audio_cutter_push(&cutter, stream, len, collect, c));
	assert_true(ivd_audio_cutter_finish(&cutter, collect, c));
	assert_int_equal(c->messages, 8);
	assert_memory_equal(c->data, stream, len);
	assert_whole_frames(c);
	ivd_audio_cutter_free(&cutter);
	free(c);
}

static void test_pcm_whole_samples(void **state)
{
	(void)state;
	static uint8_t pcm[5001];
	for (size_t i = 0; i < sizeof pcm; i++)
		pcm[i] = (uint8_t)i;
	struct collected *c = calloc(1, sizeof *c);
	struct ivd_audio_cutter cutter;
	assert_int_equal(ivd_audio_cutter_init(&cutter, IVD_AUDIO_PCM16, 1000), 0);
	for (size_t off = 0; off < 5000; off += 333) {
		size_t n = 5000 - off < 333 ? 5000 - off : 333;
		assert_true(ivd_audio_cutter_push(&cutter, pcm + off, n, collect, c));
	}
	assert_true(ivd_audio_cutter_finish(&cutter, collect, c));
	assert_int_equal(c->len, 5000);
	assert_memory_equal(c->data, pcm, 5000);
	for (size_t m = 0; m < c->messages; m++) {
		assert_int_equal(c->lens[m] % 2, 0);
		assert_true(c->lens[m] <= 1000);
	}
	ivd_audio_cutter_free(&cutter);
	free(c);
}

static bool stop_after_first(void *ctx, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	int *calls = ctx;
	(*calls)++;
	return false;
}

static void test_emit_can_stop(void **state)
{
	(void)state;
	static uint8_t stream[32 * 420];
	size_t len = make_stream(stream, 32);
	int calls = 0;
	struct ivd_audio_cutter cutter;
	assert_int_equal(ivd_audio_cutter_init(&cutter, IVD_AUDIO_MP3, 1024), 0);
	assert_false(ivd_audio_cutter_push(&cutter, stream, len, stop_after_first, &calls));
	assert_int_equal(calls, 1);
	ivd_audio_cutter_free(&cutter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_length),
		cmocka_unit_test(test_whole_frames_any_split),
		cmocka_unit_test(test_id3_and_garbage_dropped),
		cmocka_unit_test(test_frame_larger_than_chunk_goes_alone),
		cmocka_unit_test(test_pcm_whole_samples),
		cmocka_unit_test(test_emit_can_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
