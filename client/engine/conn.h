/* SPDX-License-Identifier: MIT */
/*
 * One TLS connection from the engine to one storage node, on libev.
 *
 * A conn connects (non-blocking, with a timeout), does the TLS 1.3
 * handshake, the protocol HANDSHAKE and OPEN (state HELLO), then carries
 * block requests (READY). Requests are queued with nb_conn_submit(); the
 * owner (the session) calls nb_conn_flush() once per loop iteration to
 * encode queued requests, several per TLS write, up to the granted
 * max_inflight; the rest wait in the queue. Replies are parsed
 * incrementally; READ data goes straight into the request's iovecs.
 *
 * Any failure (socket error, TLS error, malformed frame, unknown reply id,
 * a request without reply for try_timeout while the node sends nothing,
 * or for 4 x try_timeout at all) logs once, closes the socket,
 * hands every queued and in-flight request back to the owner through
 * its req->returned, and waits (BACKOFF: exponential from backoff_base to
 * backoff_max, with jitter) before reconnecting by itself (or, when the
 * owner marked it lazy and nothing is queued, before going back to
 * DISCONNECTED).
 *
 * Ownership: a struct conn_req belongs to the owner; the conn only links
 * it between nb_conn_submit() and req->reply()/req->returned(), and reads the
 * iovecs it points to. The conn never frees a request. Each request
 * carries its own reply and returned callbacks; the conn_ops are for the
 * events of the connection itself.
 * nb_conn_free() must not be called from inside one of the conn's callbacks.
 *
 * struct conn is opaque: its fields are in conn_priv.h, for conn.c and
 * wire.c only; the owner reads what it needs through the functions below.
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
	CONN_CLOSED,        /* closed for good (nb_conn_close) */
	CONN_STATE_MAX
};

struct conn;
struct conn_req;

/*
 * A reply arrived for req (READ data already in req's iovecs). rep lives
 * only during the call; the callee may take rep->map by setting it to
 * NULL. The callee may submit requests to any conn and may call
 * nb_conn_fail() on this one.
 */
typedef void conn_reply_fn(struct conn *conn, struct conn_req *req,
			   struct rpc_reply *rep);
/* req comes back unanswered because the connection failed or closed, or
 * because it cannot be sent (-EMSGSIZE, -EINVAL). */
typedef void conn_returned_fn(struct conn *conn, struct conn_req *req,
			      int err);

/*
 * A request as the conn sees it; embedded in the owner's request. The
 * owner sets reply and returned before nb_conn_submit(): exactly one of
 * them is called once for each nb_conn_submit(), from the loop or from
 * inside nb_conn_flush() (a request that cannot be sent), nb_conn_fail(),
 * nb_conn_close(), nb_conn_free() and nb_conn_submit() (on a CLOSED conn).
 */
struct conn_req {
	conn_reply_fn *reply;
	conn_returned_fn *returned;
	enum rpc_op op;
	uint64_t offset;
	uint64_t length;
	uint32_t flags;
	uint64_t epoch;
	const struct iovec *iov;       /* READ/WRITE data: the whole array */
	int iovcnt;
	struct nb_iov_pos pos;      /* where this request's data starts */
	/* admin ops only (CREATE, INFO, UNLOCK, DELETE, RESIZE, LIST) */
	const char *volume;            /* LIST: start after this name */
	uint64_t create_size;          /* CREATE; RESIZE: the new size */
	uint32_t create_block_size;
	const char *owner;             /* UNLOCK: who breaks it; DELETE: caller */
	uint64_t lock_generation;      /* UNLOCK: 0 = any */
	bool force;                    /* DELETE: even while another holds the lock */
	uint32_t list_max;             /* LIST: 0 = the node's page */

	/* conn's, while linked */
	struct conn_req *next;
	uint64_t id;                   /* wire id while in flight */
	double sent_at;
};

/* Events of a conn, for its owner. */
struct conn_ops {
	/* The state changed from old to nb_conn_state(conn). */
	void (*state_changed)(struct conn *conn, enum conn_state old);
	/*
	 * HELLO finished: rep is the OPEN reply (volume and map), or the
	 * HANDSHAKE reply for a conn without volume. Return 0 to become READY
	 * or -errno to fail the connection, with a reason in msg.
	 * An OPEN refused fails the connection with nb_conn_err(): -ENOENT
	 * (NOT_FOUND), -EROFS (READ_ONLY), -EBUSY (LOCKED), -ESTALE
	 * (FENCED) or -EIO.
	 */
	int (*opened)(struct conn *conn, struct rpc_reply *rep,
		      char *msg, size_t msglen);
	/* The conn has queued requests it can send: call nb_conn_flush() soon. */
	void (*kick)(struct conn *conn);
	/*
	 * Optional: the writer lock a read-write OPEN on this conn presents
	 * (each connection's own, when one owner's conns reach several
	 * stores). *break_lock and *generation come preset from conn_params.
	 */
	void (*open_lock)(struct conn *conn, bool *break_lock,
			  uint64_t *generation);
};

/* Settings shared by the conns of one owner; the owner keeps them alive. */
struct conn_params {
	SSL_CTX *ssl_ctx;
	const char *server_name;   /* NULL = host part of the address */
	const char *volume;        /* NULL = no OPEN (admin connection) */
	bool read_only;
	/* The writer lock, sent with read-write OPENs; the owner may change
	 * break_lock, lock_generation and read_only between connections. */
	const char *lock_owner;    /* NULL: open without an owner */
	bool break_lock;
	uint64_t lock_generation;  /* held before, 0 = none */
	const char *client_name;
	uint32_t max_inflight;     /* asked, 1 .. SESSION_MAX_INFLIGHT_LIMIT */
	uint32_t max_io_size;      /* asked */
	double connect_timeout;    /* s, TCP + TLS + HELLO */
	double try_timeout;        /* s, per request in flight */
	double backoff_base, backoff_max;
	const struct elog *log;
	const struct conn_ops *ops;
};

/*
 * A conn to addr ("host:port", "[v6]:port") in state DISCONNECTED.
 * owner is the owner's own per-conn object, given back by nb_conn_owner().
 * Returns NULL with errno set (EINVAL bad address, ENOMEM).
 */
struct conn *nb_conn_new(struct ev_loop *loop, const char *addr,
		      const struct conn_params *params, void *owner);

/* Start connecting now (DISCONNECTED or BACKOFF); no-op otherwise. */
void nb_conn_connect(struct conn *conn);

/*
 * Queue req. Starts connecting when DISCONNECTED; calls ops->kick when
 * READY. A CLOSED conn returns req at once through req->returned.
 */
void nb_conn_submit(struct conn *conn, struct conn_req *req);

/* Encode queued requests (up to max_inflight) and write what TLS takes. */
void nb_conn_flush(struct conn *conn);

/*
 * Fail the connection now with err and a reason (logged once, naming the
 * node): back off, then reconnect; requests are handed back.
 */
void nb_conn_fail(struct conn *conn, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Close for good (state CLOSED); queued and in-flight requests are handed
 * back with -ESHUTDOWN. */
void nb_conn_close(struct conn *conn);

/* nb_conn_close, then free. NULL is a no-op. */
void nb_conn_free(struct conn *conn);

/* May a request be routed to this conn (READY or DISCONNECTED, or
 * connecting without a failure since it was last READY)? */
bool nb_conn_usable(const struct conn *conn);

const char *nb_conn_state_name(enum conn_state state);

/* ---- what the owner may read ---- */

void *nb_conn_owner(const struct conn *conn);
const char *nb_conn_addr(const struct conn *conn);   /* as given to nb_conn_new */
enum conn_state nb_conn_state(const struct conn *conn);
/* -errno of the last failure, and its text naming the node ("" if none). */
int nb_conn_err(const struct conn *conn);
const char *nb_conn_errmsg(const struct conn *conn);
/* Granted by the node; valid when READY. */
uint32_t nb_conn_max_io_size(const struct conn *conn);
/* The node said at HANDSHAKE that acknowledged writes are durable (no
 * FLUSH needed); valid from HELLO's opened() on. */
bool nb_conn_writes_durable(const struct conn *conn);
/* Times the conn became READY again after having been READY. */
uint64_t nb_conn_reconnects(const struct conn *conn);
/* The TLS cipher suite when READY (OpenSSL's static name), else NULL. */
const char *nb_conn_tls_suite(const struct conn *conn);

/*
 * Set by the owner: when a failed conn has nothing queued, go back to
 * DISCONNECTED after the backoff instead of reconnecting by itself.
 */
void nb_conn_set_lazy(struct conn *conn, bool lazy);

#endif
