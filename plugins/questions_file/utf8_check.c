/* file questions plugin: UTF-8 validation of question bank text. */
#include "utf8_check.h"

size_t utf8_valid_prefix(const unsigned char *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = text[i];
		size_t need;
		unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* no overlong forms */
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f; /* nothing above U+10FFFF */
		} else {
			return i;
		}
		if (need >= len - i)
			return i;
		if (text[i + 1] < lo || text[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((text[i + k] & 0xc0) != 0x80)
				return i;
		i += need + 1;
	}
	return len;
}
