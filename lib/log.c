/* log.c — operator log lines on stderr. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "jarena.h"

static const char *log_prog = "chartdepot";
static bool log_json;
static bool log_debug_on;

void log_setup(const char *prog, bool json, bool debug)
{
	log_prog = prog;
	log_json = json;
	log_debug_on = debug;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char text[2048];
	va_list ap;

	if (lvl == LOG_LVL_DEBUG && !log_debug_on)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);

	if (log_json) {
		char ts[40];
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "ts", ts, "level",
		                      names[lvl], "prog", log_prog, "pid",
		                      (int)getpid(), "msg", text);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		jarena_free_text(line);
		json_decref(o);
	} else {
		fprintf(stderr, "%s %s[%d]: %s\n", names[lvl], log_prog,
		        (int)getpid(), text);
	}
}
