/* SPDX-License-Identifier: MIT */
/*
 * The rados backend (srv_store.h): an adapter of the store table over the
 * librados volumes of server/rados (rados_store.h, docs/rados.md).
 *
 * Each volume is opened once per node with NB_RADOS_OPEN_SHARED: the
 * handle serves every connection of the node, and the writer lock belongs
 * to the clients (owners), not to the node, so a node that stops does not
 * release anybody's lock. Data requests are the library's asynchronous
 * ones; their completion runs on a librados thread and calls
 * nb_store_io_complete(), which the core takes back to the connection's
 * thread. A write-class request carrying NB_STORE_GEN is admitted by the
 * library against the generation (-ESTALE: fenced), and a break's notify
 * is acknowledged by this node only after the writes it admitted under
 * the older generation are done.
 *
 * A lost header watch (-ENOTCONN at submit) fails the request with an I/O
 * error (the client tries again) and starts a refresh of the volume on a
 * thread of its own, which re-arms the watch and re-reads the header;
 * closing the volume waits for it.
 *
 * The control calls (open, create, the lock) block on the cluster, as the
 * store table allows.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "logging.h"
#include "rados_store.h"
#include "srv_store.h"

struct store_rados_store {
	struct nb_store base;
	struct nb_rados_store *rs;
	pthread_mutex_t mu;        /* refreshes; refresh_pending's changes */
	pthread_cond_t cv;
	unsigned refreshing;
	unsigned reconnects_logged;
	bool blocklist_logged;     /* __atomic; until the reconnect */
};

struct store_rados_vol {
	struct nb_store_vol base;
	struct nb_rados_vol *rv;
	bool refresh_pending;      /* __atomic */
};

/* One data request on its way through librados. */
struct store_rados_req {
	struct nb_rados_io rio;
	struct iovec iov;
	struct nb_store_io *io;
	struct store_rados_vol *vol;
};

static struct store_rados_store *store_rados_store_of(struct nb_store *st)
{
	return (struct store_rados_store *)st;
}

static struct store_rados_vol *store_rados_vol_of(struct nb_store_vol *vol)
{
	return (struct store_rados_vol *)vol;
}

static void store_rados_lock_from(struct nb_store_lock *out,
			    const struct nb_rados_lock_holder *h)
{
	snprintf(out->owner, sizeof(out->owner), "%s", h->owner);
	out->gen = h->gen;
	out->since = h->since;
}

static int store_rados_open(struct nb_store *st, const char *name,
		      struct nb_store_vol **out)
{
	struct store_rados_store *rs = store_rados_store_of(st);
	struct store_rados_vol *v = calloc(1, sizeof(*v));
	char err[256];

	if (!v)
		return -ENOMEM;
	v->rv = nb_rados_vol_open(rs->rs, name, NB_RADOS_OPEN_SHARED, err, sizeof(err));
	if (!v->rv) {
		int r = errno ? -errno : -EIO;

		free(v);
		if (r != -ENOENT)
			nb_log_msg(LOG_WARNING, "rados: volume %s: %s", name, err);
		return r;
	}
	v->base.store = st;
	*out = &v->base;
	return 0;
}

static void store_rados_close(struct nb_store_vol *vol)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);
	struct store_rados_store *rs = store_rados_store_of(vol->store);

	/*
	 * A refresh thread of v may still run (a deleted volume is closed
	 * while the node goes on): wait for it. No new one starts: nobody
	 * uses v any more.
	 */
	pthread_mutex_lock(&rs->mu);
	while (__atomic_load_n(&v->refresh_pending, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&rs->cv, &rs->mu);
	pthread_mutex_unlock(&rs->mu);
	nb_rados_vol_close(v->rv);
	free(v);
}

static int store_rados_info(struct nb_store_vol *vol, struct nb_store_vol_info *out)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);

	out->size = nb_rados_vol_size(v->rv);
	out->block_size = nb_rados_vol_block_size(v->rv);
	out->read_only = false;
	return 0;
}

static int store_rados_create(struct nb_store *st, const char *name, uint64_t size,
			uint32_t block_size)
{
	char err[256];
	int r;

	r = nb_rados_vol_create(store_rados_store_of(st)->rs, name, size, block_size, 0,
				err, sizeof(err));
	if (r < 0 && r != -EEXIST)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	return r;
}

static int store_rados_resize(struct nb_store_vol *vol, uint64_t new_size)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);
	char err[256];

	return nb_rados_vol_resize(store_rados_store_of(vol->store)->rs,
				   nb_rados_vol_name(v->rv), new_size, err, sizeof(err));
}

/* Header and data objects; refused (-EBUSY) while the lock is held. */
static int store_rados_remove(struct nb_store *st, const char *name)
{
	char err[256];
	int r;

	r = nb_rados_vol_remove(store_rados_store_of(st)->rs, name, err, sizeof(err));
	if (r < 0 && r != -ENOENT)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	return r;
}

/* The pool's volume directory (an omap index object). */
static int store_rados_list(struct nb_store *st, char ***names, size_t *count)
{
	char err[256];
	int r;

	r = nb_rados_vol_list(store_rados_store_of(st)->rs, names, count, err,
			      sizeof(err));
	if (r < 0)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	return r;
}

/* ---- the header watch lost: refresh off the I/O thread ---- */

/* Log a reconnect (a blocklisted client replaced) once. */
static void store_rados_reconnect_seen(struct store_rados_store *rs)
{
	unsigned n = nb_rados_reconnects(rs->rs);
	bool log;

	pthread_mutex_lock(&rs->mu);
	log = n != rs->reconnects_logged;
	rs->reconnects_logged = n;
	pthread_mutex_unlock(&rs->mu);
	if (!log)
		return;
	__atomic_store_n(&rs->blocklist_logged, false, __ATOMIC_RELEASE);
	nb_log_msg(LOG_WARNING, "rados: reconnected to Ceph with a new client "
		   "(reconnect %u): volumes re-read their lock before writing", n);
}

static void *store_rados_refresh_thread(void *arg)
{
	struct store_rados_vol *v = arg;
	struct store_rados_store *rs = store_rados_store_of(v->base.store);
	char err[256];

	if (nb_rados_lock_refresh(v->rv, err, sizeof(err)) < 0)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	else
		nb_log_msg(LOG_INFO, "rados: volume %s: header watch re-armed",
			   nb_rados_vol_name(v->rv));
	store_rados_reconnect_seen(rs);
	/* Last touch of v: store_rados_close() may free it once we unlock. */
	pthread_mutex_lock(&rs->mu);
	__atomic_store_n(&v->refresh_pending, false, __ATOMIC_RELEASE);
	rs->refreshing--;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	return NULL;
}

static void store_rados_refresh_start(struct store_rados_vol *v)
{
	struct store_rados_store *rs = store_rados_store_of(v->base.store);
	pthread_attr_t attr;
	pthread_t t;

	if (__atomic_exchange_n(&v->refresh_pending, true, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&rs->mu);
	rs->refreshing++;
	pthread_mutex_unlock(&rs->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, store_rados_refresh_thread, v) != 0) {
		pthread_mutex_lock(&rs->mu);
		__atomic_store_n(&v->refresh_pending, false, __ATOMIC_RELEASE);
		rs->refreshing--;
		pthread_cond_broadcast(&rs->cv);
		pthread_mutex_unlock(&rs->mu);
	}
	pthread_attr_destroy(&attr);
}

/* ---- data ---- */

static void store_rados_blocklisted(struct store_rados_vol *v)
{
	struct store_rados_store *rs = store_rados_store_of(v->base.store);

	if (!__atomic_exchange_n(&rs->blocklist_logged, true, __ATOMIC_ACQ_REL))
		nb_log_msg(LOG_ERR, "rados: volume %s: Ceph blocklisted this node's "
			   "client (a lock break did not get its acknowledgement in "
			   "time): its writes in flight were refused; reconnecting "
			   "with a new client", nb_rados_vol_name(v->rv));
	store_rados_refresh_start(v);
}

static void store_rados_req_done(struct nb_rados_io *rio, int ret)
{
	struct store_rados_req *rq = rio->priv;
	struct nb_store_io *io = rq->io;
	struct store_rados_vol *v = rq->vol;

	free(rq);
	if (ret == NB_RADOS_EBLOCKLISTED) {
		store_rados_blocklisted(v);
		io->refused = true;
		snprintf(io->why, sizeof(io->why), "this node's Ceph client was "
			 "blocklisted; it reconnects: try again");
		ret = -EIO;
	}
	nb_store_io_complete(io, ret);
}

static void store_rados_submit(struct nb_store_vol *vol, struct nb_store_io *io)
{
	static const enum nb_rados_op ops[NB_STORE_OP_MAX] = {
		[NB_STORE_READ] = NB_RADOS_READ,
		[NB_STORE_WRITE] = NB_RADOS_WRITE,
		[NB_STORE_FLUSH] = NB_RADOS_FLUSH,
		[NB_STORE_DISCARD] = NB_RADOS_DISCARD,
		[NB_STORE_WRITE_ZEROES] = NB_RADOS_WRITE_ZEROES,
	};
	struct store_rados_vol *v = store_rados_vol_of(vol);
	struct store_rados_req *rq = malloc(sizeof(*rq));
	int r;

	if (!rq) {
		nb_store_io_complete(io, -ENOMEM);
		return;
	}
	memset(&rq->rio, 0, sizeof(rq->rio));
	rq->io = io;
	rq->vol = v;
	rq->iov.iov_base = io->buf;
	rq->iov.iov_len = io->length;
	rq->rio.op = ops[io->op];
	rq->rio.offset = io->op == NB_STORE_FLUSH ? 0 : io->offset;
	rq->rio.len = io->op == NB_STORE_FLUSH ? 0 : io->length;
	rq->rio.iov = &rq->iov;
	rq->rio.iovcnt = 1;
	rq->rio.done = store_rados_req_done;
	rq->rio.priv = rq;
	rq->rio.check_gen = io->flags & NB_STORE_GEN;
	rq->rio.gen = io->gen;
	r = nb_rados_submit(v->rv, &rq->rio);
	if (r == 0)
		return;
	free(rq);
	if (r == -ESTALE) {
		io->refused = true;
	} else if (r == -ENOTCONN) {
		/* Fenced or not: unknown until the watch is back. */
		store_rados_refresh_start(v);
		io->refused = true;
		snprintf(io->why, sizeof(io->why),
			 "volume %s: lost the watch on its header; try again",
			 nb_rados_vol_name(v->rv));
		r = -EIO;
	}
	nb_store_io_complete(io, r);
}

/* ---- the writer lock ---- */

static int store_rados_lock_take(struct nb_store_vol *vol, const char *owner, bool brk,
			   uint64_t expect_gen, struct nb_store_lock *lock)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);
	struct nb_rados_lock_holder h = { .gen = 0 };
	uint64_t gen = 0;
	char err[1024];	/* a failed fence names every silent node */
	int r;

	r = nb_rados_lock_take_gen(v->rv, owner, brk, expect_gen, &gen, &h,
				   err, sizeof(err));
	if (r == NB_RADOS_EBLOCKLISTED &&
	    nb_rados_lock_refresh(v->rv, err, sizeof(err)) == 0) {
		store_rados_reconnect_seen(store_rados_store_of(vol->store));
		r = nb_rados_lock_take_gen(v->rv, owner, brk, expect_gen, &gen, &h,
					   err, sizeof(err));
	}
	if (r == 0 && err[0])
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	if (r < 0 && r != -EBUSY && r != -ESTALE)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	store_rados_lock_from(lock, &h);
	return r;
}

static int store_rados_lock_break(struct nb_store_vol *vol, uint64_t expect_gen,
			    struct nb_store_lock *lock)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);
	struct nb_rados_lock_holder h = { .gen = 0 };
	uint64_t gen = 0;
	char err[1024];	/* a failed fence names every silent node */
	int r;

	r = nb_rados_lock_break_gen(store_rados_store_of(vol->store)->rs,
				    nb_rados_vol_name(v->rv), expect_gen, &gen, &h,
				    err, sizeof(err));
	if (r == 0) {
		if (err[0])
			nb_log_msg(LOG_WARNING, "rados: %s", err);
		memset(lock, 0, sizeof(*lock));
		lock->gen = gen;
		return 0;
	}
	if (r != -ESTALE)
		nb_log_msg(LOG_WARNING, "rados: %s", err);
	store_rados_lock_from(lock, &h);
	return r;
}

static int store_rados_lock_get(struct nb_store_vol *vol, struct nb_store_lock *lock)
{
	struct store_rados_vol *v = store_rados_vol_of(vol);
	struct nb_rados_lock_holder h;
	char err[256];
	int r;

	r = nb_rados_lock_holder(v->rv, &h, err, sizeof(err));
	if (r < 0)
		return r;
	store_rados_lock_from(lock, &h);
	return 0;
}

static bool store_rados_lock_is_current(struct nb_store_vol *vol, uint64_t gen)
{
	return nb_rados_lock_is_current(store_rados_vol_of(vol)->rv, gen);
}

static void store_rados_describe(struct nb_store_vol *vol, char *buf, size_t len)
{
	snprintf(buf, len, "rados pool %s",
		 nb_rados_pool(store_rados_store_of(vol->store)->rs));
}

static void store_rados_destroy(struct nb_store *st)
{
	struct store_rados_store *rs = store_rados_store_of(st);

	pthread_mutex_lock(&rs->mu);
	while (rs->refreshing)
		pthread_cond_wait(&rs->cv, &rs->mu);
	pthread_mutex_unlock(&rs->mu);
	nb_rados_disconnect(rs->rs);
	pthread_mutex_destroy(&rs->mu);
	pthread_cond_destroy(&rs->cv);
	free(rs);
}

static const struct nb_store_ops store_rados_ops = {
	.name = "rados",
	.destroy = store_rados_destroy,
	.open = store_rados_open,
	.close = store_rados_close,
	.info = store_rados_info,
	.create = store_rados_create,
	.resize = store_rados_resize,
	.remove = store_rados_remove,
	.list = store_rados_list,
	.submit = store_rados_submit,
	.lock_take = store_rados_lock_take,
	.lock_break = store_rados_lock_break,
	.lock_get = store_rados_lock_get,
	.lock_is_current = store_rados_lock_is_current,
	.describe = store_rados_describe,
};

struct nb_store *nb_store_rados_new(const struct nb_store_rados_conf *conf,
				    char *err, size_t errlen)
{
	struct nb_rados_conf rc = {
		.conf_path = conf->conf_path,
		.client_id = conf->client_id ? conf->client_id : "admin",
		.keyring = conf->keyring,
		.pool = conf->pool,
		.connect_timeout_s = conf->connect_timeout_s,
		.op_timeout_s = conf->op_timeout_s,
	};
	struct store_rados_store *rs = calloc(1, sizeof(*rs));

	if (!rs) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	rs->rs = nb_rados_connect(&rc, err, errlen);
	if (!rs->rs) {
		int e = errno;

		free(rs);
		errno = e;
		return NULL;
	}
	rs->base.ops = &store_rados_ops;
	rs->base.writes_durable = nb_rados_writes_durable(rs->rs);
	pthread_mutex_init(&rs->mu, NULL);
	pthread_cond_init(&rs->cv, NULL);
	return &rs->base;
}
