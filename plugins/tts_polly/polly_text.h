/* Text preparation for Polly: SSML escaping and rate wrapping, and splitting long text into requests. */
#ifndef POLLY_TEXT_H
#define POLLY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "polly_buf.h"

#define POLLY_TEXT_MAX_BILLED 3000u    /* Polly: billed characters per request */
#define POLLY_TEXT_MAX_TOTAL 6000u     /* Polly: all characters (tags included) per request */
#define POLLY_TEXT_INPUT_MAX 200000u   /* longest text accepted, in bytes */
#define POLLY_TEXT_MAX_PIECES 256u
#define POLLY_TEXT_MAX_DEPTH 16u       /* SSML element nesting that can be carried across a split */

struct polly_text_pieces {
	char **piece; /* n heap strings, in speaking order */
	size_t n;
};

/* Append `text` with & < > " ' escaped as XML entities. */
void polly_text_escape(struct polly_buf *out, const char *text, size_t len);

/* True if `rate` is a safe prosody rate value: x-slow..x-fast, or a number with optional '%'. */
bool polly_text_rate_ok(const char *rate);

/* Wrap plain text as <speak><prosody rate="RATE">escaped text</prosody></speak> (heap string,
 * NULL on allocation failure or oversize input). */
char *polly_text_wrap_rate(const char *text, const char *rate);

/* Characters Polly bills for `text`: Unicode code points, outside tags when `ssml`. */
size_t polly_text_billable(const char *text, bool ssml);

/* Split `text` into pieces of at most max_billed billable and max_total total characters,
 * preferring sentence ends (. ! ? 。 ！ ？, Korean endings before a blank), then line breaks, then
 * blanks, then any character boundary.  With `ssml`, never splits inside a tag or entity, and each
 * piece is a well-formed document: elements open at the cut are closed and reopened.  Returns 0,
 * or -1 with `why` set (text too long, nesting too deep, out of memory). */
int polly_text_split(const char *text, bool ssml, size_t max_billed, size_t max_total,
                     struct polly_text_pieces *out, const char **why);
void polly_text_pieces_free(struct polly_text_pieces *pieces);

#endif
