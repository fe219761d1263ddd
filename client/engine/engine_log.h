/* SPDX-License-Identifier: MIT */
/*
 * Log sink shared by the engine's modules (conn, session, admin). A
 * session owns one struct elog, built from its config; conns point to it.
 */
#ifndef NETBLK_ENGINE_LOG_H
#define NETBLK_ENGINE_LOG_H

#include <syslog.h>

#include "session.h"

struct elog {
	session_log_fn *fn;   /* NULL = stderr */
	void *opaque;
	int level;            /* highest level printed */
};

/* Format and emit msg at level if level <= log->level. */
void nb_elog_printf(const struct elog *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline bool elog_enabled(const struct elog *log, int level)
{
	return level <= log->level;
}

#endif
