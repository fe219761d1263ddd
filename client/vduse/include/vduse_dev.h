/* SPDX-License-Identifier: MIT */
/*
 * Thin, checked wrappers around the VDUSE uAPI (<linux/vduse.h>): the
 * control device /dev/vduse/control and the per-device /dev/vduse/NAME.
 * Every call returns 0 (or a file descriptor) or -errno; calls that a
 * user can get wrong also fill err with a message saying what to do.
 * No call here waits on the network.
 */
#ifndef NETBLK_VDUSE_DEV_H
#define NETBLK_VDUSE_DEV_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vduse.h>

#define VDUSE_CONTROL_PATH "/dev/vduse/control"
#define VDUSE_DEV_DIR      "/dev/vduse"
#define VDUSE_SYSFS_DIR    "/sys/class/vduse"

struct vduse_dev_params {
	const char *name;        /* device name, also /dev/vduse/NAME */
	uint32_t device_id;      /* VIRTIO_ID_BLOCK */
	uint32_t vendor_id;
	uint64_t features;       /* offered to the driver */
	uint32_t vq_num;         /* number of virtqueues */
	uint32_t vq_align;       /* ring alignment, e.g. 4096 */
	uint16_t vq_max_size;    /* queue size limit of every virtqueue */
	const void *config;      /* device config space */
	uint32_t config_size;
};

/*
 * Create the device (VDUSE_CREATE_DEV) and set up its virtqueues
 * (VDUSE_VQ_SETUP). Errors: -ENOENT VDUSE not available (says which
 * module to load), -EEXIST name in use, -EPERM/-EACCES no permission,
 * -EINVAL the kernel refused the config.
 */
int nb_vduse_dev_create(const struct vduse_dev_params *p, char *err, size_t errlen);

/*
 * Open /dev/vduse/NAME (O_RDWR, non-blocking, close-on-exec), waiting up
 * to wait_ms for the node to appear. Returns the fd or -errno; -EBUSY
 * when another process has it open.
 */
int nb_vduse_dev_open(const char *name, int wait_ms, char *err, size_t errlen);

/*
 * Set the device's bounce buffer (/sys/class/vduse/NAME/bounce_size,
 * bytes; recent kernels and our kmod): only before the device is
 * first attached to vDPA. -ENOENT when the kernel has no such attribute,
 * -EPERM/-EBUSY once attached, -EINVAL out of the kernel's range.
 */
int nb_vduse_dev_set_bounce_size(const char *name, uint64_t bytes, char *err,
			      size_t errlen);
/* VDUSE_DESTROY_DEV. -EBUSY while attached to vDPA or open. */
int nb_vduse_dev_destroy(const char *name, char *err, size_t errlen);

/*
 * Open /dev/vduse/control (and set the API version): the fd, or -errno
 * with a message. A daemon that drops its privileges opens it before and
 * keeps it for nb_vduse_dev_destroy_fd(): ioctls on an open control
 * descriptor need no capability, opening the node (root's, 0600) does.
 */
int nb_vduse_dev_control_open(char *err, size_t errlen);

/* VDUSE_DESTROY_DEV through a control fd from nb_vduse_dev_control_open(). */
int nb_vduse_dev_destroy_fd(int control_fd, const char *name, char *err,
			 size_t errlen);

/* Does /dev/vduse/NAME exist? */
int nb_vduse_dev_exists(const char *name);

/*
 * Control messages. read: 0 and a request, -EAGAIN when none is pending,
 * -EIO for a short read. write: 0 or -errno.
 */
int nb_vduse_dev_read_request(int fd, struct vduse_dev_request *req);
int nb_vduse_dev_write_response(int fd, const struct vduse_dev_response *resp);

int nb_vduse_dev_get_features(int fd, uint64_t *features);
int nb_vduse_dev_set_config(int fd, uint32_t offset, const void *data,
			 uint32_t len);
int nb_vduse_dev_inject_config_irq(int fd);
int nb_vduse_vq_get_info(int fd, uint32_t index, struct vduse_vq_info *info);
int nb_vduse_vq_set_kickfd(int fd, uint32_t index, int kickfd);
int nb_vduse_vq_inject_irq(int fd, uint32_t index);

/*
 * Find the mapping that covers iova: fills entry (start, last, offset,
 * perm) and returns a file descriptor to mmap at entry->offset, or
 * -errno (-EINVAL: nothing mapped there).
 */
int nb_vduse_iotlb_get_fd(int fd, uint64_t iova, struct vduse_iotlb_entry *entry);

#endif
