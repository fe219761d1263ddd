/* libFuzzer target: hostile guest rings and requests through the
 * virtqueue and virtio-blk layers over the fake transport.
 *
 * Input layout: byte 0 picks ring features and the completion mode, the
 * rest is copied over the rings and the start of guest memory, so the
 * fuzzer controls every descriptor, avail entry, event index, header,
 * segment list and indirect table.  Anything the device touches outside
 * mapped memory is caught by AddressSanitizer; the checks below catch
 * requests that are lost or completed twice.
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
		vq_iov_from_buf(req->iov, req->iov_cnt, 0,
				be->disk + req->offset, req->length);
	else if (req->op == BLK_OP_WRITE)
		vq_iov_to_buf(req->iov, req->iov_cnt, 0,
			      be->disk + req->offset, req->length);
	if (be->defer && be->ndeferred < 64) {
		be->deferred[be->ndeferred++] = req;
		return 0;
	}
	blk_complete(req, req->offset & 512 ? -EIO : 0);
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
	uint8_t *ring, *mem;
	unsigned int round, i;
	int rc;

	if (size < 1)
		return 0;
	f = vq_fake_new();
	ring = vq_fake_map(f, RING_IOVA, 0x1000, VQ_FAKE_RW);
	mem = vq_fake_map(f, MEM_IOVA, 0x2000, VQ_FAKE_RW);
	vq_fake_map(f, MEM2_IOVA, 0x2000, VQ_FAKE_RW);
	vq_fake_map(f, RO_IOVA, 0x1000, VQ_FAKE_READ);
	vq_fake_ring_init(f, NUM, RING_IOVA, RING_IOVA + 0x100,
			  RING_IOVA + 0x200,
			  ((data[0] & 1) ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			  ((data[0] & 2) ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0),
			  &l);
	be.defer = data[0] & 4;
	be.ndeferred = 0;
	data++;
	size--;
	/* descriptors + avail ring (not the used ring: that is ours) */
	memcpy(ring, data, size < 0x200 ? size : 0x200);
	if (size > 0x200)
		memcpy(mem, data + 0x200, size - 0x200 < 0x2000 ?
		       size - 0x200 : 0x2000);

	vq = vq_new(&vq_fake_ops, f, 0);
	dev = blk_dev_new(&p, &fz_ops, &be);
	blk_config_build(&p, &cfg, &features);
	blk_dev_set_features(dev, features);
	if (vq_setup(vq, &l) == 0) {
		for (round = 0; round < 4; round++) {
			rc = blk_queue_process(dev, vq, 8);
			for (i = 0; i < be.ndeferred; i++)
				blk_complete(be.deferred[i], 0);
			be.ndeferred = 0;
			vq_notify_batch(vq);
			if (rc <= 0)
				break;
		}
		if (vq_inflight(vq) != 0)
			abort();	/* a request was lost */
		if ((uint16_t)(vq_get_stats(vq)->pushed) !=
		    vq_fake_used_idx(f))
			abort();
	}
	blk_dev_free(dev);
	vq_free(vq);
	vq_fake_free(f);
	return 0;
}
