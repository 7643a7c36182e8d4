/* One signed request to the Polly endpoint: credentials, SigV4 headers, the HTTP exchange. */
#include "polly_client.h"

#include "polly_buf.h"
#include "polly_sigv4.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEADER_LINE_MAX (POLLY_TOKEN_MAX + 64u)

/* Append "Name: value" to the list; false on failure. */
static bool add_header(struct curl_slist **list, struct polly_buf *line, const char *name, const char *value)
{
	polly_buf_reset(line);
	polly_buf_printf(line, "%s: %s", name, value);
	if (!polly_buf_ok(line))
		return false;
	struct curl_slist *more = curl_slist_append(*list, line->data);
	if (!more)
		return false;
	*list = more;
	return true;
}

static bool append_raw(struct curl_slist **list, const char *text)
{
	struct curl_slist *more = curl_slist_append(*list, text);
	if (!more)
		return false;
	*list = more;
	return true;
}

static void free_headers(struct curl_slist *list)
{
	/* The list holds the session token and the signature: wipe before freeing. */
	for (struct curl_slist *h = list; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

enum polly_send_status polly_client_send(struct polly_backend *b, const char *method, const char *path,
                                         const char *query, const char *body, size_t body_len,
                                         struct polly_http_exchange *ex, char *why, size_t why_cap)
{
	struct polly_credentials *creds = calloc(1, sizeof *creds);
	if (!creds) {
		snprintf(why, why_cap, "out of memory");
		return POLLY_SEND_INTERNAL;
	}
	if (polly_cred_provider_get(b->credentials, creds, why, why_cap) != 0) {
		free(creds);
		return POLLY_SEND_NO_CREDENTIALS;
	}
	enum polly_send_status status = POLLY_SEND_INTERNAL;
	struct curl_slist *headers = NULL;
	struct polly_buf line = {0};
	char url[POLLY_ENDPOINT_MAX + 1024];
	char amz_date[POLLY_SIGV4_DATE_LEN + 1];
	char authorization[POLLY_SIGV4_AUTH_MAX];
	polly_sigv4_amz_date((long long)time(NULL), amz_date);

	int n = snprintf(url, sizeof url, "%s%s%s%s", b->endpoint, path, query && *query ? "?" : "",
	                 query ? query : "");
	if (n < 0 || (size_t)n >= sizeof url) {
		snprintf(why, why_cap, "request URL too long");
		goto out;
	}
	struct polly_sigv4_header signed_headers[4];
	size_t n_signed = 0;
	signed_headers[n_signed++] = (struct polly_sigv4_header){"Host", b->host_header};
	signed_headers[n_signed++] = (struct polly_sigv4_header){"X-Amz-Date", amz_date};
	if (body)
		signed_headers[n_signed++] = (struct polly_sigv4_header){"Content-Type", "application/json"};
	if (creds->session_token[0])
		signed_headers[n_signed++] = (struct polly_sigv4_header){"X-Amz-Security-Token", creds->session_token};
	struct polly_sigv4_request request = {
		.method = method,
		.path = path,
		.query = query,
		.headers = signed_headers,
		.n_headers = n_signed,
		.body = body,
		.body_len = body ? body_len : 0,
		.normalize_path = true,
	};
	struct polly_sigv4_scope scope = {b->region, "polly", amz_date};
	const char *sign_why = NULL;
	if (polly_sigv4_sign(&request, &scope, creds->access_key_id, creds->secret_access_key, authorization, NULL,
	                     &sign_why) != 0) {
		snprintf(why, why_cap, "cannot sign the request: %s", sign_why ? sign_why : "?");
		goto out;
	}
	if (!polly_buf_init(&line, HEADER_LINE_MAX)) {
		snprintf(why, why_cap, "out of memory");
		goto out;
	}
	bool ok = true;
	for (size_t i = 0; i < n_signed && ok; i++)
		ok = add_header(&headers, &line, signed_headers[i].name, signed_headers[i].value);
	ok = ok && add_header(&headers, &line, "Authorization", authorization);
	/* No "Expect: 100-continue" round trip, and no unsigned Accept/Content-Type defaults. */
	ok = ok && append_raw(&headers, "Expect:");
	if (!body)
		ok = ok && append_raw(&headers, "Content-Type:");
	if (!ok) {
		snprintf(why, why_cap, "out of memory");
		goto out;
	}
	ex->method = method;
	ex->url = url;
	ex->headers = headers;
	ex->body = body;
	ex->body_len = body ? body_len : 0;
	status = polly_http_perform(b->http, ex) == 0 ? POLLY_SEND_DONE : POLLY_SEND_TRANSPORT;
	atomic_fetch_add(&b->total_requests, 1);
out:
	OPENSSL_cleanse(authorization, sizeof authorization);
	free_headers(headers);
	polly_buf_free(&line, true);
	polly_credentials_wipe(creds);
	free(creds);
	return status;
}

void polly_client_classify(enum polly_send_status sent, const struct polly_http_exchange *ex,
                           struct polly_error_verdict *verdict)
{
	struct polly_failure failure = {
		.http_status = sent == POLLY_SEND_DONE ? ex->status : 0,
		.error_type = ex->error_type[0] ? ex->error_type : NULL,
		.body = ex->error_body.data,
		.body_len = ex->error_body.len,
		.transport_failed = sent == POLLY_SEND_TRANSPORT,
		.timed_out = ex->timed_out,
		.transport_why = ex->transport_why,
	};
	polly_error_classify(&failure, verdict);
}
