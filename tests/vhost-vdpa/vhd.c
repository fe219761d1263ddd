// SPDX-License-Identifier: MIT
/* vhd.c - vhost-vdpa ioctls and IOTLB messages. */
#include "vhd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#define VHD_BIT(n) (1ULL << (n))

static int vhd_ioctl(struct vhd *d, unsigned long req, void *arg,
		     const char *what)
{
	if (ioctl(d->fd, req, arg) < 0) {
		int e = errno;

		util_err("%s: %s: %s", d->path, what, strerror(e));
		return -e;
	}
	return 0;
}

int vhd_open(struct vhd *d, const char *path, bool want_batch)
{
	uint64_t bf;
	int ret;

	memset(d, 0, sizeof(*d));
	d->path = path;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		util_err("cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = vhd_ioctl(d, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
	if (ret)
		goto out_close;
	ret = vhd_ioctl(d, VHOST_GET_BACKEND_FEATURES, &d->backend_offered,
			"VHOST_GET_BACKEND_FEATURES");
	if (ret)
		goto out_close;
	if (!(d->backend_offered & VHD_BIT(VHOST_BACKEND_F_IOTLB_MSG_V2))) {
		util_err("%s: backend features 0x%" PRIx64 " lack IOTLB_MSG_V2",
			 path, d->backend_offered);
		ret = -EOPNOTSUPP;
		goto out_close;
	}
	bf = VHD_BIT(VHOST_BACKEND_F_IOTLB_MSG_V2);
	if (want_batch &&
	    (d->backend_offered & VHD_BIT(VHOST_BACKEND_F_IOTLB_BATCH)))
		bf |= VHD_BIT(VHOST_BACKEND_F_IOTLB_BATCH);
	ret = vhd_ioctl(d, VHOST_SET_BACKEND_FEATURES, &bf,
			"VHOST_SET_BACKEND_FEATURES");
	if (ret)
		goto out_close;
	d->backend_features = bf;
	ret = vhd_ioctl(d, VHOST_VDPA_GET_DEVICE_ID, &d->device_id,
			"VHOST_VDPA_GET_DEVICE_ID");
	if (ret)
		goto out_close;
	if (ioctl(d->fd, VHOST_VDPA_GET_IOVA_RANGE, &d->range) < 0) {
		/* Older kernels: the whole space. */
		d->range.first = 0;
		d->range.last = UINT64_MAX;
	}
	return 0;

out_close:
	close(d->fd);
	d->fd = -1;
	return ret;
}

void vhd_close(struct vhd *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int vhd_get_features(struct vhd *d, uint64_t *features)
{
	return vhd_ioctl(d, VHOST_GET_FEATURES, features, "VHOST_GET_FEATURES");
}

int vhd_set_features(struct vhd *d, uint64_t features)
{
	char what[64];

	snprintf(what, sizeof(what), "VHOST_SET_FEATURES(0x%" PRIx64 ")",
		 features);
	return vhd_ioctl(d, VHOST_SET_FEATURES, &features, what);
}

int vhd_get_status(struct vhd *d, uint8_t *status)
{
	return vhd_ioctl(d, VHOST_VDPA_GET_STATUS, status,
			 "VHOST_VDPA_GET_STATUS");
}

int vhd_set_status(struct vhd *d, uint8_t status)
{
	char what[64];

	snprintf(what, sizeof(what), "VHOST_VDPA_SET_STATUS(0x%02x)", status);
	return vhd_ioctl(d, VHOST_VDPA_SET_STATUS, &status, what);
}

int vhd_get_config_size(struct vhd *d, uint32_t *size)
{
	if (ioctl(d->fd, VHOST_VDPA_GET_CONFIG_SIZE, size) < 0)
		return -errno;	/* caller falls back to the struct size */
	return 0;
}

int vhd_get_config(struct vhd *d, void *buf, uint32_t off, uint32_t len)
{
	struct vhost_vdpa_config *c;
	int ret;

	c = calloc(1, sizeof(*c) + len);
	if (!c)
		return -ENOMEM;
	c->off = off;
	c->len = len;
	ret = vhd_ioctl(d, VHOST_VDPA_GET_CONFIG, c, "VHOST_VDPA_GET_CONFIG");
	if (!ret)
		memcpy(buf, c->buf, len);
	free(c);
	return ret;
}

int vhd_get_vring_num_max(struct vhd *d, uint16_t *num)
{
	return vhd_ioctl(d, VHOST_VDPA_GET_VRING_NUM, num,
			 "VHOST_VDPA_GET_VRING_NUM");
}

int vhd_get_vqs_count(struct vhd *d, uint32_t *count)
{
	if (ioctl(d->fd, VHOST_VDPA_GET_VQS_COUNT, count) < 0)
		return -errno;
	return 0;
}

int vhd_vring_setup(struct vhd *d, unsigned idx, unsigned num, uint64_t desc,
		    uint64_t avail, uint64_t used, int kickfd, int callfd)
{
	struct vhost_vring_state st = { .index = idx, .num = num };
	struct vhost_vring_addr addr = {
		.index = idx,
		.desc_user_addr = desc,
		.avail_user_addr = avail,
		.used_user_addr = used,
	};
	struct vhost_vring_file kick = { .index = idx, .fd = kickfd };
	struct vhost_vring_file call = { .index = idx, .fd = callfd };
	char what[96];
	int ret;

	snprintf(what, sizeof(what), "VHOST_SET_VRING_NUM(queue %u, %u)", idx,
		 num);
	ret = vhd_ioctl(d, VHOST_SET_VRING_NUM, &st, what);
	if (ret)
		return ret;
	snprintf(what, sizeof(what),
		 "VHOST_SET_VRING_ADDR(queue %u, desc 0x%" PRIx64 ")", idx, desc);
	ret = vhd_ioctl(d, VHOST_SET_VRING_ADDR, &addr, what);
	if (ret)
		return ret;
	st.num = 0;
	snprintf(what, sizeof(what), "VHOST_SET_VRING_BASE(queue %u, 0)", idx);
	ret = vhd_ioctl(d, VHOST_SET_VRING_BASE, &st, what);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "VHOST_SET_VRING_KICK(queue %u)", idx);
	ret = vhd_ioctl(d, VHOST_SET_VRING_KICK, &kick, what);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "VHOST_SET_VRING_CALL(queue %u)", idx);
	return vhd_ioctl(d, VHOST_SET_VRING_CALL, &call, what);
}

int vhd_vring_enable(struct vhd *d, unsigned idx, bool enable)
{
	struct vhost_vring_state st = { .index = idx, .num = enable };
	char what[64];

	snprintf(what, sizeof(what), "VHOST_VDPA_SET_VRING_ENABLE(queue %u, %d)",
		 idx, enable);
	return vhd_ioctl(d, VHOST_VDPA_SET_VRING_ENABLE, &st, what);
}

static int vhd_iotlb_send(struct vhd *d, uint8_t type, uint64_t iova,
			  uint64_t size, uint64_t uaddr, uint8_t perm)
{
	static const char *names[] = {
		[VHOST_IOTLB_UPDATE] = "UPDATE",
		[VHOST_IOTLB_INVALIDATE] = "INVALIDATE",
		[VHOST_IOTLB_BATCH_BEGIN] = "BATCH_BEGIN",
		[VHOST_IOTLB_BATCH_END] = "BATCH_END",
	};
	struct vhost_msg_v2 msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.type = VHOST_IOTLB_MSG_V2;
	msg.iotlb.iova = iova;
	msg.iotlb.size = size;
	msg.iotlb.uaddr = uaddr;
	msg.iotlb.perm = perm;
	msg.iotlb.type = type;
	n = write(d->fd, &msg, sizeof(msg));
	if (n != (ssize_t)sizeof(msg)) {
		int e = n < 0 ? errno : EIO;

		util_err("%s: IOTLB %s iova 0x%" PRIx64 " size 0x%" PRIx64
			 ": %s", d->path, names[type], iova, size,
			 n < 0 ? strerror(e) : "short write");
		return -e;
	}
	util_verbose("IOTLB %s iova 0x%" PRIx64 " size 0x%" PRIx64,
		     names[type], iova, size);
	return 0;
}

int vhd_iotlb_update(struct vhd *d, uint64_t iova, uint64_t size, void *va,
		     uint8_t perm)
{
	int ret = vhd_iotlb_send(d, VHOST_IOTLB_UPDATE, iova, size,
				 (uint64_t)(uintptr_t)va, perm);

	if (!ret)
		d->iotlb_updates++;
	return ret;
}

int vhd_iotlb_invalidate(struct vhd *d, uint64_t iova, uint64_t size)
{
	int ret = vhd_iotlb_send(d, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0);

	if (!ret)
		d->iotlb_invalidates++;
	return ret;
}

bool vhd_has_batch(const struct vhd *d)
{
	return d->backend_features & VHD_BIT(VHOST_BACKEND_F_IOTLB_BATCH);
}

int vhd_iotlb_batch_begin(struct vhd *d)
{
	if (!vhd_has_batch(d))
		return 0;
	return vhd_iotlb_send(d, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
}

int vhd_iotlb_batch_end(struct vhd *d)
{
	int ret;

	if (!vhd_has_batch(d))
		return 0;
	ret = vhd_iotlb_send(d, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	if (!ret)
		d->iotlb_batches++;
	return ret;
}
