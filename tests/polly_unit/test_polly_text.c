/* Unit tests: Polly text preparation — SSML escaping, rate wrapping, splitting long Korean/English text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "polly_text.h"

/* Concatenate the pieces' text content (tags removed) to compare with the input's. */
static char *strip_tags(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	size_t j = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '<') {
			const char *end = strchr(p, '>');
			assert_non_null(end);
			p = end;
			continue;
		}
		out[j++] = *p;
	}
	out[j] = '\0';
	return out;
}

static char *repeat(const char *unit, size_t times)
{
	size_t len = strlen(unit);
	char *s = malloc(len * times + 1);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * len, unit, len);
	s[len * times] = '\0';
	return s;
}

static void test_escape_and_wrap(void **state)
{
	(void)state;
	char *ssml = polly_text_wrap_rate("Tom & Jerry <say> \"hi\" 'there'", "90%");
	assert_string_equal(ssml, "<speak><prosody rate=\"90%\">Tom &amp; Jerry &lt;say&gt; &quot;hi&quot; "
	                          "&apos;there&apos;</prosody></speak>");
	free(ssml);
	assert_true(polly_text_rate_ok("slow"));
	assert_true(polly_text_rate_ok("90%"));
	assert_true(polly_text_rate_ok("+10%"));
	assert_false(polly_text_rate_ok("90%\"><evil"));
	assert_false(polly_text_rate_ok(""));
	assert_false(polly_text_rate_ok("%"));
}

static void test_billable(void **state)
{
	(void)state;
	assert_int_equal(polly_text_billable("안녕하세요", false), 5);
	assert_int_equal(polly_text_billable("<speak>안녕 <break time=\"1s\"/>하세요</speak>", true), 6);
	assert_int_equal(polly_text_billable("<speak>a &amp; b</speak>", true), 5);
}

static void test_short_text_is_one_piece(void **state)
{
	(void)state;
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split("Hello there. How are you?", false, 3000, 6000, &pieces, NULL), 0);
	assert_int_equal(pieces.n, 1);
	assert_string_equal(pieces.piece[0], "Hello there. How are you?");
	polly_text_pieces_free(&pieces);
}

static void test_english_splits_at_sentences(void **state)
{
	(void)state;
	/* 100 sentences of 40 characters: 4000 characters, more than one request holds. */
	char *text = repeat("This sentence has exactly forty chars.. ", 100);
	assert_int_equal(strlen(text), 4000);
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split(text, false, 3000, 6000, &pieces, NULL), 0);
	assert_int_equal(pieces.n, 2);
	size_t total = 0;
	for (size_t i = 0; i < pieces.n; i++) {
		size_t n = polly_text_billable(pieces.piece[i], false);
		assert_true(n <= 3000);
		total += strlen(pieces.piece[i]);
	}
	/* The first piece ends at a sentence end, nothing is lost or repeated. */
	size_t first = strlen(pieces.piece[0]);
	assert_true(pieces.piece[0][first - 1] == ' ' && pieces.piece[0][first - 2] == '.');
	assert_int_equal(total, strlen(text));
	char *joined = malloc(strlen(text) + 1);
	snprintf(joined, strlen(text) + 1, "%s%s", pieces.piece[0], pieces.piece[1]);
	assert_string_equal(joined, text);
	free(joined);
	polly_text_pieces_free(&pieces);
	free(text);
}

static void test_korean_splits_at_sentence_ends(void **state)
{
	(void)state;
	/* Korean without punctuation: sentence ends (다, 요) followed by a blank are preferred to
	 * other blanks; every piece is valid UTF-8 of whole syllables and under 3000 characters. */
	char *text = repeat("저는 백엔드 개발자로 일하고 있습니다 그리고 팀을 이끌었어요 ", 120);
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split(text, false, 3000, 6000, &pieces, NULL), 0);
	assert_true(pieces.n >= 2);
	size_t bytes = 0;
	for (size_t i = 0; i < pieces.n; i++) {
		assert_true(polly_text_billable(pieces.piece[i], false) <= 3000);
		bytes += strlen(pieces.piece[i]);
		if (i + 1 < pieces.n) {
			/* ends with "다 " or "요 " */
			size_t len = strlen(pieces.piece[i]);
			const char *tail = pieces.piece[i] + len - 4;
			assert_true(strcmp(tail, "다 ") == 0 || strcmp(tail, "요 ") == 0);
		}
	}
	assert_int_equal(bytes, strlen(text));
	polly_text_pieces_free(&pieces);
	free(text);

	/* Korean with full stops and CJK punctuation. */
	text = repeat("안녕하세요. 만나서 반갑습니다！", 400);
	assert_int_equal(polly_text_split(text, false, 3000, 6000, &pieces, NULL), 0);
	assert_true(pieces.n >= 2);
	/* The first piece ends at a sentence end: "！" or ". ". */
	const char *end = pieces.piece[0] + strlen(pieces.piece[0]) - strlen("！");
	assert_true(strcmp(end, "！") == 0 || strcmp(end + strlen("！") - 2, ". ") == 0);
	assert_int_equal(strlen(pieces.piece[0]) + strlen(pieces.piece[1]) + (pieces.n > 2 ? strlen(pieces.piece[2]) : 0),
	                 strlen(text));
	polly_text_pieces_free(&pieces);
	free(text);
}

static void test_hard_cut_on_utf8_boundary(void **state)
{
	(void)state;
	/* No blank and no punctuation at all: cut at exactly 3000 characters, between syllables. */
	char *text = repeat("가", 3500);
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split(text, false, 3000, 6000, &pieces, NULL), 0);
	assert_int_equal(pieces.n, 2);
	assert_int_equal(strlen(pieces.piece[0]), 3000 * 3);
	assert_int_equal(strlen(pieces.piece[1]), 500 * 3);
	polly_text_pieces_free(&pieces);
	free(text);
}

static void test_ssml_never_split_inside_tags(void **state)
{
	(void)state;
	/* A long SSML document with many tags: each piece is a document of its own, tags are never
	 * cut, the open <speak><prosody> elements are closed and reopened, and the text content
	 * survives unchanged. */
	char *body = repeat("One two three four. <break time=\"300ms\"/>Five &amp; six seven <emphasis>eight</emphasis>. ", 80);
	size_t cap = strlen(body) + 100;
	char *ssml = malloc(cap);
	snprintf(ssml, cap, "<speak><prosody rate=\"90%%\">%s</prosody></speak>", body);
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split(ssml, true, 3000, 6000, &pieces, NULL), 0);
	assert_true(pieces.n >= 2);
	size_t content = 0;
	for (size_t i = 0; i < pieces.n; i++) {
		const char *p = pieces.piece[i];
		assert_true(polly_text_billable(p, true) <= 3000);
		assert_memory_equal(p, "<speak><prosody rate=\"90%\">", strlen("<speak><prosody rate=\"90%\">"));
		const char *tail = "</prosody></speak>";
		assert_string_equal(p + strlen(p) - strlen(tail), tail);
		/* Balanced angle brackets: no tag was cut. */
		int depth = 0;
		for (const char *c = p; *c; c++) {
			if (*c == '<')
				depth++;
			if (*c == '>')
				depth--;
			assert_true(depth == 0 || depth == 1);
		}
		assert_int_equal(depth, 0);
		/* Entities are intact. */
		const char *amp = p;
		while ((amp = strchr(amp, '&')) != NULL) {
			assert_memory_equal(amp, "&amp;", 5);
			amp++;
		}
		char *stripped = strip_tags(p);
		content += strlen(stripped);
		free(stripped);
	}
	char *expected = strip_tags(ssml);
	assert_int_equal(content, strlen(expected));
	free(expected);
	polly_text_pieces_free(&pieces);
	free(ssml);
	free(body);
}

static void test_ssml_split_inside_open_element(void **state)
{
	(void)state;
	/* The cut falls inside <emphasis>: piece 1 closes it, piece 2 reopens it. */
	char *words = repeat("word ", 700);
	size_t cap = strlen(words) + 100;
	char *ssml = malloc(cap);
	snprintf(ssml, cap, "<speak><emphasis level=\"strong\">%s</emphasis></speak>", words);
	struct polly_text_pieces pieces;
	assert_int_equal(polly_text_split(ssml, true, 3000, 6000, &pieces, NULL), 0);
	assert_int_equal(pieces.n, 2);
	const char *end0 = "</emphasis></speak>";
	assert_string_equal(pieces.piece[0] + strlen(pieces.piece[0]) - strlen(end0), end0);
	assert_memory_equal(pieces.piece[1], "<speak><emphasis level=\"strong\">", 32);
	polly_text_pieces_free(&pieces);
	free(ssml);
	free(words);
}

static void test_too_long_input_refused(void **state)
{
	(void)state;
	char *text = repeat("a", POLLY_TEXT_INPUT_MAX + 1);
	struct polly_text_pieces pieces;
	const char *why = NULL;
	assert_int_equal(polly_text_split(text, false, 3000, 6000, &pieces, &why), -1);
	assert_non_null(why);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_and_wrap),
		cmocka_unit_test(test_billable),
		cmocka_unit_test(test_short_text_is_one_piece),
		cmocka_unit_test(test_english_splits_at_sentences),
		cmocka_unit_test(test_korean_splits_at_sentence_ends),
		cmocka_unit_test(test_hard_cut_on_utf8_boundary),
		cmocka_unit_test(test_ssml_never_split_inside_tags),
		cmocka_unit_test(test_ssml_split_inside_open_element),
		cmocka_unit_test(test_too_long_input_refused),
	};
	return cmocka_run_group_tests_name("polly_text", tests, NULL, NULL);
}
