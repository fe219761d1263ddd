/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log: the common logger (logging.h: nb_log_init, nb_log_msg,
 * nb_log_use_syslog, nb_log_level, nb_log_parse_level) and its adapter for the
 * engine's messages (log_engine.c).
 */
#ifndef NETBLK_LOG_H
#define NETBLK_LOG_H

#include "logging.h"

/* A session_log_fn (session.h) that sends engine messages here;
 * opaque is a prefix such as "q0" or NULL. */
void nb_log_engine_sink(void *opaque, int level, const char *msg);

#endif
