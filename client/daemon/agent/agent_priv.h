/* SPDX-License-Identifier: MIT */
/*
 * Inside the agent (agent.h): its state and what its files share.
 *   agent.c    attach, detach, re-attach: the reconcile loop
 *   watch.c    the spec directory's inotify watch
 *   status.c   status files, by-volume links, the status command
 *   metrics.c  the Prometheus metrics server
 *   args.c     the options of agent and status
 *   files.c    reading and writing the agent's small files
 */
#ifndef NETBLK_AGENT_PRIV_H
#define NETBLK_AGENT_PRIV_H

#include <stdbool.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>

#include <ev.h>

#include "spec.h"
#include "volume.h"

#define AGENT_DEFAULT_SPEC_DIR "/etc/vduse-netblk/specs"
/* The loop's heartbeat in the run directory (agent.c), and how old it
 * may be before vduse-netblk status says the agent is not answering. */
#define AGENT_HEARTBEAT_FILE    "agent.heartbeat"
#define AGENT_HEARTBEAT_SECONDS 5.0
#define AGENT_HEARTBEAT_STALE   30

struct agent_disk {
	char name[64];                   /* kernel disk name, for metrics */
};

/* One spec file and what the agent made of it. */
struct agent_vol {
	char name[SPEC_STR_MAX + 1];     /* spec file base name */
	struct spec spec;
	bool parsed;
	struct volume *v;
	/* The disk is in use (mounted, held or open), so a change of the
	 * spec that needs a detach waits: removed, the spec file is gone;
	 * held, the spec changed and the attachment is the old one. */
	bool removed, held;
	/* When the current wait began (0: none); a force file older than
	 * that is stale and ignored. */
	time_t held_since;
	char message[512];
	struct agent_disk disk;
	struct agent_vol *next;
};

struct metrics_server;

struct agent {
	const char *spec_dir, *status_dir, *run_dir;
	const char *metrics;
	struct spec defaults;
	double connect_timeout;
	int log_level;
	struct ev_loop *loop;
	int inotify_fd;
	ev_io inotify_io;
	ev_timer retry_timer;
	struct metrics_server *metrics_srv;
	ev_timer metrics_timer;        /* publishes the metrics snapshot */
	ev_timer heartbeat_timer;      /* writes RUN/agent.heartbeat */
	struct agent_vol *vols;
};

/* The options of agent and status (args.c). */
struct agent_opts {
	const char *spec_dir, *status_dir, *run_dir, *metrics;
	const char *ca, *cert, *key;
	const char *tls_ciphersuites;	/* NULL: measured order */
	double connect_timeout;
	int log_level;
	bool ready, json;		/* status only */
};

/*
 * Parse argv (argv[0] is the subcommand). Returns 0; 1 after printing
 * the help (exit 0); -EINVAL after printing what is wrong (exit 2).
 */
int nb_agent_parse(int argc, char **argv, struct agent_opts *o);

/* ---- agent.c ---- */

/* Spec file NAME.spec was written: attach, re-attach, or report. */
void nb_agent_spec_changed(struct agent *a, const char *name);
/* Spec file NAME.spec went away: detach (unless its disk is in use). */
void nb_agent_spec_removed(struct agent *a, const char *name);
/* SPEC_DIR/NAME.force appeared: detach what waited for the disk. */
void nb_agent_force(struct agent *a, const char *name);

/* ---- watch.c ---- */

/* Watch a->spec_dir for specs written, moved or removed. 0 or -errno. */
int nb_agent_watch_start(struct agent *a);
void nb_agent_watch_stop(struct agent *a);

/* ---- status.c ---- */

/* Write STATUS_DIR/NAME.status for av (logged on failure). */
void nb_agent_write_status(struct agent *a, struct agent_vol *av);
/* Add (or remove) RUN/by-volume/ID -> the device node. */
void nb_agent_link(struct agent *a, struct agent_vol *av, bool add);

/* ---- metrics.c ---- */

/* Serve metrics and probes on a->metrics ("host:port"). 0, or -errno
 * with a message in err. */
int nb_agent_metrics_start(struct agent *a, char *err, size_t errlen);
/* Stop the server and its timer. */
void nb_agent_metrics_stop(struct agent *a);
/* Publish a snapshot now (no-op without --metrics). */
void nb_agent_metrics_publish(struct agent *a);
/* "attached", "in-use" (a spec change waits for the disk to be free),
 * "error" (not attached, retried), "bad-spec". */
const char *nb_agent_vol_state(const struct agent_vol *av);
/* Does av count as ready (its disk attached)? */
bool nb_agent_vol_ready(const struct agent_vol *av);

/* ---- inuse.c ---- */

/*
 * Is the disk at node (/dev/vdX) in use: mounted (it or a partition),
 * held by another block device (device mapper, md), or open by a
 * process? Says by what in why. false for nodes that are not disks.
 */
bool nb_agent_disk_in_use(const char *node, char *why, size_t len);

/* ---- files.c ---- */

/* Write path atomically (temporary file + rename). 0 or -errno. */
int nb_agent_write_file(const char *path, const char *text);
/* The text of a file of at most 64 KiB without NUL bytes, to free();
 * NULL when it cannot be read. */
char *nb_agent_read_file(const char *path);
/* out = DIR/NAME SUFFIX */
void nb_agent_path(char *out, size_t len, const char *dir, const char *name,
		const char *suffix);
/* "NAME.spec" -> "NAME"; false for other files. */
bool nb_agent_spec_name(const char *file, char *name, size_t len);

#endif
