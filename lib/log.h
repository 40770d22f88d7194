/* log.h — operator log on stderr (journald under systemd).
 *
 * One line per event, plain "level prog: message" or, with LOG_JSON, one
 * JSON object per line.  Never pass a password or an Authorization header. */
#ifndef CD_LOG_H
#define CD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the program name, JSON output and whether debug lines are shown. */
void log_setup(const char *prog, bool json, bool debug);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
