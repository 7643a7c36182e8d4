/* The AWS "standard" retry policy for Polly requests: backoff with full jitter and a retry quota. */
#ifndef POLLY_RETRY_H
#define POLLY_RETRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define POLLY_RETRY_BASE_MS 50u
#define POLLY_RETRY_CAP_MS 20000u
#define POLLY_RETRY_QUOTA_INITIAL 500
#define POLLY_RETRY_COST 5
#define POLLY_RETRY_TIMEOUT_COST 10
#define POLLY_RETRY_SUCCESS_REFUND 1

/* Delay before the next attempt after failed attempt number `attempt` (1-based):
 * random01 * min(BASE * 2^(attempt-1), CAP), random01 in [0, 1). */
uint32_t polly_retry_delay_ms(unsigned attempt, double random01);

/* A uniformly distributed number in [0, 1) from OpenSSL's CSPRNG (thread-safe). */
double polly_retry_random(void);

/* The per-backend retry token bucket: retries stop when it is empty (a failing service is not
 * hammered by every session at once). */
struct polly_retry_quota {
	pthread_mutex_t mutex;
	int available;
};

void polly_retry_quota_init(struct polly_retry_quota *quota);
void polly_retry_quota_destroy(struct polly_retry_quota *quota);
/* Take the cost of one retry; returns the cost taken, or 0 if the bucket cannot pay (no retry). */
int polly_retry_quota_acquire(struct polly_retry_quota *quota, bool timeout);
/* After a success: refund `last_cost` if the success needed retries, else the small refund. */
void polly_retry_quota_success(struct polly_retry_quota *quota, int last_cost);

#endif
