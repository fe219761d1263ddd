/* SPDX-License-Identifier: MIT */
/* virtio-blk request handling; see blk.h for the contract. */
#include "blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define BLK_SECTOR 512u
#define BLK_MAX_SEGMENTS 256u	/* cap on max_discard_seg and friends */
#define BLK_DEFAULT_SEGMENT (1u << 20)

struct blk_dev {
	struct blk_params params;
	uint64_t capacity;		/* 512-byte sectors */
	uint64_t offered;		/* device features */
	uint64_t negotiated;		/* driver features */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_discard_seg;
	uint32_t max_write_zeroes_seg;
	const struct blk_backend_ops *ops;
	void *opaque;
};

const char *nb_blk_op_name(enum blk_op op)
{
	static const char *const names[BLK_OP_MAX] = {
		[BLK_OP_READ] = "read",
		[BLK_OP_WRITE] = "write",
		[BLK_OP_FLUSH] = "flush",
		[BLK_OP_DISCARD] = "discard",
		[BLK_OP_WRITE_ZEROES] = "write-zeroes",
	};

	if ((unsigned int)op >= BLK_OP_MAX)
		return "unknown";
	return names[op];
}

static bool blk_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

const char *nb_blk_params_check(const struct blk_params *p)
{
	if (p->size_bytes < BLK_SECTOR)
		return "volume smaller than 512 bytes";
	if (!blk_is_pow2(p->block_size) || p->block_size < 512 ||
	    p->block_size > 65536)
		return "block size not a power of two between 512 and 65536";
	if (p->num_queues == 0)
		return "no queues";
	if (!blk_is_pow2(p->queue_size) || p->queue_size < 4 ||
	    p->queue_size > VQ_MAX_SIZE)
		return "queue size not a power of two between 4 and 32768";
	if (p->max_discard_seg > BLK_MAX_SEGMENTS ||
	    p->max_write_zeroes_seg > BLK_MAX_SEGMENTS)
		return "more than 256 discard or write-zeroes segments";
	if ((p->max_discard_bytes && p->max_discard_bytes < p->block_size) ||
	    (p->max_write_zeroes_bytes &&
	     p->max_write_zeroes_bytes < p->block_size))
		return "discard or write-zeroes limit below the block size";
	if (p->max_segment_bytes && p->max_segment_bytes < 4096)
		return "segment size limit below 4096 bytes";
	return NULL;
}

static uint32_t blk_sectors_cap(uint64_t bytes)
{
	uint64_t s = bytes / BLK_SECTOR;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static uint64_t blk_offered_features(const struct blk_params *p)
{
	uint64_t f = 0;

	f |= 1ULL << VIRTIO_F_VERSION_1;
	f |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	f |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	f |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	f |= 1ULL << VIRTIO_BLK_F_BLK_SIZE;
	f |= 1ULL << VIRTIO_BLK_F_SEG_MAX;
	f |= 1ULL << VIRTIO_BLK_F_SIZE_MAX;
	f |= 1ULL << VIRTIO_BLK_F_TOPOLOGY;
	f |= 1ULL << VIRTIO_BLK_F_FLUSH;
	f |= 1ULL << VIRTIO_BLK_F_MQ;
	if (p->read_only) {
		f |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		if (p->max_discard_bytes)
			f |= 1ULL << VIRTIO_BLK_F_DISCARD;
		if (p->max_write_zeroes_bytes)
			f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	}
	return f;
}

int nb_blk_config_build(const struct blk_params *p, struct virtio_blk_config *cfg,
		     uint64_t *features)
{
	uint32_t seg_max;

	if (nb_blk_params_check(p))
		return -EINVAL;
	/* a chain is header + data segments + status; keep it inside the
	 * queue (no indirect) and well inside VQ_MAX_IOV */
	seg_max = p->queue_size - 2;
	if (seg_max > 254)
		seg_max = 254;

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(p->size_bytes / BLK_SECTOR);
	cfg->size_max = htole32(p->max_segment_bytes ? p->max_segment_bytes :
				BLK_DEFAULT_SEGMENT);
	cfg->seg_max = htole32(seg_max);
	cfg->blk_size = htole32(p->block_size);
	cfg->physical_block_exp = 0;
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16(1);
	cfg->opt_io_size = htole32(0);
	cfg->num_queues = htole16(p->num_queues);
	if (!p->read_only && p->max_discard_bytes) {
		cfg->max_discard_sectors =
			htole32(blk_sectors_cap(p->max_discard_bytes));
		cfg->max_discard_seg = htole32(p->max_discard_seg ?
					       p->max_discard_seg : 1);
		cfg->discard_sector_alignment =
			htole32(p->block_size / BLK_SECTOR);
	}
	if (!p->read_only && p->max_write_zeroes_bytes) {
		cfg->max_write_zeroes_sectors =
			htole32(blk_sectors_cap(p->max_write_zeroes_bytes));
		cfg->max_write_zeroes_seg = htole32(p->max_write_zeroes_seg ?
						    p->max_write_zeroes_seg : 1);
		cfg->write_zeroes_may_unmap = 1;
	}
	*features = blk_offered_features(p);
	return 0;
}

struct blk_dev *nb_blk_dev_new(const struct blk_params *p,
			    const struct blk_backend_ops *ops, void *opaque)
{
	struct blk_dev *dev;

	if (nb_blk_params_check(p) || !ops || !ops->submit) {
		errno = EINVAL;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->params = *p;
	dev->capacity = p->size_bytes / BLK_SECTOR;
	dev->offered = blk_offered_features(p);
	dev->max_discard_sectors = blk_sectors_cap(p->max_discard_bytes);
	dev->max_write_zeroes_sectors =
		blk_sectors_cap(p->max_write_zeroes_bytes);
	dev->max_discard_seg = p->max_discard_seg ? p->max_discard_seg : 1;
	dev->max_write_zeroes_seg = p->max_write_zeroes_seg ?
				    p->max_write_zeroes_seg : 1;
	dev->ops = ops;
	dev->opaque = opaque;
	return dev;
}

void nb_blk_dev_free(struct blk_dev *dev)
{
	free(dev);
}

int nb_blk_dev_set_features(struct blk_dev *dev, uint64_t driver_features)
{
	if (driver_features & ~dev->offered)
		return -EINVAL;
	dev->negotiated = driver_features;
	return 0;
}

void nb_blk_dev_set_size(struct blk_dev *dev, uint64_t size_bytes)
{
	dev->params.size_bytes = size_bytes;
	dev->capacity = size_bytes / BLK_SECTOR;
}

uint64_t nb_blk_dev_capacity_sectors(const struct blk_dev *dev)
{
	return dev->capacity;
}

static bool blk_negotiated(const struct blk_dev *dev, unsigned int bit)
{
	return dev->negotiated & (1ULL << bit);
}

/* Write the status, give the chain back, free the request. */
static void blk_req_finish(struct blk_req *req, uint8_t status)
{
	uint32_t len = 0;

	if (req->status) {
		*req->status = status;
		len = req->written + 1;
	} else {
		nb_vq_set_needs_reset(req->vq);
	}
	nb_vq_push(req->vq, req->elem.head, len);
	free(req->ranges);
	free(req);
}

static void blk_req_reject(struct blk_req *req, uint32_t type, uint8_t status,
			   const char *why)
{
	const struct blk_dev *dev = req->dev;

	if (dev->ops->bad_request)
		dev->ops->bad_request(dev->opaque, nb_vq_index(req->vq),
				      req->elem.head, type, why);
	req->written = 0;
	blk_req_finish(req, status);
}

static uint8_t blk_status_of(int err)
{
	if (err == 0)
		return VIRTIO_BLK_S_OK;
	if (err == -EOPNOTSUPP)
		return VIRTIO_BLK_S_UNSUPP;
	return VIRTIO_BLK_S_IOERR;
}

static void blk_req_done(struct blk_req *req, int err)
{
	if (err == 0 && req->op == BLK_OP_READ)
		req->written = (uint32_t)req->length;
	else if (err != 0)
		req->written = 0;
	blk_req_finish(req, blk_status_of(err));
}

/* Load the next non-empty range into the request; false when none left. */
static bool blk_req_load_range(struct blk_req *req)
{
	while (req->cur_range < req->nr_ranges &&
	       req->ranges[req->cur_range].length == 0)
		req->cur_range++;
	if (req->cur_range == req->nr_ranges)
		return false;
	req->offset = req->ranges[req->cur_range].offset;
	req->length = req->ranges[req->cur_range].length;
	req->flags = req->ranges[req->cur_range].flags;
	return true;
}

/* Submit the request (each range in turn); completions may be synchronous. */
static void blk_req_run(struct blk_req *req)
{
	const struct blk_dev *dev = req->dev;
	int rc;

	for (;;) {
		if (req->nr_ranges && !blk_req_load_range(req)) {
			blk_req_done(req, 0);
			return;
		}
		req->in_submit = true;
		req->done_in_submit = false;
		rc = dev->ops->submit(dev->opaque, req);
		req->in_submit = false;
		if (rc < 0) {
			blk_req_done(req, rc);
			return;
		}
		if (!req->done_in_submit)
			return;		/* nb_blk_complete() comes later */
		if (req->result < 0 || !req->nr_ranges) {
			blk_req_done(req, req->result);
			return;
		}
		req->cur_range++;
	}
}

void nb_blk_complete(struct blk_req *req, int err)
{
	req->result = err;
	if (req->in_submit) {
		req->done_in_submit = true;
		return;
	}
	if (err == 0 && req->nr_ranges) {
		req->cur_range++;
		blk_req_run(req);
		return;
	}
	blk_req_done(req, err);
}

/* Drop @n bytes from the front of an iovec array, in place. */
static void blk_iov_skip(struct iovec **iovp, unsigned int *cnt, size_t n)
{
	struct iovec *iov = *iovp;

	while (n && *cnt) {
		if (iov->iov_len <= n) {
			n -= iov->iov_len;
			iov++;
			(*cnt)--;
		} else {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= n;
			n = 0;
		}
	}
	*iovp = iov;
}

/* Check a sector range against the capacity, without overflow. */
static bool blk_range_ok(const struct blk_dev *dev, uint64_t sector,
			 uint64_t nsect)
{
	return sector <= dev->capacity && nsect <= dev->capacity - sector;
}

struct blk_parse {
	uint32_t type;
	uint8_t status;
	const char *why;
};

static bool blk_parse_fail(struct blk_parse *ps, uint8_t status,
			   const char *why)
{
	ps->status = status;
	ps->why = why;
	return false;
}

/* DISCARD / WRITE_ZEROES segments from the device-readable data. */
static bool blk_parse_ranges(struct blk_req *req, struct blk_parse *ps,
			     const struct iovec *iov, unsigned int cnt,
			     uint64_t len)
{
	const struct blk_dev *dev = req->dev;
	bool wz = ps->type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint32_t max_seg = wz ? dev->max_write_zeroes_seg : dev->max_discard_seg;
	uint32_t max_sect = wz ? dev->max_write_zeroes_sectors :
				 dev->max_discard_sectors;
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t nseg, i;

	if (!blk_negotiated(dev, wz ? VIRTIO_BLK_F_WRITE_ZEROES :
				      VIRTIO_BLK_F_DISCARD))
		return blk_parse_fail(ps, VIRTIO_BLK_S_UNSUPP, wz ?
			"write-zeroes request but VIRTIO_BLK_F_WRITE_ZEROES not negotiated" :
			"discard request but VIRTIO_BLK_F_DISCARD not negotiated");
	if (dev->params.read_only)
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "discard or write-zeroes on a read-only device");
	if (len == 0 || len % sizeof(seg))
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "segment list length not a non-zero multiple of 16");
	nseg = len / sizeof(seg);
	if (nseg > max_seg)
		return blk_parse_fail(ps, VIRTIO_BLK_S_UNSUPP,
				      "more segments than the device allows");
	req->ranges = calloc(nseg, sizeof(*req->ranges));
	if (!req->ranges)
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "out of memory for segments");
	for (i = 0; i < nseg; i++) {
		uint64_t sector;
		uint32_t nsect, flags;

		/* copied out once: the guest may change it under us */
		nb_iov_to_buf(iov, cnt, i * sizeof(seg), &seg, sizeof(seg));
		sector = le64toh(seg.sector);
		nsect = le32toh(seg.num_sectors);
		flags = le32toh(seg.flags);
		if (!wz && flags)
			return blk_parse_fail(ps, VIRTIO_BLK_S_UNSUPP,
					      "discard segment with flags set");
		if (wz && (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return blk_parse_fail(ps, VIRTIO_BLK_S_UNSUPP,
					      "write-zeroes segment with unknown flags");
		if (nsect > max_sect)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "segment larger than the device allows");
		if (!blk_range_ok(dev, sector, nsect))
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "segment beyond the end of the device");
		req->ranges[i].offset = sector * BLK_SECTOR;
		req->ranges[i].length = (uint64_t)nsect * BLK_SECTOR;
		req->ranges[i].flags =
			(flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ?
			BLK_REQ_F_UNMAP : 0;
	}
	req->nr_ranges = (unsigned int)nseg;
	req->op = wz ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD;
	return true;
}

/* Read/write data checks shared by IN and OUT. */
static bool blk_parse_rw(struct blk_req *req, struct blk_parse *ps,
			 uint64_t sector, struct iovec *iov, unsigned int cnt,
			 uint64_t len)
{
	if (len % BLK_SECTOR)
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "data length not a multiple of 512");
	if (!blk_range_ok(req->dev, sector, len / BLK_SECTOR))
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "request beyond the end of the device");
	req->offset = sector * BLK_SECTOR;
	req->length = len;
	req->iov = iov;
	req->iov_cnt = cnt;
	return true;
}

/* Turn a well-formed chain into a request; false with ps->status/why. */
static bool blk_req_parse(struct blk_req *req, struct blk_parse *ps)
{
	struct vq_elem *e = &req->elem;
	struct virtio_blk_outhdr hdr;
	struct iovec *out = e->iov, *in = e->iov + e->out_num;
	unsigned int out_cnt = e->out_num, in_cnt = e->in_num;
	uint64_t out_len, in_len, sector;

	if (e->error)
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR, e->why);
	if (!req->status)
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "no device-writable status byte");
	if (e->out_len < sizeof(hdr))
		return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
				      "request header shorter than 16 bytes");
	nb_iov_to_buf(out, out_cnt, 0, &hdr, sizeof(hdr));
	ps->type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	/* data views: readable after the header, writable before status */
	blk_iov_skip(&out, &out_cnt, sizeof(hdr));
	out_len = e->out_len - sizeof(hdr);
	in[in_cnt - 1].iov_len--;
	if (in[in_cnt - 1].iov_len == 0)
		in_cnt--;
	in_len = e->in_len - 1;

	switch (ps->type) {
	case VIRTIO_BLK_T_IN:
		req->op = BLK_OP_READ;
		if (out_len)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "read request with device-readable data");
		return blk_parse_rw(req, ps, sector, in, in_cnt, in_len);
	case VIRTIO_BLK_T_OUT:
		req->op = BLK_OP_WRITE;
		if (req->dev->params.read_only)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "write to a read-only device");
		if (in_len)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "write request with device-writable data");
		return blk_parse_rw(req, ps, sector, out, out_cnt, out_len);
	case VIRTIO_BLK_T_FLUSH:
		req->op = BLK_OP_FLUSH;
		if (out_len || in_len)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "flush request with data");
		return true;
	case VIRTIO_BLK_T_GET_ID:
		if (out_len || in_len == 0)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "GET_ID request without a writable buffer");
		if (in_len > VIRTIO_BLK_ID_BYTES)
			in_len = VIRTIO_BLK_ID_BYTES;
		req->written = (uint32_t)nb_iov_from_buf(in, in_cnt, 0,
			req->dev->params.serial, in_len);
		return true;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (in_len)
			return blk_parse_fail(ps, VIRTIO_BLK_S_IOERR,
					      "discard or write-zeroes request with device-writable data");
		return blk_parse_ranges(req, ps, out, out_cnt, out_len);
	default:
		return blk_parse_fail(ps, VIRTIO_BLK_S_UNSUPP,
				      "unsupported request type");
	}
}

static void blk_req_start(struct blk_dev *dev, struct vq *vq,
			  struct blk_req *req)
{
	struct blk_parse ps = { .type = BLK_TYPE_UNKNOWN };

	req->dev = dev;
	req->vq = vq;
	req->status = req->elem.last_in_byte;
	if (!blk_req_parse(req, &ps)) {
		blk_req_reject(req, ps.type, ps.status, ps.why);
		return;
	}
	if (ps.type == VIRTIO_BLK_T_GET_ID) {
		blk_req_finish(req, VIRTIO_BLK_S_OK);
		return;
	}
	if ((req->op == BLK_OP_READ || req->op == BLK_OP_WRITE) &&
	    req->length == 0) {
		blk_req_done(req, 0);
		return;
	}
	blk_req_run(req);
}

int nb_blk_queue_process(struct blk_dev *dev, struct vq *vq, unsigned int budget)
{
	unsigned int n;
	int rc = 0;

	for (n = 0; n < budget; n++) {
		struct vq_elem *elem;

		rc = nb_vq_pop(vq, sizeof(struct blk_req), &elem);
		if (rc < 0)
			break;
		blk_req_start(dev, vq, (struct blk_req *)elem);
	}
	nb_vq_notify_batch(vq);
	if (rc < 0 && rc != -EAGAIN)
		return rc;
	return (int)n;
}

int nb_blk_queue_resubmit(struct blk_dev *dev, struct vq *vq, uint16_t head)
{
	struct vq_elem *elem;
	int rc;

	rc = nb_vq_pop_head(vq, head, sizeof(struct blk_req), &elem);
	if (rc < 0)
		return rc;
	blk_req_start(dev, vq, (struct blk_req *)elem);
	return 0;
}
