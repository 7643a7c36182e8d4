/* The AWS "standard" retry policy for Polly requests: backoff with full jitter and a retry quota. */
#include "polly_retry.h"

#include <openssl/rand.h>

uint32_t polly_retry_delay_ms(unsigned attempt, double random01)
{
	if (attempt == 0)
		return 0;
	uint64_t ceiling = POLLY_RETRY_BASE_MS;
	for (unsigned i = 1; i < attempt && ceiling < POLLY_RETRY_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > POLLY_RETRY_CAP_MS)
		ceiling = POLLY_RETRY_CAP_MS;
	if (random01 < 0.0)
		random01 = 0.0;
	if (random01 >= 1.0)
		random01 = 0.999999;
	return (uint32_t)(random01 * (double)ceiling);
}

double polly_retry_random(void)
{
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		return 0.5;
	return (double)r / 4294967296.0;
}

void polly_retry_quota_init(struct polly_retry_quota *quota)
{
	pthread_mutex_init(&quota->mutex, NULL);
	quota->available = POLLY_RETRY_QUOTA_INITIAL;
}

void polly_retry_quota_destroy(struct polly_retry_quota *quota)
{
	pthread_mutex_destroy(&quota->mutex);
}

int polly_retry_quota_acquire(struct polly_retry_quota *quota, bool timeout)
{
	int cost = timeout ? POLLY_RETRY_TIMEOUT_COST : POLLY_RETRY_COST;
	pthread_mutex_lock(&quota->mutex);
	if (quota->available < cost)
		cost = 0;
	else
		quota->available -= cost;
	pthread_mutex_unlock(&quota->mutex);
	return cost;
}

void polly_retry_quota_success(struct polly_retry_quota *quota, int last_cost)
{
	pthread_mutex_lock(&quota->mutex);
	quota->available += last_cost > 0 ? last_cost : POLLY_RETRY_SUCCESS_REFUND;
	if (quota->available > POLLY_RETRY_QUOTA_INITIAL)
		quota->available = POLLY_RETRY_QUOTA_INITIAL;
	pthread_mutex_unlock(&quota->mutex);
}
