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

#include "conn.h"
#include "conn_priv.h"
#include "resolve.h"
#include "session.h"
#include "sockbio.h"
#include "tls.h"

static const char *const conn_state_names[CONN_STATE_MAX] = {
	[CONN_DISCONNECTED] = "DISCONNECTED",
	[CONN_CONNECTING] = "CONNECTING",
	[CONN_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
	[CONN_HELLO] = "HELLO",
	[CONN_READY] = "READY",
	[CONN_BACKOFF] = "BACKOFF",
	[CONN_CLOSED] = "CLOSED",
};

const char *nb_conn_state_name(enum conn_state state)
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
		return to == CONN_CONNECTING;
	case CONN_BACKOFF:
		return to == CONN_CONNECTING || to == CONN_DISCONNECTED;
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

void nb_conn_set_state(struct conn *conn, enum conn_state to)
{
	enum conn_state from = conn->state;

	if (from == to)
		return;
	if (!conn_transition_ok(from, to))
		nb_elog_printf(conn->p->log, LOG_ERR,
			    "node %s: unexpected state change %s -> %s",
			    conn->addr, nb_conn_state_name(from),
			    nb_conn_state_name(to));
	conn->state = to;
	nb_elog_printf(conn->p->log, LOG_DEBUG, "node %s: %s -> %s", conn->addr,
		    nb_conn_state_name(from), nb_conn_state_name(to));
	if (to == CONN_READY) {
		conn->fail_count = 0;
		if (conn->ever_ready)
			conn->reconnects++;
		conn->ever_ready = true;
	}
	if (conn->p->ops->state_changed)
		conn->p->ops->state_changed(conn, from);
}

void *nb_conn_owner(const struct conn *conn)
{
	return conn->owner;
}

const char *nb_conn_addr(const struct conn *conn)
{
	return conn->addr;
}

enum conn_state nb_conn_state(const struct conn *conn)
{
	return conn->state;
}

int nb_conn_err(const struct conn *conn)
{
	return conn->err;
}

const char *nb_conn_errmsg(const struct conn *conn)
{
	return conn->errmsg;
}

uint32_t nb_conn_max_io_size(const struct conn *conn)
{
	return conn->max_io_size;
}

bool nb_conn_writes_durable(const struct conn *conn)
{
	return conn->writes_durable;
}

uint64_t nb_conn_reconnects(const struct conn *conn)
{
	return conn->reconnects;
}

const char *nb_conn_tls_suite(const struct conn *conn)
{
	if (conn->state != CONN_READY || !conn->ssl)
		return NULL;
	return SSL_get_cipher_name(conn->ssl);
}

void nb_conn_set_lazy(struct conn *conn, bool lazy)
{
	conn->lazy = lazy;
}

bool nb_conn_usable(const struct conn *conn)
{
	switch (conn->state) {
	case CONN_READY:
	case CONN_DISCONNECTED: /* connects when a request comes */
		return true;
	case CONN_CONNECTING:
	case CONN_TLS_HANDSHAKE:
	case CONN_HELLO:
		return conn->fail_count == 0;
	default:
		return false;
	}
}

void nb_conn_watch(struct conn *conn, int events)
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
void nb_conn_update_events(struct conn *conn)
{
	int events = EV_READ;

	if ((conn->out_len > conn->out_off && !conn->write_wants_read) ||
	    conn->read_wants_write || (conn->ssl && nb_sockbio_unsent(conn->ssl)))
		events |= EV_WRITE;
	nb_conn_watch(conn, events);
}

static void conn_rx_reset(struct conn *conn)
{
	if (!conn->in_dispatch)
		nb_rpc_reply_clear(&conn->rx_reply);
	conn->rx = CONN_RX_HDR;
	conn->rx_got = 0;
	conn->rx_req = NULL;
	conn->rx_left = 0;
}

/* Close the socket and forget the session; requests are not touched. */
static void conn_teardown(struct conn *conn)
{
	nb_conn_watch(conn, 0);
	ev_io_stop(conn->loop, &conn->io);
	if (conn->ssl) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	nb_resolve_cancel(conn->resolve);
	conn->resolve = NULL;
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
		req->returned(conn, req, err);
	}
}

void nb_conn_fail(struct conn *conn, int err, const char *fmt, ...)
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
		nb_elog_printf(conn->p->log, LOG_WARNING, "%s (%s)", conn->errmsg,
			    nb_conn_state_name(conn->state));
		snprintf(conn->last_logged, sizeof(conn->last_logged), "%s",
			 conn->errmsg);
	} else {
		nb_elog_printf(conn->p->log, LOG_DEBUG, "%s (again)", conn->errmsg);
	}

	list = conn_detach_all(conn);
	conn_teardown(conn);
	conn->fail_count++;
	delay = nb_route_backoff(conn->fail_count - 1, conn->p->backoff_base,
			      conn->p->backoff_max, nb_route_rand(&conn->rnd));
	ev_timer_stop(conn->loop, &conn->timer);
	ev_timer_set(&conn->timer, delay, 0.);
	ev_timer_start(conn->loop, &conn->timer);
	nb_conn_set_state(conn, CONN_BACKOFF);
	conn_return_all(conn, list, conn->err);
}

void nb_conn_close(struct conn *conn)
{
	struct conn_req *list;

	if (conn->state == CONN_CLOSED)
		return;
	list = conn_detach_all(conn);
	conn_teardown(conn);
	ev_timer_stop(conn->loop, &conn->timer);
	nb_conn_set_state(conn, CONN_CLOSED);
	conn_return_all(conn, list, -ESHUTDOWN);
}

void nb_conn_free(struct conn *conn)
{
	if (!conn)
		return;
	nb_conn_close(conn);
	nb_rpc_reply_clear(&conn->rx_reply);
	free(conn->out);
	free(conn->rx_pb);
	free(conn->slots);
	free(conn->free_slots);
	free(conn);
}

void nb_conn_submit(struct conn *conn, struct conn_req *req)
{
	if (conn->state == CONN_CLOSED) {
		req->returned(conn, req, -ESHUTDOWN);
		return;
	}
	req->next = NULL;
	*conn->q_tail = req;
	conn->q_tail = &req->next;
	conn->queued++;
	if (conn->state == CONN_DISCONNECTED)
		nb_conn_connect(conn);
	else if (conn->state == CONN_READY && conn->p->ops->kick)
		conn->p->ops->kick(conn);
}

/* ---- connecting ---- */

static void conn_tls_step(struct conn *conn)
{
	char msg[256];
	int ret, e, err;

	ERR_clear_error();
	ret = SSL_connect(conn->ssl);
	if (ret == 1) {
		nb_elog_printf(conn->p->log, LOG_INFO, "node %s: TLS up (%s, %s)",
			    conn->addr, SSL_get_version(conn->ssl),
			    SSL_get_cipher_name(conn->ssl));
		nb_conn_set_state(conn, CONN_HELLO);
		if (conn->state != CONN_HELLO)
			return;
		nb_conn_update_events(conn);
		nb_conn_hello_send(conn, RPC_OP_HANDSHAKE);
		return;
	}
	e = SSL_get_error(conn->ssl, ret);
	if (e == SSL_ERROR_WANT_READ) {
		nb_conn_watch(conn, EV_READ);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		nb_conn_watch(conn, EV_WRITE);
		return;
	}
	err = nb_tls_describe_error(conn->ssl, ret, e, msg, sizeof(msg));
	nb_conn_fail(conn, err, "TLS handshake failed: %s", msg);
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
	conn->ssl = nb_tls_client_new(conn->p->ssl_ctx, conn->fd, name, msg,
				   sizeof(msg));
	if (!conn->ssl) {
		nb_conn_fail(conn, -EPROTO, "%s", msg);
		return;
	}
	nb_conn_set_state(conn, CONN_TLS_HANDSHAKE);
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
			nb_conn_watch(conn, EV_WRITE);
			return;
		}
		last = errno;
		close(conn->fd);
		conn->fd = -1;
	}
	nb_conn_fail(conn, -last, "cannot connect: %s", strerror(last));
}

/* A host name lookup ended (on the loop, from resolve.c). */
static void conn_resolved(void *opaque, int gai_err, struct addrinfo *list)
{
	struct conn *conn = opaque;

	conn->resolve = NULL;
	if (gai_err) {
		nb_conn_fail(conn, -EHOSTUNREACH, "cannot resolve '%s': %s",
			  conn->host, gai_strerror(gai_err));
		return;
	}
	conn->ai_list = conn->ai_next = list;
	conn_connect_next(conn);
}

void nb_conn_connect(struct conn *conn)
{
	struct addrinfo hints;
	int ret;

	if (conn->state != CONN_DISCONNECTED && conn->state != CONN_BACKOFF)
		return;
	ev_timer_stop(conn->loop, &conn->timer);
	nb_conn_set_state(conn, CONN_CONNECTING);
	if (conn->state != CONN_CONNECTING)
		return;
	ev_timer_set(&conn->timer, conn->p->connect_timeout, 0.);
	ev_timer_start(conn->loop, &conn->timer);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV; /* no AI_ADDRCONFIG: ::1 counts */
	if (!nb_tls_name_is_ip(conn->host)) {
		/* a host name: looked up off the loop (within connect_timeout) */
		conn->resolve = nb_resolve_start(conn->loop, conn->host,
						 conn->port, &hints,
						 conn_resolved, conn);
		if (!conn->resolve)
			nb_conn_fail(conn, -errno, "cannot resolve '%s': %s",
				  conn->host, strerror(errno));
		return;
	}
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	ret = getaddrinfo(conn->host, conn->port, &hints, &conn->ai_list);
	if (ret) {
		conn->ai_list = NULL;
		nb_conn_fail(conn, -EHOSTUNREACH, "cannot resolve '%s': %s",
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
		nb_conn_watch(conn, 0);
		close(conn->fd);
		conn->fd = -1;
		if (conn->ai_next) {
			conn_connect_next(conn);
			return;
		}
		nb_conn_fail(conn, -soerr, "cannot connect: %s", strerror(soerr));
		return;
	}
	case CONN_TLS_HANDSHAKE:
		conn_tls_step(conn);
		return;
	case CONN_HELLO:
	case CONN_READY:
		break;
	default:
		nb_conn_watch(conn, 0);
		return;
	}

	if ((revents & EV_WRITE) || (conn->write_wants_read && (revents & EV_READ))) {
		if (nb_conn_write_out(conn) < 0)
			return;
		/* output drained below the mark: more queued requests can go */
		if (conn->state == CONN_READY && conn->q_head && conn->n_free &&
		    conn->out_len - conn->out_off < CONN_OUT_HIGH &&
		    conn->p->ops->kick)
			conn->p->ops->kick(conn);
	}
	if ((revents & EV_READ) || (conn->read_wants_write && (revents & EV_WRITE))) {
		nb_conn_read(conn);
		if (conn->state != CONN_READY && conn->state != CONN_HELLO)
			return;
	}
	nb_conn_update_events(conn);
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
		nb_conn_fail(conn, -ETIMEDOUT, "timed out after %.1f s in the %s",
			  conn->p->connect_timeout,
			  conn->state == CONN_CONNECTING ? "TCP connect" :
			  conn->state == CONN_TLS_HANDSHAKE ? "TLS handshake" :
			  "protocol handshake");
		return;
	case CONN_BACKOFF:
		if (conn->lazy && !conn->q_head) {
			/* nobody needs it now: connect again on demand */
			nb_conn_set_state(conn, CONN_DISCONNECTED);
			return;
		}
		nb_conn_connect(conn);
		return;
	case CONN_READY: {
		uint64_t id = 0;
		double oldest = conn_oldest_sent(conn, &id);
		double now = ev_now(loop);

		if (oldest == 0) {
			ev_timer_stop(loop, w);
			return;
		}
		double t = conn->p->try_timeout, next;
		double age = now - oldest, quiet = now - conn->last_rx;

		/*
		 * Stuck: a request try_timeout old while the node sent nothing
		 * for as long, or CONN_TRY_PATIENCE times that old even though
		 * other replies keep coming (a long transfer on a slow link is
		 * not a stuck request).
		 */
		if (age >= t - 0.001 &&
		    (quiet >= t - 0.001 || age >= CONN_TRY_PATIENCE * t - 0.001)) {
			nb_conn_fail(conn, -ETIMEDOUT,
				  "request id %llu timed out: no reply within %.1f s",
				  (unsigned long long)id, age);
			return;
		}
		if (age < t)
			next = oldest + t;
		else
			next = conn->last_rx + t < oldest + CONN_TRY_PATIENCE * t ?
			       conn->last_rx + t : oldest + CONN_TRY_PATIENCE * t;
		w->repeat = next - now > 0.001 ? next - now : 0.001;
		ev_timer_again(loop, w);
		return;
	}
	default:
		ev_timer_stop(loop, w);
		return;
	}
}

struct conn *nb_conn_new(struct ev_loop *loop, const char *addr,
		      const struct conn_params *params, void *owner)
{
	struct conn *conn;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	if (strlen(addr) >= sizeof(conn->addr) ||
	    nb_route_addr_split(addr, conn->host, sizeof(conn->host), conn->port,
			     sizeof(conn->port)) < 0) {
		free(conn);
		errno = EINVAL;
		return NULL;
	}
	snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
	conn->loop = loop;
	conn->p = params;
	conn->owner = owner;
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
