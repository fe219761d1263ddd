/* SPDX-License-Identifier: MIT */
/* One TLS connection to one storage node; see conn.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "conn.h"
#include "tls.h"

#define CONN_OUT_HIGH        (1u << 20)  /* stop encoding above this */
#define CONN_READ_FRAMES_MAX 512         /* frames per wake-up */
#define CONN_READ_BYTES_MAX  (16u << 20) /* bytes per wake-up */
#define CONN_SLOT_GEN_SHIFT  32

static const char *const conn_state_names[CONN_STATE_MAX] = {
	[CONN_DISCONNECTED] = "DISCONNECTED",
	[CONN_CONNECTING] = "CONNECTING",
	[CONN_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
	[CONN_HELLO] = "HELLO",
	[CONN_READY] = "READY",
	[CONN_BACKOFF] = "BACKOFF",
	[CONN_CLOSED] = "CLOSED",
};

const char *conn_state_name(enum conn_state state)
{
	if ((unsigned)state >= CONN_STATE_MAX)
		return "INVALID";
	return conn_state_names[state];
}

static bool conn_transition_ok(enum conn_state from, enum conn_state to)
{
	if (to == CONN_CLOSED)
		return from != CONN_CLOSED;
	switch (from) {
	case CONN_DISCONNECTED:
	case CONN_BACKOFF:
		return to == CONN_CONNECTING;
	case CONN_CONNECTING:
		return to == CONN_TLS_HANDSHAKE || to == CONN_BACKOFF;
	case CONN_TLS_HANDSHAKE:
		return to == CONN_HELLO || to == CONN_BACKOFF;
	case CONN_HELLO:
		return to == CONN_READY || to == CONN_BACKOFF;
	case CONN_READY:
		return to == CONN_BACKOFF;
	default:
		return false;
	}
}

static void conn_set_state(struct conn *conn, enum conn_state to)
{
	enum conn_state from = conn->state;

	if (from == to)
		return;
	if (!conn_transition_ok(from, to))
		elog_printf(conn->p->log, LOG_ERR,
			    "node %s: unexpected state change %s -> %s",
			    conn->addr, conn_state_name(from),
			    conn_state_name(to));
	conn->state = to;
	elog_printf(conn->p->log, LOG_DEBUG, "node %s: %s -> %s", conn->addr,
		    conn_state_name(from), conn_state_name(to));
	if (to == CONN_READY) {
		conn->fail_count = 0;
		if (conn->ever_ready)
			conn->reconnects++;
		conn->ever_ready = true;
	}
	if (conn->p->ops->state_changed)
		conn->p->ops->state_changed(conn, from);
}

bool conn_usable(const struct conn *conn)
{
	switch (conn->state) {
	case CONN_READY:
		return true;
	case CONN_DISCONNECTED:
	case CONN_CONNECTING:
	case CONN_TLS_HANDSHAKE:
	case CONN_HELLO:
		return conn->fail_count == 0;
	default:
		return false;
	}
}

static void conn_watch(struct conn *conn, int events)
{
	if (conn->fd < 0)
		events = 0;
	if (events == conn->events && (events == 0) == !ev_is_active(&conn->io))
		return;
	ev_io_stop(conn->loop, &conn->io);
	conn->events = events;
	if (events) {
		ev_io_set(&conn->io, conn->fd, events);
		ev_io_start(conn->loop, &conn->io);
	}
}

/* Events wanted once TLS is up: always read; write when output is left. */
static void conn_update_events(struct conn *conn)
{
	int events = EV_READ;

	if ((conn->out_len > conn->out_off && !conn->write_wants_read) ||
	    conn->read_wants_write)
		events |= EV_WRITE;
	conn_watch(conn, events);
}

static void conn_rx_reset(struct conn *conn)
{
	if (!conn->in_dispatch)
		rpc_reply_clear(&conn->rx_reply);
	conn->rx = CONN_RX_HDR;
	conn->rx_got = 0;
	conn->rx_req = NULL;
	conn->rx_left = 0;
}

/* Close the socket and forget the session; requests are not touched. */
static void conn_teardown(struct conn *conn)
{
	conn_watch(conn, 0);
	ev_io_stop(conn->loop, &conn->io);
	if (conn->ssl) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	if (conn->ai_list) {
		freeaddrinfo(conn->ai_list);
		conn->ai_list = NULL;
		conn->ai_next = NULL;
	}
	conn->events = 0;
	conn->out_off = conn->out_len = conn->out_retry = 0;
	conn->write_wants_read = conn->read_wants_write = false;
	conn_rx_reset(conn);
}

/* Unlink every request, in flight first (oldest slot order), then queued. */
static struct conn_req *conn_detach_all(struct conn *conn)
{
	struct conn_req *head = NULL, **tail = &head;

	for (uint32_t i = 0; i < conn->n_slots; i++) {
		struct conn_req *req = conn->slots[i].req;

		if (!req)
			continue;
		conn->slots[i].req = NULL;
		req->next = NULL;
		*tail = req;
		tail = &req->next;
	}
	*tail = conn->q_head;
	conn->q_head = NULL;
	conn->q_tail = &conn->q_head;
	conn->inflight = 0;
	conn->queued = 0;
	conn->n_free = 0;
	return head;
}

static void conn_return_all(struct conn *conn, struct conn_req *list, int err)
{
	while (list) {
		struct conn_req *req = list;

		list = req->next;
		req->next = NULL;
		conn->p->ops->returned(conn, req, err);
	}
}

void conn_fail(struct conn *conn, int err, const char *fmt, ...)
{
	struct conn_req *list;
	char why[256];
	double delay;
	va_list ap;

	switch (conn->state) {
	case CONN_CONNECTING:
	case CONN_TLS_HANDSHAKE:
	case CONN_HELLO:
	case CONN_READY:
		break;
	default:
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn->err = err < 0 ? err : -EIO;
	snprintf(conn->errmsg, sizeof(conn->errmsg), "node %s: %s", conn->addr,
		 why);
	/* The same failure again while reconnecting is only worth a debug line. */
	if (strcmp(conn->errmsg, conn->last_logged)) {
		elog_printf(conn->p->log, LOG_WARNING, "%s (%s)", conn->errmsg,
			    conn_state_name(conn->state));
		snprintf(conn->last_logged, sizeof(conn->last_logged), "%s",
			 conn->errmsg);
	} else {
		elog_printf(conn->p->log, LOG_DEBUG, "%s (again)", conn->errmsg);
	}

	list = conn_detach_all(conn);
	conn_teardown(conn);
	conn->fail_count++;
	delay = route_backoff(conn->fail_count - 1, conn->p->backoff_base,
			      conn->p->backoff_max, route_rand(&conn->rnd));
	ev_timer_stop(conn->loop, &conn->timer);
	ev_timer_set(&conn->timer, delay, 0.);
	ev_timer_start(conn->loop, &conn->timer);
	conn_set_state(conn, CONN_BACKOFF);
	conn_return_all(conn, list, conn->err);
}

void conn_close(struct conn *conn)
{
	struct conn_req *list;

	if (conn->state == CONN_CLOSED)
		return;
	list = conn_detach_all(conn);
	conn_teardown(conn);
	ev_timer_stop(conn->loop, &conn->timer);
	conn_set_state(conn, CONN_CLOSED);
	conn_return_all(conn, list, -ESHUTDOWN);
}

void conn_free(struct conn *conn)
{
	if (!conn)
		return;
	conn_close(conn);
	rpc_reply_clear(&conn->rx_reply);
	free(conn->out);
	free(conn->rx_pb);
	free(conn->slots);
	free(conn->free_slots);
	free(conn);
}

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
static int conn_write_out(struct conn *conn)
{
	while (conn->out_off < conn->out_len) {
		size_t len = conn->out_retry ? conn->out_retry :
			     conn->out_len - conn->out_off;
		size_t n = 0;
		int ret;

		ERR_clear_error();
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
		int err = tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
		conn_fail(conn, err, "write failed: %s", msg);
		return -1;
	}
	if (conn->out_off == conn->out_len)
		conn->out_off = conn->out_len = 0;
	conn_update_events(conn);
	return 0;
}

static void conn_copy_data(struct conn *conn, const struct conn_req *req,
			   uint8_t *dst)
{
	struct route_iov_pos pos = req->pos;
	uint64_t left = req->length;

	route_iov_advance(req->iov, req->iovcnt, &pos, 0);
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
			route_iov_advance(req->iov, req->iovcnt, &pos, 0);
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
		break;
	case RPC_OP_CREATE:
	case RPC_OP_INFO:
		snprintf(r.volume, sizeof(r.volume), "%s",
			 req->volume ? req->volume : "");
		r.create_size = req->create_size;
		r.create_block_size = req->create_block_size;
		break;
	default:
		break;
	}
	if (rpc_op_has_request_data(req->op))
		data_len = (uint32_t)req->length;

	max = rpc_request_encoded_max(&r);
	ret = conn_out_reserve(conn, max + data_len);
	if (ret < 0)
		return ret;
	n = rpc_request_encode(&r, data_len, conn->out + conn->out_len,
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

static void conn_arm_try_timer(struct conn *conn)
{
	if (conn->inflight && !ev_is_active(&conn->timer)) {
		conn->timer.repeat = conn->p->try_timeout;
		ev_timer_again(conn->loop, &conn->timer);
	}
}

void conn_flush(struct conn *conn)
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
			conn->p->ops->returned(conn, req, -EMSGSIZE);
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
				conn_fail(conn, -ENOMEM,
					  "out of memory for the output buffer");
				return;
			}
			/* a request the protocol cannot carry */
			conn->p->ops->returned(conn, req, -EINVAL);
			if (conn->state != CONN_READY)
				return;
			continue;
		}
		s->req = req;
		req->id = id;
		req->sent_at = ev_now(conn->loop);
		conn->inflight++;
	}
	if (conn->out_len > conn->out_off && conn_write_out(conn) < 0)
		return;
	conn_arm_try_timer(conn);
}

void conn_submit(struct conn *conn, struct conn_req *req)
{
	if (conn->state == CONN_CLOSED) {
		conn->p->ops->returned(conn, req, -ESHUTDOWN);
		return;
	}
	req->next = NULL;
	*conn->q_tail = req;
	conn->q_tail = &req->next;
	conn->queued++;
	if (conn->state == CONN_DISCONNECTED)
		conn_connect(conn);
	else if (conn->state == CONN_READY && conn->p->ops->kick)
		conn->p->ops->kick(conn);
}

/* ---- HELLO: protocol handshake and open ---- */

static void conn_hello_send(struct conn *conn, enum rpc_op op)
{
	struct conn_req req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.op = op;
	conn->hello_op = op;
	conn->hello_id++;
	ret = conn_encode(conn, &req, conn->hello_id);
	if (ret < 0) {
		conn_fail(conn, ret, "cannot encode %s: %s", rpc_op_name(op),
			  strerror(-ret));
		return;
	}
	conn_write_out(conn);
}

static void conn_hello_finish(struct conn *conn, struct rpc_reply *rep)
{
	char msg[256] = "";
	int ret;

	ret = conn->p->ops->opened(conn, rep, msg, sizeof(msg));
	if (ret < 0) {
		conn_fail(conn, ret, "%s", msg[0] ? msg : strerror(-ret));
		return;
	}
	conn->n_free = 0;
	for (uint32_t i = conn->max_inflight; i > 0; i--)
		conn->free_slots[conn->n_free++] = i - 1;
	ev_timer_stop(conn->loop, &conn->timer);
	conn_set_state(conn, CONN_READY);
	if (conn->state == CONN_READY && conn->q_head && conn->p->ops->kick)
		conn->p->ops->kick(conn);
}

static void conn_hello_reply(struct conn *conn, struct rpc_reply *rep)
{
	const char *st = rpc_status_name(rep->status);

	if (conn->hello_op == RPC_OP_HANDSHAKE) {
		if (rep->status != RPC_STATUS_OK) {
			conn_fail(conn, -EPROTO, "handshake refused: %s%s%s", st,
				  rep->message[0] ? ": " : "", rep->message);
			return;
		}
		if (!rep->has_handshake || rep->handshake.version != RPC_VERSION) {
			conn_fail(conn, -EPROTO,
				  "handshake reply without a usable version (got %u, want %u)",
				  rep->has_handshake ? rep->handshake.version : 0,
				  RPC_VERSION);
			return;
		}
		if (rep->handshake.max_inflight == 0 ||
		    rep->handshake.max_io_size < CLUSTER_SECTOR) {
			conn_fail(conn, -EPROTO,
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
		if (conn->p->volume)
			conn_hello_send(conn, RPC_OP_OPEN);
		else
			conn_hello_finish(conn, rep);
		return;
	}

	switch (rep->status) {
	case RPC_STATUS_OK:
		break;
	case RPC_STATUS_NOT_FOUND:
		conn_fail(conn, -ENOENT, "volume '%s' not found%s%s",
			  conn->p->volume, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	case RPC_STATUS_READ_ONLY:
		conn_fail(conn, -EROFS, "volume '%s' is read-only%s%s",
			  conn->p->volume, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	default:
		conn_fail(conn, -EIO, "open of volume '%s' refused: %s%s%s",
			  conn->p->volume, st, rep->message[0] ? ": " : "",
			  rep->message);
		return;
	}
	if (!rep->has_volume) {
		conn_fail(conn, -EPROTO, "open reply without volume information");
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
		conn->p->ops->reply(conn, req, &conn->rx_reply);
		if (conn->state == CONN_READY && conn->q_head &&
		    conn->p->ops->kick)
			conn->p->ops->kick(conn);
	}
	conn->in_dispatch = false;
	rpc_reply_clear(&conn->rx_reply);
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
	int ret = rpc_frame_hdr_decode(conn->rx_hdr, &conn->rx_frame, max_data);

	if (ret == -EMSGSIZE) {
		conn_fail(conn, -EPROTO,
			  "frame too large from node (limit %u data bytes)",
			  max_data);
		return false;
	}
	if (ret < 0) {
		conn_fail(conn, -EPROTO,
			  "malformed frame header from node (bytes %02x%02x%02x%02x %02x %02x)",
			  conn->rx_hdr[0], conn->rx_hdr[1], conn->rx_hdr[2],
			  conn->rx_hdr[3], conn->rx_hdr[4], conn->rx_hdr[5]);
		return false;
	}
	if (conn->rx_frame.kind != RPC_KIND_REPLY) {
		conn_fail(conn, -EPROTO, "node sent a request frame");
		return false;
	}
	if (conn->rx_frame.hdr_len == 0) {
		conn_fail(conn, -EPROTO, "node sent an empty reply header");
		return false;
	}
	if (conn->rx_pb_cap < conn->rx_frame.hdr_len) {
		size_t cap = conn->rx_pb_cap ? conn->rx_pb_cap : 1024;
		uint8_t *pb;

		while (cap < conn->rx_frame.hdr_len)
			cap *= 2;
		pb = realloc(conn->rx_pb, cap);
		if (!pb) {
			conn_fail(conn, -ENOMEM, "out of memory for a reply header");
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

	if (rpc_reply_decode(conn->rx_pb, conn->rx_frame.hdr_len, rep) < 0) {
		conn_fail(conn, -EPROTO, "undecodable reply header (%u bytes)",
			  conn->rx_frame.hdr_len);
		return false;
	}
	if (conn->state == CONN_HELLO) {
		if (rep->id != conn->hello_id) {
			conn_fail(conn, -EPROTO,
				  "reply id %llu does not answer %s (id %llu)",
				  (unsigned long long)rep->id,
				  rpc_op_name(conn->hello_op),
				  (unsigned long long)conn->hello_id);
			return false;
		}
	} else {
		req = conn_slot_find(conn, rep->id, &slot);
		if (!req) {
			conn_fail(conn, -EPROTO, "reply id %llu is not in flight",
				  (unsigned long long)rep->id);
			return false;
		}
		if (req->op == RPC_OP_READ && rep->status == RPC_STATUS_OK)
			expect = req->length;
	}
	if (conn->rx_frame.data_len != expect) {
		conn_fail(conn, -EPROTO,
			  "reply id %llu (%s, %s) carries %u data bytes, expected %llu",
			  (unsigned long long)rep->id,
			  req ? rpc_op_name(req->op) : rpc_op_name(conn->hello_op),
			  rpc_status_name(rep->status), conn->rx_frame.data_len,
			  (unsigned long long)expect);
		return false;
	}
	conn->rx_req = req;
	if (expect) {
		conn->rx = CONN_RX_DATA;
		conn->rx_pos = req->pos;
		conn->rx_left = expect;
		route_iov_advance(req->iov, req->iovcnt, &conn->rx_pos, 0);
		return true;
	}
	return conn_dispatch(conn);
}

/* Read and handle what TLS has, within the per-wake-up budget. */
static void conn_read(struct conn *conn)
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

		ERR_clear_error();
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
			err = tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
			conn_fail(conn, err, "%s", msg);
			return;
		}
		conn->read_wants_write = false;
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
				route_iov_advance(conn->rx_req->iov,
						  conn->rx_req->iovcnt,
						  &conn->rx_pos, 0);
			}
			break;
		}
		if (conn->state != CONN_READY && conn->state != CONN_HELLO)
			return;
	}
}

/* ---- connecting ---- */

static void conn_tls_step(struct conn *conn)
{
	char msg[256];
	int ret, e, err;

	ERR_clear_error();
	ret = SSL_connect(conn->ssl);
	if (ret == 1) {
		elog_printf(conn->p->log, LOG_DEBUG, "node %s: TLS up (%s, %s)",
			    conn->addr, SSL_get_version(conn->ssl),
			    SSL_get_cipher_name(conn->ssl));
		conn_set_state(conn, CONN_HELLO);
		if (conn->state != CONN_HELLO)
			return;
		conn_update_events(conn);
		conn_hello_send(conn, RPC_OP_HANDSHAKE);
		return;
	}
	e = SSL_get_error(conn->ssl, ret);
	if (e == SSL_ERROR_WANT_READ) {
		conn_watch(conn, EV_READ);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		conn_watch(conn, EV_WRITE);
		return;
	}
	err = tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
	conn_fail(conn, err, "TLS handshake failed: %s", msg);
}

static void conn_tcp_up(struct conn *conn)
{
	const char *name = conn->p->server_name ? conn->p->server_name :
			   conn->host;
	char msg[256];
	int one = 1;

	freeaddrinfo(conn->ai_list);
	conn->ai_list = conn->ai_next = NULL;
	setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn->ssl = tls_client_new(conn->p->ssl_ctx, conn->fd, name, msg,
				   sizeof(msg));
	if (!conn->ssl) {
		conn_fail(conn, -EPROTO, "%s", msg);
		return;
	}
	conn_set_state(conn, CONN_TLS_HANDSHAKE);
	if (conn->state == CONN_TLS_HANDSHAKE)
		conn_tls_step(conn);
}

/* Try the remaining resolved addresses until one connects or is pending. */
static void conn_connect_next(struct conn *conn)
{
	int last = ECONNREFUSED;

	while (conn->ai_next) {
		struct addrinfo *ai = conn->ai_next;

		conn->ai_next = ai->ai_next;
		conn->fd = socket(ai->ai_family,
				  ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				  ai->ai_protocol);
		if (conn->fd < 0) {
			last = errno;
			continue;
		}
		if (connect(conn->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			conn_tcp_up(conn);
			return;
		}
		if (errno == EINPROGRESS) {
			conn_watch(conn, EV_WRITE);
			return;
		}
		last = errno;
		close(conn->fd);
		conn->fd = -1;
	}
	conn_fail(conn, -last, "cannot connect: %s", strerror(last));
}

void conn_connect(struct conn *conn)
{
	struct addrinfo hints;
	int ret;

	if (conn->state != CONN_DISCONNECTED && conn->state != CONN_BACKOFF)
		return;
	ev_timer_stop(conn->loop, &conn->timer);
	conn_set_state(conn, CONN_CONNECTING);
	if (conn->state != CONN_CONNECTING)
		return;
	ev_timer_set(&conn->timer, conn->p->connect_timeout, 0.);
	ev_timer_start(conn->loop, &conn->timer);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	if (tls_name_is_ip(conn->host))
		hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	/* Note: a DNS name is resolved synchronously here. */
	ret = getaddrinfo(conn->host, conn->port, &hints, &conn->ai_list);
	if (ret) {
		conn->ai_list = NULL;
		conn_fail(conn, -EHOSTUNREACH, "cannot resolve '%s': %s",
			  conn->host, gai_strerror(ret));
		return;
	}
	conn->ai_next = conn->ai_list;
	conn_connect_next(conn);
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *conn = w->data;

	switch (conn->state) {
	case CONN_CONNECTING: {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr == 0) {
			conn_tcp_up(conn);
			return;
		}
		conn_watch(conn, 0);
		close(conn->fd);
		conn->fd = -1;
		if (conn->ai_next) {
			conn_connect_next(conn);
			return;
		}
		conn_fail(conn, -soerr, "cannot connect: %s", strerror(soerr));
		return;
	}
	case CONN_TLS_HANDSHAKE:
		conn_tls_step(conn);
		return;
	case CONN_HELLO:
	case CONN_READY:
		break;
	default:
		conn_watch(conn, 0);
		return;
	}

	if ((revents & EV_WRITE) || (conn->write_wants_read && (revents & EV_READ))) {
		if (conn_write_out(conn) < 0)
			return;
	}
	if ((revents & EV_READ) || (conn->read_wants_write && (revents & EV_WRITE))) {
		conn_read(conn);
		if (conn->state != CONN_READY && conn->state != CONN_HELLO)
			return;
	}
	conn_update_events(conn);
}

/* Oldest send time among requests in flight, or 0 when none. */
static double conn_oldest_sent(const struct conn *conn, uint64_t *id)
{
	double oldest = 0;

	for (uint32_t i = 0; i < conn->n_slots; i++) {
		const struct conn_req *req = conn->slots[i].req;

		if (req && (oldest == 0 || req->sent_at < oldest)) {
			oldest = req->sent_at;
			*id = req->id;
		}
	}
	return oldest;
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *conn = w->data;

	switch (conn->state) {
	case CONN_CONNECTING:
	case CONN_TLS_HANDSHAKE:
	case CONN_HELLO:
		conn_fail(conn, -ETIMEDOUT, "timed out after %.1f s in the %s",
			  conn->p->connect_timeout,
			  conn->state == CONN_CONNECTING ? "TCP connect" :
			  conn->state == CONN_TLS_HANDSHAKE ? "TLS handshake" :
			  "protocol handshake");
		return;
	case CONN_BACKOFF:
		conn_connect(conn);
		return;
	case CONN_READY: {
		uint64_t id = 0;
		double oldest = conn_oldest_sent(conn, &id);
		double now = ev_now(loop);

		if (oldest == 0) {
			ev_timer_stop(loop, w);
			return;
		}
		if (now - oldest >= conn->p->try_timeout - 0.001) {
			conn_fail(conn, -ETIMEDOUT,
				  "request id %llu timed out: no reply within %.1f s",
				  (unsigned long long)id, conn->p->try_timeout);
			return;
		}
		w->repeat = oldest + conn->p->try_timeout - now;
		ev_timer_again(loop, w);
		return;
	}
	default:
		ev_timer_stop(loop, w);
		return;
	}
}

struct conn *conn_new(struct ev_loop *loop, const char *addr,
		      const struct conn_params *params)
{
	struct conn *conn;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	if (strlen(addr) >= sizeof(conn->addr) ||
	    route_addr_split(addr, conn->host, sizeof(conn->host), conn->port,
			     sizeof(conn->port)) < 0) {
		free(conn);
		errno = EINVAL;
		return NULL;
	}
	snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
	conn->loop = loop;
	conn->p = params;
	conn->fd = -1;
	conn->state = CONN_DISCONNECTED;
	conn->q_tail = &conn->q_head;
	conn->n_slots = params->max_inflight;
	conn->slots = calloc(conn->n_slots, sizeof(*conn->slots));
	conn->free_slots = calloc(conn->n_slots, sizeof(*conn->free_slots));
	if (!conn->slots || !conn->free_slots) {
		free(conn->slots);
		free(conn->free_slots);
		free(conn);
		errno = ENOMEM;
		return NULL;
	}
	conn->rnd = (uint64_t)(uintptr_t)conn ^ (uint64_t)(ev_now(loop) * 1e6);
	ev_io_init(&conn->io, conn_io_cb, -1, 0);
	conn->io.data = conn;
	ev_init(&conn->timer, conn_timer_cb);
	conn->timer.data = conn;
	return conn;
}
