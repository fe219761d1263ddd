/* SPDX-License-Identifier: MIT */
/* Frames of one connection: requests out, replies in (see conn.h). */
/*
 * Requests are encoded into the output buffer and written through TLS;
 * the HELLO exchange is HANDSHAKE then OPEN; replies are parsed
 * incrementally, READ data straight into the request's iovecs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "conn.h"
#include "conn_priv.h"
#include "sockbio.h"
#include "tls.h"

/* ---- output ---- */

static int conn_out_reserve(struct conn *conn, size_t need)
{
	size_t pending = conn->out_len - conn->out_off;

	if (pending == 0)
		conn->out_off = conn->out_len = 0;
	if (conn->out_cap - conn->out_len >= need)
		return 0;
	if (conn->out_off) {
		/* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows this */
		memmove(conn->out, conn->out + conn->out_off, pending);
		conn->out_off = 0;
		conn->out_len = pending;
		if (conn->out_cap - conn->out_len >= need)
			return 0;
	}
	size_t cap = conn->out_cap ? conn->out_cap : 64 * 1024;
	while (cap - conn->out_len < need)
		cap *= 2;
	uint8_t *out = realloc(conn->out, cap);
	if (!out)
		return -ENOMEM;
	conn->out = out;
	conn->out_cap = cap;
	return 0;
}

/* Write buffered output; returns 0, or -1 when the conn failed. */
int nb_conn_write_out(struct conn *conn)
{
	while (conn->out_off < conn->out_len) {
		size_t len = conn->out_retry ? conn->out_retry :
			     conn->out_len - conn->out_off;
		size_t n = 0;
		int ret;

		/* the error queue is empty: every failure path drains it */
		ret = SSL_write_ex(conn->ssl, conn->out + conn->out_off, len, &n);
		if (ret == 1) {
			conn->out_off += n;
			conn->out_retry = 0;
			conn->write_wants_read = false;
			continue;
		}
		int e = SSL_get_error(conn->ssl, ret);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			conn->out_retry = len;
			conn->write_wants_read = e == SSL_ERROR_WANT_READ;
			break;
		}
		char msg[256];
		int err = nb_tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
		nb_conn_fail(conn, err, "write failed: %s", msg);
		return -1;
	}
	if (conn->out_off == conn->out_len)
		conn->out_off = conn->out_len = 0;
	/* the socket BIO gathers records: send them now */
	int ret = nb_sockbio_flush(conn->ssl);
	if (ret < 0 && ret != -EAGAIN) {
		nb_conn_fail(conn, ret, "write failed: %s", strerror(-ret));
		return -1;
	}
	nb_conn_update_events(conn);
	return 0;
}

static void conn_copy_data(struct conn *conn, const struct conn_req *req,
			   uint8_t *dst)
{
	struct nb_iov_pos pos = req->pos;
	uint64_t left = req->length;

	nb_iov_advance(req->iov, req->iovcnt, &pos, 0);
	while (left) {
		const struct iovec *v = &req->iov[pos.idx];
		size_t n = v->iov_len - pos.off;

		if (n > left)
			n = left;
		memcpy(dst, (const uint8_t *)v->iov_base + pos.off, n);
		dst += n;
		left -= n;
		pos.off += n;
		if (pos.off == v->iov_len) {
			pos.idx++;
			pos.off = 0;
			nb_iov_advance(req->iov, req->iovcnt, &pos, 0);
		}
	}
}

/* Append one request frame (header and WRITE data). */
static int conn_encode(struct conn *conn, const struct conn_req *req,
		       uint64_t id)
{
	struct rpc_request r;
	uint32_t data_len = 0;
	size_t max;
	int n, ret;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.op = req->op;
	r.offset = req->offset;
	r.length = req->length;
	r.flags = req->flags;
	r.epoch = req->epoch;
	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		r.handshake.version = RPC_VERSION;
		r.handshake.max_inflight = conn->p->max_inflight;
		r.handshake.max_io_size = conn->p->max_io_size;
		snprintf(r.handshake.name, sizeof(r.handshake.name), "%s",
			 conn->p->client_name);
		break;
	case RPC_OP_OPEN:
		snprintf(r.volume, sizeof(r.volume), "%s", conn->p->volume);
		r.read_only = conn->p->read_only;
		if (!r.read_only) {
			/* the writer lock: who, and the generation held */
			snprintf(r.owner, sizeof(r.owner), "%s",
				 conn->p->lock_owner ? conn->p->lock_owner : "");
			r.break_lock = conn->p->break_lock;
			r.lock_generation = conn->p->lock_generation;
			if (conn->p->ops->open_lock)
				conn->p->ops->open_lock(conn, &r.break_lock,
							&r.lock_generation);
			r.break_lock = r.break_lock && r.owner[0];
			conn->open_generation = r.lock_generation;
		}
		break;
	case RPC_OP_CREATE:
	case RPC_OP_INFO:
	case RPC_OP_UNLOCK:
	case RPC_OP_DELETE:
	case RPC_OP_RESIZE:
	case RPC_OP_LIST:
		snprintf(r.volume, sizeof(r.volume), "%s",
			 req->volume ? req->volume : "");
		r.create_size = req->create_size;
		r.create_block_size = req->create_block_size;
		r.list_max = req->list_max;
		if (req->op == RPC_OP_UNLOCK || req->op == RPC_OP_DELETE) {
			snprintf(r.owner, sizeof(r.owner), "%s",
				 req->owner ? req->owner : "");
			r.lock_generation = req->lock_generation;
			r.break_lock = req->op == RPC_OP_DELETE && req->force;
		}
		break;
	default:
		break;
	}
	if (nb_rpc_op_has_request_data(req->op))
		data_len = (uint32_t)req->length;

	max = nb_rpc_request_encoded_max(&r);
	ret = conn_out_reserve(conn, max + data_len);
	if (ret < 0)
		return ret;
	n = nb_rpc_request_encode(&r, data_len, conn->out + conn->out_len,
			       conn->out_cap - conn->out_len);
	if (n < 0)
		return n;
	conn->out_len += (size_t)n;
	if (data_len) {
		conn_copy_data(conn, req, conn->out + conn->out_len);
		conn->out_len += data_len;
	}
	conn->sent++;
	return 0;
}

void nb_conn_arm_try_timer(struct conn *conn)
{
	if (conn->inflight && !ev_is_active(&conn->timer)) {
		conn->timer.repeat = conn->p->try_timeout;
		ev_timer_again(conn->loop, &conn->timer);
	}
}

void nb_conn_flush(struct conn *conn)
{
	if (conn->state != CONN_READY)
		return;
	while (conn->q_head && conn->n_free &&
	       conn->out_len - conn->out_off < CONN_OUT_HIGH) {
		struct conn_req *req = conn->q_head;
		bool has_data = req->op == RPC_OP_READ || req->op == RPC_OP_WRITE;
		int ret;

		conn->q_head = req->next;
		if (!conn->q_head)
			conn->q_tail = &conn->q_head;
		conn->queued--;
		req->next = NULL;

		if (has_data && req->length > conn->max_io_size) {
			/* routed before the grant was known: owner re-cuts it */
			req->returned(conn, req, -EMSGSIZE);
			if (conn->state != CONN_READY)
				return;
			continue;
		}

		uint32_t slot = conn->free_slots[--conn->n_free];
		struct conn_slot *s = &conn->slots[slot];
		if (++s->gen == 0)
			s->gen = 1;
		uint64_t id = ((uint64_t)s->gen << CONN_SLOT_GEN_SHIFT) | slot;
		ret = conn_encode(conn, req, id);
		if (ret < 0) {
			conn->free_slots[conn->n_free++] = slot;
			if (ret == -ENOMEM) {
				req->next = conn->q_head;
				conn->q_head = req;
				if (!req->next)
					conn->q_tail = &req->next;
				conn->queued++;
				nb_conn_fail(conn, -ENOMEM,
					  "out of memory for the output buffer");
				return;
			}
			/* a request the protocol cannot carry */
			req->returned(conn, req, -EINVAL);
			if (conn->state != CONN_READY)
				return;
			continue;
		}
		s->req = req;
		req->id = id;
		req->sent_at = ev_now(conn->loop);
		conn->inflight++;
	}
	if (conn->out_len > conn->out_off && nb_conn_write_out(conn) < 0)
		return;
	nb_conn_arm_try_timer(conn);
}

/* ---- HELLO: protocol handshake and open ---- */

void nb_conn_hello_send(struct conn *conn, enum rpc_op op)
{
	struct conn_req req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.op = op;
	conn->hello_op = op;
	conn->hello_id++;
	ret = conn_encode(conn, &req, conn->hello_id);
	if (ret < 0) {
		nb_conn_fail(conn, ret, "cannot encode %s: %s", nb_rpc_op_name(op),
			  strerror(-ret));
		return;
	}
	nb_conn_write_out(conn);
}

static void conn_hello_finish(struct conn *conn, struct rpc_reply *rep)
{
	char msg[256] = "";
	int ret;

	ret = conn->p->ops->opened(conn, rep, msg, sizeof(msg));
	if (ret < 0) {
		nb_conn_fail(conn, ret, "%s", msg[0] ? msg : strerror(-ret));
		return;
	}
	conn->n_free = 0;
	for (uint32_t i = conn->max_inflight; i > 0; i--)
		conn->free_slots[conn->n_free++] = i - 1;
	ev_timer_stop(conn->loop, &conn->timer);
	conn->last_rx = ev_now(conn->loop);
	nb_conn_set_state(conn, CONN_READY);
	if (conn->state == CONN_READY && conn->q_head && conn->p->ops->kick)
		conn->p->ops->kick(conn);
}

/* The lock a LOCKED or FENCED reply to OPEN describes, if it does. */
static bool conn_reply_lock(const struct rpc_reply *rep,
			    struct session_lock *lock)
{
	if (!rep->has_volume || !rep->volume.lock.generation)
		return false;
	snprintf(lock->owner, sizeof(lock->owner), "%s", rep->volume.lock.owner);
	lock->generation = rep->volume.lock.generation;
	lock->since = rep->volume.lock.since;
	return true;
}

static void conn_hello_reply(struct conn *conn, struct rpc_reply *rep)
{
	const char *st = nb_rpc_status_name(rep->status);
	struct session_lock lock;
	char who[SESSION_NAME_MAX + 96];

	if (conn->hello_op == RPC_OP_HANDSHAKE) {
		if (rep->status != RPC_STATUS_OK) {
			nb_conn_fail(conn, -EPROTO, "handshake refused: %s%s%s", st,
				  rep->message[0] ? ": " : "", rep->message);
			return;
		}
		if (!rep->has_handshake || rep->handshake.version != RPC_VERSION) {
			nb_conn_fail(conn, -EPROTO,
				  "handshake reply without a usable version (got %u, want %u)",
				  rep->has_handshake ? rep->handshake.version : 0,
				  RPC_VERSION);
			return;
		}
		if (rep->handshake.max_inflight == 0 ||
		    rep->handshake.max_io_size < SESSION_SECTOR) {
			nb_conn_fail(conn, -EPROTO,
				  "node granted max_inflight %u, max_io_size %u",
				  rep->handshake.max_inflight,
				  rep->handshake.max_io_size);
			return;
		}
		conn->max_inflight = rep->handshake.max_inflight;
		if (conn->max_inflight > conn->p->max_inflight)
			conn->max_inflight = conn->p->max_inflight;
		conn->max_io_size = rep->handshake.max_io_size;
		if (conn->max_io_size > conn->p->max_io_size)
			conn->max_io_size = conn->p->max_io_size;
		if (conn->max_io_size > RPC_MAX_DATA_LEN)
			conn->max_io_size = RPC_MAX_DATA_LEN;
		snprintf(conn->node_name, sizeof(conn->node_name), "%s",
			 rep->handshake.name);
		conn->writes_durable = rep->handshake.writes_durable;
		if (conn->p->volume)
			nb_conn_hello_send(conn, RPC_OP_OPEN);
		else
			conn_hello_finish(conn, rep);
		return;
	}

	switch (rep->status) {
	case RPC_STATUS_OK:
		break;
	case RPC_STATUS_NOT_FOUND:
		nb_conn_fail(conn, -ENOENT, "volume '%s' not found%s%s",
			  conn->p->volume, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	case RPC_STATUS_READ_ONLY:
		nb_conn_fail(conn, -EROFS, "volume '%s' is read-only%s%s",
			  conn->p->volume, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	case RPC_STATUS_LOCKED:
		if (conn_reply_lock(rep, &lock))
			nb_conn_fail(conn, -EBUSY,
				  "volume '%s' is locked by %s: another client writes to it",
				  conn->p->volume,
				  nb_session_lock_describe(&lock, who, sizeof(who)));
		else
			nb_conn_fail(conn, -EBUSY,
				  "volume '%s' is locked by another writer%s%s",
				  conn->p->volume, rep->message[0] ? ": " : "",
				  rep->message);
		return;
	case RPC_STATUS_FENCED:
		nb_conn_fail(conn, -ESTALE,
			  "volume '%s': the writer lock at generation %llu was broken%s%s",
			  conn->p->volume,
			  (unsigned long long)conn->open_generation,
			  rep->message[0] ? ": " : "", rep->message);
		return;
	default:
		nb_conn_fail(conn, -EIO, "open of volume '%s' refused: %s%s%s",
			  conn->p->volume, st, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	}
	if (!rep->has_volume) {
		nb_conn_fail(conn, -EPROTO, "open reply without volume information");
		return;
	}
	conn_hello_finish(conn, rep);
}

/* ---- input ---- */

static struct conn_req *conn_slot_find(struct conn *conn, uint64_t id,
				       uint32_t *slot_out)
{
	uint32_t slot = (uint32_t)id;
	uint32_t gen = (uint32_t)(id >> CONN_SLOT_GEN_SHIFT);

	if (slot >= conn->max_inflight || slot >= conn->n_slots)
		return NULL;
	if (!conn->slots[slot].req || conn->slots[slot].gen != gen)
		return NULL;
	*slot_out = slot;
	return conn->slots[slot].req;
}

/* A whole reply is in: hand it over. Returns false when the conn failed. */
static bool conn_dispatch(struct conn *conn)
{
	struct conn_req *req = conn->rx_req;
	enum conn_state state = conn->state;

	conn->in_dispatch = true;
	if (state == CONN_HELLO) {
		conn_hello_reply(conn, &conn->rx_reply);
	} else {
		uint32_t slot = (uint32_t)req->id;

		conn->slots[slot].req = NULL;
		conn->free_slots[conn->n_free++] = slot;
		conn->inflight--;
		req->next = NULL;
		req->reply(conn, req, &conn->rx_reply);
		if (conn->state == CONN_READY && conn->q_head &&
		    conn->p->ops->kick)
			conn->p->ops->kick(conn);
	}
	conn->in_dispatch = false;
	nb_rpc_reply_clear(&conn->rx_reply);
	conn->rx = CONN_RX_HDR;
	conn->rx_got = 0;
	conn->rx_req = NULL;
	if (conn->state == CONN_READY && conn->inflight == 0)
		ev_timer_stop(conn->loop, &conn->timer);
	return conn->state == state || conn->state == CONN_READY;
}

/* The fixed header is in. Returns false when the conn failed. */
static bool conn_rx_header(struct conn *conn)
{
	uint32_t max_data = conn->state == CONN_READY ? conn->max_io_size : 0;
	int ret = nb_rpc_frame_hdr_decode(conn->rx_hdr, &conn->rx_frame, max_data);

	if (ret == -EMSGSIZE) {
		nb_conn_fail(conn, -EPROTO,
			  "frame too large from node (limit %u data bytes)",
			  max_data);
		return false;
	}
	if (ret < 0) {
		nb_conn_fail(conn, -EPROTO,
			  "malformed frame header from node (bytes %02x%02x%02x%02x %02x %02x)",
			  conn->rx_hdr[0], conn->rx_hdr[1], conn->rx_hdr[2],
			  conn->rx_hdr[3], conn->rx_hdr[4], conn->rx_hdr[5]);
		return false;
	}
	if (conn->rx_frame.kind != RPC_KIND_REPLY) {
		nb_conn_fail(conn, -EPROTO, "node sent a request frame");
		return false;
	}
	if (conn->rx_frame.hdr_len == 0) {
		nb_conn_fail(conn, -EPROTO, "node sent an empty reply header");
		return false;
	}
	if (conn->rx_pb_cap < conn->rx_frame.hdr_len) {
		size_t cap = conn->rx_pb_cap ? conn->rx_pb_cap : 1024;
		uint8_t *pb;

		while (cap < conn->rx_frame.hdr_len)
			cap *= 2;
		pb = realloc(conn->rx_pb, cap);
		if (!pb) {
			nb_conn_fail(conn, -ENOMEM, "out of memory for a reply header");
			return false;
		}
		conn->rx_pb = pb;
		conn->rx_pb_cap = cap;
	}
	conn->rx = CONN_RX_PB;
	conn->rx_got = 0;
	return true;
}

/* The protobuf header is in. Returns false when the conn failed. */
static bool conn_rx_reply(struct conn *conn)
{
	struct rpc_reply *rep = &conn->rx_reply;
	struct conn_req *req = NULL;
	uint64_t expect = 0;
	uint32_t slot;

	if (nb_rpc_reply_decode(conn->rx_pb, conn->rx_frame.hdr_len, rep) < 0) {
		nb_conn_fail(conn, -EPROTO, "undecodable reply header (%u bytes)",
			  conn->rx_frame.hdr_len);
		return false;
	}
	if (conn->state == CONN_HELLO) {
		if (rep->id != conn->hello_id) {
			nb_conn_fail(conn, -EPROTO,
				  "reply id %llu does not answer %s (id %llu)",
				  (unsigned long long)rep->id,
				  nb_rpc_op_name(conn->hello_op),
				  (unsigned long long)conn->hello_id);
			return false;
		}
	} else {
		req = conn_slot_find(conn, rep->id, &slot);
		if (!req) {
			nb_conn_fail(conn, -EPROTO, "reply id %llu is not in flight",
				  (unsigned long long)rep->id);
			return false;
		}
		if (req->op == RPC_OP_READ && rep->status == RPC_STATUS_OK)
			expect = req->length;
	}
	if (conn->rx_frame.data_len != expect) {
		nb_conn_fail(conn, -EPROTO,
			  "reply id %llu (%s, %s) carries %u data bytes, expected %llu",
			  (unsigned long long)rep->id,
			  req ? nb_rpc_op_name(req->op) : nb_rpc_op_name(conn->hello_op),
			  nb_rpc_status_name(rep->status), conn->rx_frame.data_len,
			  (unsigned long long)expect);
		return false;
	}
	conn->rx_req = req;
	if (expect) {
		conn->rx = CONN_RX_DATA;
		conn->rx_pos = req->pos;
		conn->rx_left = expect;
		nb_iov_advance(req->iov, req->iovcnt, &conn->rx_pos, 0);
		return true;
	}
	return conn_dispatch(conn);
}

/* Read and handle what TLS has, within the per-wake-up budget. */
void nb_conn_read(struct conn *conn)
{
	unsigned frames = 0;
	size_t bytes = 0;

	for (;;) {
		uint8_t *dst;
		size_t want, n = 0;
		int ret;

		if (frames >= CONN_READ_FRAMES_MAX || bytes >= CONN_READ_BYTES_MAX) {
			/* come back next iteration: SSL may hold more */
			ev_feed_event(conn->loop, &conn->io, EV_READ);
			return;
		}
		switch (conn->rx) {
		case CONN_RX_HDR:
			dst = conn->rx_hdr + conn->rx_got;
			want = RPC_FRAME_HDR_SIZE - conn->rx_got;
			break;
		case CONN_RX_PB:
			dst = conn->rx_pb + conn->rx_got;
			want = conn->rx_frame.hdr_len - conn->rx_got;
			break;
		case CONN_RX_DATA:
		default: {
			const struct iovec *v =
				&conn->rx_req->iov[conn->rx_pos.idx];

			dst = (uint8_t *)v->iov_base + conn->rx_pos.off;
			want = v->iov_len - conn->rx_pos.off;
			if (want > conn->rx_left)
				want = conn->rx_left;
			break;
		}
		}

		ret = SSL_read_ex(conn->ssl, dst, want, &n);
		if (ret != 1) {
			int e = SSL_get_error(conn->ssl, ret);
			char msg[256];
			int err;

			if (e == SSL_ERROR_WANT_READ) {
				conn->read_wants_write = false;
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				conn->read_wants_write = true;
				return;
			}
			err = nb_tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
			nb_conn_fail(conn, err, "%s", msg);
			return;
		}
		conn->read_wants_write = false;
		conn->last_rx = ev_now(conn->loop);
		bytes += n;

		switch (conn->rx) {
		case CONN_RX_HDR:
			conn->rx_got += n;
			if (conn->rx_got == RPC_FRAME_HDR_SIZE &&
			    !conn_rx_header(conn))
				return;
			break;
		case CONN_RX_PB:
			conn->rx_got += n;
			if (conn->rx_got == conn->rx_frame.hdr_len) {
				frames++;
				if (!conn_rx_reply(conn))
					return;
			}
			break;
		case CONN_RX_DATA:
			conn->rx_left -= n;
			conn->rx_pos.off += n;
			if (conn->rx_left == 0) {
				if (!conn_dispatch(conn))
					return;
			} else {
				nb_iov_advance(conn->rx_req->iov,
						  conn->rx_req->iovcnt,
						  &conn->rx_pos, 0);
			}
			break;
		}
		if (conn->state != CONN_READY && conn->state != CONN_HELLO)
			return;
	}
}

