/* SPDX-License-Identifier: MIT */
/*
 * One TLS connection from the engine to one storage node, on libev.
 *
 * A conn connects (non-blocking, with a timeout), does the TLS 1.3
 * handshake, the protocol HANDSHAKE and OPEN (state HELLO), then carries
 * block requests (READY). Requests are queued with conn_submit(); the
 * owner (the cluster) calls conn_flush() once per loop iteration to
 * encode queued requests, several per TLS write, up to the granted
 * max_inflight; the rest wait in the queue. Replies are parsed
 * incrementally; READ data goes straight into the request's iovecs.
 *
 * Any failure (socket error, TLS error, malformed frame, unknown reply id,
 * a request without reply for try_timeout while the node sends nothing,
 * or for 4 x try_timeout at all) logs once, closes the socket,
 * hands every queued and in-flight request back to the owner through
 * ops->returned, and waits (BACKOFF: exponential from backoff_base to
 * backoff_max, with jitter) before reconnecting by itself (or, when the
 * owner marked it lazy and nothing is queued, before going back to
 * DISCONNECTED).
 *
 * Ownership: a struct conn_req belongs to the owner; the conn only links
 * it between conn_submit() and ops->reply()/ops->returned(), and reads the
 * iovecs it points to. The conn never frees a request.
 * conn_free() must not be called from inside one of the conn's callbacks.
 */
#ifndef NETBLK_CONN_H
#define NETBLK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "engine_log.h"
#include "route.h"
#include "rpc.h"

enum conn_state {
	CONN_DISCONNECTED,  /* idle, not connected; connects on submit */
	CONN_CONNECTING,    /* TCP connect in progress */
	CONN_TLS_HANDSHAKE,
	CONN_HELLO,         /* protocol HANDSHAKE, then OPEN */
	CONN_READY,         /* carries block requests */
	CONN_BACKOFF,       /* failed; reconnects when the timer fires */
	CONN_CLOSED,        /* closed for good (conn_close) */
	CONN_STATE_MAX
};

struct conn;

/* A request as the conn sees it; embedded in the owner's request. */
struct conn_req {
	enum rpc_op op;
	uint64_t offset;
	uint64_t length;
	uint32_t flags;
	uint64_t epoch;
	const struct iovec *iov;       /* READ/WRITE data: the whole array */
	int iovcnt;
	struct route_iov_pos pos;      /* where this request's data starts */
	/* admin ops only (CREATE, INFO) */
	const char *volume;
	uint64_t create_size;
	uint32_t create_block_size;

	/* conn's, while linked */
	struct conn_req *next;
	uint64_t id;                   /* wire id while in flight */
	double sent_at;
};

struct conn_ops {
	/*
	 * A reply arrived for req (READ data already in req's iovecs). rep
	 * lives only during the call; the callee may take rep->map by setting
	 * it to NULL. The callee may submit requests to any conn and may call
	 * conn_fail() on this one.
	 */
	void (*reply)(struct conn *conn, struct conn_req *req,
		      struct rpc_reply *rep);
	/* req comes back unanswered because the connection failed/closed. */
	void (*returned)(struct conn *conn, struct conn_req *req, int err);
	/* The state changed from old to conn->state. */
	void (*state_changed)(struct conn *conn, enum conn_state old);
	/*
	 * HELLO finished: rep is the OPEN reply (volume and map), or the
	 * HANDSHAKE reply for a conn without volume. Return 0 to become READY
	 * or -errno to fail the connection, with a reason in msg.
	 */
	int (*opened)(struct conn *conn, struct rpc_reply *rep,
		      char *msg, size_t msglen);
	/* The conn has queued requests it can send: call conn_flush() soon. */
	void (*kick)(struct conn *conn);
};

/* Settings shared by the conns of one owner; the owner keeps them alive. */
struct conn_params {
	SSL_CTX *ssl_ctx;
	const char *server_name;   /* NULL = host part of the address */
	const char *volume;        /* NULL = no OPEN (admin connection) */
	bool read_only;
	const char *client_name;
	uint32_t max_inflight;     /* asked, 1 .. CLUSTER_MAX_INFLIGHT_LIMIT */
	uint32_t max_io_size;      /* asked */
	double connect_timeout;    /* s, TCP + TLS + HELLO */
	double try_timeout;        /* s, per request in flight */
	double backoff_base, backoff_max;
	const struct elog *log;
	const struct conn_ops *ops;
	void *opaque;              /* for the owner */
};

struct conn_slot {
	struct conn_req *req;      /* NULL when free */
	uint32_t gen;
};

enum conn_rx {
	CONN_RX_HDR,
	CONN_RX_PB,
	CONN_RX_DATA,
};

struct conn {
	/* read-only for the owner */
	char addr[MAP_ADDR_MAX + 1];
	enum conn_state state;
	uint32_t fail_count;       /* failures since last READY */
	int err;                   /* -errno of the last failure */
	char errmsg[640];          /* its text, naming the node */
	uint32_t max_inflight;     /* granted (valid when READY) */
	uint32_t max_io_size;      /* granted (valid when READY) */
	char node_name[RPC_NAME_MAX + 1];
	uint32_t inflight;
	uint32_t queued;
	uint64_t sent, reconnects;

	/*
	 * Set by the owner: when a failed conn has nothing queued, go back to
	 * DISCONNECTED after the backoff instead of reconnecting by itself.
	 */
	bool lazy;

	/* owner's scratch, never touched by the conn */
	unsigned owner_bits;
	struct conn *owner_next;
	double owner_avoid_until;  /* ev_now() before which to route elsewhere */
	uint32_t owner_strikes;    /* timeouts since the node last answered */

	/* private */
	struct ev_loop *loop;
	const struct conn_params *p;
	char host[MAP_ADDR_MAX + 1];
	char port[8];
	int fd;
	SSL *ssl;
	struct addrinfo *ai_list, *ai_next;
	ev_io io;
	ev_timer timer;
	int events;
	double last_rx;            /* ev_now() of the last bytes received */
	bool ever_ready;
	bool write_wants_read, read_wants_write;
	bool in_dispatch;
	uint64_t rnd;
	char last_logged[640];

	struct conn_req *q_head, **q_tail;
	struct conn_slot *slots;
	uint32_t n_slots;
	uint32_t *free_slots;
	uint32_t n_free;

	uint64_t hello_id;
	enum rpc_op hello_op;

	uint8_t *out;
	size_t out_off, out_len, out_cap;
	size_t out_retry;          /* length of an SSL_write to repeat */

	enum conn_rx rx;
	uint8_t rx_hdr[RPC_FRAME_HDR_SIZE];
	size_t rx_got;
	struct rpc_frame_hdr rx_frame;
	uint8_t *rx_pb;
	size_t rx_pb_cap;
	struct conn_req *rx_req;   /* NULL: data is discarded */
	struct route_iov_pos rx_pos;
	uint64_t rx_left;
	struct rpc_reply rx_reply;
};

/*
 * A conn to addr ("host:port", "[v6]:port") in state DISCONNECTED.
 * Returns NULL with errno set (EINVAL bad address, ENOMEM).
 */
struct conn *conn_new(struct ev_loop *loop, const char *addr,
		      const struct conn_params *params);

/* Start connecting now (DISCONNECTED or BACKOFF); no-op otherwise. */
void conn_connect(struct conn *conn);

/*
 * Queue req. Starts connecting when DISCONNECTED; calls ops->kick when
 * READY. A CLOSED conn returns req at once through ops->returned.
 */
void conn_submit(struct conn *conn, struct conn_req *req);

/* Encode queued requests (up to max_inflight) and write what TLS takes. */
void conn_flush(struct conn *conn);

/*
 * Fail the connection now with err and a reason (logged once, naming the
 * node): back off, then reconnect; requests are handed back.
 */
void conn_fail(struct conn *conn, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Close for good (state CLOSED); queued and in-flight requests are handed
 * back with -ESHUTDOWN. */
void conn_close(struct conn *conn);

/* conn_close, then free. NULL is a no-op. */
void conn_free(struct conn *conn);

/* May a request be routed to this conn (READY or DISCONNECTED, or
 * connecting without a failure since it was last READY)? */
bool conn_usable(const struct conn *conn);

const char *conn_state_name(enum conn_state state);

#endif
