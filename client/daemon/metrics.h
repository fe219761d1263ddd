/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics of the daemon and the agent: the text exposition
 * (metrics.c, pure) and its HTTP server (metrics_http.c, libmicrohttpd).
 *
 * The HTTP server runs on libmicrohttpd's own thread and never touches
 * the volumes: the owner's loop builds the exposition and the readiness
 * report and publishes them (nb_metrics_publish()) every
 * METRICS_PUBLISH_SECONDS; the server answers from the last snapshot,
 * under a lock. Paths:
 *   /metrics  200, the exposition
 *   /healthz  200 while the loop publishes (its last snapshot is at most
 *             METRICS_STALE_SECONDS old), else 503: the loop is stuck
 *   /readyz   200 when every volume is attached, else 503; the body lists
 *             each volume and its state
 * any other path 404; a method other than GET or HEAD 405.
 */
#ifndef NETBLK_METRICS_H
#define NETBLK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "volume.h"

#define METRICS_PUBLISH_SECONDS 1.0
#define METRICS_STALE_SECONDS   30.0

/* One volume as the exposition shows it. */
struct metrics_volume {
	const char *volume;        /* the cluster's volume id */
	const char *name;          /* VDUSE / vDPA device name */
	const char *disk;          /* kernel disk name ("vda"), "" if none */
	bool up;                   /* attached and served */
	struct volume_stats stats; /* zero when not up */
};

/*
 * Write the exposition (text format 0.0.4) of n volumes to f, with
 * vduse_netblk_build_info{program=PROGRAM,version=...}. 0 or -EIO.
 */
int nb_metrics_write(FILE *f, const char *program,
		     const struct metrics_volume *vols, size_t n);

/* Write s as a label value: backslash, double quote and newline
 * escaped. */
void nb_metrics_write_label(FILE *f, const char *s);

/* The kernel's disk name of a device node: "/dev/vda" -> "vda"; "" for
 * nodes that are no virtio disk (vhost-vdpa, /dev/vduse/NAME). */
void nb_metrics_disk_name(const char *node, char *out, size_t len);

/*
 * Parse --metrics ADDR:PORT: a numeric IPv4 address or [IPv6] in
 * brackets, and a port from 1 to 65535. 0, or -EINVAL with a message
 * saying what is wrong in err.
 */
int nb_metrics_parse_addr(const char *addr, struct sockaddr_storage *ss,
			  socklen_t *sslen, char *err, size_t errlen);

struct metrics_server;

/*
 * Listen on addr and start the server's thread. Returns the server, or
 * NULL with errno set and a message in err (bad address, cannot bind).
 * Until the first nb_metrics_publish(), /metrics and /readyz answer 503.
 */
struct metrics_server *nb_metrics_start(const char *addr, char *err,
					size_t errlen);

/*
 * Publish a snapshot (copied): the exposition, whether the owner is
 * ready, and the text /readyz shows. Also the heartbeat /healthz checks.
 * 0 or -ENOMEM (the previous snapshot stays).
 */
int nb_metrics_publish(struct metrics_server *m, const char *metrics,
		       bool ready, const char *ready_text);

/* Stop the thread, close the socket, free. NULL is a no-op. */
void nb_metrics_stop(struct metrics_server *m);

#endif
