/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: the thread, its requests to the cluster engine, its
 * reconnects and drains, and the commands other threads send it (its
 * virtqueues are worker_queue.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "iotlb.h"
#include "log.h"
#include "privs.h"
#include "worker_priv.h"

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

static void worker_reconnect(struct worker *w);

const double nb_worker_lat_bounds[WORKER_LAT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
};

static uint64_t worker_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void worker_latency_add(struct worker *w, enum blk_op op,
			       uint64_t start_ns)
{
	struct worker_latency *l;
	uint64_t ns = worker_now_ns() - start_ns;
	double s = ns / 1e9;
	unsigned int i;

	if ((unsigned int)op >= BLK_OP_MAX)
		return;
	l = &w->stats.latency[op];
	for (i = 0; i < WORKER_LAT_BUCKETS; i++) {
		if (s <= nb_worker_lat_bounds[i]) {
			l->bucket[i]++;
			break;
		}
	}
	l->count++;
	l->sum_ns += ns;
}

/* The engine's counters into the worker's stats (each loop iteration). */
static void worker_sample_session(struct worker *w)
{
	struct session_stats ss = { 0 };

	if (w->cluster)
		nb_session_get_stats(w->cluster, &ss);
	w->stats.retries = w->session_base.retries + ss.retries;
	w->stats.reconnects = w->session_base.reconnects + ss.reconnects;
	w->stats.timeouts = w->session_base.timeouts + ss.timeouts;
	w->stats.map_refreshes = w->session_base.map_refreshes +
				 ss.map_refreshes;
	w->stats.conns_ready = ss.conns_ready;
}

/* Free the current session, keeping its counters. */
static void worker_session_free(struct worker *w)
{
	worker_sample_session(w);
	w->session_base.retries = w->stats.retries;
	w->session_base.reconnects = w->stats.reconnects;
	w->session_base.timeouts = w->stats.timeouts;
	w->session_base.map_refreshes = w->stats.map_refreshes;
	nb_session_free(w->cluster);
	w->cluster = NULL;
	w->stats.conns_ready = 0;
}

void nb_worker_sample(struct worker *w)
{
	worker_sample_session(w);
}

static void worker_io_done(struct session_io *cio, int result)
{
	struct worker_io *io = cio->opaque;
	struct worker_queue *q = io->q;
	struct worker *w = q->w;
	struct blk_req *req = io->req;

	q->dirty = true;
	q->inflight--;
	if (nb_log_level() >= LOG_DEBUG)
		nb_log_msg(LOG_DEBUG, "%s: queue %u: %s done: %d", w->name,
			q->index, nb_blk_op_name(req->op), result);
	worker_latency_add(w, req->op, io->start_ns);
	if (result < 0)
		w->stats.errors++;
	else if (req->op == BLK_OP_READ)
		w->stats.bytes_read += req->length;
	else if (req->op == BLK_OP_WRITE)
		w->stats.bytes_written += req->length;
	worker_io_put(w, io);
	/* May submit the next segment of a multi-range request. */
	nb_blk_complete(req, result);
	if (q->stopping && q->inflight == 0)
		nb_worker_queue_stopped(q);
}

static const enum session_op worker_session_ops[BLK_OP_MAX] = {
	[BLK_OP_READ] = SESSION_OP_READ,
	[BLK_OP_WRITE] = SESSION_OP_WRITE,
	[BLK_OP_FLUSH] = SESSION_OP_FLUSH,
	[BLK_OP_DISCARD] = SESSION_OP_DISCARD,
	[BLK_OP_WRITE_ZEROES] = SESSION_OP_WRITE_ZEROES,
};

static int worker_submit(void *opaque, struct blk_req *req)
{
	struct worker *w = opaque;
	unsigned int index = nb_vq_index(req->vq);
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
	io->cio.op = worker_session_ops[req->op];
	io->cio.offset = req->offset;
	io->cio.length = req->length;
	io->cio.flags = (req->flags & BLK_REQ_F_UNMAP) ? SESSION_FLAG_UNMAP : 0;
	io->cio.iov = req->iov;
	io->cio.iovcnt = req->iov_cnt;
	io->cio.done = worker_io_done;
	io->cio.opaque = io;
	io->req = req;
	io->q = w->queues[index];
	io->q->inflight++;
	io->seq = nb_iotlb_seq(w->iotlb);
	io->start_ns = worker_now_ns();
	io->next = NULL;
	io->prev = w->newest;
	if (w->newest)
		w->newest->next = io;
	else
		w->oldest = io;
	w->newest = io;
	w->stats.inflight++;
	ret = nb_session_submit(w->cluster, &io->cio);
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "%s: %s of %llu bytes at %llu refused by the "
			"engine: %s", w->name, nb_blk_op_name(req->op),
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
		nb_log_msg(LOG_WARNING, "%s: queue %u: request %u (type %d) "
			"refused: %s", w->name, queue, head,
			type == BLK_TYPE_UNKNOWN ? -1 : (int)type, why);
}

static const struct blk_backend_ops worker_blk_ops = {
	.submit = worker_submit,
	.bad_request = worker_bad_request,
};


/* Answer a deferred command, if it is still the one being waited for. */
void nb_worker_cmd_finish(struct worker *w, uint64_t seq, int result)
{
	pthread_mutex_lock(&w->lock);
	if (w->cmd.seq == seq && !w->cmd_done) {
		w->cmd.result = result;
		w->cmd_done = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/*
 * The driver reset the queue while requests were still waiting for the
 * cluster. Their data would land in buffers the driver may reuse, so they
 * are cancelled: the worker's connections go, every request of the worker
 * completes with an I/O error (into the old ring, which the driver is
 * discarding), and the worker connects anew.
 */
void nb_worker_stop_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker_queue *q = t->data;
	struct worker *w = q->w;

	nb_log_msg(LOG_WARNING, "%s: queue %u reset with %u request(s) still "
		"waiting for the cluster: cancelling them", w->name, q->index,
		q->inflight);
	worker_session_free(w);
	worker_reconnect(w);
	if (q->stopping)
		nb_worker_queue_stopped(q);
}

static void worker_ready_cb(struct session *c, int err, void *opaque)
{
	struct worker *w = opaque;

	if (err == 0) {
		nb_log_msg(LOG_NOTICE, "%s: connected again", w->name);
		return;
	}
	/* Freed from the timer below, never inside its own callback. */
	nb_log_msg(LOG_WARNING, "%s: cannot reconnect (%s); trying again",
		w->name, nb_session_last_error(c));
	ev_timer_set(&w->drain_timer, 5.0, 0);
	ev_timer_start(w->loop, &w->drain_timer);
}

/* A fresh cluster after a drain; requests fail until it is ready. */
static void worker_reconnect(struct worker *w)
{
	w->cluster = nb_session_new(w->loop, &w->cfg);
	if (!w->cluster || nb_session_start(w->cluster, worker_ready_cb, w) < 0)
		nb_log_msg(LOG_ERR, "%s: cannot reconnect: %s", w->name,
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
	    nb_session_is_ready(w->cluster) &&
	    !(w->oldest && w->oldest->seq < w->drain_seq))
		return;
	if (w->stats.inflight)
		nb_log_msg(LOG_WARNING, "%s: %u request(s) still waiting for the "
			"cluster: failing them with I/O errors", w->name,
			w->stats.inflight);
	/* Completes everything in flight with -EIO; later requests fail in
	 * worker_submit() until a new cluster is ready. */
	worker_session_free(w);
	if (w->reconnect_after_drain)
		worker_reconnect(w);
}

static void worker_refreshed_cb(struct session *c,
				const struct session_volume *info, int err,
				void *opaque)
{
	struct worker *w = opaque;

	if (err == 0)
		nb_blk_dev_set_size(w->blk, info->size);
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
		c->result = nb_worker_do_queue_start(w, c);
		break;
	case WORKER_CMD_QUEUE_STOP:
		c->result = nb_worker_do_queue_stop(w, c);
		if (c->result == 1)
			return;	/* answered by nb_worker_queue_stopped() */
		break;
	case WORKER_CMD_QUEUE_STATE: {
		unsigned int index = c->u.queue_state.index;

		c->result = -EINVAL;
		if (index < WORKER_MAX_QUEUES && w->queues[index]) {
			c->u.queue_state.avail =
				nb_vq_last_avail_idx(w->queues[index]->vq);
			c->result = 0;
		}
		break;
	}
	case WORKER_CMD_INVALIDATE:
		nb_worker_do_invalidate(w, c);
		c->result = 0;
		break;
	case WORKER_CMD_DRAIN:
		w->reconnect_after_drain = c->u.drain.reconnect;
		w->drain_seq = nb_iotlb_seq(w->iotlb);
		if (w->cluster && !ev_is_active(&w->drain_timer)) {
			ev_timer_set(&w->drain_timer, c->u.drain.grace, 0);
			ev_timer_start(loop, &w->drain_timer);
		}
		c->result = 0;
		break;
	case WORKER_CMD_REFRESH:
		c->result = w->cluster ? nb_session_refresh_volume(w->cluster,
					    worker_refreshed_cb, w) : -ENOTCONN;
		break;
	case WORKER_CMD_RELOAD_TLS:
		c->result = w->cluster ? nb_session_reload_tls(w->cluster,
					c->u.reload_tls.ssl_ctx) : 0;
		/* A cluster made after a drain reads the files again. */
		break;
	case WORKER_CMD_IO_TIMEOUT:
		/* Sessions made later (a reconnect) take it from cfg. */
		w->cfg.io_timeout = c->u.io_timeout.seconds;
		c->result = w->cluster ? nb_session_set_io_timeout(w->cluster,
					c->u.io_timeout.seconds) : 0;
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
		nb_log_msg(LOG_ERR, "%s: worker did not answer a command within "
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

	w->cluster = nb_session_open_sync(w->loop, &w->cfg, msg, sizeof(msg));
	err = w->cluster ? 0 : errno;
	/* The TLS files are read: from here on no capability is needed. */
	nb_privs_drop_thread();
	/*
	 * Watch for commands before nb_worker_start() returns: the caller may
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
	nb_session_free(w->cluster);
	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		if (w->queues[i]) {
			nb_vq_free(w->queues[i]->vq);
			free(w->queues[i]);
		}
	}
	while ((io = w->free_ios)) {
		w->free_ios = io->next;
		free(io);
	}
	nb_blk_dev_free(w->blk);
	nb_iotlb_free(w->iotlb);
	if (w->loop)
		ev_loop_destroy(w->loop);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->cmd_send_lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

struct worker *nb_worker_start(const struct worker_params *p, char *err,
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
	w->iotlb = nb_iotlb_new(nb_worker_iotlb_lookup, w);
	w->blk = nb_blk_dev_new(&w->blk_params, &worker_blk_ops, w);
	if (!w->loop || !w->iotlb || !w->blk) {
		snprintf(err, errlen, "%s: cannot set up worker: %s", w->name,
			 w->blk ? strerror(ENOMEM) : "bad device parameters");
		goto out_free;
	}
	ev_async_init(&w->wake, worker_wake_cb);
	w->wake.data = w;
	ev_init(&w->drain_timer, worker_drain_cb);
	w->drain_timer.data = w;
	ev_prepare_init(&w->after, nb_worker_after_cb);
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

int nb_worker_queue_start(struct worker *w, unsigned int index,
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

int nb_worker_queue_stop(struct worker *w, unsigned int index,
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

int nb_worker_queue_state(struct worker *w, unsigned int index,
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

int nb_worker_invalidate(struct worker *w, uint64_t start, uint64_t last)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_INVALIDATE,
		.u.invalidate = { .start = start, .last = last },
	};

	return worker_call(w, &c);
}

int nb_worker_drain(struct worker *w, double grace, bool reconnect)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_DRAIN,
		.u.drain = { .grace = grace, .reconnect = reconnect },
	};

	return worker_call(w, &c);
}

int nb_worker_refresh_size(struct worker *w)
{
	struct worker_cmd c = { .type = WORKER_CMD_REFRESH };

	return worker_call(w, &c);
}

int nb_worker_reload_tls(struct worker *w, struct ssl_ctx_st *ctx)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_RELOAD_TLS,
		.u.reload_tls = { .ssl_ctx = ctx },
	};

	return worker_call(w, &c);
}

int nb_worker_set_io_timeout(struct worker *w, double seconds)
{
	struct worker_cmd c = {
		.type = WORKER_CMD_IO_TIMEOUT,
		.u.io_timeout = { .seconds = seconds },
	};

	return worker_call(w, &c);
}

void nb_worker_get_stats(struct worker *w, struct worker_stats *out)
{
	/* Counters are written by the worker only; a torn read is harmless
	 * for reporting. */
	*out = w->stats;
}

void nb_worker_stop(struct worker *w)
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

