/* mock TTS plugin: how fast replayed audio would play, to pace it like a real-time provider. */
#include "mock_pacing.h"

/* kbit/s by [MPEG-1?][bitrate index], Layer III. */
static const uint16_t layer3_kbps[2][16] = {
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},      /* MPEG-2 / 2.5 */
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}, /* MPEG-1 */
};

uint32_t mock_pacing_mp3_bytes_per_second(const unsigned char *head, size_t len)
{
	size_t pos = 0;
	if (len >= 10 && head[0] == 'I' && head[1] == 'D' && head[2] == '3') {
		size_t tag = ((size_t)(head[6] & 0x7f) << 21) | ((size_t)(head[7] & 0x7f) << 14) |
		             ((size_t)(head[8] & 0x7f) << 7) | (size_t)(head[9] & 0x7f);
		pos = 10 + tag;
	}
	for (; pos + 4 <= len; pos++) {
		if (head[pos] != 0xff || (head[pos + 1] & 0xe0) != 0xe0)
			continue;
		unsigned version = (head[pos + 1] >> 3) & 3; /* 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5 */
		unsigned layer = (head[pos + 1] >> 1) & 3;   /* 1: Layer III */
		unsigned bitrate_index = head[pos + 2] >> 4;
		if (version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15)
			continue;
		return (uint32_t)layer3_kbps[version == 3][bitrate_index] * 1000u / 8u;
	}
	return 0;
}
