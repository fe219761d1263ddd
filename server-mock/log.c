/* SPDX-License-Identifier: MIT */
/* Logging to stderr: one line per event, with time, node name and level. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mock.h"

static enum mock_log_level mock_log_level = MOCK_LOG_INFO;
static char mock_log_name[RPC_NAME_MAX + 1] = MOCK_PROG;

static const char *const mock_log_names[MOCK_LOG_MAX] = {
	[MOCK_LOG_ERROR] = "error",
	[MOCK_LOG_WARN] = "warn",
	[MOCK_LOG_INFO] = "info",
	[MOCK_LOG_DEBUG] = "debug",
};

void mock_log_set_level(enum mock_log_level level)
{
	mock_log_level = level;
}

void mock_log_set_name(const char *name)
{
	snprintf(mock_log_name, sizeof(mock_log_name), "%s", name);
}

bool mock_log_enabled(enum mock_log_level level)
{
	return level <= mock_log_level;
}

int mock_log_parse_level(const char *text, enum mock_log_level *out)
{
	for (int i = 0; i < MOCK_LOG_MAX; i++) {
		if (strcmp(text, mock_log_names[i]) == 0) {
			*out = (enum mock_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void mock_log(enum mock_log_level level, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (!mock_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* One fprintf per line so lines of several nodes do not interleave. */
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%s] %s: %s\n",
		tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		MOCK_PROG, mock_log_name, mock_log_names[level], msg);
}
