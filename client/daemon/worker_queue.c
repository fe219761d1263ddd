/* SPDX-License-Identifier: MIT */
/*
 * A worker's virtqueues: set up, taken over, run on each kick within a
 * budget, interrupted once per loop iteration, remapped, stopped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotlb.h"
#include "log.h"
#include "vduse_dev.h"
#include "worker_priv.h"

static void *worker_translate(void *opaque, uint64_t iova, uint64_t *len,
			      bool write)
{
	struct worker_queue *q = opaque;

	return nb_iotlb_translate(q->w->iotlb, iova, len, write);
}

static int worker_notify(void *opaque)
{
	struct worker_queue *q = opaque;

	return nb_vduse_vq_inject_irq(q->w->dev_fd, q->index);
}

static const struct vq_ops worker_vq_ops = {
	.translate = worker_translate,
	.notify = worker_notify,
};

int nb_worker_iotlb_lookup(void *opaque, uint64_t iova, uint64_t *start,
			uint64_t *last, uint64_t *offset, uint8_t *perm)
{
	struct worker *w = opaque;
	struct vduse_iotlb_entry e;
	int fd;

	fd = nb_vduse_iotlb_get_fd(w->dev_fd, iova, &e);
	if (fd < 0)
		return fd;
	*start = e.start;
	*last = e.last;
	*offset = e.offset;
	*perm = e.perm;
	return fd;
}

/* ---- queue processing ---- */

static void worker_queue_run(struct worker_queue *q)
{
	struct worker *w = q->w;
	int n;

	if (!q->started)
		return;
	do {
		nb_vq_kick_disable(q->vq);
		n = nb_blk_queue_process(w->blk, q->vq, WORKER_BUDGET);
		if (n != 0 && nb_log_level() >= LOG_DEBUG)
			nb_log_msg(LOG_DEBUG, "%s: queue %u: popped %d", w->name,
				q->index, n);
		if (n < 0) {
			if (n == -EIO)
				nb_log_msg(LOG_ERR, "%s: queue %u: the driver broke "
					"the ring; the queue needs a reset",
					w->name, q->index);
			return;
		}
		if (n == WORKER_BUDGET) {
			/* Let other queues and the network have a turn. */
			ev_idle_start(w->loop, &q->more);
			return;
		}
	} while (nb_vq_kick_enable(q->vq));
}

static void worker_kick_cb(struct ev_loop *loop, ev_io *watcher, int revents)
{
	struct worker_queue *q = watcher->data;
	uint64_t count;

	if (read(watcher->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		nb_log_msg(LOG_ERR, "%s: queue %u: reading kick eventfd: %s",
			q->w->name, q->index, strerror(errno));
	else if (nb_log_level() >= LOG_DEBUG)
		nb_log_msg(LOG_DEBUG, "%s: queue %u: kick", q->w->name, q->index);
	worker_queue_run(q);
}

static void worker_more_cb(struct ev_loop *loop, ev_idle *watcher, int revents)
{
	struct worker_queue *q = watcher->data;

	ev_idle_stop(loop, watcher);
	worker_queue_run(q);
}

void nb_worker_after_cb(struct ev_loop *loop, ev_prepare *watcher,
		     int revents)
{
	struct worker *w = watcher->data;
	unsigned int i;

	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		struct worker_queue *q = w->queues[i];

		if (q && q->dirty) {
			q->dirty = false;
			if (q->started) {
				int ret = nb_vq_notify_batch(q->vq);

				if (ret < 0)
					nb_log_msg(LOG_ERR, "%s: queue %u: interrupt "
						"injection failed: %s", w->name,
						q->index, strerror(-ret));
			}
		}
	}
	nb_worker_sample(w);
	if (nb_iotlb_retired_count(w->iotlb))
		nb_iotlb_reap(w->iotlb, w->oldest ? w->oldest->seq :
			   IOTLB_NONE_INFLIGHT);
}

int nb_worker_do_queue_start(struct worker *w, struct worker_cmd *cmd)
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
		q->vq = nb_vq_new(&worker_vq_ops, q, c->index);
		if (!q->vq) {
			free(q);
			return -ENOMEM;
		}
		ev_idle_init(&q->more, worker_more_cb);
		q->more.data = q;
		ev_init(&q->stop_timer, nb_worker_stop_timer_cb);
		q->stop_timer.data = q;
		w->queues[c->index] = q;
	}
	if (q->started)
		return -EBUSY;
	ret = nb_blk_dev_set_features(w->blk, c->features);
	if (ret < 0)
		return ret;
	ret = nb_vq_setup(q->vq, &c->layout);
	if (ret < 0)
		return ret;
	if (c->log && c->resume) {
		uint16_t *heads = malloc(sizeof(*heads) * c->layout.num);
		int i, n;

		if (!heads)
			return -ENOMEM;
		n = nb_vq_recover(q->vq, c->log, heads);
		if (n < 0) {
			free(heads);
			return n;
		}
		nb_log_msg(LOG_NOTICE, "%s: queue %u: resuming at %u with %d "
			"request(s) that were in flight", w->name, q->index,
			c->layout.last_avail_idx, n);
		for (i = 0; i < n; i++) {
			ret = nb_blk_queue_resubmit(w->blk, q->vq, heads[i]);
			if (ret < 0)
				nb_log_msg(LOG_ERR, "%s: queue %u: request %u "
					"cannot be run again: %s", w->name,
					q->index, heads[i], strerror(-ret));
		}
		q->dirty = true;
		free(heads);
	} else if (c->log) {
		nb_vq_log_start(q->vq, c->log);
	}
	ev_io_init(&q->kick, worker_kick_cb, c->kickfd, EV_READ);
	q->kick.data = q;
	ev_io_start(w->loop, &q->kick);
	q->started = true;
	/* The driver may have queued requests before we watched the kick. */
	worker_queue_run(q);
	return 0;
}

/* Nothing of the queue is in flight any more: forget the rings. */
void nb_worker_queue_stopped(struct worker_queue *q)
{
	struct worker *w = q->w;

	ev_timer_stop(w->loop, &q->stop_timer);
	nb_vq_reset(q->vq);
	q->started = false;
	q->stopping = false;
	q->dirty = false;
	nb_worker_cmd_finish(w, q->stop_seq, 0);
}

/* Returns 1 when the answer is deferred (requests in flight). */
int nb_worker_do_queue_stop(struct worker *w, struct worker_cmd *cmd)
{
	struct worker_cmd_queue_stop *c = &cmd->u.queue_stop;
	struct worker_queue *q;

	if (c->index >= WORKER_MAX_QUEUES || !w->queues[c->index])
		return -EINVAL;
	q = w->queues[c->index];
	c->avail = nb_vq_last_avail_idx(q->vq);
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
	nb_vq_reset(q->vq);
	q->started = false;
	q->dirty = false;
	return 0;
}

void nb_worker_do_invalidate(struct worker *w, struct worker_cmd *c)
{
	unsigned int i;

	nb_iotlb_invalidate(w->iotlb, c->u.invalidate.start, c->u.invalidate.last);
	for (i = 0; i < WORKER_MAX_QUEUES; i++) {
		struct worker_queue *q = w->queues[i];

		if (q && q->started && nb_vq_remap(q->vq) < 0)
			nb_log_msg(LOG_WARNING, "%s: queue %u: rings no longer "
				"mapped after an IOTLB update; waiting for the "
				"driver to set them up again", w->name, i);
	}
}
