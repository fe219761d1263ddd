/* SPDX-License-Identifier: MIT */
/* The engine's log sink: a session's log_fn, or stderr (engine_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "engine_log.h"

void nb_elog_printf(const struct elog *log, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!elog_enabled(log, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log->fn)
		log->fn(log->opaque, level, msg);
	else
		fprintf(stderr, "netblk-engine: %s\n", msg);
}
