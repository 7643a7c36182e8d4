/* Worker threads: run blocking jobs (plugin calls, disk writes) off the WebSocket loop thread. */
#ifndef IVD_WORKERS_H
#define IVD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

struct ivd_job;

/* A strand runs its jobs one at a time, in submission order (one strand per session). */
struct ivd_strand {
	struct ivd_job *head, *tail;
	bool busy;
};

struct ivd_job {
	struct ivd_job *next;
	struct ivd_strand *strand; /* NULL: no ordering */
	void (*run)(struct ivd_job *job);      /* on a worker thread */
	void (*complete)(struct ivd_job *job); /* on the loop thread, after run; frees the job */
};

struct ivd_workers;

/* `finished` is called on the worker thread right after a job ran, to hand it back to the loop
 * (it must not block).  Threads are started on demand, up to max_threads. */
struct ivd_workers *ivd_workers_create(uint32_t max_threads,
                                       void (*finished)(struct ivd_job *job, void *ctx), void *ctx);
void ivd_workers_submit(struct ivd_workers *workers, struct ivd_job *job);
/* Wait until no worker touches `strand` any more (call before freeing it; its last job has
 * completed). */
void ivd_workers_strand_barrier(struct ivd_workers *workers, struct ivd_strand *strand);
/* Run what is queued, then stop and join every thread. */
void ivd_workers_destroy(struct ivd_workers *workers);

#endif
