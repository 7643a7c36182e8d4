/* One interview session: the state machine run on the loop thread, and its outgoing queue. */
#ifndef IVD_SESSION_H
#define IVD_SESSION_H

#include <interviewd/plugin.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ivd_workers.h"

struct lws;
struct ivd_server;
struct ivd_record;
struct ivd_audio_sink;
struct ivd_session_job;

/* A message waiting to be written to the socket; `data` has LWS_PRE bytes of headroom. */
struct ivd_out_msg {
	struct ivd_out_msg *next;
	size_t len;
	bool binary;
	bool audio;   /* counts against the session's audio buffer bound */
	uint8_t *data; /* points LWS_PRE bytes into the allocation */
	uint8_t storage[];
};

enum ivd_session_phase {
	IVD_PHASE_OPENING = 1, /* the question source is opening the session */
	IVD_PHASE_FETCHING,    /* the next question is being fetched */
	IVD_PHASE_QUESTION,    /* a question is open (its audio may still be streaming) */
	IVD_PHASE_RECEIVING,   /* an audio answer is arriving */
	IVD_PHASE_STORING,     /* an answer is being written to disk */
	IVD_PHASE_ENDING,      /* the interview is over; closing after the queue drains */
	IVD_PHASE_CLOSED,      /* the connection is gone; waiting for jobs to finish */
};

/* An audio answer chunk on its way to disk. */
struct ivd_upload_chunk {
	struct ivd_upload_chunk *next;
	size_t len;
	uint8_t data[];
};

struct ivd_answer_record; /* history entry, strand-owned */

struct ivd_session {
	/* ---- loop thread only ---- */
	struct ivd_server *server;
	struct lws *wsi; /* NULL once the connection closed */
	struct ivd_session *prev, *next; /* the server's list of live sessions */
	char id[33];
	enum ivd_session_phase phase;
	struct ivd_session_param *params;
	uint32_t n_params;
	int32_t question_count;
	uint32_t questions_asked;
	uint32_t answered, skipped;
	struct {
		char *id;
		char *text;
		enum ivd_text_type text_type;
		uint32_t index;
		bool open;
	} question;
	struct ivd_session_job *synth; /* the running synthesis, if any */
	bool repeat_after_synth;
	uint8_t *rx_buf;             /* text message being reassembled */
	size_t rx_len, rx_cap;
	bool rx_discard;             /* dropping the rest of an oversized/unexpected message */
	struct {
		char *mime_type;
		uint64_t total;          /* bytes received so far */
		bool writer_busy;        /* a write job is in flight */
		bool rx_paused;          /* lws_rx_flow_control(wsi, 0) in force */
		bool failed;
	} upload;
	uint32_t jobs_outstanding;
	struct ivd_strand strand;
	int close_code;              /* nonzero: close once the queue is empty */
	bool teardown_submitted;
	const char *end_reason;      /* for the session_end record */
	uint64_t opened_ms;

	/* ---- strand only (touched inside jobs, which never overlap) ---- */
	void *sequence;
	struct ivd_record *record;
	struct ivd_answer *answers;
	struct ivd_answer_record *answer_storage;
	uint32_t n_answers;

	/* ---- shared with worker threads, under `lock` ---- */
	pthread_mutex_t lock;
	pthread_cond_t changed;      /* audio drained, or cancellation */
	struct ivd_out_msg *out_head, *out_tail;
	size_t out_audio_bytes;
	uint32_t out_control;
	struct ivd_upload_chunk *up_head, *up_tail;
	size_t up_bytes;
	bool wake_pending;
	struct ivd_session *wake_next;
	bool gone;                   /* the connection closed: stop producing */
};

/* Loop-thread entry points, called by the server's lws callback. */
struct ivd_session *ivd_session_create(struct ivd_server *server, struct lws *wsi);
void ivd_session_start(struct ivd_session *session, bool over_capacity);
void ivd_session_on_receive(struct ivd_session *session, const void *data, size_t len, bool first,
                            bool final, bool binary);
/* Returns -1 to close the connection. */
int ivd_session_on_writeable(struct ivd_session *session);
void ivd_session_on_closed(struct ivd_session *session);
/* Worker threads queued audio: ask lws for a writeable callback. */
void ivd_session_on_wake(struct ivd_session *session);
/* The daemon is stopping. */
void ivd_session_shutdown(struct ivd_session *session);
int ivd_session_add_param(struct ivd_session *session, const char *key, const char *value);

/* Any thread: allocate a message (copying `len` bytes of `data`). */
struct ivd_out_msg *ivd_out_msg_new(const void *data, size_t len, bool binary, bool audio);

#endif
