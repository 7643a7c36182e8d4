/* Polly error responses and transport failures mapped to interviewd error classes, messages and fixes. */
#include "polly_errors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct code_rule {
	const char *code;
	enum ivd_error_class error_class;
	const char *fix;
};

static const char FIX_THROTTLED[] =
	"Polly's request rate quota for this engine was exceeded: lower the number of concurrent "
	"sessions or ask AWS (Service Quotas) for a higher Polly TPS limit";
static const char FIX_UNAVAILABLE[] =
	"Polly or the network failed; check the endpoint, region, network and AWS Health Dashboard";
static const char FIX_SIGNATURE[] =
	"the secret access key does not belong to the access key id, or the system clock is off by "
	"more than 5 minutes (check NTP)";

static const struct code_rule code_rules[] = {
	/* throttling */
	{"ThrottlingException", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"Throttling", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"ThrottledException", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"TooManyRequestsException", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"RequestLimitExceeded", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"ServiceQuotaExceededException", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	{"LimitExceededException", IVD_ERRC_THROTTLED, FIX_THROTTLED},
	/* service side */
	{"ServiceFailureException", IVD_ERRC_UNAVAILABLE, FIX_UNAVAILABLE},
	{"InternalFailure", IVD_ERRC_UNAVAILABLE, FIX_UNAVAILABLE},
	{"ServiceUnavailable", IVD_ERRC_UNAVAILABLE, FIX_UNAVAILABLE},
	{"RequestTimeout", IVD_ERRC_UNAVAILABLE, FIX_UNAVAILABLE},
	{"RequestTimeoutException", IVD_ERRC_UNAVAILABLE, FIX_UNAVAILABLE},
	/* credentials and permissions */
	{"AccessDeniedException", IVD_ERRC_CREDENTIALS,
	 "the IAM role or user needs polly:SynthesizeSpeech (and polly:DescribeVoices for check_voice)"},
	{"NotAuthorized", IVD_ERRC_CREDENTIALS,
	 "the IAM role or user needs polly:SynthesizeSpeech (and polly:DescribeVoices for check_voice)"},
	{"UnrecognizedClientException", IVD_ERRC_CREDENTIALS,
	 "the access key id or session token is not valid: check AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN "
	 "or the profile's aws_access_key_id / aws_session_token"},
	{"InvalidClientTokenId", IVD_ERRC_CREDENTIALS,
	 "the access key id is not valid: check AWS_ACCESS_KEY_ID or the profile's aws_access_key_id"},
	{"InvalidSignatureException", IVD_ERRC_CREDENTIALS, FIX_SIGNATURE},
	{"SignatureDoesNotMatch", IVD_ERRC_CREDENTIALS, FIX_SIGNATURE},
	{"IncompleteSignature", IVD_ERRC_CREDENTIALS, FIX_SIGNATURE},
	{"MissingAuthenticationToken", IVD_ERRC_CREDENTIALS, "no credentials were sent: configure credentials"},
	{"ExpiredTokenException", IVD_ERRC_CREDENTIALS,
	 "the temporary credentials expired: renew them (role session, SSO login, instance role)"},
	{"ExpiredToken", IVD_ERRC_CREDENTIALS,
	 "the temporary credentials expired: renew them (role session, SSO login, instance role)"},
	{"RequestExpired", IVD_ERRC_CREDENTIALS,
	 "the request's date is too far from AWS time: fix the system clock (NTP)"},
	{"OptInRequired", IVD_ERRC_CREDENTIALS, "the AWS account is not subscribed to Polly in this region"},
	/* the request */
	{"InvalidSsmlException", IVD_ERRC_BAD_INPUT,
	 "the SSML is malformed: escape & < > in SSML text as &amp; &lt; &gt; and close every tag"},
	{"TextLengthExceededException", IVD_ERRC_BAD_INPUT,
	 "the text is longer than Polly accepts (3000 billed / 6000 total characters per request)"},
	{"SsmlMarksNotSupportedForTextTypeException", IVD_ERRC_BAD_INPUT,
	 "SSML speech marks need TextType ssml"},
	{"MarksNotSupportedForFormatException", IVD_ERRC_BAD_INPUT,
	 "speech marks need OutputFormat json"},
	/* the configuration */
	{"InvalidSampleRateException", IVD_ERRC_CONFIG,
	 "set sample_rate to one Polly allows for the format (mp3/ogg_vorbis: 8000, 16000, 22050, "
	 "24000; pcm: 8000, 16000) or to 0 for the default"},
	{"LanguageNotSupportedException", IVD_ERRC_CONFIG,
	 "set language to a code the voice supports, or leave it unset"},
	{"EngineNotSupportedException", IVD_ERRC_CONFIG,
	 "the voice does not support this engine: pick a voice listed for the engine "
	 "(aws polly describe-voices --engine ...) or use the other polly backend"},
	{"ValidationException", IVD_ERRC_CONFIG,
	 "check voice and engine (the voice must support the engine), language and lexicons"},
	{"LexiconNotFoundException", IVD_ERRC_CONFIG,
	 "create the lexicon in this region (aws polly put-lexicon) or fix the lexicons option"},
	{"InvalidLexiconException", IVD_ERRC_CONFIG, "fix the lexicon's PLS document"},
};

const char *polly_error_client_message(enum ivd_error_class error_class)
{
	switch (error_class) {
	case IVD_ERRC_THROTTLED:
		return "The speech service is busy; please try again.";
	case IVD_ERRC_UNAVAILABLE:
		return "The speech service is unavailable.";
	case IVD_ERRC_CREDENTIALS:
		return "The speech service refused our credentials.";
	case IVD_ERRC_CONFIG:
		return "The speech service is misconfigured.";
	case IVD_ERRC_BAD_INPUT:
		return "The speech service could not read this text.";
	case IVD_ERRC_NONE:
	case IVD_ERRC_INTERNAL:
		break;
	}
	return "The speech service failed.";
}

void polly_error_sanitize_code(const char *raw, char *out, size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	if (!raw)
		return;
	while (*raw == ' ' || *raw == '\t')
		raw++;
	size_t len = strcspn(raw, ":");
	const char *hash = memchr(raw, '#', len);
	if (hash) {
		len -= (size_t)(hash + 1 - raw);
		raw = hash + 1;
	}
	while (len > 0 && (raw[len - 1] == ' ' || raw[len - 1] == '\t' || raw[len - 1] == '\r' || raw[len - 1] == '\n'))
		len--;
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		char c = raw[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			out[j++] = c;
	}
	out[j] = '\0';
}

/* Copy printable text only (no control characters: it goes into one log line). */
static void copy_printable(char *out, size_t cap, const char *text, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		unsigned char c = (unsigned char)text[i];
		out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[j] = '\0';
}

/* Pull message and (if no header) code from the body. */
static void parse_body(const struct polly_failure *failure, struct polly_error_verdict *verdict)
{
	if (!failure->body || failure->body_len == 0)
		return;
	cJSON *json = cJSON_ParseWithLength(failure->body, failure->body_len);
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		copy_printable(verdict->aws_message, sizeof verdict->aws_message, failure->body,
		               failure->body_len);
		return;
	}
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "message"));
	if (!message)
		message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "Message"));
	if (message)
		copy_printable(verdict->aws_message, sizeof verdict->aws_message, message, strlen(message));
	if (!verdict->code[0]) {
		const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "code"));
		if (!code)
			code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "Code"));
		if (!code)
			code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "__type"));
		polly_error_sanitize_code(code, verdict->code, sizeof verdict->code);
	}
	cJSON_Delete(json);
}

void polly_error_classify(const struct polly_failure *failure, struct polly_error_verdict *verdict)
{
	memset(verdict, 0, sizeof *verdict);
	verdict->error_class = IVD_ERRC_INTERNAL;
	verdict->fix = "this is unexpected: report it with the request id";

	if (failure->http_status == 0) {
		verdict->error_class = IVD_ERRC_UNAVAILABLE;
		verdict->retryable = true;
		snprintf(verdict->code, sizeof verdict->code, "%s",
		         failure->timed_out ? "Timeout" : "ConnectionError");
		if (failure->transport_why)
			copy_printable(verdict->aws_message, sizeof verdict->aws_message, failure->transport_why,
			               strlen(failure->transport_why));
		verdict->fix = failure->timed_out
			? "Polly did not answer in time: check the network path to the endpoint, or raise "
			  "connect_timeout_ms / timeout_ms"
			: "cannot reach the endpoint: check region/endpoint, DNS, proxy/firewall and ca_file";
		verdict->client_message = polly_error_client_message(verdict->error_class);
		return;
	}

	polly_error_sanitize_code(failure->error_type, verdict->code, sizeof verdict->code);
	parse_body(failure, verdict);

	bool matched = false;
	for (size_t i = 0; i < sizeof code_rules / sizeof code_rules[0] && verdict->code[0]; i++) {
		if (strcasecmp(verdict->code, code_rules[i].code) == 0) {
			verdict->error_class = code_rules[i].error_class;
			verdict->fix = code_rules[i].fix;
			matched = true;
			break;
		}
	}
	if (!matched) {
		long status = failure->http_status;
		if (status == 429) {
			verdict->error_class = IVD_ERRC_THROTTLED;
			verdict->fix = FIX_THROTTLED;
		} else if (status >= 500) {
			verdict->error_class = IVD_ERRC_UNAVAILABLE;
			verdict->fix = FIX_UNAVAILABLE;
		} else if ((status == 401 || status == 403) && !verdict->code[0]) {
			verdict->error_class = IVD_ERRC_CREDENTIALS;
			verdict->fix = "the endpoint refused the request's credentials";
		}
		if (!verdict->code[0])
			snprintf(verdict->code, sizeof verdict->code, "HTTP %ld", status);
	}
	verdict->throttling = verdict->error_class == IVD_ERRC_THROTTLED;
	verdict->retryable = verdict->error_class == IVD_ERRC_THROTTLED ||
	                     (verdict->error_class == IVD_ERRC_UNAVAILABLE &&
	                      (failure->http_status >= 500 || strncmp(verdict->code, "RequestTimeout", 14) == 0));
	verdict->refresh_credentials = strcasecmp(verdict->code, "ExpiredTokenException") == 0 ||
	                               strcasecmp(verdict->code, "ExpiredToken") == 0;
	verdict->client_message = polly_error_client_message(verdict->error_class);
}
