/* The AWS credential provider chain with a cache and a background refresh thread. */
#include "polly_credentials.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRY_MARGIN_S 15      /* credentials this close to expiry are not handed out */
#define RETRY_AFTER_FAILURE_S 60

struct polly_cred_provider {
	const struct ivd_host_api *api;
	struct ivd_host *host;
	char profile[256];

	pthread_mutex_t mutex;
	pthread_cond_t changed; /* a fetch finished, or stop was requested */
	struct polly_credentials *current; /* heap, valid when `have` */
	bool have;
	bool fetching;
	bool stopping;
	unsigned long generation; /* counts finished fetches */
	bool last_failed;
	char last_why[POLLY_WHY_MAX];
	time_t refresh_at;        /* 0: nothing to refresh */
	bool thread_started;
	pthread_t thread;
};

time_t polly_cred_refresh_time(time_t now, time_t expiration)
{
	if (expiration == 0)
		return 0;
	time_t remaining = expiration - now;
	if (remaining <= 0)
		return now;
	if (remaining / 2 < 300)
		return now + remaining / 2;
	return expiration - 300;
}

/* Walk the chain: environment, shared files, container, instance metadata. */
static int resolve_chain(struct polly_cred_provider *p, struct polly_credentials *out, char *why, size_t why_cap)
{
	char note[POLLY_WHY_MAX] = "";
	char source_why[POLLY_WHY_MAX] = "";
	int rc = polly_cred_from_env(out, source_why, sizeof source_why);
	if (rc != POLLY_CRED_NONE) {
		if (rc == POLLY_CRED_ERROR)
			snprintf(why, why_cap, "%s", source_why);
		return rc == POLLY_CRED_FOUND ? 0 : -1;
	}
	const char *profile = polly_cred_profile_name(p->profile);
	source_why[0] = '\0';
	rc = polly_cred_from_profile(profile, out, source_why, sizeof source_why);
	if (rc == POLLY_CRED_FOUND)
		return 0;
	if (rc == POLLY_CRED_ERROR) {
		snprintf(why, why_cap, "%s", source_why);
		return -1;
	}
	snprintf(note, sizeof note, "%s", source_why);
	if (polly_cred_ecs_configured()) {
		rc = polly_cred_from_ecs(out, source_why, sizeof source_why);
		if (rc == POLLY_CRED_FOUND)
			return 0;
		snprintf(why, why_cap, "%s", source_why);
		return -1;
	}
	source_why[0] = '\0';
	rc = polly_cred_from_imds(out, source_why, sizeof source_why);
	if (rc == POLLY_CRED_FOUND)
		return 0;
	if (rc == POLLY_CRED_ERROR) {
		snprintf(why, why_cap, "%s", source_why);
		return -1;
	}
	snprintf(why, why_cap,
	         "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put keys in "
	         "profile %.64s of the shared credentials file, or run with an ECS task role or EC2 instance "
	         "role%s%.200s", profile, note[0] ? " (" : "", note);
	if (note[0] && strlen(why) + 2 < why_cap)
		strcat(why, ")");
	return -1;
}

/* Store freshly fetched credentials (mutex held). */
static void store(struct polly_cred_provider *p, const struct polly_credentials *fresh)
{
	*p->current = *fresh;
	p->have = true;
	p->refresh_at = polly_cred_refresh_time(time(NULL), fresh->expiration);
}

/* Resolve the chain into `fresh` (NULL: out of memory) and store it on success.  Called with the
 * mutex held, returns with it held; it is released meanwhile, with `fetching` set so that other
 * callers wait for this fetch instead of starting their own.  Returns 0 or -1 with `why`. */
static int fetch(struct polly_cred_provider *p, struct polly_credentials *fresh, char *why, size_t why_cap)
{
	p->fetching = true;
	pthread_mutex_unlock(&p->mutex);
	int rc = fresh ? resolve_chain(p, fresh, why, why_cap) : -1;
	if (!fresh)
		snprintf(why, why_cap, "out of memory");
	pthread_mutex_lock(&p->mutex);
	p->fetching = false;
	p->generation++;
	if (rc == 0) {
		store(p, fresh);
		p->last_failed = false;
	}
	return rc;
}

static void *refresh_thread(void *arg)
{
	struct polly_cred_provider *p = arg;
	struct polly_credentials *fresh = calloc(1, sizeof *fresh);
	if (!fresh)
		return NULL;
	pthread_mutex_lock(&p->mutex);
	while (!p->stopping) {
		time_t now = time(NULL);
		if (p->refresh_at == 0 || p->fetching || now < p->refresh_at) {
			if (p->refresh_at == 0 || p->fetching) {
				pthread_cond_wait(&p->changed, &p->mutex);
			} else {
				struct timespec until = {.tv_sec = p->refresh_at, .tv_nsec = 0};
				int rc = pthread_cond_timedwait(&p->changed, &p->mutex, &until);
				(void)rc;
			}
			continue;
		}
		char why[POLLY_WHY_MAX] = "";
		int rc = fetch(p, fresh, why, sizeof why);
		if (rc == 0) {
			if (p->api)
				p->api->log(p->host, IVD_LOG_DEBUG, "refreshed AWS credentials from %s", fresh->source);
		} else {
			time_t left = p->have && p->current->expiration ? p->current->expiration - time(NULL) : 0;
			time_t wait = left / 2 < RETRY_AFTER_FAILURE_S ? (left / 2 > 5 ? left / 2 : 5) : RETRY_AFTER_FAILURE_S;
			p->refresh_at = time(NULL) + wait;
			if (p->api)
				p->api->log(p->host, IVD_LOG_WARN,
				            "cannot refresh AWS credentials (the current ones expire in %lld s; retrying in %lld s): %s",
				            (long long)left, (long long)wait, why);
		}
		polly_credentials_wipe(fresh);
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->mutex);
	polly_credentials_wipe(fresh);
	free(fresh);
	return NULL;
}

struct polly_cred_provider *polly_cred_provider_new(const struct ivd_host_api *api, struct ivd_host *host,
                                                    const char *profile)
{
	struct polly_cred_provider *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->current = calloc(1, sizeof *p->current);
	if (!p->current) {
		free(p);
		return NULL;
	}
	p->api = api;
	p->host = host;
	snprintf(p->profile, sizeof p->profile, "%s", profile ? profile : "");
	pthread_mutex_init(&p->mutex, NULL);
	pthread_cond_init(&p->changed, NULL);
	if (pthread_create(&p->thread, NULL, refresh_thread, p) == 0)
		p->thread_started = true;
	else
		if (api)
			api->log(host, IVD_LOG_WARN, "cannot start the credential refresh thread: credentials are "
			                             "refreshed on demand");
	return p;
}

static bool usable(const struct polly_cred_provider *p, time_t now)
{
	return p->have && (p->current->expiration == 0 || now + EXPIRY_MARGIN_S < p->current->expiration);
}

int polly_cred_provider_get(struct polly_cred_provider *p, struct polly_credentials *out, char *why, size_t why_cap)
{
	pthread_mutex_lock(&p->mutex);
	for (;;) {
		if (usable(p, time(NULL))) {
			*out = *p->current;
			/* No refresh thread: refresh on demand when due. */
			if (!p->thread_started && p->refresh_at && time(NULL) >= p->refresh_at)
				p->have = false;
			pthread_mutex_unlock(&p->mutex);
			return 0;
		}
		if (p->fetching) {
			unsigned long generation = p->generation;
			while (p->fetching && p->generation == generation)
				pthread_cond_wait(&p->changed, &p->mutex);
			if (p->generation != generation && p->last_failed && !usable(p, time(NULL))) {
				snprintf(why, why_cap, "%s", p->last_why);
				pthread_mutex_unlock(&p->mutex);
				return -1;
			}
			continue;
		}
		struct polly_credentials *fresh = calloc(1, sizeof *fresh);
		char local_why[POLLY_WHY_MAX] = "";
		int rc = fetch(p, fresh, local_why, sizeof local_why);
		if (rc == 0) {
			if (p->api)
				p->api->log(p->host, IVD_LOG_INFO, "using AWS credentials from %s%s", fresh->source,
				            fresh->expiration ? " (temporary, refreshed before expiry)" : "");
		} else {
			p->last_failed = true;
			snprintf(p->last_why, sizeof p->last_why, "%s", local_why);
		}
		if (fresh) {
			polly_credentials_wipe(fresh);
			free(fresh);
		}
		pthread_cond_broadcast(&p->changed);
		if (rc != 0) {
			snprintf(why, why_cap, "%s", local_why);
			pthread_mutex_unlock(&p->mutex);
			return -1;
		}
	}
}

void polly_cred_provider_invalidate(struct polly_cred_provider *p)
{
	pthread_mutex_lock(&p->mutex);
	p->have = false;
	p->refresh_at = 0;
	polly_credentials_wipe(p->current);
	pthread_mutex_unlock(&p->mutex);
}

void polly_cred_provider_free(struct polly_cred_provider *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mutex);
	p->stopping = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->mutex);
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->mutex);
	polly_credentials_wipe(p->current);
	free(p->current);
	free(p);
}
