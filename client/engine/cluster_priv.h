/* SPDX-License-Identifier: MIT */
/*
 * Internals of the client engine shared by cluster.c (life cycle, start,
 * map, connection events) and cluster_io.c (submit, routing, retries,
 * completion). Not an interface for other modules.
 */
#ifndef NETBLK_CLUSTER_PRIV_H
#define NETBLK_CLUSTER_PRIV_H

#include <ev.h>

#include "cluster.h"
#include "conn.h"
#include "engine_log.h"
#include "map.h"
#include "route.h"

#define CLUSTER_BACKOFF_BASE 0.05  /* s */
#define CLUSTER_BACKOFF_MAX  5.0   /* s */
#define CLUSTER_SUB_BLOCK    64
#define CLUSTER_AVOID_MAX    60.0  /* s, longest a timed-out node is avoided */

/* conn->owner_bits */
#define CLUSTER_CONN_SEED  1u  /* seed whose first attempt is running */
#define CLUSTER_CONN_WROTE 2u  /* completed writes since the last FLUSH */
#define CLUSTER_CONN_DIRTY 4u  /* on c->dirty */

enum cluster_state {
	CLUSTER_NEW,
	CLUSTER_STARTING,
	CLUSTER_READY,
	CLUSTER_FAILED,
	CLUSTER_FREEING,
	CLUSTER_STATE_MAX
};

enum cluster_sub_where {
	SUB_FREE,
	SUB_CONN,       /* queued or in flight on sub->conn */
	SUB_DELAYED,    /* on c->delayed until due (or a conn gets ready) */
	SUB_MAP_WAIT,   /* on c->map_wait until a map refresh ends */
	SUB_IDLE,       /* being handled */
};

/* One RPC request: a piece of an io, a FLUSH to one node, or GET_MAP. */
struct cluster_sub {
	struct conn_req req;        /* first member */
	struct cluster_io *io;      /* NULL for GET_MAP */
	enum cluster_sub_where where;
	struct conn *conn;          /* last conn it went to */
	struct conn *target;        /* FLUSH: the node to flush */
	uint32_t pos;               /* placement position to try */
	uint32_t hops;              /* nodes tried since the last backoff */
	uint32_t attempts;          /* backoffs so far */
	uint32_t sends;
	bool wait_ready;            /* delayed for want of a usable node */
	double due;
	struct cluster_sub *next;
	char cause[512];            /* last failure, for the final log */
};

struct cluster_sub_block {
	struct cluster_sub_block *next;
	struct cluster_sub subs[CLUSTER_SUB_BLOCK];
};

struct cluster {
	struct ev_loop *loop;
	enum cluster_state state;
	struct elog log;
	struct conn_params params;
	SSL_CTX *ssl_ctx;

	/* config, copied */
	char **seeds;
	size_t n_seeds;
	char *volume_name;
	char *server_name;
	char *client_name;
	bool read_only;
	double io_timeout;

	/* start */
	cluster_ready_fn *ready_cb;
	void *ready_opaque;
	bool ready_due;
	int start_err;
	size_t seeds_pending;
	char last_error[512];

	struct rpc_volume_info volume;
	bool have_volume;
	uint32_t max_io_size;

	struct map *map;
	struct conn **node_conn;    /* by map node index */
	struct conn **conns;        /* every conn, seeds first */
	size_t n_conns, cap_conns;

	struct cluster_sub_block *blocks;
	struct cluster_sub *free_subs;

	struct cluster_sub *delayed;
	ev_timer retry_timer;
	double retry_at;

	struct cluster_sub *map_wait;
	struct cluster_sub refresh;
	bool refreshing;

	struct cluster_io *done_head, **done_tail;
	struct cluster_volreq *vol_done;  /* volume refreshes to report */
	ev_idle idle;

	struct conn *dirty;         /* via conn->owner_next */
	ev_prepare prepare;

	bool in_submit;
	uint64_t rnd;
	struct cluster_stats stats;
};

/* A cluster_refresh_volume() in progress: an INFO request on one conn. */
struct cluster_volreq {
	struct conn_req req;        /* first member; op RPC_OP_INFO */
	cluster_volume_fn *cb;
	void *opaque;
	int err;
	uint32_t tries;
	struct rpc_volume_info info;
	struct cluster_volreq *next;
};

/* cluster.c */
void cluster_set_error(struct cluster *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cluster_refresh_map(struct cluster *c, struct conn *prefer);
void cluster_idle_start(struct cluster *c);
bool cluster_node_avoided(const struct cluster *c, const struct conn *conn);

/* cluster_admin.c (volume refresh) */
void cluster_volreq_reply(struct cluster *c, struct conn *conn,
			  struct cluster_volreq *vr, const struct rpc_reply *rep);
void cluster_volreq_returned(struct cluster *c, struct conn *conn,
			     struct cluster_volreq *vr, int err);
void cluster_volreq_run_done(struct cluster *c);

/* cluster_io.c */
struct cluster_sub *cluster_sub_alloc(struct cluster *c);
void cluster_sub_free(struct cluster *c, struct cluster_sub *sub);
void cluster_route(struct cluster *c, struct cluster_sub *sub);
void cluster_sub_finish(struct cluster *c, struct cluster_sub *sub,
			int result);
void cluster_sub_reply(struct cluster *c, struct conn *conn,
		       struct cluster_sub *sub, const struct rpc_reply *rep);
void cluster_sub_returned(struct cluster *c, struct conn *conn,
			  struct cluster_sub *sub, int err);
void cluster_kick_waiting(struct cluster *c);
void cluster_map_wait_done(struct cluster *c, bool newer);
void cluster_fail_all(struct cluster *c);
void cluster_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
void cluster_run_completions(struct cluster *c);

#endif
