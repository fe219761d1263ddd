/* SPDX-License-Identifier: MIT */
/* The log of every program: stderr or syslog, by level (logging.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

#define LOG_TAG_MAX 255

/* The daemon's defaults, for messages logged before nb_log_init(). */
static const char *log_ident = "vduse-netblk";
static int log_max_level = LOG_NOTICE;
static enum log_style log_line_style = LOG_STYLE_DATE_PID;
static char log_tag[LOG_TAG_MAX + 1];
static bool log_syslog;

/* Level names of LOG_STYLE_DATE_PID lines, and what nb_log_parse_level reads. */
static const char *const log_level_names[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",
	[LOG_CRIT] = "critical", [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* The shorter names of LOG_STYLE_TIME_TAG lines. */
static const char *const log_level_short_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit", [LOG_ERR] = "error",
	[LOG_WARNING] = "warn", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void nb_log_init(const char *ident, int level)
{
	log_ident = ident;
	log_max_level = level;
}

void nb_log_set_style(enum log_style style)
{
	if ((unsigned int)style < LOG_STYLE_MAX)
		log_line_style = style;
}

void nb_log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

void nb_log_use_syslog(void)
{
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

int nb_log_level(void)
{
	return log_max_level;
}

int nb_log_parse_level(const char *name)
{
	unsigned int i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

/* The start of a stderr line, up to the text; returns its length. */
static int log_format_prefix(int level, char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (log_line_style == LOG_STYLE_TIME_TAG)
		return snprintf(buf, len, "%02d:%02d:%02d.%03ld %s[%s] %s: ",
				tm.tm_hour, tm.tm_min, tm.tm_sec,
				ts.tv_nsec / 1000000, log_ident, log_tag,
				log_level_short_names[level & 7]);
	return snprintf(buf, len,
			"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d]: %s: ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			log_ident, (int)getpid(), log_level_names[level & 7]);
}

void nb_log_text(int level, const char *text)
{
	char line[1600];
	int n;

	if (level > log_max_level)
		return;
	if (log_syslog) {
		syslog(level, "%s", text);
		return;
	}
	n = log_format_prefix(level, line, sizeof(line));
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "%s\n", text);
	if (n >= (int)sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per message keeps lines whole across threads. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void nb_log_msg(int level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	nb_log_text(level, text);
}
