/* Text preparation for Polly: SSML escaping and rate wrapping, and splitting long text into requests. */
#include "polly_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TAG_MAX 512u

void polly_text_escape(struct polly_buf *out, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (text[i]) {
		case '&': polly_buf_puts(out, "&amp;"); break;
		case '<': polly_buf_puts(out, "&lt;"); break;
		case '>': polly_buf_puts(out, "&gt;"); break;
		case '"': polly_buf_puts(out, "&quot;"); break;
		case '\'': polly_buf_puts(out, "&apos;"); break;
		default: polly_buf_putc(out, text[i]); break;
		}
	}
}

bool polly_text_rate_ok(const char *rate)
{
	static const char *const words[] = {"x-slow", "slow", "medium", "fast", "x-fast"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(rate, words[i]) == 0)
			return true;
	size_t len = strlen(rate), digits = 0;
	if (len == 0 || len > 8)
		return false;
	size_t i = 0;
	if (rate[i] == '+' || rate[i] == '-')
		i++;
	for (; i < len && rate[i] >= '0' && rate[i] <= '9'; i++)
		digits++;
	if (i < len && rate[i] == '%')
		i++;
	return digits > 0 && i == len;
}

char *polly_text_wrap_rate(const char *text, const char *rate)
{
	size_t len = strlen(text);
	if (len > POLLY_TEXT_INPUT_MAX)
		return NULL;
	struct polly_buf out;
	if (!polly_buf_init(&out, len * 6 + strlen(rate) * 6 + 64))
		return NULL;
	polly_buf_puts(&out, "<speak><prosody rate=\"");
	polly_text_escape(&out, rate, strlen(rate));
	polly_buf_puts(&out, "\">");
	polly_text_escape(&out, text, len);
	polly_buf_puts(&out, "</prosody></speak>");
	if (!polly_buf_ok(&out)) {
		polly_buf_free(&out, false);
		return NULL;
	}
	return out.data;
}

/* Length in bytes of the UTF-8 sequence starting at s (1 for invalid bytes), and its code point. */
static size_t utf8_next(const char *s, size_t avail, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 1;
	uint32_t c = u[0];
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		c = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		c = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		c = u[0] & 0x07;
	}
	if (n > avail)
		n = 1;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*cp = u[0];
			return 1;
		}
		c = (c << 6) | (u[i] & 0x3f);
	}
	*cp = n == 1 ? u[0] : c;
	return n;
}

static size_t codepoints(const char *s, size_t len)
{
	size_t count = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += utf8_next(s + i, len - i, &cp);
		count++;
	}
	return count;
}

size_t polly_text_billable(const char *text, bool ssml)
{
	size_t len = strlen(text), count = 0;
	for (size_t i = 0; i < len;) {
		if (ssml && text[i] == '<') {
			const char *end = memchr(text + i, '>', len - i);
			i = end ? (size_t)(end - text) + 1 : len;
			continue;
		}
		if (ssml && text[i] == '&') {
			const char *semi = memchr(text + i, ';', len - i < 12 ? len - i : 12);
			if (semi) {
				i = (size_t)(semi - text) + 1;
				count++;
				continue;
			}
		}
		uint32_t cp;
		i += utf8_next(text + i, len - i, &cp);
		count++;
	}
	return count;
}

/* An open SSML element: its start tag in the source text and its name's length. */
struct open_tag {
	size_t start, len; /* the whole "<name ...>" */
	size_t name_len;
};

struct tag_stack {
	struct open_tag tags[POLLY_TEXT_MAX_DEPTH];
	size_t depth;
};

/* Characters needed to close every open element. */
static size_t closing_len(const struct tag_stack *stack)
{
	size_t n = 0;
	for (size_t i = 0; i < stack->depth; i++)
		n += stack->tags[i].name_len + 3;
	return n;
}

static size_t opening_len(const char *text, const struct tag_stack *stack)
{
	size_t n = 0;
	for (size_t i = 0; i < stack->depth; i++)
		n += codepoints(text + stack->tags[i].start, stack->tags[i].len);
	return n;
}

/* Apply one tag text[start..end) (inclusive of < >) to the stack.  Returns false if too deep. */
static bool apply_tag(const char *text, size_t start, size_t end, struct tag_stack *stack)
{
	const char *t = text + start + 1;
	size_t len = end - start;
	if (len < 3 || t[0] == '?' || t[0] == '!')
		return true; /* declaration or comment */
	if (text[end - 2] == '/')
		return true; /* self-closing, e.g. <break time="1s"/> */
	if (t[0] == '/') {
		if (stack->depth > 0)
			stack->depth--;
		return true;
	}
	if (stack->depth == POLLY_TEXT_MAX_DEPTH || len > TAG_MAX)
		return false;
	size_t name_len = strcspn(t, " \t\r\n/>");
	stack->tags[stack->depth++] = (struct open_tag){start, len, name_len};
	return true;
}

static bool is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x3000 || cp == 0xa0;
}

static bool is_korean_ending(uint32_t cp)
{
	/* 다 요 까 죠 — the usual final syllables of Korean declaratives, polite forms and questions. */
	return cp == 0xb2e4 || cp == 0xc694 || cp == 0xae4c || cp == 0xc8e0;
}

enum { PRIO_SENTENCE = 0, PRIO_KOREAN = 1, PRIO_LINE = 2, PRIO_SPACE = 3, PRIO_ANY = 4, N_PRIO = 5 };

struct candidate {
	bool set;
	size_t pos; /* the piece ends here (exclusive) */
	struct tag_stack stack;
};

/* What follows position i (skipping tags in SSML): returns its code point, 0 at the end. */
static uint32_t next_content_cp(const char *text, size_t len, size_t i, bool ssml)
{
	while (i < len) {
		if (ssml && text[i] == '<') {
			const char *end = memchr(text + i, '>', len - i);
			if (!end)
				return 0;
			i = (size_t)(end - text) + 1;
			continue;
		}
		uint32_t cp;
		utf8_next(text + i, len - i, &cp);
		return cp;
	}
	return 0;
}

static char *build_piece(const char *text, const struct tag_stack *open_at_start, size_t start, size_t end,
                         const struct tag_stack *open_at_end)
{
	size_t cap = end - start + 1;
	for (size_t i = 0; i < open_at_start->depth; i++)
		cap += open_at_start->tags[i].len;
	cap += closing_len(open_at_end);
	struct polly_buf buf;
	if (!polly_buf_init(&buf, cap))
		return NULL;
	for (size_t i = 0; i < open_at_start->depth; i++)
		polly_buf_append(&buf, text + open_at_start->tags[i].start, open_at_start->tags[i].len);
	polly_buf_append(&buf, text + start, end - start);
	for (size_t i = open_at_end->depth; i-- > 0;) {
		polly_buf_puts(&buf, "</");
		polly_buf_append(&buf, text + open_at_end->tags[i].start + 1, open_at_end->tags[i].name_len);
		polly_buf_putc(&buf, '>');
	}
	if (!polly_buf_ok(&buf)) {
		polly_buf_free(&buf, false);
		return NULL;
	}
	return buf.data;
}

/* True if the piece has something to say (not only blanks and tags). */
static bool has_speech(const char *piece, bool ssml)
{
	for (const char *p = piece; *p; p++) {
		if (ssml && *p == '<') {
			const char *end = strchr(p, '>');
			if (!end)
				return true;
			p = end;
			continue;
		}
		if (!(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			return true;
	}
	return false;
}

static int push_piece(struct polly_text_pieces *out, char *piece, const char **why)
{
	if (!piece) {
		*why = "out of memory";
		return -1;
	}
	if (out->n == POLLY_TEXT_MAX_PIECES) {
		free(piece);
		*why = "text needs too many requests";
		return -1;
	}
	out->piece[out->n++] = piece;
	return 0;
}

int polly_text_split(const char *text, bool ssml, size_t max_billed, size_t max_total,
                     struct polly_text_pieces *out, const char **why_out)
{
	const char *why_local = NULL;
	const char **why = why_out ? why_out : &why_local;
	*why = NULL;
	out->n = 0;
	out->piece = NULL;
	size_t len = strlen(text);
	if (len > POLLY_TEXT_INPUT_MAX) {
		*why = "text too long";
		return -1;
	}
	out->piece = calloc(POLLY_TEXT_MAX_PIECES, sizeof *out->piece);
	if (!out->piece) {
		*why = "out of memory";
		return -1;
	}

	struct tag_stack start_stack = {.depth = 0};
	size_t piece_start = 0;
	/* The candidates and the scanner's state are large-ish: keep them off the stack. */
	struct candidate *cand = calloc(N_PRIO, sizeof *cand);
	struct tag_stack *stack = calloc(1, sizeof *stack);
	if (!cand || !stack) {
		free(cand);
		free(stack);
		polly_text_pieces_free(out);
		*why = "out of memory";
		return -1;
	}
	int status = 0;
	while (status == 0) {
		*stack = start_stack;
		memset(cand, 0, N_PRIO * sizeof *cand);
		size_t billed = 0, total = opening_len(text, &start_stack);
		size_t i = piece_start;
		bool over = false;
		bool any_content = false;
		while (i < len) {
			if (ssml && text[i] == '<') {
				const char *end = memchr(text + i, '>', len - i);
				size_t tag_end = end ? (size_t)(end - text) + 1 : len;
				total += codepoints(text + i, tag_end - i);
				if (!apply_tag(text, i, tag_end, stack)) {
					*why = "SSML nesting too deep to split";
					status = -1;
					break;
				}
				i = tag_end;
				if (total + closing_len(stack) > max_total && any_content) {
					over = true;
					break;
				}
				continue;
			}
			size_t step;
			uint32_t cp;
			if (ssml && text[i] == '&' && memchr(text + i, ';', len - i < 12 ? len - i : 12)) {
				step = (size_t)((const char *)memchr(text + i, ';', len - i) - (text + i)) + 1;
				cp = '&';
			} else {
				step = utf8_next(text + i, len - i, &cp);
			}
			if (billed + 1 > max_billed || total + 1 + closing_len(stack) > max_total) {
				over = true;
				break;
			}
			billed++;
			total += ssml && cp == '&' ? step : 1;
			any_content = true;
			size_t before = i;
			i += step;
			/* Blanks right after a sentence end belong to that sentence's piece. */
			if (is_space(cp)) {
				for (int p = PRIO_SENTENCE; p <= PRIO_KOREAN; p++)
					if (cand[p].set && cand[p].pos == before)
						cand[p].pos = i;
			}
			/* Candidate split points after this character. */
			uint32_t next = next_content_cp(text, len, i, ssml);
			int prio = PRIO_ANY;
			if (cp == 0x3002 || cp == 0xff01 || cp == 0xff1f)
				prio = PRIO_SENTENCE;
			else if ((cp == '.' || cp == '!' || cp == '?') && (next == 0 || is_space(next)))
				prio = PRIO_SENTENCE;
			else if (is_korean_ending(cp) && (next == 0 || is_space(next)))
				prio = PRIO_KOREAN;
			else if (cp == '\n')
				prio = PRIO_LINE;
			else if (is_space(cp))
				prio = PRIO_SPACE;
			cand[prio].set = true;
			cand[prio].pos = i;
			cand[prio].stack = *stack;
		}
		if (status != 0)
			break;
		if (!over) {
			char *piece = build_piece(text, &start_stack, piece_start, len, stack);
			if (piece && out->n > 0 && !has_speech(piece, ssml))
				free(piece);
			else
				status = push_piece(out, piece, why);
			break;
		}
		struct candidate *best = NULL;
		for (int p = 0; p < N_PRIO && !best; p++)
			if (cand[p].set)
				best = &cand[p];
		if (!best) {
			*why = "a single SSML tag or word is longer than one request allows";
			status = -1;
			break;
		}
		char *piece = build_piece(text, &start_stack, piece_start, best->pos, &best->stack);
		if (piece && !has_speech(piece, ssml))
			free(piece);
		else
			status = push_piece(out, piece, why);
		start_stack = best->stack;
		piece_start = best->pos;
	}
	free(cand);
	free(stack);
	if (status != 0)
		polly_text_pieces_free(out);
	return status;
}

void polly_text_pieces_free(struct polly_text_pieces *pieces)
{
	if (pieces->piece) {
		for (size_t i = 0; i < pieces->n; i++)
			free(pieces->piece[i]);
		free(pieces->piece);
	}
	pieces->piece = NULL;
	pieces->n = 0;
}
