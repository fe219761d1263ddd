/* SPDX-License-Identifier: MIT */
/*
 * The fault filter: a store (srv_store.h) over another store that drops
 * connections, delays, stalls and fails data requests as the control
 * commands say (mock.h). The node core has already checked each request
 * (state, flags, range, read-only, ownership) when it gets here.
 *
 * Held requests (delay, stall) stay with the filter until their timer,
 * or the end of the stall; a connection that closes meanwhile cancels
 * them, and they are dropped without being executed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"

struct mock_fault_store {
	struct nb_store base;
	struct nb_store *lower;
	struct mock_faults *faults;
};

struct mock_fault_vol {
	struct nb_store_vol base;
	struct nb_store_vol *lower;
};

/* A request held back by a delay or a stall. */
struct mock_held {
	struct mock_faults *faults;
	struct nb_store_io *io;
	struct mock_fault_vol *vol;
	ev_timer timer;
	bool stalled;
	struct mock_held *prev, *next;  /* faults->held_head */
	struct mock_held *stall_next;   /* faults->stalled_head */
};

static const char *const mock_fault_rpc_names[NB_STORE_OP_MAX] = {
	[NB_STORE_READ] = "READ",
	[NB_STORE_WRITE] = "WRITE",
	[NB_STORE_FLUSH] = "FLUSH",
	[NB_STORE_DISCARD] = "DISCARD",
	[NB_STORE_WRITE_ZEROES] = "WRITE_ZEROES",
};

void mock_faults_init(struct mock_faults *f, struct ev_loop *loop,
		      const struct mock_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->rng = cfg->has_seed ? cfg->seed :
		 ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	if (f->rng == 0)
		f->rng = 0x9e3779b97f4a7c15ULL;
}

uint64_t mock_faults_random(struct mock_faults *f, uint64_t n)
{
	/* xorshift64* */
	uint64_t x = f->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return n ? (x * 0x2545F4914F6CDD1DULL) % n : 0;
}

static struct mock_fault_store *mock_fault_store_of(struct nb_store *st)
{
	return (struct mock_fault_store *)st;
}

static struct mock_fault_vol *mock_fault_vol_of(struct nb_store_vol *vol)
{
	return (struct mock_fault_vol *)vol;
}

static bool mock_fault_inject_error(struct mock_faults *f, enum nb_store_op op)
{
	double rate = f->error_rate[op];

	if (rate <= 0)
		return false;
	if (rate < 100 && (double)mock_faults_random(f, 1000000) >= rate * 10000)
		return false;
	f->errors_injected++;
	return true;
}

/* Injected error or down to the store below. */
static void mock_fault_execute(struct mock_faults *f, struct mock_fault_vol *vol,
			       struct nb_store_io *io)
{
	if (mock_fault_inject_error(f, io->op)) {
		io->refused = true;
		snprintf(io->why, sizeof(io->why), "injected %s error",
			 mock_fault_rpc_names[io->op]);
		nb_store_io_complete(io, -EIO);
		return;
	}
	nb_store_submit(vol->lower, io);
}

static void mock_held_unlink(struct mock_held *h)
{
	struct mock_faults *f = h->faults;

	if (h->prev)
		h->prev->next = h->next;
	else
		f->held_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	f->held--;
}

static void mock_held_stall(struct mock_held *h)
{
	struct mock_faults *f = h->faults;

	h->stalled = true;
	h->stall_next = NULL;
	if (f->stalled_tail)
		f->stalled_tail->stall_next = h;
	else
		f->stalled_head = h;
	f->stalled_tail = h;
}

static void mock_held_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mock_held *h = t->data;
	struct mock_faults *f = h->faults;

	if (f->stall) {
		mock_held_stall(h);
		return;
	}
	mock_held_unlink(h);
	mock_fault_execute(f, h->vol, h->io);
	free(h);
}

void mock_faults_release_stalled(struct mock_faults *f)
{
	struct mock_held *h;

	while ((h = f->stalled_head)) {
		f->stalled_head = h->stall_next;
		if (!f->stalled_head)
			f->stalled_tail = NULL;
		mock_held_unlink(h);
		mock_fault_execute(f, h->vol, h->io);
		free(h);
	}
}

static void mock_fault_submit(struct nb_store_vol *vol, struct nb_store_io *io)
{
	struct mock_fault_vol *fv = mock_fault_vol_of(vol);
	struct mock_faults *f = mock_fault_store_of(vol->store)->faults;
	struct mock_held *h;
	uint32_t ms;

	if (f->drop_every && ++f->drop_counter % f->drop_every == 0) {
		f->drops++;
		mock_info("client %s: dropping the connection at request %llu (%s) (fault drop-every %llu)",
			  nb_srv_io_peer(io), (unsigned long long)nb_srv_io_id(io),
			  mock_fault_rpc_names[io->op], (unsigned long long)f->drop_every);
		io->refused = true;
		nb_store_io_complete(io, -ECONNABORTED);
		return;
	}
	if (!f->stall && f->delay_max_ms == 0) {
		mock_fault_execute(f, fv, io);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		io->refused = true;
		snprintf(io->why, sizeof(io->why), "out of memory for a held request");
		nb_store_io_complete(io, -ENOMEM);
		return;
	}
	h->faults = f;
	h->io = io;
	h->vol = fv;
	h->next = f->held_head;
	if (f->held_head)
		f->held_head->prev = h;
	f->held_head = h;
	f->held++;
	ev_timer_init(&h->timer, mock_held_timer_cb, 0., 0.);
	h->timer.data = h;
	if (f->stall) {
		mock_held_stall(h);
		return;
	}
	ms = f->delay_min_ms;
	if (f->delay_max_ms > ms)
		ms += (uint32_t)mock_faults_random(f, f->delay_max_ms - ms + 1);
	ev_timer_set(&h->timer, ms / 1000.0, 0.);
	ev_timer_start(nb_srv_io_loop(io), &h->timer);
}

static void mock_fault_cancel(struct nb_store_vol *vol, struct nb_store_io *io)
{
	struct mock_fault_vol *fv = mock_fault_vol_of(vol);
	struct mock_faults *f = mock_fault_store_of(vol->store)->faults;
	struct mock_held *h, **pp;

	for (h = f->held_head; h && h->io != io; h = h->next)
		;
	if (!h) {
		if (fv->lower->store->ops->cancel)
			fv->lower->store->ops->cancel(fv->lower, io);
		return;
	}
	if (h->stalled) {
		for (pp = &f->stalled_head; *pp != h; pp = &(*pp)->stall_next)
			;
		*pp = h->stall_next;
		if (f->stalled_tail == h) {
			f->stalled_tail = NULL;
			for (struct mock_held *s = f->stalled_head; s; s = s->stall_next)
				f->stalled_tail = s;
		}
	} else {
		ev_timer_stop(nb_srv_io_loop(io), &h->timer);
	}
	mock_held_unlink(h);
	free(h);
	io->refused = true;
	nb_store_io_complete(io, -ECANCELED);
}

/* ---- everything else goes straight down ---- */

static int mock_fault_open(struct nb_store *st, const char *name,
			   struct nb_store_vol **out)
{
	struct mock_fault_store *fs = mock_fault_store_of(st);
	struct mock_fault_vol *fv = calloc(1, sizeof(*fv));
	int r;

	if (!fv)
		return -ENOMEM;
	r = fs->lower->ops->open(fs->lower, name, &fv->lower);
	if (r < 0) {
		free(fv);
		return r;
	}
	fv->base.store = st;
	*out = &fv->base;
	return 0;
}

static void mock_fault_close(struct nb_store_vol *vol)
{
	struct mock_fault_vol *fv = mock_fault_vol_of(vol);

	fv->lower->store->ops->close(fv->lower);
	free(fv);
}

static int mock_fault_info(struct nb_store_vol *vol, struct nb_store_vol_info *out)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->info(lower, out);
}

static int mock_fault_create(struct nb_store *st, const char *name, uint64_t size,
			     uint32_t block_size)
{
	struct nb_store *lower = mock_fault_store_of(st)->lower;

	return lower->ops->create(lower, name, size, block_size);
}

static int mock_fault_resize(struct nb_store_vol *vol, uint64_t new_size)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->resize(lower, new_size);
}

/* DELETE and LIST pass through: no fault is injected into them. */
static int mock_fault_remove(struct nb_store *st, const char *name)
{
	struct nb_store *lower = mock_fault_store_of(st)->lower;

	if (!lower->ops->remove)
		return -ENOTSUP;
	return lower->ops->remove(lower, name);
}

static int mock_fault_list(struct nb_store *st, char ***names, size_t *count)
{
	struct nb_store *lower = mock_fault_store_of(st)->lower;

	if (!lower->ops->list)
		return -ENOTSUP;
	return lower->ops->list(lower, names, count);
}

/* The writer lock is the lower store's (shared with the mock's other nodes). */
static int mock_fault_lock_take(struct nb_store_vol *vol, const char *owner, bool brk,
				uint64_t expect_gen, struct nb_store_lock *lock)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->lock_take(lower, owner, brk, expect_gen, lock);
}

static int mock_fault_lock_break(struct nb_store_vol *vol, uint64_t expect_gen,
				 struct nb_store_lock *lock)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->lock_break(lower, expect_gen, lock);
}

static int mock_fault_lock_get(struct nb_store_vol *vol, struct nb_store_lock *lock)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->lock_get(lower, lock);
}

static bool mock_fault_lock_is_current(struct nb_store_vol *vol, uint64_t gen)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	return lower->store->ops->lock_is_current(lower, gen);
}

static void mock_fault_describe(struct nb_store_vol *vol, char *buf, size_t len)
{
	struct nb_store_vol *lower = mock_fault_vol_of(vol)->lower;

	if (lower->store->ops->describe)
		lower->store->ops->describe(lower, buf, len);
	else
		snprintf(buf, len, "%s", lower->store->ops->name);
}

static void mock_fault_stats(struct nb_store *st, char *buf, size_t len)
{
	struct nb_store *lower = mock_fault_store_of(st)->lower;

	if (lower->ops->stats)
		lower->ops->stats(lower, buf, len);
}

static void mock_fault_destroy(struct nb_store *st)
{
	struct mock_fault_store *fs = mock_fault_store_of(st);

	nb_store_destroy(fs->lower);
	free(fs);
}

static const struct nb_store_ops mock_fault_ops = {
	.name = "fault",
	.destroy = mock_fault_destroy,
	.open = mock_fault_open,
	.close = mock_fault_close,
	.info = mock_fault_info,
	.create = mock_fault_create,
	.resize = mock_fault_resize,
	.remove = mock_fault_remove,
	.list = mock_fault_list,
	.submit = mock_fault_submit,
	.cancel = mock_fault_cancel,
	.lock_take = mock_fault_lock_take,
	.lock_break = mock_fault_lock_break,
	.lock_get = mock_fault_lock_get,
	.lock_is_current = mock_fault_lock_is_current,
	.describe = mock_fault_describe,
	.stats = mock_fault_stats,
};

struct nb_store *mock_fault_store_new(struct nb_store *lower, struct mock_faults *f)
{
	struct mock_fault_store *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->base.ops = &mock_fault_ops;
	fs->base.writes_durable = lower->writes_durable;
	fs->lower = lower;
	fs->faults = f;
	return &fs->base;
}
