/* Local AWS credential sources (environment, shared files) and the ECS/IMDS JSON format. */
#include "polly_credentials.h"
#include "polly_ini.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void polly_credentials_wipe(struct polly_credentials *creds)
{
	OPENSSL_cleanse(creds, sizeof *creds);
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* Copy a credential value; false if it does not fit or has characters no AWS key has. */
static bool copy_secret(char *dst, size_t cap, const char *src)
{
	size_t len = strlen(src);
	if (len == 0 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)src[i] <= ' ' || (unsigned char)src[i] >= 127)
			return false;
	memcpy(dst, src, len + 1);
	return true;
}

int polly_cred_from_env(struct polly_credentials *out, char *why, size_t why_cap)
{
	const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *token = env_nonempty("AWS_SESSION_TOKEN");
	if (!token)
		token = env_nonempty("AWS_SECURITY_TOKEN");
	if (!akid && !secret)
		return POLLY_CRED_NONE;
	memset(out, 0, sizeof *out);
	if (!akid || !secret) {
		snprintf(why, why_cap, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both");
		return POLLY_CRED_ERROR;
	}
	if (!copy_secret(out->access_key_id, sizeof out->access_key_id, akid) ||
	    !copy_secret(out->secret_access_key, sizeof out->secret_access_key, secret) ||
	    (token && !copy_secret(out->session_token, sizeof out->session_token, token))) {
		polly_credentials_wipe(out);
		snprintf(why, why_cap, "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is malformed "
		                       "(too long or contains blanks)");
		return POLLY_CRED_ERROR;
	}
	const char *expiration = env_nonempty("AWS_CREDENTIAL_EXPIRATION");
	if (expiration && polly_parse_iso8601(expiration, &out->expiration) != 0)
		out->expiration = 0;
	snprintf(out->source, sizeof out->source, "environment");
	return POLLY_CRED_FOUND;
}

const char *polly_cred_profile_name(const char *configured)
{
	if (configured && *configured)
		return configured;
	const char *env = env_nonempty("AWS_PROFILE");
	return env ? env : "default";
}

static const char *home_dir(void)
{
	const char *home = env_nonempty("HOME");
	if (home)
		return home;
	struct passwd pw, *result = NULL;
	static _Thread_local char buf[1024];
	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &result) == 0 && result && result->pw_dir)
		return result->pw_dir;
	return "";
}

void polly_cred_shared_paths(char *credentials, size_t credentials_cap, char *config, size_t config_cap)
{
	const char *c = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
	const char *f = env_nonempty("AWS_CONFIG_FILE");
	const char *home = home_dir();
	/* A leading "~/" in the override is the home directory, as the SDKs do. */
	if (c && strncmp(c, "~/", 2) == 0)
		snprintf(credentials, credentials_cap, "%s/%s", home, c + 2);
	else if (c)
		snprintf(credentials, credentials_cap, "%s", c);
	else
		snprintf(credentials, credentials_cap, "%s/.aws/credentials", home);
	if (f && strncmp(f, "~/", 2) == 0)
		snprintf(config, config_cap, "%s/%s", home, f + 2);
	else if (f)
		snprintf(config, config_cap, "%s", f);
	else
		snprintf(config, config_cap, "%s/.aws/config", home);
}

int polly_cred_from_profile(const char *profile, struct polly_credentials *out, char *why, size_t why_cap)
{
	char credentials_path[1024], config_path[1024];
	polly_cred_shared_paths(credentials_path, sizeof credentials_path, config_path, sizeof config_path);
	struct polly_profile p;
	char parse_why[512];
	int rc = polly_ini_load_profile(credentials_path, config_path, profile, &p, parse_why, sizeof parse_why);
	memset(out, 0, sizeof *out);
	int status = POLLY_CRED_NONE;
	if (p.access_key_id && p.secret_access_key) {
		if (copy_secret(out->access_key_id, sizeof out->access_key_id, p.access_key_id) &&
		    copy_secret(out->secret_access_key, sizeof out->secret_access_key, p.secret_access_key) &&
		    (!p.session_token || copy_secret(out->session_token, sizeof out->session_token, p.session_token))) {
			snprintf(out->source, sizeof out->source, "profile %.48s", profile);
			status = POLLY_CRED_FOUND;
		} else {
			polly_credentials_wipe(out);
			snprintf(why, why_cap, "profile %s: aws_access_key_id, aws_secret_access_key or aws_session_token "
			         "is malformed", profile);
			status = POLLY_CRED_ERROR;
		}
	} else if (rc != 0) {
		snprintf(why, why_cap, "%s", parse_why);
		status = POLLY_CRED_ERROR;
	} else if (p.found && (p.access_key_id || p.secret_access_key)) {
		snprintf(why, why_cap, "profile %s has only one of aws_access_key_id and aws_secret_access_key", profile);
		status = POLLY_CRED_ERROR;
	} else if (p.found && p.unsupported) {
		snprintf(why, why_cap, "profile %s uses %s, which this plugin does not support: put static keys in "
		         "the profile, or use environment variables or an instance/task role", profile, p.unsupported);
		status = POLLY_CRED_NONE;
	} else if (!p.found) {
		snprintf(why, why_cap, "profile %s not found in %s or %s", profile, credentials_path, config_path);
	}
	polly_profile_clear(&p);
	return status;
}

int polly_parse_iso8601(const char *text, time_t *out)
{
	int year, mon, day, hour, min, sec, used = 0;
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &used) != 6 || used != 19)
		return -1;
	const char *rest = text + used;
	if (*rest == '.') {
		rest++;
		while (isdigit((unsigned char)*rest))
			rest++;
	}
	long offset = 0;
	if (*rest == 'Z' || *rest == 'z') {
		rest++;
	} else if (*rest == '+' || *rest == '-') {
		int oh, om;
		if (sscanf(rest + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		offset = (oh * 3600L + om * 60L) * (*rest == '+' ? 1 : -1);
		rest += 6;
	} else {
		return -1;
	}
	if (*rest != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -1;
	struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
	                .tm_hour = hour, .tm_min = min, .tm_sec = sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - offset;
	return 0;
}

int polly_cred_parse_json(const char *json, size_t len, struct polly_credentials *out, char *why, size_t why_cap)
{
	memset(out, 0, sizeof *out);
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(why, why_cap, "the credentials response is not a JSON object");
		return POLLY_CRED_ERROR;
	}
	int status = POLLY_CRED_ERROR;
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "Code"));
	const char *akid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId"));
	const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey"));
	const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "Token"));
	const char *expiration = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "Expiration"));
	if (code && strcmp(code, "Success") != 0) {
		const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "Message"));
		snprintf(why, why_cap, "the credentials service answered Code %.64s: %.200s", code, message ? message : "");
	} else if (!akid || !secret) {
		snprintf(why, why_cap, "the credentials response lacks AccessKeyId or SecretAccessKey");
	} else if (!copy_secret(out->access_key_id, sizeof out->access_key_id, akid) ||
	           !copy_secret(out->secret_access_key, sizeof out->secret_access_key, secret) ||
	           (token && *token && !copy_secret(out->session_token, sizeof out->session_token, token))) {
		snprintf(why, why_cap, "the credentials response has a malformed key or token");
	} else if (expiration && polly_parse_iso8601(expiration, &out->expiration) != 0) {
		snprintf(why, why_cap, "the credentials response has an unreadable Expiration");
	} else {
		status = POLLY_CRED_FOUND;
	}
	if (status != POLLY_CRED_FOUND)
		polly_credentials_wipe(out);
	/* cJSON frees its copies without wiping them: wipe the secrets first. */
	static const char *const secret_keys[] = {"AccessKeyId", "SecretAccessKey", "Token"};
	for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++) {
		cJSON *item = cJSON_GetObjectItemCaseSensitive(root, secret_keys[i]);
		if (cJSON_IsString(item) && item->valuestring)
			OPENSSL_cleanse(item->valuestring, strlen(item->valuestring));
	}
	cJSON_Delete(root);
	return status;
}
