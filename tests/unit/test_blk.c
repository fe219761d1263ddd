/* SPDX-License-Identifier: MIT */
/* Unit tests of the virtio-blk layer: requests built by the fake driver,
 * served by a plain-memory backend. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blk.h"
#include "vq.h"
#include "vq_fake.h"

#define RING_IOVA  0x10000ULL
#define HDR_IOVA   0x100000ULL	/* headers, segment lists: RW 64 KiB */
#define STATUS_IOVA 0x108000ULL
#define DATA_IOVA  0x200000ULL	/* data: RW 64 KiB */
#define DATA2_IOVA 0x210000ULL	/* right after DATA */
#define RO_IOVA    0x300000ULL	/* device-readable only */
#define HOLE_IOVA  0x400000ULL
#define NUM 64u
#define DISK_BYTES (1024 * 1024ULL)	/* 2048 sectors */

#define F(bit) (1ULL << (bit))

/* Memory backend: sync or deferred completions, error injection. */
struct mem_backend {
	uint8_t *disk;
	unsigned int submits[BLK_OP_MAX];
	uint32_t last_flags;
	bool defer;
	struct blk_req *deferred[16];
	unsigned int ndeferred;
	int complete_err;	/* given to nb_blk_complete */
	int refuse_err;		/* returned by submit */
	char last_why[128];
	unsigned int bad;
};

struct fx {
	struct vq_fake *f;
	struct vq *vq;
	struct blk_dev *dev;
	struct mem_backend be;
	struct blk_params p;
	uint8_t *hdr, *data, *data2;
	uint16_t slot;
	uint64_t hdr_off;
	int last_head;
};

static int mem_submit(void *opaque, struct blk_req *req)
{
	struct mem_backend *be = opaque;
	int err = be->complete_err;

	if (be->refuse_err)
		return be->refuse_err;
	be->submits[req->op]++;
	be->last_flags = req->flags;
	assert_true(req->offset + req->length <= DISK_BYTES);
	if (!err) {
		switch (req->op) {
		case BLK_OP_READ:
			assert_int_equal(nb_iov_from_buf(req->iov, req->iov_cnt,
				0, be->disk + req->offset, req->length),
				req->length);
			break;
		case BLK_OP_WRITE:
			assert_int_equal(nb_iov_to_buf(req->iov, req->iov_cnt,
				0, be->disk + req->offset, req->length),
				req->length);
			break;
		case BLK_OP_DISCARD:
		case BLK_OP_WRITE_ZEROES:
			memset(be->disk + req->offset, 0, req->length);
			break;
		default:
			break;
		}
	}
	if (be->defer) {
		assert_true(be->ndeferred < 16);
		req->backend_priv = (void *)(intptr_t)err;
		be->deferred[be->ndeferred++] = req;
		return 0;
	}
	nb_blk_complete(req, err);
	return 0;
}

static void mem_bad_request(void *opaque, unsigned int queue, uint16_t head,
			    uint32_t type, const char *why)
{
	struct mem_backend *be = opaque;

	assert_int_equal(queue, 1);
	snprintf(be->last_why, sizeof(be->last_why), "%s", why);
	be->bad++;
}

static const struct blk_backend_ops mem_ops = {
	.submit = mem_submit,
	.bad_request = mem_bad_request,
};

static void fx_params(struct blk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size_bytes = DISK_BYTES;
	p->block_size = 4096;
	p->max_discard_bytes = 64 * 1024;
	p->max_write_zeroes_bytes = 128 * 1024;
	p->max_discard_seg = 4;
	p->max_write_zeroes_seg = 1;
	p->num_queues = 2;
	p->queue_size = NUM;
	memcpy(p->serial, "netblk-vol-0001", 15);
}

static struct fx *fx_new_p(const struct blk_params *p, uint64_t ring_features)
{
	struct fx *t = calloc(1, sizeof(*t));
	struct vq_layout l;
	struct virtio_blk_config cfg;
	uint64_t features;
	unsigned int i;

	assert_non_null(t);
	t->p = *p;
	t->f = vq_fake_new();
	assert_non_null(vq_fake_map(t->f, RING_IOVA, 0x10000, VQ_FAKE_RW));
	t->hdr = vq_fake_map(t->f, HDR_IOVA, 0x10000, VQ_FAKE_RW);
	t->data = vq_fake_map(t->f, DATA_IOVA, 0x10000, VQ_FAKE_RW);
	t->data2 = vq_fake_map(t->f, DATA2_IOVA, 0x10000, VQ_FAKE_RW);
	assert_non_null(vq_fake_map(t->f, RO_IOVA, 0x10000, VQ_FAKE_READ));
	assert_int_equal(vq_fake_ring_init(t->f, NUM, RING_IOVA,
					   RING_IOVA + 0x2000,
					   RING_IOVA + 0x4000,
					   ring_features, &l), 0);
	t->vq = nb_vq_new(&vq_fake_ops, t->f, 1);
	assert_int_equal(nb_vq_setup(t->vq, &l), 0);
	t->be.disk = malloc(DISK_BYTES);
	assert_non_null(t->be.disk);
	for (i = 0; i < DISK_BYTES; i++)
		t->be.disk[i] = (uint8_t)(i * 7 + (i >> 9));
	t->dev = nb_blk_dev_new(p, &mem_ops, &t->be);
	assert_non_null(t->dev);
	assert_int_equal(nb_blk_config_build(p, &cfg, &features), 0);
	assert_int_equal(nb_blk_dev_set_features(t->dev, features), 0);
	return t;
}

static struct fx *fx_new(void)
{
	struct blk_params p;

	fx_params(&p);
	return fx_new_p(&p, F(VIRTIO_RING_F_INDIRECT_DESC));
}

static void fx_free(struct fx *t)
{
	assert_int_equal(nb_vq_inflight(t->vq), 0);
	nb_blk_dev_free(t->dev);
	nb_vq_free(t->vq);
	vq_fake_free(t->f);
	free(t->be.disk);
	free(t);
}

/* Write a request header in HDR memory; returns its IOVA. */
static uint64_t fx_hdr(struct fx *t, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.ioprio = 0,
		.sector = htole64(sector),
	};
	uint64_t iova = HDR_IOVA + t->hdr_off;

	t->hdr_off = (t->hdr_off + 64) % 0x8000;
	assert_int_equal(vq_fake_write(t->f, iova, &h, sizeof(h)), 0);
	return iova;
}

/* A status byte slot, pre-set to 0xee; returns its IOVA. */
static uint64_t fx_status(struct fx *t, unsigned int n)
{
	uint64_t iova = STATUS_IOVA + n;

	t->hdr[iova - HDR_IOVA] = 0xee;
	return iova;
}

static uint8_t fx_status_of(struct fx *t, unsigned int n)
{
	return t->hdr[STATUS_IOVA + n - HDR_IOVA];
}

static int fx_chain(struct fx *t, const struct vq_fake_buf *b, unsigned int n)
{
	int head = vq_fake_add_chain(t->f, t->slot, b, n);

	assert_true(head >= 0);
	t->slot = (t->slot + n) % NUM;
	t->last_head = head;
	return head;
}

/* header + one data buffer + status; returns the head */
static int fx_req(struct fx *t, uint32_t type, uint64_t sector,
		  uint64_t data, uint32_t len, bool data_write, unsigned int st)
{
	struct vq_fake_buf b[3] = {
		{ fx_hdr(t, type, sector), 16, false },
		{ data, len, data_write },
		{ fx_status(t, st), 1, true },
	};

	if (len == 0) {
		b[1] = b[2];
		return fx_chain(t, b, 2);
	}
	return fx_chain(t, b, 3);
}

static int fx_run(struct fx *t)
{
	return nb_blk_queue_process(t->dev, t->vq, 32);
}

/* Check used entry @pos: id and len. */
static void fx_used(struct fx *t, uint16_t pos, int head, uint32_t len)
{
	uint32_t id, l;

	assert_true((uint16_t)(vq_fake_used_idx(t->f) - pos) >= 1);
	vq_fake_used_elem(t->f, pos, &id, &l);
	assert_int_equal(id, head);
	assert_int_equal(l, len);
}

/* A good read after anything: the bytes come back, status OK. */
static void fx_expect_good_read(struct fx *t)
{
	uint16_t pos = vq_fake_used_idx(t->f);
	int head;

	memset(t->data, 0, 1024);
	head = fx_req(t, VIRTIO_BLK_T_IN, 3, DATA_IOVA, 1024, true, 63);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 63), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data, t->be.disk + 3 * 512, 1024);
	fx_used(t, pos, head, 1025);
}

/* A request that must be rejected with @status and @why, never reaching
 * the backend; then a good read. */
static void fx_expect_reject(struct fx *t, uint8_t status, const char *why)
{
	unsigned int submits = 0, i;
	uint16_t pos = vq_fake_used_idx(t->f);

	for (i = 0; i < BLK_OP_MAX; i++)
		submits += t->be.submits[i];
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), status);
	if (why)
		assert_string_equal(t->be.last_why, why);
	assert_true(t->be.bad > 0);
	fx_used(t, pos, t->last_head, 1);
	for (i = 0; i < BLK_OP_MAX; i++)
		submits -= t->be.submits[i];
	assert_int_equal(submits, 0);
	assert_false(nb_vq_needs_reset(t->vq));
	fx_expect_good_read(t);
}

static void test_read(void **state)
{
	struct fx *t = fx_new();
	int head;

	head = fx_req(t, VIRTIO_BLK_T_IN, 100, DATA_IOVA, 8192, true, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data, t->be.disk + 100 * 512, 8192);
	fx_used(t, 0, head, 8193);
	assert_int_equal(t->be.submits[BLK_OP_READ], 1);
	assert_int_equal(vq_fake_notifies(t->f), 1);
	fx_free(t);
}

static void test_write(void **state)
{
	struct fx *t = fx_new();
	int head;

	memset(t->data, 0x5a, 4096);
	head = fx_req(t, VIRTIO_BLK_T_OUT, 2047 - 7, DATA_IOVA, 4096, false, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->be.disk + (2047 - 7) * 512, t->data, 4096);
	fx_used(t, 0, head, 1);
	/* the last sector of the disk is fine, one past it is not */
	fx_req(t, VIRTIO_BLK_T_OUT, 2047, DATA_IOVA, 512, false, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	fx_req(t, VIRTIO_BLK_T_OUT, 2048, DATA_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request beyond the end of the device");
	fx_free(t);
}

static void test_flush(void **state)
{
	struct fx *t = fx_new();
	int head = fx_req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, 1);

	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(t->be.submits[BLK_OP_FLUSH], 1);
	fx_used(t, 0, head, 1);
	fx_free(t);
}

static void test_get_id(void **state)
{
	struct fx *t = fx_new();
	int head;

	memset(t->data, 0xff, 64);
	head = fx_req(t, VIRTIO_BLK_T_GET_ID, 0, DATA_IOVA, 20, true, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data, "netblk-vol-0001\0\0\0\0\0", 20);
	assert_int_equal(t->data[20], 0xff);
	fx_used(t, 0, head, 21);

	/* a short buffer gets what fits, a long one no more than 20 */
	memset(t->data, 0xff, 64);
	head = fx_req(t, VIRTIO_BLK_T_GET_ID, 0, DATA_IOVA, 6, true, 1);
	assert_int_equal(fx_run(t), 1);
	assert_memory_equal(t->data, "netblk", 6);
	assert_int_equal(t->data[6], 0xff);
	fx_used(t, 1, head, 7);
	head = fx_req(t, VIRTIO_BLK_T_GET_ID, 0, DATA_IOVA, 512, true, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(t->data[20], 0xff);
	fx_used(t, 2, head, 21);
	assert_int_equal(t->be.bad, 0);
	fx_free(t);
}

/* DISCARD/WRITE_ZEROES with @n segments at HDR+0x4000. */
static void fx_segs(struct fx *t, uint32_t type, const uint64_t *sector,
		    const uint32_t *nsect, const uint32_t *flags,
		    unsigned int n)
{
	struct virtio_blk_discard_write_zeroes s[8];
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].sector = htole64(sector[i]);
		s[i].num_sectors = htole32(nsect[i]);
		s[i].flags = htole32(flags[i]);
	}
	assert_int_equal(vq_fake_write(t->f, HDR_IOVA + 0x4000, s,
				       n * sizeof(s[0])), 0);
	fx_req(t, type, 0, HDR_IOVA + 0x4000, n * sizeof(s[0]), false, 0);
}

static void test_discard(void **state)
{
	struct fx *t = fx_new();
	const uint64_t sec[] = { 8, 0, 100 };
	const uint32_t cnt[] = { 16, 0, 1 };
	const uint32_t fl[] = { 0, 0, 0 };

	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, fl, 3);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	/* the empty segment is skipped */
	assert_int_equal(t->be.submits[BLK_OP_DISCARD], 2);
	assert_true(t->be.disk[8 * 512] == 0 && t->be.disk[24 * 512 - 1] == 0);
	assert_true(t->be.disk[100 * 512 + 1] == 0);
	assert_int_equal(t->be.disk[24 * 512 + 1], (uint8_t)((24 * 512 + 1) * 7 + 24));
	fx_used(t, 0, 0, 1);
	fx_free(t);
}

static void test_discard_deferred(void **state)
{
	struct fx *t = fx_new();
	const uint64_t sec[] = { 8, 40 };
	const uint32_t cnt[] = { 8, 8 };
	const uint32_t fl[] = { 0, 0 };

	t->be.defer = true;
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, fl, 2);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(t->be.ndeferred, 1);	/* one segment at a time */
	nb_blk_complete(t->be.deferred[0], 0);
	assert_int_equal(t->be.ndeferred, 2);
	assert_int_equal(vq_fake_used_idx(t->f), 0);
	nb_blk_complete(t->be.deferred[1], 0);
	assert_int_equal(vq_fake_used_idx(t->f), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);

	/* a failing segment ends the request: IOERR, later ones not sent */
	t->be.ndeferred = 0;
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, fl, 2);
	assert_int_equal(fx_run(t), 1);
	nb_blk_complete(t->be.deferred[0], -EIO);
	assert_int_equal(t->be.ndeferred, 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(vq_fake_used_idx(t->f), 2);
	fx_free(t);
}

static void test_write_zeroes(void **state)
{
	struct fx *t = fx_new();
	const uint64_t sec[] = { 1000 };
	const uint32_t cnt[] = { 256 };
	const uint32_t fl[] = { VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };

	fx_segs(t, VIRTIO_BLK_T_WRITE_ZEROES, sec, cnt, fl, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(t->be.submits[BLK_OP_WRITE_ZEROES], 1);
	assert_int_equal(t->be.last_flags, BLK_REQ_F_UNMAP);
	assert_true(t->be.disk[1000 * 512] == 0 &&
		    t->be.disk[1256 * 512 - 1] == 0);
	assert_int_not_equal(t->be.disk[1256 * 512 + 1], 0);
	fx_free(t);
}

static void test_discard_rejects(void **state)
{
	struct fx *t = fx_new();
	const uint64_t sec[] = { 0, 8, 16, 24, 32 };
	const uint32_t cnt[] = { 8, 8, 8, 8, 8 };
	const uint32_t zero[] = { 0, 0, 0, 0, 0 };
	const uint32_t unmap[] = { 0, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
	const uint32_t reserved[] = { 2 };
	const uint64_t far[] = { 2040, UINT64_MAX - 3 };
	const uint32_t big[] = { 129 };

	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, zero, 5);	/* max 4 */
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "more segments than the device allows");
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, unmap, 2);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "discard segment with flags set");
	fx_segs(t, VIRTIO_BLK_T_WRITE_ZEROES, sec, cnt, reserved, 1);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "write-zeroes segment with unknown flags");
	fx_segs(t, VIRTIO_BLK_T_WRITE_ZEROES, sec, cnt, zero, 2);	/* max 1 */
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "more segments than the device allows");
	fx_segs(t, VIRTIO_BLK_T_DISCARD, far, cnt, zero, 1);	/* 2040 + 8 ok */
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	fx_segs(t, VIRTIO_BLK_T_DISCARD, far + 1, cnt, zero, 1);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "segment beyond the end of the device");
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, big, zero, 1);	/* max 128 */
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "segment larger than the device allows");
	/* length not a multiple of 16 */
	fx_req(t, VIRTIO_BLK_T_DISCARD, 0, HDR_IOVA + 0x4000, 20, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "segment list length not a non-zero multiple of 16");
	fx_req(t, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "segment list length not a non-zero multiple of 16");
	assert_int_equal(t->be.submits[BLK_OP_DISCARD], 1);
	assert_int_equal(t->be.submits[BLK_OP_WRITE_ZEROES], 0);
	fx_free(t);
}

static void test_discard_not_negotiated(void **state)
{
	struct fx *t = fx_new();
	const uint64_t sec[] = { 0 };
	const uint32_t cnt[] = { 8 };
	const uint32_t zero[] = { 0 };
	struct virtio_blk_config cfg;
	uint64_t features;

	assert_int_equal(nb_blk_config_build(&t->p, &cfg, &features), 0);
	assert_int_equal(nb_blk_dev_set_features(t->dev, features &
		~(F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES))), 0);
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, zero, 1);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "discard request but VIRTIO_BLK_F_DISCARD not negotiated");
	fx_segs(t, VIRTIO_BLK_T_WRITE_ZEROES, sec, cnt, zero, 1);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "write-zeroes request but VIRTIO_BLK_F_WRITE_ZEROES not negotiated");
	/* features we never offered are refused */
	assert_int_equal(nb_blk_dev_set_features(t->dev, F(VIRTIO_F_RING_PACKED)), -EINVAL);
	fx_free(t);
}

static void test_split_header_and_data(void **state)
{
	struct fx *t = fx_new();
	uint64_t h = fx_hdr(t, VIRTIO_BLK_T_IN, 64);
	/* header 5 + 11 bytes, data 512 + 1024, then 512 data + status in
	 * one descriptor */
	const struct vq_fake_buf b[] = {
		{ h, 5, false },
		{ h + 5, 11, false },
		{ DATA_IOVA, 512, true },
		{ DATA_IOVA + 0x1000, 1024, true },
		{ DATA_IOVA + 0x2000, 513, true },
	};
	int head;

	memset(t->data, 0, 0x3000);
	head = fx_chain(t, b, 5);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(t->data[0x2000 + 512], VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data, t->be.disk + 64 * 512, 512);
	assert_memory_equal(t->data + 0x1000, t->be.disk + 65 * 512, 1024);
	assert_memory_equal(t->data + 0x2000, t->be.disk + 67 * 512, 512);
	fx_used(t, 0, head, 2049);

	/* a write whose header and first data share one descriptor */
	h = fx_hdr(t, VIRTIO_BLK_T_OUT, 10);
	memset(t->hdr + (h - HDR_IOVA) + 16, 0xc3, 512);
	{
		const struct vq_fake_buf w[] = {
			{ h, 16 + 512, false },
			{ fx_status(t, 5), 1, true },
		};

		head = fx_chain(t, w, 2);
	}
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 5), VIRTIO_BLK_S_OK);
	assert_int_equal(t->be.disk[10 * 512], 0xc3);
	assert_int_equal(t->be.disk[11 * 512 - 1], 0xc3);
	assert_int_not_equal(t->be.disk[11 * 512], 0xc3);
	fx_used(t, 1, head, 1);
	fx_free(t);
}

static void test_span_regions(void **state)
{
	struct fx *t = fx_new();
	int head;

	memset(t->data + 0x10000 - 1024, 0, 1024);
	memset(t->data2, 0, 1024);
	head = fx_req(t, VIRTIO_BLK_T_IN, 500, DATA2_IOVA - 1024, 2048, true, 1);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data + 0x10000 - 1024, t->be.disk + 500 * 512, 1024);
	assert_memory_equal(t->data2, t->be.disk + 502 * 512, 1024);
	fx_used(t, 0, head, 2049);
	fx_free(t);
}

static void test_indirect(void **state)
{
	struct fx *t = fx_new();
	const struct vq_fake_buf b[] = {
		{ fx_hdr(t, VIRTIO_BLK_T_OUT, 7), 16, false },
		{ DATA_IOVA, 1024, false },
		{ DATA_IOVA + 4096, 512, false },
		{ fx_status(t, 2), 1, true },
	};

	memset(t->data, 0x11, 1024);
	memset(t->data + 4096, 0x22, 512);
	assert_int_equal(vq_fake_add_indirect(t->f, 9, HDR_IOVA + 0x6000, b, 4), 9);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 2), VIRTIO_BLK_S_OK);
	assert_int_equal(t->be.disk[7 * 512 + 1023], 0x11);
	assert_int_equal(t->be.disk[9 * 512], 0x22);
	assert_int_equal(t->be.disk[9 * 512 + 511], 0x22);
	fx_used(t, 0, 9, 1);
	fx_free(t);
}

static void test_async_batching(void **state)
{
	struct fx *t = fx_new();
	int h[3];
	unsigned int i;
	uint32_t id, len;

	t->be.defer = true;
	for (i = 0; i < 3; i++)
		h[i] = fx_req(t, VIRTIO_BLK_T_IN, i * 8, DATA_IOVA + i * 4096,
			      4096, true, i + 1);
	assert_int_equal(fx_run(t), 3);
	assert_int_equal(nb_vq_inflight(t->vq), 3);
	assert_int_equal(vq_fake_used_idx(t->f), 0);
	assert_int_equal(vq_fake_notifies(t->f), 0);
	/* complete out of order; one interrupt for all three */
	nb_blk_complete(t->be.deferred[2], 0);
	nb_blk_complete(t->be.deferred[0], 0);
	nb_blk_complete(t->be.deferred[1], -EOPNOTSUPP);
	assert_int_equal(nb_vq_notify_batch(t->vq), 0);
	assert_int_equal(vq_fake_notifies(t->f), 1);
	assert_int_equal(vq_fake_used_idx(t->f), 3);
	vq_fake_used_elem(t->f, 0, &id, &len);
	assert_int_equal(id, h[2]);
	assert_int_equal(len, 4097);
	vq_fake_used_elem(t->f, 1, &id, &len);
	assert_int_equal(id, h[0]);
	vq_fake_used_elem(t->f, 2, &id, &len);
	assert_int_equal(id, h[1]);
	assert_int_equal(len, 1);
	assert_int_equal(fx_status_of(t, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(fx_status_of(t, 2), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(fx_status_of(t, 3), VIRTIO_BLK_S_OK);
	assert_memory_equal(t->data + 2 * 4096, t->be.disk + 16 * 512, 4096);
	fx_free(t);
}

static void test_event_idx_through_blk(void **state)
{
	struct blk_params p;
	struct fx *t;
	unsigned int i;

	fx_params(&p);
	t = fx_new_p(&p, F(VIRTIO_RING_F_EVENT_IDX));
	for (i = 0; i < 4; i++)
		fx_req(t, VIRTIO_BLK_T_IN, i, DATA_IOVA, 512, true, i);
	vq_fake_set_used_event(t->f, 10);	/* not before the 11th */
	assert_int_equal(fx_run(t), 4);
	assert_int_equal(vq_fake_used_idx(t->f), 4);
	assert_int_equal(vq_fake_notifies(t->f), 1);	/* first one always */
	for (i = 0; i < 4; i++)
		fx_req(t, VIRTIO_BLK_T_IN, i, DATA_IOVA, 512, true, i);
	assert_int_equal(fx_run(t), 4);
	assert_int_equal(vq_fake_notifies(t->f), 1);	/* suppressed */
	for (i = 0; i < 4; i++)
		fx_req(t, VIRTIO_BLK_T_IN, i, DATA_IOVA, 512, true, i);
	assert_int_equal(fx_run(t), 4);		/* 8 -> 12 crosses 10 */
	assert_int_equal(vq_fake_notifies(t->f), 2);
	assert_int_equal(vq_fake_avail_event(t->f), 12);
	fx_free(t);
}

static void test_budget(void **state)
{
	struct fx *t = fx_new();
	unsigned int i;

	for (i = 0; i < 5; i++)
		fx_req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, i);
	assert_int_equal(nb_blk_queue_process(t->dev, t->vq, 2), 2);
	assert_int_equal(vq_fake_used_idx(t->f), 2);
	assert_int_equal(nb_blk_queue_process(t->dev, t->vq, 2), 2);
	assert_int_equal(nb_blk_queue_process(t->dev, t->vq, 2), 1);
	assert_int_equal(nb_blk_queue_process(t->dev, t->vq, 2), 0);
	assert_int_equal(t->be.submits[BLK_OP_FLUSH], 5);
	fx_free(t);
}

static void test_backend_errors(void **state)
{
	struct fx *t = fx_new();

	t->be.complete_err = -EIO;
	fx_req(t, VIRTIO_BLK_T_IN, 0, DATA_IOVA, 512, true, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_IOERR);
	fx_used(t, 0, 0, 1);
	t->be.complete_err = -EOPNOTSUPP;
	fx_req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_UNSUPP);
	t->be.complete_err = 0;
	t->be.refuse_err = -ENOMEM;
	fx_req(t, VIRTIO_BLK_T_OUT, 0, DATA_IOVA, 512, false, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_IOERR);
	t->be.refuse_err = 0;
	fx_expect_good_read(t);
	assert_int_equal(t->be.bad, 0);	/* backend errors are not "bad requests" */
	fx_free(t);
}

static void test_read_only(void **state)
{
	struct blk_params p;
	struct fx *t;
	const uint64_t sec[] = { 0 };
	const uint32_t cnt[] = { 8 };
	const uint32_t zero[] = { 0 };
	uint8_t before[512];

	fx_params(&p);
	p.read_only = true;
	t = fx_new_p(&p, 0);
	memcpy(before, t->be.disk, 512);
	memset(t->data, 0, 512);
	fx_req(t, VIRTIO_BLK_T_OUT, 0, DATA_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "write to a read-only device");
	assert_memory_equal(t->be.disk, before, 512);
	/* DISCARD is not even offered on a read-only device */
	fx_segs(t, VIRTIO_BLK_T_DISCARD, sec, cnt, zero, 1);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "discard request but VIRTIO_BLK_F_DISCARD not negotiated");
	fx_req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	fx_free(t);
}

static void test_bad_requests(void **state)
{
	struct fx *t = fx_new();

	fx_req(t, 77, 0, DATA_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "unsupported request type");
	fx_req(t, VIRTIO_BLK_T_SCSI_CMD, 0, DATA_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_UNSUPP, "unsupported request type");
	fx_req(t, VIRTIO_BLK_T_IN, 0, DATA_IOVA, 500, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "data length not a multiple of 512");
	fx_req(t, VIRTIO_BLK_T_IN, 2048, DATA_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request beyond the end of the device");
	fx_req(t, VIRTIO_BLK_T_IN, 2047, DATA_IOVA, 1024, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request beyond the end of the device");
	/* sector * 512 would overflow 64 bits */
	fx_req(t, VIRTIO_BLK_T_IN, UINT64_MAX / 256, DATA_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request beyond the end of the device");
	fx_req(t, VIRTIO_BLK_T_OUT, UINT64_MAX, DATA_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request beyond the end of the device");
	/* wrong directions */
	fx_req(t, VIRTIO_BLK_T_IN, 0, DATA_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "read request with device-readable data");
	fx_req(t, VIRTIO_BLK_T_OUT, 0, DATA_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "write request with device-writable data");
	fx_req(t, VIRTIO_BLK_T_FLUSH, 0, DATA_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "flush request with data");
	fx_req(t, VIRTIO_BLK_T_GET_ID, 0, 0, 0, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "GET_ID request without a writable buffer");
	{	/* header of 8 bytes only */
		const struct vq_fake_buf b[] = {
			{ fx_hdr(t, VIRTIO_BLK_T_IN, 0), 8, false },
			{ fx_status(t, 0), 1, true },
		};

		fx_chain(t, b, 2);
		fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "request header shorter than 16 bytes");
	}
	/* a zero-length read or write is fine and reaches no backend */
	fx_req(t, VIRTIO_BLK_T_IN, 2048, 0, 0, true, 0);
	assert_int_equal(fx_run(t), 1);
	assert_int_equal(fx_status_of(t, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(t->be.submits[BLK_OP_READ], 12);	/* good reads */
	fx_free(t);
}

/* Chains the vq layer finds malformed, seen through blk. */
static void test_malformed_chains(void **state)
{
	struct fx *t = fx_new();
	uint64_t h;

	/* buffer errors with a findable status byte: IOERR written */
	fx_req(t, VIRTIO_BLK_T_IN, 0, HOLE_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "buffer not mapped writable");
	fx_req(t, VIRTIO_BLK_T_IN, 0, DATA2_IOVA + 0xfe00, 1024, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "buffer not mapped writable");
	fx_req(t, VIRTIO_BLK_T_IN, 0, RO_IOVA, 512, true, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "buffer not mapped writable");
	fx_req(t, VIRTIO_BLK_T_OUT, 0, HOLE_IOVA, 512, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "buffer not mapped");
	fx_req(t, VIRTIO_BLK_T_OUT, 0, 0xfffffffffffffe00ULL, 0x400, false, 0);
	fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "buffer wraps around the end of the address space");
	{
		const struct vq_fake_buf b[] = {
			{ fx_hdr(t, VIRTIO_BLK_T_IN, 0), 16, false },
			{ DATA_IOVA, 0, true },
			{ fx_status(t, 0), 1, true },
		};

		fx_chain(t, b, 3);
		fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "zero-length descriptor");
	}
	{
		const struct vq_fake_buf b[] = {
			{ fx_hdr(t, VIRTIO_BLK_T_OUT, 0), 16, false },
			{ DATA_IOVA, 512, true },
			{ DATA_IOVA + 512, 512, false },
			{ fx_status(t, 0), 1, true },
		};

		fx_chain(t, b, 4);
		fx_expect_reject(t, VIRTIO_BLK_S_IOERR, "device-readable descriptor after a device-writable one");
	}
	assert_int_equal(t->be.submits[BLK_OP_WRITE], 0);

	/* no status byte can be found: used len 0, needs reset, and the
	 * status byte we would have used is untouched */
	h = fx_hdr(t, VIRTIO_BLK_T_IN, 0);
	vq_fake_set_desc(t->f, t->slot, h, 16, VRING_DESC_F_NEXT, NUM + 5);
	vq_fake_avail_add(t->f, t->slot);
	fx_status(t, 0);
	assert_int_equal(fx_run(t), 1);
	fx_used(t, vq_fake_used_idx(t->f) - 1, t->slot, 0);
	t->slot = (t->slot + 1) % NUM;
	assert_string_equal(t->be.last_why, "next index out of range");
	assert_true(nb_vq_needs_reset(t->vq));
	assert_int_equal(fx_status_of(t, 0), 0xee);
	fx_expect_good_read(t);

	{	/* no writable descriptor at all */
		const struct vq_fake_buf b[] = {
			{ fx_hdr(t, VIRTIO_BLK_T_FLUSH, 0), 16, false },
		};
		int head = fx_chain(t, b, 1);

		assert_int_equal(fx_run(t), 1);
		fx_used(t, vq_fake_used_idx(t->f) - 1, head, 0);
		assert_string_equal(t->be.last_why, "no device-writable status byte");
	}
	fx_expect_good_read(t);
	assert_int_equal(t->be.submits[BLK_OP_FLUSH], 0);
	fx_free(t);
}

static void test_config(void **state)
{
	struct blk_params p;
	struct virtio_blk_config cfg;
	uint64_t f;

	fx_params(&p);
	p.size_bytes = 10ULL << 30;
	p.max_discard_bytes = 1ULL << 42;	/* clamps to 2^32 - 1 sectors */
	assert_int_equal(nb_blk_config_build(&p, &cfg, &f), 0);
	assert_true(le64toh(cfg.capacity) == (10ULL << 30) / 512);
	assert_int_equal(le32toh(cfg.blk_size), 4096);
	assert_int_equal(le32toh(cfg.seg_max), NUM - 2);
	assert_int_equal(le32toh(cfg.size_max), 1 << 20);
	assert_int_equal(le16toh(cfg.num_queues), 2);
	assert_int_equal(le32toh(cfg.max_discard_sectors), UINT32_MAX);
	assert_int_equal(le32toh(cfg.max_discard_seg), 4);
	assert_int_equal(le32toh(cfg.discard_sector_alignment), 8);
	assert_int_equal(le32toh(cfg.max_write_zeroes_sectors), 256);
	assert_int_equal(le32toh(cfg.max_write_zeroes_seg), 1);
	assert_int_equal(cfg.write_zeroes_may_unmap, 1);
	assert_true(f & F(VIRTIO_F_VERSION_1));
	assert_true(f & F(VIRTIO_F_ACCESS_PLATFORM));
	assert_true(f & F(VIRTIO_BLK_F_FLUSH));
	assert_true(f & F(VIRTIO_BLK_F_DISCARD));
	assert_true(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(f & F(VIRTIO_BLK_F_MQ));
	assert_true(f & F(VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(f & F(VIRTIO_RING_F_EVENT_IDX));
	assert_false(f & F(VIRTIO_BLK_F_RO));

	p.read_only = true;
	p.queue_size = 1024;
	assert_int_equal(nb_blk_config_build(&p, &cfg, &f), 0);
	assert_true(f & F(VIRTIO_BLK_F_RO));
	assert_false(f & F(VIRTIO_BLK_F_DISCARD));
	assert_false(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(le32toh(cfg.max_discard_sectors), 0);
	assert_int_equal(le32toh(cfg.seg_max), 254);

	p.block_size = 1000;
	assert_int_equal(nb_blk_config_build(&p, &cfg, &f), -EINVAL);
	assert_string_equal(nb_blk_params_check(&p),
		"block size not a power of two between 512 and 65536");
	assert_null(nb_blk_dev_new(&p, &mem_ops, NULL));
	assert_int_equal(errno, EINVAL);
	fx_params(&p);
	p.queue_size = 100;
	assert_string_equal(nb_blk_params_check(&p),
		"queue size not a power of two between 4 and 32768");
	fx_params(&p);
	p.size_bytes = 100;
	assert_string_equal(nb_blk_params_check(&p), "volume smaller than 512 bytes");
	fx_params(&p);
	p.max_discard_seg = 1000;
	assert_string_equal(nb_blk_params_check(&p),
		"more than 256 discard or write-zeroes segments");
	assert_string_equal(nb_blk_op_name(BLK_OP_WRITE_ZEROES), "write-zeroes");
	assert_string_equal(nb_blk_op_name(BLK_OP_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_discard_deferred),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_discard_rejects),
		cmocka_unit_test(test_discard_not_negotiated),
		cmocka_unit_test(test_split_header_and_data),
		cmocka_unit_test(test_span_regions),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_async_batching),
		cmocka_unit_test(test_event_idx_through_blk),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_backend_errors),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_malformed_chains),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
