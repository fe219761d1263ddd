/* SPDX-License-Identifier: MIT */
/*
 * Internals of one session (session.h), shared by the files that
 * implement it: session.c (life cycle, start, connection events), node.c
 * (the nodes, their health, the map), io.c (submit, routing, retries,
 * completion), volume.c (volume refresh) and lock.c (the writer lock and
 * fencing). Not an interface for other modules.
 */
#ifndef NETBLK_SESSION_PRIV_H
#define NETBLK_SESSION_PRIV_H

#include <ev.h>

#include "session.h"
#include "conn.h"
#include "engine_log.h"
#include "map.h"
#include "route.h"

#define SESSION_BACKOFF_BASE 0.05  /* s */
#define SESSION_BACKOFF_MAX  5.0   /* s */
#define SESSION_SUB_BLOCK    64
#define SESSION_AVOID_MAX    60.0  /* s, longest a timed-out node is avoided */

/* session_node.bits */
#define SESSION_NODE_SEED  1u  /* seed whose first attempt is running */
#define SESSION_NODE_WROTE 2u  /* may hold writes not flushed yet: completed
				  writes without FUA since the last FLUSH, a
				  failed FLUSH, or inherited at start */
#define SESSION_NODE_DIRTY 4u  /* on s->dirty */
#define SESSION_NODE_DURABLE 8u /* said writes_durable at its last HANDSHAKE */
#define SESSION_NODE_EXPIRED 16u /* carries a request past the I/O deadline */

/*
 * One storage node as the session sees it: its connection and what the
 * session keeps about it. Created for each seed and for each new address
 * of a map, owned by the session (s->nodes) and freed with it, never
 * before: requests and the map point to nodes.
 */
struct session_node {
	struct session *session;
	struct conn *conn;          /* owned; nb_conn_owner(conn) is this node */
	unsigned bits;              /* SESSION_NODE_* */
	struct session_node *next_dirty;  /* on s->dirty */
	struct ledger_slot *slot;   /* in the shared FLUSH ledger, or NULL */
	double avoid_until;         /* ev_now() before which to route elsewhere */
	uint32_t strikes;           /* timeouts since the node last answered */
};

enum session_state {
	SESSION_NEW,
	SESSION_STARTING,
	SESSION_READY,
	SESSION_FAILED,
	SESSION_FREEING,
	SESSION_STATE_MAX
};

enum session_sub_where {
	SUB_FREE,
	SUB_CONN,       /* queued or in flight on sub->conn */
	SUB_DELAYED,    /* on s->delayed until due (or a conn gets ready) */
	SUB_MAP_WAIT,   /* on s->map_wait until a map refresh ends */
	SUB_IDLE,       /* being handled */
};

/* One RPC request of an io: a piece of it, or a FLUSH to one node. */
struct session_sub {
	struct conn_req req;        /* reply, returned: io.c */
	struct session_io *io;
	enum session_sub_where where;
	struct session_node *node;  /* last node it went to */
	struct session_node *target; /* FLUSH: the node to flush */
	uint64_t flush_seq;         /* FLUSH: ledger count it covers */
	uint32_t pos;               /* placement position to try */
	uint32_t hops;              /* nodes tried since the last backoff */
	uint32_t attempts;          /* backoffs so far */
	uint32_t sends;
	bool wait_ready;            /* delayed for want of a usable node */
	double due;
	struct session_sub *next;
	char cause[512];            /* last failure, for the final log */
};

struct session_sub_block {
	struct session_sub_block *next;
	struct session_sub subs[SESSION_SUB_BLOCK];
};

/* A store's writer lock as the session holds it (lock.c). */
struct session_store {
	uint32_t group;             /* map group; 0: the store of node alone */
	char node[MAP_ADDR_MAX + 1]; /* group 0: its node; else who granted */
	struct session_lock lock;   /* as granted */
};

struct session {
	struct ev_loop *loop;
	enum session_state state;
	struct elog log;
	struct conn_params params;
	SSL_CTX *ssl_ctx;

	struct session_flush_ledger *ledger; /* cfg->flush_ledger or own_ledger */
	struct session_flush_ledger *own_ledger; /* owned, when cfg has none */

	/* config, copied */
	char **seeds;
	size_t n_seeds;
	char *volume_name;
	char *server_name;
	char *client_name;
	bool read_only;
	double io_timeout;
	char *lock_owner;           /* NULL: opens without an owner */

	/*
	 * The writer lock (lock.c), one per store: a map group (groups[i] !=
	 * 0: its nodes share one store and one lock) or a node without a
	 * group. stores: the generation each store granted, fixed by its
	 * first read-write OPEN; every later open of that store presents it
	 * and must be granted the same (a store not granted yet presents
	 * params.lock_generation, the config's, and params.break_lock).
	 * fenced: lost for good; write-class ios fail at once and new
	 * connections open read-only.
	 */
	struct session_store *stores;
	size_t n_stores, cap_stores;
	bool fenced;
	bool fence_logged;
	int *fence_logged_shared;   /* session_config.fence_logged */
	uint64_t fence_ours;        /* the generation we lost */
	struct conn_req fence_req;  /* INFO asking who holds the lock now */
	bool fence_asking;

	/* start */
	session_ready_fn *ready_cb;
	void *ready_opaque;
	bool ready_due;
	int start_err;
	size_t seeds_pending;
	char last_error[512];

	struct rpc_volume_info volume;
	bool have_volume;
	uint32_t max_io_size;

	struct map *map;
	struct session_node **map_nodes;  /* by map node index */
	struct session_node **nodes;      /* every node, seeds first; owned */
	size_t n_nodes, cap_nodes;

	struct session_sub_block *blocks;
	struct session_sub *free_subs;

	struct session_sub *delayed;
	ev_timer retry_timer;
	double retry_at;

	/* ios in progress under io_timeout, oldest first (via priv.newer);
	 * deadline_timer fires when the oldest one's time is up */
	struct session_io *oldest, *newest;
	ev_timer deadline_timer;

	struct session_sub *map_wait;
	struct conn_req map_req;    /* the GET_MAP of a map refresh */
	bool refreshing;

	struct session_volume pub_volume;  /* nb_session_volume()'s copy */

	struct session_io *done_head, **done_tail;
	struct session_volreq *vol_done;  /* volume refreshes to report */
	ev_idle idle;

	struct session_node *dirty; /* via node->next_dirty: nb_conn_flush due */
	ev_prepare prepare;

	bool in_submit;
	uint64_t rnd;
	struct session_stats stats;
};

/* A nb_session_refresh_volume() in progress: an INFO request on one conn. */
struct session_volreq {
	struct conn_req req;        /* op RPC_OP_INFO; reply, returned: volume.c */
	struct session *session;
	session_volume_fn *cb;
	void *opaque;
	int err;
	uint32_t tries;
	struct session_volreq *next;
};

/* session.c */
void nb_session_set_error(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nb_session_idle_start(struct session *s);
void nb_session_volume_changed(struct session *s);

/* node.c */
struct session_node *nb_session_node_find(struct session *s, const char *addr);
struct session_node *nb_session_node_add(struct session *s, const char *addr);
void nb_session_nodes_free(struct session *s);
bool nb_session_node_avoided(const struct session_node *node);
void nb_session_node_timed_out(struct session_node *node);
void nb_session_node_answered(struct session_node *node);
struct session_node *nb_session_node_ready(struct session *s,
					struct session_node *skip);
bool nb_session_map_offer(struct session *s, struct session_node *node,
		       struct rpc_reply *rep);
void nb_session_refresh_map(struct session *s, struct session_node *prefer);
void nb_session_node_opened(struct session_node *node);
void nb_session_nodes_inherit(struct session *s);

/* volume.c */
void nb_session_volreq_run_done(struct session *s);

/* lock.c */
int nb_session_lock_granted(struct session *s, struct conn *conn,
			 const struct rpc_volume_info *v, char *msg,
			 size_t msglen);
void nb_session_fence(struct session *s, struct conn *conn,
		   const struct rpc_lock *now);
void nb_session_fence_ask(struct session *s);
void nb_session_lock_present(struct session *s, struct conn *conn,
			  bool *break_lock, uint64_t *generation);

/* io.c */
void nb_session_kick_waiting(struct session *s);
void nb_session_map_wait_done(struct session *s, bool newer);
void nb_session_fail_all(struct session *s);
void nb_session_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
void nb_session_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents);
void nb_session_run_completions(struct session *s);
void nb_session_subs_free(struct session *s);

#endif
