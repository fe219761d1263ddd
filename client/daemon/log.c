/* SPDX-License-Identifier: MIT */
/* The daemon's log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "vduse-netblk";
static int log_max_level = LOG_NOTICE;
static bool log_syslog;

static const char *const log_level_names[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",
	[LOG_CRIT] = "critical", [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, int level)
{
	log_ident = ident;
	log_max_level = level;
}

void log_use_syslog(void)
{
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

int log_level(void)
{
	return log_max_level;
}

int log_parse_level(const char *name)
{
	unsigned int i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

static void log_emit(int level, const char *text)
{
	char line[1200];
	struct timespec ts;
	struct tm tm;
	int n;

	if (log_syslog) {
		syslog(level, "%s", text);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d]: %s: %s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
		     (int)getpid(), log_level_names[level & 7], text);
	if (n >= (int)sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per message keeps lines whole across threads. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(int level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_emit(level, text);
}

void log_engine_sink(void *opaque, int level, const char *msg)
{
	const char *prefix = opaque;

	if (level > log_max_level)
		return;
	if (prefix)
		log_msg(level, "%s: %s", prefix, msg);
	else
		log_emit(level, msg);
}
