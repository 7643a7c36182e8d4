/* AWS Signature Version 4 (header signing) for the Polly plugin, on OpenSSL SHA-256 and HMAC. */
#ifndef POLLY_SIGV4_H
#define POLLY_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "polly_buf.h"

#define POLLY_SIGV4_MAX_HEADERS 32u
#define POLLY_SIGV4_AUTH_MAX 512u         /* Authorization header value */
#define POLLY_SIGV4_CANONICAL_MAX 32768u  /* canonical request text */
#define POLLY_SIGV4_DATE_LEN 16u          /* YYYYMMDDTHHMMSSZ */

struct polly_sigv4_header {
	const char *name;
	const char *value;
};

/* One request to sign.  Every header in `headers` is signed; the caller includes `Host` and
 * `X-Amz-Date` (and `X-Amz-Security-Token` with temporary credentials) and sends exactly these. */
struct polly_sigv4_request {
	const char *method;   /* "POST" */
	const char *path;     /* as sent on the wire, e.g. "/v1/speech"; encoded once more when signing */
	const char *query;    /* without '?', may be NULL or "" */
	const struct polly_sigv4_header *headers;
	size_t n_headers;
	const void *body;     /* may be NULL when body_len is 0 */
	size_t body_len;
	bool normalize_path;  /* remove "." and ".." segments and empty segments (all services but S3) */
};

struct polly_sigv4_scope {
	const char *region;   /* "ap-northeast-2" */
	const char *service;  /* "polly" */
	const char *amz_date; /* the X-Amz-Date value, YYYYMMDDTHHMMSSZ */
};

/* Optional intermediate results, for tests and the signing CLI.  Buffers owned by the caller
 * (initialised with polly_buf_init); NULL members are skipped. */
struct polly_sigv4_debug {
	struct polly_buf *canonical_request;
	struct polly_buf *string_to_sign;
	char signature[65];
};

/* Sign: write the Authorization header value into `authorization`.  Returns 0, or -1 when the
 * request is malformed or does not fit the bounds (`why` says which, no secrets in it). */
int polly_sigv4_sign(const struct polly_sigv4_request *request, const struct polly_sigv4_scope *scope,
                     const char *access_key_id, const char *secret_access_key,
                     char authorization[POLLY_SIGV4_AUTH_MAX], struct polly_sigv4_debug *debug,
                     const char **why);

/* Format `when` (seconds since the epoch, UTC) as YYYYMMDDTHHMMSSZ. */
void polly_sigv4_amz_date(long long when, char out[POLLY_SIGV4_DATE_LEN + 1]);

/* Lower-case hex SHA-256 of `data`. */
void polly_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* URI-encode per SigV4: everything but A-Z a-z 0-9 - . _ ~ becomes %XY (upper-case hex); with
 * keep_slash, '/' is kept too. */
void polly_sigv4_uri_encode(struct polly_buf *out, const char *data, size_t len, bool keep_slash);

#endif
