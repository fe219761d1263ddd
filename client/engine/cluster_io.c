/* SPDX-License-Identifier: MIT */
/*
 * The client engine's data path: accepting an io, cutting it into
 * requests, routing each to a node of its chunk's placement, reacting to
 * replies and failures (next node, backoff, map refresh), and completing
 * the io once every piece is done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"

/* ---- request pool: grows in blocks, never shrinks before free ---- */

struct cluster_sub *cluster_sub_alloc(struct cluster *c)
{
	struct cluster_sub *sub = c->free_subs;

	if (!sub) {
		struct cluster_sub_block *b = malloc(sizeof(*b));

		if (!b)
			return NULL;
		b->next = c->blocks;
		c->blocks = b;
		for (int i = CLUSTER_SUB_BLOCK - 1; i >= 0; i--) {
			b->subs[i].next = c->free_subs;
			b->subs[i].where = SUB_FREE;
			c->free_subs = &b->subs[i];
		}
		sub = c->free_subs;
	}
	c->free_subs = sub->next;
	memset(sub, 0, offsetof(struct cluster_sub, cause));
	sub->cause[0] = '\0';
	sub->where = SUB_IDLE;
	return sub;
}

void cluster_sub_free(struct cluster *c, struct cluster_sub *sub)
{
	sub->where = SUB_FREE;
	sub->io = NULL;
	sub->next = c->free_subs;
	c->free_subs = sub;
}

/* ---- completion ---- */

static void cluster_io_complete(struct cluster *c, struct cluster_io *io)
{
	int result = io->priv.result;

	c->stats.inflight--;
	if (result)
		c->stats.errors++;
	if (c->in_submit || c->state == CLUSTER_FREEING) {
		/* never from inside cluster_submit(): defer to the loop */
		io->priv.next = NULL;
		*c->done_tail = io;
		c->done_tail = &io->priv.next;
		if (c->state != CLUSTER_FREEING)
			cluster_idle_start(c);
		return;
	}
	io->done(io, result);
}

void cluster_run_completions(struct cluster *c)
{
	struct cluster_io *list = c->done_head;

	c->done_head = NULL;
	c->done_tail = &c->done_head;
	while (list) {
		struct cluster_io *io = list;

		list = io->priv.next;
		io->priv.next = NULL;
		io->done(io, io->priv.result);
	}
}

static const char *cluster_io_what(const struct cluster_sub *sub, char *buf,
				   size_t len)
{
	const struct conn_req *r = &sub->req;

	if (r->op == RPC_OP_FLUSH)
		snprintf(buf, len, "FLUSH");
	else
		snprintf(buf, len, "%s of %llu bytes at %llu",
			 rpc_op_name(r->op), (unsigned long long)r->length,
			 (unsigned long long)r->offset);
	return buf;
}

void cluster_sub_finish(struct cluster *c, struct cluster_sub *sub,
			int result)
{
	struct cluster_io *io = sub->io;

	if (result < 0) {
		char what[96];

		cluster_io_what(sub, what, sizeof(what));
		/* log the first failure of an io only */
		if (c->state != CLUSTER_FREEING && io->priv.result == 0) {
			elog_printf(&c->log, LOG_ERR, "volume %s: %s failed: %s",
				    c->volume_name, what,
				    sub->cause[0] ? sub->cause : strerror(-result));
			cluster_set_error(c, "%s failed: %s", what,
					  sub->cause[0] ? sub->cause :
					  strerror(-result));
		}
		if (io->priv.result == 0)
			io->priv.result = result;
		/* that node's writes are still not known to be durable */
		if (sub->req.op == RPC_OP_FLUSH && sub->target)
			sub->target->owner_bits |= CLUSTER_CONN_WROTE;
	} else if (result == 0) {
		if (sub->req.op == RPC_OP_READ)
			c->stats.bytes_read += sub->req.length;
		else if (sub->req.op == RPC_OP_WRITE)
			c->stats.bytes_written += sub->req.length;
	}
	cluster_sub_free(c, sub);
	if (--io->priv.pending == 0)
		cluster_io_complete(c, io);
}

/* Fail everything not on a connection (used by cluster_free). */
void cluster_fail_all(struct cluster *c)
{
	struct cluster_sub *list;

	ev_timer_stop(c->loop, &c->retry_timer);
	for (int pass = 0; pass < 2; pass++) {
		list = pass ? c->map_wait : c->delayed;
		if (pass)
			c->map_wait = NULL;
		else
			c->delayed = NULL;
		while (list) {
			struct cluster_sub *sub = list;

			list = sub->next;
			cluster_sub_finish(c, sub, -EIO);
		}
	}
}

/* ---- delays ---- */

static bool cluster_sub_expired(struct cluster *c, struct cluster_sub *sub)
{
	return c->io_timeout > 0 &&
	       ev_now(c->loop) - sub->io->priv.start >= c->io_timeout;
}

/* Finish with -EIO when the io timeout has run out. Returns true if so. */
static bool cluster_sub_give_up(struct cluster *c, struct cluster_sub *sub)
{
	if (c->state == CLUSTER_FREEING) {
		cluster_sub_finish(c, sub, -EIO);
		return true;
	}
	if (!cluster_sub_expired(c, sub))
		return false;
	if (!sub->cause[0])
		snprintf(sub->cause, sizeof(sub->cause), "no node reachable");
	size_t l = strlen(sub->cause);
	snprintf(sub->cause + l, sizeof(sub->cause) - l,
		 " (gave up after %.1f s)", c->io_timeout);
	cluster_sub_finish(c, sub, -EIO);
	return true;
}

static void cluster_retry_arm(struct cluster *c, double due)
{
	double now = ev_now(c->loop);

	if (ev_is_active(&c->retry_timer) && c->retry_at <= due)
		return;
	ev_timer_stop(c->loop, &c->retry_timer);
	c->retry_at = due;
	ev_timer_set(&c->retry_timer, due > now ? due - now : 0., 0.);
	ev_timer_start(c->loop, &c->retry_timer);
}

/* Route again after a backoff (or when a conn gets ready if wait_ready). */
static void cluster_delay(struct cluster *c, struct cluster_sub *sub,
			  bool wait_ready)
{
	double now = ev_now(c->loop);
	double due;

	if (cluster_sub_give_up(c, sub))
		return;
	due = now + route_backoff(sub->attempts, CLUSTER_BACKOFF_BASE,
				  CLUSTER_BACKOFF_MAX, route_rand(&c->rnd));
	sub->attempts++;
	sub->hops = 0;
	if (c->io_timeout > 0 && due > sub->io->priv.start + c->io_timeout)
		due = sub->io->priv.start + c->io_timeout;
	sub->due = due;
	sub->wait_ready = wait_ready;
	sub->where = SUB_DELAYED;
	sub->next = c->delayed;
	c->delayed = sub;
	cluster_retry_arm(c, due);
}

void cluster_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *c = w->data;
	struct cluster_sub *list = c->delayed, *keep = NULL;
	double now = ev_now(loop), next = 0;

	c->delayed = NULL;
	while (list) {
		struct cluster_sub *sub = list;

		list = sub->next;
		if (sub->due <= now + 0.0005) {
			sub->where = SUB_IDLE;
			cluster_route(c, sub);
		} else {
			sub->next = keep;
			keep = sub;
			if (next == 0 || sub->due < next)
				next = sub->due;
		}
	}
	/* routing may have delayed some again: merge */
	while (keep) {
		struct cluster_sub *sub = keep;

		keep = sub->next;
		sub->next = c->delayed;
		c->delayed = sub;
	}
	if (next)
		cluster_retry_arm(c, next);
}

/* A conn became ready: route at once what waited for a usable node. */
void cluster_kick_waiting(struct cluster *c)
{
	struct cluster_sub *list = c->delayed, *keep = NULL;

	c->delayed = NULL;
	while (list) {
		struct cluster_sub *sub = list;

		list = sub->next;
		if (sub->wait_ready) {
			sub->where = SUB_IDLE;
			cluster_route(c, sub);
		} else {
			sub->next = keep;
			keep = sub;
		}
	}
	while (keep) {
		struct cluster_sub *sub = keep;

		keep = sub->next;
		sub->next = c->delayed;
		c->delayed = sub;
	}
}

/* A map refresh ended; newer: a newer map was installed. */
void cluster_map_wait_done(struct cluster *c, bool newer)
{
	struct cluster_sub *list = c->map_wait;

	c->map_wait = NULL;
	while (list) {
		struct cluster_sub *sub = list;

		list = sub->next;
		sub->where = SUB_IDLE;
		if (newer) {
			sub->pos = 0;
			sub->hops = 0;
			cluster_route(c, sub);
		} else {
			/* the node that said NOT_OWNER knows more: try the
			 * next one, later */
			sub->pos++;
			cluster_delay(c, sub, false);
		}
	}
}

/* ---- routing ---- */

static bool cluster_node_usable(uint32_t node, void *opaque)
{
	struct cluster *c = opaque;

	return conn_usable(c->node_conn[node]);
}

/* Usable and not avoided after a timeout: the first choice. */
static bool cluster_node_healthy(uint32_t node, void *opaque)
{
	struct cluster *c = opaque;

	return conn_usable(c->node_conn[node]) &&
	       !cluster_node_avoided(c, c->node_conn[node]);
}

static void cluster_send(struct cluster *c, struct cluster_sub *sub,
			 struct conn *conn)
{
	if (sub->sends)
		c->stats.retries++;
	sub->sends++;
	c->stats.requests++;
	sub->conn = conn;
	sub->where = SUB_CONN;
	conn_submit(conn, &sub->req);
}

/*
 * Cut sub to at most len bytes; the rest becomes a new request of the
 * same io. Returns the rest, or NULL (sub failed) when out of memory.
 */
static struct cluster_sub *cluster_sub_split(struct cluster *c,
					     struct cluster_sub *sub,
					     uint64_t len)
{
	struct cluster_sub *rest = cluster_sub_alloc(c);

	if (!rest) {
		snprintf(sub->cause, sizeof(sub->cause),
			 "out of memory splitting a request");
		cluster_sub_finish(c, sub, -EIO);
		return NULL;
	}
	rest->io = sub->io;
	rest->req = sub->req;
	rest->req.next = NULL;
	rest->req.offset += len;
	rest->req.length -= len;
	if (rest->req.iov)
		route_iov_advance(rest->req.iov, rest->req.iovcnt,
				  &rest->req.pos, len);
	rest->attempts = sub->attempts;
	sub->req.length = len;
	sub->io->priv.pending++;
	return rest;
}

void cluster_route(struct cluster *c, struct cluster_sub *sub)
{
	while (sub) {
		struct cluster_sub *rest = NULL;

		if (sub->sends && cluster_sub_give_up(c, sub))
			return;
		if (sub->req.op == RPC_OP_FLUSH) {
			if (conn_usable(sub->target))
				cluster_send(c, sub, sub->target);
			else
				cluster_delay(c, sub, true);
			return;
		}

		const struct map *map = c->map;
		uint64_t chunk = map_chunk_of(map, sub->req.offset);
		const struct map_placement *pl = map_placement_of(map, chunk);
		int pos = route_pick(pl, sub->pos, cluster_node_healthy, c);

		if (pos < 0)
			pos = route_pick(pl, sub->pos, cluster_node_usable, c);
		if (pos < 0) {
			if (!sub->cause[0])
				snprintf(sub->cause, sizeof(sub->cause),
					 "no node of chunk %llu is reachable",
					 (unsigned long long)chunk);
			cluster_delay(c, sub, true);
			return;
		}
		sub->pos = (uint32_t)pos;
		struct conn *conn = c->node_conn[pl->nodes[pos]];

		uint64_t max = route_op_max_len(sub->req.op, &c->volume,
						c->max_io_size);
		if ((sub->req.op == RPC_OP_READ || sub->req.op == RPC_OP_WRITE) &&
		    conn->state == CONN_READY && conn->max_io_size < max)
			max = conn->max_io_size - conn->max_io_size % CLUSTER_SECTOR;
		uint64_t len = route_piece_len(sub->req.offset, sub->req.length,
					       map->chunk_size, max);
		if (len < sub->req.length) {
			rest = cluster_sub_split(c, sub, len);
			if (!rest)
				return;
		}
		sub->req.epoch = map->epoch;
		cluster_send(c, sub, conn);
		sub = rest;
	}
}

/* ---- replies and failures ---- */

static void cluster_sub_cause(struct cluster_sub *sub, struct conn *conn,
			      const struct rpc_reply *rep)
{
	snprintf(sub->cause, sizeof(sub->cause),
		 "node %.100s, request id %llu: %s%s%.200s", conn->addr,
		 (unsigned long long)rep->id, rpc_status_name(rep->status),
		 rep->message[0] ? ": " : "", rep->message);
}

/* Try the next node of the placement; back off after a full round. */
static void cluster_next_node(struct cluster *c, struct cluster_sub *sub)
{
	uint32_t n = 1;

	if (sub->req.op != RPC_OP_FLUSH) {
		const struct map_placement *pl = map_placement_of(
			c->map, map_chunk_of(c->map, sub->req.offset));
		n = pl->n;
	}
	sub->pos++;
	sub->hops++;
	if (sub->hops >= n)
		cluster_delay(c, sub, false);
	else
		cluster_route(c, sub);
}

void cluster_sub_reply(struct cluster *c, struct conn *conn,
		       struct cluster_sub *sub, const struct rpc_reply *rep)
{
	enum route_action action;
	int result;

	sub->where = SUB_IDLE;
	action = route_status_action(rep->status, &result);
	if (rep->status != RPC_STATUS_OK)
		cluster_sub_cause(sub, conn, rep);

	/* the node answers data requests: forget its timeouts */
	conn->owner_strikes = 0;
	conn->owner_avoid_until = 0;
	switch (action) {
	case ROUTE_COMPLETE:
		/* a completed write that is not durable yet: FLUSH this node */
		if (result == 0 && route_op_writes(sub->req.op) &&
		    !(sub->req.flags & RPC_FLAG_FUA))
			conn->owner_bits |= CLUSTER_CONN_WROTE;
		cluster_sub_finish(c, sub, result);
		return;
	case ROUTE_NEXT_NODE:
		elog_printf(&c->log, LOG_WARNING, "volume %s: %s; trying another node",
			    c->volume_name, sub->cause);
		cluster_next_node(c, sub);
		return;
	case ROUTE_RETRY_LATER:
		elog_printf(&c->log, LOG_INFO, "volume %s: %s; retrying later",
			    c->volume_name, sub->cause);
		cluster_delay(c, sub, false);
		return;
	case ROUTE_REFRESH_MAP:
		if (!route_should_refresh(c->map->epoch, rep->epoch)) {
			/* that node is behind us: the next one may serve it */
			elog_printf(&c->log, LOG_INFO,
				    "volume %s: %s (node epoch %llu, ours %llu)",
				    c->volume_name, sub->cause,
				    (unsigned long long)rep->epoch,
				    (unsigned long long)c->map->epoch);
			cluster_next_node(c, sub);
			return;
		}
		if (cluster_sub_give_up(c, sub))
			return;
		elog_printf(&c->log, LOG_INFO,
			    "volume %s: %s (node epoch %llu, ours %llu): refreshing the map",
			    c->volume_name, sub->cause,
			    (unsigned long long)rep->epoch,
			    (unsigned long long)c->map->epoch);
		sub->where = SUB_MAP_WAIT;
		sub->next = c->map_wait;
		c->map_wait = sub;
		cluster_refresh_map(c, conn);
		return;
	case ROUTE_RECONNECT:
	default:
		cluster_delay(c, sub, true);
		conn_fail(conn, -EPROTO, "node lost the connection state (%s)",
			  rpc_status_name(rep->status));
		return;
	}
}

void cluster_sub_returned(struct cluster *c, struct conn *conn,
			  struct cluster_sub *sub, int err)
{
	sub->where = SUB_IDLE;
	if (c->state == CLUSTER_FREEING || err == -ESHUTDOWN) {
		cluster_sub_finish(c, sub, -EIO);
		return;
	}
	if (err == -EMSGSIZE) {
		/* the node granted less than we cut for: cut again */
		cluster_route(c, sub);
		return;
	}
	if (err == -EINVAL) {
		snprintf(sub->cause, sizeof(sub->cause),
			 "request cannot be encoded");
		cluster_sub_finish(c, sub, -EIO);
		return;
	}
	snprintf(sub->cause, sizeof(sub->cause), "%.400s", conn->errmsg);
	/* conn is no longer usable: the route picks another or waits */
	cluster_route(c, sub);
}

/* ---- submit ---- */

static int cluster_submit_flush(struct cluster *c, struct cluster_io *io)
{
	uint32_t n = 0;

	for (size_t i = 0; i < c->n_conns; i++)
		if (c->conns[i]->owner_bits & CLUSTER_CONN_WROTE)
			n++;
	if (n == 0) {
		cluster_io_complete(c, io); /* nothing written: nothing to flush */
		return 0;
	}
	io->priv.pending = n;
	for (size_t i = 0; i < c->n_conns; i++) {
		struct conn *conn = c->conns[i];
		struct cluster_sub *sub;

		if (!(conn->owner_bits & CLUSTER_CONN_WROTE))
			continue;
		/* set again by the next completed write, or if this fails */
		conn->owner_bits &= ~CLUSTER_CONN_WROTE;
		sub = cluster_sub_alloc(c);
		if (!sub) {
			conn->owner_bits |= CLUSTER_CONN_WROTE;
			io->priv.result = -EIO;
			if (--io->priv.pending == 0)
				cluster_io_complete(c, io);
			continue;
		}
		sub->io = io;
		sub->req.op = RPC_OP_FLUSH;
		sub->target = conn;
		cluster_route(c, sub);
	}
	return 0;
}

int cluster_submit(struct cluster *c, struct cluster_io *io)
{
	struct route_iov_pos pos = { 0, 0 };
	uint64_t off, left, max;
	int ret;

	if (!c || !io)
		return -EINVAL;
	if (c->state != CLUSTER_READY)
		return -ENOTCONN;
	ret = route_io_validate(io, &c->volume, c->read_only);
	if (ret == -EINVAL)
		return ret;

	memset(&io->priv, 0, sizeof(io->priv));
	io->priv.cluster = c;
	io->priv.start = ev_now(c->loop);
	c->stats.ios++;
	c->stats.inflight++;
	c->in_submit = true;

	if (ret < 0) {
		io->priv.result = ret;
		cluster_io_complete(c, io);
		goto out;
	}
	if (io->op == RPC_OP_FLUSH) {
		cluster_submit_flush(c, io);
		goto out;
	}

	max = route_op_max_len(io->op, &c->volume, c->max_io_size);
	io->priv.pending = 1; /* held until every piece is routed */
	for (off = io->offset, left = io->length; left;) {
		uint64_t len = route_piece_len(off, left, c->map->chunk_size, max);
		struct cluster_sub *sub = cluster_sub_alloc(c);

		if (!sub) {
			io->priv.result = -EIO;
			elog_printf(&c->log, LOG_ERR,
				    "volume %s: out of memory for requests",
				    c->volume_name);
			break;
		}
		sub->io = io;
		sub->req.op = io->op;
		sub->req.offset = off;
		sub->req.length = len;
		sub->req.flags = io->flags;
		if (io->op == RPC_OP_READ || io->op == RPC_OP_WRITE) {
			sub->req.iov = io->iov;
			sub->req.iovcnt = io->iovcnt;
			sub->req.pos = pos;
			route_iov_advance(io->iov, io->iovcnt, &pos, len);
		}
		io->priv.pending++;
		cluster_route(c, sub);
		off += len;
		left -= len;
	}
	if (--io->priv.pending == 0)
		cluster_io_complete(c, io);
out:
	c->in_submit = false;
	return 0;
}
