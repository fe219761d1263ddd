/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netblk_vduse: the VDUSE userspace API (version 0) on top of the vDPA bus.
 *
 * Objects and who owns them:
 *  - struct nbvd_dev: one per VDUSE_CREATE_DEV, freed by VDUSE_DESTROY_DEV
 *    (refused while its file is open or it is attached to the vDPA bus) or
 *    at module unload. Lives in nbvd_devs (an idr by minor) under nbvd_lock.
 *  - struct nbvd_vdpa: the vdpa_device made by "vdpa dev add"; freed by the
 *    vDPA core after "vdpa dev del".
 *  - struct nbvd_domain: the IOVA space of one attachment; owned by its
 *    anonymous file, so it lives until the device detached *and* userspace
 *    dropped every fd and mmap of it.
 */
#ifndef NBVD_H
#define NBVD_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/idr.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vdpa.h>
#include <linux/vhost_iotlb.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/vduse.h>

#define NBVD_MGMTDEV_NAME	"netblk-vduse"
#define NBVD_MAX_DEVS		256
#define NBVD_MAX_VQS		64
#define NBVD_MAX_VQ_SIZE	32768
#define NBVD_MIN_BOUNCE_SIZE	SZ_1M
#define NBVD_MAX_BOUNCE_SIZE	SZ_1G

struct nbvd_domain;

struct nbvd_vq {
	u32 index;
	u16 num_max;		/* from VDUSE_VQ_SETUP; 0 = not set up */
	/* state below under dev->vq_lock */
	u32 num;
	u64 desc_addr;
	u64 driver_addr;
	u64 device_addr;
	struct vdpa_vq_state state;
	bool ready;
	/* kick path */
	spinlock_t kick_lock;
	struct eventfd_ctx *kickfd;
	bool kicked;
	struct work_struct kick_work;
	/* interrupt path */
	spinlock_t irq_lock;
	struct vdpa_callback cb;
};

struct nbvd_vdpa {
	struct vdpa_device vdpa;
	struct nbvd_dev *dev;
	struct nbvd_domain *domain;
};

struct nbvd_dev {
	char name[VDUSE_NAME_MAX];
	int minor;
	struct device *chardev;
	struct cdev *cdev;
	bool opened;			/* under nbvd_lock */
	struct nbvd_vdpa *vdpa;		/* attached; under nbvd_lock */
	u64 bounce_size;		/* bytes, for the next attach; under nbvd_lock */

	struct mutex lock;		/* ioctls vs attach/detach */
	struct nbvd_domain *domain;	/* under lock */

	u32 vendor_id;
	u32 device_id;
	u64 device_features;
	u32 vq_align;
	u32 vq_num;
	struct nbvd_vq *vqs;

	spinlock_t vq_lock;		/* vq addresses, status, features */
	u64 driver_features;
	u8 status;
	u32 generation;

	spinlock_t config_lock;
	u32 config_size;
	u8 *config;
	spinlock_t config_irq_lock;
	struct vdpa_callback config_cb;

	/* control messages, see nbvd_msg.c */
	spinlock_t msg_lock;
	struct list_head msg_send;
	struct list_head msg_recv;
	wait_queue_head_t msg_wait;
	u32 msg_next_id;
	bool broken;
	unsigned int msg_timeout;	/* seconds */
};

/* nbvd_main.c */
extern struct mutex nbvd_lock;
extern struct idr nbvd_devs;
struct nbvd_dev *nbvd_dev_find_locked(const char *name);

/* nbvd_dev.c: the per-device character device */
extern const struct file_operations nbvd_dev_fops;
struct nbvd_dev *nbvd_dev_alloc(const struct vduse_dev_config *cfg,
				const void __user *config);
void nbvd_dev_free(struct nbvd_dev *dev);
void nbvd_dev_reset_state(struct nbvd_dev *dev);
void nbvd_dev_vq_kick(struct nbvd_vq *vq);

/* nbvd_msg.c: requests to userspace and their answers */
int nbvd_msg_send(struct nbvd_dev *dev, struct vduse_dev_request *req,
		  struct vduse_dev_response *resp);
ssize_t nbvd_msg_read(struct nbvd_dev *dev, struct iov_iter *to,
		      bool nonblock);
ssize_t nbvd_msg_write(struct nbvd_dev *dev, struct iov_iter *from);
__poll_t nbvd_msg_poll(struct nbvd_dev *dev, struct file *file,
		       poll_table *wait);
void nbvd_msg_requeue(struct nbvd_dev *dev);
void nbvd_msg_init(struct nbvd_dev *dev, unsigned int timeout);

/* nbvd_vdpa.c: the vDPA management device and config ops */
int nbvd_vdpa_init(void);
void nbvd_vdpa_exit(void);

/* nbvd_domain.c: IOVA space, bounce buffers, DMA ops, mmap file */
extern const struct dma_map_ops nbvd_dma_ops;
struct nbvd_domain *nbvd_domain_create(u64 bounce_size);
void nbvd_domain_put(struct nbvd_domain *domain);
struct file *nbvd_domain_file(struct nbvd_domain *domain);
int nbvd_domain_find(struct nbvd_domain *domain, u64 iova,
		     struct vduse_iotlb_entry *entry);
int nbvd_domain_set_user_map(struct nbvd_domain *domain,
			     struct vhost_iotlb *iotlb);
void nbvd_domain_reset_user_map(struct nbvd_domain *domain);

#endif /* NBVD_H */
