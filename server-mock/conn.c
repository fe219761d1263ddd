/* SPDX-License-Identifier: MIT */
/* One client connection: TLS, buffers, framing, held requests (conn.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "conn.h"
#include "sockbio.h"
#include "tls.h"

#define MOCK_IN_INITIAL     (64u << 10)
#define MOCK_OUT_INITIAL    (64u << 10)
#define MOCK_READ_ROOM      (32u << 10) /* free input space wanted per read */
#define MOCK_READS_PER_WAKE 64

static const char *const mock_conn_state_names[MOCK_CONN_STATE_MAX] = {
	[MOCK_CONN_TLS_HANDSHAKE] = "tls-handshake",
	[MOCK_CONN_AWAIT_HELLO] = "await-hello",
	[MOCK_CONN_READY] = "ready",
	[MOCK_CONN_OPEN] = "open",
	[MOCK_CONN_CLOSED] = "closed",
};

const char *mock_conn_state_name(enum mock_conn_state state)
{
	if ((unsigned)state >= MOCK_CONN_STATE_MAX)
		return "?";
	return mock_conn_state_names[state];
}

static bool mock_conn_transition_valid(enum mock_conn_state from,
				       enum mock_conn_state to)
{
	switch (to) {
	case MOCK_CONN_AWAIT_HELLO:
		return from == MOCK_CONN_TLS_HANDSHAKE;
	case MOCK_CONN_READY:
		return from == MOCK_CONN_AWAIT_HELLO;
	case MOCK_CONN_OPEN:
		return from == MOCK_CONN_READY || from == MOCK_CONN_OPEN;
	case MOCK_CONN_CLOSED:
		return from != MOCK_CONN_CLOSED;
	default:
		return false;
	}
}

void mock_conn_set_state(struct mock_conn *conn, enum mock_conn_state state)
{
	if (!mock_conn_transition_valid(conn->state, state)) {
		mock_err("client %s: invalid state change %s -> %s", conn->peer,
			 mock_conn_state_name(conn->state),
			 mock_conn_state_name(state));
		return;
	}
	if (conn->state != state)
		mock_debug("client %s: %s -> %s", conn->peer,
			   mock_conn_state_name(conn->state),
			   mock_conn_state_name(state));
	conn->state = state;
}

struct mock_node *mock_conn_node(struct mock_conn *conn)
{
	return &conn->srv->node;
}

const char *mock_conn_peer(const struct mock_conn *conn)
{
	return conn->peer;
}

bool mock_conn_closed(const struct mock_conn *conn)
{
	return conn->state == MOCK_CONN_CLOSED;
}

bool mock_conn_awaits_hello(const struct mock_conn *conn)
{
	return conn->state == MOCK_CONN_AWAIT_HELLO;
}

uint32_t mock_conn_max_io_size(const struct mock_conn *conn)
{
	return conn->max_io_size ? conn->max_io_size :
	       conn->srv->cfg->max_io_size;
}

void mock_conn_open(struct mock_conn *conn, struct mock_volume *vol,
		    bool read_only)
{
	conn->vol = vol;
	conn->read_only = read_only;
	mock_conn_set_state(conn, MOCK_CONN_OPEN);
}

struct mock_volume *mock_conn_volume(const struct mock_conn *conn,
				     bool *read_only)
{
	if (conn->state != MOCK_CONN_OPEN)
		return NULL;
	*read_only = conn->read_only;
	return conn->vol;
}

/* Make room for need bytes after len: compact first, grow when that is not enough. */
static int mock_buf_reserve(struct mock_buf *b, size_t need)
{
	size_t used = b->len - b->off;
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= need)
		return 0;
	if (b->off > 0 && b->cap - used >= need) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		return 0;
	}
	cap = b->cap ? b->cap : MOCK_OUT_INITIAL;
	while (cap - used < need)
		cap *= 2;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static size_t mock_buf_pending(const struct mock_buf *b)
{
	return b->len - b->off;
}

static size_t mock_conn_out_high(const struct mock_conn *conn)
{
	size_t high = 2 * (size_t)mock_conn_max_io_size(conn);

	return high < (256u << 10) ? (256u << 10) : high;
}

static void mock_conn_update_watchers(struct mock_conn *conn)
{
	struct ev_loop *loop = conn->srv->loop;
	bool want_rd, want_wr;

	if (mock_conn_closed(conn))
		return;
	if (conn->state == MOCK_CONN_TLS_HANDSHAKE) {
		want_rd = true;
		want_wr = conn->read_wants_write;
	} else {
		want_rd = !conn->input_blocked || conn->write_wants_read;
		want_wr = conn->read_wants_write || conn->out_blocked ||
			  nb_sockbio_unsent(conn->ssl) > 0;
	}
	if (want_rd && !ev_is_active(&conn->rd))
		ev_io_start(loop, &conn->rd);
	else if (!want_rd && ev_is_active(&conn->rd))
		ev_io_stop(loop, &conn->rd);
	if (want_wr && !ev_is_active(&conn->wr))
		ev_io_start(loop, &conn->wr);
	else if (!want_wr && ev_is_active(&conn->wr))
		ev_io_stop(loop, &conn->wr);
}

/* Unblock input when there is room again, and come back to it from the loop. */
static void mock_conn_maybe_resume(struct mock_conn *conn)
{
	if (!conn->input_blocked || mock_conn_closed(conn))
		return;
	if (conn->max_inflight && conn->n_held >= conn->max_inflight)
		return;
	if (mock_buf_pending(&conn->out) > mock_conn_out_high(conn) / 2)
		return;
	conn->input_blocked = false;
	mock_conn_update_watchers(conn);
	/* Frames may wait in our buffer or inside OpenSSL: no socket event will say so. */
	ev_feed_event(conn->srv->loop, &conn->rd, EV_READ);
}

void mock_conn_close(struct mock_conn *conn, bool abrupt)
{
	struct mock_server *srv = conn->srv;
	struct ev_loop *loop = srv->loop;

	if (mock_conn_closed(conn))
		return;
	if (!abrupt && conn->state != MOCK_CONN_TLS_HANDSHAKE) {
		ERR_clear_error();
		SSL_shutdown(conn->ssl); /* best effort close_notify */
		ERR_clear_error();
	}
	ev_io_stop(loop, &conn->rd);
	ev_clear_pending(loop, &conn->rd);
	ev_io_stop(loop, &conn->wr);
	ev_clear_pending(loop, &conn->wr);
	ev_timer_stop(loop, &conn->hello_timer);
	ev_clear_pending(loop, &conn->hello_timer);
	for (uint32_t i = 0; i < conn->max_inflight && conn->held; i++) {
		ev_timer_stop(loop, &conn->held[i].timer);
		ev_clear_pending(loop, &conn->held[i].timer);
	}
	srv->node.stats.inflight -= conn->n_held;
	conn->n_held = 0;
	conn->stalled_head = conn->stalled_tail = NULL;
	close(conn->fd);
	conn->fd = -1;

	if (conn->prev)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	srv->n_conns--;
	conn->prev = NULL;
	conn->next = srv->dead;
	srv->dead = conn;
	mock_conn_set_state(conn, MOCK_CONN_CLOSED);
}

void mock_conn_free(struct mock_conn *conn)
{
	if (!conn)
		return;
	if (conn->held) {
		for (uint32_t i = 0; i < conn->max_inflight; i++)
			free(conn->held[i].data);
		free(conn->held);
	}
	if (conn->fd >= 0)
		close(conn->fd);
	SSL_free(conn->ssl);
	free(conn->in.data);
	free(conn->out.data);
	free(conn);
}

static void mock_conn_fail(struct mock_conn *conn, const char *what, int ssl_err,
			   int ret)
{
	unsigned long e = ERR_peek_error();
	bool eof = (ssl_err == SSL_ERROR_SYSCALL && e == 0) ||
		   ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
	char why[512];

	mock_tls_describe(conn->ssl, ssl_err, ret, why, sizeof(why));
	if (conn->state == MOCK_CONN_TLS_HANDSHAKE)
		mock_warn("client %s: TLS handshake failed: %s", conn->peer, why);
	else if (eof)
		mock_info("client %s: %s: %s", conn->peer, what, why);
	else
		mock_warn("client %s: %s: %s", conn->peer, what, why);
	mock_conn_close(conn, true);
}

void mock_conn_flush(struct mock_conn *conn)
{
	struct mock_buf *b = &conn->out;
	int r;

	if (mock_conn_closed(conn) || conn->state == MOCK_CONN_TLS_HANDSHAKE)
		return;
	conn->out_blocked = false;
	conn->write_wants_read = false;
	while (mock_buf_pending(b) > 0) {
		size_t pending = mock_buf_pending(b);
		int len = pending > INT_MAX ? INT_MAX : (int)pending;
		int n, err;

		ERR_clear_error();
		/*
		 * A retry after WANT_WRITE passes at least the bytes of the
		 * failed call (the output only grows at its end) and the
		 * context accepts a moved buffer.
		 */
		n = SSL_write(conn->ssl, b->data + b->off, len);
		if (n > 0) {
			b->off += (size_t)n;
			continue;
		}
		err = SSL_get_error(conn->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE) {
			conn->out_blocked = true;
			break;
		}
		if (err == SSL_ERROR_WANT_READ) {
			conn->write_wants_read = true;
			break;
		}
		mock_conn_fail(conn, "write failed", err, n);
		return;
	}
	/*
	 * The socket BIO gathered the records of this batch: one send for
	 * all of them. What the socket does not take goes out when it is
	 * writable again (the write watcher stays on while bytes are left).
	 */
	r = nb_sockbio_flush(conn->ssl);
	if (r == -EAGAIN) {
		conn->out_blocked = true;
	} else if (r < 0) {
		ERR_clear_error();
		errno = -r;
		mock_conn_fail(conn, "write failed", SSL_ERROR_SYSCALL, -1);
		return;
	}
	if (mock_buf_pending(b) == 0)
		b->off = b->len = 0;
	mock_conn_maybe_resume(conn);
	mock_conn_update_watchers(conn);
}

void mock_conn_mark_dirty(struct mock_conn *conn)
{
	if (conn->dirty || mock_conn_closed(conn))
		return;
	conn->dirty = true;
	conn->dirty_next = conn->srv->dirty;
	conn->srv->dirty = conn;
}

uint8_t *mock_conn_reserve(struct mock_conn *conn, size_t len)
{
	if (mock_buf_reserve(&conn->out, len) < 0)
		return NULL;
	return conn->out.data + conn->out.len;
}

void mock_conn_commit(struct mock_conn *conn, size_t n)
{
	conn->out.len += n;
}

int mock_conn_send_reply(struct mock_conn *conn, const struct rpc_reply *rep)
{
	size_t max = nb_rpc_reply_encoded_max(rep);
	uint8_t *p;
	int n;

	if (mock_conn_closed(conn))
		return -EPIPE;
	p = mock_conn_reserve(conn, max);
	if (!p) {
		mock_err("client %s: out of memory for a reply; closing", conn->peer);
		mock_conn_close(conn, true);
		return -ENOMEM;
	}
	n = nb_rpc_reply_encode(rep, 0, p, max);
	if (n < 0) {
		mock_err("client %s: cannot encode %s reply to request %llu: %s",
			 conn->peer, nb_rpc_status_name(rep->status),
			 (unsigned long long)rep->id, strerror(-n));
		return n;
	}
	mock_conn_commit(conn, (size_t)n);
	return 0;
}

static void mock_conn_held_timer_cb(struct ev_loop *loop, ev_timer *w,
				    int revents);

int mock_conn_grant(struct mock_conn *conn, uint32_t max_inflight,
		    uint32_t max_io_size)
{
	struct mock_held *held = calloc(max_inflight, sizeof(*held));

	if (!held)
		return -ENOMEM;
	for (uint32_t i = 0; i < max_inflight; i++) {
		held[i].conn = conn;
		ev_timer_init(&held[i].timer, mock_conn_held_timer_cb, 0., 0.);
		held[i].timer.data = &held[i];
		held[i].next = i + 1 < max_inflight ? &held[i + 1] : NULL;
	}
	conn->held = held;
	conn->free_held = held;
	conn->max_inflight = max_inflight;
	conn->max_io_size = max_io_size;
	ev_timer_stop(conn->srv->loop, &conn->hello_timer);
	mock_conn_set_state(conn, MOCK_CONN_READY);
	return 0;
}

/* A free held-request slot, NULL when all are in use. */
static struct mock_held *mock_conn_held_get(struct mock_conn *conn)
{
	struct mock_held *held = conn->free_held;

	if (!held)
		return NULL;
	conn->free_held = held->next;
	held->next = NULL;
	conn->n_held++;
	conn->srv->node.stats.inflight++;
	return held;
}

static void mock_conn_held_put(struct mock_conn *conn, struct mock_held *held)
{
	if (mock_conn_closed(conn))
		return;
	held->next = conn->free_held;
	conn->free_held = held;
	conn->n_held--;
	conn->srv->node.stats.inflight--;
	mock_conn_maybe_resume(conn);
}

static void mock_conn_stall_push(struct mock_conn *conn, struct mock_held *held)
{
	held->next = NULL;
	if (conn->stalled_tail)
		conn->stalled_tail->next = held;
	else
		conn->stalled_head = held;
	conn->stalled_tail = held;
}

int mock_conn_hold(struct mock_conn *conn, const struct rpc_request *req,
		   const uint8_t *data, uint32_t data_len, bool stall,
		   uint32_t delay_ms)
{
	struct mock_held *held = mock_conn_held_get(conn);

	if (!held)
		return -EBUSY;
	held->req = *req;
	if (data_len > 0) {
		if (held->data_cap < data_len) {
			uint8_t *p = realloc(held->data, data_len);

			if (!p) {
				mock_conn_held_put(conn, held);
				return -ENOMEM;
			}
			held->data = p;
			held->data_cap = data_len;
		}
		memcpy(held->data, data, data_len);
	}
	if (stall) {
		mock_conn_stall_push(conn, held);
		return 0;
	}
	ev_timer_set(&held->timer, delay_ms / 1000.0, 0.);
	ev_timer_start(conn->srv->loop, &held->timer);
	return 0;
}

/* Timer of a request held by a delay fault. */
static void mock_conn_held_timer_cb(struct ev_loop *loop, ev_timer *w,
				    int revents)
{
	struct mock_held *held = w->data;
	struct mock_conn *conn = held->conn;

	if (conn->srv->node.faults.stall) {
		mock_conn_stall_push(conn, held);
		return;
	}
	mock_request_execute(conn, &held->req, held->data);
	mock_conn_held_put(conn, held);
	mock_conn_mark_dirty(conn);
}

void mock_conn_release_stalled(struct mock_conn *conn)
{
	while (conn->stalled_head && !mock_conn_closed(conn)) {
		struct mock_held *held = conn->stalled_head;

		conn->stalled_head = held->next;
		if (!conn->stalled_head)
			conn->stalled_tail = NULL;
		mock_request_execute(conn, &held->req, held->data);
		mock_conn_held_put(conn, held);
	}
	mock_conn_mark_dirty(conn);
}

static void mock_conn_malformed(struct mock_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mock_conn_malformed(struct mock_conn *conn, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	mock_warn("client %s: malformed frame: %s; closing the connection",
		  conn->peer, why);
	mock_conn_close(conn, true);
}

int mock_conn_input(struct mock_conn *conn, const void *data, size_t len)
{
	if (mock_buf_reserve(&conn->in, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(conn->in.data + conn->in.len, data, len);
	conn->in.len += len;
	return 0;
}

int mock_conn_parse(struct mock_conn *conn)
{
	uint32_t max_data = mock_conn_max_io_size(conn);
	struct mock_buf *b = &conn->in;
	size_t high = mock_conn_out_high(conn);

	for (;;) {
		struct rpc_frame_hdr fh;
		struct rpc_request req;
		const uint8_t *p;
		size_t avail, total;
		int r;

		if (conn->max_inflight && conn->n_held >= conn->max_inflight)
			return 1;
		if (mock_buf_pending(&conn->out) > high)
			return 1;
		avail = mock_buf_pending(b);
		if (avail < RPC_FRAME_HDR_SIZE)
			return 0;
		p = b->data + b->off;
		r = nb_rpc_frame_hdr_decode(p, &fh, max_data);
		if (r == -EMSGSIZE) {
			mock_conn_malformed(conn, "frame larger than allowed (header limit %u bytes, data limit %u bytes)",
					    MOCK_MAX_REQ_HDR, max_data);
			return -1;
		}
		if (r < 0) {
			mock_conn_malformed(conn, "bad frame header (magic, version or kind)");
			return -1;
		}
		if (fh.kind != RPC_KIND_REQUEST) {
			mock_conn_malformed(conn, "client sent a reply frame");
			return -1;
		}
		if (fh.hdr_len > MOCK_MAX_REQ_HDR) {
			mock_conn_malformed(conn, "request header of %u bytes (limit %u)",
					    fh.hdr_len, MOCK_MAX_REQ_HDR);
			return -1;
		}
		total = RPC_FRAME_HDR_SIZE + (size_t)fh.hdr_len + fh.data_len;
		if (avail < total)
			return 0;
		r = nb_rpc_request_decode(p + RPC_FRAME_HDR_SIZE, fh.hdr_len, &req);
		if (r < 0) {
			mock_conn_malformed(conn, "undecodable request header (%u bytes)",
					    fh.hdr_len);
			return -1;
		}
		b->off += total;
		r = mock_request_handle(conn, &req, p + RPC_FRAME_HDR_SIZE + fh.hdr_len,
					fh.data_len);
		if (r < 0)
			return -1;
		if (b->off == b->len)
			b->off = b->len = 0;
	}
}

static void mock_conn_do_input(struct mock_conn *conn)
{
	struct mock_buf *b = &conn->in;
	int reads = 0;

	for (;;) {
		int r = mock_conn_parse(conn);
		int n, err;
		size_t room;

		if (r < 0)
			return;
		if (r > 0) {
			conn->input_blocked = true;
			break;
		}
		if (reads++ >= MOCK_READS_PER_WAKE) {
			/* Fairness: continue on the next loop iteration. */
			ev_feed_event(conn->srv->loop, &conn->rd, EV_READ);
			break;
		}
		if (mock_buf_reserve(b, MOCK_READ_ROOM) < 0) {
			mock_err("client %s: out of memory for input; closing", conn->peer);
			mock_conn_close(conn, true);
			return;
		}
		room = b->cap - b->len;
		ERR_clear_error();
		n = SSL_read(conn->ssl, b->data + b->len, room > INT_MAX ? INT_MAX : (int)room);
		if (n > 0) {
			b->len += (size_t)n;
			continue;
		}
		err = SSL_get_error(conn->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_WANT_WRITE) {
			conn->read_wants_write = true;
			break;
		}
		if (err == SSL_ERROR_ZERO_RETURN) {
			mock_info("client %s: closed the connection", conn->peer);
			mock_conn_close(conn, false);
			return;
		}
		mock_conn_fail(conn, "connection lost", err, n);
		return;
	}
	mock_conn_flush(conn);
	mock_conn_update_watchers(conn);
}

static void mock_conn_log_peer_cert(struct mock_conn *conn)
{
	X509 *cert;
	char subject[256] = "?";

	if (!log_enabled(LOG_INFO))
		return;
	cert = SSL_get1_peer_certificate(conn->ssl);
	if (cert) {
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
		X509_free(cert);
	}
	mock_info("client %s: TLS established (%s, %s), client certificate %s",
		  conn->peer, SSL_get_version(conn->ssl),
		  SSL_get_cipher_name(conn->ssl), subject);
}

static void mock_conn_do_handshake(struct mock_conn *conn)
{
	int r, err;

	ERR_clear_error();
	r = SSL_accept(conn->ssl);
	if (r == 1) {
		conn->read_wants_write = false;
		mock_conn_set_state(conn, MOCK_CONN_AWAIT_HELLO);
		mock_conn_log_peer_cert(conn);
		mock_conn_do_input(conn);
		return;
	}
	err = SSL_get_error(conn->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		conn->read_wants_write = false;
	} else if (err == SSL_ERROR_WANT_WRITE) {
		conn->read_wants_write = true;
	} else {
		mock_conn_fail(conn, "TLS handshake failed", err, r);
		return;
	}
	mock_conn_update_watchers(conn);
}

static void mock_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mock_conn *conn = w->data;

	if (conn->state == MOCK_CONN_TLS_HANDSHAKE) {
		mock_conn_do_handshake(conn);
		return;
	}
	if ((revents & EV_WRITE) && conn->read_wants_write) {
		conn->read_wants_write = false;
		mock_conn_do_input(conn);
	}
	if ((revents & EV_WRITE) && !mock_conn_closed(conn) &&
	    (conn->out_blocked || nb_sockbio_unsent(conn->ssl) > 0))
		mock_conn_flush(conn);
	if ((revents & EV_READ) && !mock_conn_closed(conn) && conn->write_wants_read)
		mock_conn_flush(conn);
	if ((revents & EV_READ) && !mock_conn_closed(conn) && !conn->input_blocked)
		mock_conn_do_input(conn);
	mock_conn_update_watchers(conn);
}

static void mock_conn_hello_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mock_conn *conn = w->data;

	mock_warn("client %s: no %s within %u s (state %s); closing", conn->peer,
		  conn->state == MOCK_CONN_TLS_HANDSHAKE ? "TLS handshake" : "HANDSHAKE request",
		  conn->srv->cfg->hello_timeout, mock_conn_state_name(conn->state));
	mock_conn_close(conn, true);
}

struct mock_conn *mock_conn_new(struct mock_server *srv, int fd, const char *peer)
{
	struct mock_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->srv = srv;
	conn->fd = fd;
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
	conn->state = MOCK_CONN_TLS_HANDSHAKE;
	conn->ssl = SSL_new(srv->ssl_ctx);
	/* Records gathered per batch, many received per recv (sockbio.h). */
	if (!conn->ssl || nb_sockbio_attach(conn->ssl, fd) < 0) {
		ERR_clear_error();
		SSL_free(conn->ssl);
		free(conn);
		errno = ENOMEM;
		return NULL;
	}
	SSL_set_accept_state(conn->ssl);
	ev_io_init(&conn->rd, mock_conn_io_cb, fd, EV_READ);
	conn->rd.data = conn;
	ev_io_init(&conn->wr, mock_conn_io_cb, fd, EV_WRITE);
	conn->wr.data = conn;
	ev_timer_init(&conn->hello_timer, mock_conn_hello_timeout_cb,
		      conn->srv->cfg->hello_timeout ? conn->srv->cfg->hello_timeout : 10., 0.);
	conn->hello_timer.data = conn;
	ev_io_start(srv->loop, &conn->rd);
	ev_timer_start(srv->loop, &conn->hello_timer);

	conn->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = conn;
	srv->conns = conn;
	srv->n_conns++;
	return conn;
}
