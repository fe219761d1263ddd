/* SPDX-License-Identifier: MIT */
/*
 * A worker thread of the daemon: one ev_loop that owns some virtqueues of
 * the device, its own connections to the cluster (a struct session), its
 * own IOTLB cache and its own virtio-blk state. Requests popped from its
 * queues go to its cluster; completions go back to its queues, with one
 * interrupt per queue per loop iteration at most.
 *
 * Other threads reach a worker only through the synchronous commands
 * below, carried by an ev_async: the device's control thread starts and
 * stops queues and invalidates mappings; the main thread stops the worker.
 * A command waits for the worker to carry it out, which never involves the
 * network, so it returns promptly (bounded by WORKER_CMD_TIMEOUT_MS).
 */
#ifndef NETBLK_WORKER_H
#define NETBLK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk.h"
#include "session.h"
#include "vq.h"

#define WORKER_MAX_QUEUES      64
#define WORKER_CMD_TIMEOUT_MS  10000
#define WORKER_BUDGET          64    /* requests popped per queue per wake-up */
#define WORKER_RESET_GRACE     1.0   /* s a reset waits for requests in flight */

struct worker;

struct worker_params {
	unsigned int id;                       /* for log messages */
	const char *dev_name;                  /* for log messages */
	int dev_fd;                            /* /dev/vduse/NAME; not owned */
	const struct blk_params *blk;          /* copied */
	const struct session_config *cluster;  /* copied; its strings must
						  outlive the worker */
	/* Answer of nb_worker_refresh_size(): err 0 and the size, or -errno. */
	void (*size_cb)(void *opaque, unsigned int id, int err, uint64_t size);
	void *size_opaque;
};

/* Request latency histogram: upper bounds in seconds of the buckets
 * (the last, +Inf, is the count). */
#define WORKER_LAT_BUCKETS 16
extern const double nb_worker_lat_bounds[WORKER_LAT_BUCKETS];

struct worker_latency {
	uint64_t bucket[WORKER_LAT_BUCKETS]; /* completed within the bound and
						above the one before */
	uint64_t count;
	uint64_t sum_ns;
};

struct worker_stats {
	uint64_t requests;      /* requests handed to the cluster */
	uint64_t errors;        /* completed with an error */
	uint64_t bad_requests;  /* refused by the virtio-blk layer */
	uint64_t bytes_read;    /* completed without error */
	uint64_t bytes_written;
	uint32_t inflight;
	/* The engine's counters (struct session_stats), summed over the
	 * sessions the worker had (a reconnect makes a new one). */
	uint64_t retries, reconnects, timeouts, map_refreshes;
	uint32_t conns_ready;   /* of the current session */
	/* From submit to completion, by operation (enum blk_op). */
	struct worker_latency latency[BLK_OP_MAX];
};

/*
 * Start the thread. It opens its cluster (bounded by the config's connect
 * timeout) before this returns. Returns the worker, or NULL with errno set
 * and a message in err.
 */
struct worker *nb_worker_start(const struct worker_params *p, char *err,
			    size_t errlen);

/*
 * Serve virtqueue index with the given ring layout and kick eventfd
 * (not owned: the caller closes it after nb_worker_queue_stop()).
 * driver_features are what the driver accepted. log (may be NULL) is the
 * queue's in-flight log in the state file: with resume false it starts
 * afresh; with resume true the queue takes over from a daemon that died:
 * layout->last_avail_idx must be log->last_avail_idx, and the requests
 * the log shows in flight are run again. 0 or -errno.
 */
int nb_worker_queue_start(struct worker *w, unsigned int index,
		       const struct vq_layout *layout, int kickfd,
		       uint64_t driver_features, struct vq_log *log,
		       bool resume);
/*
 * Stop serving a queue. For a device reset (abandon false) the requests
 * in flight complete first; those the cluster has not answered within
 * WORKER_RESET_GRACE are cancelled (I/O error), so that nothing writes
 * into the driver's buffers after the reset. With abandon (the daemon
 * leaves the device to a successor) the queue stops at once and its
 * requests in flight stay in the in-flight log. *last_avail gets the index
 * the queue would resume from. 0 or -errno.
 */
int nb_worker_queue_stop(struct worker *w, unsigned int index,
		      uint16_t *last_avail, bool abandon);
/* Current last_avail_idx of a queue (VDUSE_GET_VQ_STATE). */
int nb_worker_queue_state(struct worker *w, unsigned int index,
		       uint16_t *last_avail);
/* Drop cached mappings overlapping [start, last] (VDUSE_UPDATE_IOTLB). */
int nb_worker_invalidate(struct worker *w, uint64_t start, uint64_t last);

/*
 * The device is going away: requests still in flight after grace seconds
 * complete with an I/O error, so that the kernel's detach, which waits for
 * them, finishes even when the cluster cannot be reached. With reconnect,
 * the worker then connects anew (the device may be attached again);
 * without, later requests fail too (the daemon is stopping). Returns at
 * once.
 */
int nb_worker_drain(struct worker *w, double grace, bool reconnect);

/*
 * Ask the cluster for the volume's size (one INFO request, in the
 * background) and check requests against the answer from then on. The
 * answer goes to the params' size_cb, from the worker's thread. Returns
 * at once: 0, or -errno when no request could be sent (size_cb is then
 * not called).
 */
int nb_worker_refresh_size(struct worker *w);

/* New connections use ctx (certificate reload); see nb_session_reload_tls. */
int nb_worker_reload_tls(struct worker *w, struct ssl_ctx_st *ctx);
/* The session's io_timeout, now and for sessions made later. 0 or
 * -errno. */
int nb_worker_set_io_timeout(struct worker *w, double seconds);

void nb_worker_get_stats(struct worker *w, struct worker_stats *out);

/*
 * Stop the thread and free everything. Requests still in flight are
 * completed with an I/O error first. NULL is a no-op.
 */
void nb_worker_stop(struct worker *w);

#endif
