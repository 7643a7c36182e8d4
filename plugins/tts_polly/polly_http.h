/* HTTPS exchanges for the Polly plugin over libcurl: streaming, cancellation, kept-alive connections. */
#ifndef POLLY_HTTP_H
#define POLLY_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "polly_buf.h"

#define POLLY_HTTP_ERROR_BODY_MAX 8192u
#define POLLY_HTTP_POLL_MS 50

struct polly_http;

/* One request and what came back. */
struct polly_http_exchange {
	/* request (borrowed) */
	const char *method;                /* "GET" or "POST" */
	const char *url;
	const struct curl_slist *headers;
	const void *body;
	size_t body_len;
	/* Each block of a 2xx response body, as it arrives.  Return 0 to go on, -1 to abort. */
	int (*on_data)(void *user, const void *data, size_t len);
	/* Polled at least every POLLY_HTTP_POLL_MS while waiting; true aborts the exchange. */
	bool (*should_abort)(void *user);
	void *user;

	/* response */
	long status;                      /* 0 if no response */
	char error_type[160];             /* x-amzn-ErrorType */
	char request_id[96];              /* x-amzn-RequestId */
	long long request_characters;     /* x-amzn-RequestCharacters, -1 if absent */
	char content_type[96];
	struct polly_buf error_body;      /* body of a non-2xx answer (truncated), owned by the exchange */
	uint64_t body_bytes;              /* 2xx body bytes handed to on_data */
	bool aborted;                     /* on_data or should_abort stopped it */
	bool transport_failed;            /* no complete answer: connect, TLS, read error, timeout */
	bool timed_out;
	bool reused_connection;           /* no new connection was needed */
	char transport_why[CURL_ERROR_SIZE];
};

/* Once per process (from the plugin's init()). */
int polly_http_global_init(void);

/* A client with its own connection pool.  `ca_file` may be NULL (system CA store). */
struct polly_http *polly_http_new(const char *ca_file, long connect_timeout_ms, long timeout_ms);
void polly_http_free(struct polly_http *http);

/* Prepare an exchange (zero it and allocate its error buffer); free with polly_http_exchange_done. */
bool polly_http_exchange_init(struct polly_http_exchange *ex);
void polly_http_exchange_done(struct polly_http_exchange *ex);

/* Run the exchange to the end.  Returns 0 when an HTTP response was fully received (any status),
 * -1 on transport failure or abort (see the flags).  Thread-safe: many exchanges may run at once. */
int polly_http_perform(struct polly_http *http, struct polly_http_exchange *ex);

#endif
