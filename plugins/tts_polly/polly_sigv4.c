/* AWS Signature Version 4 (header signing) for the Polly plugin, on OpenSSL SHA-256 and HMAC. */
#include "polly_sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERY_MAX_PARAMS 64u
#define HEADER_NAME_MAX 128u

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *bytes, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_lower[bytes[i] >> 4];
		out[2 * i + 1] = hex_lower[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

void polly_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char digest[32];
	unsigned int digest_len = 0;
	if (EVP_Digest(data ? data : "", len, digest, &digest_len, EVP_sha256(), NULL) != 1 ||
	    digest_len != sizeof digest) {
		out[0] = '\0';
		return;
	}
	to_hex(digest, sizeof digest, out);
}

static bool hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
	unsigned int out_len = 0;
	if (key_len > INT32_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) != NULL && out_len == 32;
}

void polly_sigv4_amz_date(long long when, char out[POLLY_SIGV4_DATE_LEN + 1])
{
	time_t t = (time_t)when;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, POLLY_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == 0)
		memcpy(out, "19700101T000000Z", POLLY_SIGV4_DATE_LEN + 1);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

void polly_sigv4_uri_encode(struct polly_buf *out, const char *data, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			polly_buf_putc(out, (char)c);
		} else {
			char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
			polly_buf_append(out, esc, 3);
		}
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode data[0..len) into out (raw bytes). */
static void percent_decode(struct polly_buf *out, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (data[i] == '%' && i + 2 < len && (hi = hex_value(data[i + 1])) >= 0 &&
		    (lo = hex_value(data[i + 2])) >= 0) {
			polly_buf_putc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			polly_buf_putc(out, data[i]);
		}
	}
}

/* Canonical URI: optionally normalized, then URI-encoded with '/' kept. */
static void canonical_uri(struct polly_buf *out, const char *path, bool normalize)
{
	if (!path || !*path) {
		polly_buf_putc(out, '/');
		return;
	}
	if (!normalize) {
		polly_sigv4_uri_encode(out, path, strlen(path), true);
		return;
	}
	/* Segment stack of (start, length) pairs into `path`. */
	enum { MAX_SEGMENTS = 128 };
	const char *seg_start[MAX_SEGMENTS];
	size_t seg_len[MAX_SEGMENTS];
	size_t depth = 0;
	bool trailing_slash = false;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - start);
		bool last = *p == '\0' || strspn(p, "/") == strlen(p);
		if (len == 0) {
			trailing_slash = true;
			continue;
		}
		if (len == 1 && start[0] == '.') {
			trailing_slash = true;
		} else if (len == 2 && start[0] == '.' && start[1] == '.') {
			if (depth > 0)
				depth--;
			trailing_slash = true;
		} else if (depth < MAX_SEGMENTS) {
			seg_start[depth] = start;
			seg_len[depth] = len;
			depth++;
			trailing_slash = !last || p[0] == '/';
		} else {
			out->overflow = true;
			return;
		}
	}
	if (depth == 0) {
		polly_buf_putc(out, '/');
		return;
	}
	for (size_t i = 0; i < depth; i++) {
		polly_buf_putc(out, '/');
		polly_sigv4_uri_encode(out, seg_start[i], seg_len[i], false);
	}
	if (trailing_slash)
		polly_buf_putc(out, '/');
}

struct query_param {
	char *key;   /* encoded */
	char *value; /* encoded */
};

static int compare_params(const void *a, const void *b)
{
	const struct query_param *pa = a, *pb = b;
	int c = strcmp(pa->key, pb->key);
	return c ? c : strcmp(pa->value, pb->value);
}

/* Encode one query component (decode, then encode per SigV4) into a new string. */
static char *encode_component(const char *data, size_t len)
{
	struct polly_buf raw, enc;
	if (!polly_buf_init(&raw, len))
		return NULL;
	percent_decode(&raw, data, len);
	if (!polly_buf_init(&enc, raw.len * 3)) {
		polly_buf_free(&raw, false);
		return NULL;
	}
	polly_sigv4_uri_encode(&enc, raw.data, raw.len, false);
	polly_buf_free(&raw, false);
	if (!polly_buf_ok(&enc)) {
		polly_buf_free(&enc, false);
		return NULL;
	}
	return enc.data;
}

static bool canonical_query(struct polly_buf *out, const char *query)
{
	if (!query || !*query)
		return true;
	struct query_param params[QUERY_MAX_PARAMS];
	size_t n = 0;
	bool ok = true;
	const char *p = query;
	while (*p && ok) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0) {
			if (n == QUERY_MAX_PARAMS) {
				ok = false;
				break;
			}
			const char *eq = memchr(p, '=', len);
			size_t key_len = eq ? (size_t)(eq - p) : len;
			params[n].key = encode_component(p, key_len);
			params[n].value = eq ? encode_component(eq + 1, len - key_len - 1) : encode_component("", 0);
			if (!params[n].key || !params[n].value) {
				free(params[n].key);
				free(params[n].value);
				ok = false;
				break;
			}
			n++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	if (ok) {
		qsort(params, n, sizeof params[0], compare_params);
		for (size_t i = 0; i < n; i++) {
			if (i)
				polly_buf_putc(out, '&');
			polly_buf_puts(out, params[i].key);
			polly_buf_putc(out, '=');
			polly_buf_puts(out, params[i].value);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	return ok;
}

struct header_entry {
	char name[HEADER_NAME_MAX]; /* lower-case */
	const char *value;
	size_t order;
};

static int compare_headers(const void *a, const void *b)
{
	const struct header_entry *ha = a, *hb = b;
	int c = strcmp(ha->name, hb->name);
	if (c)
		return c;
	return ha->order < hb->order ? -1 : ha->order > hb->order;
}

/* Append a header value trimmed, with runs of blanks (and line folds) collapsed to one space. */
static void append_trimmed(struct polly_buf *out, const char *value)
{
	bool pending_space = false, started = false;
	for (const char *p = value; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			pending_space = started;
			continue;
		}
		if (pending_space)
			polly_buf_putc(out, ' ');
		pending_space = false;
		started = true;
		polly_buf_putc(out, *p);
	}
}

static bool header_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= HEADER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == ':' || (unsigned char)name[i] >= 127)
			return false;
	return true;
}

/* Appends canonical headers and signed headers; returns false on a bad header. */
static bool canonical_headers(const struct polly_sigv4_request *request, struct polly_buf *canonical,
                              struct polly_buf *signed_headers)
{
	struct header_entry entries[POLLY_SIGV4_MAX_HEADERS];
	size_t n = request->n_headers;
	if (n == 0 || n > POLLY_SIGV4_MAX_HEADERS)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *name = request->headers[i].name;
		if (!name || !header_name_ok(name) || !request->headers[i].value)
			return false;
		size_t len = strlen(name);
		for (size_t j = 0; j <= len; j++)
			entries[i].name[j] = (char)tolower((unsigned char)name[j]);
		entries[i].value = request->headers[i].value;
		entries[i].order = i;
	}
	qsort(entries, n, sizeof entries[0], compare_headers);
	for (size_t i = 0; i < n; i++) {
		bool same_as_previous = i > 0 && strcmp(entries[i].name, entries[i - 1].name) == 0;
		if (same_as_previous) {
			polly_buf_putc(canonical, ',');
		} else {
			if (i > 0) {
				polly_buf_putc(canonical, '\n');
				polly_buf_putc(signed_headers, ';');
			}
			polly_buf_puts(canonical, entries[i].name);
			polly_buf_putc(canonical, ':');
			polly_buf_puts(signed_headers, entries[i].name);
		}
		append_trimmed(canonical, entries[i].value);
	}
	polly_buf_putc(canonical, '\n');
	return true;
}

int polly_sigv4_sign(const struct polly_sigv4_request *request, const struct polly_sigv4_scope *scope,
                     const char *access_key_id, const char *secret_access_key,
                     char authorization[POLLY_SIGV4_AUTH_MAX], struct polly_sigv4_debug *debug,
                     const char **why)
{
	const char *reason = NULL;
	struct polly_buf canonical = {0}, signed_headers = {0}, to_sign = {0};
	unsigned char k1[32], k2[32];
	struct polly_buf secret = {0};
	int status = -1;
	authorization[0] = '\0';

	if (!request->method || !scope->region || !scope->service || !scope->amz_date ||
	    strlen(scope->amz_date) != POLLY_SIGV4_DATE_LEN || !access_key_id || !secret_access_key) {
		reason = "incomplete signing input";
		goto out;
	}
	if (!polly_buf_init(&canonical, POLLY_SIGV4_CANONICAL_MAX) ||
	    !polly_buf_init(&signed_headers, POLLY_SIGV4_CANONICAL_MAX / 4) ||
	    !polly_buf_init(&to_sign, 1024) || !polly_buf_init(&secret, 4 + strlen(secret_access_key))) {
		reason = "out of memory";
		goto out;
	}

	/* 1. Canonical request. */
	polly_buf_puts(&canonical, request->method);
	polly_buf_putc(&canonical, '\n');
	canonical_uri(&canonical, request->path, request->normalize_path);
	polly_buf_putc(&canonical, '\n');
	if (!canonical_query(&canonical, request->query)) {
		reason = "query string has too many parameters";
		goto out;
	}
	polly_buf_putc(&canonical, '\n');
	if (!canonical_headers(request, &canonical, &signed_headers)) {
		reason = "missing, invalid or too many headers";
		goto out;
	}
	polly_buf_putc(&canonical, '\n');
	polly_buf_append(&canonical, signed_headers.data, signed_headers.len);
	polly_buf_putc(&canonical, '\n');
	char payload_hash[65];
	polly_sigv4_sha256_hex(request->body, request->body_len, payload_hash);
	polly_buf_puts(&canonical, payload_hash);
	if (!polly_buf_ok(&canonical) || !polly_buf_ok(&signed_headers)) {
		reason = "request too large to sign";
		goto out;
	}

	/* 2. String to sign. */
	char date[9];
	memcpy(date, scope->amz_date, 8);
	date[8] = '\0';
	char canonical_hash[65];
	polly_sigv4_sha256_hex(canonical.data, canonical.len, canonical_hash);
	polly_buf_printf(&to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", scope->amz_date, date,
	                 scope->region, scope->service, canonical_hash);
	if (!polly_buf_ok(&to_sign)) {
		reason = "region or service name too long";
		goto out;
	}

	/* 3. Signing key and signature. */
	polly_buf_puts(&secret, "AWS4");
	polly_buf_puts(&secret, secret_access_key);
	unsigned char signature[32];
	if (!hmac_sha256(secret.data, secret.len, date, 8, k1) ||
	    !hmac_sha256(k1, 32, scope->region, strlen(scope->region), k2) ||
	    !hmac_sha256(k2, 32, scope->service, strlen(scope->service), k1) ||
	    !hmac_sha256(k1, 32, "aws4_request", 12, k2) ||
	    !hmac_sha256(k2, 32, to_sign.data, to_sign.len, signature)) {
		reason = "HMAC failed";
		goto out;
	}
	char signature_hex[65];
	to_hex(signature, 32, signature_hex);

	/* 4. Authorization header. */
	int n = snprintf(authorization, POLLY_SIGV4_AUTH_MAX,
	                 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
	                 access_key_id, date, scope->region, scope->service, signed_headers.data, signature_hex);
	if (n < 0 || (size_t)n >= POLLY_SIGV4_AUTH_MAX) {
		authorization[0] = '\0';
		reason = "Authorization header too long";
		goto out;
	}
	if (debug) {
		if (debug->canonical_request) {
			polly_buf_reset(debug->canonical_request);
			polly_buf_append(debug->canonical_request, canonical.data, canonical.len);
		}
		if (debug->string_to_sign) {
			polly_buf_reset(debug->string_to_sign);
			polly_buf_append(debug->string_to_sign, to_sign.data, to_sign.len);
		}
		memcpy(debug->signature, signature_hex, sizeof signature_hex);
	}
	status = 0;
out:
	OPENSSL_cleanse(k1, sizeof k1);
	OPENSSL_cleanse(k2, sizeof k2);
	polly_buf_free(&secret, true);
	polly_buf_free(&canonical, false);
	polly_buf_free(&signed_headers, false);
	polly_buf_free(&to_sign, false);
	if (why)
		*why = reason;
	return status;
}
