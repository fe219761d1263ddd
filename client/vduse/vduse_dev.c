/* SPDX-License-Identifier: MIT */
/* Checked wrappers around the VDUSE character devices. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "vduse_dev.h"

int nb_vduse_dev_control_open(char *err, size_t errlen)
{
	uint64_t version = VDUSE_API_VERSION;
	int fd, ret;

	fd = open(VDUSE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			return nb_errf(err, errlen, -ENOENT,
				       "VDUSE is not available (%s: %s): load the "
				       "modules with 'modprobe vduse' (and "
				       "'modprobe virtio_vdpa' for /dev/vdX), on "
				       "Linux 5.15+ with CONFIG_VDPA_USER, or "
				       "load vduse-netblk's own kmod",
				       VDUSE_CONTROL_PATH, strerror(-ret));
		if (ret == -EACCES || ret == -EPERM)
			return nb_errf(err, errlen, ret,
				       "no permission to open %s: run as root "
				       "or give this user access to it",
				       VDUSE_CONTROL_PATH);
		return nb_errf(err, errlen, ret, "cannot open %s: %s",
			       VDUSE_CONTROL_PATH, strerror(-ret));
	}
	if (ioctl(fd, VDUSE_SET_API_VERSION, &version) < 0) {
		ret = -errno;
		close(fd);
		return nb_errf(err, errlen, ret,
			       "the kernel refused VDUSE API version %d: %s",
			       VDUSE_API_VERSION, strerror(-ret));
	}
	return fd;
}

static bool vduse_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < VDUSE_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..") &&
	       strcmp(name, "control");
}

int nb_vduse_dev_create(const struct vduse_dev_params *p, char *err, size_t errlen)
{
	struct vduse_dev_config *cfg;
	uint32_t i;
	int fd, dfd, ret;

	if (!vduse_name_ok(p->name))
		return nb_errf(err, errlen, -EINVAL,
			       "bad device name '%s': 1 to %d characters, no '/'",
			       p->name, VDUSE_NAME_MAX - 1);
	fd = nb_vduse_dev_control_open(err, errlen);
	if (fd < 0)
		return fd;
	cfg = calloc(1, sizeof(*cfg) + p->config_size);
	if (!cfg) {
		ret = nb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_close;
	}
	snprintf(cfg->name, sizeof(cfg->name), "%s", p->name);
	cfg->vendor_id = p->vendor_id;
	cfg->device_id = p->device_id;
	cfg->features = p->features;
	cfg->vq_num = p->vq_num;
	cfg->vq_align = p->vq_align;
	cfg->config_size = p->config_size;
	memcpy(cfg->config, p->config, p->config_size);
	if (ioctl(fd, VDUSE_CREATE_DEV, cfg) < 0) {
		ret = -errno;
		if (ret == -EEXIST)
			nb_errf(err, errlen, ret,
				"a VDUSE device named '%s' exists already "
				"(another vduse-netblk, or a leftover: "
				"'vdpa dev del %s' then destroy it)",
				p->name, p->name);
		else if (ret == -EPERM || ret == -EACCES)
			nb_errf(err, errlen, ret,
				"no permission to create VDUSE device '%s' "
				"(needs CAP_SYS_ADMIN)", p->name);
		else
			nb_errf(err, errlen, ret,
				"the kernel refused to create VDUSE device "
				"'%s': %s", p->name, strerror(-ret));
		goto out_free;
	}
	dfd = nb_vduse_dev_open(p->name, 2000, err, errlen);
	if (dfd < 0) {
		ret = dfd;
		goto out_destroy;
	}
	for (i = 0; i < p->vq_num; i++) {
		struct vduse_vq_config vq = {
			.index = i,
			.max_size = p->vq_max_size,
		};

		if (ioctl(dfd, VDUSE_VQ_SETUP, &vq) < 0) {
			ret = -errno;
			nb_errf(err, errlen, ret,
				"setting up virtqueue %u of '%s' failed: %s",
				i, p->name, strerror(-ret));
			close(dfd);
			goto out_destroy;
		}
	}
	close(dfd);
	free(cfg);
	close(fd);
	return 0;

out_destroy:
	ioctl(fd, VDUSE_DESTROY_DEV, cfg->name);
out_free:
	free(cfg);
out_close:
	close(fd);
	return ret;
}

int nb_vduse_dev_exists(const char *name)
{
	char path[sizeof(VDUSE_DEV_DIR) + VDUSE_NAME_MAX + 1];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", VDUSE_DEV_DIR, name);
	return stat(path, &st) == 0;
}

int nb_vduse_dev_open(const char *name, int wait_ms, char *err, size_t errlen)
{
	char path[sizeof(VDUSE_DEV_DIR) + VDUSE_NAME_MAX + 1];
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int fd, waited = 0;

	snprintf(path, sizeof(path), "%s/%s", VDUSE_DEV_DIR, name);
	for (;;) {
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || waited >= wait_ms)
			break;
		nanosleep(&pause, NULL);
		waited += 10;
	}
	if (errno == EBUSY)
		return nb_errf(err, errlen, -EBUSY,
			       "%s is in use by another process (is another "
			       "vduse-netblk serving '%s'?)", path, name);
	return nb_errf(err, errlen, -errno, "cannot open %s: %s", path,
		       strerror(errno));
}

int nb_vduse_dev_destroy_fd(int control_fd, const char *name, char *err,
			 size_t errlen)
{
	char buf[VDUSE_NAME_MAX] = { 0 };

	snprintf(buf, sizeof(buf), "%s", name);
	if (ioctl(control_fd, VDUSE_DESTROY_DEV, buf) < 0) {
		int ret = -errno;

		return nb_errf(err, errlen, ret, "destroying VDUSE device "
			       "'%s' failed: %s", name,
			       ret == -EBUSY ? "still attached or open" :
			       strerror(-ret));
	}
	return 0;
}

int nb_vduse_dev_set_bounce_size(const char *name, uint64_t bytes, char *err,
			      size_t errlen)
{
	char path[sizeof(VDUSE_SYSFS_DIR) + VDUSE_NAME_MAX + 16], val[24];
	int fd, len, ret = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/bounce_size", VDUSE_SYSFS_DIR,
		 name);
	len = snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_errf(err, errlen, -errno, "cannot open %s: %s",
			       path, strerror(errno));
	n = write(fd, val, (size_t)len);
	if (n < 0)
		ret = -errno;
	else if (n != len)
		ret = -EIO;
	close(fd);
	if (ret)
		return nb_errf(err, errlen, ret, "writing %s to %s: %s",
			       val, path, strerror(-ret));
	return 0;
}

int nb_vduse_dev_destroy(const char *name, char *err, size_t errlen)
{
	int fd, ret;

	fd = nb_vduse_dev_control_open(err, errlen);
	if (fd < 0)
		return fd;
	ret = nb_vduse_dev_destroy_fd(fd, name, err, errlen);
	close(fd);
	return ret;
}

int nb_vduse_dev_read_request(int fd, struct vduse_dev_request *req)
{
	ssize_t n = read(fd, req, sizeof(*req));

	if (n < 0)
		return -errno;
	if (n != sizeof(*req))
		return -EIO;
	return 0;
}

int nb_vduse_dev_write_response(int fd, const struct vduse_dev_response *resp)
{
	ssize_t n = write(fd, resp, sizeof(*resp));

	if (n < 0)
		return -errno;
	if (n != sizeof(*resp))
		return -EIO;
	return 0;
}

static int vduse_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int nb_vduse_dev_get_features(int fd, uint64_t *features)
{
	return vduse_ioctl(fd, VDUSE_DEV_GET_FEATURES, features);
}

int nb_vduse_dev_set_config(int fd, uint32_t offset, const void *data,
			 uint32_t len)
{
	struct vduse_config_data *cd;
	int ret;

	cd = malloc(sizeof(*cd) + len);
	if (!cd)
		return -ENOMEM;
	cd->offset = offset;
	cd->length = len;
	memcpy(cd->buffer, data, len);
	ret = vduse_ioctl(fd, VDUSE_DEV_SET_CONFIG, cd);
	free(cd);
	return ret;
}

int nb_vduse_dev_inject_config_irq(int fd)
{
	return ioctl(fd, VDUSE_DEV_INJECT_CONFIG_IRQ) < 0 ? -errno : 0;
}

int nb_vduse_vq_get_info(int fd, uint32_t index, struct vduse_vq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->index = index;
	return vduse_ioctl(fd, VDUSE_VQ_GET_INFO, info);
}

int nb_vduse_vq_set_kickfd(int fd, uint32_t index, int kickfd)
{
	struct vduse_vq_eventfd ev = { .index = index, .fd = kickfd };

	return vduse_ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev);
}

int nb_vduse_vq_inject_irq(int fd, uint32_t index)
{
	return vduse_ioctl(fd, VDUSE_VQ_INJECT_IRQ, &index);
}

int nb_vduse_iotlb_get_fd(int fd, uint64_t iova, struct vduse_iotlb_entry *entry)
{
	int ret;

	memset(entry, 0, sizeof(*entry));
	entry->start = iova;
	entry->last = iova;
	ret = ioctl(fd, VDUSE_IOTLB_GET_FD, entry);
	if (ret < 0)
		return -errno;
	return ret;
}
