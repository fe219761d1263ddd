/* SPDX-License-Identifier: MIT */
/* A session: life cycle, start, connection events, stats (session.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_priv.h"
#include "tls.h"

static const char *const session_state_names[SESSION_STATE_MAX] = {
	[SESSION_NEW] = "NEW",
	[SESSION_STARTING] = "STARTING",
	[SESSION_READY] = "READY",
	[SESSION_FAILED] = "FAILED",
	[SESSION_FREEING] = "FREEING",
};

static void session_set_state(struct session *c, enum session_state to)
{
	elog_printf(&c->log, LOG_DEBUG, "volume %s: %s -> %s", c->volume_name,
		    session_state_names[c->state], session_state_names[to]);
	c->state = to;
}

void session_set_error(struct session *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
}

const char *session_last_error(const struct session *c)
{
	return c ? c->last_error : "";
}

const struct session_volume *session_volume(const struct session *c)
{
	return c->have_volume ? &c->pub_volume : NULL;
}

/* c->volume changed: update the copy session_volume() hands out. */
void session_volume_changed(struct session *c)
{
	struct session_volume *v = &c->pub_volume;

	snprintf(v->name, sizeof(v->name), "%s", c->volume.volume);
	v->size = c->volume.size;
	v->block_size = c->volume.block_size;
	v->read_only = c->volume.read_only;
	v->max_discard_size = c->volume.max_discard_size;
	v->max_write_zeroes_size = c->volume.max_write_zeroes_size;
}

const struct map *session_map(const struct session *c)
{
	return c->map;
}

bool session_is_ready(const struct session *c)
{
	return c->state == SESSION_READY;
}

void session_get_stats(const struct session *c, struct session_stats *out)
{
	*out = c->stats;
	out->reconnects = 0;
	out->conns_ready = 0;
	for (size_t i = 0; i < c->n_nodes; i++) {
		out->reconnects += conn_reconnects(c->nodes[i]->conn);
		if (conn_state(c->nodes[i]->conn) == CONN_READY)
			out->conns_ready++;
	}
}

const char *session_tls_suite(const struct session *c)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		const char *suite = conn_tls_suite(c->nodes[i]->conn);

		if (suite)
			return suite;
	}
	return NULL;
}

/* ---- deferred callbacks ---- */

void session_idle_start(struct session *c)
{
	if (!ev_is_active(&c->idle))
		ev_idle_start(c->loop, &c->idle);
}

/*
 * Deferred callbacks run from the prepare watcher, every loop iteration
 * (an idle watcher alone would starve while the sockets stay busy); the
 * idle watcher only keeps the loop from sleeping while some are due.
 */
static void session_run_deferred(struct session *c)
{
	if (c->ready_due) {
		c->ready_due = false;
		if (c->ready_cb)
			c->ready_cb(c, c->start_err, c->ready_opaque);
	}
	session_run_completions(c);
	session_volreq_run_done(c);
}

static void session_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct session *c = w->data;

	session_run_deferred(c);
	/* stopped only here, so that ev_run(EVRUN_ONCE) returns after a
	 * deferred callback ran from the prepare watcher */
	if (!c->done_head && !c->ready_due && !c->vol_done)
		ev_idle_stop(loop, w);
}

static void session_prepare_cb(struct ev_loop *loop, ev_prepare *w,
			       int revents)
{
	struct session *c = w->data;

	if (c->done_head || c->ready_due || c->vol_done)
		session_run_deferred(c);

	/* A failed flush may hand requests to other conns: loop until quiet. */
	while (c->dirty) {
		struct session_node *node = c->dirty;

		c->dirty = node->next_dirty;
		node->next_dirty = NULL;
		node->bits &= ~SESSION_NODE_DIRTY;
		conn_flush(node->conn);
	}
}

/* ---- start ---- */

/* Which start failure to report when several seeds failed differently. */
static int session_start_err_rank(int err)
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

static int session_start_err_normalise(int err)
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

static void session_start_done(struct session *c, int err)
{
	c->start_err = err;
	c->ready_due = true;
	if (err) {
		session_set_state(c, SESSION_FAILED);
		for (size_t i = 0; i < c->n_nodes; i++)
			conn_close(c->nodes[i]->conn);
		elog_printf(&c->log, LOG_INFO, "volume %s: cannot start: %s",
			    c->volume_name, c->last_error);
	} else {
		for (size_t i = 0; i < c->n_nodes; i++)
			c->nodes[i]->bits &= ~SESSION_NODE_SEED;
		session_set_state(c, SESSION_READY);
		c->last_error[0] = '\0';
		elog_printf(&c->log, LOG_INFO,
			    "volume %s ready: %llu bytes, block size %u%s",
			    c->volume_name, (unsigned long long)c->volume.size,
			    c->volume.block_size,
			    c->volume.read_only ? ", read-only" : "");
	}
	session_idle_start(c);
}

static void session_start_seed_failed(struct session *c,
				      struct session_node *node)
{
	int err = session_start_err_normalise(conn_err(node->conn));

	if (!(node->bits & SESSION_NODE_SEED))
		return; /* counted already */
	node->bits &= ~SESSION_NODE_SEED;
	if (c->start_err == 0 ||
	    session_start_err_rank(err) > session_start_err_rank(c->start_err)) {
		c->start_err = err;
		session_set_error(c, "%s", conn_errmsg(node->conn));
	}
	if (--c->seeds_pending == 0)
		session_start_done(c, c->start_err);
}

int session_start(struct session *c, session_ready_fn *ready_cb, void *opaque)
{
	if (c->state != SESSION_NEW)
		return -EALREADY;
	c->ready_cb = ready_cb;
	c->ready_opaque = opaque;
	session_set_state(c, SESSION_STARTING);
	c->seeds_pending = c->n_nodes;
	for (size_t i = 0; i < c->n_nodes; i++)
		c->nodes[i]->bits |= SESSION_NODE_SEED;
	for (size_t i = 0; i < c->n_nodes && c->state == SESSION_STARTING; i++)
		conn_connect(c->nodes[i]->conn);
	return 0;
}

/* ---- connection events ---- */

static void session_conn_state(struct conn *conn, enum conn_state old)
{
	struct session_node *node = conn_owner(conn);
	struct session *c = node->session;
	enum conn_state state = conn_state(conn);

	if (state == CONN_BACKOFF && old == CONN_READY &&
	    conn_err(conn) == -ETIMEDOUT && c->state == SESSION_READY)
		session_node_timed_out(node);
	if (state == CONN_READY) {
		if (c->state == SESSION_STARTING)
			session_start_done(c, 0);
		if (c->state == SESSION_READY) {
			session_kick_waiting(c);
			if (c->map_wait && !c->refreshing)
				session_refresh_map(c, node);
		}
		return;
	}
	if (state == CONN_BACKOFF && c->state == SESSION_STARTING)
		session_start_seed_failed(c, node);
}

static int session_conn_opened(struct conn *conn, struct rpc_reply *rep,
			       char *msg, size_t msglen)
{
	struct session_node *node = conn_owner(conn);
	struct session *c = node->session;
	const struct rpc_volume_info *v = &rep->volume;

	if (c->have_volume) {
		if (v->block_size != c->volume.block_size) {
			snprintf(msg, msglen,
				 "volume '%s' differs on this node (block size %u, expected %u)",
				 c->volume_name, v->block_size,
				 c->volume.block_size);
			return -EPROTO;
		}
		/* resized: the new size is taken by session_refresh_volume() */
		if (v->size != c->volume.size)
			elog_printf(&c->log, LOG_INFO,
				    "volume %s: node %s reports %llu bytes (we use %llu until a refresh)",
				    c->volume_name, conn_addr(conn),
				    (unsigned long long)v->size,
				    (unsigned long long)c->volume.size);
		if (rep->map)
			session_map_offer(c, node, rep);
		return 0;
	}

	if (v->block_size < SESSION_SECTOR || v->block_size % SESSION_SECTOR ||
	    v->size % SESSION_SECTOR) {
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
	if (!session_map_offer(c, node, rep) && !c->map) {
		snprintf(msg, msglen, "open reply carries an unusable cluster map");
		return -EPROTO;
	}
	c->volume = *v;
	c->have_volume = true;
	session_volume_changed(c);
	if (conn_max_io_size(conn) < c->max_io_size)
		c->max_io_size = conn_max_io_size(conn);
	return 0;
}

static void session_conn_kick(struct conn *conn)
{
	struct session_node *node = conn_owner(conn);
	struct session *c = node->session;

	if (node->bits & SESSION_NODE_DIRTY)
		return;
	node->bits |= SESSION_NODE_DIRTY;
	node->next_dirty = c->dirty;
	c->dirty = node;
}

static const struct conn_ops session_conn_ops = {
	.state_changed = session_conn_state,
	.opened = session_conn_opened,
	.kick = session_conn_kick,
};

/* ---- construction ---- */

static char *session_strdup_opt(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static struct session *session_new_err(struct ev_loop *loop,
				       const struct session_config *cfg,
				       char *err, size_t errlen)
{
	char host[MAP_ADDR_MAX + 1], port[8];
	bool oom = false;
	struct session *c;

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
	c->state = SESSION_NEW;
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

	c->volume_name = session_strdup_opt(cfg->volume, &oom);
	c->server_name = session_strdup_opt(cfg->server_name, &oom);
	c->client_name = session_strdup_opt(cfg->client_name ? cfg->client_name :
					    "netblk", &oom);
	c->seeds = calloc(cfg->n_nodes, sizeof(*c->seeds));
	if (!c->seeds)
		oom = true;
	for (size_t i = 0; c->seeds && i < cfg->n_nodes; i++)
		c->seeds[i] = session_strdup_opt(cfg->nodes[i], &oom);
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
				 SESSION_DEFAULT_MAX_INFLIGHT;
	if (c->params.max_inflight > SESSION_MAX_INFLIGHT_LIMIT)
		c->params.max_inflight = SESSION_MAX_INFLIGHT_LIMIT;
	c->params.max_io_size = cfg->max_io_size ? cfg->max_io_size :
				SESSION_DEFAULT_MAX_IO_SIZE;
	if (c->params.max_io_size > RPC_MAX_DATA_LEN)
		c->params.max_io_size = RPC_MAX_DATA_LEN;
	if (c->params.max_io_size < SESSION_SECTOR)
		c->params.max_io_size = SESSION_SECTOR;
	c->params.connect_timeout = cfg->connect_timeout > 0 ?
		cfg->connect_timeout : SESSION_DEFAULT_CONNECT_TIMEOUT;
	c->params.try_timeout = cfg->try_timeout > 0 ? cfg->try_timeout :
				SESSION_DEFAULT_TRY_TIMEOUT;
	c->params.backoff_base = SESSION_BACKOFF_BASE;
	c->params.backoff_max = SESSION_BACKOFF_MAX;
	c->params.log = &c->log;
	c->params.ops = &session_conn_ops;
	c->max_io_size = c->params.max_io_size;
	c->rnd = (uint64_t)(uintptr_t)c ^ (uint64_t)(ev_now(loop) * 1e6);

	for (size_t i = 0; i < c->n_seeds; i++) {
		if (session_node_find(c, c->seeds[i]))
			continue;
		if (!session_node_add(c, c->seeds[i])) {
			snprintf(err, errlen, "cannot set up node '%s': %s",
				 c->seeds[i], strerror(errno));
			goto out_free_nodes;
		}
	}

	ev_prepare_init(&c->prepare, session_prepare_cb);
	c->prepare.data = c;
	ev_prepare_start(loop, &c->prepare);
	ev_unref(loop); /* the prepare watcher alone keeps nobody waiting */
	ev_idle_init(&c->idle, session_idle_cb);
	c->idle.data = c;
	ev_init(&c->retry_timer, session_retry_cb);
	c->retry_timer.data = c;
	return c;

out_free_nodes:
	session_nodes_free(c);
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

struct session *session_new(struct ev_loop *loop,
			    const struct session_config *cfg)
{
	struct elog log = {
		.fn = cfg->log_fn, .opaque = cfg->log_opaque,
		.level = cfg->log_level ? cfg->log_level : LOG_NOTICE,
	};
	char err[512] = "";
	struct session *c;

	errno = 0;
	c = session_new_err(loop, cfg, err, sizeof(err));
	if (!c) {
		int e = errno;

		elog_printf(&log, LOG_ERR, "%s", err);
		errno = e;
	}
	return c;
}

struct session_sync {
	bool done;
	int err;
};

static void session_sync_ready(struct session *c, int err, void *opaque)
{
	struct session_sync *s = opaque;

	s->done = true;
	s->err = err;
}

struct session *session_open_sync(struct ev_loop *loop,
				  const struct session_config *cfg,
				  char *err, size_t errlen)
{
	struct session_sync s = { 0 };
	char buf[512] = "";
	struct session *c;

	errno = 0;
	c = session_new_err(loop, cfg, buf, sizeof(buf));
	if (!c) {
		int e = errno ? errno : EINVAL;

		if (errlen)
			snprintf(err, errlen, "%s", buf);
		errno = e;
		return NULL;
	}
	session_start(c, session_sync_ready, &s);
	while (!s.done)
		ev_run(loop, EVRUN_ONCE);
	if (s.err) {
		if (errlen)
			snprintf(err, errlen, "%s", c->last_error);
		session_free(c);
		errno = -s.err;
		return NULL;
	}
	if (errlen)
		err[0] = '\0';
	return c;
}

void session_free(struct session *c)
{
	if (!c)
		return;
	session_set_state(c, SESSION_FREEING);
	c->ready_due = false;
	/* every request comes back through returned() and completes -EIO */
	for (size_t i = 0; i < c->n_nodes; i++)
		conn_close(c->nodes[i]->conn);
	session_fail_all(c);
	session_run_completions(c);
	session_volreq_run_done(c);

	ev_ref(c->loop);
	ev_prepare_stop(c->loop, &c->prepare);
	ev_idle_stop(c->loop, &c->idle);
	ev_timer_stop(c->loop, &c->retry_timer);
	session_nodes_free(c);
	free(c->map_nodes);
	map_free(c->map);
	session_subs_free(c);
	for (size_t i = 0; i < c->n_seeds; i++)
		free(c->seeds[i]);
	free(c->seeds);
	free(c->volume_name);
	free(c->server_name);
	free(c->client_name);
	SSL_CTX_free(c->ssl_ctx);
	free(c);
}

int session_reload_tls(struct session *c, SSL_CTX *ctx)
{
	if (!c || !ctx)
		return -EINVAL;
	SSL_CTX_up_ref(ctx);
	/* conns that are up hold their own reference through their SSL */
	SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = ctx;
	c->params.ssl_ctx = ctx;
	c->stats.tls_reloads++;
	elog_printf(&c->log, LOG_INFO,
		    "volume %s: TLS context replaced; new connections use it",
		    c->volume_name);
	return 0;
}
