/* ivd_bench: load benchmark client, N concurrent interview sessions on one libwebsockets loop. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_MAX_TEXT_MESSAGE (256 * 1024) /* largest server text message we reassemble */
#define BENCH_MAX_CODES 32                  /* distinct error codes counted */
#define BENCH_CODE_LEN 48
#define BENCH_MAX_SAMPLES (64u * 1024u * 1024u) /* per series, whatever N * questions says */
#define BENCH_MAX_SESSIONS 100000
#define BENCH_RSS_SAMPLE_US (250 * 1000)

enum conn_state {
	CONN_WAITING,    /* connect not started yet (ramp) */
	CONN_CONNECTING, /* TCP connect + upgrade under way */
	CONN_OPEN,       /* upgraded */
	CONN_FINISHED,   /* closed or failed; counted */
};

enum pending_send { SEND_NONE, SEND_ANSWER, SEND_END };

/* A growable array of latency samples in nanoseconds, bounded by BENCH_MAX_SAMPLES. */
struct series {
	const char *name;
	int64_t *v;
	size_t n, cap;
	size_t dropped;
};

struct error_count {
	char code[BENCH_CODE_LEN];
	unsigned long count;
};

struct bench;

struct conn {
	struct bench *b;
	struct lws *wsi;
	unsigned index;
	enum conn_state state;
	lws_sorted_usec_list_t sul; /* ramp: when to connect; then --think-ms: when to answer */

	int64_t t_connect_start;  /* just before lws_client_connect_via_info */
	int64_t t_established;    /* upgrade complete */
	int64_t t_answer_sent;    /* last answer written (trigger of the next question) */
	int64_t t_question_start; /* question_start received */
	bool question_open;       /* between question_start and question_end */
	bool audio_seen;          /* first binary frame of this question already counted */
	bool next_is_first;       /* the question being waited for is the session's first */
	bool answered_once;       /* an answer was sent since the last question_start */

	unsigned questions_done; /* question_end received */
	enum pending_send pending;
	bool thinking; /* --think-ms: pending answer not due yet */
	bool holding;      /* idle-hold: parked after its questions */
	bool got_interview_end;
	bool got_session_start;
	bool error_noted; /* a transport-level error was already counted for this session */

	char *rx;      /* text message reassembly */
	size_t rx_len; /* bytes in rx */
	bool rx_overflow;
};

struct bench {
	/* options */
	const char *url;
	unsigned sessions;
	unsigned ramp_ms;
	const char *answer;
	unsigned questions; /* 0 = all */
	unsigned timeout_s;
	unsigned think_ms;    /* wait this long after question_end before answering */
	unsigned idle_hold_s; /* 0 = off */
	long daemon_pid;      /* 0 = do not sample */
	bool json;
	bool quiet;

	/* target */
	char url_buf[1024];
	const char *address;
	int port;
	char path[1024];
	bool use_ssl;

	/* state */
	struct lws_context *context;
	struct conn *conns;
	char *answer_msg;
	size_t answer_len;
	char *end_msg;
	size_t end_len;
	unsigned finished;
	unsigned holding;
	bool stop;
	bool timed_out;
	bool hold_started;
	lws_sorted_usec_list_t sul_timeout;
	lws_sorted_usec_list_t sul_hold;
	lws_sorted_usec_list_t sul_rss;
	int64_t t_start, t_end;
	int64_t t_hold_start;

	/* results */
	struct series first_from_connect;
	struct series first_from_upgrade;
	struct series next_from_answer;
	struct series from_question_start;
	struct series next_from_question_start; /* questions after the first: engine + backend only */
	struct series upgrade_time; /* connect start -> upgrade complete */
	unsigned long completions;
	unsigned long connected;
	unsigned long questions_ended;
	unsigned long questions_with_audio;
	unsigned long answers_sent;
	unsigned long long audio_bytes;
	unsigned long long audio_messages;
	unsigned long long text_bytes;
	struct error_count errors[BENCH_MAX_CODES];
	unsigned n_error_codes;
	unsigned long errors_other; /* codes beyond BENCH_MAX_CODES */

	/* daemon memory (KiB), when --daemon-pid is given */
	long rss_before_kb;
	long hwm_before_kb;
	long rss_idle_kb;     /* last sample during the hold */
	long rss_idle_max_kb; /* largest sample during the hold */
	unsigned idle_sessions;
	unsigned rss_idle_samples;
	long rss_end_kb;
	long hwm_end_kb;
};

static volatile sig_atomic_t interrupted;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_sigint(int signum)
{
	(void)signum;
	interrupted = 1;
}

/* ------------------------------------------------------------------ results ---- */

static void series_add(struct series *s, int64_t value)
{
	if (s->n == s->cap) {
		if (s->cap >= BENCH_MAX_SAMPLES) {
			s->dropped++;
			return;
		}
		size_t cap = s->cap ? s->cap * 2 : 1024;
		if (cap > BENCH_MAX_SAMPLES)
			cap = BENCH_MAX_SAMPLES;
		int64_t *v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			s->dropped++;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted series, in nanoseconds (0 when empty). */
static int64_t percentile(const struct series *s, double p)
{
	if (!s->n)
		return 0;
	double rank = p / 100.0 * (double)s->n;
	size_t k = (size_t)rank;
	if ((double)k < rank)
		k++;
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return s->v[k - 1];
}

static void note_error(struct bench *b, const char *code)
{
	for (unsigned i = 0; i < b->n_error_codes; i++) {
		if (strcmp(b->errors[i].code, code) == 0) {
			b->errors[i].count++;
			return;
		}
	}
	if (b->n_error_codes == BENCH_MAX_CODES) {
		b->errors_other++;
		return;
	}
	struct error_count *e = &b->errors[b->n_error_codes++];
	snprintf(e->code, sizeof e->code, "%s", code);
	e->count = 1;
}

/* VmRSS and VmHWM of a process in KiB; -1 when unreadable. */
static void read_rss(long pid, long *rss_kb, long *hwm_kb)
{
	*rss_kb = *hwm_kb = -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kb = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

/* ------------------------------------------------------------------ sessions ---- */

static void finish_conn(struct conn *c)
{
	struct bench *b = c->b;
	if (c->state == CONN_FINISHED)
		return;
	if (c->holding) {
		c->holding = false;
		b->holding--;
	}
	c->state = CONN_FINISHED;
	c->wsi = NULL;
	lws_sul_cancel(&c->sul);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
	b->finished++;
	if (b->finished == b->sessions)
		b->stop = true;
}

static void request_send(struct conn *c, enum pending_send what)
{
	c->pending = what;
	c->thinking = false;
	lws_sul_cancel(&c->sul);
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void think_done(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);
	c->thinking = false;
	if (c->state == CONN_OPEN && c->pending != SEND_NONE)
		lws_callback_on_writable(c->wsi);
}

static void hold_release(lws_sorted_usec_list_t *sul);
static void rss_tick(lws_sorted_usec_list_t *sul);

/* idle-hold: once every session is parked (or gone), sample memory for idle_hold_s seconds. */
static void maybe_start_hold(struct bench *b)
{
	if (!b->idle_hold_s || b->hold_started)
		return;
	if (b->holding + b->finished < b->sessions)
		return;
	b->hold_started = true;
	b->t_hold_start = now_ns();
	b->idle_sessions = b->holding;
	if (!b->quiet)
		fprintf(stderr, "ivd_bench: %u sessions idle, holding %u s\n", b->holding, b->idle_hold_s);
	if (b->daemon_pid > 0) {
		rss_tick(&b->sul_rss);
	}
	lws_sul_schedule(b->context, 0, &b->sul_hold, hold_release,
			 (lws_usec_t)b->idle_hold_s * LWS_US_PER_SEC);
}

static void rss_tick(lws_sorted_usec_list_t *sul)
{
	struct bench *b = lws_container_of(sul, struct bench, sul_rss);
	long rss, hwm;
	read_rss(b->daemon_pid, &rss, &hwm);
	if (rss >= 0) {
		b->rss_idle_kb = rss;
		if (rss > b->rss_idle_max_kb)
			b->rss_idle_max_kb = rss;
		b->rss_idle_samples++;
	}
	lws_sul_schedule(b->context, 0, &b->sul_rss, rss_tick, BENCH_RSS_SAMPLE_US);
}

static void hold_release(lws_sorted_usec_list_t *sul)
{
	struct bench *b = lws_container_of(sul, struct bench, sul_hold);
	lws_sul_cancel(&b->sul_rss);
	if (b->daemon_pid > 0) {
		rss_tick(&b->sul_rss); /* one last sample, at the end of the hold */
		lws_sul_cancel(&b->sul_rss);
	}
	for (unsigned i = 0; i < b->sessions; i++) {
		struct conn *c = &b->conns[i];
		if (c->holding && c->state == CONN_OPEN)
			request_send(c, SEND_END);
	}
}

static void on_question_end(struct conn *c)
{
	struct bench *b = c->b;
	c->question_open = false;
	c->questions_done++;
	b->questions_ended++;
	bool last = b->questions && c->questions_done >= b->questions;
	if (b->idle_hold_s && (last || !b->questions)) { /* idle mode: --questions 0 parks after one */
		/* park: only an {"type":"end"} after the hold */
		if (!c->holding) {
			c->holding = true;
			b->holding++;
		}
		if (b->hold_started) /* a late one: the hold already ended or is running */
			request_send(c, SEND_END);
		maybe_start_hold(b);
		return;
	}
	if (b->think_ms && !last) {
		c->pending = SEND_ANSWER;
		c->thinking = true;
		lws_sul_schedule(b->context, 0, &c->sul, think_done, (lws_usec_t)b->think_ms * 1000);
		return;
	}
	request_send(c, last ? SEND_END : SEND_ANSWER);
}

static void on_text_message(struct conn *c, const char *text, size_t len)
{
	struct bench *b = c->b;
	cJSON *msg = cJSON_ParseWithLength(text, len);
	if (!msg) {
		note_error(b, "client_bad_json");
		return;
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : "";
	if (strcmp(t, "session_start") == 0) {
		c->got_session_start = true;
	} else if (strcmp(t, "question_start") == 0) {
		c->question_open = true;
		c->audio_seen = false;
		c->t_question_start = now_ns();
	} else if (strcmp(t, "question_end") == 0) {
		on_question_end(c);
	} else if (strcmp(t, "interview_end") == 0) {
		c->got_interview_end = true;
		b->completions++;
	} else if (strcmp(t, "error") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(msg, "code");
		note_error(b, cJSON_IsString(code) ? code->valuestring : "(no code)");
	}
	cJSON_Delete(msg);
}

static void on_binary(struct conn *c, size_t len)
{
	struct bench *b = c->b;
	b->audio_bytes += len;
	if (lws_is_first_fragment(c->wsi))
		b->audio_messages++;
	if (!c->question_open || c->audio_seen)
		return;
	int64_t t = now_ns();
	c->audio_seen = true;
	b->questions_with_audio++;
	series_add(&b->from_question_start, t - c->t_question_start);
	if (!c->next_is_first)
		series_add(&b->next_from_question_start, t - c->t_question_start);
	if (c->next_is_first) {
		series_add(&b->first_from_connect, t - c->t_connect_start);
		series_add(&b->first_from_upgrade, t - c->t_established);
		c->next_is_first = false;
	} else if (c->answered_once) {
		series_add(&b->next_from_answer, t - c->t_answer_sent);
	}
	c->answered_once = false;
}

static int on_receive(struct conn *c, const void *in, size_t len)
{
	struct bench *b = c->b;
	if (lws_frame_is_binary(c->wsi)) {
		on_binary(c, len);
		return 0;
	}
	b->text_bytes += len;
	if (!c->rx) {
		c->rx = malloc(BENCH_MAX_TEXT_MESSAGE);
		if (!c->rx) {
			note_error(b, "client_out_of_memory");
			return -1;
		}
	}
	if (c->rx_len + len > BENCH_MAX_TEXT_MESSAGE) {
		c->rx_overflow = true;
	} else {
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi)) {
		if (c->rx_overflow)
			note_error(b, "client_message_too_large");
		else
			on_text_message(c, c->rx, c->rx_len);
		c->rx_len = 0;
		c->rx_overflow = false;
	}
	return 0;
}

static int on_writeable(struct conn *c)
{
	struct bench *b = c->b;
	const char *msg;
	size_t len;
	if (c->thinking)
		return 0;
	switch (c->pending) {
	case SEND_ANSWER:
		msg = b->answer_msg;
		len = b->answer_len;
		break;
	case SEND_END:
		msg = b->end_msg;
		len = b->end_len;
		break;
	case SEND_NONE:
	default:
		return 0;
	}
	unsigned char buf[LWS_PRE + 4096];
	if (len > sizeof buf - LWS_PRE) {
		note_error(b, "client_answer_too_long");
		return -1;
	}
	memcpy(buf + LWS_PRE, msg, len);
	int n = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
	if (n < (int)len) {
		note_error(b, "client_write_failed");
		return -1;
	}
	if (c->pending == SEND_ANSWER) {
		c->t_answer_sent = now_ns();
		c->answered_once = true;
		b->answers_sent++;
	}
	c->pending = SEND_NONE;
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c) {
			if (!interrupted && !c->b->timed_out) {
				note_error(c->b, "connect_failed");
				if (!c->b->quiet)
					fprintf(stderr, "ivd_bench: session %u: connect failed: %s\n", c->index,
						in ? (const char *)in : "(no reason)");
			}
			c->error_noted = true;
			finish_conn(c);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->t_established = now_ns();
		c->state = CONN_OPEN;
		c->b->connected++;
		series_add(&c->b->upgrade_time, c->t_established - c->t_connect_start);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c);
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c) {
			if (!c->got_interview_end && !c->error_noted && !c->b->timed_out && !interrupted)
				note_error(c->b, "closed_before_interview_end");
			finish_conn(c);
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{.name = "ivd-bench", .callback = callback, .per_session_data_size = 0, .rx_buffer_size = 65536},
	{.name = NULL, .callback = NULL}, /* terminator */
};

static void start_connect(struct conn *c)
{
	struct bench *b = c->b;
	struct lws_client_connect_info info;
	memset(&info, 0, sizeof info);
	info.context = b->context;
	info.address = b->address;
	info.port = b->port;
	info.path = b->path;
	info.host = b->address;
	info.origin = b->address;
	info.ssl_connection = b->use_ssl ? LCCSCF_USE_SSL : 0;
	info.protocol = NULL; /* the daemon requires no subprotocol */
	info.local_protocol_name = protocols[0].name;
	info.userdata = c;
	info.pwsi = &c->wsi;
	c->state = CONN_CONNECTING;
	c->next_is_first = true;
	c->t_connect_start = now_ns();
	if (!lws_client_connect_via_info(&info)) {
		/* lws may already have called CLIENT_CONNECTION_ERROR (then the session is finished) */
		if (c->state != CONN_FINISHED) {
			note_error(b, "connect_failed");
			c->error_noted = true;
			finish_conn(c);
		}
	}
}

static void ramp_connect(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);
	start_connect(c);
}

static void on_timeout(lws_sorted_usec_list_t *sul)
{
	struct bench *b = lws_container_of(sul, struct bench, sul_timeout);
	b->timed_out = true;
	for (unsigned i = 0; i < b->sessions; i++) {
		struct conn *c = &b->conns[i];
		if (c->state != CONN_FINISHED)
			note_error(b, "timeout");
	}
	b->stop = true;
}

/* ------------------------------------------------------------------ output ---- */

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static cJSON *series_json(const struct series *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "count", (double)s->n);
	cJSON_AddNumberToObject(o, "p50_ms", ms(percentile(s, 50)));
	cJSON_AddNumberToObject(o, "p90_ms", ms(percentile(s, 90)));
	cJSON_AddNumberToObject(o, "p99_ms", ms(percentile(s, 99)));
	cJSON_AddNumberToObject(o, "max_ms", ms(s->n ? s->v[s->n - 1] : 0));
	if (s->dropped)
		cJSON_AddNumberToObject(o, "dropped", (double)s->dropped);
	return o;
}

static void series_text(FILE *out, const struct series *s)
{
	fprintf(out, "  %-36s n=%-7zu p50 %8.3f  p90 %8.3f  p99 %8.3f  max %8.3f ms\n", s->name, s->n,
		ms(percentile(s, 50)), ms(percentile(s, 90)), ms(percentile(s, 99)),
		ms(s->n ? s->v[s->n - 1] : 0));
}

static double client_cpu_s(bool system)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return -1.0;
	const struct timeval *tv = system ? &ru.ru_stime : &ru.ru_utime;
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static unsigned long total_errors(const struct bench *b)
{
	unsigned long n = b->errors_other;
	for (unsigned i = 0; i < b->n_error_codes; i++)
		n += b->errors[i].count;
	return n;
}

static void print_text(const struct bench *b, FILE *out)
{
	double wall = (double)(b->t_end - b->t_start) / 1e9;
	fprintf(out, "ivd_bench: %u sessions against %s (ramp %u ms, think %u ms, questions %s)\n",
		b->sessions, b->url, b->ramp_ms, b->think_ms, b->questions ? "limited" : "all");
	if (b->questions)
		fprintf(out, "  questions per session: %u\n", b->questions);
	fprintf(out, "  connected %lu, completions %lu, questions ended %lu (%lu with audio), answers sent %lu\n",
		b->connected, b->completions, b->questions_ended, b->questions_with_audio, b->answers_sent);
	fprintf(out, "  audio %llu bytes in %llu messages, text %llu bytes, wall %.3f s%s\n", b->audio_bytes,
		b->audio_messages, b->text_bytes, wall, b->timed_out ? " (TIMED OUT)" : "");
	fprintf(out, "  time to first audio byte:\n");
	series_text(out, &b->first_from_connect);
	series_text(out, &b->first_from_upgrade);
	series_text(out, &b->next_from_answer);
	series_text(out, &b->from_question_start);
	series_text(out, &b->next_from_question_start);
	series_text(out, &b->upgrade_time);
	fprintf(out, "  client CPU: user %.3f s, system %.3f s\n", client_cpu_s(false), client_cpu_s(true));
	fprintf(out, "  errors: %lu", total_errors(b));
	for (unsigned i = 0; i < b->n_error_codes; i++)
		fprintf(out, "%s%s=%lu", i ? ", " : " (", b->errors[i].code, b->errors[i].count);
	if (b->errors_other)
		fprintf(out, ", other=%lu", b->errors_other);
	fprintf(out, "%s\n", b->n_error_codes ? ")" : "");
	if (b->daemon_pid > 0) {
		fprintf(out, "  daemon pid %ld: RSS before %ld KiB (peak %ld), at end %ld KiB (peak %ld)\n",
			b->daemon_pid, b->rss_before_kb, b->hwm_before_kb, b->rss_end_kb, b->hwm_end_kb);
		if (b->idle_hold_s && b->rss_idle_samples) {
			long delta = b->rss_idle_kb - b->rss_before_kb;
			fprintf(out, "  idle: %u sessions, RSS %ld KiB (max %ld), +%ld KiB = %.1f KiB per session\n",
				b->idle_sessions, b->rss_idle_kb, b->rss_idle_max_kb, delta,
				b->idle_sessions ? (double)delta / (double)b->idle_sessions : 0.0);
		}
	}
}

static int print_json(const struct bench *b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "url", b->url);
	cJSON_AddNumberToObject(o, "sessions", b->sessions);
	cJSON_AddNumberToObject(o, "ramp_ms", b->ramp_ms);
	cJSON_AddNumberToObject(o, "think_ms", b->think_ms);
	cJSON_AddNumberToObject(o, "questions_limit", b->questions);
	cJSON_AddNumberToObject(o, "idle_hold_s", b->idle_hold_s);
	cJSON_AddNumberToObject(o, "connected", (double)b->connected);
	cJSON_AddNumberToObject(o, "completions", (double)b->completions);
	cJSON_AddNumberToObject(o, "questions_ended", (double)b->questions_ended);
	cJSON_AddNumberToObject(o, "questions_with_audio", (double)b->questions_with_audio);
	cJSON_AddNumberToObject(o, "answers_sent", (double)b->answers_sent);
	cJSON_AddNumberToObject(o, "audio_bytes", (double)b->audio_bytes);
	cJSON_AddNumberToObject(o, "audio_messages", (double)b->audio_messages);
	cJSON_AddNumberToObject(o, "text_bytes", (double)b->text_bytes);
	cJSON_AddNumberToObject(o, "wall_s", (double)(b->t_end - b->t_start) / 1e9);
	cJSON_AddBoolToObject(o, "timed_out", b->timed_out);
	cJSON_AddNumberToObject(o, "client_cpu_user_s", client_cpu_s(false));
	cJSON_AddNumberToObject(o, "client_cpu_system_s", client_cpu_s(true));
	cJSON *lat = cJSON_AddObjectToObject(o, "first_audio_latency");
	cJSON_AddItemToObject(lat, "first_question_from_connect", series_json(&b->first_from_connect));
	cJSON_AddItemToObject(lat, "first_question_from_upgrade", series_json(&b->first_from_upgrade));
	cJSON_AddItemToObject(lat, "next_question_from_answer", series_json(&b->next_from_answer));
	cJSON_AddItemToObject(lat, "any_question_from_question_start", series_json(&b->from_question_start));
	cJSON_AddItemToObject(lat, "next_question_from_question_start",
			      series_json(&b->next_from_question_start));
	cJSON_AddItemToObject(o, "upgrade_latency", series_json(&b->upgrade_time));
	cJSON *errors = cJSON_AddObjectToObject(o, "errors");
	for (unsigned i = 0; i < b->n_error_codes; i++)
		cJSON_AddNumberToObject(errors, b->errors[i].code, (double)b->errors[i].count);
	if (b->errors_other)
		cJSON_AddNumberToObject(errors, "other", (double)b->errors_other);
	cJSON_AddNumberToObject(o, "errors_total", (double)total_errors(b));
	if (b->daemon_pid > 0) {
		cJSON *m = cJSON_AddObjectToObject(o, "daemon_memory_kib");
		cJSON_AddNumberToObject(m, "pid", (double)b->daemon_pid);
		cJSON_AddNumberToObject(m, "rss_before", (double)b->rss_before_kb);
		cJSON_AddNumberToObject(m, "hwm_before", (double)b->hwm_before_kb);
		cJSON_AddNumberToObject(m, "rss_end", (double)b->rss_end_kb);
		cJSON_AddNumberToObject(m, "hwm_end", (double)b->hwm_end_kb);
		if (b->idle_hold_s && b->rss_idle_samples) {
			cJSON_AddNumberToObject(m, "idle_sessions", b->idle_sessions);
			cJSON_AddNumberToObject(m, "rss_idle", (double)b->rss_idle_kb);
			cJSON_AddNumberToObject(m, "rss_idle_max", (double)b->rss_idle_max_kb);
			cJSON_AddNumberToObject(m, "per_idle_session",
						b->idle_sessions ? (double)(b->rss_idle_kb - b->rss_before_kb) /
									   (double)b->idle_sessions
								 : 0.0);
		}
	}
	char *text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return -1;
	printf("%s\n", text);
	free(text);
	return 0;
}

/* ------------------------------------------------------------------ setup ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ivd_bench --url ws://HOST:PORT/PATH [options]\n"
		"  --sessions N      concurrent sessions (default 1)\n"
		"  --ramp-ms MS      spread the connects evenly over MS milliseconds (default 0)\n"
		"  --answer TEXT     text answer sent after each question_end (default \"bench answer\")\n"
		"  --questions N     stop each session after N questions with {\"type\":\"end\"} (default all)\n"
		"  --timeout-s S     give up after S seconds (default 300)\n"
		"  --think-ms MS     wait MS after each question_end before answering (default 0)\n"
		"  --idle-hold-s S   after its questions (--questions, default 1 here) each session holds the\n"
		"                    connection; once all do, hold S seconds, then send end\n"
		"  --daemon-pid PID  sample the daemon's VmRSS/VmHWM (before, during the hold, at the end)\n"
		"  --json            JSON results on stdout (the text report then goes to stderr)\n"
		"  --quiet           no progress lines on stderr\n"
		"exit status: 0 if every session got interview_end and no error, 1 otherwise, 2 on usage\n");
}

static bool parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return false;
	*out = (unsigned)v;
	return true;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},       {"sessions", required_argument, NULL, 'n'},
		{"ramp-ms", required_argument, NULL, 'r'},   {"answer", required_argument, NULL, 'a'},
		{"questions", required_argument, NULL, 'q'}, {"timeout-s", required_argument, NULL, 't'},
		{"think-ms", required_argument, NULL, 'k'},
		{"idle-hold-s", required_argument, NULL, 'i'}, {"daemon-pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},            {"quiet", no_argument, NULL, 'Q'},
		{"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
	};
	bool questions_given = false;
	int opt, longindex = 0;
	while ((opt = getopt_long(argc, argv, "", opts, &longindex)) != -1) {
		unsigned v = 0;
		switch (opt) {
		case 'u':
			b->url = optarg;
			break;
		case 'n':
			if (!parse_uint(optarg, BENCH_MAX_SESSIONS, &v) || !v)
				goto bad;
			b->sessions = v;
			break;
		case 'r':
			if (!parse_uint(optarg, 3600000, &v))
				goto bad;
			b->ramp_ms = v;
			break;
		case 'a':
			b->answer = optarg;
			break;
		case 'q':
			if (!parse_uint(optarg, 1000000, &v))
				goto bad;
			b->questions = v;
			questions_given = true;
			break;
		case 't':
			if (!parse_uint(optarg, 86400, &v) || !v)
				goto bad;
			b->timeout_s = v;
			break;
		case 'k':
			if (!parse_uint(optarg, 3600000, &v))
				goto bad;
			b->think_ms = v;
			break;
		case 'i':
			if (!parse_uint(optarg, 86400, &v))
				goto bad;
			b->idle_hold_s = v;
			break;
		case 'p':
			if (!parse_uint(optarg, INT_MAX, &v) || !v)
				goto bad;
			b->daemon_pid = (long)v;
			break;
		case 'j':
			b->json = true;
			break;
		case 'Q':
			b->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "ivd_bench: bad value for --%s: '%s' (a number in range expected)\n",
			opts[longindex].name, optarg);
		return -1;
	}
	if (optind < argc || !b->url) {
		usage(stderr);
		return -1;
	}
	if (b->idle_hold_s && !questions_given)
		b->questions = 1;
	if (strlen(b->answer) > 3000) {
		fprintf(stderr, "ivd_bench: --answer is longer than 3000 bytes\n");
		return -1;
	}
	/* lws_parse_uri writes into its input and drops the path's leading '/' */
	if (snprintf(b->url_buf, sizeof b->url_buf, "%s", b->url) >= (int)sizeof b->url_buf) {
		fprintf(stderr, "ivd_bench: --url too long\n");
		return -1;
	}
	const char *prot = NULL, *address = NULL, *path = NULL;
	int port = 0;
	if (lws_parse_uri(b->url_buf, &prot, &address, &port, &path) || !address[0]) {
		fprintf(stderr, "ivd_bench: cannot parse --url '%s'\n", b->url);
		return -1;
	}
	if (strcmp(prot, "ws") == 0) {
		b->use_ssl = false;
	} else if (strcmp(prot, "wss") == 0) {
		b->use_ssl = true;
	} else {
		fprintf(stderr, "ivd_bench: --url must start with ws:// or wss://\n");
		return -1;
	}
	b->address = address;
	b->port = port;
	snprintf(b->path, sizeof b->path, "/%s", path);
	return 0;
}

static int build_messages(struct bench *b)
{
	cJSON *answer = cJSON_CreateObject();
	cJSON *end = cJSON_CreateObject();
	if (!answer || !end || !cJSON_AddStringToObject(answer, "type", "answer") ||
	    !cJSON_AddStringToObject(answer, "text", b->answer) ||
	    !cJSON_AddStringToObject(end, "type", "end")) {
		cJSON_Delete(answer);
		cJSON_Delete(end);
		return -1;
	}
	b->answer_msg = cJSON_PrintUnformatted(answer);
	b->end_msg = cJSON_PrintUnformatted(end);
	cJSON_Delete(answer);
	cJSON_Delete(end);
	if (!b->answer_msg || !b->end_msg)
		return -1;
	b->answer_len = strlen(b->answer_msg);
	b->end_len = strlen(b->end_msg);
	return 0;
}

/* Each session needs one fd: raise the soft limit towards the hard one if it is too low. */
static void raise_fd_limit(unsigned sessions)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	rlim_t want = (rlim_t)sessions + 256;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		fprintf(stderr, "ivd_bench: warning: open-file limit %llu is below %llu (ulimit -n)\n",
			(unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

int main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	b->sessions = 1;
	b->answer = "bench answer";
	b->timeout_s = 300;
	b->first_from_connect.name = "first question, from TCP connect start";
	b->first_from_upgrade.name = "first question, from upgrade complete";
	b->next_from_answer.name = "next questions, from answer sent";
	b->from_question_start.name = "any question, from question_start";
	b->next_from_question_start.name = "next questions, from question_start";
	b->upgrade_time.name = "(connect start to upgrade complete)";
	if (parse_args(b, argc, argv))
		return 2;
	if (build_messages(b)) {
		fprintf(stderr, "ivd_bench: out of memory\n");
		return 1;
	}
	raise_fd_limit(b->sessions);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR, NULL);

	b->conns = calloc(b->sessions, sizeof *b->conns);
	if (!b->conns) {
		fprintf(stderr, "ivd_bench: out of memory\n");
		return 1;
	}
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	if (b->use_ssl)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	b->context = lws_create_context(&info);
	if (!b->context) {
		fprintf(stderr, "ivd_bench: cannot create the libwebsockets context\n");
		return 1;
	}

	if (b->daemon_pid > 0) {
		read_rss(b->daemon_pid, &b->rss_before_kb, &b->hwm_before_kb);
		if (b->rss_before_kb < 0) {
			fprintf(stderr, "ivd_bench: cannot read /proc/%ld/status\n", b->daemon_pid);
			return 1;
		}
		b->rss_idle_max_kb = 0;
	}

	b->t_start = now_ns();
	lws_sul_schedule(b->context, 0, &b->sul_timeout, on_timeout,
			 (lws_usec_t)b->timeout_s * LWS_US_PER_SEC);
	for (unsigned i = 0; i < b->sessions; i++) {
		struct conn *c = &b->conns[i];
		c->b = b;
		c->index = i;
		c->state = CONN_WAITING;
	}
	for (unsigned i = 0; i < b->sessions; i++) {
		struct conn *c = &b->conns[i];
		uint64_t at_us = b->sessions > 1 ? (uint64_t)b->ramp_ms * 1000u * i / b->sessions : 0;
		if (!at_us)
			start_connect(c);
		else
			lws_sul_schedule(b->context, 0, &c->sul, ramp_connect, (lws_usec_t)at_us);
	}

	while (!b->stop && !interrupted) {
		if (lws_service(b->context, 0) < 0)
			break;
	}
	b->t_end = now_ns();
	if (interrupted)
		note_error(b, "interrupted");
	if (b->daemon_pid > 0)
		read_rss(b->daemon_pid, &b->rss_end_kb, &b->hwm_end_kb);
	lws_context_destroy(b->context);

	struct series *all[] = {&b->first_from_connect, &b->first_from_upgrade, &b->next_from_answer,
				&b->from_question_start, &b->next_from_question_start, &b->upgrade_time};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		qsort(all[i]->v, all[i]->n, sizeof(int64_t), cmp_i64);

	int rc = 0;
	if (b->json) {
		print_text(b, stderr);
		if (print_json(b))
			rc = 1;
	} else {
		print_text(b, stdout);
	}
	if (b->completions != b->sessions || total_errors(b))
		rc = 1;

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]->v);
	for (unsigned i = 0; i < b->sessions; i++)
		free(b->conns[i].rx);
	free(b->conns);
	cJSON_free(b->answer_msg);
	cJSON_free(b->end_msg);
	return rc;
}
