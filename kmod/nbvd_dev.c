// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vduse/NAME: the file a VDUSE server holds for one device. One opener
 * at a time; ioctls for the IOVA fd, features, config, virtqueues and
 * interrupts; read()/write()/poll() carry the control messages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/virtio_config.h>

#include "nbvd.h"

static void nbvd_dev_kick_work(struct work_struct *work)
{
	struct nbvd_vq *vq = container_of(work, struct nbvd_vq, kick_work);

	spin_lock_irq(&vq->kick_lock);
	if (vq->kickfd)
		eventfd_signal(vq->kickfd);
	spin_unlock_irq(&vq->kick_lock);
}

void nbvd_dev_vq_kick(struct nbvd_vq *vq)
{
	unsigned long flags;

	spin_lock_irqsave(&vq->kick_lock, flags);
	if (!vq->kickfd)
		vq->kicked = true;
	else if (eventfd_signal_allowed())
		eventfd_signal(vq->kickfd);
	else
		schedule_work(&vq->kick_work);
	spin_unlock_irqrestore(&vq->kick_lock, flags);
}

/* Back to the state of a device no driver has touched (virtio reset). */
void nbvd_dev_reset_state(struct nbvd_dev *dev)
{
	u32 i;

	spin_lock(&dev->vq_lock);
	dev->status = 0;
	dev->driver_features = 0;
	dev->generation++;
	for (i = 0; i < dev->vq_num; i++) {
		struct nbvd_vq *vq = &dev->vqs[i];

		vq->num = 0;
		vq->desc_addr = 0;
		vq->driver_addr = 0;
		vq->device_addr = 0;
		memset(&vq->state, 0, sizeof(vq->state));
		vq->ready = false;
	}
	spin_unlock(&dev->vq_lock);

	for (i = 0; i < dev->vq_num; i++) {
		struct nbvd_vq *vq = &dev->vqs[i];

		spin_lock_irq(&vq->irq_lock);
		vq->cb.callback = NULL;
		vq->cb.private = NULL;
		vq->cb.trigger = NULL;
		spin_unlock_irq(&vq->irq_lock);
		spin_lock_irq(&vq->kick_lock);
		vq->kicked = false;
		spin_unlock_irq(&vq->kick_lock);
		flush_work(&vq->kick_work);
	}
	spin_lock_irq(&dev->config_irq_lock);
	dev->config_cb.callback = NULL;
	dev->config_cb.private = NULL;
	spin_unlock_irq(&dev->config_irq_lock);
}

static int nbvd_dev_open(struct inode *inode, struct file *file)
{
	struct nbvd_dev *dev;
	int ret = 0;

	mutex_lock(&nbvd_lock);
	dev = idr_find(&nbvd_devs, iminor(inode));
	if (!dev) {
		ret = -ENODEV;
	} else if (dev->opened) {
		ret = -EBUSY;
	} else {
		dev->opened = true;
		spin_lock(&dev->msg_lock);
		dev->broken = false;
		spin_unlock(&dev->msg_lock);
		file->private_data = dev;
	}
	mutex_unlock(&nbvd_lock);
	return ret ? ret : nonseekable_open(inode, file);
}

static int nbvd_dev_release(struct inode *inode, struct file *file)
{
	struct nbvd_dev *dev = file->private_data;
	u32 i;

	for (i = 0; i < dev->vq_num; i++) {
		struct nbvd_vq *vq = &dev->vqs[i];
		struct eventfd_ctx *old;

		spin_lock_irq(&vq->kick_lock);
		old = vq->kickfd;
		vq->kickfd = NULL;
		spin_unlock_irq(&vq->kick_lock);
		flush_work(&vq->kick_work);
		if (old)
			eventfd_ctx_put(old);
	}
	nbvd_msg_requeue(dev);
	mutex_lock(&nbvd_lock);
	dev->opened = false;
	mutex_unlock(&nbvd_lock);
	return 0;
}

static ssize_t nbvd_dev_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct nbvd_dev *dev = iocb->ki_filp->private_data;

	return nbvd_msg_read(dev, to, iocb->ki_filp->f_flags & O_NONBLOCK);
}

static ssize_t nbvd_dev_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return nbvd_msg_write(iocb->ki_filp->private_data, from);
}

static __poll_t nbvd_dev_poll(struct file *file, poll_table *wait)
{
	return nbvd_msg_poll(file->private_data, file, wait);
}

static long nbvd_dev_iotlb_get_fd(struct nbvd_dev *dev, void __user *argp)
{
	struct vduse_iotlb_entry entry;
	struct file *file;
	int ret, fd;

	if (copy_from_user(&entry, argp, sizeof(entry)))
		return -EFAULT;
	if (entry.start > entry.last)
		return -EINVAL;

	mutex_lock(&dev->lock);
	if (!dev->domain) {
		mutex_unlock(&dev->lock);
		return -EINVAL;
	}
	ret = nbvd_domain_find(dev->domain, entry.start, &entry);
	file = ret ? NULL : nbvd_domain_file(dev->domain);
	mutex_unlock(&dev->lock);
	if (ret)
		return ret;

	if (copy_to_user(argp, &entry, sizeof(entry))) {
		fput(file);
		return -EFAULT;
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		fput(file);
		return fd;
	}
	fd_install(fd, file);
	return fd;
}

static long nbvd_dev_set_config(struct nbvd_dev *dev, void __user *argp)
{
	struct vduse_config_data hdr;
	u8 *buf;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (!hdr.length || hdr.length > dev->config_size ||
	    hdr.offset > dev->config_size - hdr.length)
		return -EINVAL;
	buf = memdup_user(argp + offsetof(struct vduse_config_data, buffer),
			  hdr.length);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	spin_lock(&dev->config_lock);
	memcpy(dev->config + hdr.offset, buf, hdr.length);
	spin_unlock(&dev->config_lock);
	kfree(buf);
	return 0;
}

static long nbvd_dev_config_irq(struct nbvd_dev *dev)
{
	spin_lock_irq(&dev->config_irq_lock);
	if (dev->config_cb.callback)
		dev->config_cb.callback(dev->config_cb.private);
	spin_unlock_irq(&dev->config_irq_lock);
	return 0;
}

static bool nbvd_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static long nbvd_dev_vq_setup(struct nbvd_dev *dev, void __user *argp)
{
	struct vduse_vq_config cfg;
	long ret = 0;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	if (cfg.index >= dev->vq_num || !cfg.max_size ||
	    cfg.max_size > NBVD_MAX_VQ_SIZE ||
	    !nbvd_zeroed(cfg.reserved, sizeof(cfg.reserved)))
		return -EINVAL;
	mutex_lock(&nbvd_lock);
	if (dev->vdpa)
		ret = -EBUSY;
	else
		dev->vqs[cfg.index].num_max = cfg.max_size;
	mutex_unlock(&nbvd_lock);
	return ret;
}

static long nbvd_dev_vq_info(struct nbvd_dev *dev, void __user *argp)
{
	struct vduse_vq_info info;
	struct nbvd_vq *vq;
	u32 index;

	if (get_user(index, (u32 __user *)argp))
		return -EFAULT;
	if (index >= dev->vq_num)
		return -EINVAL;
	vq = &dev->vqs[index];
	memset(&info, 0, sizeof(info));
	info.index = index;
	spin_lock(&dev->vq_lock);
	info.num = vq->num;
	info.desc_addr = vq->desc_addr;
	info.driver_addr = vq->driver_addr;
	info.device_addr = vq->device_addr;
	if (dev->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED)) {
		info.packed.last_avail_counter =
			vq->state.packed.last_avail_counter;
		info.packed.last_avail_idx = vq->state.packed.last_avail_idx;
		info.packed.last_used_counter =
			vq->state.packed.last_used_counter;
		info.packed.last_used_idx = vq->state.packed.last_used_idx;
	} else {
		info.split.avail_index = vq->state.split.avail_index;
	}
	info.ready = vq->ready;
	spin_unlock(&dev->vq_lock);
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

static long nbvd_dev_vq_kickfd(struct nbvd_dev *dev, void __user *argp)
{
	struct vduse_vq_eventfd evfd;
	struct eventfd_ctx *ctx = NULL, *old;
	struct nbvd_vq *vq;

	if (copy_from_user(&evfd, argp, sizeof(evfd)))
		return -EFAULT;
	if (evfd.index >= dev->vq_num)
		return -EINVAL;
	if (evfd.fd != VDUSE_EVENTFD_DEASSIGN) {
		if (evfd.fd < 0)
			return -EINVAL;
		ctx = eventfd_ctx_fdget(evfd.fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	vq = &dev->vqs[evfd.index];
	spin_lock_irq(&vq->kick_lock);
	old = vq->kickfd;
	vq->kickfd = ctx;
	if (ctx && vq->kicked) {
		vq->kicked = false;
		schedule_work(&vq->kick_work);
	}
	spin_unlock_irq(&vq->kick_lock);
	if (old) {
		flush_work(&vq->kick_work);
		eventfd_ctx_put(old);
	}
	return 0;
}

static long nbvd_dev_vq_irq(struct nbvd_dev *dev, void __user *argp)
{
	struct nbvd_vq *vq;
	u32 index;

	if (get_user(index, (u32 __user *)argp))
		return -EFAULT;
	if (index >= dev->vq_num)
		return -EINVAL;
	vq = &dev->vqs[index];
	spin_lock_irq(&vq->irq_lock);
	if (vq->cb.callback)
		vq->cb.callback(vq->cb.private);
	spin_unlock_irq(&vq->irq_lock);
	return 0;
}

static long nbvd_dev_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct nbvd_dev *dev = file->private_data;
	void __user *argp = (void __user *)arg;
	u64 features;

	switch (cmd) {
	case VDUSE_IOTLB_GET_FD:
		return nbvd_dev_iotlb_get_fd(dev, argp);
	case VDUSE_DEV_GET_FEATURES:
		spin_lock(&dev->vq_lock);
		features = dev->driver_features;
		spin_unlock(&dev->vq_lock);
		return put_user(features, (u64 __user *)argp);
	case VDUSE_DEV_SET_CONFIG:
		return nbvd_dev_set_config(dev, argp);
	case VDUSE_DEV_INJECT_CONFIG_IRQ:
		return nbvd_dev_config_irq(dev);
	case VDUSE_VQ_SETUP:
		return nbvd_dev_vq_setup(dev, argp);
	case VDUSE_VQ_GET_INFO:
		return nbvd_dev_vq_info(dev, argp);
	case VDUSE_VQ_SETUP_KICKFD:
		return nbvd_dev_vq_kickfd(dev, argp);
	case VDUSE_VQ_INJECT_IRQ:
		return nbvd_dev_vq_irq(dev, argp);
	}
	return -ENOTTY;
}

const struct file_operations nbvd_dev_fops = {
	.owner = THIS_MODULE,
	.open = nbvd_dev_open,
	.release = nbvd_dev_release,
	.read_iter = nbvd_dev_read_iter,
	.write_iter = nbvd_dev_write_iter,
	.poll = nbvd_dev_poll,
	.unlocked_ioctl = nbvd_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

struct nbvd_dev *nbvd_dev_alloc(const struct vduse_dev_config *cfg,
				const void __user *config)
{
	struct nbvd_dev *dev;
	u32 i;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	strscpy(dev->name, cfg->name, sizeof(dev->name));
	mutex_init(&dev->lock);
	spin_lock_init(&dev->vq_lock);
	spin_lock_init(&dev->config_lock);
	spin_lock_init(&dev->config_irq_lock);
	dev->vendor_id = cfg->vendor_id;
	dev->device_id = cfg->device_id;
	dev->device_features = cfg->features;
	dev->vq_align = cfg->vq_align;
	dev->vq_num = cfg->vq_num;
	dev->config_size = cfg->config_size;
	dev->config = memdup_user(config, cfg->config_size);
	if (IS_ERR(dev->config)) {
		long err = PTR_ERR(dev->config);

		kfree(dev);
		return ERR_PTR(err);
	}
	dev->vqs = kcalloc(dev->vq_num, sizeof(*dev->vqs), GFP_KERNEL);
	if (!dev->vqs) {
		kfree(dev->config);
		kfree(dev);
		return ERR_PTR(-ENOMEM);
	}
	for (i = 0; i < dev->vq_num; i++) {
		struct nbvd_vq *vq = &dev->vqs[i];

		vq->index = i;
		spin_lock_init(&vq->kick_lock);
		spin_lock_init(&vq->irq_lock);
		INIT_WORK(&vq->kick_work, nbvd_dev_kick_work);
	}
	return dev;
}

void nbvd_dev_free(struct nbvd_dev *dev)
{
	u32 i;

	for (i = 0; i < dev->vq_num; i++) {
		flush_work(&dev->vqs[i].kick_work);
		if (WARN_ON_ONCE(dev->vqs[i].kickfd))
			eventfd_ctx_put(dev->vqs[i].kickfd);
	}
	kfree(dev->vqs);
	kfree(dev->config);
	kfree(dev);
}
