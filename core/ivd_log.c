/* Daemon logging: formats one line per event and writes it to stderr with a single write(2). */
#include "ivd_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = IVD_LOG_INFO;

static const char *const level_names[] = {"", "error", "warn", "info", "debug"};

void ivd_log_set_level(enum ivd_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool ivd_log_enabled(enum ivd_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

enum ivd_log_level ivd_log_level_from_name(const char *name)
{
	for (int i = IVD_LOG_ERROR; i <= IVD_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return (enum ivd_log_level)i;
	return 0;
}

const char *ivd_log_level_name(enum ivd_log_level level)
{
	if (level < IVD_LOG_ERROR || level > IVD_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void ivd_logv(enum ivd_log_level level, const char *fmt, va_list args)
{
	if (!ivd_log_enabled(level))
		return;
	char line[2048];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t used = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line + used, sizeof line - used, ".%03ldZ %-5s ", now.tv_nsec / 1000000L,
	                 ivd_log_level_name(level));
	if (n > 0)
		used += (size_t)n;
	n = vsnprintf(line + used, sizeof line - used, fmt, args);
	if (n < 0)
		n = 0;
	used += (size_t)n;
	if (used > sizeof line - 2)
		used = sizeof line - 2; /* truncated: keep the newline */
	/* One event is one line: fold embedded newlines. */
	for (size_t i = 0; i < used; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[used++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, used);
	(void)ignored;
}

void ivd_log(enum ivd_log_level level, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	ivd_logv(level, fmt, args);
	va_end(args);
}
