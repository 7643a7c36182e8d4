/* The WebSocket server: the libwebsockets context, the loop thread and its inbox from workers. */
#include "ivd_server.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "ivd_log.h"
#include "ivd_session.h"

#define IVD_SHUTDOWN_GRACE_US (5 * LWS_US_PER_SEC)
#define IVD_MAX_PARAM_KEY 64
#define IVD_MAX_PARAM_VALUE 256
#define IVD_MAX_PARAMS 16

/* Per-connection data lws keeps for us. */
struct ivd_connection {
	struct ivd_session *session;
};

static struct lws_context *volatile signal_context;
static volatile sig_atomic_t stop_requested;

static void on_signal(int signum)
{
	(void)signum;
	stop_requested = 1;
	if (signal_context)
		lws_cancel_service(signal_context);
}

/* ------------------------------------------------------------------ inbox ---- */

static void job_finished(struct ivd_job *job, void *ctx)
{
	struct ivd_server *server = ctx;
	job->next = NULL;
	pthread_mutex_lock(&server->inbox_lock);
	if (server->done_tail)
		server->done_tail->next = job;
	else
		server->done_head = job;
	server->done_tail = job;
	pthread_mutex_unlock(&server->inbox_lock);
	lws_cancel_service(server->context);
}

void ivd_server_wake(struct ivd_server *server, struct ivd_session *session)
{
	pthread_mutex_lock(&server->inbox_lock);
	session->wake_next = server->wake_head;
	server->wake_head = session;
	pthread_mutex_unlock(&server->inbox_lock);
	lws_cancel_service(server->context);
}

/* Loop thread: deliver what the workers produced.  Wakes first: a session's wake is always
 * posted before the completion of the job that produced it, and a completion may free it. */
static void drain_inbox(struct ivd_server *server)
{
	pthread_mutex_lock(&server->inbox_lock);
	struct ivd_session *woken = server->wake_head;
	struct ivd_job *done = server->done_head;
	server->wake_head = NULL;
	server->done_head = server->done_tail = NULL;
	pthread_mutex_unlock(&server->inbox_lock);
	while (woken) {
		struct ivd_session *next = woken->wake_next;
		ivd_session_on_wake(woken);
		woken = next;
	}
	while (done) {
		struct ivd_job *next = done->next;
		done->complete(done);
		done = next;
	}
}

void ivd_server_submit(struct ivd_server *server, struct ivd_session *session, struct ivd_job *job)
{
	(void)session;
	ivd_workers_submit(server->workers, job);
}

void ivd_server_forget(struct ivd_server *server, struct ivd_session *session)
{
	if (session->prev)
		session->prev->next = session->next;
	else if (server->sessions == session)
		server->sessions = session->next;
	if (session->next)
		session->next->prev = session->prev;
	session->prev = session->next = NULL;
	server->n_sessions--;
}

/* ------------------------------------------------------------------ handshake checks ---- */

static bool origin_allowed(const struct ivd_server *server, struct lws *wsi)
{
	const char *allowed = server->config->allowed_origins;
	if (!allowed || !allowed[0])
		return true;
	char origin[256];
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return false;
	size_t len = strlen(origin);
	for (const char *p = allowed; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ' ' && *end != ',')
			end++;
		if ((size_t)(end - p) == len && strncasecmp(p, origin, len) == 0)
			return true;
		p = end;
	}
	return false;
}

/* Returns an HTTP status to refuse the upgrade with, or 0 to accept it. */
static unsigned check_upgrade(struct ivd_server *server, struct lws *wsi)
{
	char uri[512];
	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, server->config->ws_path) != 0)
		return HTTP_STATUS_NOT_FOUND;
	if (server->stopping)
		return HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (!origin_allowed(server, wsi)) {
		ivd_log_info("refused a WebSocket from a disallowed Origin");
		return HTTP_STATUS_FORBIDDEN;
	}
	for (int i = 0;; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len <= 0)
			break;
		if (i >= IVD_MAX_PARAMS || len > IVD_MAX_PARAM_KEY + IVD_MAX_PARAM_VALUE + 1)
			return HTTP_STATUS_BAD_REQUEST;
		char arg[IVD_MAX_PARAM_KEY + IVD_MAX_PARAM_VALUE + 8];
		if (lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			return HTTP_STATUS_BAD_REQUEST;
		const char *eq = strchr(arg, '=');
		size_t key_len = eq ? (size_t)(eq - arg) : strlen(arg);
		if (key_len == 0 || key_len > IVD_MAX_PARAM_KEY ||
		    (eq && strlen(eq + 1) > IVD_MAX_PARAM_VALUE))
			return HTTP_STATUS_BAD_REQUEST;
	}
	return 0;
}

static void add_params(struct ivd_session *session, struct lws *wsi)
{
	for (int i = 0; i < IVD_MAX_PARAMS; i++) {
		char arg[IVD_MAX_PARAM_KEY + IVD_MAX_PARAM_VALUE + 8];
		if (lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		ivd_session_add_param(session, arg, eq ? eq + 1 : "");
	}
}

/* ------------------------------------------------------------------ lws callback ---- */

static int callback_interview(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len)
{
	struct ivd_server *server = lws_context_user(lws_get_context(wsi));
	struct ivd_connection *conn = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		drain_inbox(server);
		return 0;

	case LWS_CALLBACK_HTTP: {
		const char *uri = in;
		if (uri && strcmp(uri, "/healthz") == 0) {
			lws_return_http_status(wsi, HTTP_STATUS_OK, server->stopping ? "stopping" : "ok");
		} else {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		}
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		if (!in || strcmp(in, "websocket") != 0)
			return -1;
		unsigned status = check_upgrade(server, wsi);
		if (status) {
			lws_return_http_status(wsi, status, NULL);
			return 1;
		}
		return 0;
	}

	case LWS_CALLBACK_ESTABLISHED: {
		struct ivd_session *session = ivd_session_create(server, wsi);
		if (!session)
			return -1;
		add_params(session, wsi);
		conn->session = session;
		session->next = server->sessions;
		if (server->sessions)
			server->sessions->prev = session;
		server->sessions = session;
		server->n_sessions++;
		bool over = server->n_connected >= server->config->max_sessions;
		server->n_connected++;
		ivd_log_info("session %s: connected (%u open)", session->id, server->n_connected);
		ivd_session_start(session, over);
		return 0;
	}

	case LWS_CALLBACK_RECEIVE:
		if (!conn || !conn->session)
			return -1;
		ivd_session_on_receive(conn->session, in, len, lws_is_first_fragment(wsi) != 0,
		                       lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!conn || !conn->session)
			return 0;
		return ivd_session_on_writeable(conn->session);

	case LWS_CALLBACK_CLOSED:
		if (conn && conn->session) {
			struct ivd_session *session = conn->session;
			conn->session = NULL;
			server->n_connected--;
			ivd_session_on_closed(session);
		}
		return 0;

	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{"interviewd", callback_interview, sizeof(struct ivd_connection), 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------------ running ---- */

static void lws_log_emit(int level, const char *line)
{
	char text[512];
	snprintf(text, sizeof text, "%s", line);
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	ivd_log(level == LLL_ERR ? IVD_LOG_ERROR : IVD_LOG_WARN, "libwebsockets: %s", text);
}

/* Descriptors a busy session holds: its socket, record directory and session.jsonl, the one its
 * synthesis reads (the mock's file, Polly's HTTPS connection), and an audio answer being stored. */
#define IVD_FDS_PER_SESSION 5u

static void raise_fd_limit(uint32_t wanted)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
		return;
	rlim_t need = (rlim_t)wanted;
	if (limit.rlim_cur >= need)
		return;
	limit.rlim_cur = limit.rlim_max < need ? limit.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < need)
		ivd_log_warn("open file limit is %llu: fewer than %u sessions may connect (raise "
		             "LimitNOFILE / ulimit -n)", (unsigned long long)limit.rlim_cur,
		             (unsigned)wanted);
}

static void shutdown_deadline(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	stop_requested = 2;
}

static void begin_shutdown(struct ivd_server *server, lws_sorted_usec_list_t *deadline)
{
	server->stopping = true;
	ivd_log_info("stopping: closing %u open sessions", server->n_connected);
	for (struct ivd_session *session = server->sessions; session; session = session->next)
		ivd_session_shutdown(session);
	lws_sul_schedule(server->context, 0, deadline, shutdown_deadline, IVD_SHUTDOWN_GRACE_US);
}

int ivd_server_run(const struct ivd_config *config, struct ivd_backend_instance *tts,
                   struct ivd_backend_instance *questions)
{
	struct ivd_server server = {0};
	server.config = config;
	server.tts = tts;
	server.questions = questions;
	server.voice.struct_size = sizeof server.voice;
	tts->backend->tts.describe(tts->state, &server.voice);
	pthread_mutex_init(&server.inbox_lock, NULL);

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	raise_fd_limit(config->max_sessions * IVD_FDS_PER_SESSION + 256);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = &server;
	info.fd_limit_per_thread = config->max_sessions + 128;
	server.context = lws_create_context(&info);
	if (!server.context) {
		ivd_log_error("cannot create the WebSocket context");
		pthread_mutex_destroy(&server.inbox_lock);
		return 1;
	}

	lws_retry_bo_t retry = {0};
	if (config->ping_interval_s > 0) {
		retry.secs_since_valid_ping = (uint16_t)config->ping_interval_s;
		retry.secs_since_valid_hangup = (uint16_t)(config->ping_interval_s * 2 + 5);
	}
	memset(&info, 0, sizeof info);
	info.port = config->port;
	bool any = strcmp(config->listen, "*") == 0;
	info.iface = any ? NULL : strcmp(config->listen, "localhost") == 0 ? "127.0.0.1" : config->listen;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!any && strchr(info.iface, ':') == NULL)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.protocols = protocols;
	info.vhost_name = "interviewd";
	info.server_string = "interviewd";
	if (config->ping_interval_s > 0)
		info.retry_and_idle_policy = &retry;
	struct lws_vhost *vhost = lws_create_vhost(server.context, &info);
	if (!vhost) {
		ivd_log_error("cannot listen on %s port %d (is the address right, and is no other "
		              "process using the port?)", config->listen, config->port);
		lws_context_destroy(server.context);
		pthread_mutex_destroy(&server.inbox_lock);
		return 1;
	}
	server.listen_port = lws_get_vhost_listen_port(vhost);

	server.workers = ivd_workers_create(config->workers, job_finished, &server);
	if (!server.workers) {
		ivd_log_error("cannot start the worker pool");
		lws_context_destroy(server.context);
		pthread_mutex_destroy(&server.inbox_lock);
		return 1;
	}

	signal_context = server.context;
	struct sigaction action;
	memset(&action, 0, sizeof action);
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *shown_host = any ? "0.0.0.0" : info.iface;
	bool v6 = strchr(shown_host, ':') != NULL;
	ivd_log_info("listening on ws://%s%s%s:%d%s (tts %s, voice %s, questions %s)",
	             v6 ? "[" : "", shown_host, v6 ? "]" : "", server.listen_port, config->ws_path,
	             tts->backend->name, server.voice.voice ? server.voice.voice : "?",
	             questions->backend->name);

	lws_sorted_usec_list_t deadline;
	memset(&deadline, 0, sizeof deadline);
	int status = 0;
	for (;;) {
		if (stop_requested && !server.stopping)
			begin_shutdown(&server, &deadline);
		if (server.stopping && server.n_sessions == 0)
			break;
		if (stop_requested == 2) {
			ivd_log_warn("%u sessions still busy %d s after the stop request; exiting anyway",
			             server.n_sessions, (int)(IVD_SHUTDOWN_GRACE_US / LWS_US_PER_SEC));
			status = 0;
			break;
		}
		if (lws_service(server.context, 0) < 0) {
			ivd_log_error("the WebSocket loop failed");
			status = 1;
			break;
		}
	}
	lws_sul_cancel(&deadline);
	bool clean = server.n_sessions == 0;
	signal_context = NULL;
	if (clean) {
		lws_context_destroy(server.context);
		/* Closing connections may have queued teardown jobs: run them to the end. */
		ivd_workers_destroy(server.workers);
		drain_inbox(&server);
		pthread_mutex_destroy(&server.inbox_lock);
	} else {
		/* A backend ignored cancellation: leave its threads; the process exits now. */
		lws_context_destroy(server.context);
	}
	ivd_log_info("stopped");
	return clean ? status : 0;
}
