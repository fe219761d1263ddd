/* SPDX-License-Identifier: MIT */
/*
 * The log of every program (the daemon, its agent, the storage nodes):
 * one destination for every thread, stderr with a timestamp or syslog,
 * filtered by a syslog level (LOG_ERR .. LOG_DEBUG). Thread safe: each
 * message goes out in one write(2). Messages are cut at 1023 bytes.
 *
 * When stderr is the journal (systemd sets $JOURNAL_STREAM to its device
 * and inode), lines carry the syslog priority instead of a timestamp,
 * "<3>text" (sd-daemon(3)), so that `journalctl -p err` finds errors.
 * The same warning or error text repeated within the repeat window (60 s)
 * is printed once; its next line after the window says how many were
 * left out.
 *
 * Set it up (nb_log_init, nb_log_set_style, nb_log_set_tag, nb_log_use_syslog) before
 * other threads log.
 */
#ifndef NETBLK_LOGGING_H
#define NETBLK_LOGGING_H

#include <stdbool.h>
#include <syslog.h>

/* How a line on stderr starts. */
enum log_style {
	/* "2026-12-03T03:30:19.123Z IDENT[PID]: warning: text" (default) */
	LOG_STYLE_DATE_PID,
	/* "03:30:19.123 IDENT[TAG] warn: text" (the storage nodes) */
	LOG_STYLE_TIME_TAG,
	LOG_STYLE_MAX
};

/*
 * ident names the program in every line and must outlive the log; level
 * is the highest level printed. Before the call: "vduse-netblk" and
 * LOG_NOTICE.
 */
void nb_log_init(const char *ident, int level);
void nb_log_set_style(enum log_style style);
/* The TAG of LOG_STYLE_TIME_TAG lines (copied, cut at 255 bytes; empty
 * until set). */
void nb_log_set_tag(const char *tag);
/* Send every message to syslog from now on (after daemonizing). */
void nb_log_use_syslog(void);
/* Seconds within which an identical warning or error is printed once (0:
 * every time, still counting those left out before). Default 60. */
void nb_log_set_repeat_window(unsigned int seconds);
/* Whether lines go to the journal with "<N>" priorities (decided by
 * nb_log_init from $JOURNAL_STREAM and stderr). */
bool nb_log_to_journal(void);

int nb_log_level(void);
static inline bool log_enabled(int level)
{
	return level <= nb_log_level();
}

void nb_log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One message already formatted (not cut at 1023 bytes). */
void nb_log_text(int level, const char *text);

/* "error", "warning" or "warn", "notice", "info", "debug" -> level, or -1. */
int nb_log_parse_level(const char *name);

#endif
