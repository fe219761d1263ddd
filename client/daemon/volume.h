/* SPDX-License-Identifier: MIT */
/*
 * One served volume: a VDUSE virtio-blk device backed by a remote volume,
 * from creation (or takeover of a device a previous daemon left) to
 * detach and destroy. The single-volume daemon runs one; the agent runs
 * one per spec file, all in one process.
 *
 * A volume owns its worker threads (each with its own connections), its
 * control thread, its state file, and two timers on the caller's loop:
 * the watch for the kernel removing the disk and the periodic size check.
 * Signals are the caller's business: it calls nb_volume_reload_tls() on SIGHUP
 * and nb_volume_stop() to end.
 */
#ifndef NETBLK_VOLUME_H
#define NETBLK_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker.h"

struct ev_loop;

#define VOLUME_MAX_QUEUES 64

struct volume_config {
	const char *const *nodes;     /* seed nodes "host:port" */
	size_t n_nodes;
	const char *volume;
	const char *name;             /* VDUSE / vDPA device name */
	const char *ca, *cert, *key;  /* TLS files */
	const char *tls_ciphersuites; /* TLS 1.3 suites in order; NULL: OpenSSL's */
	const char *tls_name;         /* NULL: the host part of each address */
	const char *mgmtdev;          /* NULL: "vduse" */
	const char *state_dir;        /* NULL: STATE_DEFAULT_DIR */
	unsigned int queues;          /* 1..VOLUME_MAX_QUEUES */
	unsigned int queue_size;      /* power of two */
	/* The kernel's bounce buffer for the device, in bytes (VDUSE's
	 * bounce_size, set before the first attach): its pages, mapped by
	 * the workers, count in our resident size. 0 = the kernel's default. */
	uint64_t bounce_size;
	bool bounce_size_given;       /* asked for: failing to set it is an error */
	bool read_only;
	/*
	 * The writer lock (read-write devices only): lock_owner, NULL =
	 * "NAME@HOST" (nb_options_lock_owner()); break_lock takes it even
	 * from another owner, at every start of this volume (a takeover
	 * included); break_lock_hint is how the user asks for that, for the
	 * message when the lock is held (NULL: "--break-lock").
	 */
	const char *lock_owner;
	bool break_lock;
	const char *break_lock_hint;
	bool attach;                  /* add to vDPA (false: --no-attach) */
	double io_timeout;            /* 0 = retry forever */
	double connect_timeout;       /* > 0 */
	double stop_timeout;          /* grace at stop for unanswered requests */
	double resize_check;          /* size check period, 0 = never */
	int log_level;
};

#define VOLUME_DEFAULT_BOUNCE_MB 32
#define VOLUME_MIN_BOUNCE_MB     4     /* with VOLUME_SEG_MAX: segments of
					 8 KiB at least */
#define VOLUME_MAX_BOUNCE_MB     1024  /* VDUSE's limit */
#define VOLUME_SEG_MAX           254   /* blk.c's cap on seg_max */

struct volume_stats {
	uint64_t requests;            /* requests handed to the cluster */
	uint64_t errors;              /* completed with an error */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t size;                /* bytes, as the driver knows it */
	uint32_t inflight;
	/* The engine's: requests sent again, connections re-established,
	 * connections closed for a request without reply in time, new maps
	 * installed; connections ready now. Summed over the queues. */
	uint64_t retries, reconnects, timeouts, map_refreshes;
	uint32_t conns_up;
	/* Request latency by enum blk_op, buckets as nb_worker_lat_bounds. */
	struct worker_latency latency[BLK_OP_MAX];
};

struct volume;

/*
 * Open the volume (bounded by connect_timeout), create the VDUSE device
 * or take over the one a previous daemon left with its state file, start
 * the workers and the control thread, attach to vDPA and wait (10 s at
 * most) for the kernel's device node. Blocks; registers its timers on
 * loop, which need not be running yet. cfg is copied. Returns the volume,
 * or NULL with errno set and a message for the user in err; the cause
 * was logged. errno EBUSY: another owner holds the writer lock; ESTALE:
 * the device's previous daemon lost the lock (broken or released since),
 * so the device is not taken over for writing.
 *
 * The writer lock: a read-write volume's sessions take it as lock_owner.
 * The generation granted is kept in the state file; a daemon taking the
 * device over presents it (unless break_lock), so that a lock broken or
 * released since the predecessor held it is not taken back unnoticed.
 */
struct volume *nb_volume_start(struct ev_loop *loop,
			    const struct volume_config *cfg, char *err,
			    size_t errlen);

/* "/dev/vdX", "/dev/vhost-vdpa-N", or "/dev/vduse/NAME" when the kernel
 * made no node (not attached, or no driver for it). */
const char *nb_volume_node(const struct volume *v);
bool nb_volume_took_over(const struct volume *v);
const char *nb_volume_name(const struct volume *v);
const char *nb_volume_id(const struct volume *v);

/* New connections use the TLS files again (SIGHUP); a file that cannot be
 * used keeps the current certificates. 0 or -errno (logged). */
int nb_volume_reload_tls(struct volume *v);

void nb_volume_get_stats(struct volume *v, struct volume_stats *out);

/* Change io_timeout (0: retry forever) on every queue, live: requests in
 * progress keep their start time. 0 or -errno (logged). */
int nb_volume_set_io_timeout(struct volume *v, double seconds);

/*
 * Before the daemon switches to another user (--user): give it the state
 * file and the state directory (chown), so that it can still update and,
 * at a clean stop, remove the file. 0 or -errno with a message in err.
 */
int nb_volume_give_state(struct volume *v, uid_t uid, gid_t gid, char *err,
		      size_t errlen);

/*
 * Stop and free. With leave, the device stays as it is (attached, its
 * requests waiting) for a successor daemon, which takes it over from the
 * state file, and so does the writer lock. Otherwise requests still
 * unanswered after stop_timeout fail, the device is detached from vDPA and
 * destroyed, the state file removed and the writer lock released.
 * Returns 0 or -errno (logged). NULL is a no-op.
 */
int nb_volume_stop(struct volume *v, bool leave);

#endif
