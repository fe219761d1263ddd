/* SPDX-License-Identifier: MIT */
/*
 * The client engine: life cycle, start, cluster map and connection
 * events. Request routing and retries are in cluster_io.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "tls.h"

static const char *const cluster_state_names[CLUSTER_STATE_MAX] = {
	[CLUSTER_NEW] = "NEW",
	[CLUSTER_STARTING] = "STARTING",
	[CLUSTER_READY] = "READY",
	[CLUSTER_FAILED] = "FAILED",
	[CLUSTER_FREEING] = "FREEING",
};

static void cluster_set_state(struct cluster *c, enum cluster_state to)
{
	elog_printf(&c->log, LOG_DEBUG, "volume %s: %s -> %s", c->volume_name,
		    cluster_state_names[c->state], cluster_state_names[to]);
	c->state = to;
}

void cluster_set_error(struct cluster *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
}

const char *cluster_last_error(const struct cluster *c)
{
	return c ? c->last_error : "";
}

const struct rpc_volume_info *cluster_volume(const struct cluster *c)
{
	return c->have_volume ? &c->volume : NULL;
}

const struct map *cluster_map(const struct cluster *c)
{
	return c->map;
}

bool cluster_is_ready(const struct cluster *c)
{
	return c->state == CLUSTER_READY;
}

void cluster_get_stats(const struct cluster *c, struct cluster_stats *out)
{
	*out = c->stats;
	out->reconnects = 0;
	out->conns_ready = 0;
	for (size_t i = 0; i < c->n_conns; i++) {
		out->reconnects += c->conns[i]->reconnects;
		if (c->conns[i]->state == CONN_READY)
			out->conns_ready++;
	}
}

const char *cluster_tls_suite(const struct cluster *c)
{
	for (size_t i = 0; i < c->n_conns; i++)
		if (c->conns[i]->state == CONN_READY && c->conns[i]->ssl)
			return SSL_get_cipher_name(c->conns[i]->ssl);
	return NULL;
}

/* ---- deferred callbacks ---- */

void cluster_idle_start(struct cluster *c)
{
	if (!ev_is_active(&c->idle))
		ev_idle_start(c->loop, &c->idle);
}

/*
 * Deferred callbacks run from the prepare watcher, every loop iteration
 * (an idle watcher alone would starve while the sockets stay busy); the
 * idle watcher only keeps the loop from sleeping while some are due.
 */
static void cluster_run_deferred(struct cluster *c)
{
	if (c->ready_due) {
		c->ready_due = false;
		if (c->ready_cb)
			c->ready_cb(c, c->start_err, c->ready_opaque);
	}
	cluster_run_completions(c);
	cluster_volreq_run_done(c);
}

static void cluster_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct cluster *c = w->data;

	cluster_run_deferred(c);
	/* stopped only here, so that ev_run(EVRUN_ONCE) returns after a
	 * deferred callback ran from the prepare watcher */
	if (!c->done_head && !c->ready_due && !c->vol_done)
		ev_idle_stop(loop, w);
}

static void cluster_prepare_cb(struct ev_loop *loop, ev_prepare *w,
			       int revents)
{
	struct cluster *c = w->data;

	if (c->done_head || c->ready_due || c->vol_done)
		cluster_run_deferred(c);

	/* A failed flush may hand requests to other conns: loop until quiet. */
	while (c->dirty) {
		struct conn *conn = c->dirty;

		c->dirty = conn->owner_next;
		conn->owner_next = NULL;
		conn->owner_bits &= ~CLUSTER_CONN_DIRTY;
		conn_flush(conn);
	}
}

/* ---- map ---- */

static struct conn *cluster_conn_find(struct cluster *c, const char *addr)
{
	for (size_t i = 0; i < c->n_conns; i++)
		if (!strcmp(c->conns[i]->addr, addr))
			return c->conns[i];
	return NULL;
}

static struct conn *cluster_conn_add(struct cluster *c, const char *addr)
{
	struct conn *conn;

	if (c->n_conns == c->cap_conns) {
		size_t cap = c->cap_conns ? c->cap_conns * 2 : 8;
		struct conn **v = realloc(c->conns, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->conns = v;
		c->cap_conns = cap;
	}
	conn = conn_new(c->loop, addr, &c->params);
	if (!conn)
		return NULL;
	c->conns[c->n_conns++] = conn;
	return conn;
}

/* Install map (taking ownership). Returns 0 or -errno (map freed). */
static int cluster_map_install(struct cluster *c, struct map *map)
{
	struct conn **node_conn;

	node_conn = calloc(map->n_nodes, sizeof(*node_conn));
	if (!node_conn)
		goto out_free_map;
	for (uint32_t i = 0; i < map->n_nodes; i++) {
		node_conn[i] = cluster_conn_find(c, map->nodes[i]);
		if (!node_conn[i])
			node_conn[i] = cluster_conn_add(c, map->nodes[i]);
		if (!node_conn[i]) {
			elog_printf(&c->log, LOG_ERR,
				    "map epoch %llu: cannot use node '%s': %s",
				    (unsigned long long)map->epoch,
				    map->nodes[i], strerror(errno));
			goto out_free_node_conn;
		}
	}
	elog_printf(&c->log, c->map ? LOG_NOTICE : LOG_INFO,
		    "volume %s: map epoch %llu (%u nodes, %u placements, chunk %llu bytes)",
		    c->volume_name, (unsigned long long)map->epoch,
		    map->n_nodes, map->n_chunks,
		    (unsigned long long)map->chunk_size);
	/* conns of nodes outside the map reconnect only on demand */
	for (size_t i = 0; i < c->n_conns; i++)
		c->conns[i]->lazy = true;
	for (uint32_t i = 0; i < map->n_nodes; i++)
		node_conn[i]->lazy = false;
	free(c->node_conn);
	map_free(c->map);
	c->node_conn = node_conn;
	c->map = map;
	c->stats.map_refreshes++;
	return 0;

out_free_node_conn:
	free(node_conn);
out_free_map:
	map_free(map);
	return -ENOMEM;
}

/* Take rep->map when it is valid and newer. Returns true if installed. */
static bool cluster_map_offer(struct cluster *c, struct conn *conn,
			      struct rpc_reply *rep)
{
	char why[256];

	if (!rep->map)
		return false;
	if (map_validate(rep->map, why, sizeof(why)) < 0) {
		elog_printf(&c->log, LOG_WARNING,
			    "node %s sent an invalid map: %s", conn->addr, why);
		return false;
	}
	if (c->map && !route_map_is_newer(c->map->epoch, rep->map->epoch))
		return false;
	struct map *map = rep->map;
	rep->map = NULL;
	return cluster_map_install(c, map) == 0;
}

void cluster_refresh_map(struct cluster *c, struct conn *prefer)
{
	struct conn *conn = NULL;

	if (c->refreshing || c->state != CLUSTER_READY)
		return;
	if (prefer && prefer->state == CONN_READY)
		conn = prefer;
	for (size_t i = 0; !conn && i < c->n_conns; i++)
		if (c->conns[i]->state == CONN_READY)
			conn = c->conns[i];
	if (!conn) {
		/* nobody to ask: waiters retry later with the map we have */
		cluster_map_wait_done(c, false);
		return;
	}
	memset(&c->refresh, 0, sizeof(c->refresh));
	c->refresh.req.op = RPC_OP_GET_MAP;
	c->refresh.where = SUB_CONN;
	c->refresh.conn = conn;
	c->refreshing = true;
	elog_printf(&c->log, LOG_DEBUG, "asking node %s for the map",
		    conn->addr);
	conn_submit(conn, &c->refresh.req);
}

static void cluster_refresh_reply(struct cluster *c, struct conn *conn,
				  struct rpc_reply *rep)
{
	bool newer = false;

	c->refreshing = false;
	c->refresh.where = SUB_FREE;
	if (rep->status != RPC_STATUS_OK)
		elog_printf(&c->log, LOG_WARNING,
			    "node %s: GET_MAP failed: %s%s%s", conn->addr,
			    rpc_status_name(rep->status),
			    rep->message[0] ? ": " : "", rep->message);
	else
		newer = cluster_map_offer(c, conn, rep);
	cluster_map_wait_done(c, newer);
}

/* ---- start ---- */

/* Which start failure to report when several seeds failed differently. */
static int cluster_start_err_rank(int err)
{
	switch (err) {
	case -ENOENT: return 7;
	case -EROFS: return 6;
	case -EACCES: return 5;
	case -EPROTO: return 4;
	case -EIO: return 3;
	case -ETIMEDOUT: return 2;
	default: return 1;
	}
}

static int cluster_start_err_normalise(int err)
{
	switch (err) {
	case -ENOENT:
	case -EROFS:
	case -EACCES:
	case -EPROTO:
	case -EIO:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
		return err;
	case -ECONNRESET:
	case -EBADMSG:
		return -EPROTO;
	default:
		return -ECONNREFUSED; /* unreachable: no route, no address ... */
	}
}

static void cluster_start_done(struct cluster *c, int err)
{
	c->start_err = err;
	c->ready_due = true;
	if (err) {
		cluster_set_state(c, CLUSTER_FAILED);
		for (size_t i = 0; i < c->n_conns; i++)
			conn_close(c->conns[i]);
		elog_printf(&c->log, LOG_INFO, "volume %s: cannot start: %s",
			    c->volume_name, c->last_error);
	} else {
		for (size_t i = 0; i < c->n_conns; i++)
			c->conns[i]->owner_bits &= ~CLUSTER_CONN_SEED;
		cluster_set_state(c, CLUSTER_READY);
		c->last_error[0] = '\0';
		elog_printf(&c->log, LOG_INFO,
			    "volume %s ready: %llu bytes, block size %u%s",
			    c->volume_name, (unsigned long long)c->volume.size,
			    c->volume.block_size,
			    c->volume.read_only ? ", read-only" : "");
	}
	cluster_idle_start(c);
}

static void cluster_start_seed_failed(struct cluster *c, struct conn *conn)
{
	int err = cluster_start_err_normalise(conn->err);

	if (!(conn->owner_bits & CLUSTER_CONN_SEED))
		return; /* counted already */
	conn->owner_bits &= ~CLUSTER_CONN_SEED;
	if (c->start_err == 0 ||
	    cluster_start_err_rank(err) > cluster_start_err_rank(c->start_err)) {
		c->start_err = err;
		cluster_set_error(c, "%s", conn->errmsg);
	}
	if (--c->seeds_pending == 0)
		cluster_start_done(c, c->start_err);
}

int cluster_start(struct cluster *c, cluster_ready_fn *ready_cb, void *opaque)
{
	if (c->state != CLUSTER_NEW)
		return -EALREADY;
	c->ready_cb = ready_cb;
	c->ready_opaque = opaque;
	cluster_set_state(c, CLUSTER_STARTING);
	c->seeds_pending = c->n_conns;
	for (size_t i = 0; i < c->n_conns; i++)
		c->conns[i]->owner_bits |= CLUSTER_CONN_SEED;
	for (size_t i = 0; i < c->n_conns && c->state == CLUSTER_STARTING; i++)
		conn_connect(c->conns[i]);
	return 0;
}

/* ---- connection events ---- */

static struct cluster_sub *cluster_sub_of(struct conn_req *req)
{
	return (struct cluster_sub *)((char *)req -
				      offsetof(struct cluster_sub, req));
}

static void cluster_conn_reply(struct conn *conn, struct conn_req *req,
			       struct rpc_reply *rep)
{
	struct cluster *c = conn->p->opaque;
	struct cluster_sub *sub = cluster_sub_of(req);

	if (req->op == RPC_OP_INFO) {
		cluster_volreq_reply(c, conn, (struct cluster_volreq *)req, rep);
		return;
	}
	if (sub == &c->refresh) {
		cluster_refresh_reply(c, conn, rep);
		return;
	}
	cluster_sub_reply(c, conn, sub, rep);
}

static void cluster_conn_returned(struct conn *conn, struct conn_req *req,
				  int err)
{
	struct cluster *c = conn->p->opaque;
	struct cluster_sub *sub = cluster_sub_of(req);

	if (req->op == RPC_OP_INFO) {
		cluster_volreq_returned(c, conn, (struct cluster_volreq *)req, err);
		return;
	}
	if (sub == &c->refresh) {
		c->refreshing = false;
		c->refresh.where = SUB_FREE;
		if (c->state == CLUSTER_READY)
			cluster_refresh_map(c, NULL);
		else
			cluster_map_wait_done(c, false);
		return;
	}
	cluster_sub_returned(c, conn, sub, err);
}

bool cluster_node_avoided(const struct cluster *c, const struct conn *conn)
{
	return conn->owner_avoid_until > ev_now(c->loop);
}

/*
 * A connection was closed because a request got no reply in time: the
 * node is stalled or overloaded. Route around it for a while (doubling
 * with every timeout until it answers again), so that requests do not
 * keep waiting try_timeout on it while its placement has other nodes.
 */
static void cluster_node_timed_out(struct cluster *c, struct conn *conn)
{
	double avoid = c->params.try_timeout;

	c->stats.timeouts++;
	for (uint32_t i = 0; i < conn->owner_strikes && avoid < CLUSTER_AVOID_MAX; i++)
		avoid *= 2;
	if (avoid > CLUSTER_AVOID_MAX)
		avoid = CLUSTER_AVOID_MAX;
	conn->owner_strikes++;
	conn->owner_avoid_until = ev_now(c->loop) + avoid;
	elog_printf(&c->log, LOG_WARNING,
		    "volume %s: node %s did not answer in time; preferring other nodes for %.1f s",
		    c->volume_name, conn->addr, avoid);
}

static void cluster_conn_state(struct conn *conn, enum conn_state old)
{
	struct cluster *c = conn->p->opaque;

	if (conn->state == CONN_BACKOFF && old == CONN_READY &&
	    conn->err == -ETIMEDOUT && c->state == CLUSTER_READY)
		cluster_node_timed_out(c, conn);
	if (conn->state == CONN_READY) {
		if (c->state == CLUSTER_STARTING)
			cluster_start_done(c, 0);
		if (c->state == CLUSTER_READY) {
			cluster_kick_waiting(c);
			if (c->map_wait && !c->refreshing)
				cluster_refresh_map(c, conn);
		}
		return;
	}
	if (conn->state == CONN_BACKOFF && c->state == CLUSTER_STARTING)
		cluster_start_seed_failed(c, conn);
}

static int cluster_conn_opened(struct conn *conn, struct rpc_reply *rep,
			       char *msg, size_t msglen)
{
	struct cluster *c = conn->p->opaque;
	const struct rpc_volume_info *v = &rep->volume;

	if (c->have_volume) {
		if (v->block_size != c->volume.block_size) {
			snprintf(msg, msglen,
				 "volume '%s' differs on this node (block size %u, expected %u)",
				 c->volume_name, v->block_size,
				 c->volume.block_size);
			return -EPROTO;
		}
		/* resized: the new size is taken by cluster_refresh_volume() */
		if (v->size != c->volume.size)
			elog_printf(&c->log, LOG_INFO,
				    "volume %s: node %s reports %llu bytes (we use %llu until a refresh)",
				    c->volume_name, conn->addr,
				    (unsigned long long)v->size,
				    (unsigned long long)c->volume.size);
		if (rep->map)
			cluster_map_offer(c, conn, rep);
		return 0;
	}

	if (v->block_size < CLUSTER_SECTOR || v->block_size % CLUSTER_SECTOR ||
	    v->size % CLUSTER_SECTOR) {
		snprintf(msg, msglen,
			 "volume '%s' has unusable geometry (%llu bytes, block %u)",
			 c->volume_name, (unsigned long long)v->size,
			 v->block_size);
		return -EPROTO;
	}
	if (!rep->map) {
		snprintf(msg, msglen, "open reply carries no cluster map");
		return -EPROTO;
	}
	if (!cluster_map_offer(c, conn, rep) && !c->map) {
		snprintf(msg, msglen, "open reply carries an unusable cluster map");
		return -EPROTO;
	}
	c->volume = *v;
	c->have_volume = true;
	if (conn->max_io_size < c->max_io_size)
		c->max_io_size = conn->max_io_size;
	return 0;
}

static void cluster_conn_kick(struct conn *conn)
{
	struct cluster *c = conn->p->opaque;

	if (conn->owner_bits & CLUSTER_CONN_DIRTY)
		return;
	conn->owner_bits |= CLUSTER_CONN_DIRTY;
	conn->owner_next = c->dirty;
	c->dirty = conn;
}

static const struct conn_ops cluster_conn_ops = {
	.reply = cluster_conn_reply,
	.returned = cluster_conn_returned,
	.state_changed = cluster_conn_state,
	.opened = cluster_conn_opened,
	.kick = cluster_conn_kick,
};

/* ---- construction ---- */

static char *cluster_strdup_opt(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static struct cluster *cluster_new_err(struct ev_loop *loop,
				       const struct cluster_config *cfg,
				       char *err, size_t errlen)
{
	char host[MAP_ADDR_MAX + 1], port[8];
	bool oom = false;
	struct cluster *c;

	if (!cfg->nodes || cfg->n_nodes == 0) {
		snprintf(err, errlen, "no node address given");
		goto out_einval;
	}
	if (cfg->n_nodes > MAP_MAX_NODES) {
		snprintf(err, errlen, "too many node addresses (%zu, at most %d)",
			 cfg->n_nodes, MAP_MAX_NODES);
		goto out_einval;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		if (!cfg->nodes[i] || strlen(cfg->nodes[i]) > MAP_ADDR_MAX ||
		    route_addr_split(cfg->nodes[i], host, sizeof(host), port,
				     sizeof(port)) < 0) {
			snprintf(err, errlen,
				 "invalid node address '%s' (want host:port or [v6]:port)",
				 cfg->nodes[i] ? cfg->nodes[i] : "(null)");
			goto out_einval;
		}
	}
	if (!cfg->volume || !cfg->volume[0] ||
	    strlen(cfg->volume) > RPC_NAME_MAX) {
		snprintf(err, errlen, "invalid volume name '%s' (1 to %d bytes)",
			 cfg->volume ? cfg->volume : "", RPC_NAME_MAX);
		goto out_einval;
	}
	if (cfg->io_timeout < 0 || cfg->try_timeout < 0 ||
	    cfg->connect_timeout < 0) {
		snprintf(err, errlen, "timeouts must not be negative");
		goto out_einval;
	}
	if (cfg->client_name && strlen(cfg->client_name) > RPC_NAME_MAX) {
		snprintf(err, errlen, "client name too long");
		goto out_einval;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->loop = loop;
	c->state = CLUSTER_NEW;
	c->log.fn = cfg->log_fn;
	c->log.opaque = cfg->log_opaque;
	c->log.level = cfg->log_level ? cfg->log_level : LOG_NOTICE;
	c->read_only = cfg->read_only;
	c->io_timeout = cfg->io_timeout;
	c->done_tail = &c->done_head;

	if (cfg->ssl_ctx) {
		SSL_CTX_up_ref(cfg->ssl_ctx);
		c->ssl_ctx = cfg->ssl_ctx;
	} else {
		c->ssl_ctx = tls_client_ctx_new(cfg->tls_ca, cfg->tls_cert,
						cfg->tls_key,
						cfg->tls_ciphersuites, err,
						errlen);
		if (!c->ssl_ctx)
			goto out_free_c;
	}

	c->volume_name = cluster_strdup_opt(cfg->volume, &oom);
	c->server_name = cluster_strdup_opt(cfg->server_name, &oom);
	c->client_name = cluster_strdup_opt(cfg->client_name ? cfg->client_name :
					    "netblk", &oom);
	c->seeds = calloc(cfg->n_nodes, sizeof(*c->seeds));
	if (!c->seeds)
		oom = true;
	for (size_t i = 0; c->seeds && i < cfg->n_nodes; i++)
		c->seeds[i] = cluster_strdup_opt(cfg->nodes[i], &oom);
	c->n_seeds = cfg->n_nodes;
	if (oom) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto out_free_strings;
	}

	c->params.ssl_ctx = c->ssl_ctx;
	c->params.server_name = c->server_name;
	c->params.volume = c->volume_name;
	c->params.read_only = cfg->read_only;
	c->params.client_name = c->client_name;
	c->params.max_inflight = cfg->max_inflight ? cfg->max_inflight :
				 CLUSTER_DEFAULT_MAX_INFLIGHT;
	if (c->params.max_inflight > CLUSTER_MAX_INFLIGHT_LIMIT)
		c->params.max_inflight = CLUSTER_MAX_INFLIGHT_LIMIT;
	c->params.max_io_size = cfg->max_io_size ? cfg->max_io_size :
				CLUSTER_DEFAULT_MAX_IO_SIZE;
	if (c->params.max_io_size > RPC_MAX_DATA_LEN)
		c->params.max_io_size = RPC_MAX_DATA_LEN;
	if (c->params.max_io_size < CLUSTER_SECTOR)
		c->params.max_io_size = CLUSTER_SECTOR;
	c->params.connect_timeout = cfg->connect_timeout > 0 ?
		cfg->connect_timeout : CLUSTER_DEFAULT_CONNECT_TIMEOUT;
	c->params.try_timeout = cfg->try_timeout > 0 ? cfg->try_timeout :
				CLUSTER_DEFAULT_TRY_TIMEOUT;
	c->params.backoff_base = CLUSTER_BACKOFF_BASE;
	c->params.backoff_max = CLUSTER_BACKOFF_MAX;
	c->params.log = &c->log;
	c->params.ops = &cluster_conn_ops;
	c->params.opaque = c;
	c->max_io_size = c->params.max_io_size;
	c->rnd = (uint64_t)(uintptr_t)c ^ (uint64_t)(ev_now(loop) * 1e6);

	for (size_t i = 0; i < c->n_seeds; i++) {
		if (cluster_conn_find(c, c->seeds[i]))
			continue;
		if (!cluster_conn_add(c, c->seeds[i])) {
			snprintf(err, errlen, "cannot set up node '%s': %s",
				 c->seeds[i], strerror(errno));
			goto out_free_conns;
		}
	}

	ev_prepare_init(&c->prepare, cluster_prepare_cb);
	c->prepare.data = c;
	ev_prepare_start(loop, &c->prepare);
	ev_unref(loop); /* the prepare watcher alone keeps nobody waiting */
	ev_idle_init(&c->idle, cluster_idle_cb);
	c->idle.data = c;
	ev_init(&c->retry_timer, cluster_retry_cb);
	c->retry_timer.data = c;
	return c;

out_free_conns:
	for (size_t i = 0; i < c->n_conns; i++)
		conn_free(c->conns[i]);
	free(c->conns);
out_free_strings:
	for (size_t i = 0; c->seeds && i < c->n_seeds; i++)
		free(c->seeds[i]);
	free(c->seeds);
	free(c->volume_name);
	free(c->server_name);
	free(c->client_name);
	SSL_CTX_free(c->ssl_ctx);
out_free_c:
	free(c);
	if (!errno)
		errno = EINVAL;
	return NULL;

out_einval:
	errno = EINVAL;
	return NULL;
}

struct cluster *cluster_new(struct ev_loop *loop,
			    const struct cluster_config *cfg)
{
	struct elog log = {
		.fn = cfg->log_fn, .opaque = cfg->log_opaque,
		.level = cfg->log_level ? cfg->log_level : LOG_NOTICE,
	};
	char err[512] = "";
	struct cluster *c;

	errno = 0;
	c = cluster_new_err(loop, cfg, err, sizeof(err));
	if (!c) {
		int e = errno;

		elog_printf(&log, LOG_ERR, "%s", err);
		errno = e;
	}
	return c;
}

struct cluster_sync {
	bool done;
	int err;
};

static void cluster_sync_ready(struct cluster *c, int err, void *opaque)
{
	struct cluster_sync *s = opaque;

	s->done = true;
	s->err = err;
}

struct cluster *cluster_open_sync(struct ev_loop *loop,
				  const struct cluster_config *cfg,
				  char *err, size_t errlen)
{
	struct cluster_sync s = { 0 };
	char buf[512] = "";
	struct cluster *c;

	errno = 0;
	c = cluster_new_err(loop, cfg, buf, sizeof(buf));
	if (!c) {
		int e = errno ? errno : EINVAL;

		if (errlen)
			snprintf(err, errlen, "%s", buf);
		errno = e;
		return NULL;
	}
	cluster_start(c, cluster_sync_ready, &s);
	while (!s.done)
		ev_run(loop, EVRUN_ONCE);
	if (s.err) {
		if (errlen)
			snprintf(err, errlen, "%s", c->last_error);
		cluster_free(c);
		errno = -s.err;
		return NULL;
	}
	if (errlen)
		err[0] = '\0';
	return c;
}

void cluster_free(struct cluster *c)
{
	struct cluster_sub_block *b;

	if (!c)
		return;
	cluster_set_state(c, CLUSTER_FREEING);
	c->ready_due = false;
	/* every request comes back through returned() and completes -EIO */
	for (size_t i = 0; i < c->n_conns; i++)
		conn_close(c->conns[i]);
	cluster_fail_all(c);
	cluster_run_completions(c);
	cluster_volreq_run_done(c);

	ev_ref(c->loop);
	ev_prepare_stop(c->loop, &c->prepare);
	ev_idle_stop(c->loop, &c->idle);
	ev_timer_stop(c->loop, &c->retry_timer);
	for (size_t i = 0; i < c->n_conns; i++)
		conn_free(c->conns[i]);
	free(c->conns);
	free(c->node_conn);
	map_free(c->map);
	while ((b = c->blocks)) {
		c->blocks = b->next;
		free(b);
	}
	for (size_t i = 0; i < c->n_seeds; i++)
		free(c->seeds[i]);
	free(c->seeds);
	free(c->volume_name);
	free(c->server_name);
	free(c->client_name);
	SSL_CTX_free(c->ssl_ctx);
	free(c);
}
