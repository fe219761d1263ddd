/* SPDX-License-Identifier: MIT */
/* The engine's messages into the daemon's log (log_engine_sink, log.h). */
#include "log.h"

void log_engine_sink(void *opaque, int level, const char *msg)
{
	const char *prefix = opaque;

	if (prefix)
		log_msg(level, "%s: %s", prefix, msg);
	else
		log_text(level, msg);
}
