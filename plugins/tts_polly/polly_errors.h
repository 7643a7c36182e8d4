/* Polly error responses and transport failures mapped to interviewd error classes, messages and fixes. */
#ifndef POLLY_ERRORS_H
#define POLLY_ERRORS_H

#include <interviewd/plugin.h>

#include <stdbool.h>
#include <stddef.h>

#define POLLY_ERROR_CODE_MAX 96u
#define POLLY_ERROR_TEXT_MAX 320u

/* What went wrong with one HTTP request. */
struct polly_failure {
	long http_status;          /* 0: no HTTP response (transport failure) */
	const char *error_type;    /* raw x-amzn-ErrorType header, or NULL */
	const char *body;          /* error body (JSON or text), may be NULL */
	size_t body_len;
	bool transport_failed;     /* connect/TLS/read failure */
	bool timed_out;            /* the connect or whole-request timeout expired */
	const char *transport_why; /* libcurl's message, may be NULL */
};

/* The verdict. */
struct polly_error_verdict {
	enum ivd_error_class error_class;
	bool retryable;               /* standard retry mode: throttling, 5xx, transport errors */
	bool throttling;
	bool refresh_credentials;     /* expired token: drop cached credentials, then retry */
	char code[POLLY_ERROR_CODE_MAX];           /* e.g. "ThrottlingException", or "HTTP 503" */
	char aws_message[POLLY_ERROR_TEXT_MAX];    /* the service's message, sanitised */
	const char *client_message;   /* short text for the interview client */
	const char *fix;              /* what the operator should do, for the log */
};

/* "ThrottlingException:http://internal..." -> "ThrottlingException"; "ns#Code" -> "Code". */
void polly_error_sanitize_code(const char *raw, char *out, size_t cap);

/* Classify a failure. */
void polly_error_classify(const struct polly_failure *failure, struct polly_error_verdict *verdict);

/* The short client message of a class. */
const char *polly_error_client_message(enum ivd_error_class error_class);

#endif
