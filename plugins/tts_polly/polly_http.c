/* HTTPS exchanges for the Polly plugin over libcurl: streaming, cancellation, kept-alive connections. */
#include "polly_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IDLE_PAIRS_MAX 64u
#define USER_AGENT "interviewd-polly/1.0"

/*
 * Connection reuse: each transfer runs on a (multi, easy) pair taken from a pool; the multi
 * handle's connection cache keeps the TLS connection to Polly open between requests, so a warm
 * request pays no handshake.  A share object lets all pairs share the DNS cache and TLS session
 * tickets, so even a new pair resumes its TLS session.  The multi interface is used (rather than
 * curl_easy_perform) to poll for cancellation every POLLY_HTTP_POLL_MS.
 */
struct pair {
	CURLM *multi;
	CURL *easy;
	struct pair *next;
};

struct polly_http {
	char *ca_file;
	long connect_timeout_ms, timeout_ms;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_mutex;
	struct pair *idle;
	size_t n_idle;
};

int polly_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *user)
{
	(void)handle;
	(void)access;
	struct polly_http *http = user;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *user)
{
	(void)handle;
	struct polly_http *http = user;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&http->share_locks[data]);
}

struct polly_http *polly_http_new(const char *ca_file, long connect_timeout_ms, long timeout_ms)
{
	struct polly_http *http = calloc(1, sizeof *http);
	if (!http)
		return NULL;
	if (ca_file && *ca_file && !(http->ca_file = strdup(ca_file))) {
		free(http);
		return NULL;
	}
	http->connect_timeout_ms = connect_timeout_ms;
	http->timeout_ms = timeout_ms;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http->share_locks[i], NULL);
	pthread_mutex_init(&http->pool_mutex, NULL);
	http->share = curl_share_init();
	if (http->share) {
		curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
		curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	return http;
}

static void pair_free(struct pair *pair)
{
	if (pair->easy)
		curl_easy_cleanup(pair->easy);
	if (pair->multi)
		curl_multi_cleanup(pair->multi);
	free(pair);
}

void polly_http_free(struct polly_http *http)
{
	if (!http)
		return;
	while (http->idle) {
		struct pair *next = http->idle->next;
		pair_free(http->idle);
		http->idle = next;
	}
	if (http->share)
		curl_share_cleanup(http->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&http->share_locks[i]);
	pthread_mutex_destroy(&http->pool_mutex);
	free(http->ca_file);
	free(http);
}

static struct pair *pair_take(struct polly_http *http)
{
	pthread_mutex_lock(&http->pool_mutex);
	struct pair *pair = http->idle;
	if (pair) {
		http->idle = pair->next;
		http->n_idle--;
	}
	pthread_mutex_unlock(&http->pool_mutex);
	if (pair)
		return pair;
	pair = calloc(1, sizeof *pair);
	if (!pair)
		return NULL;
	pair->multi = curl_multi_init();
	pair->easy = curl_easy_init();
	if (!pair->multi || !pair->easy) {
		pair_free(pair);
		return NULL;
	}
	return pair;
}

static void pair_give_back(struct polly_http *http, struct pair *pair, bool keep)
{
	if (keep) {
		pthread_mutex_lock(&http->pool_mutex);
		if (http->n_idle < IDLE_PAIRS_MAX) {
			pair->next = http->idle;
			http->idle = pair;
			http->n_idle++;
			pair = NULL;
		}
		pthread_mutex_unlock(&http->pool_mutex);
	}
	if (pair)
		pair_free(pair);
}

bool polly_http_exchange_init(struct polly_http_exchange *ex)
{
	memset(ex, 0, sizeof *ex);
	ex->request_characters = -1;
	return polly_buf_init(&ex->error_body, POLLY_HTTP_ERROR_BODY_MAX);
}

void polly_http_exchange_done(struct polly_http_exchange *ex)
{
	polly_buf_free(&ex->error_body, false);
}

/* Copy a header value (trimmed, printable ASCII only) into dst. */
static void header_value(char *dst, size_t cap, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
		len--;
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap; i++)
		if ((unsigned char)value[i] >= 0x20 && (unsigned char)value[i] < 0x7f)
			dst[j++] = value[i];
	dst[j] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value, size_t *value_len)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*value = line + n + 1;
	*value_len = len - n - 1;
	return true;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
	struct polly_http_exchange *ex = user;
	size_t len = size * nmemb;
	const char *value;
	size_t value_len;
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a redirect): forget the previous one's headers. */
		ex->error_type[0] = ex->request_id[0] = ex->content_type[0] = '\0';
		ex->request_characters = -1;
	} else if (header_is(line, len, "x-amzn-ErrorType", &value, &value_len)) {
		header_value(ex->error_type, sizeof ex->error_type, value, value_len);
	} else if (header_is(line, len, "x-amzn-RequestId", &value, &value_len)) {
		header_value(ex->request_id, sizeof ex->request_id, value, value_len);
	} else if (header_is(line, len, "x-amzn-RequestCharacters", &value, &value_len)) {
		char number[32];
		header_value(number, sizeof number, value, value_len);
		char *end = NULL;
		long long n = strtoll(number, &end, 10);
		ex->request_characters = (end && end != number && *end == '\0' && n >= 0) ? n : -1;
	} else if (header_is(line, len, "Content-Type", &value, &value_len)) {
		header_value(ex->content_type, sizeof ex->content_type, value, value_len);
	}
	return len;
}

struct transfer {
	struct polly_http_exchange *ex;
	CURL *easy;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	struct polly_http_exchange *ex = t->ex;
	size_t len = size * nmemb;
	if (ex->status == 0)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &ex->status);
	if (ex->status >= 200 && ex->status < 300) {
		if (ex->on_data && ex->on_data(ex->user, data, len) != 0) {
			ex->aborted = true;
			return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
		}
		ex->body_bytes += len;
		return len;
	}
	/* Error bodies are small JSON documents: keep the start, drop the rest. */
	size_t room = ex->error_body.cap - ex->error_body.len;
	polly_buf_append(&ex->error_body, data, len < room ? len : room);
	return len;
}

static void set_options(struct polly_http *http, struct transfer *t, char *errbuf)
{
	struct polly_http_exchange *ex = t->ex;
	CURL *e = t->easy;
	curl_easy_reset(e);
	if (http->share)
		curl_easy_setopt(e, CURLOPT_SHARE, http->share);
	curl_easy_setopt(e, CURLOPT_URL, ex->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, ex->headers);
	if (strcmp(ex->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, ex->body ? ex->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ex->body_len);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (http->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, http->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L); /* never turned off */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, http->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, ex);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
}

int polly_http_perform(struct polly_http *http, struct polly_http_exchange *ex)
{
	ex->status = 0;
	ex->body_bytes = 0;
	ex->aborted = ex->transport_failed = ex->timed_out = ex->reused_connection = false;
	ex->transport_why[0] = '\0';
	ex->error_type[0] = ex->request_id[0] = ex->content_type[0] = '\0';
	ex->request_characters = -1;
	polly_buf_reset(&ex->error_body);

	struct pair *pair = pair_take(http);
	if (!pair) {
		ex->transport_failed = true;
		snprintf(ex->transport_why, sizeof ex->transport_why, "cannot create an HTTP handle");
		return -1;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	struct transfer t = {ex, pair->easy};
	set_options(http, &t, errbuf);
	CURLcode result = CURLE_OK;
	bool finished = false;
	if (curl_multi_add_handle(pair->multi, pair->easy) != CURLM_OK) {
		pair_give_back(http, pair, false);
		ex->transport_failed = true;
		snprintf(ex->transport_why, sizeof ex->transport_why, "cannot start the HTTP transfer");
		return -1;
	}
	for (;;) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(pair->multi, &running);
		if (mc != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			snprintf(errbuf, sizeof errbuf, "%s", curl_multi_strerror(mc));
			break;
		}
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(pair->multi, &left)) != NULL) {
			if (msg->msg == CURLMSG_DONE) {
				result = msg->data.result;
				finished = true;
			}
		}
		if (finished || ex->aborted)
			break;
		if (ex->should_abort && ex->should_abort(ex->user)) {
			ex->aborted = true;
			break;
		}
		if (curl_multi_poll(pair->multi, NULL, 0, POLLY_HTTP_POLL_MS, NULL) != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
	}
	long connects = 0;
	curl_easy_getinfo(pair->easy, CURLINFO_NUM_CONNECTS, &connects);
	ex->reused_connection = connects == 0;
	if (ex->status == 0)
		curl_easy_getinfo(pair->easy, CURLINFO_RESPONSE_CODE, &ex->status);
	/* Removing an unfinished transfer closes its connection; a finished one stays cached. */
	curl_multi_remove_handle(pair->multi, pair->easy);
	bool ok = finished && result == CURLE_OK && !ex->aborted;
	pair_give_back(http, pair, true);
	if (ex->aborted)
		return -1;
	if (!ok) {
		ex->transport_failed = true;
		ex->timed_out = result == CURLE_OPERATION_TIMEDOUT;
		snprintf(ex->transport_why, sizeof ex->transport_why, "%s",
		         errbuf[0] ? errbuf : curl_easy_strerror(result));
		return -1;
	}
	return 0;
}
