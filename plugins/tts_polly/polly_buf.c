/* Bounded, heap-backed text buffer for the Polly plugin: appends never overflow, they set a flag. */
#include "polly_buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool polly_buf_init(struct polly_buf *buf, size_t cap)
{
	buf->len = 0;
	buf->overflow = false;
	buf->data = malloc(cap + 1);
	if (!buf->data) {
		buf->cap = 0;
		buf->overflow = true;
		return false;
	}
	buf->cap = cap;
	buf->data[0] = '\0';
	return true;
}

void polly_buf_free(struct polly_buf *buf, bool secret)
{
	if (buf->data && secret)
		OPENSSL_cleanse(buf->data, buf->cap + 1);
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

void polly_buf_reset(struct polly_buf *buf)
{
	buf->len = 0;
	buf->overflow = buf->data == NULL;
	if (buf->data)
		buf->data[0] = '\0';
}

void polly_buf_append(struct polly_buf *buf, const void *data, size_t len)
{
	if (!buf->data || len > buf->cap - buf->len) {
		buf->overflow = true;
		return;
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void polly_buf_puts(struct polly_buf *buf, const char *text)
{
	polly_buf_append(buf, text, strlen(text));
}

void polly_buf_putc(struct polly_buf *buf, char c)
{
	polly_buf_append(buf, &c, 1);
}

void polly_buf_printf(struct polly_buf *buf, const char *fmt, ...)
{
	if (!buf->data) {
		buf->overflow = true;
		return;
	}
	size_t room = buf->cap - buf->len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf->data + buf->len, room + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf->data[buf->len] = '\0';
		buf->overflow = true;
	} else if ((size_t)n > room) {
		buf->len = buf->cap;
		buf->overflow = true;
	} else {
		buf->len += (size_t)n;
	}
}

bool polly_buf_ok(const struct polly_buf *buf)
{
	return !buf->overflow;
}
