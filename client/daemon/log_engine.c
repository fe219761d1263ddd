/* SPDX-License-Identifier: MIT */
/* The engine's messages into the daemon's log (nb_log_engine_sink, log.h). */
#include "log.h"

void nb_log_engine_sink(void *opaque, int level, const char *msg)
{
	const char *prefix = opaque;

	if (prefix)
		nb_log_msg(level, "%s: %s", prefix, msg);
	else
		nb_log_text(level, msg);
}
