/* SPDX-License-Identifier: MIT */
/* Unit tests of the virtqueue in-flight log: a successor process finds
 * exactly the chains that were popped and never completed, whatever
 * instruction the previous process died at. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vq.h"
#include "vq_fake.h"

#define NUM   8
#define RING  0x10000
#define DATA  0x20000

struct rig {
	struct vq_fake *f;
	struct vq_layout layout;
	struct vq_log *log;
};

static void rig_init(struct rig *r)
{
	r->f = vq_fake_new();
	assert_non_null(vq_fake_map(r->f, RING, 0x4000, VQ_FAKE_RW));
	assert_non_null(vq_fake_map(r->f, DATA, 0x10000, VQ_FAKE_RW));
	assert_int_equal(vq_fake_ring_init(r->f, NUM, RING, RING + 0x1000,
					   RING + 0x2000, 0, &r->layout), 0);
	r->log = calloc(1, sizeof(*r->log));
}

static void rig_free(struct rig *r)
{
	vq_fake_free(r->f);
	free(r->log);
}

/* A one-buffer chain at descriptor slot @slot. */
static uint16_t add_req(struct rig *r, uint16_t slot)
{
	struct vq_fake_buf b = { DATA + slot * 512, 512, true };
	int head = vq_fake_add_chain(r->f, slot, &b, 1);

	assert_true(head >= 0);
	return head;
}

/* The "successor": a new vq over the same rings, resuming from the log. */
static int successor(struct rig *r, uint16_t *heads, struct vq **out)
{
	struct vq_layout l = r->layout;
	struct vq *vq = nb_vq_new(&vq_fake_ops, r->f, 0);
	int n;

	l.last_avail_idx = r->log->last_avail_idx;
	assert_int_equal(nb_vq_setup(vq, &l), 0);
	n = nb_vq_recover(vq, r->log, heads);
	*out = vq;
	return n;
}

static void test_recover_inflight(void **state)
{
	struct rig r;
	struct vq *vq, *vq2;
	struct vq_elem *e[4];
	uint16_t heads[NUM];
	int i, n;

	rig_init(&r);
	vq = nb_vq_new(&vq_fake_ops, r.f, 0);
	assert_int_equal(nb_vq_setup(vq, &r.layout), 0);
	nb_vq_log_start(vq, r.log);
	for (i = 0; i < 4; i++)
		add_req(&r, i);
	for (i = 0; i < 4; i++)
		assert_int_equal(nb_vq_pop(vq, sizeof(struct vq_elem), &e[i]), 0);
	/* chains 1 and 3 complete; 0 and 2 are in flight when we "die" */
	assert_int_equal(nb_vq_push(vq, e[1]->head, 1), 0);
	assert_int_equal(nb_vq_push(vq, e[3]->head, 1), 0);
	add_req(&r, 4); /* offered, never popped */
	for (i = 0; i < 4; i++)
		free(e[i]);
	nb_vq_free(vq);

	n = successor(&r, heads, &vq2);
	assert_int_equal(n, 2);
	assert_int_equal(heads[0], 0);
	assert_int_equal(heads[1], 2);
	/* both can be re-read and completed; the offered one pops normally */
	for (i = 0; i < n; i++) {
		struct vq_elem *el;

		assert_int_equal(nb_vq_pop_head(vq2, heads[i], sizeof(*el), &el), 0);
		assert_int_equal(el->head, heads[i]);
		assert_int_equal(el->in_num, 1);
		assert_int_equal(nb_vq_push(vq2, el->head, 1), 0);
		free(el);
	}
	assert_int_equal(nb_vq_pop(vq2, sizeof(struct vq_elem), &e[0]), 0);
	assert_int_equal(e[0]->head, 4);
	free(e[0]);
	/* every chain completed exactly once: used idx 2 + 2 */
	assert_int_equal(vq_fake_used_idx(r.f), 4);
	nb_vq_free(vq2);
	rig_free(&r);
}

static void test_died_after_publishing_used(void **state)
{
	/* The push published used->idx but died before clearing the mark:
	 * the successor must not run that chain again. */
	struct rig r;
	struct vq *vq, *vq2;
	struct vq_elem *e;
	uint16_t heads[NUM];

	rig_init(&r);
	vq = nb_vq_new(&vq_fake_ops, r.f, 0);
	assert_int_equal(nb_vq_setup(vq, &r.layout), 0);
	nb_vq_log_start(vq, r.log);
	add_req(&r, 0);
	assert_int_equal(nb_vq_pop(vq, sizeof(*e), &e), 0);
	nb_vq_log_stop(vq);		/* the log stops "seeing" stores here */
	assert_int_equal(nb_vq_push(vq, e->head, 1), 0);
	free(e);
	nb_vq_free(vq);
	assert_int_equal(r.log->inflight[0], 1);

	assert_int_equal(successor(&r, heads, &vq2), 0);
	assert_int_equal(r.log->used_idx, 1);
	nb_vq_free(vq2);
	rig_free(&r);
}

static void test_died_before_recording_avail(void **state)
{
	/* The pop marked the head but died before recording last_avail_idx:
	 * the chain is still offered, so it is popped again, not replayed. */
	struct rig r;
	struct vq *vq2;
	struct vq_elem *e;
	uint16_t heads[NUM];
	uint16_t h;

	rig_init(&r);
	r.log->num = NUM;
	h = add_req(&r, 0);
	r.log->inflight[h] = 1;	/* as if the writer died right there */

	assert_int_equal(successor(&r, heads, &vq2), 0);
	assert_int_equal(nb_vq_pop(vq2, sizeof(*e), &e), 0);
	assert_int_equal(e->head, h);
	free(e);
	nb_vq_free(vq2);
	rig_free(&r);
}

static void test_log_mismatch(void **state)
{
	struct rig r;
	struct vq *vq;
	uint16_t heads[NUM];

	rig_init(&r);
	r.log->num = NUM * 2;	/* a log of another queue size */
	vq = nb_vq_new(&vq_fake_ops, r.f, 0);
	assert_int_equal(nb_vq_setup(vq, &r.layout), 0);
	assert_int_equal(nb_vq_recover(vq, r.log, heads), -EINVAL);
	/* pop_head refuses heads out of range */
	assert_int_equal(nb_vq_pop_head(vq, NUM, sizeof(struct vq_elem),
				     &(struct vq_elem *){ NULL }), -EINVAL);
	nb_vq_free(vq);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recover_inflight),
		cmocka_unit_test(test_died_after_publishing_used),
		cmocka_unit_test(test_died_before_recording_avail),
		cmocka_unit_test(test_log_mismatch),
	};

	return cmocka_run_group_tests_name("vq_log", tests, NULL, NULL);
}
