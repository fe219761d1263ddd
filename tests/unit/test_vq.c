/* SPDX-License-Identifier: MIT */
/* Unit tests of the split virtqueue layer against the in-process fake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_ring.h>

#include "vq.h"
#include "vq_fake.h"

/* Memory map of every test. */
#define RING_IOVA  0x10000ULL	/* rings, RW */
#define DESC_IOVA  (RING_IOVA)
#define AVAIL_IOVA (RING_IOVA + 0x1000)
#define USED_IOVA  (RING_IOVA + 0x2000)
#define DATA_IOVA  0x100000ULL	/* data, RW, 64 KiB */
#define DATA2_IOVA 0x110000ULL	/* right after DATA, separate memory */
#define RO_IOVA    0x200000ULL	/* device may only read */
#define HOLE_IOVA  0x300000ULL	/* nothing mapped */
#define NUM 16u

#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)

struct fx {
	struct vq_fake *f;
	struct vq *vq;
	struct vq_layout layout;
	uint8_t *data, *data2, *ro;
	uint16_t next_slot;
};

static struct fx *fx_new(uint64_t features, uint16_t start_idx)
{
	struct fx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->f = vq_fake_new();
	assert_non_null(t->f);
	assert_non_null(vq_fake_map(t->f, RING_IOVA, 0x10000, VQ_FAKE_RW));
	t->data = vq_fake_map(t->f, DATA_IOVA, 0x10000, VQ_FAKE_RW);
	t->data2 = vq_fake_map(t->f, DATA2_IOVA, 0x10000, VQ_FAKE_RW);
	t->ro = vq_fake_map(t->f, RO_IOVA, 0x1000, VQ_FAKE_READ);
	assert_non_null(t->data);
	assert_non_null(t->data2);
	assert_non_null(t->ro);
	assert_int_equal(vq_fake_ring_init(t->f, NUM, DESC_IOVA, AVAIL_IOVA,
					   USED_IOVA, features, &t->layout), 0);
	t->layout.last_avail_idx = start_idx;
	vq_fake_set_avail_idx(t->f, start_idx);
	t->vq = nb_vq_new(&vq_fake_ops, t->f, 3);
	assert_non_null(t->vq);
	assert_int_equal(nb_vq_setup(t->vq, &t->layout), 0);
	return t;
}

static void fx_free(struct fx *t)
{
	assert_int_equal(nb_vq_inflight(t->vq), 0);
	nb_vq_free(t->vq);
	vq_fake_free(t->f);
	free(t);
}

/* Add a chain at the next free slots. */
static int fx_chain(struct fx *t, const struct vq_fake_buf *b, unsigned int n)
{
	int head = vq_fake_add_chain(t->f, t->next_slot, b, n);

	assert_true(head >= 0);
	t->next_slot = (t->next_slot + n) % NUM;
	return head;
}

/* The standard good chain: 16 readable bytes, 512 + 1 writable. */
static int fx_good(struct fx *t)
{
	const struct vq_fake_buf b[] = {
		{ DATA_IOVA, 16, false },
		{ DATA_IOVA + 0x1000, 512, true },
		{ DATA_IOVA + 0x2000, 1, true },
	};

	return fx_chain(t, b, 3);
}

/* Pop one element, push it back with @len, free it. */
static struct vq_elem *fx_pop(struct fx *t)
{
	struct vq_elem *e = NULL;

	assert_int_equal(nb_vq_pop(t->vq, sizeof(*e), &e), 0);
	assert_non_null(e);
	return e;
}

static void fx_done(struct fx *t, struct vq_elem *e, uint32_t len)
{
	assert_int_equal(nb_vq_push(t->vq, e->head, len), 0);
	free(e);
}

/* A good chain after a bad one pops fine and completes. */
static void fx_expect_good_after(struct fx *t)
{
	uint16_t used0 = vq_fake_used_idx(t->f);
	int head = fx_good(t);
	struct vq_elem *e = fx_pop(t);
	uint32_t id, len;

	assert_int_equal(e->error, 0);
	assert_int_equal(e->head, head);
	assert_int_equal(e->out_num, 1);
	assert_int_equal(e->in_num, 2);
	assert_ptr_equal(e->last_in_byte, t->data + 0x2000);
	fx_done(t, e, 513);
	assert_int_equal(vq_fake_used_idx(t->f), (uint16_t)(used0 + 1));
	vq_fake_used_elem(t->f, used0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 513);
}

/* Pop a chain that must be malformed with @why; check it completes. */
static void fx_expect_bad(struct fx *t, const char *why, bool status_found)
{
	struct vq_elem *e = fx_pop(t);
	uint16_t used0 = vq_fake_used_idx(t->f);
	uint32_t id, len;
	uint16_t head = e->head;

	assert_true(e->error < 0);
	assert_non_null(e->why);
	if (why)
		assert_string_equal(e->why, why);
	assert_int_equal(e->out_num + e->in_num, 0);
	if (status_found)
		assert_non_null(e->last_in_byte);
	else
		assert_null(e->last_in_byte);
	fx_done(t, e, 0);
	assert_int_equal(vq_fake_used_idx(t->f), (uint16_t)(used0 + 1));
	vq_fake_used_elem(t->f, used0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	fx_expect_good_after(t);
}

static void test_empty(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e = NULL;

	assert_int_equal(nb_vq_pop(t->vq, sizeof(*e), &e), -EAGAIN);
	assert_false(nb_vq_has_avail(t->vq));
	assert_int_equal(nb_vq_pop(t->vq, 4, &e), -EINVAL);
	fx_free(t);
}

static void test_simple_chain(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e;

	memcpy(t->data, "0123456789abcdef", 16);
	fx_good(t);
	assert_true(nb_vq_has_avail(t->vq));
	e = fx_pop(t);
	assert_int_equal(e->error, 0);
	assert_null(e->why);
	assert_int_equal(e->head, 0);
	assert_int_equal(e->out_num, 1);
	assert_int_equal(e->in_num, 2);
	assert_int_equal(e->out_len, 16);
	assert_int_equal(e->in_len, 513);
	assert_ptr_equal(e->iov[0].iov_base, t->data);
	assert_memory_equal(e->iov[0].iov_base, "0123456789abcdef", 16);
	assert_ptr_equal(e->iov[1].iov_base, t->data + 0x1000);
	assert_int_equal(e->iov[1].iov_len, 512);
	assert_int_equal(nb_vq_inflight(t->vq), 1);
	memset(e->iov[1].iov_base, 0xab, 512);
	*e->last_in_byte = 7;
	fx_done(t, e, 513);
	assert_int_equal(t->data[0x1000 + 511], 0xab);
	assert_int_equal(t->data[0x2000], 7);
	assert_int_equal(vq_fake_used_idx(t->f), 1);
	assert_int_equal(nb_vq_get_stats(t->vq)->pushed, 1);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_span_regions(void **state)
{
	struct fx *t = fx_new(0, 0);
	const struct vq_fake_buf b[] = {
		{ DATA2_IOVA - 8, 16, false },		/* 8 + 8 bytes */
		{ DATA2_IOVA - 100, 300, true },	/* 100 + 200 */
	};
	struct vq_elem *e;

	memcpy(t->data + 0x10000 - 8, "ABCDEFGH", 8);
	memcpy(t->data2, "IJKLMNOP", 8);
	fx_chain(t, b, 2);
	e = fx_pop(t);
	assert_int_equal(e->error, 0);
	assert_int_equal(e->out_num, 2);
	assert_int_equal(e->in_num, 2);
	assert_int_equal(e->out_len, 16);
	assert_int_equal(e->in_len, 300);
	{
		char hdr[17] = { 0 };

		assert_int_equal(nb_iov_to_buf(e->iov, e->out_num, 0, hdr, 16), 16);
		assert_string_equal(hdr, "ABCDEFGHIJKLMNOP");
	}
	assert_int_equal(e->iov[2].iov_len, 100);
	assert_int_equal(e->iov[3].iov_len, 200);
	assert_ptr_equal(e->last_in_byte, t->data2 + 199);
	fx_done(t, e, 300);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_longest_chain(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_fake_buf b[NUM];
	struct vq_elem *e;
	unsigned int i;

	for (i = 0; i < NUM; i++) {
		b[i].iova = DATA_IOVA + 0x100 * i;
		b[i].len = 0x100;
		b[i].write = i >= NUM / 2;
	}
	fx_chain(t, b, NUM);
	e = fx_pop(t);
	assert_int_equal(e->error, 0);
	assert_int_equal(e->out_num, NUM / 2);
	assert_int_equal(e->in_num, NUM / 2);
	fx_done(t, e, 0);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_indirect(void **state)
{
	struct fx *t = fx_new(F_INDIRECT, 0);
	const struct vq_fake_buf b[] = {
		{ DATA_IOVA, 16, false },
		{ DATA_IOVA + 0x1000, 4096, true },
		{ DATA_IOVA + 0x3000, 1, true },
	};
	struct vq_elem *e;

	assert_int_equal(vq_fake_add_indirect(t->f, 5, DATA2_IOVA, b, 3), 5);
	t->next_slot = 6;
	e = fx_pop(t);
	assert_int_equal(e->error, 0);
	assert_int_equal(e->head, 5);
	assert_int_equal(e->out_num, 1);
	assert_int_equal(e->in_num, 2);
	assert_int_equal(e->in_len, 4097);
	assert_ptr_equal(e->last_in_byte, t->data + 0x3000);
	fx_done(t, e, 4097);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_index_wrap(void **state)
{
	struct fx *t = fx_new(F_EVENT, 65534);
	unsigned int i;

	for (i = 0; i < 4; i++)
		fx_expect_good_after(t);
	assert_int_equal(nb_vq_last_avail_idx(t->vq), 2);
	assert_int_equal(vq_fake_avail_event(t->f), 2);
	fx_free(t);
}

static void test_bad_head(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e;

	vq_fake_avail_add(t->f, NUM);		/* out of range */
	vq_fake_avail_add(t->f, 0xffff);
	fx_good(t);
	e = fx_pop(t);			/* the bad heads are dropped */
	assert_int_equal(e->error, 0);
	assert_int_equal(e->head, 0);
	fx_done(t, e, 1);
	assert_int_equal(nb_vq_get_stats(t->vq)->bad_heads, 2);
	assert_true(nb_vq_needs_reset(t->vq));
	assert_int_equal(vq_fake_used_idx(t->f), 1);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_bad_next(void **state)
{
	struct fx *t = fx_new(0, 0);

	vq_fake_set_desc(t->f, 0, DATA_IOVA, 16, VRING_DESC_F_NEXT, NUM);
	vq_fake_avail_add(t->f, 0);
	t->next_slot = 1;
	fx_expect_bad(t, "next index out of range", false);
	assert_int_equal(nb_vq_get_stats(t->vq)->malformed, 1);
	fx_free(t);
}

static void test_loop(void **state)
{
	struct fx *t = fx_new(0, 0);

	vq_fake_set_desc(t->f, 0, DATA_IOVA, 16, VRING_DESC_F_NEXT, 1);
	vq_fake_set_desc(t->f, 1, DATA_IOVA, 16, VRING_DESC_F_NEXT, 0);
	vq_fake_avail_add(t->f, 0);
	t->next_slot = 2;
	fx_expect_bad(t, "chain longer than the queue (loop)", false);

	/* self loop */
	vq_fake_set_desc(t->f, 7, DATA_IOVA, 16,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 7);
	vq_fake_avail_add(t->f, 7);
	fx_expect_bad(t, "chain longer than the queue (loop)", false);
	fx_free(t);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *t = fx_new(0, 0);
	const struct vq_fake_buf b[] = {
		{ DATA_IOVA, 16, false }, { DATA_IOVA + 0x100, 1, true },
	};

	vq_fake_add_indirect(t->f, 0, DATA2_IOVA, b, 2);
	t->next_slot = 1;
	fx_expect_bad(t, "indirect descriptor but VIRTIO_RING_F_INDIRECT_DESC not negotiated", false);
	fx_free(t);
}

/* Point slot 0 at an indirect table (written by the caller) of @len bytes. */
static void fx_indirect_raw(struct fx *t, uint64_t table, uint32_t len,
			    uint16_t flags)
{
	vq_fake_set_desc(t->f, 0, table, len, VRING_DESC_F_INDIRECT | flags, 1);
	vq_fake_avail_add(t->f, 0);
	t->next_slot = 2;
}

static void test_indirect_bad_tables(void **state)
{
	struct fx *t = fx_new(F_INDIRECT, 0);
	const struct vq_fake_buf b[] = {
		{ DATA_IOVA, 16, false }, { DATA_IOVA + 0x100, 1, true },
	};
	struct vq_elem *e;

	/* a valid two-entry table at DATA2 */
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 0, b[0].iova, 16,
			       VRING_DESC_F_NEXT, 1);
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 1, b[1].iova, 1,
			       VRING_DESC_F_WRITE, 0);

	fx_indirect_raw(t, DATA2_IOVA, 0, 0);
	fx_expect_bad(t, "indirect table length not a non-zero multiple of 16", false);
	fx_indirect_raw(t, DATA2_IOVA, 24, 0);
	fx_expect_bad(t, "indirect table length not a non-zero multiple of 16", false);
	fx_indirect_raw(t, DATA2_IOVA, 16 * (VQ_MAX_INDIRECT + 1), 0);
	fx_expect_bad(t, "indirect table longer than 1024 descriptors", false);
	fx_indirect_raw(t, DATA2_IOVA, 32, VRING_DESC_F_NEXT);
	fx_expect_bad(t, "indirect descriptor with the NEXT flag", false);
	fx_indirect_raw(t, HOLE_IOVA, 32, 0);
	fx_expect_bad(t, "indirect table not mapped", false);
	/* table running off the end of mapped memory */
	fx_indirect_raw(t, DATA2_IOVA + 0x10000 - 16, 32, 0);
	fx_expect_bad(t, "indirect table not mapped", false);

	/* nested */
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 1, DATA2_IOVA, 32,
			       VRING_DESC_F_INDIRECT, 0);
	fx_indirect_raw(t, DATA2_IOVA, 32, 0);
	fx_expect_bad(t, "nested indirect descriptor", false);

	/* next out of the table, and a loop inside it */
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 1, b[1].iova, 1,
			       VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	fx_indirect_raw(t, DATA2_IOVA, 32, 0);
	fx_expect_bad(t, "indirect next index out of range", false);
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 1, b[1].iova, 1,
			       VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	fx_indirect_raw(t, DATA2_IOVA, 32, 0);
	fx_expect_bad(t, "loop in indirect table", false);

	/* indirect descriptor in the middle of a chain */
	vq_fake_set_table_desc(t->f, DATA2_IOVA, 1, b[1].iova, 1,
			       VRING_DESC_F_WRITE, 0);
	vq_fake_set_desc(t->f, 4, DATA_IOVA, 16, VRING_DESC_F_NEXT, 5);
	vq_fake_set_desc(t->f, 5, DATA2_IOVA, 32, VRING_DESC_F_INDIRECT, 0);
	vq_fake_avail_add(t->f, 4);
	t->next_slot = 6;
	fx_expect_bad(t, "indirect descriptor inside a chain", false);

	/* the table is fine again: it works */
	fx_indirect_raw(t, DATA2_IOVA, 32, 0);
	e = fx_pop(t);
	assert_int_equal(e->error, 0);
	assert_int_equal(e->out_num, 1);
	assert_int_equal(e->in_num, 1);
	fx_done(t, e, 1);
	fx_free(t);
}

static void test_too_many_segments(void **state)
{
	struct fx *t = fx_new(F_INDIRECT, 0);
	uint64_t table = DATA_IOVA;	/* 16 KiB table in DATA */
	unsigned int i;

	/* 1024 entries, each spanning DATA/DATA2: 2048 iovecs */
	for (i = 0; i < VQ_MAX_INDIRECT; i++)
		vq_fake_set_table_desc(t->f, table, i, DATA2_IOVA - 8, 16,
			VRING_DESC_F_WRITE |
			(i + 1 < VQ_MAX_INDIRECT ? VRING_DESC_F_NEXT : 0),
			i + 1);
	fx_indirect_raw(t, table, 16 * VQ_MAX_INDIRECT, 0);
	fx_expect_bad(t, "chain needs too many segments", true);
	fx_free(t);
}

static void test_writable_before_readable(void **state)
{
	struct fx *t = fx_new(0, 0);
	const struct vq_fake_buf b[] = {
		{ DATA_IOVA, 16, false },
		{ DATA_IOVA + 0x100, 16, true },
		{ DATA_IOVA + 0x200, 16, false },
		{ DATA_IOVA + 0x300, 4, true },
	};
	struct vq_elem *e;

	fx_chain(t, b, 4);
	e = fx_pop(t);
	assert_string_equal(e->why,
		"device-readable descriptor after a device-writable one");
	/* the status byte (last byte of the last writable one) is found */
	assert_ptr_equal(e->last_in_byte, t->data + 0x303);
	fx_done(t, e, 0);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_bad_buffers(void **state)
{
	struct fx *t = fx_new(0, 0);
	const struct {
		struct vq_fake_buf b[3];
		const char *why;
		bool status;
	} cases[] = {
		{ { { HOLE_IOVA, 16, false }, { DATA_IOVA, 1, true } },
		  "buffer not mapped", true },
		/* starts in DATA2, runs past its end */
		{ { { DATA2_IOVA + 0xff00, 0x200, false }, { DATA_IOVA, 1, true } },
		  "buffer not mapped", true },
		/* the device must write, the region is read-only */
		{ { { DATA_IOVA, 16, false }, { RO_IOVA, 512, true } },
		  "buffer not mapped writable", false },
		{ { { DATA_IOVA, 0, false }, { DATA_IOVA, 1, true } },
		  "zero-length descriptor", true },
		{ { { 0xfffffffffffff000ULL, 0x2000, false }, { DATA_IOVA, 1, true } },
		  "buffer wraps around the end of the address space", true },
		/* ending exactly at 2^64 does not wrap; it is just unmapped */
		{ { { 0xfffffffffffff000ULL, 0x1000, false }, { DATA_IOVA, 1, true } },
		  "buffer not mapped", true },
		/* status in an unmapped place: nothing can be reported */
		{ { { DATA_IOVA, 16, false }, { HOLE_IOVA, 1, true } },
		  "buffer not mapped writable", false },
		{ { { DATA_IOVA, 16, false }, { DATA_IOVA, 0xffffffffu, true },
		    { DATA_IOVA, 2, true } },
		  NULL, true },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int n = cases[i].b[2].len ? 3 : 2;

		fx_chain(t, cases[i].b, n);
		fx_expect_bad(t, cases[i].why, cases[i].status);
	}
	fx_free(t);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e = NULL;

	vq_fake_set_avail_idx(t->f, NUM + 1);
	assert_int_equal(nb_vq_pop(t->vq, sizeof(*e), &e), -EIO);
	assert_true(nb_vq_needs_reset(t->vq));
	assert_int_equal(nb_vq_last_avail_idx(t->vq), 0);
	assert_int_equal(vq_fake_used_idx(t->f), 0);
	/* the driver fixes its index: work resumes */
	vq_fake_set_avail_idx(t->f, 0);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_notify_no_event_idx(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e[3];
	unsigned int i;

	assert_int_equal(nb_vq_notify_batch(t->vq), 0);	/* nothing pushed */
	assert_int_equal(vq_fake_notifies(t->f), 0);
	for (i = 0; i < 3; i++)
		fx_good(t);
	for (i = 0; i < 3; i++)
		e[i] = fx_pop(t);
	for (i = 0; i < 3; i++)
		fx_done(t, e[i], 1);
	assert_int_equal(nb_vq_notify_batch(t->vq), 0);
	assert_int_equal(vq_fake_notifies(t->f), 1);	/* one for three */
	assert_int_equal(nb_vq_notify_batch(t->vq), 0);
	assert_int_equal(vq_fake_notifies(t->f), 1);

	vq_fake_set_avail_flags(t->f, VRING_AVAIL_F_NO_INTERRUPT);
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	nb_vq_notify_batch(t->vq);
	assert_int_equal(vq_fake_notifies(t->f), 1);
	assert_int_equal(nb_vq_get_stats(t->vq)->notifies_suppressed, 1);

	vq_fake_set_avail_flags(t->f, 0);
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	vq_fake_set_notify_error(t->f, -EBADF);
	assert_int_equal(nb_vq_notify_batch(t->vq), -EBADF);
	vq_fake_set_notify_error(t->f, 0);
	fx_free(t);
}

static void test_notify_event_idx(void **state)
{
	struct fx *t = fx_new(F_EVENT, 0);
	unsigned int i;

	/* first completion always signals */
	vq_fake_set_avail_flags(t->f, VRING_AVAIL_F_NO_INTERRUPT); /* ignored */
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	nb_vq_notify_batch(t->vq);
	assert_int_equal(vq_fake_notifies(t->f), 1);

	/* driver asks for an interrupt once used idx passes 3 (entry 3) */
	vq_fake_set_used_event(t->f, 3);
	for (i = 0; i < 2; i++) {	/* used idx -> 2, 3 */
		fx_good(t);
		fx_done(t, fx_pop(t), 1);
		nb_vq_notify_batch(t->vq);
	}
	assert_int_equal(vq_fake_notifies(t->f), 1);
	assert_int_equal(vq_fake_used_idx(t->f), 3);
	fx_good(t);			/* used idx -> 4: crosses entry 3 */
	fx_done(t, fx_pop(t), 1);
	nb_vq_notify_batch(t->vq);
	assert_int_equal(vq_fake_notifies(t->f), 2);

	/* a batch of four crossing the event signals once */
	vq_fake_set_used_event(t->f, 5);
	for (i = 0; i < 4; i++)
		fx_good(t);
	for (i = 0; i < 4; i++)
		fx_done(t, fx_pop(t), 1);
	nb_vq_notify_batch(t->vq);
	assert_int_equal(vq_fake_notifies(t->f), 3);
	/* a batch that does not reach the event stays quiet */
	vq_fake_set_used_event(t->f, 100);
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	nb_vq_notify_batch(t->vq);
	assert_int_equal(vq_fake_notifies(t->f), 3);
	fx_free(t);
}

static void test_kick_suppression(void **state)
{
	struct fx *t = fx_new(F_EVENT, 0);
	struct fx *u = fx_new(0, 0);

	/* event idx: avail_event follows what we popped, unless disabled */
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	assert_int_equal(vq_fake_avail_event(t->f), 1);
	nb_vq_kick_disable(t->vq);
	fx_good(t);
	fx_done(t, fx_pop(t), 1);
	assert_int_equal(vq_fake_avail_event(t->f), 1);
	fx_good(t);			/* arrives while disabled */
	assert_true(nb_vq_kick_enable(t->vq));
	assert_int_equal(vq_fake_avail_event(t->f), 2);
	fx_done(t, fx_pop(t), 1);
	assert_false(nb_vq_kick_enable(t->vq));
	assert_int_equal(vq_fake_avail_event(t->f), 3);

	/* flags: NO_NOTIFY while disabled */
	nb_vq_kick_disable(u->vq);
	assert_int_equal(vq_fake_used_flags(u->f), VRING_USED_F_NO_NOTIFY);
	assert_false(nb_vq_kick_enable(u->vq));
	assert_int_equal(vq_fake_used_flags(u->f), 0);
	fx_free(t);
	fx_free(u);
}

static void test_setup_checks(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_layout l = t->layout;
	struct vq_elem *e = NULL;

	l.num = 12;
	assert_int_equal(nb_vq_setup(t->vq, &l), -EINVAL);
	assert_false(nb_vq_ready(t->vq));
	assert_int_equal(nb_vq_pop(t->vq, sizeof(*e), &e), -ENXIO);
	l.num = 0;
	assert_int_equal(nb_vq_setup(t->vq, &l), -EINVAL);
	l.num = 65536;
	assert_int_equal(nb_vq_setup(t->vq, &l), -EINVAL);
	l = t->layout;
	l.desc_iova += 8;
	assert_int_equal(nb_vq_setup(t->vq, &l), -EINVAL);
	l = t->layout;
	l.used_iova = HOLE_IOVA;
	assert_int_equal(nb_vq_setup(t->vq, &l), -EFAULT);
	l = t->layout;
	l.used_iova = RO_IOVA;		/* used ring must be writable */
	assert_int_equal(nb_vq_setup(t->vq, &l), -EFAULT);
	l = t->layout;
	l.num = 8192;			/* 128 KiB table: larger than its region */
	assert_int_equal(nb_vq_setup(t->vq, &l), -EFAULT);
	assert_int_equal(nb_vq_push(t->vq, 0, 0), -ENXIO);

	assert_int_equal(nb_vq_setup(t->vq, &t->layout), 0);
	assert_true(nb_vq_ready(t->vq));
	assert_int_equal(nb_vq_size(t->vq), NUM);
	assert_int_equal(nb_vq_index(t->vq), 3);
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_remap(void **state)
{
	struct fx *t = fx_new(0, 0);
	struct vq_elem *e = NULL;
	uint8_t *ring;

	fx_expect_good_after(t);
	/* the ring region goes away: the queue stops, without touching it */
	assert_int_equal(vq_fake_unmap(t->f, RING_IOVA), 0);
	assert_int_equal(nb_vq_remap(t->vq), -EFAULT);
	assert_false(nb_vq_ready(t->vq));
	assert_int_equal(nb_vq_pop(t->vq, sizeof(*e), &e), -ENXIO);
	/* mapped again (new host memory, rings rebuilt by the driver) */
	ring = vq_fake_map(t->f, RING_IOVA, 0x10000, VQ_FAKE_RW);
	assert_non_null(ring);
	assert_int_equal(vq_fake_ring_init(t->f, NUM, DESC_IOVA, AVAIL_IOVA,
					   USED_IOVA, 0, &t->layout), 0);
	assert_int_equal(nb_vq_setup(t->vq, &t->layout), 0);
	t->next_slot = 0;
	fx_expect_good_after(t);
	fx_free(t);
}

static void test_iov_copy(void **state)
{
	char a[3], b[5], out[8] = { 0 };
	struct iovec iov[2] = { { a, 3 }, { b, 5 } };

	assert_int_equal(nb_iov_from_buf(iov, 2, 2, "xyzw", 4), 4);
	assert_int_equal(a[2], 'x');
	assert_memory_equal(b, "yzw", 3);
	assert_int_equal(nb_iov_to_buf(iov, 2, 2, out, 8), 6);
	assert_memory_equal(out, "xyzw", 4);
	assert_int_equal(nb_iov_from_buf(iov, 2, 9, "q", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_simple_chain),
		cmocka_unit_test(test_span_regions),
		cmocka_unit_test(test_longest_chain),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_index_wrap),
		cmocka_unit_test(test_bad_head),
		cmocka_unit_test(test_bad_next),
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_indirect_not_negotiated),
		cmocka_unit_test(test_indirect_bad_tables),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_writable_before_readable),
		cmocka_unit_test(test_bad_buffers),
		cmocka_unit_test(test_avail_idx_jump),
		cmocka_unit_test(test_notify_no_event_idx),
		cmocka_unit_test(test_notify_event_idx),
		cmocka_unit_test(test_kick_suppression),
		cmocka_unit_test(test_setup_checks),
		cmocka_unit_test(test_remap),
		cmocka_unit_test(test_iov_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
