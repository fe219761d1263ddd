/* SPDX-License-Identifier: MIT */
/* The log of every program: stderr or syslog, by level (logging.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
static bool log_journal;

/*
 * Repeated warnings and errors: the last texts printed, by hash, with when
 * they were printed and how many identical ones were left out since.
 */
#define LOG_REPEAT_SLOTS 32
struct log_repeat {
	uint64_t hash;
	time_t printed;
	unsigned int left_out;
};
static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];
static unsigned int log_repeat_next;
static unsigned int log_repeat_window = 60;
static pthread_mutex_t log_repeat_lock = PTHREAD_MUTEX_INITIALIZER;

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

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd gave us; stderr is
 * the journal only while it is still that file (not redirected since). */
static bool log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void nb_log_init(const char *ident, int level)
{
	log_ident = ident;
	log_max_level = level;
	log_journal = log_stderr_is_journal();
}

bool nb_log_to_journal(void)
{
	return log_journal;
}

void nb_log_set_repeat_window(unsigned int seconds)
{
	pthread_mutex_lock(&log_repeat_lock);
	log_repeat_window = seconds;
	pthread_mutex_unlock(&log_repeat_lock);
}

/* FNV-1a of the level and text. */
static uint64_t log_hash(int level, const char *text)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (unsigned int)level;

	for (; *text; text++)
		h = (h ^ (unsigned char)*text) * 0x100000001b3ULL;
	return h ? h : 1;
}

/*
 * Whether to print a warning or error now. Returns false to leave it out;
 * else true, with *left_out how many identical ones were left out before.
 */
static bool log_repeat_check(int level, const char *text,
			     unsigned int *left_out)
{
	uint64_t h = log_hash(level, text);
	struct timespec ts;
	struct log_repeat *r;
	bool print = true;
	unsigned int i;

	*left_out = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&log_repeat_lock);
	for (i = 0; i < LOG_REPEAT_SLOTS; i++)
		if (log_repeats[i].hash == h)
			break;
	if (i < LOG_REPEAT_SLOTS) {
		r = &log_repeats[i];
		if (ts.tv_sec - r->printed < (time_t)log_repeat_window) {
			r->left_out++;
			print = false;
		} else {
			*left_out = r->left_out;
			r->left_out = 0;
			r->printed = ts.tv_sec;
		}
	} else {
		r = &log_repeats[log_repeat_next++ % LOG_REPEAT_SLOTS];
		*r = (struct log_repeat){ .hash = h, .printed = ts.tv_sec };
	}
	pthread_mutex_unlock(&log_repeat_lock);
	return print;
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
	char line[1600], again[96] = "";
	unsigned int left_out;
	int n;

	if (level > log_max_level)
		return;
	if (level <= LOG_WARNING) {
		if (!log_repeat_check(level, text, &left_out))
			return;
		if (left_out)
			snprintf(again, sizeof(again),
				 " (%u more times since last printed)",
				 left_out);
	}
	if (log_syslog) {
		syslog(level, "%s%s", text, again);
		return;
	}
	if (log_journal && log_line_style == LOG_STYLE_TIME_TAG && log_tag[0])
		n = snprintf(line, sizeof(line), "<%d>[%s] ", level & 7, log_tag);
	else if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", level & 7);
	else
		n = log_format_prefix(level, line, sizeof(line));
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "%s%s\n", text, again);
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
