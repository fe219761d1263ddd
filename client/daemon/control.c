/* SPDX-License-Identifier: MIT */
/* The control thread of a VDUSE device. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ev.h>
#include <linux/virtio_config.h>

#include "control.h"
#include "log.h"
#include "privs.h"
#include "vduse_dev.h"

#define CONTROL_MAX_QUEUES WORKER_MAX_QUEUES

struct control_queue {
	int kickfd;           /* -1 when not started */
	uint16_t last_avail;  /* where a stopped queue resumes */
};

struct control {
	char name[VDUSE_NAME_MAX];
	int fd;
	unsigned int num_queues;
	struct worker **workers;
	unsigned int n_workers;
	struct control_queue queues[CONTROL_MAX_QUEUES];
	struct vq_log *logs;
	_Atomic uint8_t status;
	struct ev_loop *loop;
	ev_io msg_watcher;
	ev_async stop_watcher;
	pthread_t thread;
};

static struct worker *control_worker(struct control *d, unsigned int index)
{
	return d->workers[index % d->n_workers];
}

static void control_stop_queues(struct control *d, bool abandon)
{
	unsigned int i;

	for (i = 0; i < d->num_queues; i++) {
		struct control_queue *q = &d->queues[i];

		if (q->kickfd < 0)
			continue;
		nb_worker_queue_stop(control_worker(d, i), i, &q->last_avail,
				  abandon);
		nb_vduse_vq_set_kickfd(d->fd, i, VDUSE_EVENTFD_DEASSIGN);
		close(q->kickfd);
		q->kickfd = -1;
	}
}

static int control_start_queues(struct control *d, bool resume)
{
	uint64_t features;
	unsigned int i;
	int ret;

	ret = nb_vduse_dev_get_features(d->fd, &features);
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "%s: VDUSE_DEV_GET_FEATURES: %s", d->name,
			strerror(-ret));
		return ret;
	}
	for (i = 0; i < d->num_queues; i++) {
		struct control_queue *q = &d->queues[i];
		struct vduse_vq_info info;
		struct vq_layout layout;

		ret = nb_vduse_vq_get_info(d->fd, i, &info);
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s: VDUSE_VQ_GET_INFO %u: %s", d->name,
				i, strerror(-ret));
			return ret;
		}
		if (!info.ready || q->kickfd >= 0)
			continue;
		q->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kickfd < 0)
			return -errno;
		ret = nb_vduse_vq_set_kickfd(d->fd, i, q->kickfd);
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s: VDUSE_VQ_SETUP_KICKFD %u: %s",
				d->name, i, strerror(-ret));
			goto out_close;
		}
		layout = (struct vq_layout){
			.num = info.num,
			.desc_iova = info.desc_addr,
			.avail_iova = info.driver_addr,
			.used_iova = info.device_addr,
			.last_avail_idx = info.split.avail_index,
			.features = features,
		};
		if (resume && d->logs)
			layout.last_avail_idx = d->logs[i].last_avail_idx;
		ret = nb_worker_queue_start(control_worker(d, i), i, &layout,
					 q->kickfd, features,
					 d->logs ? &d->logs[i] : NULL, resume);
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s: cannot start queue %u (size %u): %s",
				d->name, i, info.num, strerror(-ret));
			nb_vduse_vq_set_kickfd(d->fd, i, VDUSE_EVENTFD_DEASSIGN);
			goto out_close;
		}
		nb_log_msg(LOG_INFO, "%s: queue %u started: size %u, resuming at "
			"%u", d->name, i, info.num, info.split.avail_index);
	}
	return 0;

out_close:
	close(d->queues[i].kickfd);
	d->queues[i].kickfd = -1;
	return ret;
}

static int control_set_status(struct control *d, uint8_t status)
{
	uint8_t old = atomic_load(&d->status);
	int ret = 0;

	nb_log_msg(LOG_INFO, "%s: status 0x%02x -> 0x%02x", d->name, old, status);
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		ret = control_start_queues(d, false);
	else if (!(status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		 (old & VIRTIO_CONFIG_S_DRIVER_OK))
		control_stop_queues(d, false);
	if (status == 0) {
		/* A reset starts every queue from the beginning. */
		unsigned int i;

		for (i = 0; i < d->num_queues; i++)
			d->queues[i].last_avail = 0;
	}
	atomic_store(&d->status, status);
	return ret;
}

static int control_vq_state(struct control *d, unsigned int index,
			    uint16_t *avail)
{
	if (index >= d->num_queues)
		return -EINVAL;
	if (d->queues[index].kickfd < 0) {
		*avail = d->queues[index].last_avail;
		return 0;
	}
	return nb_worker_queue_state(control_worker(d, index), index, avail);
}

static int control_update_iotlb(struct control *d, uint64_t start,
				uint64_t last)
{
	unsigned int i;
	int ret = 0;

	nb_log_msg(LOG_DEBUG, "%s: IOTLB update 0x%llx-0x%llx", d->name,
		(unsigned long long)start, (unsigned long long)last);
	for (i = 0; i < d->n_workers; i++) {
		int r = nb_worker_invalidate(d->workers[i], start, last);

		if (r < 0)
			ret = r;
	}
	return ret;
}

static void control_msg_cb(struct ev_loop *loop, ev_io *watcher, int revents)
{
	struct control *d = watcher->data;
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	unsigned int budget = 64;
	int ret;

	while (budget--) {
		ret = nb_vduse_dev_read_request(d->fd, &req);
		if (ret == -EAGAIN || ret == -EINTR)
			return;
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s: reading a control message: %s",
				d->name, strerror(-ret));
			ev_io_stop(loop, watcher);
			return;
		}
		memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id;
		switch (req.type) {
		case VDUSE_GET_VQ_STATE:
			ret = control_vq_state(d, req.vq_state.index,
					      &resp.vq_state.split.avail_index);
			resp.vq_state.index = req.vq_state.index;
			break;
		case VDUSE_SET_STATUS:
			ret = control_set_status(d, req.s.status);
			break;
		case VDUSE_UPDATE_IOTLB:
			ret = control_update_iotlb(d, req.iova.start,
						   req.iova.last);
			break;
		default:
			nb_log_msg(LOG_WARNING, "%s: unknown control message type "
				"%u", d->name, req.type);
			ret = -EOPNOTSUPP;
			break;
		}
		resp.result = ret < 0 ? VDUSE_REQ_RESULT_FAILED :
					VDUSE_REQ_RESULT_OK;
		ret = nb_vduse_dev_write_response(d->fd, &resp);
		if (ret < 0)
			nb_log_msg(LOG_ERR, "%s: answering control message %u: %s",
				d->name, req.request_id, strerror(-ret));
	}
}

static void control_stop_cb(struct ev_loop *loop, ev_async *watcher,
			    int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *control_main(void *arg)
{
	struct control *d = arg;

	nb_privs_drop_thread();	/* the control thread needs no capability */
	ev_run(d->loop, 0);
	return NULL;
}

struct control *nb_control_start(const char *name, int dev_fd,
			      unsigned int num_queues, struct worker **workers,
			      unsigned int n_workers, struct vq_log *logs,
			      bool resume)
{
	struct control *d;
	unsigned int i;
	int ret;

	if (num_queues == 0 || num_queues > CONTROL_MAX_QUEUES ||
	    n_workers == 0) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->fd = dev_fd;
	d->num_queues = num_queues;
	d->n_workers = n_workers;
	d->workers = calloc(n_workers, sizeof(*workers));
	d->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!d->workers || !d->loop)
		goto out_free;
	memcpy(d->workers, workers, n_workers * sizeof(*workers));
	for (i = 0; i < CONTROL_MAX_QUEUES; i++)
		d->queues[i].kickfd = -1;
	d->logs = logs;
	if (resume) {
		/* The driver set DRIVER_OK long ago: no message will say so. */
		ret = control_start_queues(d, true);
		if (ret < 0) {
			control_stop_queues(d, true);
			errno = -ret;
			goto out_free;
		}
		atomic_store(&d->status, VIRTIO_CONFIG_S_ACKNOWLEDGE |
			     VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			     VIRTIO_CONFIG_S_DRIVER_OK);
	}
	ev_io_init(&d->msg_watcher, control_msg_cb, dev_fd, EV_READ);
	d->msg_watcher.data = d;
	ev_io_start(d->loop, &d->msg_watcher);
	ev_async_init(&d->stop_watcher, control_stop_cb);
	ev_async_start(d->loop, &d->stop_watcher);
	ret = pthread_create(&d->thread, NULL, control_main, d);
	if (ret) {
		errno = ret;
		goto out_free;
	}
	return d;

out_free:
	if (d->loop)
		ev_loop_destroy(d->loop);
	free(d->workers);
	free(d);
	if (!errno)
		errno = ENOMEM;
	return NULL;
}

uint8_t nb_control_status(struct control *d)
{
	return atomic_load(&d->status);
}

void nb_control_stop(struct control *d, bool leave)
{
	if (!d)
		return;
	ev_async_send(d->loop, &d->stop_watcher);
	pthread_join(d->thread, NULL);
	control_stop_queues(d, leave);
	ev_loop_destroy(d->loop);
	free(d->workers);
	free(d);
}
