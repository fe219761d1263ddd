/* SPDX-License-Identifier: MIT */
/*
 * One request: frame rules, protocol checks, ownership, submission to
 * the store and the reply at completion (srv_conn.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv_request.h"

void nb_srv_request_reply_init(struct srv_conn *conn, struct rpc_reply *rep,
				   uint64_t id, enum rpc_status status)
{
	memset(rep, 0, sizeof(*rep));
	rep->id = id;
	rep->status = status;
	rep->epoch = nb_srv_map_get(conn->srv)->map->epoch;
}


/* Answer with an error status and a message. */
void nb_srv_request_fail_id(struct srv_conn *conn, uint64_t id, enum rpc_op op,
				enum rpc_status status, const char *fmt, ...)
{
	struct rpc_reply rep;
	va_list ap;

	nb_srv_request_reply_init(conn, &rep, id, status);
	va_start(ap, fmt);
	vsnprintf(rep.message, sizeof(rep.message), fmt, ap);
	va_end(ap);
	srv_debug("client %s: request %llu (%s): %s: %s", conn->peer,
		  (unsigned long long)id, nb_rpc_op_name(op),
		  nb_rpc_status_name(status), rep.message);
	nb_srv_conn_send_reply(conn, &rep);
}


static void srv_request_ok(struct srv_conn *conn, uint64_t id)
{
	struct rpc_reply rep;

	nb_srv_request_reply_init(conn, &rep, id, RPC_STATUS_OK);
	nb_srv_conn_send_reply(conn, &rep);
}

/*
 * A store's error as a status. -EINVAL means the store cannot take the
 * request as it is (a rados volume refuses ranges not aligned to its
 * block size): MALFORMED, which the client does not retry; IO_ERROR
 * would be retried for ever under an I/O timeout of 0.
 */
enum rpc_status nb_srv_request_errno_status(int err)
{
	if (err == -ENOSPC || err == -EDQUOT)
		return RPC_STATUS_NO_SPACE;
	if (err == -EINVAL)
		return RPC_STATUS_MALFORMED;
	return RPC_STATUS_IO_ERROR;
}

/* ---- the writer lock ---- */

static bool srv_request_is_write_class(enum rpc_op op)
{
	return op == RPC_OP_WRITE || op == RPC_OP_WRITE_ZEROES ||
	       op == RPC_OP_DISCARD || op == RPC_OP_FLUSH;
}

static void srv_lock_to_rpc(const struct nb_store_lock *lk, struct rpc_lock *out)
{
	snprintf(out->owner, sizeof(out->owner), "%s", lk->owner);
	out->generation = lk->gen;
	out->since = lk->since;
}

/* "2024-05-01T10:00:00Z" (UTC), or "?" */
void nb_srv_lock_since(uint64_t since, char *buf, size_t len)
{
	time_t t = (time_t)since;
	struct tm tm;

	if (!since || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
}

/* Owners are free text for people and logs: no control bytes. */
bool nb_srv_request_owner_valid(const char *owner)
{
	for (const char *p = owner; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * A write-class request of a connection whose generation gen of vol is
 * gone (vol: the request's, which a second OPEN may have replaced).
 */
static void srv_request_fenced(struct srv_conn *conn, const struct srv_volume *vol,
			       uint64_t gen, uint64_t id, enum rpc_op op)
{
	srv_count(conn->worker, fenced, 1);
	if (!conn->fenced_logged) {
		conn->fenced_logged = true;
		srv_warn("client %s: volume %s: writer lock generation %llu was broken: this connection is fenced, its write requests get FENCED and are not executed",
			 conn->peer, vol->name, (unsigned long long)gen);
	}
	nb_srv_request_fail_id(conn, id, op, RPC_STATUS_FENCED,
			    "volume %s: writer lock generation %llu was broken; this connection may no longer write",
			    vol->name, (unsigned long long)gen);
}

/*
 * The store no longer has vol (deleted through another node of a shared
 * store): forget it and answer NOT_FOUND.
 */
void nb_srv_request_gone(struct srv_conn *conn, const struct rpc_request *req,
			 struct srv_volume *vol)
{
	srv_info("client %s: volume %s was deleted from the store: forgotten",
		 conn->peer, vol->name);
	nb_srv_volume_retire(conn->srv, vol);
	srv_request_fail(conn, req, RPC_STATUS_NOT_FOUND,
			 "no volume named \"%s\" (deleted)", vol->name);
}

/*
 * The lock part of a read-write OPEN: true with *lk the lock the
 * connection is bound to, or false after answering why not.
 * An open without an owner (a client older than the lock) takes no lock:
 * it is allowed only while nobody holds it, and is bound to the current
 * generation like any other, so a later take fences it.
 */
static bool srv_request_open_lock(struct srv_conn *conn, const struct rpc_request *req,
				  struct srv_volume *vol, struct nb_store_lock *lk)
{
	const struct nb_store_ops *ops = vol->vol->store->ops;
	char since[32];
	int r;

	if (req->owner[0] && !nb_srv_request_owner_valid(req->owner)) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "the lock owner contains control characters");
		return false;
	}
	if (req->owner[0]) {
		r = ops->lock_take(vol->vol, req->owner, req->break_lock,
				   req->lock_generation, lk);
	} else if (req->break_lock) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "break_lock needs an owner to take the lock");
		return false;
	} else {
		r = ops->lock_get(vol->vol, lk);
		if (r == 0 && req->lock_generation && req->lock_generation != lk->gen)
			r = -ESTALE;
		else if (r == 0 && lk->owner[0])
			r = -EBUSY;
	}
	switch (r) {
	case 0:
		return true;
	case -EBUSY:
		nb_srv_lock_since(lk->since, since, sizeof(since));
		srv_info("client %s: volume %s: read-write open by '%s' refused: locked by '%s' since %s (generation %llu)",
			 conn->peer, vol->name, req->owner[0] ? req->owner : "(no owner)",
			 lk->owner, since, (unsigned long long)lk->gen);
		srv_request_fail(conn, req, RPC_STATUS_LOCKED,
				 "volume %s is locked by '%s' since %s (generation %llu); open it read-only, or break the lock (--break-lock) to take it over",
				 vol->name, lk->owner, since, (unsigned long long)lk->gen);
		return false;
	case -ESTALE:
		srv_info("client %s: volume %s: open with generation %llu refused: the lock is at generation %llu",
			 conn->peer, vol->name, (unsigned long long)req->lock_generation,
			 (unsigned long long)lk->gen);
		srv_request_fail(conn, req, RPC_STATUS_FENCED,
				 "volume %s: writer lock generation %llu was broken (now generation %llu, held by '%s')",
				 vol->name, (unsigned long long)req->lock_generation,
				 (unsigned long long)lk->gen, lk->owner);
		return false;
	case -ENOENT:
		nb_srv_request_gone(conn, req, vol);
		return false;
	default:
		srv_warn("client %s: volume %s: cannot take the writer lock: %s",
			 conn->peer, vol->name, strerror(-r));
		srv_request_fail(conn, req, r == -EAGAIN ? RPC_STATUS_BUSY : RPC_STATUS_IO_ERROR,
				 "volume %s: cannot take the writer lock: %s", vol->name,
				 strerror(-r));
		return false;
	}
}

/* ---- data path ---- */

static bool srv_request_is_data(enum rpc_op op)
{
	return op == RPC_OP_READ || op == RPC_OP_WRITE || op == RPC_OP_FLUSH ||
	       op == RPC_OP_DISCARD || op == RPC_OP_WRITE_ZEROES;
}

static enum nb_store_op srv_request_store_op(enum rpc_op op)
{
	switch (op) {
	case RPC_OP_READ:
		return NB_STORE_READ;
	case RPC_OP_WRITE:
		return NB_STORE_WRITE;
	case RPC_OP_FLUSH:
		return NB_STORE_FLUSH;
	case RPC_OP_DISCARD:
		return NB_STORE_DISCARD;
	default:
		return NB_STORE_WRITE_ZEROES;
	}
}

/* Known flags each operation takes (docs/protocol.md). */
static uint32_t srv_request_flags_taken(enum rpc_op op)
{
	switch (op) {
	case RPC_OP_WRITE:
		return RPC_FLAG_FUA;
	case RPC_OP_WRITE_ZEROES:
		return RPC_FLAG_FUA | RPC_FLAG_UNMAP;
	default:
		return 0;
	}
}

/* Room for length bytes in the slot's buffer. */
static int srv_request_buf(struct srv_req *rq, uint64_t length)
{
	uint8_t *p;

	if (rq->cap >= length)
		return 0;
	p = realloc(rq->buf, length ? length : 1);
	if (!p)
		return -ENOMEM;
	rq->buf = p;
	rq->cap = length;
	return 0;
}

/* Checks of a data request; true when it may go to the store. */
static bool srv_request_check(struct srv_conn *conn, const struct rpc_request *req,
			      const struct srv_map *m)
{
	bool writes = req->op == RPC_OP_WRITE || req->op == RPC_OP_DISCARD ||
		      req->op == RPC_OP_WRITE_ZEROES;
	struct srv_volume *vol = conn->vol;
	uint64_t size;

	if (conn->state != SRV_CONN_OPEN) {
		srv_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				 "no volume open on this connection (send OPEN first)");
		return false;
	}
	if (__atomic_load_n(&vol->deleted, __ATOMIC_RELAXED)) {
		srv_request_fail(conn, req, RPC_STATUS_NOT_FOUND,
				 "volume %s was deleted", vol->name);
		return false;
	}
	if (req->flags & ~RPC_FLAGS_ALL) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "unknown flag bits 0x%x", req->flags & ~RPC_FLAGS_ALL);
		return false;
	}
	if (req->flags & ~srv_request_flags_taken(req->op)) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "flag 0x%x is not taken by %s",
				 req->flags & ~srv_request_flags_taken(req->op),
				 nb_rpc_op_name(req->op));
		return false;
	}
	size = nb_srv_volume_size(vol);
	if (req->op != RPC_OP_FLUSH &&
	    (req->offset > size || req->length > size - req->offset)) {
		srv_request_fail(conn, req, RPC_STATUS_OUT_OF_RANGE,
				 "offset %llu length %llu outside volume %s of %llu bytes",
				 (unsigned long long)req->offset,
				 (unsigned long long)req->length, vol->name,
				 (unsigned long long)size);
		return false;
	}
	if (writes && conn->read_only) {
		srv_request_fail(conn, req, RPC_STATUS_READ_ONLY,
				 "volume %s is open read-only", vol->name);
		return false;
	}
	if (req->op == RPC_OP_DISCARD || req->op == RPC_OP_WRITE_ZEROES) {
		uint32_t max = req->op == RPC_OP_DISCARD ? vol->max_discard :
			       vol->max_write_zeroes;

		if (max == 0) {
			srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
					 "%s is disabled on this node",
					 nb_rpc_op_name(req->op));
			return false;
		}
		if (req->length > max) {
			srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
					 "%s of %llu bytes exceeds the limit of %u",
					 nb_rpc_op_name(req->op),
					 (unsigned long long)req->length, max);
			return false;
		}
	}
	if (req->op != RPC_OP_FLUSH && !nb_srv_map_serves(m, req->offset, req->length)) {
		srv_count(conn->worker, not_owner, 1);
		srv_request_fail(conn, req, RPC_STATUS_NOT_OWNER,
				 "node %s does not serve offset %llu length %llu (map epoch %llu)",
				 conn->srv->node_addr, (unsigned long long)req->offset,
				 (unsigned long long)req->length,
				 (unsigned long long)m->map->epoch);
		return false;
	}
	return true;
}

/* A data request that passed the checks goes to the store. */
static void srv_request_submit(struct srv_conn *conn, const struct rpc_request *req,
			       const uint8_t *data)
{
	struct nb_store_vol *svol = conn->vol->vol;
	bool fence = conn->lock_bound && srv_request_is_write_class(req->op);
	struct srv_req *rq;
	struct nb_store_io *io;

	/* The early check; the store makes the binding one at execution. */
	if (fence && !svol->store->ops->lock_is_current(svol, conn->lock_gen)) {
		srv_request_fenced(conn, conn->vol, conn->lock_gen, req->id, req->op);
		return;
	}
	rq = nb_srv_conn_req_get(conn);
	if (!rq) {
		/* Cannot happen: input pauses at max_inflight. */
		srv_request_fail(conn, req, RPC_STATUS_BUSY,
				 "%u requests in flight already", conn->max_inflight);
		return;
	}
	if ((req->op == RPC_OP_READ || req->op == RPC_OP_WRITE) &&
	    srv_request_buf(rq, req->length) < 0) {
		nb_srv_conn_req_put(conn, rq);
		srv_request_fail(conn, req, RPC_STATUS_BUSY,
				 "out of memory for a %llu byte request",
				 (unsigned long long)req->length);
		return;
	}
	if (req->op == RPC_OP_WRITE && req->length)
		memcpy(rq->buf, data, req->length);
	/* Its own reference: a second OPEN may drop the connection's. */
	rq->vol = conn->vol;
	nb_srv_volume_hold(conn->srv, rq->vol);
	rq->id = req->id;
	rq->op = req->op;
	io = &rq->io;
	io->op = srv_request_store_op(req->op);
	io->flags = (req->flags & RPC_FLAG_FUA ? NB_STORE_FUA : 0) |
		    (req->flags & RPC_FLAG_UNMAP ? NB_STORE_UNMAP : 0) |
		    (fence ? NB_STORE_GEN : 0);
	io->gen = fence ? conn->lock_gen : 0;
	io->offset = req->offset;
	io->length = req->op == RPC_OP_FLUSH ? 0 : req->length;
	io->buf = rq->buf;
	io->refused = false;
	io->why[0] = '\0';
	io->result = 0;
	nb_store_submit(rq->vol->vol, io);
}

/* Counters of a request the store executed. */
static void srv_request_count(struct srv_worker *w, const struct srv_req *rq)
{
	bool ok = rq->io.result == 0;

	switch (rq->op) {
	case RPC_OP_READ:
		srv_count(w, reads, 1);
		if (ok)
			srv_count(w, bytes_read, rq->io.length);
		break;
	case RPC_OP_WRITE:
		srv_count(w, writes, 1);
		if (ok)
			srv_count(w, bytes_written, rq->io.length);
		break;
	case RPC_OP_FLUSH:
		srv_count(w, flushes, 1);
		break;
	case RPC_OP_DISCARD:
		srv_count(w, discards, 1);
		break;
	default:
		srv_count(w, write_zeroes, 1);
		break;
	}
	if (ok && (rq->io.flags & NB_STORE_FUA))
		srv_count(w, fua, 1);
}

static void srv_request_read_reply(struct srv_conn *conn, struct srv_req *rq)
{
	struct rpc_reply rep;
	size_t max;
	uint8_t *p;
	int h;

	nb_srv_request_reply_init(conn, &rep, rq->id, RPC_STATUS_OK);
	max = nb_rpc_reply_encoded_max(&rep);
	p = nb_srv_conn_reserve(conn, max + rq->io.length);
	if (!p) {
		srv_err("client %s: out of memory for a %llu byte read reply; closing",
			conn->peer, (unsigned long long)rq->io.length);
		nb_srv_conn_close(conn, true);
		return;
	}
	h = nb_rpc_reply_encode(&rep, (uint32_t)rq->io.length, p, max);
	if (h < 0) {
		srv_err("client %s: cannot encode read reply: %s", conn->peer,
			strerror(-h));
		nb_srv_conn_close(conn, true);
		return;
	}
	if (rq->io.length)	/* rq->buf is NULL for an empty read */
		memcpy(p + h, rq->buf, rq->io.length);
	nb_srv_conn_commit(conn, (size_t)h + rq->io.length);
}

void nb_srv_request_done(struct srv_req *rq)
{
	struct srv_conn *conn = rq->conn;
	struct nb_store_io *io = &rq->io;
	int r = io->result;

	if (!io->refused)
		srv_request_count(conn->worker, rq);
	if (nb_srv_conn_closed(conn)) {
		/* Nobody to answer: the client re-sends it elsewhere. */
	} else if (io->refused && r == -ECONNABORTED) {
		nb_srv_conn_close(conn, true);
	} else if (r == -ESTALE && (io->flags & NB_STORE_GEN)) {
		srv_request_fenced(conn, rq->vol, io->gen, rq->id, rq->op);
	} else if (io->refused) {
		nb_srv_request_fail_id(conn, rq->id, rq->op, nb_srv_request_errno_status(r),
				    "%s", io->why[0] ? io->why : "refused");
	} else if (r < 0) {
		srv_warn("client %s: volume %s: %s at offset %llu length %llu failed: %s",
			 conn->peer, rq->vol->name, nb_rpc_op_name(rq->op),
			 (unsigned long long)io->offset, (unsigned long long)io->length,
			 strerror(-r));
		nb_srv_request_fail_id(conn, rq->id, rq->op, nb_srv_request_errno_status(r),
				    "%s failed: %s", nb_rpc_op_name(rq->op), strerror(-r));
	} else if (rq->op == RPC_OP_READ) {
		srv_request_read_reply(conn, rq);
	} else {
		srv_request_ok(conn, rq->id);
	}
	nb_srv_conn_req_put(conn, rq);
	nb_srv_conn_mark_dirty(conn);
}

/* ---- control path ---- */

static void srv_request_handshake(struct srv_conn *conn, const struct rpc_request *req)
{
	struct nb_srv *srv = conn->srv;
	const struct nb_srv_config *cfg = srv->cfg;
	const struct rpc_handshake *hs = &req->handshake;
	char client[RPC_NAME_MAX + 1];
	struct rpc_reply rep;
	uint32_t inflight, io;

	if (conn->state != SRV_CONN_AWAIT_HELLO) {
		srv_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				 "HANDSHAKE already done on this connection");
		return;
	}
	if (hs->version < 1) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "protocol version %u not supported (node speaks %d)",
				 hs->version, RPC_VERSION);
		return;
	}
	if (hs->max_inflight == 0 || hs->max_io_size == 0) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "HANDSHAKE needs max_inflight and max_io_size > 0");
		return;
	}
	inflight = hs->max_inflight < cfg->max_inflight ? hs->max_inflight :
		   cfg->max_inflight;
	io = hs->max_io_size < cfg->max_io_size ? hs->max_io_size : cfg->max_io_size;
	if (nb_srv_conn_grant(conn, inflight, io) < 0) {
		srv_err("client %s: out of memory granting %u requests in flight; closing",
			conn->peer, inflight);
		nb_srv_conn_close(conn, true);
		return;
	}
	/* The client's name is free text: keep control bytes out of the log. */
	snprintf(client, sizeof(client), "%s", hs->name);
	for (char *p = client; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	srv_info("client %s: handshake from \"%s\": version %u, max_inflight %u, max_io_size %u",
		 conn->peer, client, RPC_VERSION, inflight, io);
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_handshake = true;
	rep.handshake.version = RPC_VERSION;
	rep.handshake.max_inflight = inflight;
	rep.handshake.max_io_size = io;
	snprintf(rep.handshake.name, sizeof(rep.handshake.name), "%s", srv->name);
	/* The client then keeps no FLUSH obligations towards this node. */
	rep.handshake.writes_durable = srv->store->writes_durable;
	nb_srv_conn_send_reply(conn, &rep);
}

/* The volume a request names, or an answer saying why not. */
struct srv_volume *nb_srv_request_volume(struct srv_conn *conn,
					     const struct rpc_request *req)
{
	struct srv_volume *vol;
	int err = 0;

	vol = nb_srv_volume_lookup(conn->srv, req->volume, &err);
	if (vol)
		return vol;
	if (err == -ENOENT)
		srv_request_fail(conn, req, RPC_STATUS_NOT_FOUND,
				 "no volume named \"%s\"", req->volume);
	else
		srv_request_fail(conn, req, nb_srv_request_errno_status(err),
				 "cannot open volume %s: %s", req->volume,
				 strerror(-err));
	return NULL;
}

static void srv_request_open(struct srv_conn *conn, const struct rpc_request *req)
{
	struct srv_volume *vol = nb_srv_request_volume(conn, req);
	const struct nb_store_ops *ops;
	struct nb_store_lock lk = { .gen = 0 };
	struct rpc_reply rep;
	bool read_only, bound = false;
	int r;
	char lock_text[RPC_NAME_MAX + 64] = "";

	if (!vol)
		return;
	ops = vol->vol->store->ops;
	read_only = req->read_only || vol->read_only;
	if (!read_only && ops->lock_take) {
		if (!srv_request_open_lock(conn, req, vol, &lk)) {
			nb_srv_volume_put(conn->srv, vol);
			return;
		}
		bound = true;
		snprintf(lock_text, sizeof(lock_text), ", writer lock generation %llu%s%s%s%s",
			 (unsigned long long)lk.gen, lk.owner[0] ? " held by '" : ", no owner",
			 lk.owner, lk.owner[0] ? "'" : "",
			 req->break_lock ? ", break requested" : "");
	} else if (ops->lock_get && (r = ops->lock_get(vol->vol, &lk)) < 0) {
		if (r == -ENOENT) {
			nb_srv_request_gone(conn, req, vol);
			nb_srv_volume_put(conn->srv, vol);
			return;
		}
		memset(&lk, 0, sizeof(lk));  /* only informative here */
	}
	nb_srv_volume_refresh(vol);
	nb_srv_conn_open(conn, vol, read_only, bound, lk.gen);
	srv_info("client %s: opened volume %s (%llu bytes, %s%s)", conn->peer,
		 vol->name, (unsigned long long)nb_srv_volume_size(vol),
		 read_only ? "read-only" : "read-write", lock_text);
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	rep.volume.read_only = read_only;
	srv_lock_to_rpc(&lk, &rep.volume.lock);
	rep.map = nb_srv_map_get(conn->srv)->map;
	nb_srv_conn_send_reply(conn, &rep);
}

static void srv_request_info(struct srv_conn *conn, const struct rpc_request *req)
{
	struct srv_volume *vol = nb_srv_request_volume(conn, req);
	const struct nb_store_ops *ops;
	struct nb_store_lock lk;
	struct rpc_reply rep;
	int r;

	if (!vol)
		return;
	ops = vol->vol->store->ops;
	if (ops->lock_get) {
		r = ops->lock_get(vol->vol, &lk);
		if (r == -ENOENT) {
			nb_srv_request_gone(conn, req, vol);
			nb_srv_volume_put(conn->srv, vol);
			return;
		}
		if (r < 0) {
			srv_request_fail(conn, req, nb_srv_request_errno_status(r),
					 "volume %s: cannot read its writer lock: %s",
					 vol->name, strerror(-r));
			nb_srv_volume_put(conn->srv, vol);
			return;
		}
	}
	nb_srv_volume_refresh(vol);
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	if (ops->lock_get)
		srv_lock_to_rpc(&lk, &rep.volume.lock);
	nb_srv_conn_send_reply(conn, &rep);
	nb_srv_volume_put(conn->srv, vol);
}

/* Break the writer lock without taking it (admin). */
static void srv_request_unlock_vol(struct srv_conn *conn, const struct rpc_request *req,
				   struct srv_volume *vol)
{
	const struct nb_store_ops *ops;
	struct nb_store_lock before, lk;
	struct rpc_reply rep;
	int r;

	ops = vol->vol->store->ops;
	if (!ops->lock_break) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "volume %s has no writer lock on this node", vol->name);
		return;
	}
	if (req->owner[0] && !nb_srv_request_owner_valid(req->owner)) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "the owner contains control characters");
		return;
	}
	r = ops->lock_get(vol->vol, &before);
	if (r == -ENOENT) {
		nb_srv_request_gone(conn, req, vol);
		return;
	}
	if (r < 0)  /* for the log only */
		memset(&before, 0, sizeof(before));
	r = ops->lock_break(vol->vol, req->lock_generation, &lk);
	if (r == -ENOENT) {
		nb_srv_request_gone(conn, req, vol);
		return;
	}
	if (r == -ESTALE) {
		srv_request_fail(conn, req, RPC_STATUS_FENCED,
				 "volume %s: writer lock generation %llu is not current (now %llu, held by '%s'): nothing broken",
				 vol->name, (unsigned long long)req->lock_generation,
				 (unsigned long long)lk.gen, lk.owner);
		return;
	}
	if (r < 0) {
		srv_warn("client %s: volume %s: cannot break the writer lock: %s",
			 conn->peer, vol->name, strerror(-r));
		srv_request_fail(conn, req, r == -EAGAIN ? RPC_STATUS_BUSY :
				 RPC_STATUS_IO_ERROR,
				 "volume %s: cannot break the writer lock: %s", vol->name,
				 strerror(-r));
		return;
	}
	srv_warn("client %s%s%s%s: volume %s: writer lock broken (was '%s', generation %llu; now no owner, generation %llu)",
		 conn->peer, req->owner[0] ? " ('" : "", req->owner,
		 req->owner[0] ? "')" : "", vol->name, before.owner,
		 (unsigned long long)before.gen, (unsigned long long)lk.gen);
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	srv_lock_to_rpc(&lk, &rep.volume.lock);
	nb_srv_conn_send_reply(conn, &rep);
}

static void srv_request_unlock(struct srv_conn *conn, const struct rpc_request *req)
{
	struct srv_volume *vol = nb_srv_request_volume(conn, req);

	if (!vol)
		return;
	srv_request_unlock_vol(conn, req, vol);
	nb_srv_volume_put(conn->srv, vol);
}


static void srv_request_get_map(struct srv_conn *conn, const struct rpc_request *req)
{
	struct rpc_reply rep;

	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.map = nb_srv_map_get(conn->srv)->map;
	nb_srv_conn_send_reply(conn, &rep);
}

static void srv_request_create(struct srv_conn *conn, const struct rpc_request *req)
{
	struct nb_srv *srv = conn->srv;
	struct nb_store *store = srv->store;
	uint32_t bs = req->create_block_size ? req->create_block_size : 512;
	struct nb_store_vol *svol;
	struct srv_volume *vol;
	struct rpc_reply rep;
	char desc[256] = "";
	int r;

	if (!srv->cfg->allow_create) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "volume creation is disabled on this node (--allow-create)");
		return;
	}
	if (!nb_store_name_valid(req->volume)) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "bad volume name \"%s\" (use letters, digits, '.', '_', '-')",
				 req->volume);
		return;
	}
	if (nb_srv_volume_find(srv, req->volume)) {
		srv_request_fail(conn, req, RPC_STATUS_EXISTS, "volume %s already exists",
				 req->volume);
		return;
	}
	if (bs != 512 && bs != 4096) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "block size %u (use 512 or 4096)", bs);
		return;
	}
	if (req->create_size == 0 || req->create_size % bs != 0) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "size %llu is not a non-zero multiple of the block size %u",
				 (unsigned long long)req->create_size, bs);
		return;
	}
	if (req->create_size > NB_SRV_VOLUME_SIZE_MAX) {
		srv_request_fail(conn, req, RPC_STATUS_NO_SPACE,
				 "size %llu exceeds the largest volume size of this node (%llu bytes)",
				 (unsigned long long)req->create_size,
				 (unsigned long long)NB_SRV_VOLUME_SIZE_MAX);
		return;
	}
	if (nb_srv_volume_count(srv) >= NB_SRV_MAX_VOLUMES) {
		srv_request_fail(conn, req, RPC_STATUS_NO_SPACE,
				 "node holds its maximum of %d volumes", NB_SRV_MAX_VOLUMES);
		return;
	}
	r = store->ops->create(store, req->volume, req->create_size, bs);
	if (r == 0)
		r = store->ops->open(store, req->volume, &svol);
	if (r < 0) {
		srv_warn("client %s: cannot create volume %s: %s", conn->peer,
			 req->volume, strerror(-r));
		srv_request_fail(conn, req, r == -EEXIST ? RPC_STATUS_EXISTS :
				 r == -ENOTSUP ? RPC_STATUS_UNSUPPORTED :
				 nb_srv_request_errno_status(r),
				 "cannot create volume %s: %s", req->volume, strerror(-r));
		return;
	}
	r = nb_srv_volume_insert(srv, req->volume, svol, &vol);
	if (r < 0) {
		srv_request_fail(conn, req, r == -EEXIST ? RPC_STATUS_EXISTS :
				 RPC_STATUS_NO_SPACE,
				 "cannot add volume %s: %s", req->volume, strerror(-r));
		return;
	}
	if (svol->store->ops->describe)
		svol->store->ops->describe(svol, desc, sizeof(desc));
	srv_info("client %s: created volume %s (%llu bytes, block size %u%s%s)",
		 conn->peer, vol->name, (unsigned long long)nb_srv_volume_size(vol), bs,
		 desc[0] ? ", " : "", desc);
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	nb_srv_conn_send_reply(conn, &rep);
	nb_srv_volume_put(srv, vol);
}

int nb_srv_request_handle(struct srv_conn *conn, const struct rpc_request *req,
			  const uint8_t *data, uint32_t data_len)
{
	uint32_t max_io = nb_srv_conn_max_io_size(conn);
	const struct srv_map *m;
	char why[160];

	srv_count(conn->worker, requests, 1);
	srv_debug("client %s: request %llu %s offset %llu length %llu flags 0x%x data %u",
		  conn->peer, (unsigned long long)req->id, nb_rpc_op_name(req->op),
		  (unsigned long long)req->offset, (unsigned long long)req->length,
		  req->flags, data_len);

	/* Frame-level rules: a violation closes the connection. */
	why[0] = '\0';
	if (nb_rpc_op_has_request_data(req->op)) {
		if (data_len != req->length)
			snprintf(why, sizeof(why), "%s request %llu carries %u data bytes for length %llu",
				 nb_rpc_op_name(req->op), (unsigned long long)req->id,
				 data_len, (unsigned long long)req->length);
	} else if (data_len != 0) {
		snprintf(why, sizeof(why), "%s request %llu carries %u unexpected data bytes",
			 nb_rpc_op_name(req->op), (unsigned long long)req->id, data_len);
	}
	if (!why[0] && (req->op == RPC_OP_READ || req->op == RPC_OP_WRITE) &&
	    req->length > max_io)
		snprintf(why, sizeof(why), "%s request %llu of %llu bytes exceeds max_io_size %u",
			 nb_rpc_op_name(req->op), (unsigned long long)req->id,
			 (unsigned long long)req->length, max_io);
	if (why[0]) {
		srv_warn("client %s: malformed frame: %s; closing the connection",
			 conn->peer, why);
		nb_srv_conn_close(conn, true);
		return -1;
	}

	if (conn->state == SRV_CONN_AWAIT_HELLO && req->op != RPC_OP_HANDSHAKE) {
		srv_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				 "HANDSHAKE must be the first request");
		return 0;
	}

	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		srv_request_handshake(conn, req);
		break;
	case RPC_OP_OPEN:
		srv_request_open(conn, req);
		break;
	case RPC_OP_GET_MAP:
		srv_request_get_map(conn, req);
		break;
	case RPC_OP_PING:
		srv_request_ok(conn, req->id);
		break;
	case RPC_OP_INFO:
		srv_request_info(conn, req);
		break;
	case RPC_OP_CREATE:
		srv_request_create(conn, req);
		break;
	case RPC_OP_UNLOCK:
		srv_request_unlock(conn, req);
		break;
	case RPC_OP_DELETE:
		nb_srv_request_delete(conn, req);
		break;
	case RPC_OP_RESIZE:
		nb_srv_request_resize(conn, req);
		break;
	case RPC_OP_LIST:
		nb_srv_request_list(conn, req);
		break;
	default:
		if (!srv_request_is_data(req->op)) {
			srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
					 "operation %s is not a request", nb_rpc_op_name(req->op));
			break;
		}
		m = nb_srv_map_get(conn->srv);
		if (srv_request_check(conn, req, m))
			srv_request_submit(conn, req, data);
		break;
	}
	return nb_srv_conn_closed(conn) ? -1 : 0;
}
