/* SPDX-License-Identifier: MIT */
/* A session's nodes: their connections, health, and the map over them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "session_priv.h"

/* ---- nodes ---- */

struct session_node *nb_session_node_find(struct session *s, const char *addr)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!strcmp(nb_conn_addr(s->nodes[i]->conn), addr))
			return s->nodes[i];
	return NULL;
}

/* A new node for addr, with its conn (DISCONNECTED). NULL, errno set. */
struct session_node *nb_session_node_add(struct session *s, const char *addr)
{
	struct session_node *node;

	if (s->n_nodes == s->cap_nodes) {
		size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 8;
		struct session_node **v = realloc(s->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->nodes = v;
		s->cap_nodes = cap;
	}
	node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->session = s;
	node->conn = nb_conn_new(s->loop, addr, &s->params, node);
	if (!node->conn) {
		int e = errno;

		free(node);
		errno = e;
		return NULL;
	}
	node->slot = nb_ledger_slot_of(s->ledger, addr);
	s->nodes[s->n_nodes++] = node;
	return node;
}

/* Free every node and its conn (closed first by the caller). */
void nb_session_nodes_free(struct session *s)
{
	for (size_t i = 0; i < s->n_nodes; i++) {
		nb_conn_free(s->nodes[i]->conn);
		free(s->nodes[i]);
	}
	free(s->nodes);
	s->nodes = NULL;
	s->n_nodes = 0;
}

/* ---- health ---- */

bool nb_session_node_avoided(const struct session_node *node)
{
	return node->avoid_until > ev_now(node->session->loop);
}

/*
 * A connection was closed because a request got no reply in time: the
 * node is stalled or overloaded. Route around it for a while (doubling
 * with every timeout until it answers again), so that requests do not
 * keep waiting try_timeout on it while its placement has other nodes.
 */
void nb_session_node_timed_out(struct session_node *node)
{
	struct session *s = node->session;
	double avoid = s->params.try_timeout;

	s->stats.timeouts++;
	for (uint32_t i = 0; i < node->strikes && avoid < SESSION_AVOID_MAX; i++)
		avoid *= 2;
	if (avoid > SESSION_AVOID_MAX)
		avoid = SESSION_AVOID_MAX;
	node->strikes++;
	node->avoid_until = ev_now(s->loop) + avoid;
	nb_elog_printf(&s->log, LOG_WARNING,
		    "volume %s: node %s did not answer in time; preferring other nodes for %.1f s",
		    s->volume_name, nb_conn_addr(node->conn), avoid);
}

/* The node answers data requests: forget its timeouts. */
void nb_session_node_answered(struct session_node *node)
{
	node->strikes = 0;
	node->avoid_until = 0;
}

/*
 * The node finished its HANDSHAKE and OPEN: remember whether it said
 * writes_durable. A durable node owes no FLUSH, whatever it was marked.
 */
void nb_session_node_opened(struct session_node *node)
{
	if (nb_conn_writes_durable(node->conn)) {
		node->bits |= SESSION_NODE_DURABLE;
		node->bits &= ~SESSION_NODE_WROTE;
	} else {
		node->bits &= ~SESSION_NODE_DURABLE;
	}
}

/*
 * A new engine inherits the FLUSH obligations of the one before it (a
 * daemon taken over, a queue reset or drain) without knowing them: mark
 * every node of the map that routing could have written to (a candidate
 * of some placement, nb_route_node_writable) as possibly holding writes
 * not flushed yet, unless it already said writes_durable. The first
 * FLUSH then goes to each of them. A read-only session writes nothing
 * and owes nothing.
 */
void nb_session_nodes_inherit(struct session *s)
{
	uint32_t n = 0;

	if (s->read_only || s->volume.read_only)
		return;
	for (uint32_t i = 0; i < s->map->n_nodes; i++) {
		struct session_node *node = s->map_nodes[i];

		if (!nb_route_node_writable(s->map, i) ||
		    (node->bits & SESSION_NODE_DURABLE))
			continue;
		node->bits |= SESSION_NODE_WROTE;
		n++;
	}
	if (n)
		nb_elog_printf(&s->log, LOG_DEBUG,
			    "volume %s: %u node(s) may hold writes of an earlier engine: the first FLUSH goes to them",
			    s->volume_name, n);
}

/* A READY node other than skip, preferring nodes not avoided. */
struct session_node *nb_session_node_ready(struct session *s,
					struct session_node *skip)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->n_nodes; i++) {
			struct session_node *node = s->nodes[i];

			if (node != skip && nb_conn_state(node->conn) == CONN_READY &&
			    (pass || !nb_session_node_avoided(node)))
				return node;
		}
	return NULL;
}

/* ---- map ---- */

/* Install map (taking ownership). Returns 0 or -errno (map freed). */
static int session_map_install(struct session *s, struct map *map)
{
	struct session_node **map_nodes;

	map_nodes = calloc(map->n_nodes, sizeof(*map_nodes));
	if (!map_nodes)
		goto out_free_map;
	for (uint32_t i = 0; i < map->n_nodes; i++) {
		map_nodes[i] = nb_session_node_find(s, map->nodes[i]);
		if (!map_nodes[i])
			map_nodes[i] = nb_session_node_add(s, map->nodes[i]);
		if (!map_nodes[i]) {
			nb_elog_printf(&s->log, LOG_ERR,
				    "map epoch %llu: cannot use node '%s': %s",
				    (unsigned long long)map->epoch,
				    map->nodes[i], strerror(errno));
			goto out_free_map_nodes;
		}
	}
	nb_elog_printf(&s->log, s->map ? LOG_NOTICE : LOG_INFO,
		    "volume %s: map epoch %llu (%u nodes, %u placements, chunk %llu bytes)",
		    s->volume_name, (unsigned long long)map->epoch,
		    map->n_nodes, map->n_chunks,
		    (unsigned long long)map->chunk_size);
	/* conns of nodes outside the map reconnect only on demand */
	for (size_t i = 0; i < s->n_nodes; i++)
		nb_conn_set_lazy(s->nodes[i]->conn, true);
	for (uint32_t i = 0; i < map->n_nodes; i++)
		nb_conn_set_lazy(map_nodes[i]->conn, false);
	free(s->map_nodes);
	nb_map_free(s->map);
	s->map_nodes = map_nodes;
	s->map = map;
	s->stats.map_refreshes++;
	return 0;

out_free_map_nodes:
	free(map_nodes);
out_free_map:
	nb_map_free(map);
	return -ENOMEM;
}

/* Take rep->map when it is valid and newer. Returns true if installed. */
bool nb_session_map_offer(struct session *s, struct session_node *node,
		       struct rpc_reply *rep)
{
	char why[256];

	if (!rep->map)
		return false;
	if (nb_map_validate(rep->map, why, sizeof(why)) < 0) {
		nb_elog_printf(&s->log, LOG_WARNING,
			    "node %s sent an invalid map: %s",
			    nb_conn_addr(node->conn), why);
		return false;
	}
	if (s->map && !nb_route_map_is_newer(s->map->epoch, rep->map->epoch))
		return false;
	struct map *map = rep->map;
	rep->map = NULL;
	return session_map_install(s, map) == 0;
}

static void session_map_reply(struct conn *conn, struct conn_req *req,
			      struct rpc_reply *rep)
{
	struct session_node *node = nb_conn_owner(conn);
	struct session *s = node->session;
	bool newer = false;

	s->refreshing = false;
	if (rep->status != RPC_STATUS_OK)
		nb_elog_printf(&s->log, LOG_WARNING,
			    "node %s: GET_MAP failed: %s%s%s", nb_conn_addr(conn),
			    nb_rpc_status_name(rep->status),
			    rep->message[0] ? ": " : "", rep->message);
	else
		newer = nb_session_map_offer(s, node, rep);
	nb_session_map_wait_done(s, newer);
}

static void session_map_returned(struct conn *conn, struct conn_req *req,
				 int err)
{
	struct session_node *node = nb_conn_owner(conn);
	struct session *s = node->session;

	s->refreshing = false;
	if (s->state == SESSION_READY)
		nb_session_refresh_map(s, NULL);
	else
		nb_session_map_wait_done(s, false);
}

/*
 * Ask a READY node (prefer, if READY) for the map, one GET_MAP at a
 * time; the requests on s->map_wait are routed again when it ends.
 */
void nb_session_refresh_map(struct session *s, struct session_node *prefer)
{
	struct session_node *node = NULL;

	if (s->refreshing || s->state != SESSION_READY)
		return;
	if (prefer && nb_conn_state(prefer->conn) == CONN_READY)
		node = prefer;
	for (size_t i = 0; !node && i < s->n_nodes; i++)
		if (nb_conn_state(s->nodes[i]->conn) == CONN_READY)
			node = s->nodes[i];
	if (!node) {
		/* nobody to ask: waiters retry later with the map we have */
		nb_session_map_wait_done(s, false);
		return;
	}
	memset(&s->map_req, 0, sizeof(s->map_req));
	s->map_req.op = RPC_OP_GET_MAP;
	s->map_req.reply = session_map_reply;
	s->map_req.returned = session_map_returned;
	s->refreshing = true;
	nb_elog_printf(&s->log, LOG_DEBUG, "asking node %s for the map",
		    nb_conn_addr(node->conn));
	nb_conn_submit(node->conn, &s->map_req);
}
