/* Daemon logging: one line per event on stderr, with a UTC timestamp and a level. */
#ifndef IVD_LOG_H
#define IVD_LOG_H

#include <interviewd/plugin.h>
#include <stdarg.h>
#include <stdbool.h>

/* Set the most verbose level written.  Thread-safe. */
void ivd_log_set_level(enum ivd_log_level level);
bool ivd_log_enabled(enum ivd_log_level level);
/* Parse "error", "warn", "info", "debug"; returns 0 if unknown. */
enum ivd_log_level ivd_log_level_from_name(const char *name);
const char *ivd_log_level_name(enum ivd_log_level level);

void ivd_log(enum ivd_log_level level, const char *fmt, ...) IVD_PRINTF(2, 3);
void ivd_logv(enum ivd_log_level level, const char *fmt, va_list args) IVD_PRINTF(2, 0);

#define ivd_log_error(...) ivd_log(IVD_LOG_ERROR, __VA_ARGS__)
#define ivd_log_warn(...) ivd_log(IVD_LOG_WARN, __VA_ARGS__)
#define ivd_log_info(...) ivd_log(IVD_LOG_INFO, __VA_ARGS__)
#define ivd_log_debug(...)                                                                         \
	do {                                                                                       \
		if (ivd_log_enabled(IVD_LOG_DEBUG))                                                \
			ivd_log(IVD_LOG_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
