/* SPDX-License-Identifier: MIT */
/*
 * Inside a worker (worker.h): its state, shared by worker.c (the thread,
 * its requests to the cluster, the commands) and worker_queue.c (its
 * virtqueues). Only the worker's own thread touches it, except the
 * command slot (cmd, under lock).
 */
#ifndef NETBLK_WORKER_PRIV_H
#define NETBLK_WORKER_PRIV_H

#include <pthread.h>

#include <ev.h>

#include "worker.h"

enum worker_cmd_type {
	WORKER_CMD_NONE,
	WORKER_CMD_QUEUE_START,
	WORKER_CMD_QUEUE_STOP,
	WORKER_CMD_QUEUE_STATE,
	WORKER_CMD_INVALIDATE,
	WORKER_CMD_DRAIN,
	WORKER_CMD_REFRESH,
	WORKER_CMD_RELOAD_TLS,
	WORKER_CMD_IO_TIMEOUT,
	WORKER_CMD_EXIT,
	WORKER_CMD_MAX
};

/*
 * A command from another thread: type says which member of the union
 * holds its arguments (and, for some, its answer). WORKER_CMD_REFRESH and
 * WORKER_CMD_EXIT take none.
 */
struct worker_cmd {
	enum worker_cmd_type type;
	union {
		struct worker_cmd_queue_start {
			unsigned int index;
			struct vq_layout layout;
			int kickfd;
			uint64_t features;
			struct vq_log *log;
			bool resume;
		} queue_start;
		struct worker_cmd_queue_stop {
			unsigned int index;
			bool abandon;
			uint16_t avail;         /* answer */
		} queue_stop;
		struct worker_cmd_queue_state {
			unsigned int index;
			uint16_t avail;         /* answer */
		} queue_state;
		struct worker_cmd_invalidate {
			uint64_t start, last;
		} invalidate;
		struct worker_cmd_drain {
			double grace;
			bool reconnect;
		} drain;
		struct worker_cmd_reload_tls {
			struct ssl_ctx_st *ssl_ctx;
		} reload_tls;
		struct worker_cmd_io_timeout {
			double seconds;
		} io_timeout;
	} u;
	uint64_t seq;           /* set by worker_call() */
	int result;
};

struct worker_queue {
	struct worker *w;
	unsigned int index;
	struct vq *vq;
	bool started;
	bool dirty;           /* pushed since the last notify */
	ev_io kick;
	ev_idle more;         /* budget ran out: continue next iteration */
	unsigned int inflight;
	/* A driver reset waits for the queue's requests in flight: */
	bool stopping;
	uint64_t stop_seq;    /* the QUEUE_STOP command to answer */
	ev_timer stop_timer;
};

/* A request in flight to the cluster. */
struct worker_io {
	struct session_io cio;
	struct blk_req *req;
	struct worker_queue *q;
	uint64_t seq;         /* iotlb sequence number */
	uint64_t start_ns;    /* CLOCK_MONOTONIC at submit */
	struct worker_io *prev, *next;
};

struct worker {
	unsigned int id;
	char name[80];        /* "DEV/wN" for logs */
	int dev_fd;
	struct blk_params blk_params;
	struct blk_dev *blk;
	struct iotlb *iotlb;
	struct session *cluster;
	struct ev_loop *loop;
	pthread_t thread;

	struct worker_queue *queues[WORKER_MAX_QUEUES];
	struct worker_io *oldest, *newest;  /* in flight, in submit order */
	struct worker_io *free_ios;
	struct worker_stats stats;
	struct worker_stats session_base; /* engine counters of sessions
					     freed before the current one */

	ev_async wake;
	ev_timer drain_timer;
	ev_prepare after;     /* end of each loop iteration, before blocking */

	/* Commands from other threads: one at a time, under cmd_send_lock. */
	pthread_mutex_t cmd_send_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_cmd cmd;
	bool cmd_pending, cmd_done;
	uint64_t cmd_seq;

	/* Start-up handshake with nb_worker_start(). */
	struct session_config cfg;
	bool reconnect_after_drain;
	uint64_t drain_seq;    /* requests tagged below came before the drain */
	void (*size_cb)(void *opaque, unsigned int id, int err, uint64_t size);
	void *size_opaque;
	bool started;
	int start_err;
	char start_msg[256];
};

/* ---- worker_queue.c ---- */

/* The IOTLB's way to ask the device for a mapping (iotlb.h). */
int nb_worker_iotlb_lookup(void *opaque, uint64_t iova, uint64_t *start,
			uint64_t *last, uint64_t *offset, uint8_t *perm);
/* After each loop iteration: one interrupt per queue, free old mappings. */
void nb_worker_after_cb(struct ev_loop *loop, ev_prepare *watcher, int revents);
/* The commands on queues; 0 or -errno. nb_worker_do_queue_stop() returns 1
 * when its answer is deferred until the queue's requests are done. */
int nb_worker_do_queue_start(struct worker *w, struct worker_cmd *cmd);
int nb_worker_do_queue_stop(struct worker *w, struct worker_cmd *cmd);
void nb_worker_do_invalidate(struct worker *w, struct worker_cmd *c);
/* Nothing of the queue is in flight any more: forget the rings and
 * answer the deferred stop. */
void nb_worker_queue_stopped(struct worker_queue *q);

/* ---- worker.c ---- */

/* Answer a deferred command, if it is still the one being waited for. */
void nb_worker_cmd_finish(struct worker *w, uint64_t seq, int result);
/* A queue's reset outlasted WORKER_RESET_GRACE: cancel the requests. */
void nb_worker_stop_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* Copy the engine's counters into w->stats (worker thread). */
void nb_worker_sample(struct worker *w);

#endif
