// SPDX-License-Identifier: MIT
/* modes.c - verify, remap and reset: checked workloads in phases. */
#include "modes.h"
#include "pattern.h"
#include "work.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MODE_DEFAULT_SIZE (16ULL << 20)

/* Session opened and set up, work range chosen. */
struct mode_ctx {
	struct mode_args *a;
	struct sess s;
	struct work w;
	int64_t t0;
};

static int mode_start(struct mode_ctx *c, struct mode_args *a)
{
	uint64_t cap, size;

	memset(c, 0, sizeof(*c));
	c->a = a;
	c->t0 = util_now_ms();
	if (sess_open(&c->s, a->path, &a->so))
		return -1;
	if (sess_setup(&c->s, a->feature_mask, 0, 0))
		goto out_close;
	cap = c->s.capacity * PAT_SECTOR;
	size = a->size;
	if (!a->size_given) {
		size = MODE_DEFAULT_SIZE;
		if (a->offset < cap && size > cap - a->offset)
			size = (cap - a->offset) & ~(uint64_t)(c->s.blk_size - 1);
	}
	if (work_init(&c->w, &c->s, a->seed, a->offset, size))
		goto out_close;
	util_info("device %s: %" PRIu64 " sectors of 512 bytes, block size %u;"
		  " testing %" PRIu64 " bytes at offset %" PRIu64 ", seed %"
		  PRIu64, a->path, c->s.capacity, c->s.blk_size, size,
		  a->offset, a->seed);
	return 0;

out_close:
	sess_close(&c->s);
	return -1;
}

static int mode_end(struct mode_ctx *c, int ret, const char *what)
{
	work_print_stats(&c->w);
	util_info("IOTLB: %" PRIu64 " updates, %" PRIu64 " invalidates, %"
		  PRIu64 " batches", c->s.dev.iotlb_updates,
		  c->s.dev.iotlb_invalidates, c->s.dev.iotlb_batches);
	work_fini(&c->w);
	sess_close(&c->s);
	if (ret) {
		util_info("%s: FAILED after %.1f s", what,
			  (util_now_ms() - c->t0) / 1000.0);
		return VBT_EXIT_FAIL;
	}
	util_info("%s: OK in %.1f s", what, (util_now_ms() - c->t0) / 1000.0);
	return VBT_EXIT_OK;
}

static void mode_phase(struct mode_ctx *c, const char *what)
{
	util_info("[%.1f s] %s", (util_now_ms() - c->t0) / 1000.0, what);
}

static int mode_write_all(struct mode_ctx *c)
{
	struct work_cover cov;

	if (sess_has(&c->s, VIRTIO_BLK_F_RO)) {
		util_info("device is read-only: checking that a write fails");
		return 0;
	}
	mode_phase(c, "writing the pattern over the range");
	work_cover_init(&c->w, &cov, VIRTIO_BLK_T_OUT, c->w.first, c->w.nsect);
	return work_run(&c->w, work_cover_next, &cov);
}

static uint64_t mode_ops(struct mode_ctx *c)
{
	uint64_t n = c->a->ops;

	if (!n) {
		n = c->w.nsect / 64;
		if (n < 256)
			n = 256;
		if (n > 4096)
			n = 4096;
	}
	return n;
}

struct mode_trims {
	unsigned left;
	uint32_t type;
};

static bool mode_trim_next(struct work *w, struct work_op *op, void *arg)
{
	struct mode_trims *t = arg;

	if (!t->left)
		return false;
	t->left--;
	return work_make_trim(w, op, t->type);
}

static bool mode_flush_next(struct work *w, struct work_op *op, void *arg)
{
	unsigned *left = arg;

	if (!*left)
		return false;
	(*left)--;
	memset(op, 0, sizeof(*op));
	op->type = VIRTIO_BLK_T_FLUSH;
	op->expect = WORK_EXPECT_OK;
	return true;
}

static bool mode_ro_write_next(struct work *w, struct work_op *op, void *arg)
{
	unsigned *left = arg;

	if (!*left)
		return false;
	(*left)--;
	memset(op, 0, sizeof(*op));
	op->type = VIRTIO_BLK_T_OUT;
	op->nranges = 1;
	op->r[0] = (struct work_range){ w->first, w->s->blk_size / PAT_SECTOR };
	op->edge = true;	/* the model does not change */
	op->expect = WORK_EXPECT_IOERR;
	return true;
}

int mode_verify(struct mode_args *a)
{
	struct mode_ctx c;
	struct work_mixed mix;
	int ret;

	if (mode_start(&c, a))
		return VBT_EXIT_FAIL;
	ret = mode_write_all(&c);
	if (!ret) {
		mode_phase(&c, "reading the range back");
		ret = work_check_all(&c.w);
	}
	if (!ret && sess_has(&c.s, VIRTIO_BLK_F_RO)) {
		unsigned one = 1;

		ret = work_run(&c.w, mode_ro_write_next, &one);
		if (!ret)
			util_info("read-only device: a write got IOERR");
	}
	if (!ret && sess_has(&c.s, VIRTIO_BLK_F_FLUSH)) {
		unsigned n = 4;

		mode_phase(&c, "flushing");
		ret = work_run(&c.w, mode_flush_next, &n);
	}
	if (!ret && sess_has(&c.s, VIRTIO_BLK_F_WRITE_ZEROES) &&
	    !sess_has(&c.s, VIRTIO_BLK_F_RO)) {
		struct mode_trims t = { 16, VIRTIO_BLK_T_WRITE_ZEROES };

		mode_phase(&c, "write-zeroes over random ranges");
		ret = work_run(&c.w, mode_trim_next, &t);
	}
	if (!ret && sess_has(&c.s, VIRTIO_BLK_F_DISCARD) &&
	    !sess_has(&c.s, VIRTIO_BLK_F_RO)) {
		struct mode_trims t = { 16, VIRTIO_BLK_T_DISCARD };

		mode_phase(&c, "discards over random ranges");
		ret = work_run(&c.w, mode_trim_next, &t);
	}
	if (!ret) {
		mode_phase(&c, "reading the range back (zeroed ranges read zero)");
		ret = work_check_all(&c.w);
	}
	if (!ret) {
		work_mixed_init(&c.w, &mix, mode_ops(&c));
		mode_phase(&c, "random mixed requests, every read checked");
		ret = work_run(&c.w, work_mixed_next, &mix);
	}
	if (!ret) {
		mode_phase(&c, "reading the range back");
		ret = work_check_all(&c.w);
	}
	if (!ret) {
		mode_phase(&c, "error paths");
		ret = work_edge_checks(&c.w);
	}
	return mode_end(&c, ret, "verify");
}

/* fill / check: the generation-1 pattern, for checks across tools. */
int mode_fill(struct mode_args *a)
{
	struct mode_ctx c;
	int ret;

	if (mode_start(&c, a))
		return VBT_EXIT_FAIL;
	c.w.fixed_gen = 1;
	ret = mode_write_all(&c);
	if (!ret && sess_has(&c.s, VIRTIO_BLK_F_FLUSH)) {
		unsigned n = 1;

		ret = work_run(&c.w, mode_flush_next, &n);
	}
	return mode_end(&c, ret, "fill");
}

int mode_check(struct mode_args *a)
{
	struct mode_ctx c;
	int ret;

	if (mode_start(&c, a))
		return VBT_EXIT_FAIL;
	for (uint64_t i = 0; i < c.w.nsect; i++)
		c.w.model[i].gen = 1;
	mode_phase(&c, "reading the range: every sector must hold its fill "
		   "pattern");
	ret = work_check_all(&c.w);
	return mode_end(&c, ret, "check");
}

/* remap: move idle buffers to new IOVAs while other requests run. */
struct mode_remap {
	struct mode_ctx *c;
	uint64_t moves_busy;	/* moves made while requests were in flight */
	uint64_t next_at;	/* --quiesce: completions before the next move */
	unsigned step;
};

static int mode_remap_tick(struct work *w, void *arg)
{
	struct mode_remap *m = arg;
	struct sess *s = w->s;
	unsigned i, moved = 0;

	if (m->c->a->quiesce) {
		/* Every 16 completions: drain, move, go on. */
		if (!w->hold && s->completed < m->next_at)
			return 0;
		w->hold = true;
		if (sess_in_flight(s))
			return 0;
		w->hold = false;
		m->next_at = s->completed + 16;
	}
	for (i = 0; i < s->active_slots && moved < 2; i++) {
		unsigned slot = (m->step + i) % s->active_slots;

		if (s->req[slot].busy)
			continue;
		if (bufs_move(s->bufs, slot, (m->step / 3) & 1))
			return -1;
		moved++;
		if (sess_in_flight(s))
			m->moves_busy++;
	}
	/* Now and then, the rings' mapping too (batched: no gap). */
	if (m->step % 16 == 0 && vhd_has_batch(&s->dev) &&
	    bufs_refresh_ctrl(s->bufs))
		return -1;
	m->step += 1 + moved;
	return 0;
}

int mode_remap(struct mode_args *a)
{
	struct mode_ctx c;
	struct mode_remap m = { .c = &c };
	struct work_mixed mix;
	unsigned r;
	int ret;

	if (mode_start(&c, a))
		return VBT_EXIT_FAIL;
	if (!vhd_has_batch(&c.s.dev))
		util_info("IOTLB batching not in use: every move is one "
			  "UPDATE and one INVALIDATE message");
	c.w.tick = mode_remap_tick;
	c.w.tick_arg = &m;
	ret = mode_write_all(&c);
	for (r = 0; !ret && r < a->rounds; r++) {
		char what[80];

		snprintf(what, sizeof(what), "round %u/%u: mixed requests "
			 "while buffers move", r + 1, a->rounds);
		mode_phase(&c, what);
		work_mixed_init(&c.w, &mix, mode_ops(&c));
		ret = work_run(&c.w, work_mixed_next, &mix);
		if (!ret)
			ret = work_check_all(&c.w);
	}
	util_info("remap: %" PRIu64 " buffer moves (%" PRIu64 " while "
		  "requests were in flight)%s; %" PRIu64 " remaps of the rings "
		  "in place", c.s.bufs->moves, m.moves_busy,
		  a->quiesce ? "; moved only while the queues were idle" : "",
		  c.s.bufs->ctrl_refreshes);
	if (!ret && m.moves_busy == 0 && !a->quiesce) {
		util_fail("no buffer moved while requests were in flight");
		ret = -1;
	}
	return mode_end(&c, ret, "remap");
}

/* reset: reset mid-run, renegotiate, continue. */
struct mode_variant {
	const char *name;
	uint64_t drop;		/* features not offered back */
	unsigned nq;		/* 0 = all */
	unsigned qdiv;		/* queue size divisor */
	bool unmap;		/* invalidate and remap the memory */
};

static const struct mode_variant mode_variants[] = {
	{ "all features", 0, 0, 1, false },
	{ "without EVENT_IDX", 1ULL << VIRTIO_RING_F_EVENT_IDX, 0, 1, true },
	{ "without INDIRECT_DESC", 1ULL << VIRTIO_RING_F_INDIRECT_DESC, 0, 2,
	  false },
	{ "without EVENT_IDX and INDIRECT_DESC, one queue",
	  (1ULL << VIRTIO_RING_F_EVENT_IDX) |
	  (1ULL << VIRTIO_RING_F_INDIRECT_DESC), 1, 1, true },
	{ "without MQ, FLUSH, DISCARD, WRITE_ZEROES",
	  (1ULL << VIRTIO_BLK_F_MQ) | (1ULL << VIRTIO_BLK_F_FLUSH) |
	  (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES),
	  0, 4, false },
};
#define MODE_NVARIANTS (sizeof(mode_variants) / sizeof(mode_variants[0]))

struct mode_reset {
	struct mode_ctx *c;
	unsigned done, want;
	uint64_t completions_at;	/* reset when completed passes this */
	uint64_t ops;
};

static int mode_reset_now(struct mode_reset *m)
{
	struct mode_ctx *c = m->c;
	const struct mode_variant *v =
		&mode_variants[(m->done + 1) % MODE_NVARIANTS];
	unsigned inflight = sess_in_flight(&c->s);
	unsigned q = c->a->so.queue_size / v->qdiv;
	char what[160];

	snprintf(what, sizeof(what), "reset %u/%u with %u requests in flight;"
		 " renegotiating %s%s", m->done + 1, m->want, inflight, v->name,
		 v->unmap ? ", memory remapped" : "");
	mode_phase(c, what);
	if (sess_reset(&c->s, v->unmap, work_lost, &c->w))
		return -1;
	if (sess_setup(&c->s, c->a->feature_mask & ~v->drop, v->nq,
		       q < 4 ? 4 : q))
		return -1;
	m->done++;
	c->w.hold = false;
	m->completions_at = c->s.completed + m->ops / 4 +
			    util_rng_below(&c->w.rng, m->ops / 2 + 1);
	return 0;
}

static int mode_reset_tick(struct work *w, void *arg)
{
	struct mode_reset *m = arg;

	if (m->done >= m->want || w->s->completed < m->completions_at)
		return 0;
	if (m->c->a->inflight) {
		if (!sess_in_flight(w->s))
			return 0;	/* wait until there is something to lose */
		return mode_reset_now(m);
	}
	/* Quiesce first: the device finishes what it has, then resets. */
	w->hold = true;
	if (sess_in_flight(w->s))
		return 0;
	return mode_reset_now(m);
}

int mode_reset(struct mode_args *a)
{
	struct mode_ctx c;
	struct mode_reset m = { .c = &c };
	struct work_mixed mix;
	int ret;

	if (mode_start(&c, a))
		return VBT_EXIT_FAIL;
	m.want = a->rounds;
	m.ops = mode_ops(&c);
	ret = mode_write_all(&c);
	if (!ret)
		ret = work_check_all(&c.w);
	c.w.tick = mode_reset_tick;
	c.w.tick_arg = &m;
	m.completions_at = c.s.completed + m.ops / 2;
	while (!ret && m.done < m.want) {
		char what[80];

		snprintf(what, sizeof(what), "mixed requests (resets done: %u)",
			 m.done);
		mode_phase(&c, what);
		work_mixed_init(&c.w, &mix, m.ops);
		ret = work_run(&c.w, work_mixed_next, &mix);
		if (!ret) {
			mode_phase(&c, "reading the range back");
			ret = work_check_all(&c.w);
		}
	}
	c.w.tick = NULL;
	if (!ret) {
		mode_phase(&c, "rewriting the range after the resets");
		ret = mode_write_all(&c);
	}
	if (!ret)
		ret = work_check_all(&c.w);
	util_info("reset: %u resets (%s), %" PRIu64 " requests lost in them",
		  m.done, a->inflight ? "with requests in flight" :
		  "after quiescing", c.w.lost);
	return mode_end(&c, ret, "reset");
}
