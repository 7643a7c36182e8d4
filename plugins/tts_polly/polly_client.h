/* One signed request to the Polly endpoint: credentials, SigV4 headers, the HTTP exchange. */
#ifndef POLLY_CLIENT_H
#define POLLY_CLIENT_H

#include "polly_backend.h"
#include "polly_errors.h"

enum polly_send_status {
	POLLY_SEND_DONE = 0,        /* a response arrived (any status): see the exchange */
	POLLY_SEND_TRANSPORT = -1,  /* no complete response, or aborted: see the exchange's flags */
	POLLY_SEND_NO_CREDENTIALS = -2, /* the credential chain failed: `why` says why */
	POLLY_SEND_INTERNAL = -3,   /* signing or allocation failed: `why` says why */
};

/* Sign and send `method path?query` with `body` (JSON, may be NULL for GET).  The exchange's
 * request fields other than method/url/headers/body (callbacks, user) are the caller's. */
enum polly_send_status polly_client_send(struct polly_backend *backend, const char *method, const char *path,
                                         const char *query, const char *body, size_t body_len,
                                         struct polly_http_exchange *ex, char *why, size_t why_cap);

/* Classify a failed send (POLLY_SEND_DONE with a non-200 status, or POLLY_SEND_TRANSPORT) from
 * what the exchange holds: HTTP status, x-amzn-ErrorType, error body, transport flags. */
void polly_client_classify(enum polly_send_status sent, const struct polly_http_exchange *ex,
                           struct polly_error_verdict *verdict);

#endif
