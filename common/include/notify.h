/* SPDX-License-Identifier: MIT */
/*
 * Telling systemd how a service (the daemon, the agent, netblk-node) is
 * doing (sd_notify(3)): READY=1 once it serves (Type=notify units; the
 * daemon once the kernel made its disk), STATUS= lines
 * that `systemctl status` shows, STOPPING=1, and the watchdog pings of
 * WatchdogSec= from a timer on the main loop, so that a loop that stops
 * turning gets the process restarted. Without $NOTIFY_SOCKET (not under
 * systemd) every call does nothing.
 */
#ifndef NETBLK_NOTIFY_H
#define NETBLK_NOTIFY_H

#include <ev.h>

/* READY=1 and STATUS=status. */
void nb_notify_ready(const char *status);
/* STATUS=text (printf format). */
void nb_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1 and STATUS=status. */
void nb_notify_stopping(const char *status);
/*
 * When the unit has WatchdogSec= (sd_watchdog_enabled), ping WATCHDOG=1
 * from loop at half the interval until nb_notify_watchdog_stop. Returns
 * the interval in seconds, or 0 when there is no watchdog.
 */
double nb_notify_watchdog_start(struct ev_loop *loop);
void nb_notify_watchdog_stop(struct ev_loop *loop);

#endif
