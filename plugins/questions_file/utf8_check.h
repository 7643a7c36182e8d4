/* file questions plugin: UTF-8 validation of question bank text. */
#ifndef UTF8_CHECK_H
#define UTF8_CHECK_H

#include <stddef.h>

/* Length of the valid UTF-8 prefix of `text` (`len` bytes): equals `len` when all is valid.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid. */
size_t utf8_valid_prefix(const unsigned char *text, size_t len);

#endif
