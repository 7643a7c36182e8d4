/* The --check-config check of a Polly backend: credentials resolve, and optionally DescribeVoices. */
#include "polly_backend.h"
#include "polly_buf.h"
#include "polly_client.h"
#include "polly_errors.h"
#include "polly_sigv4.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOICES_BODY_MAX (512u * 1024u)
#define VOICES_PAGES_MAX 10

static int collect(void *user, const void *data, size_t len)
{
	struct polly_buf *buf = user;
	polly_buf_append(buf, data, len);
	return polly_buf_ok(buf) ? 0 : -1;
}

static bool array_has(const cJSON *array, const char *value)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, array)
	{
		if (cJSON_IsString(item) && strcmp(item->valuestring, value) == 0)
			return true;
	}
	return false;
}

/* Look for the voice in one page.  Returns 1 found (and fills *languages_ok), 0 not here. */
static int find_voice(const cJSON *root, const char *voice, const char *engine, const char *language,
                      bool *engine_ok, bool *language_ok)
{
	const cJSON *voices = cJSON_GetObjectItemCaseSensitive(root, "Voices");
	const cJSON *v;
	cJSON_ArrayForEach(v, voices)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "Id"));
		if (!id || strcmp(id, voice) != 0)
			continue;
		const cJSON *engines = cJSON_GetObjectItemCaseSensitive(v, "SupportedEngines");
		/* The list is filtered by Engine already; SupportedEngines, when present, must agree. */
		*engine_ok = !cJSON_IsArray(engines) || array_has(engines, engine);
		const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "LanguageCode"));
		*language_ok = !language || (code && strcmp(code, language) == 0) ||
		               array_has(cJSON_GetObjectItemCaseSensitive(v, "AdditionalLanguageCodes"), language);
		return 1;
	}
	return 0;
}

static int check_voice(struct polly_backend *b, struct ivd_error *err)
{
	const struct ivd_host_api *api = b->api;
	struct polly_buf body, query, next_token;
	if (!polly_buf_init(&body, VOICES_BODY_MAX) || !polly_buf_init(&query, 4096) ||
	    !polly_buf_init(&next_token, 2048)) {
		polly_buf_free(&body, false);
		polly_buf_free(&query, false);
		polly_buf_free(&next_token, false);
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	int status = IVD_ERROR;
	bool found = false, engine_ok = false, language_ok = false, failed = false, listed_all = false;
	for (int page = 0; page < VOICES_PAGES_MAX && !listed_all && !failed && !found; page++) {
		failed = true; /* until this page was read */
		polly_buf_reset(&query);
		polly_buf_printf(&query, "Engine=%s&IncludeAdditionalLanguageCodes=true", b->engine);
		if (next_token.len > 0) {
			polly_buf_puts(&query, "&NextToken=");
			polly_sigv4_uri_encode(&query, next_token.data, next_token.len, false);
		}
		polly_buf_reset(&body);
		struct polly_http_exchange ex;
		if (!polly_http_exchange_init(&ex)) {
			api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
			break;
		}
		ex.on_data = collect;
		ex.user = &body;
		char why[POLLY_WHY_MAX] = "";
		enum polly_send_status sent = polly_client_send(b, "GET", "/v1/voices", query.data, NULL, 0, &ex, why, sizeof why);
		if (sent == POLLY_SEND_NO_CREDENTIALS) {
			api->error_set(err, IVD_ERRC_CREDENTIALS, polly_error_client_message(IVD_ERRC_CREDENTIALS), "%s", why);
			polly_http_exchange_done(&ex);
			break;
		}
		if (sent == POLLY_SEND_INTERNAL || (sent == POLLY_SEND_TRANSPORT && ex.aborted)) {
			api->error_set(err, IVD_ERRC_INTERNAL, polly_error_client_message(IVD_ERRC_INTERNAL), "%s",
			               sent == POLLY_SEND_INTERNAL ? why : "DescribeVoices answer too large");
			polly_http_exchange_done(&ex);
			break;
		}
		if (sent != POLLY_SEND_DONE || ex.status != 200) {
			struct polly_error_verdict verdict;
			polly_client_classify(sent, &ex, &verdict);
			const char *fix = verdict.fix;
			if (verdict.error_class == IVD_ERRC_CREDENTIALS && strncmp(verdict.code, "AccessDenied", 12) == 0)
				fix = "check_voice needs polly:DescribeVoices (synthesis needs polly:SynthesizeSpeech); "
				      "grant it or set check_voice = false";
			api->error_set(err, verdict.error_class, verdict.client_message,
			               "DescribeVoices at %s failed: %s%s%s (HTTP %ld, request id %s). Fix: %s", b->endpoint,
			               verdict.code, verdict.aws_message[0] ? ": " : "", verdict.aws_message, ex.status,
			               ex.request_id[0] ? ex.request_id : "-", fix);
			polly_http_exchange_done(&ex);
			break;
		}
		polly_http_exchange_done(&ex);
		cJSON *root = cJSON_ParseWithLength(body.data, body.len);
		if (!cJSON_IsObject(root)) {
			cJSON_Delete(root);
			api->error_set(err, IVD_ERRC_UNAVAILABLE, polly_error_client_message(IVD_ERRC_UNAVAILABLE),
			               "DescribeVoices at %s answered something that is not JSON", b->endpoint);
			break;
		}
		found = find_voice(root, b->voice, b->engine, b->language, &engine_ok, &language_ok) == 1;
		const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "NextToken"));
		polly_buf_reset(&next_token);
		if (token)
			polly_buf_puts(&next_token, token);
		cJSON_Delete(root);
		if (!found && (!token || !*token || !polly_buf_ok(&next_token)))
			listed_all = true;
		failed = false;
	}
	if (found && engine_ok && language_ok) {
		status = IVD_OK;
		api->log(b->host, IVD_LOG_INFO, "voice %s supports engine %s%s%s", b->voice, b->engine,
		         b->language ? " and language " : "", b->language ? b->language : "");
	} else if (found && !language_ok) {
		api->error_set(err, IVD_ERRC_CONFIG, polly_error_client_message(IVD_ERRC_CONFIG),
		               "voice %s does not speak language %s: fix language or leave it unset", b->voice,
		               b->language);
		status = IVD_ERROR;
	} else if (!failed) {
		api->error_set(err, IVD_ERRC_CONFIG, polly_error_client_message(IVD_ERRC_CONFIG),
		               "voice %s is not available with engine %s in region %s: pick a voice listed by "
		               "`aws polly describe-voices --engine %s`, or use the other polly backend",
		               b->voice, b->engine, b->region, b->engine);
		status = IVD_ERROR;
	}
	polly_buf_free(&body, false);
	polly_buf_free(&query, false);
	polly_buf_free(&next_token, false);
	return status;
}

int polly_check(void *backend, struct ivd_error *err)
{
	struct polly_backend *b = backend;
	const struct ivd_host_api *api = b->api;
	struct polly_credentials *creds = calloc(1, sizeof *creds);
	if (!creds) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return IVD_ERROR;
	}
	char why[POLLY_WHY_MAX] = "";
	int rc = polly_cred_provider_get(b->credentials, creds, why, sizeof why);
	if (rc == 0)
		api->log(b->host, IVD_LOG_INFO, "region %s, endpoint %s, credentials from %s", b->region, b->endpoint,
		         creds->source);
	polly_credentials_wipe(creds);
	free(creds);
	if (rc != 0) {
		api->error_set(err, IVD_ERRC_CREDENTIALS, polly_error_client_message(IVD_ERRC_CREDENTIALS), "%s", why);
		return IVD_ERROR;
	}
	if (!b->check_voice)
		return IVD_OK;
	return check_voice(b, err);
}
