/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log: one destination for every thread (stderr with a
 * timestamp, or syslog once the daemon runs in the background), filtered
 * by a syslog level. Thread safe: each message is one write.
 */
#ifndef NETBLK_LOG_H
#define NETBLK_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* ident names the program in every line; level is LOG_ERR..LOG_DEBUG. */
void log_init(const char *ident, int level);
/* Switch to syslog (after daemonizing). */
void log_use_syslog(void);
int log_level(void);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "error", "warning", "notice", "info", "debug" -> level, or -1. */
int log_parse_level(const char *name);

/* A session_log_fn (session.h) that sends engine messages here;
 * opaque is a prefix such as "q0" or NULL. */
void log_engine_sink(void *opaque, int level, const char *msg);

#endif
