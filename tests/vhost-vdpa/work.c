// SPDX-License-Identifier: MIT
/* work.c - checked workloads over a session. */
#include "work.h"
#include "pattern.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t work_lbs(const struct work *w)
{
	return w->s->blk_size / PAT_SECTOR;
}

int work_init(struct work *w, struct sess *s, uint64_t seed,
	      uint64_t offset, uint64_t size)
{
	uint64_t cap = s->capacity * PAT_SECTOR;

	memset(w, 0, sizeof(*w));
	w->s = s;
	w->seed = seed;
	util_rng_seed(&w->rng, seed ^ 0x3011);
	if (offset % s->blk_size || size % s->blk_size || !size) {
		util_err("--offset %" PRIu64 " and --size %" PRIu64 " must be "
			 "multiples of the block size %u (size not 0)", offset,
			 size, s->blk_size);
		return -EINVAL;
	}
	if (offset > cap || size > cap - offset) {
		util_err("range %" PRIu64 "+%" PRIu64 " bytes is beyond the "
			 "capacity of %" PRIu64 " bytes", offset, size, cap);
		return -EINVAL;
	}
	w->first = offset / PAT_SECTOR;
	w->nsect = size / PAT_SECTOR;
	w->model = calloc(w->nsect, sizeof(*w->model));
	w->busy = calloc(w->nsect, 1);
	w->inflight = calloc(s->nslots, sizeof(*w->inflight));
	if (!w->model || !w->busy || !w->inflight) {
		work_fini(w);
		util_err("out of memory for a model of %" PRIu64 " sectors",
			 w->nsect);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < w->nsect; i++)
		w->model[i] = (struct work_sector){ WORK_UNKNOWN, WORK_NONE };
	w->next_gen = 1;
	return 0;
}

void work_fini(struct work *w)
{
	free(w->model);
	free(w->busy);
	free(w->inflight);
	w->model = NULL;
	w->busy = NULL;
	w->inflight = NULL;
}

static bool work_conflicts(const struct work *w, const struct work_op *op)
{
	unsigned i;

	if (op->edge || op->nranges == 0)
		return false;
	for (i = 0; i < op->nranges; i++)
		for (uint32_t k = 0; k < op->r[i].nsect; k++)
			if (w->busy[op->r[i].sector - w->first + k])
				return true;
	return false;
}

static void work_mark(struct work *w, const struct work_op *op, uint8_t v)
{
	unsigned i;

	if (op->edge)
		return;
	for (i = 0; i < op->nranges; i++)
		memset(w->busy + (op->r[i].sector - w->first), v,
		       op->r[i].nsect);
}

static const char *work_gen_desc(uint32_t gen, char *buf, size_t len)
{
	if (gen == WORK_ZERO)
		snprintf(buf, len, "zeroes");
	else if (gen == WORK_UNKNOWN)
		snprintf(buf, len, "anything");
	else
		snprintf(buf, len, "generation %u", gen);
	return buf;
}

static bool work_sector_ok(const struct work *w, const uint8_t *p,
			   uint64_t sec, uint32_t gen, int *diff)
{
	if (gen == WORK_UNKNOWN)
		return true;
	*diff = pat_compare(p, w->seed, sec, gen == WORK_ZERO ? 0 : gen);
	return *diff < 0;
}

static void work_check_read(struct work *w, struct sess_req *r,
			    const struct work_op *op)
{
	const uint8_t *buf = sess_req_data(w->s, r);
	uint32_t n = r->len / PAT_SECTOR, i;
	int reported = 0;

	for (i = 0; i < n; i++) {
		uint64_t sec = r->sector + i;
		struct work_sector *m = &w->model[sec - w->first];
		const uint8_t *p = buf + (size_t)i * PAT_SECTOR;
		int diff = -1, diff_alt = -1;
		char got[160], want[40], alt[40];
		uint8_t expect[PAT_SECTOR];

		w->sectors_checked++;
		if (work_sector_ok(w, p, sec, m->gen, &diff)) {
			if (m->alt == WORK_ZERO)
				w->discard_kept++;
			continue;
		}
		if (m->alt != WORK_NONE &&
		    work_sector_ok(w, p, sec, m->alt, &diff_alt)) {
			if (m->alt == WORK_ZERO)
				w->discard_zeroed++;
			continue;
		}
		w->failures++;
		if (reported++ >= WORK_MAX_REPORTS)
			continue;
		pat_fill(expect, w->seed, sec, 1, m->gen == WORK_ZERO ? 0 : m->gen);
		util_fail("read of %u bytes at sector %" PRIu64 " (queue %u, %u "
			  "descriptors%s): sector %" PRIu64 " byte %d is 0x%02x, "
			  "want 0x%02x; the sector holds %s; expected %s%s%s",
			  r->len, r->sector, r->queue, r->nsegs,
			  r->indirect ? ", indirect" : "", sec, diff, p[diff],
			  expect[diff], pat_describe(p, w->seed, got, sizeof(got)),
			  work_gen_desc(m->gen, want, sizeof(want)),
			  m->alt != WORK_NONE ? " or " : "",
			  m->alt != WORK_NONE ?
			  work_gen_desc(m->alt, alt, sizeof(alt)) : "");
	}
	(void)op;
}

static bool work_status_ok(enum work_expect e, uint8_t st)
{
	switch (e) {
	case WORK_EXPECT_OK: return st == VIRTIO_BLK_S_OK;
	case WORK_EXPECT_IOERR: return st == VIRTIO_BLK_S_IOERR;
	case WORK_EXPECT_UNSUPP: return st == VIRTIO_BLK_S_UNSUPP;
	case WORK_EXPECT_OK_OR_UNSUPP:
		return st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_UNSUPP;
	}
	return false;
}

static const char *work_expect_name(enum work_expect e)
{
	switch (e) {
	case WORK_EXPECT_OK: return "OK";
	case WORK_EXPECT_IOERR: return "IOERR";
	case WORK_EXPECT_UNSUPP: return "UNSUPP";
	case WORK_EXPECT_OK_OR_UNSUPP: return "OK or UNSUPP";
	}
	return "?";
}

static void work_apply(struct work *w, const struct work_op *op, bool lost)
{
	unsigned i;

	for (i = 0; i < op->nranges; i++) {
		for (uint32_t k = 0; k < op->r[i].nsect; k++) {
			struct work_sector *m =
				&w->model[op->r[i].sector - w->first + k];
			uint32_t now;

			switch (op->type) {
			case VIRTIO_BLK_T_OUT: now = op->gen; break;
			case VIRTIO_BLK_T_WRITE_ZEROES: now = WORK_ZERO; break;
			case VIRTIO_BLK_T_DISCARD: now = WORK_ZERO; break;
			default: return;
			}
			if (!lost && op->type != VIRTIO_BLK_T_DISCARD) {
				m->gen = now;
				m->alt = WORK_NONE;
			} else if (m->gen == now || m->alt == now) {
				/* nothing new is possible */
			} else if (m->alt == WORK_NONE) {
				m->alt = now;	/* old content, or this */
			} else {
				m->gen = WORK_UNKNOWN;	/* too many outcomes */
				m->alt = WORK_NONE;
			}
		}
	}
}

static void work_done(struct sess *s, struct sess_req *r, void *arg)
{
	struct work *w = arg;
	struct work_op *op = &w->inflight[r->slot];

	if (!work_status_ok(op->expect, r->status)) {
		w->failures++;
		util_fail("%s at sector %" PRIu64 " (%u bytes, %u ranges, queue "
			  "%u): status %s, want %s", sess_type_name(op->type),
			  r->sector, r->len, op->nranges, r->queue,
			  sess_status_name(r->status),
			  work_expect_name(op->expect));
	} else if (r->status == VIRTIO_BLK_S_OK && !op->edge) {
		if (op->type == VIRTIO_BLK_T_IN)
			work_check_read(w, r, op);
		else
			work_apply(w, op, false);
	}
	if (op->type < 16)
		w->ops[op->type]++;
	work_mark(w, op, 0);
}

void work_lost(struct sess *s, struct sess_req *r, void *arg)
{
	struct work *w = arg;
	struct work_op *op = &w->inflight[r->slot];

	w->lost++;
	if (!op->edge)
		work_apply(w, op, true);
	work_mark(w, op, 0);
}

static void work_prepare(struct work *w, struct sess_req *r,
			 const struct work_op *op)
{
	unsigned i;

	r->type = op->type;
	r->sector = op->nranges ? op->r[0].sector : 0;
	r->len = 0;
	switch (op->type) {
	case VIRTIO_BLK_T_IN:
		r->len = op->r[0].nsect * PAT_SECTOR;
		memset(sess_req_data(w->s, r), BUFS_POISON, r->len);
		break;
	case VIRTIO_BLK_T_OUT:
		r->len = op->r[0].nsect * PAT_SECTOR;
		pat_fill(sess_req_data(w->s, r), w->seed, r->sector,
			 op->r[0].nsect, op->gen);
		break;
	case VIRTIO_BLK_T_GET_ID:
		r->len = VIRTIO_BLK_ID_BYTES;
		memset(sess_req_data(w->s, r), 0, r->len);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes *d =
			sess_req_ranges(w->s, r);

		for (i = 0; i < op->nranges; i++) {
			d[i].sector = htole64(op->r[i].sector);
			d[i].num_sectors = htole32(op->r[i].nsect);
			d[i].flags = htole32(op->unmap ?
					     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
		}
		r->nranges = op->nranges;
		break;
	}
	default:
		break;
	}
}

int work_run(struct work *w, work_gen_fn *gen, void *arg)
{
	struct work_op op;
	bool have = false, more = true;
	unsigned setup = 0;	/* the negotiation @op was made for */
	int ret;

	for (;;) {
		/*
		 * A reset in a tick renegotiates: an op made before it may
		 * use a feature or a queue that is gone. Make another.
		 */
		if (have && setup != w->s->setups)
			have = false;
		if (!have && more && !w->hold) {
			have = gen(w, &op, arg);
			more = have;
			setup = w->s->setups;
			if (have && op.type == VIRTIO_BLK_T_OUT)
				op.gen = w->fixed_gen ? w->fixed_gen :
					 w->next_gen++;
		}
		if (!have && !more && !sess_in_flight(w->s) && !w->hold)
			return w->failures ? -1 : 0;
		if (have && !w->hold && !work_conflicts(w, &op) &&
		    !(op.edge && sess_in_flight(w->s))) {
			struct sess_req *r = sess_req_get(w->s);

			if (r) {
				w->inflight[r->slot] = op;
				work_prepare(w, r, &op);
				ret = sess_submit(w->s, r);
				if (ret == 0) {
					work_mark(w, &op, 1);
					have = false;
					continue;
				}
				sess_req_put(w->s, r);
				if (ret != -EAGAIN)
					return -1;
			}
		}
		ret = sess_poll(w->s, work_done, w);
		if (ret < 0)
			return -1;
		if (w->failures)
			return -1;
		if (w->tick) {
			ret = w->tick(w, w->tick_arg);
			if (ret)
				return -1;
		}
	}
}

/* A length in sectors: a multiple of the block size up to max_io. */
static uint32_t work_rand_len(struct work *w, uint64_t room)
{
	uint32_t lbs = work_lbs(w);
	uint64_t maxu = sess_max_io(w->s) / w->s->blk_size, u;

	if (maxu > room / lbs)
		maxu = room / lbs;
	if (maxu == 0)
		maxu = 1;
	if (util_rng_below(&w->rng, 2))
		u = 1 + util_rng_below(&w->rng, maxu < 8 ? maxu : 8);
	else
		u = 1 + util_rng_below(&w->rng, maxu);
	return (uint32_t)(u * lbs);
}

void work_cover_init(struct work *w, struct work_cover *c, uint32_t type,
		     uint64_t first, uint64_t nsect)
{
	c->type = type;
	c->cur = first;
	c->end = first + nsect;
}

bool work_cover_next(struct work *w, struct work_op *op, void *arg)
{
	struct work_cover *c = arg;
	uint32_t n;

	if (c->cur >= c->end)
		return false;
	n = work_rand_len(w, c->end - c->cur);
	memset(op, 0, sizeof(*op));
	op->type = c->type;
	op->nranges = 1;
	op->r[0] = (struct work_range){ c->cur, n };
	op->expect = WORK_EXPECT_OK;
	c->cur += n;
	return true;
}

static uint32_t work_cfg(const struct work *w, uint32_t le_val, uint32_t dflt)
{
	uint32_t v = le32toh(le_val);

	return v ? v : dflt;
}

bool work_make_trim(struct work *w, struct work_op *op, uint32_t type)
{
	struct sess *s = w->s;
	uint32_t lbs = work_lbs(w), max_sect, max_seg, align = lbs, n, i;
	uint64_t pos, end = w->first + w->nsect;

	if (type == VIRTIO_BLK_T_DISCARD) {
		if (!sess_has(s, VIRTIO_BLK_F_DISCARD))
			return false;
		max_sect = work_cfg(w, s->cfg.max_discard_sectors, 1u << 20);
		max_seg = work_cfg(w, s->cfg.max_discard_seg, 1);
		n = work_cfg(w, s->cfg.discard_sector_alignment, 1);
		if (n > align && n % lbs == 0)
			align = n;
	} else {
		if (!sess_has(s, VIRTIO_BLK_F_WRITE_ZEROES))
			return false;
		max_sect = work_cfg(w, s->cfg.max_write_zeroes_sectors, 1u << 20);
		max_seg = work_cfg(w, s->cfg.max_write_zeroes_seg, 1);
	}
	if (max_seg > SESS_MAX_RANGES)
		max_seg = SESS_MAX_RANGES;
	max_sect -= max_sect % align;
	if (max_sect == 0 || w->nsect < align)
		return false;
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->expect = WORK_EXPECT_OK;
	op->unmap = type == VIRTIO_BLK_T_WRITE_ZEROES &&
		    s->cfg.write_zeroes_may_unmap && util_rng_below(&w->rng, 2);
	n = 1 + (uint32_t)util_rng_below(&w->rng, max_seg);
	pos = w->first + util_rng_below(&w->rng, w->nsect / align) * align;
	pos += (align - pos % align) % align;
	for (i = 0; i < n && pos + align <= end; i++) {
		uint64_t room = (end - pos) / align, units;
		uint64_t cap = max_sect / align;

		if (cap > 64)	/* keep ranges near request size */
			cap = 64;
		units = 1 + util_rng_below(&w->rng, room < cap ? room : cap);
		op->r[i] = (struct work_range){ pos, (uint32_t)(units * align) };
		pos += units * align;
		/* A gap before the next range. */
		pos += align * util_rng_below(&w->rng, 8);
	}
	op->nranges = i;
	return i > 0;
}

void work_mixed_init(struct work *w, struct work_mixed *m, uint64_t ops)
{
	struct sess *s = w->s;

	m->left = ops;
	m->pct_flush = sess_has(s, VIRTIO_BLK_F_FLUSH) ? 4 : 0;
	m->pct_discard = sess_has(s, VIRTIO_BLK_F_DISCARD) ? 6 : 0;
	m->pct_zeroes = sess_has(s, VIRTIO_BLK_F_WRITE_ZEROES) ? 6 : 0;
	m->pct_write = sess_has(s, VIRTIO_BLK_F_RO) ? 0 : 40;
	if (sess_has(s, VIRTIO_BLK_F_RO))
		m->pct_discard = m->pct_zeroes = 0;
}

bool work_mixed_next(struct work *w, struct work_op *op, void *arg)
{
	struct work_mixed *m = arg;
	unsigned p;
	uint64_t pos;
	uint32_t n, lbs = work_lbs(w);

	if (m->left == 0)
		return false;
	m->left--;
	p = (unsigned)util_rng_below(&w->rng, 100);
	if (p < m->pct_flush) {
		memset(op, 0, sizeof(*op));
		op->type = VIRTIO_BLK_T_FLUSH;
		op->expect = WORK_EXPECT_OK;
		return true;
	}
	p -= m->pct_flush;
	if (p < m->pct_discard &&
	    work_make_trim(w, op, VIRTIO_BLK_T_DISCARD))
		return true;
	p -= p < m->pct_discard ? p : m->pct_discard;
	if (p < m->pct_zeroes &&
	    work_make_trim(w, op, VIRTIO_BLK_T_WRITE_ZEROES))
		return true;
	memset(op, 0, sizeof(*op));
	op->type = util_rng_below(&w->rng, 100) < m->pct_write * 100 / 80 ?
		   VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	pos = w->first + util_rng_below(&w->rng, w->nsect / lbs) * lbs;
	n = work_rand_len(w, w->first + w->nsect - pos);
	op->nranges = 1;
	op->r[0] = (struct work_range){ pos, n };
	op->expect = WORK_EXPECT_OK;
	return true;
}

int work_check_all(struct work *w)
{
	struct work_cover c;

	work_cover_init(w, &c, VIRTIO_BLK_T_IN, w->first, w->nsect);
	return work_run(w, work_cover_next, &c);
}

struct work_list {
	struct work_op *ops;
	unsigned n, next;
};

static bool work_list_next(struct work *w, struct work_op *op, void *arg)
{
	struct work_list *l = arg;

	if (l->next >= l->n)
		return false;
	*op = l->ops[l->next++];
	return true;
}

int work_edge_checks(struct work *w)
{
	struct sess *s = w->s;
	uint32_t lbs = work_lbs(w);
	struct work_op ops[6];
	struct work_list l = { .ops = ops };
	uint64_t cap = s->capacity;

	memset(ops, 0, sizeof(ops));
	/* A read of the block just past the end. */
	ops[l.n].type = VIRTIO_BLK_T_IN;
	ops[l.n].nranges = 1;
	ops[l.n].r[0] = (struct work_range){ cap, lbs };
	ops[l.n].edge = true;
	ops[l.n++].expect = WORK_EXPECT_IOERR;
	/* A read straddling the end. */
	if (cap >= lbs) {
		ops[l.n] = ops[0];
		ops[l.n].r[0] = (struct work_range){ cap - lbs, 2 * lbs };
		l.n++;
	}
	/* A write far beyond the end (must not wrap around). */
	ops[l.n].type = VIRTIO_BLK_T_OUT;
	ops[l.n].nranges = 1;
	ops[l.n].r[0] = (struct work_range){ UINT64_MAX - lbs + 1, lbs };
	ops[l.n].edge = true;
	ops[l.n].gen = 1;
	ops[l.n++].expect = WORK_EXPECT_IOERR;
	/* A request type the device cannot know. */
	ops[l.n].type = 0x7e;
	ops[l.n].edge = true;
	ops[l.n++].expect = WORK_EXPECT_UNSUPP;
	/* GET_ID: optional. */
	ops[l.n].type = VIRTIO_BLK_T_GET_ID;
	ops[l.n].edge = true;
	ops[l.n++].expect = WORK_EXPECT_OK_OR_UNSUPP;
	if (work_run(w, work_list_next, &l))
		return -1;
	util_info("edge checks: reads and writes past the end got IOERR, an "
		  "unknown request type got UNSUPP, get-id answered");
	return 0;
}

void work_print_stats(const struct work *w)
{
	const struct sess *s = w->s;

	util_info("requests: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
		  " flushes, %" PRIu64 " discards, %" PRIu64 " write-zeroes, "
		  "%" PRIu64 " lost in resets; %" PRIu64 " indirect",
		  w->ops[VIRTIO_BLK_T_IN], w->ops[VIRTIO_BLK_T_OUT],
		  w->ops[VIRTIO_BLK_T_FLUSH], w->ops[VIRTIO_BLK_T_DISCARD],
		  w->ops[VIRTIO_BLK_T_WRITE_ZEROES], w->lost,
		  s->indirect_reqs);
	util_info("bytes: %" PRIu64 " read, %" PRIu64 " written; %" PRIu64
		  " sectors checked (after discard: %" PRIu64 " read zero, %"
		  PRIu64 " kept data)", s->bytes_read, s->bytes_written,
		  w->sectors_checked, w->discard_zeroed, w->discard_kept);
	util_info("notifications: %" PRIu64 " interrupts, %" PRIu64
		  " completions seen only by polling the used ring",
		  s->irqs, s->missed_irqs);
}
