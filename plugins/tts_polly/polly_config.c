/* Resolving and validating the Polly backends' options: region, endpoint, format, rate, lexicons. */
#include "polly_config.h"
#include "polly_credentials.h"
#include "polly_ini.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *polly_config_mime(const char *format)
{
	if (strcmp(format, "ogg_vorbis") == 0)
		return "audio/ogg";
	if (strcmp(format, "pcm") == 0)
		return "audio/L16";
	return "audio/mpeg";
}

uint32_t polly_config_default_rate(const char *engine, const char *format)
{
	if (strcmp(format, "pcm") == 0)
		return 16000;
	return strcmp(engine, "standard") == 0 ? 22050 : 24000;
}

bool polly_config_rate_ok(const char *format, uint32_t rate)
{
	if (strcmp(format, "pcm") == 0)
		return rate == 8000 || rate == 16000;
	static const uint32_t allowed[] = {8000, 16000, 22050, 24000, 44100, 48000};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (rate == allowed[i])
			return true;
	return false;
}

int polly_config_lexicons(const char *text, char names[POLLY_LEXICONS_MAX][POLLY_LEXICON_NAME_MAX + 1],
                          size_t *n, char *why, size_t why_cap)
{
	*n = 0;
	const char *p = text ? text : "";
	while (*p) {
		p += strspn(p, " ,\t");
		if (!*p)
			break;
		size_t len = strcspn(p, " ,\t");
		if (*n == POLLY_LEXICONS_MAX) {
			snprintf(why, why_cap, "at most %u lexicons are allowed", POLLY_LEXICONS_MAX);
			return -1;
		}
		if (len > POLLY_LEXICON_NAME_MAX) {
			snprintf(why, why_cap, "lexicon name '%.*s...' is longer than %u characters", 20, p,
			         POLLY_LEXICON_NAME_MAX);
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			char c = p[i];
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
				snprintf(why, why_cap, "lexicon name '%.*s' may only contain letters and digits", (int)len, p);
				return -1;
			}
		}
		memcpy(names[*n], p, len);
		names[*n][len] = '\0';
		(*n)++;
		p += len;
	}
	return 0;
}

static bool region_ok(const char *region)
{
	size_t len = strlen(region);
	if (len == 0 || len >= POLLY_REGION_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((region[i] >= 'a' && region[i] <= 'z') || (region[i] >= '0' && region[i] <= '9') || region[i] == '-'))
			return false;
	return true;
}

int polly_config_region(const char *option, const char *profile, char out[POLLY_REGION_MAX], const char **from,
                        char *why, size_t why_cap)
{
	const char *candidate = NULL;
	const char *source = NULL;
	struct polly_profile p = {0};
	if (option && *option) {
		candidate = option;
		source = "the region option";
	} else if (getenv("AWS_REGION") && *getenv("AWS_REGION")) {
		candidate = getenv("AWS_REGION");
		source = "AWS_REGION";
	} else if (getenv("AWS_DEFAULT_REGION") && *getenv("AWS_DEFAULT_REGION")) {
		candidate = getenv("AWS_DEFAULT_REGION");
		source = "AWS_DEFAULT_REGION";
	} else {
		char credentials_path[1024], config_path[1024], parse_why[512] = "";
		polly_cred_shared_paths(credentials_path, sizeof credentials_path, config_path, sizeof config_path);
		const char *name = polly_cred_profile_name(profile);
		/* The region lives in the config file; read only that one (no secrets needed here). */
		if (polly_ini_load_profile(NULL, config_path, name, &p, parse_why, sizeof parse_why) == 0 && p.region) {
			candidate = p.region;
			source = "the shared config file";
		}
	}
	int status = -1;
	if (!candidate) {
		snprintf(why, why_cap, "no AWS region: set region in this section, or AWS_REGION, or region in the "
		                       "profile of the shared config file");
	} else if (!region_ok(candidate)) {
		snprintf(why, why_cap, "region '%.64s' (from %s) is not a valid AWS region name", candidate, source);
	} else {
		snprintf(out, POLLY_REGION_MAX, "%s", candidate);
		if (from)
			*from = source;
		status = 0;
	}
	polly_profile_clear(&p);
	return status;
}

static bool loopback_host(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0;
}

int polly_config_endpoint(const char *option, const char *region, char url[POLLY_ENDPOINT_MAX],
                          char host[POLLY_HOST_MAX], char *why, size_t why_cap)
{
	char built[POLLY_ENDPOINT_MAX];
	const char *candidate = option && *option ? option : NULL;
	if (!candidate && getenv("AWS_ENDPOINT_URL_POLLY") && *getenv("AWS_ENDPOINT_URL_POLLY"))
		candidate = getenv("AWS_ENDPOINT_URL_POLLY");
	if (!candidate && getenv("AWS_ENDPOINT_URL") && *getenv("AWS_ENDPOINT_URL"))
		candidate = getenv("AWS_ENDPOINT_URL");
	if (!candidate) {
		snprintf(built, sizeof built, "https://polly.%s.amazonaws.com%s", region,
		         strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
		candidate = built;
	}
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
	int status = -1;
	if (!u) {
		snprintf(why, why_cap, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, candidate, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
		snprintf(why, why_cap, "endpoint '%.200s' is not a URL", candidate);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	bool https = strcasecmp(scheme, "https") == 0;
	if (!https && !(strcasecmp(scheme, "http") == 0 && loopback_host(h))) {
		snprintf(why, why_cap, "endpoint '%.200s' must use https (plain http only for a loopback host)", candidate);
		goto out;
	}
	if ((path && strcmp(path, "/") != 0 && path[0]) || query || user) {
		snprintf(why, why_cap, "endpoint '%.200s' must be scheme://host[:port] without a path, query or user",
		         candidate);
		goto out;
	}
	int n1 = port ? snprintf(url, POLLY_ENDPOINT_MAX, "%s://%s:%s", scheme, h, port)
	              : snprintf(url, POLLY_ENDPOINT_MAX, "%s://%s", scheme, h);
	int n2 = port ? snprintf(host, POLLY_HOST_MAX, "%s:%s", h, port) : snprintf(host, POLLY_HOST_MAX, "%s", h);
	if (n1 < 0 || (size_t)n1 >= POLLY_ENDPOINT_MAX || n2 < 0 || (size_t)n2 >= POLLY_HOST_MAX) {
		snprintf(why, why_cap, "endpoint too long");
		goto out;
	}
	status = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_url_cleanup(u);
	return status;
}
