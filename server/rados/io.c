/* SPDX-License-Identifier: MIT */
/* The data path: one librados aio op per extent a request touches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"
#include "rados_int.h"

#define IO_GUARD_TRIES 8		/* guarded write <-> exclusive create */

enum io_stage {
	IO_STAGE_PLAIN,		/* unguarded op, or a read */
	IO_STAGE_GUARDED,	/* cmpxattr(gen) + setxattr(gen) + data op */
	IO_STAGE_CREATE,	/* exclusive create + setxattr(gen) + write */
	IO_STAGE_MAX
};

struct io_req;

/* One extent's part of a request. */
struct io_piece {
	struct io_req *req;
	uint64_t objno;
	uint64_t obj_off;	/* offset inside the object */
	uint64_t len;
	uint64_t req_off;	/* offset inside the request's data */
	bool to_obj_end;	/* reaches the object's (or volume's) end */
	char *buf;		/* data for this piece: in the iovec, or bounce */
	bool bounce;		/* buf is ours (read: copy out at the end) */
	enum io_stage stage;
	int tries;
	rados_completion_t comp;
	rados_ioctx_t ioctx;	/* the instance of the op */
	rados_write_op_t wop;
	rados_read_op_t rop;
	size_t bytes_read;
	int prval;
};

struct io_req {
	struct nb_rados_vol *vol;
	struct nb_rados_io *io;
	uint64_t gen;		/* guard generation; 0: unguarded */
	bool fenced;		/* admitted against io->gen (fence_epoch) */
	uint64_t fence_epoch;
	atomic_uint pending;	/* pieces not finished */
	atomic_int err;		/* first error */
	unsigned npieces;
	struct io_piece piece[];
};

static int io_piece_launch(struct io_piece *p);

static void io_inflight_add(struct nb_rados_vol *vol, int delta)
{
	pthread_mutex_lock(&vol->inflight_mu);
	vol->inflight += (unsigned)delta;
	if (!vol->inflight)
		pthread_cond_broadcast(&vol->inflight_cv);
	pthread_mutex_unlock(&vol->inflight_mu);
}

void nb_rados_io_drain(struct nb_rados_vol *vol)
{
	pthread_mutex_lock(&vol->inflight_mu);
	while (vol->inflight)
		pthread_cond_wait(&vol->inflight_cv, &vol->inflight_mu);
	pthread_mutex_unlock(&vol->inflight_mu);
}

static void io_req_free(struct io_req *req)
{
	unsigned i;

	for (i = 0; i < req->npieces; i++)
		if (req->piece[i].bounce)
			free(req->piece[i].buf);
	free(req);
}

static void io_set_err(struct io_req *req, int ret)
{
	int zero = 0;

	if (ret < 0)
		atomic_compare_exchange_strong(&req->err, &zero, ret);
}

/* One piece is finished: the last one completes the request. */
static void io_piece_done(struct io_piece *p, int ret)
{
	struct io_req *req = p->req;
	struct nb_rados_vol *vol = req->vol;
	struct nb_rados_io *io = req->io;
	int err;

	io_set_err(req, ret);
	if (atomic_fetch_sub(&req->pending, 1) != 1)
		return;
	err = atomic_load(&req->err);
	if (!err && io->op == NB_RADOS_READ) {
		unsigned i;

		for (i = 0; i < req->npieces; i++) {
			struct io_piece *q = &req->piece[i];

			if (q->bounce)
				nb_iov_from_buf(io->iov, io->iovcnt, q->req_off, q->buf, q->len);
		}
	}
	if (err == NB_RADOS_EBLOCKLISTED)
		atomic_store(&vol->watch_ok, false);	/* refresh: reconnects */
	if (req->fenced)
		nb_rados_fence_done(vol, req->fence_epoch);
	io_req_free(req);
	io->state = NULL;
	io->done(io, err);
	io_inflight_add(vol, -1);
}

static void io_piece_release(struct io_piece *p)
{
	if (p->comp)
		rados_aio_release(p->comp);
	if (p->wop)
		rados_release_write_op(p->wop);
	if (p->rop)
		rados_release_read_op(p->rop);
	p->comp = NULL;
	p->wop = NULL;
	p->rop = NULL;
}

/* A piece's result, and what comes next. */
static int io_piece_result(struct io_piece *p, int ret)
{
	enum nb_rados_op op = p->req->io->op;

	switch (op) {
	case NB_RADOS_READ:
		if (ret == -ENOENT) {	/* never written: zeroes */
			memset(p->buf, 0, p->len);
			return 0;
		}
		if (ret == 0 && p->prval < 0)
			ret = p->prval;
		if (ret < 0)
			return ret;
		if (p->bytes_read < p->len)	/* past the object's end */
			memset(p->buf + p->bytes_read, 0, p->len - p->bytes_read);
		return 0;
	case NB_RADOS_WRITE:
		if (p->stage == IO_STAGE_GUARDED && ret == -ENOENT) {
			p->stage = IO_STAGE_CREATE;
			return 1;
		}
		if (p->stage == IO_STAGE_CREATE && ret == -EEXIST) {
			p->stage = IO_STAGE_GUARDED;
			return 1;
		}
		break;
	case NB_RADOS_DISCARD:
	case NB_RADOS_WRITE_ZEROES:
		if (ret == -ENOENT)	/* nothing there: zeroes already */
			return 0;
		break;
	default:
		break;
	}
	if (ret == -ECANCELED && p->stage == IO_STAGE_GUARDED)
		return -ESTALE;		/* a newer generation wrote here */
	return ret;
}

/* Completion of a piece's op (librados thread). */
static void io_piece_cb(rados_completion_t comp, void *arg)
{
	struct io_piece *p = arg;
	int ret = rados_aio_get_return_value(comp);

	io_piece_release(p);
	/* Timed out here, but the OSD may still apply it later: the
	 * handle must not tell a breaker its writes are done. */
	if (ret == -ETIMEDOUT && p->req->io->op != NB_RADOS_READ &&
	    p->req->io->op != NB_RADOS_FLUSH)
		nb_rados_fence_timedout(p->req->vol, p->ioctx);
	ret = io_piece_result(p, ret);
	if (ret == 1) {
		if (++p->tries < IO_GUARD_TRIES) {
			ret = io_piece_launch(p);
			if (ret == 0)
				return;
		} else {
			ret = -EAGAIN;
		}
	}
	io_piece_done(p, ret);
}

static void io_add_guard(struct io_piece *p, rados_write_op_t op)
{
	char gen[RS_GEN_LEN + 1];

	nb_rados_gen_str(gen, p->req->gen);
	if (p->stage == IO_STAGE_CREATE)
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	else
		rados_write_op_cmpxattr(op, RS_X_DATA_GEN, LIBRADOS_CMPXATTR_OP_GTE,
					gen, RS_GEN_LEN);
	rados_write_op_setxattr(op, RS_X_DATA_GEN, gen, RS_GEN_LEN);
}

/* Build the op of p's stage and start it. */
static int io_piece_launch(struct io_piece *p)
{
	struct io_req *req = p->req;
	struct nb_rados_vol *vol = req->vol;
	rados_ioctx_t ioctx = vol->st->io;
	char oid[RS_OID_MAX];
	int ret;

	p->ioctx = ioctx;
	ret = rados_aio_create_completion2(p, io_piece_cb, &p->comp);
	if (ret < 0)
		return ret;
	if (req->io->op == NB_RADOS_FLUSH) {
		ret = rados_aio_flush_async(ioctx, p->comp);
		goto out;
	}
	nb_rados_data_oid(oid, vol->name, p->objno);
	if (req->io->op == NB_RADOS_READ) {
		p->rop = rados_create_read_op();
		if (!p->rop) {
			ret = -ENOMEM;
			goto out;
		}
		p->bytes_read = 0;
		p->prval = 0;
		rados_read_op_read(p->rop, p->obj_off, p->len, p->buf,
				   &p->bytes_read, &p->prval);
		ret = rados_aio_read_op_operate(p->rop, ioctx, p->comp, oid, 0);
		goto out;
	}

	p->wop = rados_create_write_op();
	if (!p->wop) {
		ret = -ENOMEM;
		goto out;
	}
	if (p->stage != IO_STAGE_PLAIN)
		io_add_guard(p, p->wop);
	if (req->io->op == NB_RADOS_WRITE) {
		rados_write_op_write(p->wop, p->buf, p->len, p->obj_off);
	} else if (p->obj_off == 0 && p->to_obj_end) {
		/* A whole extent: drop the object (guarded: keep it, empty,
		 * with its stamp). */
		if (p->stage == IO_STAGE_PLAIN)
			rados_write_op_remove(p->wop);
		else
			rados_write_op_truncate(p->wop, 0);
	} else if (p->to_obj_end) {
		if (p->stage == IO_STAGE_PLAIN)
			rados_write_op_assert_exists(p->wop);
		rados_write_op_truncate(p->wop, p->obj_off);
	} else {
		if (p->stage == IO_STAGE_PLAIN)
			rados_write_op_assert_exists(p->wop);
		rados_write_op_zero(p->wop, p->obj_off, p->len);
	}
	ret = rados_aio_write_op_operate(p->wop, ioctx, p->comp, oid, NULL, 0);
out:
	if (ret < 0)
		io_piece_release(p);
	return ret;
}

/* Where each piece's bytes are: in place when inside one iovec segment. */
static int io_piece_buffer(struct io_req *req, struct io_piece *p)
{
	struct nb_rados_io *io = req->io;
	struct nb_iov_pos pos = { 0, 0 };

	if (io->op != NB_RADOS_READ && io->op != NB_RADOS_WRITE)
		return 0;
	if (nb_iov_advance(io->iov, io->iovcnt, &pos, p->req_off) == 0 &&
	    pos.idx < io->iovcnt && io->iov[pos.idx].iov_len - pos.off >= p->len) {
		p->buf = (char *)io->iov[pos.idx].iov_base + pos.off;
		return 0;
	}
	p->buf = malloc(p->len);
	if (!p->buf)
		return -ENOMEM;
	p->bounce = true;
	if (io->op == NB_RADOS_WRITE)
		nb_iov_to_buf(io->iov, io->iovcnt, p->req_off, p->buf, p->len);
	return 0;
}

static int io_check(struct nb_rados_vol *vol, struct nb_rados_io *io)
{
	uint64_t size = nb_rados_vol_size(vol);
	uint64_t held;

	if (!io->done || io->op >= NB_RADOS_OP_MAX)
		return -EINVAL;
	if (io->op == NB_RADOS_FLUSH)
		return 0;
	if (!io->len || io->offset > size || io->len > size - io->offset ||
	    io->offset % vol->block_size || io->len % vol->block_size)
		return -EINVAL;
	if ((io->op == NB_RADOS_READ || io->op == NB_RADOS_WRITE) &&
	    (io->iovcnt < 0 || iov_total(io->iov, io->iovcnt) < io->len))
		return -EINVAL;
	/* A handle that holds the lock writes only while it knows it is
	 * still the holder. */
	held = atomic_load(&vol->held_gen);
	if (io->op != NB_RADOS_READ && held) {
		if (atomic_load(&vol->known_gen) != held)
			return -ESTALE;
		if (!nb_rados_watch_current(vol))
			return -ENOTCONN;
	}
	return 0;
}

int nb_rados_submit(struct nb_rados_vol *vol, struct nb_rados_io *io)
{
	uint64_t osz = vol->object_size, first, last, n, i, size;
	struct io_req *req;
	unsigned launched;
	int ret;

	ret = io_check(vol, io);
	if (ret)
		return ret;
	size = nb_rados_vol_size(vol);
	if (io->op == NB_RADOS_FLUSH) {
		n = 1;
		first = 0;
	} else {
		first = io->offset >> vol->object_shift;
		last = (io->offset + io->len - 1) >> vol->object_shift;
		n = last - first + 1;
	}
	if (n > UINT32_MAX)
		return -EINVAL;
	req = calloc(1, sizeof(*req) + n * sizeof(req->piece[0]));
	if (!req)
		return -ENOMEM;
	req->vol = vol;
	req->io = io;
	req->npieces = (unsigned)n;
	if (vol->flags & NB_RADOS_OPEN_GUARD_WRITES)
		req->gen = atomic_load(&vol->held_gen);
	atomic_init(&req->pending, (unsigned)n);
	atomic_init(&req->err, 0);

	for (i = 0; i < n; i++) {
		struct io_piece *p = &req->piece[i];
		uint64_t start, end, obj_start;

		p->req = req;
		p->stage = IO_STAGE_PLAIN;
		if (io->op == NB_RADOS_FLUSH)
			continue;
		p->objno = first + i;
		obj_start = p->objno << vol->object_shift;
		start = i ? obj_start : io->offset;
		end = obj_start + osz;
		if (end > io->offset + io->len)
			end = io->offset + io->len;
		p->obj_off = start - obj_start;
		p->len = end - start;
		p->req_off = start - io->offset;
		p->to_obj_end = end == obj_start + osz || end >= size;
		if (req->gen && io->op != NB_RADOS_READ)
			p->stage = IO_STAGE_GUARDED;
		ret = io_piece_buffer(req, p);
		if (ret) {
			io_req_free(req);
			return ret;
		}
	}

	if (io->check_gen && io->op != NB_RADOS_READ) {
		ret = nb_rados_fence_admit(vol, io->gen, &req->fence_epoch);
		if (ret) {
			io_req_free(req);
			return ret;
		}
		req->fenced = true;
	}
	io->state = req;
	io_inflight_add(vol, 1);
	/* Until the last piece is launched, the unlaunched ones keep
	 * pending above zero: req stays valid for this loop. */
	for (launched = 0; launched < n; launched++) {
		ret = io_piece_launch(&req->piece[launched]);
		if (ret < 0)
			break;
	}
	if (launched == n)
		return 0;
	if (launched == 0) {
		io->state = NULL;
		if (req->fenced)
			nb_rados_fence_done(vol, req->fence_epoch);
		io_req_free(req);
		io_inflight_add(vol, -1);
		return ret;
	}
	/* Some pieces are on their way: the request ends with this error
	 * once they are done. The rest finish here. */
	for (i = launched; i < n; i++)
		io_piece_done(&req->piece[i], ret);
	return 0;
}
