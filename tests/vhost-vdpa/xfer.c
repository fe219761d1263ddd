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

/* A sequential copy between a memory image and the device. */
struct xfer {
	uint8_t *img;
	uint64_t len;		/* bytes */
	uint64_t dev_off;	/* bytes */
	uint64_t next;		/* next byte of img to submit */
	uint32_t chunk;
	bool write;
	int failed;
	uint64_t requests;
};

static void xfer_done(struct sess *s, struct sess_req *r, void *arg)
{
	struct xfer *x = arg;
	uint64_t at = r->sector * PAT_SECTOR - x->dev_off;

	if (r->status != VIRTIO_BLK_S_OK) {
		util_fail("%s of %u bytes at byte %" PRIu64 ": status %s",
			  sess_type_name(r->type), r->len, r->sector * PAT_SECTOR,
			  sess_status_name(r->status));
		x->failed++;
		return;
	}
	if (!x->write)
		memcpy(x->img + at, sess_req_data(s, r), r->len);
	x->requests++;
}

static int xfer_run(struct sess *s, struct xfer *x)
{
	struct sess_req *r = NULL;
	int ret;

	while (!x->failed && (x->next < x->len || sess_in_flight(s))) {
		if (x->next < x->len && !r)
			r = sess_req_get(s);
		if (r) {
			uint64_t n = x->len - x->next;

			if (n > x->chunk)
				n = x->chunk;
			r->type = x->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
			r->sector = (x->dev_off + x->next) / PAT_SECTOR;
			r->len = (uint32_t)n;
			if (x->write)
				memcpy(sess_req_data(s, r), x->img + x->next, n);
			ret = sess_submit(s, r);
			if (ret == 0) {
				x->next += n;
				r = NULL;
				continue;
			}
			if (ret != -EAGAIN)
				return -1;
		}
		if (sess_poll(s, xfer_done, x) < 0)
			return -1;
	}
	if (r)
		sess_req_put(s, r);
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

int mode_write_file(struct mode_args *a)
{
	struct xfer x = { .write = true };
	struct sess s;
	struct stat st;
	int64_t t0 = util_now_ms();
	int fd, ret;

	fd = open(a->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		util_err("cannot open %s: %s", a->file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return VBT_EXIT_FAIL;
	}
	x.len = (uint64_t)st.st_size;
	x.img = malloc(x.len ? x.len : 1);
	for (uint64_t got = 0; x.img && got < x.len;) {
		ssize_t n = read(fd, x.img + got, x.len - got);

		if (n <= 0) {
			util_err("cannot read %s: %s", a->file,
				 n < 0 ? strerror(errno) : "file shrank");
			free(x.img);
			x.img = NULL;
			break;
		}
		got += (uint64_t)n;
	}
	close(fd);
	if (!x.img)
		return VBT_EXIT_FAIL;
	if (xfer_open_session(&s, a, &x.len, true)) {
		free(x.img);
		return VBT_EXIT_FAIL;
	}
	x.dev_off = a->offset;
	x.chunk = sess_max_io(&s);
	ret = xfer_run(&s, &x);
	if (!ret && sess_has(&s, VIRTIO_BLK_F_FLUSH)) {
		struct sess_req *r;

		/* Make it durable the way a guest would. */
		while (!(r = sess_req_get(&s)))
			if (sess_poll(&s, xfer_done, &x) < 0)
				break;
		if (r) {
			r->type = VIRTIO_BLK_T_FLUSH;
			ret = sess_submit(&s, r) ? -1 : 0;
			while (!ret && sess_in_flight(&s))
				ret = sess_poll(&s, xfer_done, &x) < 0 ? -1 : 0;
			if (x.failed)
				ret = -1;
		} else {
			ret = -1;
		}
	}
	sess_close(&s);
	free(x.img);
	if (ret) {
		util_info("write-file: FAILED");
		return VBT_EXIT_FAIL;
	}
	util_info("write-file: wrote %" PRIu64 " bytes of %s at offset %"
		  PRIu64 " in %" PRIu64 " requests, flushed: OK in %.1f s",
		  x.len, a->file, a->offset, x.requests,
		  (util_now_ms() - t0) / 1000.0);
	return VBT_EXIT_OK;
}

int mode_read_file(struct mode_args *a)
{
	struct xfer x = { .write = false };
	struct sess s;
	int64_t t0 = util_now_ms();
	uint64_t off = 0;
	int fd, ret;

	x.len = a->size;
	if (xfer_open_session(&s, a, &x.len, false))
		return VBT_EXIT_FAIL;
	x.img = malloc(x.len ? x.len : 1);
	if (!x.img) {
		util_err("out of memory for %" PRIu64 " bytes", x.len);
		sess_close(&s);
		return VBT_EXIT_FAIL;
	}
	x.dev_off = a->offset;
	x.chunk = sess_max_io(&s);
	ret = xfer_run(&s, &x);
	sess_close(&s);
	if (ret) {
		free(x.img);
		util_info("read-file: FAILED");
		return VBT_EXIT_FAIL;
	}
	fd = open(a->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		util_err("cannot create %s: %s", a->file, strerror(errno));
		free(x.img);
		return VBT_EXIT_FAIL;
	}
	while (off < x.len) {
		ssize_t n = write(fd, x.img + off, x.len - off);

		if (n <= 0) {
			util_err("writing %s: %s", a->file, strerror(errno));
			close(fd);
			free(x.img);
			return VBT_EXIT_FAIL;
		}
		off += (uint64_t)n;
	}
	close(fd);
	free(x.img);
	util_info("read-file: read %" PRIu64 " bytes at offset %" PRIu64
		  " into %s in %" PRIu64 " requests: OK in %.1f s", x.len,
		  a->offset, a->file, x.requests,
		  (util_now_ms() - t0) / 1000.0);
	return VBT_EXIT_OK;
}
