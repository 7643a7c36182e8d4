/* Test tool: sign one request with the Polly plugin's SigV4 code and print the Authorization header. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polly_sigv4.h"

#define BODY_MAX (1024u * 1024u)

static void usage(void)
{
	fprintf(stderr,
	        "usage: sigv4_sign_cli --method M --url URL --region R --service S --date YYYYMMDDTHHMMSSZ\n"
	        "                      --access-key ID --secret-key KEY [--token T] [--header 'Name: value']...\n"
	        "                      [--body-stdin]\n"
	        "Prints the Authorization header value (and, with --verbose, the canonical request and\n"
	        "string to sign on stderr).  Host, X-Amz-Date and X-Amz-Security-Token are added.\n");
}

int main(int argc, char **argv)
{
	const char *method = NULL, *url = NULL, *region = NULL, *service = NULL, *date = NULL;
	const char *akid = NULL, *secret = NULL, *token = NULL;
	bool body_stdin = false, verbose = false;
	struct polly_sigv4_header headers[POLLY_SIGV4_MAX_HEADERS];
	size_t n = 0;
	char *header_copies[POLLY_SIGV4_MAX_HEADERS] = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--body-stdin") == 0) {
			body_stdin = true;
			continue;
		}
		if (strcmp(a, "--verbose") == 0) {
			verbose = true;
			continue;
		}
		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--method") == 0) method = v;
		else if (strcmp(a, "--url") == 0) url = v;
		else if (strcmp(a, "--region") == 0) region = v;
		else if (strcmp(a, "--service") == 0) service = v;
		else if (strcmp(a, "--date") == 0) date = v;
		else if (strcmp(a, "--access-key") == 0) akid = v;
		else if (strcmp(a, "--secret-key") == 0) secret = v;
		else if (strcmp(a, "--token") == 0) token = v;
		else if (strcmp(a, "--header") == 0) {
			if (n + 3 >= POLLY_SIGV4_MAX_HEADERS)
				return 2;
			char *copy = strdup(v);
			char *colon = copy ? strchr(copy, ':') : NULL;
			if (!colon) {
				usage();
				return 2;
			}
			*colon = '\0';
			header_copies[n] = copy;
			headers[n++] = (struct polly_sigv4_header){copy, colon + 1};
		} else {
			usage();
			return 2;
		}
	}
	if (!method || !url || !region || !service || !date || !akid || !secret) {
		usage();
		return 2;
	}
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		fprintf(stderr, "sigv4_sign_cli: bad URL\n");
		return 2;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	char host_header[512];
	if (port)
		snprintf(host_header, sizeof host_header, "%s:%s", host, port);
	else
		snprintf(host_header, sizeof host_header, "%s", host);
	headers[n++] = (struct polly_sigv4_header){"Host", host_header};
	headers[n++] = (struct polly_sigv4_header){"X-Amz-Date", date};
	if (token)
		headers[n++] = (struct polly_sigv4_header){"X-Amz-Security-Token", token};

	char *body = NULL;
	size_t body_len = 0;
	if (body_stdin) {
		body = malloc(BODY_MAX);
		if (!body)
			return 1;
		body_len = fread(body, 1, BODY_MAX, stdin);
	}
	struct polly_sigv4_request request = {method, path, query, headers, n, body, body_len, true};
	struct polly_sigv4_scope scope = {region, service, date};
	struct polly_buf creq, sts;
	polly_buf_init(&creq, POLLY_SIGV4_CANONICAL_MAX);
	polly_buf_init(&sts, 4096);
	struct polly_sigv4_debug debug = {&creq, &sts, {0}};
	char authorization[POLLY_SIGV4_AUTH_MAX];
	const char *why = NULL;
	int rc = polly_sigv4_sign(&request, &scope, akid, secret, authorization, &debug, &why);
	if (rc != 0) {
		fprintf(stderr, "sigv4_sign_cli: %s\n", why ? why : "signing failed");
	} else {
		if (verbose)
			fprintf(stderr, "--- canonical request\n%s\n--- string to sign\n%s\n", creq.data, sts.data);
		printf("%s\n", authorization);
	}
	polly_buf_free(&creq, false);
	polly_buf_free(&sts, false);
	free(body);
	for (size_t i = 0; i < POLLY_SIGV4_MAX_HEADERS; i++)
		free(header_copies[i]);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc == 0 ? 0 : 1;
}
