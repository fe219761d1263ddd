/* SPDX-License-Identifier: MIT */
/* Worker threads: virtqueues served through the cluster engine. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "iotlb.h"
#include "log.h"
#include "privs.h"
#include "vduse_dev.h"
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
	struct cluster_io cio;
	struct blk_req *req;
	struct worker_queue *q;
	uint64_t seq;         /* iotlb sequence number */
	struct worker_io *prev, *next;
};

struct worker {
	unsigned int id;
	char name[80];        /* "DEV/wN" for logs */
	int dev_fd;
	struct blk_params blk_params;
	struct blk_dev *blk;
	struct iotlb *iotlb;
	struct cluster *cluster;
	struct ev_loop *loop;
	pthread_t thread;

	struct worker_queue *queues[WORKER_MAX_QUEUES];
	struct worker_io *oldest, *newest;  /* in flight, in submit order */
	struct worker_io *free_ios;
	struct worker_stats stats;

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

	/* Start-up handshake with worker_start(). */
	struct cluster_config cfg;
	bool reconnect_after_drain;
	uint64_t drain_seq;    /* requests tagged below came before the drain */
	void (*size_cb)(void *opaque, unsigned int id, int err, uint64_t size);
	void *size_opaque;
	bool started;
	int start_err;
	char start_msg[256];
};

static void *worker_translate(void *opaque, uint64_t iova, uint64_t *len,
			      bool write)
{
	struct worker_queue *q = opaque;

	return iotlb_translate(q->w->iotlb, iova, len, write);
}

static int worker_notify(void *opaque)
{
	struct worker_queue *q = opaque;

	return vduse_vq_inject_irq(q->w->dev_fd, q->index);
}

static const struct vq_ops worker_vq_ops = {
	.translate = worker_translate,
	.notify = worker_notify,
};

static int worker_iotlb_lookup(void *opaque, uint64_t iova, uint64_t *start,
			       uint64_t *last, uint64_t *offset, uint8_t *perm)
{
	struct worker *w = opaque;
	struct vduse_iotlb_entry e;
	int fd;

	fd = vduse_iotlb_get_fd(w->dev_fd, iova, &e);
	if (fd < 0)
		return fd;
	*start = e.start;
	*last = e.last;
	*offset = e.offset;
	*perm = e.perm;
	return fd;
}

/* ---- requests ---- */

static struct worker_io *worker_io_get(struct worker *w)
{
	struct worker_io *io = w->free_ios;

	if (io) {
		w->free_ios = io->next;
		return io;
	}
	return malloc(sizeof(*io));
}

static void worker_io_put(struct worker *w, struct worker_io *io)
{
	if (io->prev)
		io->prev->next = io->next;
	else
		w->oldest = io->next;
	if (io->next)
		io->next->prev = io->prev;
	else
		w->newest = io->prev;
	w->stats.inflight--;
	io->next = w->free_ios;
	w->free_ios = io;
}

static void worker_queue_stopped(struct worker_queue *q);
static void worker_reconnect(struct worker *w);
static void worker_stop_timer_cb(struct ev_loop *loop, ev_timer *t,
				 int revents);

static void worker_io_done(struct cluster_io *cio, int result)
{
	struct worker_io *io = cio->opaque;
	struct worker_queue *q = io->q;
	struct worker *w = q->w;
	struct blk_req *req = io->req;

	q->dirty = true;
	q->inflight--;
	if (log_level() >= LOG_DEBUG)
		log_msg(LOG_DEBUG, "%s: queue %u: %s done: %d", w->name,
			q->index, blk_op_name(req->op), result);
	if (result < 0)
		w->stats.errors++;
	else if (req->op == BLK_OP_READ)
		w->stats.bytes_read += req->length;
	else if (req->op == BLK_OP_WRITE)
		w->stats.bytes_written += req->length;
	worker_io_put(w, io);
	/* May submit the next segment of a multi-range request. */
	blk_complete(req, result);
	if (q->stopping && q->inflight == 0)
		worker_queue_stopped(q);
}

static const enum rpc_op worker_rpc_ops[BLK_OP_MAX] = {
	[BLK_OP_READ] = RPC_OP_READ,
	[BLK_OP_WRITE] = RPC_OP_WRITE,
	[BLK_OP_FLUSH] = RPC_OP_FLUSH,
	[BLK_OP_DISCARD] = RPC_OP_DISCARD,
	[BLK_OP_WRITE_ZEROES] = RPC_OP_WRITE_ZEROES,
};

static int worker_submit(void *opaque, struct blk_req *req)
{
	struct worker *w = opaque;
	unsigned int index = vq_index(req->vq);
	struct worker_io *io;
	int ret;

	if ((unsigned int)req->op >= BLK_OP_MAX || index >= WORKER_MAX_QUEUES ||
	    !w->queues[index])
		return -EINVAL;
	if (!w->cluster)
		return -EIO;	/* drained: the device is going away */
	io = worker_io_get(w);
	if (!io)
		return -ENOMEM;
	memset(&io->cio, 0, sizeof(io->cio));
	io->cio.op = worker_rpc_ops[req->op];
	io->cio.offset = req->offset;
	io->cio.length = req->length;
	io->cio.flags = (req->flags & BLK_REQ_F_UNMAP) ? RPC_FLAG_UNMAP : 0;
	io->cio.iov = req->iov;
	io->cio.iovcnt = req->iov_cnt;
	io->cio.done = worker_io_done;
	io->cio.opaque = io;
	io->req = req;
	io->q = w->queues[index];
	io->q->inflight++;
	io->seq = iotlb_seq(w->iotlb);
	io->next = NULL;
	io->prev = w->newest;
	if (w->newest)
		w->newest->next = io;
	else
		w->oldest = io;
	w->newest = io;
	w->stats.inflight++;
	ret = cluster_submit(w->cluster, &io->cio);
	if (ret < 0) {
		log_msg(LOG_ERR, "%s: %s of %llu bytes at %llu refused by the "
			"engine: %s", w->name, blk_op_name(req->op),
			(unsigned long long)req->length,
			(unsigned long long)req->offset, strerror(-ret));
		io->q->inflight--;
		worker_io_put(w, io);
		return ret;
	}
	w->stats.requests++;
	return 0;
}

static void worker_bad_request(void *opaque, unsigned int queue, uint16_t head,
			       uint32_t type, const char *why)
{
	struct worker *w = opaque;

	/* A misbehaving driver can send many: log the first few. */
	if (w->stats.bad_requests++ < 10)
		log_msg(LOG_WARNING, "%s: queue %u: request %u (type %d) "
			"refused: %s", w->name, queue, head,
			type == BLK_TYPE_UNKNOWN ? -1 : (int)type, why);
}

static const struct blk_backend_ops worker_blk_ops = {
	.submit = worker_submit,
	.bad_request = worker_bad_request,
};

/* ---- queue processing ---- */

static void worker_queue_run(struct worker_queue *q)
{
	struct worker *w = q->w;
	int n;

	if (!q->started)
		return;
	do {
		vq_kick_disable(q->vq);
		n = blk_queue_process(w->blk, q->vq, WORKER_BUDGET);
		if (n != 0 && log_level() >= LOG_DEBUG)
			log_msg(LOG_DEBUG, "%s: queue %u: popped %d", w->name,
				q->index, n);
		if (n < 0) {
			if (n == -EIO)
				log_msg(LOG_ERR, "%s: queue %u: the driver broke "
					"the ring; the queue needs a reset",
					w->name, q->index);
			return;
		}
		if (n == WORKER_BUDGET) {
			/* Let other queues and the network have a turn. */
			ev_idle_start(w->loop, &q->more);
			return;
		}
	} while (vq_kick_enable(q->vq));
}

static void worker_kick_cb(struct ev_loop *loop, ev_io *watcher, int revents)
{
	struct worker_queue *q = watcher->data;
	uint64_t count;

	if (read(watcher->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "%s: queue %u: reading kick eventfd: %s",
			q->w->name, q->index, strerror(errno));
	else if (log_level() >= LOG_DEBUG)
		log_msg(LOG_DEBUG, "%s: queue %u: kick", q->w->name, q->index);
	worker_queue_run(q);
}

static void worker_more_cb(struct ev_loop *loop, ev_idle *watcher, int revents)
{
	struct worker_queue *q = watcher->data;

	ev_idle_stop(loop, watcher);
	worker_queue_run(q);
}

/* After each loop iteration: one interrupt per queue, free old mappings. */
static void worker_after_cb(struct ev_loop *loop, ev_prepare *watcher,
			    int revents)
{
	struct worker *w = watcher->data;
	unsigned int i;

	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		struct worker_queue *q = w->queues[i];

		if (q && q->dirty) {
			q->dirty = false;
			if (q->started) {
				int ret = vq_notify_batch(q->vq);

				if (ret < 0)
					log_msg(LOG_ERR, "%s: queue %u: interrupt "
						"injection failed: %s", w->name,
						q->index, strerror(-ret));
			}
		}
	}
	if (iotlb_retired_count(w->iotlb))
		iotlb_reap(w->iotlb, w->oldest ? w->oldest->seq :
			   IOTLB_NONE_INFLIGHT);
}

static int worker_do_queue_start(struct worker *w, struct worker_cmd *cmd)
{
	struct worker_cmd_queue_start *c = &cmd->u.queue_start;
	struct worker_queue *q;
	int ret;

	if (c->index >= WORKER_MAX_QUEUES)
		return -EINVAL;
	q = w->queues[c->index];
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		q->w = w;
		q->index = c->index;
		q->vq = vq_new(&worker_vq_ops, q, c->index);
		if (!q->vq) {
			free(q);
			return -ENOMEM;
		}
		ev_idle_init(&q->more, worker_more_cb);
		q->more.data = q;
		ev_init(&q->stop_timer, worker_stop_timer_cb);
		q->stop_timer.data = q;
		w->queues[c->index] = q;
	}
	if (q->started)
		return -EBUSY;
	ret = blk_dev_set_features(w->blk, c->features);
	if (ret < 0)
		return ret;
	ret = vq_setup(q->vq, &c->layout);
	if (ret < 0)
		return ret;
	if (c->log && c->resume) {
		uint16_t *heads = malloc(sizeof(*heads) * c->layout.num);
		int i, n;

		if (!heads)
			return -ENOMEM;
		n = vq_recover(q->vq, c->log, heads);
		if (n < 0) {
			free(heads);
			return n;
		}
		log_msg(LOG_NOTICE, "%s: queue %u: resuming at %u with %d "
			"request(s) that were in flight", w->name, q->index,
			c->layout.last_avail_idx, n);
		for (i = 0; i < n; i++) {
			ret = blk_queue_resubmit(w->blk, q->vq, heads[i]);
			if (ret < 0)
				log_msg(LOG_ERR, "%s: queue %u: request %u "
					"cannot be run again: %s", w->name,
					q->index, heads[i], strerror(-ret));
		}
		q->dirty = true;
		free(heads);
	} else if (c->log) {
		vq_log_start(q->vq, c->log);
	}
	ev_io_init(&q->kick, worker_kick_cb, c->kickfd, EV_READ);
	q->kick.data = q;
	ev_io_start(w->loop, &q->kick);
	q->started = true;
	/* The driver may have queued requests before we watched the kick. */
	worker_queue_run(q);
	return 0;
}

/* Answer a deferred command, if it is still the one being waited for. */
static void worker_cmd_finish(struct worker *w, uint64_t seq, int result)
{
	pthread_mutex_lock(&w->lock);
	if (w->cmd.seq == seq && !w->cmd_done) {
		w->cmd.result = result;
		w->cmd_done = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* Nothing of the queue is in flight any more: forget the rings. */
static void worker_queue_stopped(struct worker_queue *q)
{
	struct worker *w = q->w;

	ev_timer_stop(w->loop, &q->stop_timer);
	vq_reset(q->vq);
	q->started = false;
	q->stopping = false;
	q->dirty = false;
	worker_cmd_finish(w, q->stop_seq, 0);
}

/*
 * The driver reset the queue while requests were still waiting for the
 * cluster. Their data would land in buffers the driver may reuse, so they
 * are cancelled: the worker's connections go, every request of the worker
 * completes with an I/O error (into the old ring, which the driver is
 * discarding), and the worker connects anew.
 */
static void worker_stop_timer_cb(struct ev_loop *loop, ev_timer *t,
				 int revents)
{
	struct worker_queue *q = t->data;
	struct worker *w = q->w;

	log_msg(LOG_WARNING, "%s: queue %u reset with %u request(s) still "
		"waiting for the cluster: cancelling them", w->name, q->index,
		q->inflight);
	cluster_free(w->cluster);
	w->cluster = NULL;
	worker_reconnect(w);
	if (q->stopping)
		worker_queue_stopped(q);
}

/* Returns 1 when the answer is deferred (requests in flight). */
static int worker_do_queue_stop(struct worker *w, struct worker_cmd *cmd)
{
	struct worker_cmd_queue_stop *c = &cmd->u.queue_stop;
	struct worker_queue *q;

	if (c->index >= WORKER_MAX_QUEUES || !w->queues[c->index])
		return -EINVAL;
	q = w->queues[c->index];
	c->avail = vq_last_avail_idx(q->vq);
	if (!q->started)
		return 0;
	ev_io_stop(w->loop, &q->kick);
	ev_idle_stop(w->loop, &q->more);
	if (q->inflight && !c->abandon) {
		q->stopping = true;
		q->stop_seq = cmd->seq;
		ev_timer_set(&q->stop_timer, WORKER_RESET_GRACE, 0);
		ev_timer_start(w->loop, &q->stop_timer);
		return 1;
	}
	/* Abandoned requests complete into a reset queue: refused, so the
	 * state file keeps them in flight for the next daemon. */
	vq_reset(q->vq);
	q->started = false;
	q->dirty = false;
	return 0;
}

static void worker_do_invalidate(struct worker *w, struct worker_cmd *c)
{
	unsigned int i;

	iotlb_invalidate(w->iotlb, c->u.invalidate.start, c->u.invalidate.last);
	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		struct worker_queue *q = w->queues[i];

		if (q && q->started && vq_remap(q->vq) < 0)
			log_msg(LOG_WARNING, "%s: queue %u: rings no longer "
				"mapped after an IOTLB update; waiting for the "
				"driver to set them up again", w->name, i);
	}
}

static void worker_ready_cb(struct cluster *c, int err, void *opaque)
{
	struct worker *w = opaque;

	if (err == 0) {
		log_msg(LOG_NOTICE, "%s: connected again", w->name);
		return;
	}
	/* Freed from the timer below, never inside its own callback. */
	log_msg(LOG_WARNING, "%s: cannot reconnect (%s); trying again",
		w->name, cluster_last_error(c));
	ev_timer_set(&w->drain_timer, 5.0, 0);
	ev_timer_start(w->loop, &w->drain_timer);
}

/* A fresh cluster after a drain; requests fail until it is ready. */
static void worker_reconnect(struct worker *w)
{
	w->cluster = cluster_new(w->loop, &w->cfg);
	if (!w->cluster || cluster_start(w->cluster, worker_ready_cb, w) < 0)
		log_msg(LOG_ERR, "%s: cannot reconnect: %s", w->name,
			strerror(errno));
}

static void worker_drain_cb(struct ev_loop *loop, ev_timer *watcher,
			    int revents)
{
	struct worker *w = watcher->data;

	/*
	 * The disk was removed: only requests from before the removal can
	 * hold the kernel up. If none is left, whatever is in flight now
	 * belongs to a new driver (the device was attached again) and the
	 * connections are fine: nothing to cancel.
	 */
	if (w->reconnect_after_drain && w->cluster &&
	    cluster_is_ready(w->cluster) &&
	    !(w->oldest && w->oldest->seq < w->drain_seq))
		return;
	if (w->stats.inflight)
		log_msg(LOG_WARNING, "%s: %u request(s) still waiting for the "
			"cluster: failing them with I/O errors", w->name,
			w->stats.inflight);
	/* Completes everything in flight with -EIO; later requests fail in
	 * worker_submit() until a new cluster is ready. */
	cluster_free(w->cluster);
	w->cluster = NULL;
	if (w->reconnect_after_drain)
		worker_reconnect(w);
}

static void worker_refreshed_cb(struct cluster *c,
				const struct rpc_volume_info *info, int err,
				void *opaque)
{
	struct worker *w = opaque;

	if (err == 0)
		blk_dev_set_size(w->blk, info->size);
	if (w->size_cb)
		w->size_cb(w->size_opaque, w->id, err, err == 0 ? info->size : 0);
}

static void worker_wake_cb(struct ev_loop *loop, ev_async *watcher,
			   int revents)
{
	struct worker *w = watcher->data;
	struct worker_cmd *c = &w->cmd;

	pthread_mutex_lock(&w->lock);
	if (!w->cmd_pending) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	w->cmd_pending = false;
	pthread_mutex_unlock(&w->lock);

	switch (c->type) {
	case WORKER_CMD_QUEUE_START:
		c->result = worker_do_queue_start(w, c);
		break;
	case WORKER_CMD_QUEUE_STOP:
		c->result = worker_do_queue_stop(w, c);
		if (c->result == 1)
			return;	/* answered by worker_queue_stopped() */
		break;
	case WORKER_CMD_QUEUE_STATE: {
		unsigned int index = c->u.queue_state.index;

		c->result = -EINVAL;
		if (index < WORKER_MAX_QUEUES && w->queues[index]) {
			c->u.queue_state.avail =
				vq_last_avail_idx(w->queues[index]->vq);
			c->result = 0;
		}
		break;
	}
	case WORKER_CMD_INVALIDATE:
		worker_do_invalidate(w, c);
		c->result = 0;
		break;
	case WORKER_CMD_DRAIN:
		w->reconnect_after_drain = c->u.drain.reconnect;
		w->drain_seq = iotlb_seq(w->iotlb);
		if (w->cluster && !ev_is_active(&w->drain_timer)) {
			ev_timer_set(&w->drain_timer, c->u.drain.grace, 0);
			ev_timer_start(loop, &w->drain_timer);
		}
		c->result = 0;
		break;
	case WORKER_CMD_REFRESH:
		c->result = w->cluster ? cluster_refresh_volume(w->cluster,
					    worker_refreshed_cb, w) : -ENOTCONN;
		break;
	case WORKER_CMD_RELOAD_TLS:
		c->result = w->cluster ? cluster_reload_tls(w->cluster,
					c->u.reload_tls.ssl_ctx) : 0;
		/* A cluster made after a drain reads the files again. */
		break;
	case WORKER_CMD_EXIT:
		ev_break(loop, EVBREAK_ALL);
		c->result = 0;
		break;
	default:
		c->result = -EINVAL;
		break;
	}
	pthread_mutex_lock(&w->lock);
	w->cmd_done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Run one command in the worker's thread and wait for its result. */
static int worker_call(struct worker *w, struct worker_cmd *c)
{
	struct timespec deadline;
	int ret = 0;

	pthread_mutex_lock(&w->cmd_send_lock);
	pthread_mutex_lock(&w->lock);
	c->seq = ++w->cmd_seq;
	w->cmd = *c;
	w->cmd_pending = true;
	w->cmd_done = false;
	pthread_mutex_unlock(&w->lock);
	ev_async_send(w->loop, &w->wake);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WORKER_CMD_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (!w->cmd_done && ret == 0)
		ret = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	if (w->cmd_done) {
		*c = w->cmd;
		ret = c->result;
	} else {
		log_msg(LOG_ERR, "%s: worker did not answer a command within "
			"%d ms", w->name, WORKER_CMD_TIMEOUT_MS);
		ret = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_unlock(&w->cmd_send_lock);
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char msg[256] = "";
	int err;

	w->cluster = cluster_open_sync(w->loop, &w->cfg, msg, sizeof(msg));
	err = w->cluster ? 0 : errno;
	/* The TLS files are read: from here on no capability is needed. */
	privs_drop_thread();
	/*
	 * Watch for commands before worker_start() returns: the caller may
	 * send one at once (a takeover starts its queues right away), and
	 * libev drops an ev_async_send() to a watcher not yet started, which
	 * left the command unanswered until worker_call() timed out.
	 */
	if (w->cluster) {
		ev_async_start(w->loop, &w->wake);
		ev_prepare_start(w->loop, &w->after);
	}
	pthread_mutex_lock(&w->lock);
	w->started = true;
	w->start_err = err;
	snprintf(w->start_msg, sizeof(w->start_msg), "%s", msg);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (!w->cluster)
		return NULL;
	ev_run(w->loop, 0);
	return NULL;
}

static void worker_free(struct worker *w)
{
	struct worker_io *io;
	unsigned int i;

	/* Completes what is in flight with -EIO, into stopped queues. */
	cluster_free(w->cluster);
	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		if (w->queues[i]) {
			vq_free(w->queues[i]->vq);
			free(w->queues[i]);
		}
	}
	while ((io = w->free_ios)) {
		w->free_ios = io->next;
		free(io);
	}
	blk_dev_free(w->blk);
	iotlb_free(w->iotlb);
	if (w->loop)
		ev_loop_destroy(w->loop);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->cmd_send_lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

struct worker *worker_start(const struct worker_params *p, char *err,
			    size_t errlen)
{
	struct worker *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->id = p->id;
	snprintf(w->name, sizeof(w->name), "%s/w%u", p->dev_name, p->id);
	w->dev_fd = p->dev_fd;
	w->blk_params = *p->blk;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->cmd_send_lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	w->iotlb = iotlb_new(worker_iotlb_lookup, w);
	w->blk = blk_dev_new(&w->blk_params, &worker_blk_ops, w);
	if (!w->loop || !w->iotlb || !w->blk) {
		snprintf(err, errlen, "%s: cannot set up worker: %s", w->name,
			 w->blk ? strerror(ENOMEM) : "bad device parameters");
		goto out_free;
	}
	ev_async_init(&w->wake, worker_wake_cb);
	w->wake.data = w;
	ev_init(&w->drain_timer, worker_drain_cb);
	w->drain_timer.data = w;
	ev_prepare_init(&w->after, worker_after_cb);
	w->after.data = w;
	w->cfg = *p->cluster;
	w->size_cb = p->size_cb;
	w->size_opaque = p->size_opaque;

	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		snprintf(err, errlen, "%s: cannot start thread: %s", w->name,
			 strerror(ret));
		goto out_free;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->started)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (!w->cluster) {
		snprintf(err, errlen, "%s", w->start_msg);
		pthread_join(w->thread, NULL);
		errno = w->start_err ? w->start_err : EIO;
		ret = errno;
		worker_free(w);
		errno = ret;
		return NULL;
	}
	return w;

out_free:
	worker_free(w);
	errno = ENOMEM;
	return NULL;
}

int worker_queue_start(struct worker *w, unsigned int index,
		       const struct vq_layout *layout, int kickfd,
		       uint64_t driver_features, struct vq_log *log,
		       bool resume)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_QUEUE_START,
		.u.queue_start = {
			.index = index, .layout = *layout, .kickfd = kickfd,
			.features = driver_features, .log = log,
			.resume = resume,
		},
	};

	return worker_call(w, &c);
}

int worker_queue_stop(struct worker *w, unsigned int index,
		      uint16_t *last_avail, bool abandon)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_QUEUE_STOP,
		.u.queue_stop = { .index = index, .abandon = abandon },
	};
	int ret = worker_call(w, &c);

	if (ret == 0 && last_avail)
		*last_avail = c.u.queue_stop.avail;
	return ret;
}

int worker_queue_state(struct worker *w, unsigned int index,
		       uint16_t *last_avail)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_QUEUE_STATE,
		.u.queue_state = { .index = index },
	};
	int ret = worker_call(w, &c);

	if (ret == 0)
		*last_avail = c.u.queue_state.avail;
	return ret;
}

int worker_invalidate(struct worker *w, uint64_t start, uint64_t last)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_INVALIDATE,
		.u.invalidate = { .start = start, .last = last },
	};

	return worker_call(w, &c);
}

int worker_drain(struct worker *w, double grace, bool reconnect)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_DRAIN,
		.u.drain = { .grace = grace, .reconnect = reconnect },
	};

	return worker_call(w, &c);
}

int worker_refresh_size(struct worker *w)
{
	struct worker_cmd c = { .type = WORKER_CMD_REFRESH };

	return worker_call(w, &c);
}

int worker_reload_tls(struct worker *w, struct ssl_ctx_st *ctx)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_RELOAD_TLS,
		.u.reload_tls = { .ssl_ctx = ctx },
	};

	return worker_call(w, &c);
}

void worker_get_stats(struct worker *w, struct worker_stats *out)
{
	/* Counters are written by the worker only; a torn read is harmless
	 * for reporting. */
	*out = w->stats;
}

void worker_stop(struct worker *w)
{
	struct worker_cmd c = { .type = WORKER_CMD_EXIT };

	if (!w)
		return;
	if (worker_call(w, &c) == 0)
		pthread_join(w->thread, NULL);
	else
		pthread_cancel(w->thread);
	worker_free(w);
}
