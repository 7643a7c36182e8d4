/* mock TTS plugin: how fast replayed audio would play, to pace it like a real-time provider. */
#ifndef MOCK_PACING_H
#define MOCK_PACING_H

#include <stddef.h>
#include <stdint.h>

/* Bytes per second of playback for audio that starts with `head` (`len` bytes): the bitrate of the
 * first MPEG audio frame header found (skipping an ID3v2 tag), or 0 if none is found. */
uint32_t mock_pacing_mp3_bytes_per_second(const unsigned char *head, size_t len);

#endif
