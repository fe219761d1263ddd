/* SPDX-License-Identifier: MIT */
/* A session's data path: submit, split, route, retry, complete. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "session_priv.h"

static void session_sub_reply(struct conn *conn, struct conn_req *req,
			      struct rpc_reply *rep);
static void session_sub_returned(struct conn *conn, struct conn_req *req,
				 int err);
static void session_route(struct session *s, struct session_sub *sub);
static void session_deadline_unlink(struct session *s, struct session_io *io);

/* ---- request pool: grows in blocks, never shrinks before free ---- */

static struct session_sub *session_sub_alloc(struct session *s)
{
	struct session_sub *sub = s->free_subs;

	if (!sub) {
		struct session_sub_block *b = malloc(sizeof(*b));

		if (!b)
			return NULL;
		b->next = s->blocks;
		s->blocks = b;
		for (int i = SESSION_SUB_BLOCK - 1; i >= 0; i--) {
			b->subs[i].next = s->free_subs;
			b->subs[i].where = SUB_FREE;
			s->free_subs = &b->subs[i];
		}
		sub = s->free_subs;
	}
	s->free_subs = sub->next;
	memset(sub, 0, offsetof(struct session_sub, cause));
	sub->cause[0] = '\0';
	sub->where = SUB_IDLE;
	sub->req.reply = session_sub_reply;
	sub->req.returned = session_sub_returned;
	return sub;
}

static void session_sub_free(struct session *s, struct session_sub *sub)
{
	sub->where = SUB_FREE;
	sub->io = NULL;
	sub->next = s->free_subs;
	s->free_subs = sub;
}

/* The blocks of the pool (nb_session_free, when no request is left). */
void nb_session_subs_free(struct session *s)
{
	struct session_sub_block *b;

	while ((b = s->blocks)) {
		s->blocks = b->next;
		free(b);
	}
	s->free_subs = NULL;
}

/* ---- completion ---- */

static void session_io_complete(struct session *s, struct session_io *io)
{
	int result = io->priv.result;

	session_deadline_unlink(s, io);
	s->stats.inflight--;
	if (result)
		s->stats.errors++;
	if (s->in_submit || s->state == SESSION_FREEING) {
		/* never from inside nb_session_submit(): defer to the loop */
		io->priv.next = NULL;
		*s->done_tail = io;
		s->done_tail = &io->priv.next;
		if (s->state != SESSION_FREEING)
			nb_session_idle_start(s);
		return;
	}
	io->done(io, result);
}

void nb_session_run_completions(struct session *s)
{
	struct session_io *list = s->done_head;

	s->done_head = NULL;
	s->done_tail = &s->done_head;
	while (list) {
		struct session_io *io = list;

		list = io->priv.next;
		io->priv.next = NULL;
		io->done(io, io->priv.result);
	}
}

static const char *session_io_what(const struct session_sub *sub, char *buf,
				   size_t len)
{
	const struct conn_req *r = &sub->req;

	if (r->op == RPC_OP_FLUSH)
		snprintf(buf, len, "FLUSH");
	else
		snprintf(buf, len, "%s of %llu bytes at %llu",
			 nb_rpc_op_name(r->op), (unsigned long long)r->length,
			 (unsigned long long)r->offset);
	return buf;
}

static void session_sub_finish(struct session *s, struct session_sub *sub,
			       int result)
{
	struct session_io *io = sub->io;

	if (result < 0) {
		char what[96];

		session_io_what(sub, what, sizeof(what));
		/* log the first failure of an io only */
		if (s->state != SESSION_FREEING && io->priv.result == 0) {
			/* once fenced, the fence's one error line says why */
			nb_elog_printf(&s->log, s->fenced &&
				    nb_route_op_fenced(sub->req.op) ? LOG_INFO : LOG_ERR,
				    "volume %s: %s failed: %s",
				    s->volume_name, what,
				    sub->cause[0] ? sub->cause : strerror(-result));
			nb_session_set_error(s, "%s failed: %s", what,
					  sub->cause[0] ? sub->cause :
					  strerror(-result));
		}
		if (io->priv.result == 0)
			io->priv.result = result;
		/* that node's writes are still not known to be durable */
		if (sub->req.op == RPC_OP_FLUSH && sub->target)
			sub->target->bits |= SESSION_NODE_WROTE;
	} else if (result == 0) {
		if (sub->req.op == RPC_OP_FLUSH && sub->target)
			ledger_flushed(sub->target->slot, sub->flush_seq);
		if (sub->req.op == RPC_OP_READ)
			s->stats.bytes_read += sub->req.length;
		else if (sub->req.op == RPC_OP_WRITE)
			s->stats.bytes_written += sub->req.length;
	}
	session_sub_free(s, sub);
	if (--io->priv.pending == 0)
		session_io_complete(s, io);
}

/* Fail everything not on a connection (used by nb_session_free). */
void nb_session_fail_all(struct session *s)
{
	struct session_sub *list;

	ev_timer_stop(s->loop, &s->retry_timer);
	for (int pass = 0; pass < 2; pass++) {
		list = pass ? s->map_wait : s->delayed;
		if (pass)
			s->map_wait = NULL;
		else
			s->delayed = NULL;
		while (list) {
			struct session_sub *sub = list;

			list = sub->next;
			session_sub_finish(s, sub, -EIO);
		}
	}
}

/* ---- delays ---- */

/* Is the io's time up? (A timer may fire a hair early: 1 ms slack.) */
static bool session_io_expired(struct session *s, const struct session_io *io)
{
	return s->io_timeout > 0 &&
	       ev_now(s->loop) - io->priv.start >= s->io_timeout - 0.001;
}

static bool session_sub_expired(struct session *s, struct session_sub *sub)
{
	return session_io_expired(s, sub->io);
}

/* Finish with -EIO when the io timeout has run out. Returns true if so. */
static bool session_sub_give_up(struct session *s, struct session_sub *sub)
{
	if (s->state == SESSION_FREEING) {
		session_sub_finish(s, sub, -EIO);
		return true;
	}
	if (!session_sub_expired(s, sub))
		return false;
	if (!sub->cause[0])
		snprintf(sub->cause, sizeof(sub->cause), "no node reachable");
	size_t l = strlen(sub->cause);
	snprintf(sub->cause + l, sizeof(sub->cause) - l,
		 " (gave up after %.2f s, I/O timeout %.1f s)",
		 ev_now(s->loop) - sub->io->priv.start, s->io_timeout);
	session_sub_finish(s, sub, -EIO);
	return true;
}

static void session_retry_arm(struct session *s, double due)
{
	double now = ev_now(s->loop);

	if (ev_is_active(&s->retry_timer) && s->retry_at <= due)
		return;
	ev_timer_stop(s->loop, &s->retry_timer);
	s->retry_at = due;
	ev_timer_set(&s->retry_timer, due > now ? due - now : 0., 0.);
	ev_timer_start(s->loop, &s->retry_timer);
}

/* ---- the io deadline ---- */

/*
 * Every io under an io_timeout is on a list, oldest first (they share one
 * timeout, so the oldest is due first); one timer fires when the oldest
 * is due. Then every piece of an expired io that waits on a connection
 * (queued or in flight) is taken back by closing that connection: a
 * request is never given up while a copy may still be executed, see
 * "Re-sending requests" in docs/protocol.md. The pieces come back
 * through session_sub_returned() and fail there; pieces waiting for a
 * map refresh fail here; delayed pieces are due by then anyway
 * (session_delay() caps their delay at the deadline).
 */
static void session_deadline_arm(struct session *s)
{
	double at;

	if (!s->oldest || ev_is_active(&s->deadline_timer))
		return;
	at = s->oldest->priv.start + s->io_timeout - ev_now(s->loop);
	ev_timer_set(&s->deadline_timer, at > 0 ? at : 0., 0.);
	ev_timer_start(s->loop, &s->deadline_timer);
}

static void session_deadline_link(struct session *s, struct session_io *io)
{
	if (s->io_timeout <= 0)
		return;
	io->priv.older = s->newest;
	io->priv.newer = NULL;
	if (s->newest)
		s->newest->priv.newer = io;
	else
		s->oldest = io;
	s->newest = io;
	session_deadline_arm(s);
}

/* The timer stays armed for the io that left (it then finds nothing due
 * and is armed for the new oldest) unless none is left. */
static void session_deadline_unlink(struct session *s, struct session_io *io)
{
	if (s->io_timeout <= 0)
		return;
	if (io->priv.older)
		io->priv.older->priv.newer = io->priv.newer;
	else if (s->oldest == io)
		s->oldest = io->priv.newer;
	if (io->priv.newer)
		io->priv.newer->priv.older = io->priv.older;
	else if (s->newest == io)
		s->newest = io->priv.older;
	io->priv.older = io->priv.newer = NULL;
	if (!s->oldest)
		ev_timer_stop(s->loop, &s->deadline_timer);
}

int nb_session_set_io_timeout(struct session *s, double io_timeout)
{
	struct session_io *io, *newer;

	if (!(io_timeout >= 0))
		return -EINVAL;
	if (io_timeout <= 0) {
		/* No deadline any more: take every io off the list. */
		for (io = s->oldest; io; io = newer) {
			newer = io->priv.newer;
			io->priv.older = io->priv.newer = NULL;
		}
		s->oldest = s->newest = NULL;
		ev_timer_stop(s->loop, &s->deadline_timer);
	} else if (s->io_timeout > 0) {
		/* Same order (by start), another due time: arm again. */
		ev_timer_stop(s->loop, &s->deadline_timer);
		s->io_timeout = io_timeout;
		session_deadline_arm(s);
	}
	/* From none to one: ios in progress keep none, new ones get it. */
	s->io_timeout = io_timeout;
	return 0;
}

static void session_deadline_expire(struct session *s)
{
	struct session_sub *list = s->map_wait, *keep = NULL;
	uint32_t conns = 0;

	/* which connections hold pieces of expired ios (no callbacks yet) */
	for (struct session_sub_block *b = s->blocks; b; b = b->next)
		for (int i = 0; i < SESSION_SUB_BLOCK; i++) {
			struct session_sub *sub = &b->subs[i];

			if (sub->where == SUB_CONN && sub->node &&
			    session_sub_expired(s, sub))
				sub->node->bits |= SESSION_NODE_EXPIRED;
		}

	s->map_wait = NULL;
	while (list) {
		struct session_sub *sub = list;

		list = sub->next;
		if (!session_sub_expired(s, sub)) {
			sub->next = keep;
			keep = sub;
			continue;
		}
		sub->where = SUB_IDLE;
		session_sub_give_up(s, sub);
	}
	while (keep) {
		struct session_sub *sub = keep;

		keep = sub->next;
		sub->next = s->map_wait;
		s->map_wait = sub;
	}

	for (size_t i = 0; i < s->n_nodes; i++) {
		struct session_node *node = s->nodes[i];

		if (!(node->bits & SESSION_NODE_EXPIRED))
			continue;
		node->bits &= ~SESSION_NODE_EXPIRED;
		conns++;
		nb_conn_fail(node->conn, -ETIMEDOUT,
			  "no reply within the I/O timeout (%.1f s): closing the connection to take its requests back",
			  s->io_timeout);
	}
	if (conns)
		nb_elog_printf(&s->log, LOG_DEBUG,
			    "volume %s: I/O deadline: closed %u connection(s)",
			    s->volume_name, conns);
}

void nb_session_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;

	if (s->oldest && session_io_expired(s, s->oldest))
		session_deadline_expire(s);
	session_deadline_arm(s);
}

/* Route again after a backoff (or when a conn gets ready if wait_ready). */
static void session_delay(struct session *s, struct session_sub *sub,
			  bool wait_ready)
{
	double now = ev_now(s->loop);
	double due;

	if (session_sub_give_up(s, sub))
		return;
	due = now + nb_route_backoff(sub->attempts, SESSION_BACKOFF_BASE,
				  SESSION_BACKOFF_MAX, nb_route_rand(&s->rnd));
	sub->attempts++;
	sub->hops = 0;
	if (s->io_timeout > 0 && due > sub->io->priv.start + s->io_timeout)
		due = sub->io->priv.start + s->io_timeout;
	sub->due = due;
	sub->wait_ready = wait_ready;
	sub->where = SUB_DELAYED;
	sub->next = s->delayed;
	s->delayed = sub;
	session_retry_arm(s, due);
}

void nb_session_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	struct session_sub *list = s->delayed, *keep = NULL;
	double now = ev_now(loop), next = 0;

	s->delayed = NULL;
	while (list) {
		struct session_sub *sub = list;

		list = sub->next;
		if (sub->due <= now + 0.0005) {
			sub->where = SUB_IDLE;
			session_route(s, sub);
		} else {
			sub->next = keep;
			keep = sub;
			if (next == 0 || sub->due < next)
				next = sub->due;
		}
	}
	/* routing may have delayed some again: merge */
	while (keep) {
		struct session_sub *sub = keep;

		keep = sub->next;
		sub->next = s->delayed;
		s->delayed = sub;
	}
	if (next)
		session_retry_arm(s, next);
}

/* A conn became ready: route at once what waited for a usable node. */
void nb_session_kick_waiting(struct session *s)
{
	struct session_sub *list = s->delayed, *keep = NULL;

	s->delayed = NULL;
	while (list) {
		struct session_sub *sub = list;

		list = sub->next;
		if (sub->wait_ready) {
			sub->where = SUB_IDLE;
			session_route(s, sub);
		} else {
			sub->next = keep;
			keep = sub;
		}
	}
	while (keep) {
		struct session_sub *sub = keep;

		keep = sub->next;
		sub->next = s->delayed;
		s->delayed = sub;
	}
}

/* A map refresh ended; newer: a newer map was installed. */
void nb_session_map_wait_done(struct session *s, bool newer)
{
	struct session_sub *list = s->map_wait;

	s->map_wait = NULL;
	while (list) {
		struct session_sub *sub = list;

		list = sub->next;
		sub->where = SUB_IDLE;
		if (newer) {
			sub->pos = 0;
			sub->hops = 0;
			session_route(s, sub);
		} else {
			/* the node that said NOT_OWNER knows more: try the
			 * next one, later */
			sub->pos++;
			session_delay(s, sub, false);
		}
	}
}

/* ---- routing ---- */

static bool session_node_usable(uint32_t node, void *opaque)
{
	struct session *s = opaque;

	return nb_conn_usable(s->map_nodes[node]->conn);
}

/* Usable and not avoided after a timeout: the first choice. */
static bool session_node_healthy(uint32_t node, void *opaque)
{
	struct session *s = opaque;

	return nb_conn_usable(s->map_nodes[node]->conn) &&
	       !nb_session_node_avoided(s->map_nodes[node]);
}

static void session_send(struct session *s, struct session_sub *sub,
			 struct session_node *node)
{
	if (sub->sends)
		s->stats.retries++;
	sub->sends++;
	s->stats.requests++;
	sub->node = node;
	sub->where = SUB_CONN;
	nb_conn_submit(node->conn, &sub->req);
}

/*
 * Cut sub to at most len bytes; the rest becomes a new request of the
 * same io. Returns the rest, or NULL (sub failed) when out of memory.
 */
static struct session_sub *session_sub_split(struct session *s,
					     struct session_sub *sub,
					     uint64_t len)
{
	struct session_sub *rest = session_sub_alloc(s);

	if (!rest) {
		snprintf(sub->cause, sizeof(sub->cause),
			 "out of memory splitting a request");
		session_sub_finish(s, sub, -EIO);
		return NULL;
	}
	rest->io = sub->io;
	rest->req = sub->req;
	rest->req.next = NULL;
	rest->req.offset += len;
	rest->req.length -= len;
	if (rest->req.iov)
		nb_iov_advance(rest->req.iov, rest->req.iovcnt,
				  &rest->req.pos, len);
	rest->attempts = sub->attempts;
	sub->req.length = len;
	sub->io->priv.pending++;
	return rest;
}

static void session_route(struct session *s, struct session_sub *sub)
{
	while (sub) {
		struct session_sub *rest = NULL;

		if (session_sub_give_up(s, sub))
			return;
		if (s->fenced && nb_route_op_fenced(sub->req.op)) {
			snprintf(sub->cause, sizeof(sub->cause),
				 "the writer lock was lost (fenced)");
			session_sub_finish(s, sub, -EIO);
			return;
		}
		if (sub->req.op == RPC_OP_FLUSH) {
			/* only the node that acknowledged the writes can make
			 * them durable: wait for it, never ask another */
			if (nb_conn_usable(sub->target->conn)) {
				session_send(s, sub, sub->target);
			} else {
				if (!sub->cause[0])
					snprintf(sub->cause, sizeof(sub->cause),
						 "node %.200s, which may hold writes not flushed yet, is not reachable",
						 nb_conn_addr(sub->target->conn));
				session_delay(s, sub, true);
			}
			return;
		}

		const struct map *map = s->map;
		uint64_t chunk = map_chunk_of(map, sub->req.offset);
		const struct map_placement *pl = nb_map_placement_of(map, chunk);
		int pos = nb_route_pick(map, pl, sub->pos, session_node_healthy, s);

		if (pos < 0)
			pos = nb_route_pick(map, pl, sub->pos, session_node_usable, s);
		if (pos < 0) {
			/* only nodes holding the chunk's data may serve it */
			if (!sub->cause[0])
				snprintf(sub->cause, sizeof(sub->cause),
					 "no node holding chunk %llu is reachable (node %.200s%s)",
					 (unsigned long long)chunk,
					 map->nodes[pl->nodes[0]],
					 nb_route_candidates(map, pl) > 1 ?
					 " and its group" : "");
			session_delay(s, sub, true);
			return;
		}
		sub->pos = (uint32_t)pos;
		struct session_node *node = s->map_nodes[pl->nodes[pos]];
		struct conn *conn = node->conn;

		uint64_t max = nb_route_op_max_len(sub->req.op, &s->volume,
						s->max_io_size);
		if ((sub->req.op == RPC_OP_READ || sub->req.op == RPC_OP_WRITE) &&
		    nb_conn_state(conn) == CONN_READY && nb_conn_max_io_size(conn) < max)
			max = nb_conn_max_io_size(conn) -
			      nb_conn_max_io_size(conn) % SESSION_SECTOR;
		uint64_t len = nb_route_piece_len(sub->req.offset, sub->req.length,
					       map->chunk_size, max);
		if (len < sub->req.length) {
			rest = session_sub_split(s, sub, len);
			if (!rest)
				return;
		}
		sub->req.epoch = map->epoch;
		session_send(s, sub, node);
		sub = rest;
	}
}

/* ---- replies and failures ---- */

static void session_sub_cause(struct session_sub *sub, struct conn *conn,
			      const struct rpc_reply *rep)
{
	snprintf(sub->cause, sizeof(sub->cause),
		 "node %.100s, request id %llu: %s%s%.200s", nb_conn_addr(conn),
		 (unsigned long long)rep->id, nb_rpc_status_name(rep->status),
		 rep->message[0] ? ": " : "", rep->message);
}

/*
 * Try the next node holding the chunk's data; back off after a full
 * round of them.
 */
static void session_next_node(struct session *s, struct session_sub *sub)
{
	uint32_t n = 1;

	if (sub->req.op != RPC_OP_FLUSH) {
		const struct map_placement *pl = nb_map_placement_of(
			s->map, map_chunk_of(s->map, sub->req.offset));
		n = nb_route_candidates(s->map, pl);
	}
	sub->pos++;
	sub->hops++;
	if (sub->hops >= n)
		session_delay(s, sub, false);
	else
		session_route(s, sub);
}

static struct session_sub *session_sub_of(struct conn_req *req)
{
	return (struct session_sub *)((char *)req -
				      offsetof(struct session_sub, req));
}

static void session_sub_reply(struct conn *conn, struct conn_req *req,
			      struct rpc_reply *rep)
{
	struct session_sub *sub = session_sub_of(req);
	struct session_node *node = sub->node;	/* node->conn == conn */
	struct session *s = node->session;
	enum route_action action;
	int result;

	sub->where = SUB_IDLE;
	action = nb_route_status_action(rep->status, &result);
	if (rep->status != RPC_STATUS_OK)
		session_sub_cause(sub, conn, rep);

	nb_session_node_answered(node);
	if (rep->status == RPC_STATUS_FENCED)
		nb_session_fence(s, conn, NULL);
	switch (action) {
	case ROUTE_COMPLETE:
		/* a completed write that is not durable yet: FLUSH this node */
		if (result == 0 && nb_route_op_writes(sub->req.op) &&
		    !(sub->req.flags & RPC_FLAG_FUA) &&
		    !(node->bits & SESSION_NODE_DURABLE)) {
			node->bits |= SESSION_NODE_WROTE;
			ledger_wrote(node->slot);
		}
		session_sub_finish(s, sub, result);
		return;
	case ROUTE_NEXT_NODE:
		nb_elog_printf(&s->log, LOG_WARNING, "volume %s: %s; trying another node",
			    s->volume_name, sub->cause);
		session_next_node(s, sub);
		return;
	case ROUTE_RETRY_LATER:
		nb_elog_printf(&s->log, LOG_INFO, "volume %s: %s; retrying later",
			    s->volume_name, sub->cause);
		session_delay(s, sub, false);
		return;
	case ROUTE_REFRESH_MAP:
		if (!nb_route_should_refresh(s->map->epoch, rep->epoch)) {
			/* that node is behind us: the next one may serve it */
			nb_elog_printf(&s->log, LOG_INFO,
				    "volume %s: %s (node epoch %llu, ours %llu)",
				    s->volume_name, sub->cause,
				    (unsigned long long)rep->epoch,
				    (unsigned long long)s->map->epoch);
			session_next_node(s, sub);
			return;
		}
		if (session_sub_give_up(s, sub))
			return;
		nb_elog_printf(&s->log, LOG_INFO,
			    "volume %s: %s (node epoch %llu, ours %llu): refreshing the map",
			    s->volume_name, sub->cause,
			    (unsigned long long)rep->epoch,
			    (unsigned long long)s->map->epoch);
		sub->where = SUB_MAP_WAIT;
		sub->next = s->map_wait;
		s->map_wait = sub;
		nb_session_refresh_map(s, node);
		return;
	case ROUTE_RECONNECT:
	default:
		session_delay(s, sub, true);
		nb_conn_fail(conn, -EPROTO, "node lost the connection state (%s)",
			  nb_rpc_status_name(rep->status));
		return;
	}
}

static void session_sub_returned(struct conn *conn, struct conn_req *req,
				 int err)
{
	struct session_sub *sub = session_sub_of(req);
	struct session_node *node = sub->node;	/* node->conn == conn */
	struct session *s = node->session;

	sub->where = SUB_IDLE;
	if (s->state == SESSION_FREEING || err == -ESHUTDOWN) {
		session_sub_finish(s, sub, -EIO);
		return;
	}
	if (err == -EMSGSIZE) {
		/* the node granted less than we cut for: cut again */
		session_route(s, sub);
		return;
	}
	if (err == -EINVAL) {
		snprintf(sub->cause, sizeof(sub->cause),
			 "request cannot be encoded");
		session_sub_finish(s, sub, -EIO);
		return;
	}
	snprintf(sub->cause, sizeof(sub->cause), "%.400s", nb_conn_errmsg(conn));
	/* conn is no longer usable: the route picks another or waits */
	session_route(s, sub);
}

/* ---- submit ---- */

/*
 * Does node owe a FLUSH: writes it completed for this session, or for
 * another session of the device (the shared ledger), not flushed yet?
 * A node that said writes_durable owes none.
 */
static bool session_node_owes_flush(const struct session_node *node)
{
	if (node->bits & SESSION_NODE_DURABLE)
		return false;
	return (node->bits & SESSION_NODE_WROTE) || ledger_owes(node->slot);
}

static int session_submit_flush(struct session *s, struct session_io *io)
{
	uint32_t n = 0;

	for (size_t i = 0; i < s->n_nodes; i++) {
		if (session_node_owes_flush(s->nodes[i]))
			s->nodes[i]->bits |= SESSION_NODE_WROTE;
		if (s->nodes[i]->bits & SESSION_NODE_WROTE)
			n++;
	}
	if (n == 0) {
		session_io_complete(s, io); /* nothing written: nothing to flush */
		return 0;
	}
	io->priv.pending = n;
	for (size_t i = 0; i < s->n_nodes; i++) {
		struct session_node *node = s->nodes[i];
		struct session_sub *sub;

		if (!(node->bits & SESSION_NODE_WROTE))
			continue;
		/* set again by the next completed write, or if this fails */
		node->bits &= ~SESSION_NODE_WROTE;
		sub = session_sub_alloc(s);
		if (!sub) {
			node->bits |= SESSION_NODE_WROTE;
			io->priv.result = -EIO;
			if (--io->priv.pending == 0)
				session_io_complete(s, io);
			continue;
		}
		sub->io = io;
		sub->req.op = RPC_OP_FLUSH;
		sub->target = node;
		sub->flush_seq = ledger_snapshot(node->slot);
		session_route(s, sub);
	}
	return 0;
}

int nb_session_submit(struct session *s, struct session_io *io)
{
	struct nb_iov_pos pos = { 0, 0 };
	uint64_t off, left, max;
	enum rpc_op op;
	int ret;

	if (!s || !io)
		return -EINVAL;
	if (s->state != SESSION_READY)
		return -ENOTCONN;
	ret = nb_route_io_validate(io, &s->volume, s->read_only);
	if (ret == -EINVAL)
		return ret;

	op = route_wire_op(io->op);
	if (ret == 0 && s->fenced && nb_route_op_fenced(op))
		ret = -EIO;	/* lost the writer lock: logged once */
	memset(&io->priv, 0, sizeof(io->priv));
	io->priv.session = s;
	io->priv.start = ev_now(s->loop);
	session_deadline_link(s, io);
	s->stats.ios++;
	s->stats.inflight++;
	s->in_submit = true;

	if (ret < 0) {
		io->priv.result = ret;
		session_io_complete(s, io);
		goto out;
	}
	if (op == RPC_OP_FLUSH) {
		session_submit_flush(s, io);
		goto out;
	}

	max = nb_route_op_max_len(op, &s->volume, s->max_io_size);
	io->priv.pending = 1; /* held until every piece is routed */
	for (off = io->offset, left = io->length; left;) {
		uint64_t len = nb_route_piece_len(off, left, s->map->chunk_size, max);
		struct session_sub *sub = session_sub_alloc(s);

		if (!sub) {
			io->priv.result = -EIO;
			nb_elog_printf(&s->log, LOG_ERR,
				    "volume %s: out of memory for requests",
				    s->volume_name);
			break;
		}
		sub->io = io;
		sub->req.op = op;
		sub->req.offset = off;
		sub->req.length = len;
		sub->req.flags = route_wire_flags(io->flags);
		if (op == RPC_OP_READ || op == RPC_OP_WRITE) {
			sub->req.iov = io->iov;
			sub->req.iovcnt = io->iovcnt;
			sub->req.pos = pos;
			nb_iov_advance(io->iov, io->iovcnt, &pos, len);
		}
		io->priv.pending++;
		session_route(s, sub);
		off += len;
		left -= len;
	}
	if (--io->priv.pending == 0)
		session_io_complete(s, io);
out:
	s->in_submit = false;
	return 0;
}

/* The wire op's name: the same words in the engine's and nodes' logs. */
const char *nb_session_op_name(enum session_op op)
{
	enum rpc_op wire = route_wire_op(op);

	return wire == RPC_OP_NONE ? "UNKNOWN_OP" : nb_rpc_op_name(wire);
}
