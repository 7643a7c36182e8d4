/* The WebSocket server: the libwebsockets context, the loop thread and its inbox from workers. */
#ifndef IVD_SERVER_H
#define IVD_SERVER_H

#include <interviewd/plugin.h>
#include <pthread.h>

#include "ivd_config.h"
#include "ivd_host.h"
#include "ivd_workers.h"

struct lws_context;
struct ivd_session;

struct ivd_server {
	const struct ivd_config *config;
	struct lws_context *context;
	struct ivd_workers *workers;
	struct ivd_backend_instance *tts;
	struct ivd_backend_instance *questions;
	struct ivd_tts_voice_info voice;

	struct ivd_session *sessions; /* every live session (loop thread) */
	uint32_t n_sessions;          /* allocated, including closing ones */
	uint32_t n_connected;         /* with an open connection */
	bool stopping;
	int listen_port;

	/* Inbox from worker threads, under inbox_lock. */
	pthread_mutex_t inbox_lock;
	struct ivd_job *done_head, *done_tail;
	struct ivd_session *wake_head;
};

/* Serve until SIGTERM/SIGINT.  Returns the process exit status. */
int ivd_server_run(const struct ivd_config *config, struct ivd_backend_instance *tts,
                   struct ivd_backend_instance *questions);

/* Any thread: the session has new messages queued; the loop will ask for a writeable callback. */
void ivd_server_wake(struct ivd_server *server, struct ivd_session *session);
/* Loop thread: run a job for a session on its strand. */
void ivd_server_submit(struct ivd_server *server, struct ivd_session *session, struct ivd_job *job);
/* Loop thread: unlink a session that is being freed. */
void ivd_server_forget(struct ivd_server *server, struct ivd_session *session);

#endif
