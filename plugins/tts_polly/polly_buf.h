/* Bounded, heap-backed text buffer for the Polly plugin: appends never overflow, they set a flag. */
#ifndef POLLY_BUF_H
#define POLLY_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct polly_buf {
	char *data;    /* always NUL-terminated while cap > 0 */
	size_t len;    /* bytes used, without the NUL */
	size_t cap;    /* hard limit on len (the allocation is cap + 1) */
	bool overflow; /* an append did not fit (or allocation failed): the content is truncated */
};

/* Allocate a buffer that can hold up to `cap` bytes.  Returns false on allocation failure. */
bool polly_buf_init(struct polly_buf *buf, size_t cap);
/* Free the buffer; with `secret`, wipe it first. */
void polly_buf_free(struct polly_buf *buf, bool secret);
void polly_buf_reset(struct polly_buf *buf);
void polly_buf_append(struct polly_buf *buf, const void *data, size_t len);
void polly_buf_puts(struct polly_buf *buf, const char *text);
void polly_buf_putc(struct polly_buf *buf, char c);
void polly_buf_printf(struct polly_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True if nothing overflowed. */
bool polly_buf_ok(const struct polly_buf *buf);

#endif
