/* Unit tests: the Polly plugin's SigV4 signer against the official AWS SigV4 test-suite vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "polly_sigv4.h"

#ifndef SIGV4_VECTORS_DIR
#error "SIGV4_VECTORS_DIR must name tests/polly_unit/sigv4-vectors"
#endif

#define FILE_MAX 65536

/* Read a whole vector file into a NUL-terminated heap string; fails the test if absent. */
static char *read_vector_file(const char *vector, const char *file, size_t *len_out)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s/%s", SIGV4_VECTORS_DIR, vector, file);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	char *data = malloc(FILE_MAX + 1);
	assert_non_null(data);
	size_t len = fread(data, 1, FILE_MAX, f);
	fclose(f);
	data[len] = '\0';
	if (len_out)
		*len_out = len;
	return data;
}

struct parsed_request {
	char method[16];
	char path[1024];
	char query[1024];
	struct polly_sigv4_header headers[POLLY_SIGV4_MAX_HEADERS];
	size_t n_headers;
	char *body;
	size_t body_len;
};

/* Parse request.txt: request line, header lines (continuation lines fold into the previous
 * value), a blank line, then the body.  Modifies `text` in place (headers point into it). */
static void parse_request(char *text, size_t len, struct parsed_request *req)
{
	memset(req, 0, sizeof *req);
	char *line_end = strchr(text, '\n');
	if (line_end)
		*line_end = '\0';
	char uri[1024];
	assert_int_equal(sscanf(text, "%15s %1023s", req->method, uri), 2);
	/* The URI may contain a space (get-space): take everything up to the last " HTTP/". */
	char *http = strstr(text, " HTTP/");
	assert_non_null(http);
	char *uri_start = strchr(text, ' ') + 1;
	size_t uri_len = (size_t)(http - uri_start);
	assert_true(uri_len < sizeof uri);
	memcpy(uri, uri_start, uri_len);
	uri[uri_len] = '\0';
	char *q = strchr(uri, '?');
	if (q) {
		*q = '\0';
		snprintf(req->query, sizeof req->query, "%s", q + 1);
	}
	snprintf(req->path, sizeof req->path, "%s", uri);

	char *p = line_end ? line_end + 1 : text + len;
	while (p < text + len) {
		char *end = strchr(p, '\n');
		size_t line_len = end ? (size_t)(end - p) : strlen(p);
		if (line_len == 0) {
			p = end ? end + 1 : text + len;
			break;
		}
		if ((*p == ' ' || *p == '\t') && req->n_headers > 0) {
			/* A folded line: turn the preceding newline back into part of the value. */
			*(p - 1) = ' ';
			if (end)
				*end = '\0';
		} else {
			assert_true(req->n_headers < POLLY_SIGV4_MAX_HEADERS);
			char *colon = memchr(p, ':', line_len);
			assert_non_null(colon);
			*colon = '\0';
			if (end)
				*end = '\0';
			req->headers[req->n_headers].name = p;
			req->headers[req->n_headers].value = colon + 1;
			req->n_headers++;
		}
		p = end ? end + 1 : text + len;
	}
	req->body = p;
	req->body_len = (size_t)(text + len - p);
}

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static void iso_to_amz(const char *iso, char out[POLLY_SIGV4_DATE_LEN + 1])
{
	size_t j = 0;
	for (size_t i = 0; iso[i] && j < POLLY_SIGV4_DATE_LEN; i++)
		if (iso[i] != '-' && iso[i] != ':')
			out[j++] = iso[i];
	out[j] = '\0';
}

static void run_vector(void **state)
{
	const char *vector = *state;
	size_t request_len = 0;
	char *context_text = read_vector_file(vector, "context.json", NULL);
	char *request_text = read_vector_file(vector, "request.txt", &request_len);
	char *expected_creq = read_vector_file(vector, "header-canonical-request.txt", NULL);
	char *expected_sts = read_vector_file(vector, "header-string-to-sign.txt", NULL);
	char *expected_sig = read_vector_file(vector, "header-signature.txt", NULL);

	cJSON *context = cJSON_Parse(context_text);
	assert_non_null(context);
	cJSON *creds = cJSON_GetObjectItemCaseSensitive(context, "credentials");
	const char *akid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "access_key_id"));
	const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "secret_access_key"));
	const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "token"));
	const char *region = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(context, "region"));
	const char *service = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(context, "service"));
	const char *timestamp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(context, "timestamp"));
	bool normalize = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(context, "normalize"));
	bool sign_body = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(context, "sign_body"));
	bool omit_token = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(context, "omit_session_token"));
	assert_non_null(akid);
	assert_non_null(secret);
	assert_non_null(region);
	assert_non_null(service);
	assert_non_null(timestamp);

	struct parsed_request req;
	parse_request(request_text, request_len, &req);
	char amz_date[POLLY_SIGV4_DATE_LEN + 1];
	iso_to_amz(timestamp, amz_date);
	char body_hash[65];
	polly_sigv4_sha256_hex(req.body, req.body_len, body_hash);
	/* What a signer adds before signing: X-Amz-Date, the session token unless the vector wants
	 * it added after signing (unsigned), and X-Amz-Content-Sha256 when the body hash is signed. */
	req.headers[req.n_headers++] = (struct polly_sigv4_header){"X-Amz-Date", amz_date};
	if (token && !omit_token)
		req.headers[req.n_headers++] = (struct polly_sigv4_header){"X-Amz-Security-Token", token};
	if (sign_body)
		req.headers[req.n_headers++] = (struct polly_sigv4_header){"X-Amz-Content-Sha256", body_hash};

	struct polly_sigv4_request request = {
		.method = req.method,
		.path = req.path,
		.query = req.query,
		.headers = req.headers,
		.n_headers = req.n_headers,
		.body = req.body,
		.body_len = req.body_len,
		.normalize_path = normalize,
	};
	struct polly_sigv4_scope scope = {region, service, amz_date};
	struct polly_buf creq, sts;
	assert_true(polly_buf_init(&creq, POLLY_SIGV4_CANONICAL_MAX));
	assert_true(polly_buf_init(&sts, 4096));
	struct polly_sigv4_debug debug = {&creq, &sts, {0}};
	char authorization[POLLY_SIGV4_AUTH_MAX];
	const char *why = NULL;
	int rc = polly_sigv4_sign(&request, &scope, akid, secret, authorization, &debug, &why);
	if (rc != 0)
		fail_msg("%s: signing failed: %s", vector, why ? why : "?");
	assert_string_equal(creq.data, expected_creq);
	assert_string_equal(sts.data, expected_sts);
	assert_string_equal(debug.signature, expected_sig);
	/* The header carries the same signature and the credential scope. */
	char expected_prefix[256];
	snprintf(expected_prefix, sizeof expected_prefix, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=",
	         akid, amz_date, region, service);
	assert_memory_equal(authorization, expected_prefix, strlen(expected_prefix));
	char *sig = strstr(authorization, ", Signature=");
	assert_non_null(sig);
	assert_string_equal(sig + strlen(", Signature="), expected_sig);

	polly_buf_free(&creq, false);
	polly_buf_free(&sts, false);
	cJSON_Delete(context);
	free(context_text);
	free(request_text);
	free(expected_creq);
	free(expected_sts);
	free(expected_sig);
}

#define VECTOR(name) cmocka_unit_test_prestate(run_vector, (void *)(name))

int main(void)
{
	const struct CMUnitTest tests[] = {
		VECTOR("get-vanilla"),
		VECTOR("get-vanilla-query"),
		VECTOR("get-vanilla-empty-query-key"),
		VECTOR("get-vanilla-query-order-key-case"),
		VECTOR("get-vanilla-query-order-encoded"),
		VECTOR("get-vanilla-query-unreserved"),
		VECTOR("get-vanilla-utf8-query"),
		VECTOR("get-vanilla-with-session-token"),
		VECTOR("get-header-key-duplicate"),
		VECTOR("get-header-value-multiline"),
		VECTOR("get-header-value-order"),
		VECTOR("get-header-value-trim"),
		VECTOR("get-unreserved"),
		VECTOR("get-utf8"),
		VECTOR("get-space-normalized"),
		VECTOR("get-space-unnormalized"),
		VECTOR("get-relative-normalized"),
		VECTOR("get-relative-unnormalized"),
		VECTOR("get-relative-relative-normalized"),
		VECTOR("get-relative-relative-unnormalized"),
		VECTOR("get-slash-normalized"),
		VECTOR("get-slash-unnormalized"),
		VECTOR("get-slash-dot-slash-normalized"),
		VECTOR("get-slash-dot-slash-unnormalized"),
		VECTOR("get-slash-pointless-dot-normalized"),
		VECTOR("get-slash-pointless-dot-unnormalized"),
		VECTOR("get-slashes-normalized"),
		VECTOR("get-slashes-unnormalized"),
		VECTOR("post-vanilla"),
		VECTOR("post-vanilla-query"),
		VECTOR("post-vanilla-empty-query-value"),
		VECTOR("post-header-key-case"),
		VECTOR("post-header-key-sort"),
		VECTOR("post-header-value-case"),
		VECTOR("post-sts-header-after"),
		VECTOR("post-sts-header-before"),
		VECTOR("post-x-www-form-urlencoded"),
		VECTOR("post-x-www-form-urlencoded-parameters"),
	};
	return cmocka_run_group_tests_name("sigv4_vectors", tests, NULL, NULL);
}
