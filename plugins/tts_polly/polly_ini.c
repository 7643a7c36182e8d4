/* Reading one profile from the AWS shared credentials and config files (inih). */
#include "polly_ini.h"

#include <ini.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Debian's libinih is built with a 200-byte line limit, shorter than a session token.  The
 * reader below hands inih the file line by line; a line too long for inih is passed as
 * "key = \x01N" and its value is kept aside in slot N, so inih still does the INI syntax (sections,
 * comments, continuation) and only over-long values (tokens, which contain no blanks or ';')
 * bypass its buffer.
 */
#define LONG_SLOTS 16u
#define LONG_MARK '\x01'

struct ini_reader_state {
	FILE *file;
	char *line;     /* getline buffer */
	size_t line_cap;
	char *slots[LONG_SLOTS];
	size_t n_slots;
	bool too_long;  /* a line exceeded POLLY_INI_VALUE_MAX */
};

struct handler_state {
	struct ini_reader_state *reader;
	const char *section;     /* the section name that holds the profile */
	const char *alt_section; /* another accepted spelling, or NULL */
	struct polly_profile *profile;
	bool overwrite;          /* values here win over values already set */
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void polly_profile_clear(struct polly_profile *profile)
{
	wipe_free(profile->access_key_id);
	wipe_free(profile->secret_access_key);
	wipe_free(profile->session_token);
	free(profile->region);
	free(profile->unsupported);
	memset(profile, 0, sizeof *profile);
}

static char *trim_value(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	/* Inline comment: ';' or '#' after a blank. */
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

static char *reader(char *str, int num, void *stream)
{
	struct ini_reader_state *st = stream;
	errno = 0;
	ssize_t n = getline(&st->line, &st->line_cap, st->file);
	if (n < 0 || num < 16)
		return NULL;
	size_t room = (size_t)num - 1;
	if ((size_t)n <= room) {
		memcpy(str, st->line, (size_t)n);
		str[n] = '\0';
		return str;
	}
	char *eq = strchr(st->line, '=');
	if ((size_t)n > POLLY_INI_VALUE_MAX || !eq || (size_t)(eq - st->line) + 8 > room ||
	    st->n_slots == LONG_SLOTS) {
		st->too_long = true;
		/* Hand inih something it reports as an error on this line. */
		snprintf(str, (size_t)num, "%s\n", "line-too-long");
		return str;
	}
	size_t key_len = (size_t)(eq - st->line);
	char *value = strdup(trim_value(eq + 1));
	if (!value)
		return NULL;
	size_t slot = st->n_slots++;
	st->slots[slot] = value;
	memcpy(str, st->line, key_len);
	snprintf(str + key_len, (size_t)num - key_len, "= %c%02zu\n", LONG_MARK, slot);
	return str;
}

static const char *resolve_value(struct ini_reader_state *st, const char *value)
{
	if (value[0] == LONG_MARK) {
		size_t slot = (size_t)strtoul(value + 1, NULL, 10);
		if (slot < st->n_slots)
			return st->slots[slot];
		return "";
	}
	return value;
}

static void set_field(char **field, const char *value, bool overwrite)
{
	if (*field && !overwrite)
		return;
	char *copy = strdup(value);
	if (!copy)
		return;
	wipe_free(*field);
	*field = copy;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct handler_state *hs = user;
	if (strcmp(section, hs->section) != 0 && !(hs->alt_section && strcmp(section, hs->alt_section) == 0))
		return 1;
	hs->profile->found = true;
	const char *v = resolve_value(hs->reader, value);
	if (strcasecmp(name, "aws_access_key_id") == 0)
		set_field(&hs->profile->access_key_id, v, hs->overwrite);
	else if (strcasecmp(name, "aws_secret_access_key") == 0)
		set_field(&hs->profile->secret_access_key, v, hs->overwrite);
	else if (strcasecmp(name, "aws_session_token") == 0 || strcasecmp(name, "aws_security_token") == 0)
		set_field(&hs->profile->session_token, v, hs->overwrite);
	else if (strcasecmp(name, "region") == 0)
		set_field(&hs->profile->region, v, hs->overwrite);
	else if (strcasecmp(name, "role_arn") == 0 || strcasecmp(name, "credential_process") == 0 ||
	         strcasecmp(name, "sso_session") == 0 || strcasecmp(name, "sso_start_url") == 0 ||
	         strcasecmp(name, "web_identity_token_file") == 0 || strcasecmp(name, "login_session") == 0)
		set_field(&hs->profile->unsupported, name, false);
	return 1;
}

static int parse_file(const char *path, const char *section, const char *alt_section,
                      struct polly_profile *profile, bool overwrite, char *why, size_t why_cap)
{
	if (!path || !*path)
		return 0;
	FILE *file = fopen(path, "re");
	if (!file) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(why, why_cap, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct ini_reader_state st = {.file = file};
	struct handler_state hs = {&st, section, alt_section, profile, overwrite};
	int rc = ini_parse_stream(reader, &st, handler, &hs);
	int status = 0;
	if (rc > 0) {
		snprintf(why, why_cap, "%s:%d: %s", path, rc,
		         st.too_long ? "line too long or malformed" : "not a valid INI line");
		status = -1;
	} else if (rc < 0) {
		snprintf(why, why_cap, "cannot parse %s", path);
		status = -1;
	}
	for (size_t i = 0; i < st.n_slots; i++)
		wipe_free(st.slots[i]);
	if (st.line) {
		OPENSSL_cleanse(st.line, st.line_cap);
		free(st.line);
	}
	fclose(file);
	return status;
}

int polly_ini_load_profile(const char *credentials_path, const char *config_path, const char *profile,
                           struct polly_profile *out, char *why, size_t why_cap)
{
	memset(out, 0, sizeof *out);
	if (why_cap)
		why[0] = '\0';
	char config_section[300];
	snprintf(config_section, sizeof config_section, "profile %s", profile);
	int status = 0;
	if (parse_file(credentials_path, profile, NULL, out, true, why, why_cap) != 0)
		status = -1;
	/* Config: [profile name]; the default profile may also be spelled [default]. */
	char config_why[512] = "";
	if (parse_file(config_path, config_section, strcmp(profile, "default") == 0 ? "default" : NULL, out,
	               false, config_why, sizeof config_why) != 0) {
		if (status == 0)
			snprintf(why, why_cap, "%s", config_why);
		status = -1;
	}
	return status;
}
