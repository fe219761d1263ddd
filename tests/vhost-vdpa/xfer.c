// SPDX-License-Identifier: MIT
/* xfer.c - info, write-file and read-file: plain copies through the device. */
#include "modes.h"
#include "pattern.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vhost_types.h>

int mode_info(struct mode_args *a)
{
	struct sess s;
	char names[512];
	const struct virtio_blk_config *c = &s.cfg;

	if (sess_open(&s, a->path, &a->so))
		return VBT_EXIT_FAIL;
	util_info("device:            %s (virtio device id %u)", a->path,
		  s.dev.device_id);
	util_info("offered features:  0x%016" PRIx64 " %s", s.offered,
		  sess_feature_names(s.offered, names, sizeof(names)));
	util_info("backend features:  offered 0x%" PRIx64 ", using 0x%" PRIx64
		  "%s", s.dev.backend_offered, s.dev.backend_features,
		  vhd_has_batch(&s.dev) ? " (IOTLB_MSG_V2, IOTLB_BATCH)" :
		  " (IOTLB_MSG_V2)");
	util_info("iova range:        0x%" PRIx64 "-0x%" PRIx64,
		  (uint64_t)s.dev.range.first, (uint64_t)s.dev.range.last);
	util_info("virtqueues:        %u (VHOST_VDPA_GET_VQS_COUNT), "
		  "at most %u entries each", s.vqs_count, s.vring_num_max);
	util_info("config space:      %u bytes", s.cfg_size);
	util_info("capacity:          %" PRIu64 " sectors (%" PRIu64 " bytes)",
		  s.capacity, s.capacity * PAT_SECTOR);
	util_info("blk_size:          %u", s.blk_size);
	if (sess_offers(&s, VIRTIO_BLK_F_SIZE_MAX))
		util_info("size_max:          %u", le32toh(c->size_max));
	if (sess_offers(&s, VIRTIO_BLK_F_SEG_MAX))
		util_info("seg_max:           %u", le32toh(c->seg_max));
	if (sess_offers(&s, VIRTIO_BLK_F_MQ))
		util_info("num_queues:        %u", le16toh(c->num_queues));
	if (sess_offers(&s, VIRTIO_BLK_F_TOPOLOGY))
		util_info("topology:          physical_block_exp %u, min_io %u,"
			  " opt_io %u", c->physical_block_exp,
			  le16toh(c->min_io_size), le32toh(c->opt_io_size));
	if (sess_offers(&s, VIRTIO_BLK_F_DISCARD))
		util_info("discard:           max %u sectors, %u segments, "
			  "alignment %u", le32toh(c->max_discard_sectors),
			  le32toh(c->max_discard_seg),
			  le32toh(c->discard_sector_alignment));
	if (sess_offers(&s, VIRTIO_BLK_F_WRITE_ZEROES))
		util_info("write-zeroes:      max %u sectors, %u segments, "
			  "may unmap %u", le32toh(c->max_write_zeroes_sectors),
			  le32toh(c->max_write_zeroes_seg),
			  c->write_zeroes_may_unmap);
	util_info("read-only:         %s",
		  sess_offers(&s, VIRTIO_BLK_F_RO) ? "yes" : "no");
	sess_close(&s);
	return VBT_EXIT_OK;
}

/*
 * A sequential copy between a file and the device, streamed: each request
 * reads its bytes from the file at submit (write-file) or writes them to
 * the file at completion (read-file).
 */
struct xfer {
	int fd;
	const char *file;
	uint64_t len;		/* bytes */
	uint64_t dev_off;	/* bytes */
	uint64_t next;		/* next file byte to submit */
	uint32_t chunk;
	bool write;
	int failed;
	uint64_t requests;
};

static int xfer_io(bool write, int fd, uint8_t *buf, size_t len, off_t at,
		   const char *file)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, buf, len, at) :
				    pread(fd, buf, len, at);

		if (n <= 0) {
			util_err("%s %s at byte %lld: %s", write ? "writing" :
				 "reading", file, (long long)at,
				 n < 0 ? strerror(errno) : "file is shorter");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

static void xfer_done(struct sess *s, struct sess_req *r, void *arg)
{
	struct xfer *x = arg;

	if (r->status != VIRTIO_BLK_S_OK) {
		util_fail("%s of %u bytes at byte %" PRIu64 ": status %s",
			  sess_type_name(r->type), r->len, r->sector * PAT_SECTOR,
			  sess_status_name(r->status));
		x->failed++;
		return;
	}
	x->requests++;
	if (r->type == VIRTIO_BLK_T_IN &&
	    xfer_io(true, x->fd, sess_req_data(s, r), r->len,
		    (off_t)(r->sector * PAT_SECTOR - x->dev_off), x->file))
		x->failed++;
}

static int xfer_submit_one(struct sess *s, struct xfer *x, uint32_t type,
			   uint64_t n)
{
	struct sess_req *r;
	int ret;

	while (!(r = sess_req_get(s)))
		if (sess_poll(s, xfer_done, x) < 0)
			return -1;
	r->type = type;
	r->sector = (x->dev_off + x->next) / PAT_SECTOR;
	r->len = (uint32_t)n;
	if (type == VIRTIO_BLK_T_OUT &&
	    xfer_io(false, x->fd, sess_req_data(s, r), n, (off_t)x->next,
		    x->file)) {
		sess_req_put(s, r);
		return -1;
	}
	while ((ret = sess_submit(s, r)) == -EAGAIN)
		if (sess_poll(s, xfer_done, x) < 0) {
			sess_req_put(s, r);
			return -1;
		}
	if (ret) {
		sess_req_put(s, r);
		return -1;
	}
	return 0;
}

static int xfer_run(struct sess *s, struct xfer *x)
{
	uint32_t type = x->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;

	while (!x->failed && x->next < x->len) {
		uint64_t n = x->len - x->next;

		if (n > x->chunk)
			n = x->chunk;
		if (xfer_submit_one(s, x, type, n))
			return -1;
		x->next += n;
	}
	/* Make a write durable the way a guest would. */
	if (!x->failed && x->write && sess_has(s, VIRTIO_BLK_F_FLUSH)) {
		while (sess_in_flight(s))
			if (sess_poll(s, xfer_done, x) < 0)
				return -1;
		if (xfer_submit_one(s, x, VIRTIO_BLK_T_FLUSH, 0))
			return -1;
	}
	while (!x->failed && sess_in_flight(s))
		if (sess_poll(s, xfer_done, x) < 0)
			return -1;
	return x->failed ? -1 : 0;
}

static int xfer_open_session(struct sess *s, struct mode_args *a,
			     uint64_t *len, bool write)
{
	uint64_t cap;

	if (sess_open(s, a->path, &a->so))
		return -1;
	if (sess_setup(s, a->feature_mask, 0, 0))
		goto out_close;
	cap = s->capacity * PAT_SECTOR;
	if (write && sess_has(s, VIRTIO_BLK_F_RO)) {
		util_err("%s is read-only", a->path);
		goto out_close;
	}
	if (!write && !a->size_given)
		*len = a->offset < cap ? cap - a->offset : 0;
	if (a->offset % s->blk_size || *len % s->blk_size) {
		util_err("offset %" PRIu64 " and length %" PRIu64 " must be "
			 "multiples of the block size %u", a->offset, *len,
			 s->blk_size);
		goto out_close;
	}
	if (a->offset > cap || *len > cap - a->offset) {
		util_err("%" PRIu64 " bytes at offset %" PRIu64 " do not fit "
			 "the capacity of %" PRIu64 " bytes", *len, a->offset,
			 cap);
		goto out_close;
	}
	return 0;

out_close:
	sess_close(s);
	return -1;
}

static int xfer_main(struct mode_args *a, bool write)
{
	struct xfer x = { .write = write, .file = a->file };
	const char *what = write ? "write-file" : "read-file";
	int64_t t0 = util_now_ms();
	struct sess s;
	struct stat st;
	bool flushed;
	int ret;

	x.fd = write ? open(a->file, O_RDONLY | O_CLOEXEC) :
		       open(a->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0644);
	if (x.fd < 0 || fstat(x.fd, &st) < 0) {
		util_err("cannot open %s: %s", a->file, strerror(errno));
		if (x.fd >= 0)
			close(x.fd);
		return VBT_EXIT_FAIL;
	}
	x.len = write ? (uint64_t)st.st_size : a->size;
	if (xfer_open_session(&s, a, &x.len, write)) {
		close(x.fd);
		return VBT_EXIT_FAIL;
	}
	x.dev_off = a->offset;
	x.chunk = sess_max_io(&s);
	ret = xfer_run(&s, &x);
	flushed = write && sess_has(&s, VIRTIO_BLK_F_FLUSH);
	sess_close(&s);
	if (close(x.fd) < 0 && !ret) {
		util_err("closing %s: %s", a->file, strerror(errno));
		ret = -1;
	}
	if (ret) {
		util_info("%s: FAILED", what);
		return VBT_EXIT_FAIL;
	}
	util_info("%s: %s %" PRIu64 " bytes %s %s at device offset %" PRIu64
		  " in %" PRIu64 " requests%s: OK in %.1f s", what,
		  write ? "wrote" : "read", x.len, write ? "of" : "into",
		  a->file, a->offset, x.requests,
		  flushed ? ", flushed" : "",
		  (util_now_ms() - t0) / 1000.0);
	return VBT_EXIT_OK;
}

int mode_write_file(struct mode_args *a)
{
	return xfer_main(a, true);
}

int mode_read_file(struct mode_args *a)
{
	return xfer_main(a, false);
}
