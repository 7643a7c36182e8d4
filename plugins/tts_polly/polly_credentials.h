/* AWS credentials for the Polly plugin: the provider chain, its sources and the background refresh. */
#ifndef POLLY_CREDENTIALS_H
#define POLLY_CREDENTIALS_H

#include <interviewd/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define POLLY_AKID_MAX 128u
#define POLLY_SECRET_MAX 256u
#define POLLY_TOKEN_MAX 8192u
#define POLLY_WHY_MAX 512u

struct polly_credentials {
	char access_key_id[POLLY_AKID_MAX];
	char secret_access_key[POLLY_SECRET_MAX];
	char session_token[POLLY_TOKEN_MAX]; /* "" for long-term keys */
	time_t expiration;                   /* 0: does not expire */
	char source[64];                     /* "environment", "profile default", "ECS", "IMDS role x" */
};

/* Wipe every byte (OPENSSL_cleanse). */
void polly_credentials_wipe(struct polly_credentials *creds);

/* Source results. */
enum { POLLY_CRED_FOUND = 0, POLLY_CRED_NONE = 1, POLLY_CRED_ERROR = -1 };

/* --- sources (polly_cred_sources.c) --- */

/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (AWS_SECURITY_TOKEN). */
int polly_cred_from_env(struct polly_credentials *out, char *why, size_t why_cap);
/* The shared credentials/config files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). */
int polly_cred_from_profile(const char *profile, struct polly_credentials *out, char *why, size_t why_cap);
/* The profile name in effect: `configured` if non-empty, else AWS_PROFILE, else "default". */
const char *polly_cred_profile_name(const char *configured);
/* Paths of the shared files (env override or ~/.aws/...), into caller buffers. */
void polly_cred_shared_paths(char *credentials, size_t credentials_cap, char *config, size_t config_cap);
/* Parse the JSON that ECS and IMDS return ({AccessKeyId, SecretAccessKey, Token, Expiration,
 * optional Code}). */
int polly_cred_parse_json(const char *json, size_t len, struct polly_credentials *out, char *why, size_t why_cap);
/* Parse "YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)" as UTC.  Returns 0 or -1. */
int polly_parse_iso8601(const char *text, time_t *out);

/* --- remote sources (polly_cred_remote.c) --- */

/* ECS / EKS container credentials, if AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI is set. */
int polly_cred_from_ecs(struct polly_credentials *out, char *why, size_t why_cap);
/* EC2 instance metadata (IMDSv2, falling back to v1), unless AWS_EC2_METADATA_DISABLED=true. */
int polly_cred_from_imds(struct polly_credentials *out, char *why, size_t why_cap);
/* True when the ECS variables are set (then IMDS is not tried). */
bool polly_cred_ecs_configured(void);

/* --- the provider (polly_credentials.c) --- */

struct polly_cred_provider;

/* `profile`: the profile option ("" = AWS_PROFILE or default).  Nothing is fetched yet. */
struct polly_cred_provider *polly_cred_provider_new(const struct ivd_host_api *api, struct ivd_host *host,
                                                    const char *profile);
/* Copy valid credentials into `out`, resolving the chain if none are cached (one thread
 * resolves, the others wait for it).  Temporary credentials are refreshed in the background
 * before they expire.  Returns 0, or -1 with `why` (no secrets) when no source has credentials. */
int polly_cred_provider_get(struct polly_cred_provider *provider, struct polly_credentials *out, char *why,
                            size_t why_cap);
/* Forget the cached credentials (after ExpiredToken): the next get() resolves again. */
void polly_cred_provider_invalidate(struct polly_cred_provider *provider);
/* Stop the refresh thread and wipe everything. */
void polly_cred_provider_free(struct polly_cred_provider *provider);

/* When to refresh credentials fetched at `now` that expire at `expiration`: 5 minutes before,
 * or at half the remaining lifetime if that is shorter.  0 for credentials that never expire. */
time_t polly_cred_refresh_time(time_t now, time_t expiration);

#endif
