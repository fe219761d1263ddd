/* SPDX-License-Identifier: MIT */
/* A session's nodes: their connections, health, and the map over them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_priv.h"

/* ---- nodes ---- */

struct session_node *session_node_find(struct session *c, const char *addr)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(conn_addr(c->nodes[i]->conn), addr))
			return c->nodes[i];
	return NULL;
}

/* A new node for addr, with its conn (DISCONNECTED). NULL, errno set. */
struct session_node *session_node_add(struct session *c, const char *addr)
{
	struct session_node *node;

	if (c->n_nodes == c->cap_nodes) {
		size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 8;
		struct session_node **v = realloc(c->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->nodes = v;
		c->cap_nodes = cap;
	}
	node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->session = c;
	node->conn = conn_new(c->loop, addr, &c->params, node);
	if (!node->conn) {
		int e = errno;

		free(node);
		errno = e;
		return NULL;
	}
	c->nodes[c->n_nodes++] = node;
	return node;
}

/* Free every node and its conn (closed first by the caller). */
void session_nodes_free(struct session *c)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		conn_free(c->nodes[i]->conn);
		free(c->nodes[i]);
	}
	free(c->nodes);
	c->nodes = NULL;
	c->n_nodes = 0;
}

/* ---- health ---- */

bool session_node_avoided(const struct session_node *node)
{
	return node->avoid_until > ev_now(node->session->loop);
}

/*
 * A connection was closed because a request got no reply in time: the
 * node is stalled or overloaded. Route around it for a while (doubling
 * with every timeout until it answers again), so that requests do not
 * keep waiting try_timeout on it while its placement has other nodes.
 */
void session_node_timed_out(struct session_node *node)
{
	struct session *c = node->session;
	double avoid = c->params.try_timeout;

	c->stats.timeouts++;
	for (uint32_t i = 0; i < node->strikes && avoid < SESSION_AVOID_MAX; i++)
		avoid *= 2;
	if (avoid > SESSION_AVOID_MAX)
		avoid = SESSION_AVOID_MAX;
	node->strikes++;
	node->avoid_until = ev_now(c->loop) + avoid;
	elog_printf(&c->log, LOG_WARNING,
		    "volume %s: node %s did not answer in time; preferring other nodes for %.1f s",
		    c->volume_name, conn_addr(node->conn), avoid);
}

/* The node answers data requests: forget its timeouts. */
void session_node_answered(struct session_node *node)
{
	node->strikes = 0;
	node->avoid_until = 0;
}

/* A READY node other than skip, preferring nodes not avoided. */
struct session_node *session_node_ready(struct session *c,
					struct session_node *skip)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->n_nodes; i++) {
			struct session_node *node = c->nodes[i];

			if (node != skip && conn_state(node->conn) == CONN_READY &&
			    (pass || !session_node_avoided(node)))
				return node;
		}
	return NULL;
}

/* ---- map ---- */

/* Install map (taking ownership). Returns 0 or -errno (map freed). */
static int session_map_install(struct session *c, struct map *map)
{
	struct session_node **map_nodes;

	map_nodes = calloc(map->n_nodes, sizeof(*map_nodes));
	if (!map_nodes)
		goto out_free_map;
	for (uint32_t i = 0; i < map->n_nodes; i++) {
		map_nodes[i] = session_node_find(c, map->nodes[i]);
		if (!map_nodes[i])
			map_nodes[i] = session_node_add(c, map->nodes[i]);
		if (!map_nodes[i]) {
			elog_printf(&c->log, LOG_ERR,
				    "map epoch %llu: cannot use node '%s': %s",
				    (unsigned long long)map->epoch,
				    map->nodes[i], strerror(errno));
			goto out_free_map_nodes;
		}
	}
	elog_printf(&c->log, c->map ? LOG_NOTICE : LOG_INFO,
		    "volume %s: map epoch %llu (%u nodes, %u placements, chunk %llu bytes)",
		    c->volume_name, (unsigned long long)map->epoch,
		    map->n_nodes, map->n_chunks,
		    (unsigned long long)map->chunk_size);
	/* conns of nodes outside the map reconnect only on demand */
	for (size_t i = 0; i < c->n_nodes; i++)
		conn_set_lazy(c->nodes[i]->conn, true);
	for (uint32_t i = 0; i < map->n_nodes; i++)
		conn_set_lazy(map_nodes[i]->conn, false);
	free(c->map_nodes);
	map_free(c->map);
	c->map_nodes = map_nodes;
	c->map = map;
	c->stats.map_refreshes++;
	return 0;

out_free_map_nodes:
	free(map_nodes);
out_free_map:
	map_free(map);
	return -ENOMEM;
}

/* Take rep->map when it is valid and newer. Returns true if installed. */
bool session_map_offer(struct session *c, struct session_node *node,
		       struct rpc_reply *rep)
{
	char why[256];

	if (!rep->map)
		return false;
	if (map_validate(rep->map, why, sizeof(why)) < 0) {
		elog_printf(&c->log, LOG_WARNING,
			    "node %s sent an invalid map: %s",
			    conn_addr(node->conn), why);
		return false;
	}
	if (c->map && !route_map_is_newer(c->map->epoch, rep->map->epoch))
		return false;
	struct map *map = rep->map;
	rep->map = NULL;
	return session_map_install(c, map) == 0;
}

static void session_map_reply(struct conn *conn, struct conn_req *req,
			      struct rpc_reply *rep)
{
	struct session_node *node = conn_owner(conn);
	struct session *c = node->session;
	bool newer = false;

	c->refreshing = false;
	if (rep->status != RPC_STATUS_OK)
		elog_printf(&c->log, LOG_WARNING,
			    "node %s: GET_MAP failed: %s%s%s", conn_addr(conn),
			    rpc_status_name(rep->status),
			    rep->message[0] ? ": " : "", rep->message);
	else
		newer = session_map_offer(c, node, rep);
	session_map_wait_done(c, newer);
}

static void session_map_returned(struct conn *conn, struct conn_req *req,
				 int err)
{
	struct session_node *node = conn_owner(conn);
	struct session *c = node->session;

	c->refreshing = false;
	if (c->state == SESSION_READY)
		session_refresh_map(c, NULL);
	else
		session_map_wait_done(c, false);
}

/*
 * Ask a READY node (prefer, if READY) for the map, one GET_MAP at a
 * time; the requests on c->map_wait are routed again when it ends.
 */
void session_refresh_map(struct session *c, struct session_node *prefer)
{
	struct session_node *node = NULL;

	if (c->refreshing || c->state != SESSION_READY)
		return;
	if (prefer && conn_state(prefer->conn) == CONN_READY)
		node = prefer;
	for (size_t i = 0; !node && i < c->n_nodes; i++)
		if (conn_state(c->nodes[i]->conn) == CONN_READY)
			node = c->nodes[i];
	if (!node) {
		/* nobody to ask: waiters retry later with the map we have */
		session_map_wait_done(c, false);
		return;
	}
	memset(&c->map_req, 0, sizeof(c->map_req));
	c->map_req.op = RPC_OP_GET_MAP;
	c->map_req.reply = session_map_reply;
	c->map_req.returned = session_map_returned;
	c->refreshing = true;
	elog_printf(&c->log, LOG_DEBUG, "asking node %s for the map",
		    conn_addr(node->conn));
	conn_submit(node->conn, &c->map_req);
}
