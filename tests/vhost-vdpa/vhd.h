/* SPDX-License-Identifier: MIT */
/*
 * vhd.h - the /dev/vhost-vdpa-N character device: thin wrappers around the
 * vhost and vhost-vdpa ioctls and the IOTLB messages written to the fd.
 *
 * Every function that fails prints one error naming the device, the ioctl
 * and its arguments, and returns -errno; callers do not print again.
 */
#ifndef VBT_VHD_H
#define VBT_VHD_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost_types.h>

struct vhd {
	int fd;
	const char *path;
	uint64_t backend_offered;	/* VHOST_GET_BACKEND_FEATURES */
	uint64_t backend_features;	/* what we set */
	uint32_t device_id;
	struct vhost_vdpa_iova_range range;
	uint64_t iotlb_updates, iotlb_invalidates, iotlb_batches;
};

/*
 * Opens PATH, becomes its owner, negotiates IOTLB_MSG_V2 (required) and
 * IOTLB_BATCH (when offered and want_batch), reads the device id and the
 * usable IOVA range.
 */
int vhd_open(struct vhd *d, const char *path, bool want_batch);
void vhd_close(struct vhd *d);

int vhd_get_features(struct vhd *d, uint64_t *features);
int vhd_set_features(struct vhd *d, uint64_t features);
int vhd_get_status(struct vhd *d, uint8_t *status);
int vhd_set_status(struct vhd *d, uint8_t status);
int vhd_get_config_size(struct vhd *d, uint32_t *size);
int vhd_get_config(struct vhd *d, void *buf, uint32_t off, uint32_t len);
int vhd_get_vring_num_max(struct vhd *d, uint16_t *num);
/* Number of virtqueues the parent device has; -ENOTTY on old kernels. */
int vhd_get_vqs_count(struct vhd *d, uint32_t *count);

/*
 * Configures queue idx: size, ring addresses (IOVAs), avail index 0, kick
 * and call eventfds. Does not enable it.
 */
int vhd_vring_setup(struct vhd *d, unsigned idx, unsigned num, uint64_t desc,
		    uint64_t avail, uint64_t used, int kickfd, int callfd);
int vhd_vring_enable(struct vhd *d, unsigned idx, bool enable);

/* IOTLB: map [iova, iova + size) to our memory at va, or unmap it. */
int vhd_iotlb_update(struct vhd *d, uint64_t iova, uint64_t size, void *va,
		     uint8_t perm);
int vhd_iotlb_invalidate(struct vhd *d, uint64_t iova, uint64_t size);
/* Batch hints; no-ops unless VHOST_BACKEND_F_IOTLB_BATCH was negotiated. */
int vhd_iotlb_batch_begin(struct vhd *d);
int vhd_iotlb_batch_end(struct vhd *d);
bool vhd_has_batch(const struct vhd *d);

#endif
