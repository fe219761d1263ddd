/* SPDX-License-Identifier: MIT */
/* libFuzzer target: hostile guest rings and requests through the
 * virtqueue and virtio-blk layers over the fake transport.
 *
 * Input layout:
 *   byte 0   bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 complete later
 *            (deferred, out of order), bits 3-4 ring placement (below),
 *            bits 5-7 queue size 16 >> n (n > 4: size 1);
 *   byte 1-2 last_avail_idx to resume from (16-bit wrap-around);
 *   then 0x100 bytes over the descriptor table, 0x100 over the avail ring
 *   (each cut to the ring's size), then guest memory MEM and MEM2.
 * The fuzzer thus controls every descriptor, avail entry, event index,
 * header, segment list and indirect table; buffers and tables can cross
 * from MEM into MEM2 (two regions, one contiguous IOVA range), point into
 * the read-only region, the gap after MEM2 or anywhere else.
 * Placements: 0 all rings in RING; 1 descriptor table at the very end of
 * MEM2 (next byte unmapped), avail ring in the read-only region; 2 table
 * in the read-only region, used ring in MEM2; 3 used ring in the
 * read-only region (nb_vq_setup must refuse it).
 * Anything the device touches outside mapped memory is caught by
 * AddressSanitizer; the checks below catch requests that are lost or
 * completed twice and ranges that validation let through.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "blk.h"
#include "vq.h"
#include "vq_fake.h"

#define NUM 16u
#define RING_IOVA 0x0ULL	/* desc 0x000, avail 0x100, used 0x200 */
#define MEM_IOVA  0x1000ULL	/* RW guest memory, 8 KiB */
#define MEM2_IOVA 0x3000ULL	/* RW, right after MEM */
#define RO_IOVA   0x5000ULL	/* device-readable only */
#define DISK      (64 * 1024u)

struct fz_backend {
	uint8_t disk[DISK];
	struct blk_req *deferred[64];
	unsigned int ndeferred;
	int defer;
};

static int fz_submit(void *opaque, struct blk_req *req)
{
	struct fz_backend *be = opaque;

	if (req->offset > DISK || req->length > DISK - req->offset)
		abort();		/* validation let a bad range through */
	if (req->op == BLK_OP_READ)
		nb_iov_from_buf(req->iov, req->iov_cnt, 0,
				be->disk + req->offset, req->length);
	else if (req->op == BLK_OP_WRITE)
		nb_iov_to_buf(req->iov, req->iov_cnt, 0,
			      be->disk + req->offset, req->length);
	if (be->defer && be->ndeferred < 64) {
		be->deferred[be->ndeferred++] = req;
		return 0;
	}
	nb_blk_complete(req, req->offset & 512 ? -EIO : 0);
	return 0;
}

static const struct blk_backend_ops fz_ops = { .submit = fz_submit };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_backend be;
	struct vq_fake *f;
	struct vq *vq;
	struct blk_dev *dev;
	struct blk_params p = {
		.size_bytes = DISK, .block_size = 512,
		.max_discard_bytes = 8192, .max_write_zeroes_bytes = 8192,
		.max_discard_seg = 4, .max_write_zeroes_seg = 2,
		.num_queues = 1, .queue_size = NUM, .serial = "fuzz",
	};
	struct virtio_blk_config cfg;
	struct vq_layout l;
	uint64_t features;
	uint8_t *mem, *mem2;
	uint64_t desc_iova, avail_iova, used_iova;
	uint32_t num, shift;
	unsigned int round, i;
	size_t n;
	int rc;

	if (size < 3)
		return 0;
	shift = data[0] >> 5;
	num = shift > 4 ? 1 : NUM >> shift;
	switch ((data[0] >> 3) & 3) {
	case 0:
		desc_iova = RING_IOVA;
		avail_iova = RING_IOVA + 0x100;
		used_iova = RING_IOVA + 0x200;
		break;
	case 1:
		desc_iova = MEM2_IOVA + 0x2000 - 16 * num;
		avail_iova = RO_IOVA + 0x800;
		used_iova = RING_IOVA + 0x200;
		break;
	case 2:
		desc_iova = RO_IOVA;
		avail_iova = RING_IOVA + 0x100;
		used_iova = MEM2_IOVA + 0x1000;
		break;
	default:
		desc_iova = RING_IOVA;
		avail_iova = RING_IOVA + 0x100;
		used_iova = RO_IOVA + 0x800;
		break;
	}
	f = vq_fake_new();
	if (!f)
		abort();
	vq_fake_map(f, RING_IOVA, 0x1000, VQ_FAKE_RW);
	mem = vq_fake_map(f, MEM_IOVA, 0x2000, VQ_FAKE_RW);
	mem2 = vq_fake_map(f, MEM2_IOVA, 0x2000, VQ_FAKE_RW);
	vq_fake_map(f, RO_IOVA, 0x1000, VQ_FAKE_READ);
	if (vq_fake_ring_init(f, num, desc_iova, avail_iova, used_iova,
			      ((data[0] & 1) ?
			       1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			      ((data[0] & 2) ?
			       1ULL << VIRTIO_RING_F_EVENT_IDX : 0), &l) < 0)
		abort();
	l.last_avail_idx = (uint16_t)(data[1] | data[2] << 8);
	be.defer = data[0] & 4;
	be.ndeferred = 0;
	data += 3;
	size -= 3;
	/* descriptors, then the avail ring (not the used ring: it is ours) */
	n = size < 0x100 ? size : 0x100;
	vq_fake_write(f, desc_iova, data, n < 16 * num ? n : 16 * num);
	data += n;
	size -= n;
	n = size < 0x100 ? size : 0x100;
	vq_fake_write(f, avail_iova, data, n < 6 + 2 * num ? n : 6 + 2 * num);
	data += n;
	size -= n;
	n = size < 0x2000 ? size : 0x2000;
	memcpy(mem, data, n);
	data += n;
	size -= n;
	memcpy(mem2, data, size < 0x2000 ? size : 0x2000);

	vq = nb_vq_new(&vq_fake_ops, f, 0);
	if (!vq)
		abort();
	dev = nb_blk_dev_new(&p, &fz_ops, &be);
	if (!dev)
		abort();
	nb_blk_config_build(&p, &cfg, &features);
	nb_blk_dev_set_features(dev, features);
	if (nb_vq_setup(vq, &l) == 0) {
		for (round = 0; round < 4; round++) {
			rc = nb_blk_queue_process(dev, vq, 8);
			for (i = 0; i < be.ndeferred; i++)
				nb_blk_complete(be.deferred[i], 0);
			be.ndeferred = 0;
			nb_vq_notify_batch(vq);
			if (rc <= 0)
				break;
		}
		if (nb_vq_inflight(vq) != 0)
			abort();	/* a request was lost */
		if ((uint16_t)(nb_vq_get_stats(vq)->pushed) !=
		    vq_fake_used_idx(f))
			abort();
	}
	nb_blk_dev_free(dev);
	nb_vq_free(vq);
	vq_fake_free(f);
	return 0;
}
