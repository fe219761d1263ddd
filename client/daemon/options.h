/* SPDX-License-Identifier: MIT */
/*
 * The settings of a served volume: their defaults, limits and checks, in
 * one place for the three ways they are given: the daemon's command line
 * (cmdline.c), the agent's own options (agent/args.c) and the agent's
 * spec files (agent/spec.c).
 *
 * The options_parse_* functions print nothing: each returns 0 and stores
 * the value, or a negative errno and leaves *out alone, so that the caller
 * says what was wrong in its own words (naming the option or the spec
 * line):
 *   -EINVAL  not of the form (parse.h)
 *   -ERANGE  a number, but outside the option's limits
 *   -EDOM    within the limits, but refused for another reason the
 *            function's comment names
 */
#ifndef NETBLK_OPTIONS_H
#define NETBLK_OPTIONS_H

#include "volume.h"
#include "vq.h"

/* TLS files when none are named. */
#define OPTIONS_DEFAULT_CA   "/etc/vduse-netblk/ca.crt"
#define OPTIONS_DEFAULT_CERT "/etc/vduse-netblk/client.crt"
#define OPTIONS_DEFAULT_KEY  "/etc/vduse-netblk/client.key"

/* Virtqueues, each served by its own worker thread. */
#define OPTIONS_QUEUES_DEFAULT     1
#define OPTIONS_QUEUES_MAX         VOLUME_MAX_QUEUES
/* Entries per virtqueue: a power of two. */
#define OPTIONS_QUEUE_SIZE_DEFAULT 256
#define OPTIONS_QUEUE_SIZE_MIN     4
#define OPTIONS_QUEUE_SIZE_MAX     VQ_MAX_SIZE
/* The kernel's bounce buffer, MiB: 0 (the kernel's default) or MIN..MAX. */
#define OPTIONS_BOUNCE_MB_DEFAULT  VOLUME_DEFAULT_BOUNCE_MB
#define OPTIONS_BOUNCE_MB_MIN      VOLUME_MIN_BOUNCE_MB
#define OPTIONS_BOUNCE_MB_MAX      VOLUME_MAX_BOUNCE_MB

/* Every duration is 0 to OPTIONS_SECONDS_MAX seconds. */
#define OPTIONS_SECONDS_MAX              1e6
#define OPTIONS_IO_TIMEOUT_DEFAULT       0.0   /* retry forever */
#define OPTIONS_CONNECT_TIMEOUT_DEFAULT  10.0  /* more than 0 */
#define OPTIONS_STOP_TIMEOUT_DEFAULT     5.0
#define OPTIONS_RESIZE_CHECK_DEFAULT     5.0   /* 0: never */

/*
 * Fill cfg with the defaults of every setting (LOG_NOTICE, the default
 * state directory, attached, ...); nodes, volume and name stay NULL.
 */
void nb_options_defaults(struct volume_config *cfg);

/* A number of virtqueues, 1..OPTIONS_QUEUES_MAX. */
int nb_options_parse_queues(const char *text, unsigned int *out);

/*
 * A virtqueue size, OPTIONS_QUEUE_SIZE_MIN..OPTIONS_QUEUE_SIZE_MAX;
 * -EDOM when it is not a power of two.
 */
int nb_options_parse_queue_size(const char *text, unsigned int *out);

/*
 * A bounce buffer size in MiB, 0..OPTIONS_BOUNCE_MB_MAX; -EDOM when it
 * is below OPTIONS_BOUNCE_MB_MIN but not 0.
 */
int nb_options_parse_bounce_mb(const char *text, unsigned int *out);

/* A duration, 0..OPTIONS_SECONDS_MAX seconds. */
int nb_options_parse_seconds(const char *text, double *out);

/*
 * A connect timeout: a duration as nb_options_parse_seconds(); -EDOM when
 * it is 0.
 */
int nb_options_parse_connect_timeout(const char *text, double *out);

/* A storage node's address, "host:port" or "[v6]:port" (-EINVAL). */
int nb_options_check_node(const char *addr);

/* A writer lock owner: 1 to 255 bytes, no control characters (-EINVAL). */
int nb_options_check_lock_owner(const char *owner);

/*
 * The writer lock owner of device name: "NAME@HOST" (HOST this machine's
 * host name), the same for every daemon that serves the device on this
 * host, so that a takeover keeps the lock. -ENAMETOOLONG when it does not
 * fit.
 */
int nb_options_lock_owner(const char *name, char *buf, size_t len);

#endif
