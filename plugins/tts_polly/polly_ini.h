/* Reading one profile from the AWS shared credentials and config files (inih). */
#ifndef POLLY_INI_H
#define POLLY_INI_H

#include <stdbool.h>
#include <stddef.h>

#define POLLY_INI_VALUE_MAX 8192u /* longest value accepted (session tokens are ~1-2 KB) */

/* Values found for one profile; heap strings or NULL.  Secrets are wiped by polly_profile_clear. */
struct polly_profile {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	char *region;
	char *unsupported; /* first key the plugin cannot use to get credentials (role_arn, sso_*, ...) */
	bool found;        /* a section for the profile exists in either file */
};

/* Load `profile` from the credentials file ([name]) and the config file ([profile name], or
 * [default] for "default"); values in the credentials file win.  Missing files are not an
 * error.  Returns 0, or -1 with `why` set when a file exists but cannot be read or parsed (the
 * message names the file and line, never a value). */
int polly_ini_load_profile(const char *credentials_path, const char *config_path, const char *profile,
                           struct polly_profile *out, char *why, size_t why_cap);

/* Wipe and free everything in `profile`. */
void polly_profile_clear(struct polly_profile *profile);

#endif
