/* SPDX-License-Identifier: MIT */
/* One client connection: TLS, buffers, framing, request slots (srv_conn.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "sockbio.h"
#include "srv_conn.h"
#include "srv_tls.h"

#define SRV_IN_INITIAL     (64u << 10)
#define SRV_OUT_INITIAL    (64u << 10)
#define SRV_READ_ROOM      (32u << 10) /* free input space wanted per read */
#define SRV_READS_PER_WAKE 64

static const char *const srv_conn_state_names[SRV_CONN_STATE_MAX] = {
	[SRV_CONN_TLS_HANDSHAKE] = "tls-handshake",
	[SRV_CONN_AWAIT_HELLO] = "await-hello",
	[SRV_CONN_READY] = "ready",
	[SRV_CONN_OPEN] = "open",
	[SRV_CONN_CLOSED] = "closed",
};

const char *nb_srv_conn_state_name(enum srv_conn_state state)
{
	if ((unsigned)state >= SRV_CONN_STATE_MAX)
		return "?";
	return srv_conn_state_names[state];
}

static bool srv_conn_transition_valid(enum srv_conn_state from,
				       enum srv_conn_state to)
{
	switch (to) {
	case SRV_CONN_AWAIT_HELLO:
		return from == SRV_CONN_TLS_HANDSHAKE;
	case SRV_CONN_READY:
		return from == SRV_CONN_AWAIT_HELLO;
	case SRV_CONN_OPEN:
		return from == SRV_CONN_READY || from == SRV_CONN_OPEN;
	case SRV_CONN_CLOSED:
		return from != SRV_CONN_CLOSED;
	default:
		return false;
	}
}

void nb_srv_conn_set_state(struct srv_conn *conn, enum srv_conn_state state)
{
	if (!srv_conn_transition_valid(conn->state, state)) {
		srv_err("client %s: invalid state change %s -> %s", conn->peer,
			 nb_srv_conn_state_name(conn->state),
			 nb_srv_conn_state_name(state));
		return;
	}
	if (conn->state != state)
		srv_debug("client %s: %s -> %s", conn->peer,
			   nb_srv_conn_state_name(conn->state),
			   nb_srv_conn_state_name(state));
	conn->state = state;
}

uint32_t nb_srv_conn_max_io_size(const struct srv_conn *conn)
{
	return conn->max_io_size ? conn->max_io_size :
	       conn->srv->cfg->max_io_size;
}

void nb_srv_conn_open(struct srv_conn *conn, struct srv_volume *vol,
		      bool read_only, bool lock_bound, uint64_t lock_gen)
{
	if (conn->vol)  /* a second OPEN: the first volume's reference */
		nb_srv_volume_put(conn->srv, conn->vol);
	conn->vol = vol;
	conn->read_only = read_only;
	conn->lock_bound = lock_bound;
	conn->lock_gen = lock_gen;
	conn->fenced_logged = false;
	nb_srv_conn_set_state(conn, SRV_CONN_OPEN);
}

/* Make room for need bytes after len: compact first, grow when that is not enough. */
static int srv_buf_reserve(struct srv_buf *b, size_t need)
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
	cap = b->cap ? b->cap : SRV_OUT_INITIAL;
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

static size_t srv_buf_pending(const struct srv_buf *b)
{
	return b->len - b->off;
}

static size_t srv_conn_out_high(const struct srv_conn *conn)
{
	size_t high = 2 * (size_t)nb_srv_conn_max_io_size(conn);

	return high < (256u << 10) ? (256u << 10) : high;
}

static void srv_conn_update_watchers(struct srv_conn *conn)
{
	struct ev_loop *loop = conn->worker->loop;
	bool want_rd, want_wr;

	if (nb_srv_conn_closed(conn))
		return;
	if (conn->state == SRV_CONN_TLS_HANDSHAKE) {
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
static void srv_conn_maybe_resume(struct srv_conn *conn)
{
	if (!conn->input_blocked || nb_srv_conn_closed(conn))
		return;
	if (conn->max_inflight && conn->n_inflight >= conn->max_inflight)
		return;
	if (srv_buf_pending(&conn->out) > srv_conn_out_high(conn) / 2)
		return;
	conn->input_blocked = false;
	srv_conn_update_watchers(conn);
	/* Frames may wait in our buffer or inside OpenSSL: no socket event will say so. */
	ev_feed_event(conn->worker->loop, &conn->rd, EV_READ);
}

void nb_srv_conn_close(struct srv_conn *conn, bool abrupt)
{
	struct srv_worker *w = conn->worker;
	struct ev_loop *loop = w->loop;

	if (nb_srv_conn_closed(conn))
		return;
	if (!abrupt && conn->state != SRV_CONN_TLS_HANDSHAKE) {
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
	close(conn->fd);
	conn->fd = -1;

	if (conn->prev)
		conn->prev->next = conn->next;
	else
		w->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	__atomic_fetch_sub(&w->n_conns, 1, __ATOMIC_RELAXED);
	conn->prev = NULL;
	conn->next = w->dead;
	w->dead = conn;
	nb_srv_conn_set_state(conn, SRV_CONN_CLOSED);

	/*
	 * Requests the store has not started must not run now that the
	 * client may send them elsewhere (docs/protocol.md): the store
	 * drops them; the others complete and are freed unanswered.
	 */
	for (uint32_t i = 0; i < conn->max_inflight && conn->reqs; i++) {
		struct srv_req *rq = &conn->reqs[i];
		struct nb_store_vol *vol = rq->vol ? rq->vol->vol : NULL;

		if (rq->busy && vol && vol->store->ops->cancel)
			vol->store->ops->cancel(vol, &rq->io);
	}
}

void nb_srv_conn_free(struct srv_conn *conn)
{
	if (!conn)
		return;
	nb_srv_volume_put(conn->srv, conn->vol);
	conn->vol = NULL;
	if (conn->reqs) {
		for (uint32_t i = 0; i < conn->max_inflight; i++)
			free(conn->reqs[i].buf);
		free(conn->reqs);
	}
	if (conn->fd >= 0)
		close(conn->fd);
	SSL_free(conn->ssl);
	free(conn->in.data);
	free(conn->out.data);
	free(conn);
}

static void srv_conn_fail(struct srv_conn *conn, const char *what, int ssl_err,
			   int ret)
{
	unsigned long e = ERR_peek_error();
	bool eof = (ssl_err == SSL_ERROR_SYSCALL && e == 0) ||
		   ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
	char why[512];

	nb_srv_tls_describe(conn->ssl, ssl_err, ret, why, sizeof(why));
	if (conn->state == SRV_CONN_TLS_HANDSHAKE)
		srv_warn("client %s: TLS handshake failed: %s", conn->peer, why);
	else if (eof)
		srv_info("client %s: %s: %s", conn->peer, what, why);
	else
		srv_warn("client %s: %s: %s", conn->peer, what, why);
	nb_srv_conn_close(conn, true);
}

void nb_srv_conn_flush(struct srv_conn *conn)
{
	struct srv_buf *b = &conn->out;
	int r;

	if (nb_srv_conn_closed(conn) || conn->state == SRV_CONN_TLS_HANDSHAKE)
		return;
	conn->out_blocked = false;
	conn->write_wants_read = false;
	while (srv_buf_pending(b) > 0) {
		size_t pending = srv_buf_pending(b);
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
		srv_conn_fail(conn, "write failed", err, n);
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
		srv_conn_fail(conn, "write failed", SSL_ERROR_SYSCALL, -1);
		return;
	}
	if (srv_buf_pending(b) == 0)
		b->off = b->len = 0;
	srv_conn_maybe_resume(conn);
	srv_conn_update_watchers(conn);
}

void nb_srv_conn_mark_dirty(struct srv_conn *conn)
{
	if (conn->dirty || nb_srv_conn_closed(conn))
		return;
	conn->dirty = true;
	conn->dirty_next = conn->worker->dirty;
	conn->worker->dirty = conn;
}

uint8_t *nb_srv_conn_reserve(struct srv_conn *conn, size_t len)
{
	if (srv_buf_reserve(&conn->out, len) < 0)
		return NULL;
	return conn->out.data + conn->out.len;
}

void nb_srv_conn_commit(struct srv_conn *conn, size_t n)
{
	conn->out.len += n;
}

int nb_srv_conn_send_reply(struct srv_conn *conn, const struct rpc_reply *rep)
{
	size_t max = nb_rpc_reply_encoded_max(rep);
	uint8_t *p;
	int n;

	if (nb_srv_conn_closed(conn))
		return -EPIPE;
	p = nb_srv_conn_reserve(conn, max);
	if (!p) {
		srv_err("client %s: out of memory for a reply; closing", conn->peer);
		nb_srv_conn_close(conn, true);
		return -ENOMEM;
	}
	n = nb_rpc_reply_encode(rep, 0, p, max);
	if (n < 0) {
		srv_err("client %s: cannot encode %s reply to request %llu: %s",
			 conn->peer, nb_rpc_status_name(rep->status),
			 (unsigned long long)rep->id, strerror(-n));
		return n;
	}
	nb_srv_conn_commit(conn, (size_t)n);
	return 0;
}

static void srv_req_complete(struct nb_store_io *io);

int nb_srv_conn_grant(struct srv_conn *conn, uint32_t max_inflight,
		      uint32_t max_io_size)
{
	struct srv_req *reqs = calloc(max_inflight, sizeof(*reqs));

	if (!reqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < max_inflight; i++) {
		reqs[i].conn = conn;
		reqs[i].io.complete = srv_req_complete;
		reqs[i].next = i + 1 < max_inflight ? &reqs[i + 1] : NULL;
	}
	conn->reqs = reqs;
	conn->free_reqs = reqs;
	conn->max_inflight = max_inflight;
	conn->max_io_size = max_io_size;
	ev_timer_stop(conn->worker->loop, &conn->hello_timer);
	nb_srv_conn_set_state(conn, SRV_CONN_READY);
	return 0;
}

struct srv_req *nb_srv_conn_req_get(struct srv_conn *conn)
{
	struct srv_req *rq = conn->free_reqs;

	if (!rq)
		return NULL;
	conn->free_reqs = rq->next;
	rq->next = NULL;
	rq->busy = true;
	conn->n_inflight++;
	srv_count(conn->worker, inflight, 1);
	return rq;
}

/* Buffers of large requests are not kept: idle connections stay small. */
#define SRV_REQ_BUF_KEEP (256u << 10)

void nb_srv_conn_req_put(struct srv_conn *conn, struct srv_req *rq)
{
	if (rq->cap > SRV_REQ_BUF_KEEP) {
		free(rq->buf);
		rq->buf = NULL;
		rq->cap = 0;
	}
	rq->busy = false;
	if (rq->vol) {
		nb_srv_volume_put(conn->srv, rq->vol);
		rq->vol = NULL;
	}
	rq->next = conn->free_reqs;
	conn->free_reqs = rq;
	conn->n_inflight--;
	srv_count(conn->worker, inflight, -1);
	if (!nb_srv_conn_closed(conn))
		srv_conn_maybe_resume(conn);
}

/*
 * The store's completion (any thread): answered at once on the
 * connection's own thread, else queued for it.
 */
static void srv_req_complete(struct nb_store_io *io)
{
	struct srv_req *rq = (struct srv_req *)io;
	struct srv_worker *w = rq->conn->worker;

	if (pthread_equal(pthread_self(), w->thread)) {
		nb_srv_request_done(rq);
		return;
	}
	io->store_next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->done_tail)
		w->done_tail->store_next = io;
	else
		w->done_head = io;
	w->done_tail = io;
	pthread_mutex_unlock(&w->lock);
	ev_async_send(w->loop, &w->wake);
}

static void srv_conn_malformed(struct srv_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void srv_conn_malformed(struct srv_conn *conn, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	srv_warn("client %s: malformed frame: %s; closing the connection",
		  conn->peer, why);
	nb_srv_conn_close(conn, true);
}

int nb_srv_conn_input(struct srv_conn *conn, const void *data, size_t len)
{
	if (srv_buf_reserve(&conn->in, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(conn->in.data + conn->in.len, data, len);
	conn->in.len += len;
	return 0;
}

int nb_srv_conn_parse(struct srv_conn *conn)
{
	uint32_t max_data = nb_srv_conn_max_io_size(conn);
	struct srv_buf *b = &conn->in;
	size_t high = srv_conn_out_high(conn);

	for (;;) {
		struct rpc_frame_hdr fh;
		struct rpc_request req;
		const uint8_t *p;
		size_t avail, total;
		int r;

		if (conn->max_inflight && conn->n_inflight >= conn->max_inflight)
			return 1;
		if (srv_buf_pending(&conn->out) > high)
			return 1;
		avail = srv_buf_pending(b);
		if (avail < RPC_FRAME_HDR_SIZE)
			return 0;
		p = b->data + b->off;
		r = nb_rpc_frame_hdr_decode(p, &fh, max_data);
		if (r == -EMSGSIZE) {
			srv_conn_malformed(conn, "frame larger than allowed (header limit %u bytes, data limit %u bytes)",
					    NB_SRV_MAX_REQ_HDR, max_data);
			return -1;
		}
		if (r < 0) {
			srv_conn_malformed(conn, "bad frame header (magic, version or kind)");
			return -1;
		}
		if (fh.kind != RPC_KIND_REQUEST) {
			srv_conn_malformed(conn, "client sent a reply frame");
			return -1;
		}
		if (fh.hdr_len > NB_SRV_MAX_REQ_HDR) {
			srv_conn_malformed(conn, "request header of %u bytes (limit %u)",
					    fh.hdr_len, NB_SRV_MAX_REQ_HDR);
			return -1;
		}
		total = RPC_FRAME_HDR_SIZE + (size_t)fh.hdr_len + fh.data_len;
		if (avail < total)
			return 0;
		r = nb_rpc_request_decode(p + RPC_FRAME_HDR_SIZE, fh.hdr_len, &req);
		if (r < 0) {
			srv_conn_malformed(conn, "undecodable request header (%u bytes)",
					    fh.hdr_len);
			return -1;
		}
		b->off += total;
		r = nb_srv_request_handle(conn, &req, p + RPC_FRAME_HDR_SIZE + fh.hdr_len,
					fh.data_len);
		if (r < 0)
			return -1;
		if (b->off == b->len)
			b->off = b->len = 0;
	}
}

static void srv_conn_do_input(struct srv_conn *conn)
{
	struct srv_buf *b = &conn->in;
	int reads = 0;

	for (;;) {
		int r = nb_srv_conn_parse(conn);
		int n, err;
		size_t room;

		if (r < 0)
			return;
		if (r > 0) {
			conn->input_blocked = true;
			break;
		}
		if (reads++ >= SRV_READS_PER_WAKE) {
			/* Fairness: continue on the next loop iteration. */
			ev_feed_event(conn->worker->loop, &conn->rd, EV_READ);
			break;
		}
		if (srv_buf_reserve(b, SRV_READ_ROOM) < 0) {
			srv_err("client %s: out of memory for input; closing", conn->peer);
			nb_srv_conn_close(conn, true);
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
			srv_info("client %s: closed the connection", conn->peer);
			nb_srv_conn_close(conn, false);
			return;
		}
		srv_conn_fail(conn, "connection lost", err, n);
		return;
	}
	nb_srv_conn_flush(conn);
	srv_conn_update_watchers(conn);
}

static void srv_conn_log_peer_cert(struct srv_conn *conn)
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
	srv_info("client %s: TLS established (%s, %s), client certificate %s",
		  conn->peer, SSL_get_version(conn->ssl),
		  SSL_get_cipher_name(conn->ssl), subject);
}

static void srv_conn_do_handshake(struct srv_conn *conn)
{
	int r, err;

	ERR_clear_error();
	r = SSL_accept(conn->ssl);
	if (r == 1) {
		conn->read_wants_write = false;
		nb_srv_conn_set_state(conn, SRV_CONN_AWAIT_HELLO);
		srv_conn_log_peer_cert(conn);
		srv_conn_do_input(conn);
		return;
	}
	err = SSL_get_error(conn->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		conn->read_wants_write = false;
	} else if (err == SSL_ERROR_WANT_WRITE) {
		conn->read_wants_write = true;
	} else {
		srv_conn_fail(conn, "TLS handshake failed", err, r);
		return;
	}
	srv_conn_update_watchers(conn);
}

static void srv_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv_conn *conn = w->data;

	if (conn->state == SRV_CONN_TLS_HANDSHAKE) {
		srv_conn_do_handshake(conn);
		return;
	}
	if ((revents & EV_WRITE) && conn->read_wants_write) {
		conn->read_wants_write = false;
		srv_conn_do_input(conn);
	}
	if ((revents & EV_WRITE) && !nb_srv_conn_closed(conn) &&
	    (conn->out_blocked || nb_sockbio_unsent(conn->ssl) > 0))
		nb_srv_conn_flush(conn);
	if ((revents & EV_READ) && !nb_srv_conn_closed(conn) && conn->write_wants_read)
		nb_srv_conn_flush(conn);
	if ((revents & EV_READ) && !nb_srv_conn_closed(conn) && !conn->input_blocked)
		srv_conn_do_input(conn);
	srv_conn_update_watchers(conn);
}

static void srv_conn_hello_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv_conn *conn = w->data;

	srv_warn("client %s: no %s within %u s (state %s); closing", conn->peer,
		  conn->state == SRV_CONN_TLS_HANDSHAKE ? "TLS handshake" : "HANDSHAKE request",
		  conn->srv->cfg->hello_timeout, nb_srv_conn_state_name(conn->state));
	nb_srv_conn_close(conn, true);
}

struct srv_conn *nb_srv_conn_new(struct srv_worker *w, int fd, const char *peer)
{
	struct nb_srv *srv = w->srv;
	struct srv_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->worker = w;
	conn->srv = srv;
	conn->fd = fd;
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
	conn->state = SRV_CONN_TLS_HANDSHAKE;
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
	ev_io_init(&conn->rd, srv_conn_io_cb, fd, EV_READ);
	conn->rd.data = conn;
	ev_io_init(&conn->wr, srv_conn_io_cb, fd, EV_WRITE);
	conn->wr.data = conn;
	ev_timer_init(&conn->hello_timer, srv_conn_hello_timeout_cb,
		      srv->cfg->hello_timeout ? srv->cfg->hello_timeout : 10., 0.);
	conn->hello_timer.data = conn;
	ev_io_start(w->loop, &conn->rd);
	ev_timer_start(w->loop, &conn->hello_timer);

	conn->next = w->conns;
	if (w->conns)
		w->conns->prev = conn;
	w->conns = conn;
	return conn;
}

void nb_store_io_complete(struct nb_store_io *io, int result)
{
	io->result = result;
	io->complete(io);
}
