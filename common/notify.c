/* SPDX-License-Identifier: MIT */
/* sd_notify(3) for the daemon, the agent and netblk-node (notify.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "logging.h"
#include "notify.h"

static ev_timer notify_watchdog_timer;
static bool notify_watchdog_on;

static void notify_send(const char *state)
{
	int ret = sd_notify(0, state);

	/* 0: not under systemd; a failure only costs systemd's view. */
	if (ret < 0)
		nb_log_msg(LOG_DEBUG, "sd_notify: %s", strerror(-ret));
}

void nb_notify_ready(const char *status)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(msg);
}

void nb_notify_status(const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	notify_send(msg);
}

void nb_notify_stopping(const char *status)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", status);
	notify_send(msg);
}

static void notify_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	notify_send("WATCHDOG=1");
}

double nb_notify_watchdog_start(struct ev_loop *loop)
{
	uint64_t usec = 0;
	double interval;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	interval = (double)usec / 1e6;
	ev_timer_init(&notify_watchdog_timer, notify_watchdog_cb, 0,
		      interval / 2);
	ev_timer_again(loop, &notify_watchdog_timer);
	/* The timer alone must not keep the loop running at stop. */
	ev_unref(loop);
	notify_watchdog_on = true;
	notify_send("WATCHDOG=1");
	return interval;
}

void nb_notify_watchdog_stop(struct ev_loop *loop)
{
	if (!notify_watchdog_on)
		return;
	ev_ref(loop);
	ev_timer_stop(loop, &notify_watchdog_timer);
	notify_watchdog_on = false;
}
