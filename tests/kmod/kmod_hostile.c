/* SPDX-License-Identifier: MIT */
/*
 * kmod_hostile: every VDUSE ioctl of netblk_vduse.ko with bad arguments,
 * checking the errno each one documents, then the good path (create, set
 * up, attach, map the IOVA fd, detach, destroy). Run as root inside the test
 * VM with vdpa and netblk_vduse loaded but no vDPA driver (virtio_vdpa,
 * vhost_vdpa) bound, so attaching sends no message nobody would answer.
 *
 *   kmod_hostile                  the whole suite; exit 0 when every check
 *                                 held, 1 naming each one that did not
 *   kmod_hostile create NAME [Q]  create a virtio-blk device NAME with Q
 *                                 queues (default 1) of 64 entries, set up
 *   kmod_hostile destroy NAME     destroy device NAME
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/vduse.h>

#define HOSTILE_CONTROL "/dev/vduse/control"
#define HOSTILE_MGMTDEV "netblk-vduse"

/* An address never mapped; volatile so the compiler cannot see it is bad. */
static volatile uintptr_t hostile_bad_addr = 8;
#define HOSTILE_BAD ((void *)hostile_bad_addr)

static int hostile_failures;
static int hostile_checks;

/* One check: ret is what the call returned (-1 + errno on failure). */
static void hostile_expect(const char *what, long ret, int want_errno)
{
	int err = ret < 0 ? errno : 0;

	hostile_checks++;
	if (err == want_errno) {
		printf("ok   %-58s %s\n", what, want_errno ? strerror(want_errno) : "success");
		return;
	}
	hostile_failures++;
	printf("FAIL %-58s got %s, expected %s\n", what,
	       err ? strerror(err) : "success",
	       want_errno ? strerror(want_errno) : "success");
}

static struct vduse_dev_config *hostile_config(const char *name,
					       unsigned int queues)
{
	struct vduse_dev_config *cfg;
	struct virtio_blk_config blk;

	cfg = calloc(1, sizeof(*cfg) + sizeof(blk));
	if (!cfg) {
		perror("calloc");
		exit(1);
	}
	memset(&blk, 0, sizeof(blk));
	blk.capacity = 2048;
	blk.blk_size = 512;
	blk.num_queues = queues;
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->device_id = VIRTIO_ID_BLOCK;
	cfg->vendor_id = 0;
	cfg->features = (1ULL << VIRTIO_F_VERSION_1) |
			(1ULL << VIRTIO_F_ACCESS_PLATFORM) |
			(1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			(1ULL << VIRTIO_BLK_F_MQ);
	cfg->vq_num = queues;
	cfg->vq_align = 4096;
	cfg->config_size = sizeof(blk);
	memcpy(cfg->config, &blk, sizeof(blk));
	return cfg;
}

static int hostile_open_control(void)
{
	int fd = open(HOSTILE_CONTROL, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "kmod_hostile: %s: %s\n", HOSTILE_CONTROL,
			strerror(errno));
		exit(1);
	}
	return fd;
}

static int hostile_destroy(int ctl, const char *name)
{
	char buf[VDUSE_NAME_MAX] = { 0 };

	snprintf(buf, sizeof(buf), "%s", name);
	return ioctl(ctl, VDUSE_DESTROY_DEV, buf);
}

static int hostile_vq_setup(int dfd, uint32_t index, uint16_t max_size)
{
	struct vduse_vq_config vq = { .index = index, .max_size = max_size };

	return ioctl(dfd, VDUSE_VQ_SETUP, &vq);
}

static int hostile_open_dev(const char *name, int flags)
{
	char path[300];

	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	return open(path, O_RDWR | O_CLOEXEC | flags);
}

static int hostile_vdpa(const char *verb, const char *name)
{
	char cmd[512];

	if (!strcmp(verb, "add"))
		snprintf(cmd, sizeof(cmd), "vdpa dev add name %s mgmtdev %s",
			 name, HOSTILE_MGMTDEV);
	else
		snprintf(cmd, sizeof(cmd), "vdpa dev del %s", name);
	return system(cmd) == 0 ? 0 : -1;
}

static void hostile_control(int ctl)
{
	struct vduse_dev_config *cfg;
	uint64_t v = 99;

	hostile_expect("GET_API_VERSION", ioctl(ctl, VDUSE_GET_API_VERSION, &v), 0);
	if (v != 0) {
		hostile_failures++;
		printf("FAIL GET_API_VERSION said %llu, expected 0\n",
		       (unsigned long long)v);
	}
	v = 1;
	hostile_expect("SET_API_VERSION 1 (only 0 exists)",
		       ioctl(ctl, VDUSE_SET_API_VERSION, &v), EINVAL);
	v = 0;
	hostile_expect("SET_API_VERSION 0", ioctl(ctl, VDUSE_SET_API_VERSION, &v), 0);
	hostile_expect("GET_API_VERSION to a bad pointer",
		       ioctl(ctl, VDUSE_GET_API_VERSION, HOSTILE_BAD), EFAULT);
	hostile_expect("unknown ioctl on control", ioctl(ctl, _IO(VDUSE_BASE, 0x7f)), ENOTTY);
	hostile_expect("CREATE_DEV from a bad pointer",
		       ioctl(ctl, VDUSE_CREATE_DEV, HOSTILE_BAD), EFAULT);

#define BAD_CREATE(what, stmt) do {					\
		cfg = hostile_config("h0", 2);				\
		stmt;							\
		hostile_expect("CREATE_DEV " what,			\
			       ioctl(ctl, VDUSE_CREATE_DEV, cfg), EINVAL); \
		free(cfg);						\
	} while (0)
	BAD_CREATE("empty name", cfg->name[0] = '\0');
	BAD_CREATE("name too long (no NUL in 256)",
		   memset(cfg->name, 'a', sizeof(cfg->name)));
	BAD_CREATE("name with '/'", strcpy(cfg->name, "a/b"));
	BAD_CREATE("name 'control'", strcpy(cfg->name, "control"));
	BAD_CREATE("name '..'", strcpy(cfg->name, ".."));
	BAD_CREATE("device_id net (not blk)", cfg->device_id = VIRTIO_ID_NET);
	BAD_CREATE("features without ACCESS_PLATFORM",
		   cfg->features &= ~(1ULL << VIRTIO_F_ACCESS_PLATFORM));
	BAD_CREATE("features without VERSION_1",
		   cfg->features &= ~(1ULL << VIRTIO_F_VERSION_1));
	BAD_CREATE("vq_num 0", cfg->vq_num = 0);
	BAD_CREATE("vq_num 100000", cfg->vq_num = 100000);
	BAD_CREATE("vq_align 3", cfg->vq_align = 3);
	BAD_CREATE("vq_align 0", cfg->vq_align = 0);
	BAD_CREATE("vq_align 1 MiB", cfg->vq_align = 1 << 20);
	BAD_CREATE("config_size 0", cfg->config_size = 0);
	BAD_CREATE("config_size 1 MiB (too large)", cfg->config_size = 1 << 20);
	BAD_CREATE("reserved field set", cfg->reserved[3] = 1);
#undef BAD_CREATE

	cfg = hostile_config("h-long", 1);
	memset(cfg->name, 'l', VDUSE_NAME_MAX - 1);
	cfg->name[VDUSE_NAME_MAX - 1] = '\0';
	hostile_expect("CREATE_DEV name of 255 characters",
		       ioctl(ctl, VDUSE_CREATE_DEV, cfg), 0);
	hostile_expect("DESTROY_DEV name of 255 characters",
		       hostile_destroy(ctl, cfg->name), 0);
	free(cfg);

	hostile_expect("DESTROY_DEV unknown name", hostile_destroy(ctl, "nosuch"), EINVAL);
	hostile_expect("DESTROY_DEV from a bad pointer",
		       ioctl(ctl, VDUSE_DESTROY_DEV, HOSTILE_BAD), EFAULT);
}

static void hostile_device(int ctl, int dfd)
{
	struct vduse_vq_config vqc = { .index = 0, .max_size = 64 };
	struct vduse_iotlb_entry entry = { 0 };
	struct vduse_vq_eventfd evfd;
	struct vduse_dev_response resp;
	struct vduse_vq_info info;
	union {	/* the header's buffer[] runs into raw[] */
		struct vduse_config_data hdr;
		uint8_t raw[sizeof(struct vduse_config_data) + 16];
	} cd;
	uint32_t index;
	uint64_t features;
	char small[10];
	int efd, nullfd;

	hostile_expect("second open of /dev/vduse/h0", hostile_open_dev("h0", 0), EBUSY);
	hostile_expect("DESTROY_DEV while open", hostile_destroy(ctl, "h0"), EBUSY);
	hostile_expect("unknown ioctl on device", ioctl(dfd, _IO(VDUSE_BASE, 0x7f)), ENOTTY);
	hostile_expect("VQ_SETUP index 2 of 2", hostile_vq_setup(dfd, 2, 64), EINVAL);
	hostile_expect("VQ_SETUP index 2^32-1", hostile_vq_setup(dfd, UINT32_MAX, 64), EINVAL);
	hostile_expect("VQ_SETUP max_size 0", hostile_vq_setup(dfd, 0, 0), EINVAL);
	hostile_expect("VQ_SETUP max_size 65535", hostile_vq_setup(dfd, 0, 65535), EINVAL);
	vqc.reserved[5] = 7;
	hostile_expect("VQ_SETUP reserved field set", ioctl(dfd, VDUSE_VQ_SETUP, &vqc), EINVAL);
	hostile_expect("VQ_SETUP from a bad pointer", ioctl(dfd, VDUSE_VQ_SETUP, HOSTILE_BAD), EFAULT);
	hostile_expect("VQ_SETUP 0", hostile_vq_setup(dfd, 0, 64), 0);

	memset(&info, 0, sizeof(info));
	info.index = 5;
	hostile_expect("VQ_GET_INFO index 5", ioctl(dfd, VDUSE_VQ_GET_INFO, &info), EINVAL);
	info.index = 0;
	hostile_expect("VQ_GET_INFO 0", ioctl(dfd, VDUSE_VQ_GET_INFO, &info), 0);
	if (info.num || info.ready || info.desc_addr) {
		hostile_failures++;
		printf("FAIL VQ_GET_INFO of an unattached device: num %u ready %u\n",
		       info.num, info.ready);
	}

	efd = eventfd(0, EFD_CLOEXEC);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	evfd.index = 9;
	evfd.fd = efd;
	hostile_expect("VQ_SETUP_KICKFD index 9", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), EINVAL);
	evfd.index = 0;
	evfd.fd = -5;
	hostile_expect("VQ_SETUP_KICKFD fd -5", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), EINVAL);
	evfd.fd = 9999;
	hostile_expect("VQ_SETUP_KICKFD fd not open", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), EBADF);
	evfd.fd = nullfd;
	hostile_expect("VQ_SETUP_KICKFD fd not an eventfd", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), EINVAL);
	evfd.fd = efd;
	hostile_expect("VQ_SETUP_KICKFD eventfd", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), 0);
	evfd.fd = efd;
	hostile_expect("VQ_SETUP_KICKFD same again", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), 0);
	evfd.fd = VDUSE_EVENTFD_DEASSIGN;
	hostile_expect("VQ_SETUP_KICKFD deassign", ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &evfd), 0);
	close(nullfd);
	close(efd);

	index = 2;
	hostile_expect("VQ_INJECT_IRQ index 2", ioctl(dfd, VDUSE_VQ_INJECT_IRQ, &index), EINVAL);
	index = 0;
	hostile_expect("VQ_INJECT_IRQ with no driver", ioctl(dfd, VDUSE_VQ_INJECT_IRQ, &index), 0);
	hostile_expect("INJECT_CONFIG_IRQ with no driver", ioctl(dfd, VDUSE_DEV_INJECT_CONFIG_IRQ), 0);
	hostile_expect("DEV_GET_FEATURES", ioctl(dfd, VDUSE_DEV_GET_FEATURES, &features), 0);

	memset(&cd, 0, sizeof(cd));
	cd.hdr.offset = 0;
	cd.hdr.length = 0;
	hostile_expect("DEV_SET_CONFIG length 0", ioctl(dfd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL);
	cd.hdr.offset = sizeof(struct virtio_blk_config) - 4;
	cd.hdr.length = 8;
	hostile_expect("DEV_SET_CONFIG past the end", ioctl(dfd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL);
	cd.hdr.offset = UINT32_MAX - 1;
	cd.hdr.length = 4;
	hostile_expect("DEV_SET_CONFIG offset overflow", ioctl(dfd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL);
	cd.hdr.offset = 0;
	cd.hdr.length = UINT32_MAX;
	hostile_expect("DEV_SET_CONFIG length 2^32-1", ioctl(dfd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL);
	cd.hdr.offset = 0;
	cd.hdr.length = 8;
	cd.hdr.buffer[0] = 0x10;
	hostile_expect("DEV_SET_CONFIG capacity", ioctl(dfd, VDUSE_DEV_SET_CONFIG, &cd), 0);

	entry.start = 0;
	entry.last = 4095;
	hostile_expect("IOTLB_GET_FD while not attached", ioctl(dfd, VDUSE_IOTLB_GET_FD, &entry), EINVAL);
	entry.start = 8192;
	entry.last = 0;
	hostile_expect("IOTLB_GET_FD start > last", ioctl(dfd, VDUSE_IOTLB_GET_FD, &entry), EINVAL);

	hostile_expect("read() of 10 bytes", read(dfd, small, sizeof(small)), EINVAL);
	{
		struct vduse_dev_request req;

		hostile_expect("read() with nothing queued (O_NONBLOCK)",
			       read(dfd, &req, sizeof(req)), EAGAIN);
	}
	memset(&resp, 0, sizeof(resp));
	resp.request_id = 12345;
	hostile_expect("write() of a response to no request", write(dfd, &resp, sizeof(resp)), ENOENT);
	hostile_expect("write() of 10 bytes", write(dfd, &resp, 10), EINVAL);
	hostile_expect("write() from a bad pointer", write(dfd, HOSTILE_BAD, sizeof(resp)), EFAULT);
}

static void hostile_expect_true(const char *what, bool ok)
{
	hostile_checks++;
	if (ok) {
		printf("ok   %s\n", what);
		return;
	}
	hostile_failures++;
	printf("FAIL %s\n", what);
}

static void hostile_attached(int ctl)
{
	struct vduse_iotlb_entry entry = { 0 };
	volatile unsigned char *p;
	int dfd, mfd;

	hostile_expect_true("vdpa dev add refused while queue 1 is not set up",
			    hostile_vdpa("add", "h0") != 0);
	dfd = hostile_open_dev("h0", 0);
	hostile_expect("VQ_SETUP 1", hostile_vq_setup(dfd, 1, 64), 0);
	close(dfd);
	hostile_expect_true("vdpa dev add h0", hostile_vdpa("add", "h0") == 0);
	hostile_expect_true("vdpa dev add h0 again refused",
			    hostile_vdpa("add", "h0") != 0);
	hostile_expect("DESTROY_DEV while attached", hostile_destroy(ctl, "h0"), EBUSY);

	dfd = hostile_open_dev("h0", 0);
	hostile_expect("open /dev/vduse/h0 while attached", dfd, 0);
	hostile_expect("VQ_SETUP while attached", hostile_vq_setup(dfd, 0, 128), EBUSY);
	entry.start = 1ULL << 40;
	entry.last = entry.start;
	hostile_expect("IOTLB_GET_FD of an unmapped IOVA", ioctl(dfd, VDUSE_IOTLB_GET_FD, &entry), EINVAL);
	entry.start = 0;
	entry.last = 0;
	mfd = ioctl(dfd, VDUSE_IOTLB_GET_FD, &entry);
	hostile_expect("IOTLB_GET_FD of IOVA 0 (bounce area)", mfd, 0);
	if (mfd >= 0) {
		hostile_expect_true("bounce entry: start 0, RW, at least a page",
				    entry.start == 0 && entry.last >= 4095 &&
				    entry.perm == VDUSE_ACCESS_RW);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd,
			 (off_t)entry.offset);
		hostile_expect_true("private mmap of the IOVA fd refused",
				    p == MAP_FAILED);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
			 (off_t)entry.offset);
		hostile_expect_true("shared mmap of the bounce area", p != MAP_FAILED);
		if (p != MAP_FAILED) {
			p[0] = 0x5a;
			hostile_expect_true("bounce page reads back", p[0] == 0x5a);
			munmap((void *)p, 4096);
		}
		close(mfd);
	}
	close(dfd);

	hostile_expect_true("vdpa dev del h0", hostile_vdpa("del", "h0") == 0);
	hostile_expect("DESTROY_DEV h0", hostile_destroy(ctl, "h0"), 0);
	hostile_expect("DESTROY_DEV h0 again", hostile_destroy(ctl, "h0"), EINVAL);
	hostile_expect("open /dev/vduse/h0 after destroy", hostile_open_dev("h0", 0), ENOENT);
}

int main(int argc, char **argv)
{
	struct vduse_dev_config *cfg;
	int ctl, dfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "create")) {
		unsigned int q = argc > 3 ? (unsigned int)atoi(argv[3]) : 1;
		unsigned int i;
		int ret, err;

		ctl = hostile_open_control();
		cfg = hostile_config(argv[2], q);
		ret = ioctl(ctl, VDUSE_CREATE_DEV, cfg);
		err = errno;
		free(cfg);
		if (ret < 0) {
			fprintf(stderr, "create %s: %s\n", argv[2], strerror(err));
			return 1;
		}
		dfd = hostile_open_dev(argv[2], 0);
		for (i = 0; dfd >= 0 && i < q; i++)
			if (hostile_vq_setup(dfd, i, 64) < 0) {
				fprintf(stderr, "vq setup %s: %s\n", argv[2], strerror(errno));
				return 1;
			}
		if (dfd < 0) {
			fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "destroy")) {
		ctl = hostile_open_control();
		if (hostile_destroy(ctl, argv[2]) < 0) {
			fprintf(stderr, "destroy %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: kmod_hostile [create NAME [QUEUES] | destroy NAME]\n");
		return 2;
	}

	ctl = hostile_open_control();
	hostile_control(ctl);

	cfg = hostile_config("h0", 2);
	hostile_expect("CREATE_DEV h0", ioctl(ctl, VDUSE_CREATE_DEV, cfg), 0);
	hostile_expect("CREATE_DEV h0 again (duplicate)", ioctl(ctl, VDUSE_CREATE_DEV, cfg), EEXIST);
	free(cfg);
	dfd = hostile_open_dev("h0", O_NONBLOCK);
	hostile_expect("open /dev/vduse/h0", dfd, 0);
	if (dfd < 0)
		return 1;
	hostile_device(ctl, dfd);
	close(dfd);
	hostile_attached(ctl);

	printf("%d checks, %d failed\n", hostile_checks, hostile_failures);
	return hostile_failures ? 1 : 0;
}
