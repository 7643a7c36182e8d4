/* Remote AWS credential sources: ECS/EKS container credentials and EC2 instance metadata (IMDSv2). */
#include "polly_buf.h"
#include "polly_credentials.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESPONSE_MAX 16384u
#define TOKEN_FILE_MAX 16384u
#define ECS_TIMEOUT_MS 2000L
#define IMDS_TIMEOUT_MS 1000L
#define ECS_DEFAULT_HOST "http://169.254.170.2"
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *user)
{
	struct polly_buf *buf = user;
	size_t len = size * nmemb;
	polly_buf_append(buf, data, len);
	return polly_buf_ok(buf) ? len : 0; /* abort an oversize answer */
}

/* One small HTTP exchange.  Returns 0 with *status set, or -1 with `why` (transport failure). */
static int fetch(const char *method, const char *url, struct curl_slist *headers, long timeout_ms,
                 struct polly_buf *body, long *status, char *why, size_t why_cap)
{
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(why, why_cap, "cannot create an HTTP handle");
		return -1;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	polly_buf_reset(body);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms * 2);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* link-local services never go through a proxy */
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(why, why_cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

bool polly_cred_ecs_configured(void)
{
	return env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	       env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

/* Plain-HTTP full URIs must stay on the host or the container agent's link-local address. */
static bool full_uri_allowed(const char *uri)
{
	CURLU *u = curl_url();
	if (!u)
		return false;
	bool ok = false;
	char *scheme = NULL, *host = NULL;
	if (curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcasecmp(scheme, "https") == 0)
			ok = true;
		else if (strcasecmp(scheme, "http") == 0)
			ok = strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
			     strcasecmp(host, "localhost") == 0 || strcmp(host, "169.254.170.2") == 0 ||
			     strcmp(host, "169.254.170.23") == 0 || strcasecmp(host, "[fd00:ec2::23]") == 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* The container authorization token: from the file (re-read each time) or the variable. */
static int container_token(struct polly_buf *token, char *why, size_t why_cap)
{
	const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *value = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			snprintf(why, why_cap, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s", file);
			return -1;
		}
		char chunk[512];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			polly_buf_append(token, chunk, n);
		OPENSSL_cleanse(chunk, sizeof chunk);
		fclose(f);
		while (token->len > 0 && (token->data[token->len - 1] == '\n' || token->data[token->len - 1] == '\r'))
			token->data[--token->len] = '\0';
	} else if (value) {
		polly_buf_puts(token, value);
	}
	if (!polly_buf_ok(token) || strpbrk(token->data, "\r\n")) {
		snprintf(why, why_cap, "the container authorization token is too long or contains a line break");
		return -1;
	}
	return 0;
}

int polly_cred_from_ecs(struct polly_credentials *out, char *why, size_t why_cap)
{
	const char *relative = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (!relative && !full)
		return POLLY_CRED_NONE;
	char url[2048];
	if (relative) {
		snprintf(url, sizeof url, "%s%s%s", ECS_DEFAULT_HOST, relative[0] == '/' ? "" : "/", relative);
	} else {
		if (!full_uri_allowed(full)) {
			snprintf(why, why_cap, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http on a loopback "
			                       "or container-agent address");
			return POLLY_CRED_ERROR;
		}
		snprintf(url, sizeof url, "%s", full);
	}
	struct polly_buf token, body, header;
	int status = POLLY_CRED_ERROR;
	if (!polly_buf_init(&token, TOKEN_FILE_MAX) || !polly_buf_init(&body, RESPONSE_MAX) ||
	    !polly_buf_init(&header, TOKEN_FILE_MAX + 32)) {
		snprintf(why, why_cap, "out of memory");
		goto out;
	}
	if (container_token(&token, why, why_cap) != 0)
		goto out;
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	if (token.len > 0) {
		polly_buf_printf(&header, "Authorization: %s", token.data);
		struct curl_slist *more = curl_slist_append(headers, header.data);
		if (more)
			headers = more;
	}
	long http = 0;
	int rc = -1;
	char fetch_why[CURL_ERROR_SIZE + 64] = "";
	for (int attempt = 0; attempt < 2 && rc != 0; attempt++)
		rc = fetch("GET", url, headers, ECS_TIMEOUT_MS, &body, &http, fetch_why, sizeof fetch_why);
	/* The header list holds the token: wipe it before freeing. */
	for (struct curl_slist *h = headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(headers);
	if (rc != 0) {
		snprintf(why, why_cap, "container credentials endpoint unreachable: %s", fetch_why);
	} else if (http != 200) {
		snprintf(why, why_cap, "container credentials endpoint answered HTTP %ld", http);
	} else {
		char parse_why[POLLY_WHY_MAX];
		status = polly_cred_parse_json(body.data, body.len, out, parse_why, sizeof parse_why);
		if (status == POLLY_CRED_FOUND)
			snprintf(out->source, sizeof out->source, "container credentials");
		else
			snprintf(why, why_cap, "container credentials: %s", parse_why);
	}
out:
	polly_buf_free(&token, true);
	polly_buf_free(&body, true);
	polly_buf_free(&header, true);
	return status;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && strcasecmp(v, "true") == 0;
}

int polly_cred_from_imds(struct polly_credentials *out, char *why, size_t why_cap)
{
	if (env_true("AWS_EC2_METADATA_DISABLED"))
		return POLLY_CRED_NONE;
	char endpoint[512];
	const char *configured = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	snprintf(endpoint, sizeof endpoint, "%s",
	         configured ? configured : (mode && strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]"
	                                                                          : IMDS_DEFAULT_ENDPOINT));
	size_t elen = strlen(endpoint);
	while (elen > 0 && endpoint[elen - 1] == '/')
		endpoint[--elen] = '\0';

	struct polly_buf body, token_header;
	int status = POLLY_CRED_ERROR;
	struct curl_slist *headers = NULL;
	if (!polly_buf_init(&body, RESPONSE_MAX) || !polly_buf_init(&token_header, RESPONSE_MAX + 64)) {
		snprintf(why, why_cap, "out of memory");
		goto out;
	}
	char url[1024], fetch_why[CURL_ERROR_SIZE + 64] = "";
	long http = 0;

	/* 1. Session token (IMDSv2).  403/404/405 or no answer: fall back to IMDSv1 if allowed. */
	snprintf(url, sizeof url, "%s/latest/api/token", endpoint);
	struct curl_slist *ttl = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	int rc = fetch("PUT", url, ttl, IMDS_TIMEOUT_MS, &body, &http, fetch_why, sizeof fetch_why);
	curl_slist_free_all(ttl);
	if (rc != 0 && !configured) {
		/* Nothing listens: not on EC2.  Not an error of the chain. */
		snprintf(why, why_cap, "no instance metadata service at %s (%s)", endpoint, fetch_why);
		status = POLLY_CRED_NONE;
		goto out;
	}
	if (rc == 0 && http == 200 && body.len > 0) {
		polly_buf_printf(&token_header, "X-aws-ec2-metadata-token: %s", body.data);
		headers = curl_slist_append(NULL, token_header.data);
	} else if (rc == 0 && http == 400) {
		snprintf(why, why_cap, "instance metadata service refused the token request (HTTP 400)");
		goto out;
	} else if (env_true("AWS_EC2_METADATA_V1_DISABLED")) {
		snprintf(why, why_cap, "instance metadata token unavailable and IMDSv1 is disabled");
		goto out;
	}

	/* 2. Role name. */
	snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", endpoint);
	if (fetch("GET", url, headers, IMDS_TIMEOUT_MS, &body, &http, fetch_why, sizeof fetch_why) != 0) {
		snprintf(why, why_cap, "instance metadata service unreachable: %s", fetch_why);
		goto out;
	}
	if (http == 404) {
		snprintf(why, why_cap, "this instance has no IAM role (attach an instance profile with polly:SynthesizeSpeech)");
		status = POLLY_CRED_NONE;
		goto out;
	}
	if (http != 200 || body.len == 0) {
		snprintf(why, why_cap, "instance metadata role lookup answered HTTP %ld", http);
		goto out;
	}
	char role[256];
	size_t role_len = strcspn(body.data, "\r\n");
	if (role_len > 0 && role_len < sizeof role) {
		memcpy(role, body.data, role_len);
		role[role_len] = '\0';
	}
	if (role_len == 0 || role_len >= sizeof role || strpbrk(role, "/?#% ") != NULL) {
		snprintf(why, why_cap, "instance metadata returned an unusable role name");
		goto out;
	}

	/* 3. The role's credentials. */
	snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", endpoint, role);
	if (fetch("GET", url, headers, IMDS_TIMEOUT_MS, &body, &http, fetch_why, sizeof fetch_why) != 0) {
		snprintf(why, why_cap, "instance metadata service unreachable: %s", fetch_why);
		goto out;
	}
	if (http != 200) {
		snprintf(why, why_cap, "instance metadata credentials answered HTTP %ld", http);
		goto out;
	}
	char parse_why[POLLY_WHY_MAX];
	status = polly_cred_parse_json(body.data, body.len, out, parse_why, sizeof parse_why);
	if (status == POLLY_CRED_FOUND)
		snprintf(out->source, sizeof out->source, "instance role %.40s", role);
	else
		snprintf(why, why_cap, "instance metadata: %s", parse_why);
out:
	for (struct curl_slist *h = headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(headers);
	polly_buf_free(&body, true);
	polly_buf_free(&token_header, true);
	return status;
}
