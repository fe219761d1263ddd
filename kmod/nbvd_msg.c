// SPDX-License-Identifier: GPL-2.0
/*
 * Control messages to the userspace server of a device: a request is queued
 * on msg_send, moved to msg_recv once read(), and completed by the write() of
 * a response with the same request_id. The sender waits at most msg_timeout
 * seconds; a request that times out marks the device broken, after which
 * every request fails at once until a new server opens the device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "nbvd.h"

struct nbvd_msg {
	struct list_head node;
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	bool done;
};

void nbvd_msg_init(struct nbvd_dev *dev, unsigned int timeout)
{
	spin_lock_init(&dev->msg_lock);
	INIT_LIST_HEAD(&dev->msg_send);
	INIT_LIST_HEAD(&dev->msg_recv);
	init_waitqueue_head(&dev->msg_wait);
	dev->msg_timeout = timeout;
}

static const char *nbvd_msg_type_name(u32 type)
{
	switch (type) {
	case VDUSE_GET_VQ_STATE:
		return "GET_VQ_STATE";
	case VDUSE_SET_STATUS:
		return "SET_STATUS";
	case VDUSE_UPDATE_IOTLB:
		return "UPDATE_IOTLB";
	}
	return "?";
}

int nbvd_msg_send(struct nbvd_dev *dev, struct vduse_dev_request *req,
		  struct vduse_dev_response *resp)
{
	struct nbvd_msg msg = { .req = *req };
	unsigned long timeout;
	long left;
	int ret = 0;

	spin_lock(&dev->msg_lock);
	if (dev->broken) {
		spin_unlock(&dev->msg_lock);
		return -EIO;
	}
	msg.req.request_id = dev->msg_next_id++;
	list_add_tail(&msg.node, &dev->msg_send);
	timeout = READ_ONCE(dev->msg_timeout);
	spin_unlock(&dev->msg_lock);
	wake_up_all(&dev->msg_wait);

	left = wait_event_killable_timeout(dev->msg_wait, READ_ONCE(msg.done),
					   timeout * HZ);

	spin_lock(&dev->msg_lock);
	if (!msg.done) {
		list_del(&msg.node);
		if (left == 0) {
			dev->broken = true;
			ret = -ETIMEDOUT;
		} else {
			ret = -EINTR;
		}
	}
	spin_unlock(&dev->msg_lock);

	if (ret == -ETIMEDOUT)
		pr_err("%s: no answer to %s within %lu s: device marked broken\n",
		       dev->name, nbvd_msg_type_name(req->type), timeout);
	if (ret)
		return ret;
	if (msg.resp.result != VDUSE_REQ_RESULT_OK)
		return -EIO;
	if (resp)
		*resp = msg.resp;
	return 0;
}

ssize_t nbvd_msg_read(struct nbvd_dev *dev, struct iov_iter *to,
		      bool nonblock)
{
	struct vduse_dev_request req;
	struct nbvd_msg *msg;
	int ret;

	if (iov_iter_count(to) < sizeof(req))
		return -EINVAL;

	spin_lock(&dev->msg_lock);
	while (list_empty(&dev->msg_send)) {
		spin_unlock(&dev->msg_lock);
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(dev->msg_wait,
					       !list_empty(&dev->msg_send));
		if (ret)
			return ret;
		spin_lock(&dev->msg_lock);
	}
	msg = list_first_entry(&dev->msg_send, struct nbvd_msg, node);
	list_move_tail(&msg->node, &dev->msg_recv);
	req = msg->req;
	spin_unlock(&dev->msg_lock);

	if (copy_to_iter(&req, sizeof(req), to) != sizeof(req)) {
		/* Give it back unless its sender gave up meanwhile. */
		spin_lock(&dev->msg_lock);
		list_for_each_entry(msg, &dev->msg_recv, node) {
			if (msg->req.request_id == req.request_id) {
				list_move(&msg->node, &dev->msg_send);
				break;
			}
		}
		spin_unlock(&dev->msg_lock);
		return -EFAULT;
	}
	return sizeof(req);
}

ssize_t nbvd_msg_write(struct nbvd_dev *dev, struct iov_iter *from)
{
	struct vduse_dev_response resp;
	struct nbvd_msg *msg;
	ssize_t ret = -ENOENT;

	if (iov_iter_count(from) < sizeof(resp))
		return -EINVAL;
	if (copy_from_iter(&resp, sizeof(resp), from) != sizeof(resp))
		return -EFAULT;

	spin_lock(&dev->msg_lock);
	list_for_each_entry(msg, &dev->msg_recv, node) {
		if (msg->req.request_id != resp.request_id)
			continue;
		list_del(&msg->node);
		msg->resp = resp;
		WRITE_ONCE(msg->done, true);
		ret = sizeof(resp);
		break;
	}
	spin_unlock(&dev->msg_lock);
	if (ret > 0)
		wake_up_all(&dev->msg_wait);
	return ret;
}

__poll_t nbvd_msg_poll(struct nbvd_dev *dev, struct file *file,
		       poll_table *wait)
{
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &dev->msg_wait, wait);
	spin_lock(&dev->msg_lock);
	if (!list_empty(&dev->msg_send))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&dev->msg_lock);
	return mask;
}

/*
 * The server closed the device: requests it read but did not answer go back
 * to the send queue for the next server, and the device is usable again.
 */
void nbvd_msg_requeue(struct nbvd_dev *dev)
{
	spin_lock(&dev->msg_lock);
	list_splice_init(&dev->msg_recv, &dev->msg_send);
	spin_unlock(&dev->msg_lock);
}
