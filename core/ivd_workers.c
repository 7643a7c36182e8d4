/* Worker threads: run blocking jobs (plugin calls, disk writes) off the WebSocket loop thread. */
#include "ivd_workers.h"

#include <pthread.h>
#include <stdlib.h>

#include "ivd_log.h"

#define IVD_WORKER_STACK_BYTES (1024u * 1024u)

struct ivd_workers {
	pthread_mutex_t lock;
	pthread_cond_t ready_cond;
	struct ivd_job *ready_head, *ready_tail; /* jobs that may run now */
	pthread_t *threads;
	uint32_t n_threads, max_threads, n_idle;
	uint32_t n_ready; /* length of the ready list */
	bool stopping;
	void (*finished)(struct ivd_job *job, void *ctx);
	void *ctx;
};

static void push_ready(struct ivd_workers *workers, struct ivd_job *job)
{
	job->next = NULL;
	if (workers->ready_tail)
		workers->ready_tail->next = job;
	else
		workers->ready_head = job;
	workers->ready_tail = job;
	workers->n_ready++;
}

static void *worker_main(void *arg)
{
	struct ivd_workers *workers = arg;
	pthread_mutex_lock(&workers->lock);
	for (;;) {
		while (!workers->ready_head && !workers->stopping) {
			workers->n_idle++;
			pthread_cond_wait(&workers->ready_cond, &workers->lock);
			workers->n_idle--;
		}
		struct ivd_job *job = workers->ready_head;
		if (!job)
			break; /* stopping and nothing left */
		workers->ready_head = job->next;
		workers->n_ready--;
		if (!workers->ready_head)
			workers->ready_tail = NULL;
		pthread_mutex_unlock(&workers->lock);

		job->run(job);

		pthread_mutex_lock(&workers->lock);
		/* Hand the job back and release its strand under the lock, so that the loop's barrier
		 * (which takes this lock) knows no worker touches the strand afterwards. */
		struct ivd_strand *strand = job->strand;
		workers->finished(job, workers->ctx);
		if (strand) {
			struct ivd_job *next = strand->head;
			if (next) {
				strand->head = next->next;
				if (!strand->head)
					strand->tail = NULL;
				push_ready(workers, next);
			} else {
				strand->busy = false;
			}
		}
	}
	pthread_mutex_unlock(&workers->lock);
	return NULL;
}

struct ivd_workers *ivd_workers_create(uint32_t max_threads,
                                       void (*finished)(struct ivd_job *job, void *ctx), void *ctx)
{
	struct ivd_workers *workers = calloc(1, sizeof *workers);
	if (!workers)
		return NULL;
	workers->threads = calloc(max_threads, sizeof *workers->threads);
	if (!workers->threads) {
		free(workers);
		return NULL;
	}
	pthread_mutex_init(&workers->lock, NULL);
	pthread_cond_init(&workers->ready_cond, NULL);
	workers->max_threads = max_threads;
	workers->finished = finished;
	workers->ctx = ctx;
	return workers;
}

/* Called with the lock held: make sure some thread will pick the ready job up. */
static void ensure_thread(struct ivd_workers *workers)
{
	if (workers->n_ready <= workers->n_idle || workers->n_threads >= workers->max_threads)
		return;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, IVD_WORKER_STACK_BYTES);
	if (pthread_create(&workers->threads[workers->n_threads], &attr, worker_main, workers) == 0)
		workers->n_threads++;
	else if (workers->n_threads == 0)
		ivd_log_error("cannot start a worker thread");
	pthread_attr_destroy(&attr);
}

void ivd_workers_submit(struct ivd_workers *workers, struct ivd_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&workers->lock);
	struct ivd_strand *strand = job->strand;
	if (strand && strand->busy) {
		if (strand->tail)
			strand->tail->next = job;
		else
			strand->head = job;
		strand->tail = job;
	} else {
		if (strand)
			strand->busy = true;
		push_ready(workers, job);
		ensure_thread(workers);
		pthread_cond_signal(&workers->ready_cond);
	}
	pthread_mutex_unlock(&workers->lock);
}

void ivd_workers_strand_barrier(struct ivd_workers *workers, struct ivd_strand *strand)
{
	(void)strand;
	pthread_mutex_lock(&workers->lock);
	pthread_mutex_unlock(&workers->lock);
}

void ivd_workers_destroy(struct ivd_workers *workers)
{
	if (!workers)
		return;
	pthread_mutex_lock(&workers->lock);
	workers->stopping = true;
	pthread_cond_broadcast(&workers->ready_cond);
	pthread_mutex_unlock(&workers->lock);
	for (uint32_t i = 0; i < workers->n_threads; i++)
		pthread_join(workers->threads[i], NULL);
	pthread_cond_destroy(&workers->ready_cond);
	pthread_mutex_destroy(&workers->lock);
	free(workers->threads);
	free(workers);
}
