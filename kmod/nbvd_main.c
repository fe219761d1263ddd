// SPDX-License-Identifier: GPL-2.0
/*
 * netblk_vduse: the VDUSE userspace API (<linux/vduse.h>, API version 0) on
 * the vDPA bus, for virtio-blk devices, as an out-of-tree module of
 * vduse-netblk. This file: module parameters, the "vduse" class, the control
 * device /dev/vduse/control and device creation and destruction.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "nbvd.h"

static unsigned int bounce_mb = 64;
module_param(bounce_mb, uint, 0444);
MODULE_PARM_DESC(bounce_mb,
		 "Default bounce buffer IOVA area of a new device in MiB (1-1024, default 64; per device: /sys/class/vduse/NAME/bounce_size)");

static unsigned int msg_timeout = 30;
module_param(msg_timeout, uint, 0444);
MODULE_PARM_DESC(msg_timeout,
		 "Default seconds to wait for a server's answer to a control message (1-3600, default 30)");

DEFINE_MUTEX(nbvd_lock);
DEFINE_IDR(nbvd_devs);

static dev_t nbvd_devt;
static struct cdev nbvd_ctl_cdev;
static struct device *nbvd_ctl_dev;

struct nbvd_ctl {
	u64 api_version;
};

static char *nbvd_devnode(const struct device *d, umode_t *mode)
{
	if (mode)
		*mode = 0600;
	return kasprintf(GFP_KERNEL, "vduse/%s", dev_name(d));
}

static ssize_t nbvd_msg_timeout_show(struct device *d,
				     struct device_attribute *attr, char *buf)
{
	struct nbvd_dev *dev = dev_get_drvdata(d);

	return sysfs_emit(buf, "%u\n", READ_ONCE(dev->msg_timeout));
}

static ssize_t nbvd_msg_timeout_store(struct device *d,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct nbvd_dev *dev = dev_get_drvdata(d);
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 10, &val);
	if (ret)
		return ret;
	if (!val || val > 3600)
		return -EINVAL;
	WRITE_ONCE(dev->msg_timeout, val);
	return count;
}

/* Per device: seconds to wait for an answer (root may change it). */
static struct device_attribute nbvd_attr_msg_timeout =
	__ATTR(msg_timeout, 0644, nbvd_msg_timeout_show, nbvd_msg_timeout_store);

static ssize_t nbvd_bounce_size_show(struct device *d,
				     struct device_attribute *attr, char *buf)
{
	struct nbvd_dev *dev = dev_get_drvdata(d);

	return sysfs_emit(buf, "%llu\n", READ_ONCE(dev->bounce_size));
}

/*
 * As the in-tree vduse: EPERM once attached (whatever was written), then
 * the parse error of kstrtou64 (EINVAL, ERANGE), EINVAL outside
 * 1 MiB..1 GiB; the value is rounded down to whole pages. Checked and set
 * under nbvd_lock, which "vdpa dev add" holds from its dev->vdpa check
 * until dev->vdpa is set, having read bounce_size in between. The lock is
 * only tried (and the write restarted): destroying the device holds it
 * while removing this attribute, which waits for writers still in here.
 */
static ssize_t nbvd_bounce_size_store(struct device *d,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct nbvd_dev *dev = dev_get_drvdata(d);
	u64 val;
	int ret;

	if (!mutex_trylock(&nbvd_lock))
		return restart_syscall();
	if (dev->vdpa) {
		ret = -EPERM;
		goto out_unlock;
	}
	ret = kstrtou64(buf, 10, &val);
	if (ret)
		goto out_unlock;
	if (val < NBVD_MIN_BOUNCE_SIZE || val > NBVD_MAX_BOUNCE_SIZE) {
		ret = -EINVAL;
		goto out_unlock;
	}
	WRITE_ONCE(dev->bounce_size, val & PAGE_MASK);
	ret = count;
out_unlock:
	mutex_unlock(&nbvd_lock);
	return ret;
}

/* Per device: bytes of bounce buffer for the next attach. */
static struct device_attribute nbvd_attr_bounce_size =
	__ATTR(bounce_size, 0644, nbvd_bounce_size_show, nbvd_bounce_size_store);

static struct attribute *nbvd_dev_attrs[] = {
	&nbvd_attr_msg_timeout.attr,
	&nbvd_attr_bounce_size.attr,
	NULL,
};
ATTRIBUTE_GROUPS(nbvd_dev);

static const struct class nbvd_class = {
	.name = "vduse",
	.devnode = nbvd_devnode,
};

struct nbvd_dev *nbvd_dev_find_locked(const char *name)
{
	struct nbvd_dev *dev;
	int id;

	idr_for_each_entry(&nbvd_devs, dev, id)
		if (!strcmp(dev->name, name))
			return dev;
	return NULL;
}

static bool nbvd_name_ok(const char *name)
{
	size_t len = strnlen(name, VDUSE_NAME_MAX);

	return len && len < VDUSE_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..") &&
	       strcmp(name, "control");
}

static int nbvd_config_check(const struct vduse_dev_config *cfg)
{
	u64 need = BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) | BIT_ULL(VIRTIO_F_VERSION_1);

	if (!nbvd_name_ok(cfg->name))
		return -EINVAL;
	if (memchr_inv(cfg->reserved, 0, sizeof(cfg->reserved)))
		return -EINVAL;
	if (cfg->device_id != VIRTIO_ID_BLOCK)
		return -EINVAL;
	if ((cfg->features & need) != need)
		return -EINVAL;
	if (!cfg->vq_num || cfg->vq_num > NBVD_MAX_VQS)
		return -EINVAL;
	if (!cfg->vq_align || !is_power_of_2(cfg->vq_align) ||
	    cfg->vq_align > PAGE_SIZE)
		return -EINVAL;
	/* virtio-blk: at least the capacity field, at most a page. */
	if (cfg->config_size < sizeof(u64) || cfg->config_size > PAGE_SIZE)
		return -EINVAL;
	return 0;
}

static int nbvd_create(void __user *argp)
{
	struct vduse_dev_config cfg;
	struct nbvd_dev *dev;
	struct cdev *cdev;
	int ret, minor;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	ret = nbvd_config_check(&cfg);
	if (ret)
		return ret;
	dev = nbvd_dev_alloc(&cfg, argp + offsetof(struct vduse_dev_config,
						   config));
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	nbvd_msg_init(dev, msg_timeout);
	dev->bounce_size = (u64)bounce_mb << 20;

	mutex_lock(&nbvd_lock);
	if (nbvd_dev_find_locked(dev->name)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	minor = idr_alloc(&nbvd_devs, dev, 1, NBVD_MAX_DEVS + 1, GFP_KERNEL);
	if (minor < 0) {
		ret = minor == -ENOSPC ? -ENOSPC : minor;
		goto out_unlock;
	}
	dev->minor = minor;
	cdev = cdev_alloc();
	if (!cdev) {
		ret = -ENOMEM;
		goto out_idr;
	}
	cdev->owner = THIS_MODULE;
	cdev->ops = &nbvd_dev_fops;
	ret = cdev_add(cdev, MKDEV(MAJOR(nbvd_devt), minor), 1);
	if (ret) {
		kobject_put(&cdev->kobj);
		goto out_idr;
	}
	dev->cdev = cdev;
	dev->chardev = device_create_with_groups(&nbvd_class, NULL,
						 MKDEV(MAJOR(nbvd_devt), minor),
						 dev, nbvd_dev_groups, "%s",
						 dev->name);
	if (IS_ERR(dev->chardev)) {
		ret = PTR_ERR(dev->chardev);
		goto out_cdev;
	}
	mutex_unlock(&nbvd_lock);
	return 0;

out_cdev:
	cdev_del(cdev);
out_idr:
	idr_remove(&nbvd_devs, minor);
out_unlock:
	mutex_unlock(&nbvd_lock);
	nbvd_dev_free(dev);
	return ret;
}

/* Caller holds nbvd_lock; @dev is neither open nor attached. */
static void nbvd_destroy_locked(struct nbvd_dev *dev)
{
	idr_remove(&nbvd_devs, dev->minor);
	device_destroy(&nbvd_class, MKDEV(MAJOR(nbvd_devt), dev->minor));
	cdev_del(dev->cdev);
	nbvd_dev_free(dev);
}

static int nbvd_destroy(void __user *argp)
{
	char name[VDUSE_NAME_MAX];
	struct nbvd_dev *dev;
	int ret = 0;

	if (copy_from_user(name, argp, sizeof(name)))
		return -EFAULT;
	name[VDUSE_NAME_MAX - 1] = '\0';

	mutex_lock(&nbvd_lock);
	dev = nbvd_dev_find_locked(name);
	if (!dev)
		ret = -EINVAL;
	else if (dev->opened || dev->vdpa)
		ret = -EBUSY;
	else
		nbvd_destroy_locked(dev);
	mutex_unlock(&nbvd_lock);
	return ret;
}

static long nbvd_ctl_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct nbvd_ctl *ctl = file->private_data;
	void __user *argp = (void __user *)arg;
	u64 version;

	switch (cmd) {
	case VDUSE_GET_API_VERSION:
		return put_user(ctl->api_version, (u64 __user *)argp);
	case VDUSE_SET_API_VERSION:
		if (get_user(version, (u64 __user *)argp))
			return -EFAULT;
		if (version > VDUSE_API_VERSION)
			return -EINVAL;
		ctl->api_version = version;
		return 0;
	case VDUSE_CREATE_DEV:
		return nbvd_create(argp);
	case VDUSE_DESTROY_DEV:
		return nbvd_destroy(argp);
	}
	return -ENOTTY;
}

static int nbvd_ctl_open(struct inode *inode, struct file *file)
{
	struct nbvd_ctl *ctl = kzalloc(sizeof(*ctl), GFP_KERNEL);

	if (!ctl)
		return -ENOMEM;
	ctl->api_version = VDUSE_API_VERSION;
	file->private_data = ctl;
	return nonseekable_open(inode, file);
}

static int nbvd_ctl_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations nbvd_ctl_fops = {
	.owner = THIS_MODULE,
	.open = nbvd_ctl_open,
	.release = nbvd_ctl_release,
	.unlocked_ioctl = nbvd_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Both modules want /dev/vduse/control and the "vduse" class. */
static bool nbvd_intree_loaded(void)
{
	struct path path;

	if (kern_path("/sys/module/vduse", 0, &path))
		return false;
	path_put(&path);
	return true;
}

static int __init nbvd_init(void)
{
	int ret;

	if (nbvd_intree_loaded()) {
		pr_err("the in-tree vduse module is loaded; it owns /dev/vduse/control: 'rmmod vduse' first\n");
		return -EBUSY;
	}
	if (!bounce_mb || bounce_mb > 1024 || !msg_timeout ||
	    msg_timeout > 3600) {
		pr_err("bounce_mb must be 1-1024 and msg_timeout 1-3600 (got %u, %u)\n",
		       bounce_mb, msg_timeout);
		return -EINVAL;
	}

	ret = class_register(&nbvd_class);
	if (ret) {
		pr_err("cannot register class vduse (%d): is another VDUSE provider loaded?\n",
		       ret);
		return ret;
	}
	ret = alloc_chrdev_region(&nbvd_devt, 0, NBVD_MAX_DEVS + 1, "netblk-vduse");
	if (ret)
		goto out_class;
	cdev_init(&nbvd_ctl_cdev, &nbvd_ctl_fops);
	nbvd_ctl_cdev.owner = THIS_MODULE;
	ret = cdev_add(&nbvd_ctl_cdev, nbvd_devt, 1);
	if (ret)
		goto out_chrdev;
	nbvd_ctl_dev = device_create(&nbvd_class, NULL, nbvd_devt, NULL,
				     "control");
	if (IS_ERR(nbvd_ctl_dev)) {
		ret = PTR_ERR(nbvd_ctl_dev);
		goto out_cdev;
	}
	ret = nbvd_vdpa_init();
	if (ret)
		goto out_ctl_dev;
	pr_info("VDUSE API %d ready: /dev/vduse/control, vDPA management device %s\n",
		VDUSE_API_VERSION, NBVD_MGMTDEV_NAME);
	return 0;

out_ctl_dev:
	device_destroy(&nbvd_class, nbvd_devt);
out_cdev:
	cdev_del(&nbvd_ctl_cdev);
out_chrdev:
	unregister_chrdev_region(nbvd_devt, NBVD_MAX_DEVS + 1);
out_class:
	class_unregister(&nbvd_class);
	return ret;
}

static void __exit nbvd_exit(void)
{
	struct nbvd_dev *dev;
	int id;

	/* Detaches every device still attached (vdpa dev del). */
	nbvd_vdpa_exit();

	/* No file of ours is open (they hold the module). */
	mutex_lock(&nbvd_lock);
	idr_for_each_entry(&nbvd_devs, dev, id) {
		if (WARN_ON_ONCE(dev->opened || dev->vdpa))
			continue;
		nbvd_destroy_locked(dev);
	}
	mutex_unlock(&nbvd_lock);
	idr_destroy(&nbvd_devs);

	device_destroy(&nbvd_class, nbvd_devt);
	cdev_del(&nbvd_ctl_cdev);
	unregister_chrdev_region(nbvd_devt, NBVD_MAX_DEVS + 1);
	class_unregister(&nbvd_class);
}

module_init(nbvd_init);
module_exit(nbvd_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("vduse-netblk");
MODULE_DESCRIPTION("VDUSE userspace API on the vDPA bus (virtio-blk), out of tree");
