/* SPDX-License-Identifier: MIT */
/*
 * The client I/O engine's session: one thread's use of one volume served
 * by a cluster of storage nodes.
 *
 * A struct session belongs to one thread and one ev_loop. It owns one TLS
 * connection per node it needs, the current cluster map, and the
 * requests in flight. The engine has no global mutable state: a daemon
 * runs one session per worker thread, all on the same volume, and may
 * share one SSL_CTX between them (nb_tls_client_ctx_new() in tls.h; SSL_CTX
 * is reference counted and thread safe for this use).
 *
 * Every function here must be called from the thread that runs the loop.
 * Other threads reach the session through an ev_async of their own.
 *
 * The loop: the session's connections keep ev_run(loop, 0) running (they
 * are active watchers), so a tool waiting for one io breaks out of the
 * loop from done() (ev_break) or runs it with EVRUN_ONCE. The engine's
 * own ev_prepare (which writes out the requests submitted during one loop
 * iteration, many per TLS record) does not keep the loop alive.
 * Host names in addresses are resolved with a blocking getaddrinfo() when
 * a connection is made; IP literals never block.
 * The engine never raises SIGPIPE (sockets are written with MSG_NOSIGNAL).
 *
 * Life cycle:
 *
 *   s = nb_session_new(loop, &cfg);         copies cfg, opens nothing
 *   nb_session_start(s, ready_cb, opaque);  connects, handshakes, OPENs
 *   ... ready_cb(s, 0, opaque) ...       nb_session_volume(s) is valid now
 *   nb_session_submit(s, io) ...            any number, any time after ready
 *   nb_session_free(s);                     see below for outstanding io
 *
 * Tools that only want a ready session call nb_session_open_sync(), which
 * runs the loop until the start finished.
 *
 * Ownership:
 * - nb_session_new() copies every string of the config; the caller may free
 *   the config afterwards. An SSL_CTX given in cfg.ssl_ctx gets a
 *   reference of its own (SSL_CTX_up_ref); the caller keeps and frees its
 *   own reference.
 * - A struct session_io and its iovecs and data buffers belong to the
 *   caller. Between nb_session_submit() returning 0 and done() being called,
 *   the engine uses them and the caller must not touch, move or free them.
 *   done() is called exactly once per accepted io, from the loop, never
 *   from inside nb_session_submit(). Inside done() the io is the caller's
 *   again: it may free or resubmit it.
 * - nb_session_free() completes every outstanding io with -EIO (their done()
 *   is called from inside nb_session_free()), then frees the connections, the
 *   map and the session. It must not be called from inside a callback of
 *   the same session (done, ready_cb, a session_volume_fn): defer it,
 *   e.g. with ev_break or an ev_idle. nb_session_free(NULL) is a no-op.
 */
#ifndef NETBLK_SESSION_H
#define NETBLK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ev_loop;
struct ssl_ctx_st; /* SSL_CTX */
struct map;
struct session;

/* Defaults used when a config field is 0. */
#define SESSION_DEFAULT_TRY_TIMEOUT     5.0   /* s */
#define SESSION_DEFAULT_CONNECT_TIMEOUT 10.0  /* s */
#define SESSION_DEFAULT_MAX_INFLIGHT    64
#define SESSION_DEFAULT_MAX_IO_SIZE     (1u << 20)
#define SESSION_MAX_INFLIGHT_LIMIT      4096
#define SESSION_SECTOR                  512u
#define SESSION_NAME_MAX                255   /* volume and client names */

/* What an io does. The engine maps these to the protocol's requests. */
enum session_op {
	SESSION_OP_NONE = 0,      /* refused */
	SESSION_OP_READ,
	SESSION_OP_WRITE,
	SESSION_OP_FLUSH,
	SESSION_OP_DISCARD,
	SESSION_OP_WRITE_ZEROES,
	SESSION_OP_MAX
};

/* session_io.flags */
#define SESSION_FLAG_FUA   (1u << 0) /* WRITE, WRITE_ZEROES: durable first */
#define SESSION_FLAG_UNMAP (1u << 1) /* WRITE_ZEROES: node may deallocate */

/* Name of op for messages ("READ", "WRITE_ZEROES" ...); never NULL. */
const char *nb_session_op_name(enum session_op op);

/* A volume as the nodes describe it. */
struct session_volume {
	char name[SESSION_NAME_MAX + 1];  /* "" when the node did not say */
	uint64_t size;                    /* bytes */
	uint32_t block_size;              /* logical block size, bytes */
	bool read_only;
	uint32_t max_discard_size;        /* bytes per request; 0: no DISCARD */
	uint32_t max_write_zeroes_size;   /* 0: no WRITE_ZEROES */
};

/*
 * A volume's writer lock (docs/protocol.md, "The writer lock"): who holds
 * it, its generation (grows with every break; 0 = unknown or none) and
 * since when (unix seconds, 0 = unknown). owner "" means nobody.
 */
struct session_lock {
	char owner[SESSION_NAME_MAX + 1];
	uint64_t generation;
	uint64_t since;
};

/*
 * Describe lock for people: "'web@host1' (generation 4, since
 * 2025-03-01 10:12:44 UTC)", or "nobody (generation 5)" when unlocked.
 * Returns buf.
 */
char *nb_session_lock_describe(const struct session_lock *lock, char *buf,
			    size_t len);

/*
 * Is owner usable as a lock owner: 1 to SESSION_NAME_MAX bytes, no
 * control characters?
 */
bool nb_session_lock_owner_ok(const char *owner);

/*
 * The lock owner a program uses by default: "NAME@HOST", HOST this
 * machine's host name (gethostname), or, when that names no one ("",
 * "(none)" as in a VM guest without one, "localhost"), "machine-" and
 * the first 12 digits of /etc/machine-id (nb_session_lock_host()).
 * Returns 0, or -ENAMETOOLONG when it does not fit in len or in
 * SESSION_NAME_MAX bytes.
 */
int nb_session_lock_owner_default(const char *name, char *buf, size_t len);
/* The HOST part of the above from a host name and a machine-id file
 * (NULL: none); "localhost" when neither tells more. Returns 0. */
int nb_session_lock_host(const char *hostname, const char *machine_id_path,
			 char *buf, size_t len);

/*
 * Log sink. level is a syslog level (LOG_ERR ... LOG_DEBUG); msg has no
 * trailing newline. NULL means stderr, prefixed with "netblk-engine: ".
 */
typedef void session_log_fn(void *opaque, int level, const char *msg);

struct session_flush_ledger;

struct session_config {
	/* Seed nodes, "host:port" or "[v6]:port". At least one. */
	const char *const *nodes;
	size_t n_nodes;
	const char *volume;
	bool read_only;           /* ask the nodes for read-only access */

	/*
	 * TLS: either ssl_ctx (from nb_tls_client_ctx_new()) or the three file
	 * names. ca is required with files; cert and key go together.
	 */
	struct ssl_ctx_st *ssl_ctx;
	const char *tls_ca, *tls_cert, *tls_key;
	/* With the files: TLS 1.3 suites offered, in order; NULL: OpenSSL's
	 * default (see nb_tls_client_ctx_new()). */
	const char *tls_ciphersuites;
	/*
	 * Name the server certificate must carry. NULL: the host part of
	 * each node's address (a DNS name, or an IP address checked against
	 * the certificate's IP SANs).
	 */
	const char *server_name;

	/*
	 * io_timeout: give up on an io (done(-EIO)) once it has been retried
	 * for this long; 0 = retry forever.
	 * try_timeout: a request without a reply for this long, while its
	 * node sent nothing for as long (or for 4 x this long in any case),
	 * means the connection is stuck: it is closed and reconnected, and
	 * its requests are sent again (to the next reachable node of their
	 * placement); 0 = default. io_timeout is checked when a request is
	 * retried, so an io may fail up to one try_timeout after it.
	 * connect_timeout: nb_session_start() fails with -ETIMEDOUT when no
	 * node was reachable in this time; also the limit for one TCP+TLS
	 * connect attempt. 0 = default.
	 */
	double io_timeout;
	double try_timeout;
	double connect_timeout;

	uint32_t max_inflight;    /* asked per connection; 0 = default */
	uint32_t max_io_size;     /* asked per request; 0 = default */
	const char *client_name;  /* shown in node logs; NULL = "netblk" */

	/*
	 * The writer lock, for read-write sessions (ignored read-only).
	 * The lock is kept per store: a map group (its nodes share one store
	 * and one lock) or a node without a group (its own).
	 * lock_owner: who takes it, "NAME@HOST" for the daemon; NULL opens
	 * without an owner (nodes allow that only while nobody holds the
	 * lock). break_lock: take it even from another owner; sent to a
	 * store only until it granted the session a generation.
	 * lock_generation: the generation the caller held before (a daemon
	 * taking over a device from its predecessor), 0 = none; meaningful
	 * for a volume of one store only: every store's first OPEN presents
	 * it, and a lock that moved on since fails the start with -ESTALE.
	 * Every read-write OPEN presents the generation its store granted
	 * the session; the store's first grant fixes it for all the
	 * session's connections to that store.
	 */
	const char *lock_owner;
	bool break_lock;
	uint64_t lock_generation;

	session_log_fn *log_fn;   /* NULL = stderr */
	void *log_opaque;
	int log_level;            /* highest level logged; 0 = LOG_NOTICE */

	/*
	 * Shared by the sessions of one device (one per queue): a guest
	 * FLUSH on any of them then reaches every node that completed
	 * writes for any of them. NULL: this session flushes only the
	 * nodes it wrote to. Outlives the sessions that use it.
	 */
	struct session_flush_ledger *flush_ledger;

	/*
	 * Shared by the sessions of one device (one per queue), read and
	 * set atomically: the first of them to be fenced logs the lost lock
	 * at LOG_ERR, the others at LOG_INFO (one error line per volume).
	 * NULL: each session logs its own. Outlives the sessions.
	 */
	int *fence_logged;
};

/* A FLUSH ledger (see flush_ledger above). NULL with errno on failure. */
struct session_flush_ledger *nb_flush_ledger_new(void);
void nb_flush_ledger_free(struct session_flush_ledger *ledger);

/*
 * One block I/O. The caller fills the public fields; the engine owns the
 * private part between submit and done.
 *
 * op: SESSION_OP_READ, _WRITE, _FLUSH, _DISCARD, _WRITE_ZEROES.
 * offset, length: bytes, multiples of 512 (SESSION_SECTOR), inside the
 *     volume. READ and WRITE need length > 0. FLUSH ignores both.
 * flags: SESSION_FLAG_FUA (WRITE, WRITE_ZEROES), SESSION_FLAG_UNMAP
 *     (WRITE_ZEROES).
 * iov, iovcnt: READ/WRITE data, any number of segments holding at least
 *     length bytes in total; unused for other ops. READ data is received
 *     straight into these buffers. WRITE data is copied once, into the
 *     TLS output of the connection.
 * FLUSH is sent to every node that completed write-class requests
 *     without FUA for this session since the last FLUSH sent to it (or
 *     whose last FLUSH failed), and completes when all answered; with no
 *     such node it completes (later, from the loop) with 0. Nodes that
 *     said writes_durable at HANDSHAKE need none. A new session owes a
 *     FLUSH to every non-durable node it could write to (an earlier
 *     engine may have left writes there): its first FLUSH goes to all of
 *     them. A FLUSH waits for an unreachable node, until io_timeout.
 * Requests are cut at chunk boundaries and at max_io_size (READ/WRITE) or
 *     the volume's discard / write-zeroes limits; done() is called once,
 *     after every piece completed; the first error wins.
 * Retries: IO_ERROR, a lost connection or try_timeout send the piece to
 *     the next reachable node of its placement that holds the chunk's
 *     data (the first node or one of its store group, map_same_store);
 *     with none reachable the piece waits; BUSY waits a backoff;
 *     NOT_OWNER from a node with a newer epoch refreshes the map (one
 *     GET_MAP at a time) and routes again; all until io_timeout (0:
 *     forever), a deadline counted from submit: pieces still on a
 *     connection then are taken back by closing it, and the io fails. Every request that had no reply when its connection was
 *     lost is sent again; see "Idempotence" in docs/protocol.md for why
 *     that never changes the result.
 * Node health: a node whose connection was closed for a request without
 *     reply (try_timeout) is avoided while another node of the placement
 *     is usable, for try_timeout x 2^(strikes - 1), at most 60 s; it gets
 *     requests again after that, and its strikes are forgotten at its
 *     first data reply. Nodes that are down are reconnected with an
 *     exponential backoff (50 ms doubling to 5 s, with jitter); once
 *     READY again, the first node of each placement is preferred again.
 *     The session never enters a permanent failed state after start: ios
 *     that ran out of io_timeout fail with -EIO, later ones are tried
 *     afresh.
 * Fencing: when a node answers FENCED (the writer lock was broken: see
 *     docs/protocol.md), or a connection's OPEN is refused with FENCED or
 *     LOCKED, or granted with another generation than its store's, the
 *     session is fenced for good: the request fails with -EIO, never
 *     retried; every later write-class io (WRITE, WRITE_ZEROES, DISCARD,
 *     FLUSH) fails at once with -EIO; connections made from then on open
 *     read-only, so reads go on. It is logged once, at error level,
 *     naming the new holder (asked with an INFO) and both generations.
 * done: result is 0, -EIO (the cause was logged once with node address,
 *     request id and status name), -EOPNOTSUPP (the nodes do not
 *     implement the op or flag) or -EROFS (write-class op on a read-only
 *     volume).
 */
struct session_io {
	enum session_op op;
	uint64_t offset;
	uint64_t length;
	uint32_t flags;
	const struct iovec *iov;
	int iovcnt;
	void (*done)(struct session_io *io, int result);
	void *opaque;

	/* private: the engine's, between submit and done */
	struct {
		struct session_io *next;  /* completion / wait list */
		struct session *session;
		uint32_t pending;         /* sub-requests not completed */
		int result;               /* first error wins */
		double start;             /* ev_now() at submit */
		/* ios under an io_timeout, oldest first */
		struct session_io *older, *newer;
	} priv;
};

struct session_stats {
	uint64_t ios;             /* session_io accepted */
	uint64_t requests;        /* RPC requests sent (sub-requests, resends) */
	uint64_t retries;         /* requests sent again */
	uint64_t reconnects;      /* connections re-established */
	uint64_t errors;          /* io completed with an error */
	uint64_t map_refreshes;   /* new maps installed */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint32_t inflight;        /* ios accepted, done not yet called */
	uint32_t conns_ready;     /* connections in state READY */
	uint64_t timeouts;        /* connections closed for a request without
				     reply within try_timeout */
	uint64_t tls_reloads;     /* nb_session_reload_tls() calls */
	uint64_t volume_refreshes; /* nb_session_refresh_volume() answered */
};

/*
 * Allocate a session for loop. Nothing is connected yet. Returns NULL with
 * errno set (EINVAL for a bad config: no nodes, unparsable address, empty
 * volume, missing TLS files; ENOMEM); the reason is logged.
 */
struct session *nb_session_new(struct ev_loop *loop,
			    const struct session_config *cfg);

/*
 * Start asynchronously: connect to the seed nodes, complete TLS and the
 * handshake with the first that answers, OPEN the volume, fetch the map,
 * then connect to the nodes of the map as they are needed. ready_cb is
 * called exactly once, from the loop, with err:
 *   0             ready: nb_session_volume() and nb_session_submit() usable
 *   -ENOENT       the volume does not exist
 *   -ECONNREFUSED no seed node accepted a connection
 *   -ETIMEDOUT    no seed node answered within connect_timeout
 *   -EACCES       TLS failed: certificate not trusted, wrong name, expired
 *   -EPROTO       TLS or protocol failure of another kind
 *   -EROFS        read-write access asked for a read-only volume
 *   -EBUSY        another owner holds the writer lock (LOCKED); the
 *                 message names the holder, its generation and since when
 *   -ESTALE       the writer lock moved on from cfg.lock_generation
 *                 (FENCED, or a grant with another generation)
 *   -EIO          other failure reported by the node
 * nb_session_last_error() then holds a message naming the node and cause.
 * After a failure the session can only be freed.
 * Returns 0, or -EALREADY when already started.
 */
typedef void session_ready_fn(struct session *s, int err, void *opaque);
int nb_session_start(struct session *s, session_ready_fn *ready_cb, void *opaque);

/*
 * Blocking convenience for tools: nb_session_new + nb_session_start, running
 * loop (which should have no other watchers that keep it busy) until
 * ready_cb. Returns the ready session, or NULL with errno set to the
 * positive error of the start, and a message in err (if errlen > 0).
 */
struct session *nb_session_open_sync(struct ev_loop *loop,
				  const struct session_config *cfg,
				  char *err, size_t errlen);

/* Message of the last failure (start or io); "" when none. Never NULL. */
const char *nb_session_last_error(const struct session *s);

/* Valid once ready (NULL before). Owned by the session; its size changes
 * with nb_session_refresh_volume(). */
const struct session_volume *nb_session_volume(const struct session *s);

/* Current map (proto's map.h, for white-box tests), NULL before ready.
 * Owned by the session; replaced when a
 * newer epoch arrives, so do not keep the pointer across loop iterations. */
const struct map *nb_session_map(const struct session *s);

bool nb_session_is_ready(const struct session *s);

/*
 * Submit an io. Returns 0 when accepted (done() will be called exactly
 * once, later, from the loop), or without calling done():
 *   -EINVAL   bad op, flags, alignment, range or iovecs
 *   -ENOTCONN session not ready (start not finished, or failed)
 */
int nb_session_submit(struct session *s, struct session_io *io);

void nb_session_get_stats(const struct session *s, struct session_stats *out);

/*
 * Change the io_timeout of a live session (from the session's loop).
 * Ios in progress keep their start: a shorter timeout can expire them at
 * once. Going from 0 to a timeout, only ios submitted from now on get
 * one; to 0, none has one any more. 0, or -EINVAL for a negative value.
 */
int nb_session_set_io_timeout(struct session *s, double io_timeout);

/*
 * The writer lock as this session holds it, when the volume's map has
 * exactly one store (docs/protocol.md, "The writer lock"): the
 * generation fixed by the store's first read-write OPEN, its owner and
 * since when. All zero while none, for read-only sessions, with nodes
 * that keep no lock, and when the map has several stores (each its own
 * lock and generation). Stays as it was after the session was fenced.
 */
void nb_session_writer_lock(const struct session *s, struct session_lock *out);

/* How many stores granted this session the writer lock (a map group or a
 * node without one each; 0 for read-only sessions and nodes without a
 * lock). */
size_t nb_session_locks_held(const struct session *s);

/* Has the session lost its writer lock (see "Fencing" above)? */
bool nb_session_fenced(const struct session *s);

/*
 * The TLS cipher suite of the first ready connection (OpenSSL's name,
 * e.g. "TLS_AES_128_GCM_SHA256"), or NULL when none is ready. Static
 * text; for headers of reports and logs.
 */
const char *nb_session_tls_suite(const struct session *s);

/*
 * Learn the volume's current size (online resize) without disturbing
 * I/O: an INFO request for the volume goes to one READY node, on the
 * connection that carries block requests; the call never blocks.
 * When the reply arrives, a size that differs from nb_session_volume()'s is
 * taken over (requests up to the new size are accepted from then on;
 * after a shrink, requests beyond it are refused with -EINVAL), and
 * cb(s, info, 0, opaque) is called with info = nb_session_volume(s), valid
 * during the call. A change of block size is refused (err -EPROTO, size
 * kept). Otherwise cb gets info NULL and err:
 *   -EIO       the node answered with an error status (logged)
 *   -EPROTO    the reply lacks volume information, or the block size
 *              changed
 *   -ENOTCONN  the connection was lost and no other node is READY
 *   -ESHUTDOWN nb_session_free() ran (cb is then called from inside it)
 * cb is called exactly once, from the loop (never from inside this
 * function); it may call any session function except nb_session_free().
 * A lost connection sends the INFO again to another READY node (at most
 * 3 tries). Several refreshes may run at once, each with its own cb.
 * Returns 0 (cb will be called), -ENOTCONN (session not ready or no node
 * READY now: try again later) or -ENOMEM.
 */
typedef void session_volume_fn(struct session *s,
			       const struct session_volume *info, int err,
			       void *opaque);
int nb_session_refresh_volume(struct session *s, session_volume_fn *cb,
			   void *opaque);

/*
 * Use ctx (from nb_tls_client_ctx_new()) for every connection made from now
 * on: certificate, key and CA reload, e.g. on SIGHUP. Connections that
 * are up keep their session and their old context until they close; the
 * I/O on them is not disturbed. ctx gets a reference of its own
 * (SSL_CTX_up_ref); the caller keeps and frees its own, and may share
 * one ctx between the sessions of several threads. To reload from files,
 * call nb_tls_client_ctx_new() first: when it fails (unreadable or bad
 * file, key not private, key not matching the certificate) keep the old
 * context and log the message it gives. Returns 0, or -EINVAL for a NULL
 * ctx.
 * Across threads: build the context once, take one reference per worker
 * (SSL_CTX_up_ref) before waking the workers' ev_async, and let each
 * worker call nb_session_reload_tls() and then SSL_CTX_free() its reference.
 */
int nb_session_reload_tls(struct session *s, struct ssl_ctx_st *ctx);

void nb_session_free(struct session *s);

#endif
