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

static void session_set_state(struct session *s, enum session_state to)
{
	nb_elog_printf(&s->log, LOG_DEBUG, "volume %s: %s -> %s", s->volume_name,
		    session_state_names[s->state], session_state_names[to]);
	s->state = to;
}

void nb_session_set_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
}

const char *nb_session_last_error(const struct session *s)
{
	return s ? s->last_error : "";
}

const struct session_volume *nb_session_volume(const struct session *s)
{
	return s->have_volume ? &s->pub_volume : NULL;
}

/* s->volume changed: update the copy nb_session_volume() hands out. */
void nb_session_volume_changed(struct session *s)
{
	struct session_volume *v = &s->pub_volume;

	snprintf(v->name, sizeof(v->name), "%s", s->volume.volume);
	v->size = s->volume.size;
	v->block_size = s->volume.block_size;
	v->read_only = s->volume.read_only;
	v->max_discard_size = s->volume.max_discard_size;
	v->max_write_zeroes_size = s->volume.max_write_zeroes_size;
}

const struct map *nb_session_map(const struct session *s)
{
	return s->map;
}

bool nb_session_is_ready(const struct session *s)
{
	return s->state == SESSION_READY;
}

void nb_session_get_stats(const struct session *s, struct session_stats *out)
{
	*out = s->stats;
	out->reconnects = 0;
	out->conns_ready = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		out->reconnects += nb_conn_reconnects(s->nodes[i]->conn);
		if (nb_conn_state(s->nodes[i]->conn) == CONN_READY)
			out->conns_ready++;
	}
}

const char *nb_session_tls_suite(const struct session *s)
{
	for (size_t i = 0; i < s->n_nodes; i++) {
		const char *suite = nb_conn_tls_suite(s->nodes[i]->conn);

		if (suite)
			return suite;
	}
	return NULL;
}

/* ---- deferred callbacks ---- */

void nb_session_idle_start(struct session *s)
{
	if (!ev_is_active(&s->idle))
		ev_idle_start(s->loop, &s->idle);
}

/*
 * Deferred callbacks run from the prepare watcher, every loop iteration
 * (an idle watcher alone would starve while the sockets stay busy); the
 * idle watcher only keeps the loop from sleeping while some are due.
 */
static void session_run_deferred(struct session *s)
{
	if (s->ready_due) {
		s->ready_due = false;
		if (s->ready_cb)
			s->ready_cb(s, s->start_err, s->ready_opaque);
	}
	nb_session_run_completions(s);
	nb_session_volreq_run_done(s);
}

static void session_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct session *s = w->data;

	session_run_deferred(s);
	/* stopped only here, so that ev_run(EVRUN_ONCE) returns after a
	 * deferred callback ran from the prepare watcher */
	if (!s->done_head && !s->ready_due && !s->vol_done)
		ev_idle_stop(loop, w);
}

static void session_prepare_cb(struct ev_loop *loop, ev_prepare *w,
			       int revents)
{
	struct session *s = w->data;

	if (s->done_head || s->ready_due || s->vol_done)
		session_run_deferred(s);

	/* A failed flush may hand requests to other conns: loop until quiet. */
	while (s->dirty) {
		struct session_node *node = s->dirty;

		s->dirty = node->next_dirty;
		node->next_dirty = NULL;
		node->bits &= ~SESSION_NODE_DIRTY;
		nb_conn_flush(node->conn);
	}
}

/* ---- start ---- */

/* Which start failure to report when several seeds failed differently. */
static int session_start_err_rank(int err)
{
	switch (err) {
	case -ESTALE: return 9;
	case -EBUSY: return 8;
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
	case -ESTALE:
	case -EBUSY:
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

static void session_start_done(struct session *s, int err)
{
	s->start_err = err;
	s->ready_due = true;
	if (err) {
		session_set_state(s, SESSION_FAILED);
		for (size_t i = 0; i < s->n_nodes; i++)
			nb_conn_close(s->nodes[i]->conn);
		nb_elog_printf(&s->log, LOG_INFO, "volume %s: cannot start: %s",
			    s->volume_name, s->last_error);
	} else {
		for (size_t i = 0; i < s->n_nodes; i++)
			s->nodes[i]->bits &= ~SESSION_NODE_SEED;
		session_set_state(s, SESSION_READY);
		s->last_error[0] = '\0';
		nb_elog_printf(&s->log, LOG_INFO,
			    "volume %s ready: %llu bytes, block size %u%s",
			    s->volume_name, (unsigned long long)s->volume.size,
			    s->volume.block_size,
			    s->volume.read_only ? ", read-only" : "");
	}
	nb_session_idle_start(s);
}

static void session_start_seed_failed(struct session *s,
				      struct session_node *node)
{
	int err = session_start_err_normalise(nb_conn_err(node->conn));

	if (!(node->bits & SESSION_NODE_SEED))
		return; /* counted already */
	node->bits &= ~SESSION_NODE_SEED;
	if (s->start_err == 0 ||
	    session_start_err_rank(err) > session_start_err_rank(s->start_err)) {
		s->start_err = err;
		nb_session_set_error(s, "%s", nb_conn_errmsg(node->conn));
	}
	if (--s->seeds_pending == 0)
		session_start_done(s, s->start_err);
}

int nb_session_start(struct session *s, session_ready_fn *ready_cb, void *opaque)
{
	if (s->state != SESSION_NEW)
		return -EALREADY;
	s->ready_cb = ready_cb;
	s->ready_opaque = opaque;
	session_set_state(s, SESSION_STARTING);
	s->seeds_pending = s->n_nodes;
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i]->bits |= SESSION_NODE_SEED;
	for (size_t i = 0; i < s->n_nodes && s->state == SESSION_STARTING; i++)
		nb_conn_connect(s->nodes[i]->conn);
	return 0;
}

/* ---- connection events ---- */

static void session_conn_state(struct conn *conn, enum conn_state old)
{
	struct session_node *node = nb_conn_owner(conn);
	struct session *s = node->session;
	enum conn_state state = nb_conn_state(conn);

	if (state == CONN_BACKOFF && old == CONN_READY &&
	    nb_conn_err(conn) == -ETIMEDOUT && s->state == SESSION_READY)
		nb_session_node_timed_out(node);
	/* a reconnect's OPEN refused: the writer lock moved on */
	if (state == CONN_BACKOFF && old == CONN_HELLO &&
	    (nb_conn_err(conn) == -ESTALE || nb_conn_err(conn) == -EBUSY))
		nb_session_fence(s, conn, NULL);
	if (state == CONN_READY) {
		if (s->state == SESSION_STARTING)
			session_start_done(s, 0);
		if (s->state == SESSION_READY) {
			nb_session_fence_ask(s);
			nb_session_kick_waiting(s);
			if (s->map_wait && !s->refreshing)
				nb_session_refresh_map(s, node);
		}
		return;
	}
	if (state == CONN_BACKOFF && s->state == SESSION_STARTING)
		session_start_seed_failed(s, node);
}

static int session_conn_opened(struct conn *conn, struct rpc_reply *rep,
			       char *msg, size_t msglen)
{
	struct session_node *node = nb_conn_owner(conn);
	struct session *s = node->session;
	const struct rpc_volume_info *v = &rep->volume;
	int ret;

	nb_session_node_opened(node);
	if (s->have_volume) {
		if (v->block_size != s->volume.block_size) {
			snprintf(msg, msglen,
				 "volume '%s' differs on this node (block size %u, expected %u)",
				 s->volume_name, v->block_size,
				 s->volume.block_size);
			return -EPROTO;
		}
		/* resized: the new size is taken by nb_session_refresh_volume() */
		if (v->size != s->volume.size)
			nb_elog_printf(&s->log, LOG_INFO,
				    "volume %s: node %s reports %llu bytes (we use %llu until a refresh)",
				    s->volume_name, nb_conn_addr(conn),
				    (unsigned long long)v->size,
				    (unsigned long long)s->volume.size);
		if (rep->map)
			nb_session_map_offer(s, node, rep);
		/* with the map offered: it says which store conn's node is */
		return nb_session_lock_granted(s, conn, v, msg, msglen);
	}

	if (v->block_size < SESSION_SECTOR || v->block_size % SESSION_SECTOR ||
	    v->size % SESSION_SECTOR) {
		snprintf(msg, msglen,
			 "volume '%s' has unusable geometry (%llu bytes, block %u)",
			 s->volume_name, (unsigned long long)v->size,
			 v->block_size);
		return -EPROTO;
	}
	if (!rep->map) {
		snprintf(msg, msglen, "open reply carries no cluster map");
		return -EPROTO;
	}
	if (!nb_session_map_offer(s, node, rep) && !s->map) {
		snprintf(msg, msglen, "open reply carries an unusable cluster map");
		return -EPROTO;
	}
	ret = nb_session_lock_granted(s, conn, v, msg, msglen);
	if (ret < 0)
		return ret;
	s->volume = *v;
	s->have_volume = true;
	nb_session_volume_changed(s);
	nb_session_nodes_inherit(s);
	if (nb_conn_max_io_size(conn) < s->max_io_size)
		s->max_io_size = nb_conn_max_io_size(conn);
	return 0;
}

static void session_conn_kick(struct conn *conn)
{
	struct session_node *node = nb_conn_owner(conn);
	struct session *s = node->session;

	if (node->bits & SESSION_NODE_DIRTY)
		return;
	node->bits |= SESSION_NODE_DIRTY;
	node->next_dirty = s->dirty;
	s->dirty = node;
}

static void session_conn_open_lock(struct conn *conn, bool *break_lock,
				   uint64_t *generation)
{
	struct session_node *node = nb_conn_owner(conn);

	nb_session_lock_present(node->session, conn, break_lock, generation);
}

static const struct conn_ops session_conn_ops = {
	.state_changed = session_conn_state,
	.opened = session_conn_opened,
	.kick = session_conn_kick,
	.open_lock = session_conn_open_lock,
};

/* ---- construction ---- */

static char *session_strdup_opt(const char *str, bool *failed)
{
	char *d;

	if (!str)
		return NULL;
	d = strdup(str);
	if (!d)
		*failed = true;
	return d;
}

/* Free the session's copies of its configuration and its TLS context. */
static void session_free_config(struct session *s)
{
	nb_flush_ledger_free(s->own_ledger);
	for (size_t i = 0; s->seeds && i < s->n_seeds; i++)
		free(s->seeds[i]);
	free(s->seeds);
	free(s->volume_name);
	free(s->server_name);
	free(s->client_name);
	free(s->lock_owner);
	SSL_CTX_free(s->ssl_ctx);
}

static struct session *session_new_err(struct ev_loop *loop,
				       const struct session_config *cfg,
				       char *err, size_t errlen)
{
	char host[MAP_ADDR_MAX + 1], port[8];
	bool oom = false;
	struct session *s;

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
		    nb_route_addr_split(cfg->nodes[i], host, sizeof(host), port,
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
	if (cfg->lock_owner && strlen(cfg->lock_owner) > RPC_NAME_MAX) {
		snprintf(err, errlen, "lock owner too long (at most %d bytes)",
			 RPC_NAME_MAX);
		goto out_einval;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->loop = loop;
	s->state = SESSION_NEW;
	s->log.fn = cfg->log_fn;
	s->log.opaque = cfg->log_opaque;
	s->log.level = cfg->log_level ? cfg->log_level : LOG_NOTICE;
	s->read_only = cfg->read_only;
	s->io_timeout = cfg->io_timeout;
	s->done_tail = &s->done_head;

	if (cfg->ssl_ctx) {
		SSL_CTX_up_ref(cfg->ssl_ctx);
		s->ssl_ctx = cfg->ssl_ctx;
	} else {
		s->ssl_ctx = nb_tls_client_ctx_new(cfg->tls_ca, cfg->tls_cert,
						cfg->tls_key,
						cfg->tls_ciphersuites, err,
						errlen);
		if (!s->ssl_ctx)
			goto out_free_c;
	}

	s->volume_name = session_strdup_opt(cfg->volume, &oom);
	s->server_name = session_strdup_opt(cfg->server_name, &oom);
	s->client_name = session_strdup_opt(cfg->client_name ? cfg->client_name :
					    "netblk", &oom);
	if (cfg->lock_owner && cfg->lock_owner[0])
		s->lock_owner = session_strdup_opt(cfg->lock_owner, &oom);
	s->seeds = calloc(cfg->n_nodes, sizeof(*s->seeds));
	if (!s->seeds)
		oom = true;
	for (size_t i = 0; s->seeds && i < cfg->n_nodes; i++)
		s->seeds[i] = session_strdup_opt(cfg->nodes[i], &oom);
	s->n_seeds = cfg->n_nodes;
	/*
	 * Without a shared ledger the session keeps its own: a node stays
	 * owed a FLUSH until one succeeds, so a second FLUSH submitted while
	 * the first is in flight (which may still fail) is sent too.
	 */
	s->ledger = cfg->flush_ledger;
	if (!s->ledger) {
		s->ledger = s->own_ledger = nb_flush_ledger_new();
		if (!s->ledger)
			oom = true;
	}
	if (oom) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto out_free_strings;
	}

	s->params.ssl_ctx = s->ssl_ctx;
	s->params.server_name = s->server_name;
	s->params.volume = s->volume_name;
	s->params.read_only = cfg->read_only;
	s->params.client_name = s->client_name;
	s->params.lock_owner = s->lock_owner;
	s->params.break_lock = cfg->break_lock && s->lock_owner;
	s->params.lock_generation = cfg->lock_generation;
	s->fence_logged_shared = cfg->fence_logged;
	s->params.max_inflight = cfg->max_inflight ? cfg->max_inflight :
				 SESSION_DEFAULT_MAX_INFLIGHT;
	if (s->params.max_inflight > SESSION_MAX_INFLIGHT_LIMIT)
		s->params.max_inflight = SESSION_MAX_INFLIGHT_LIMIT;
	s->params.max_io_size = cfg->max_io_size ? cfg->max_io_size :
				SESSION_DEFAULT_MAX_IO_SIZE;
	if (s->params.max_io_size > RPC_MAX_DATA_LEN)
		s->params.max_io_size = RPC_MAX_DATA_LEN;
	if (s->params.max_io_size < SESSION_SECTOR)
		s->params.max_io_size = SESSION_SECTOR;
	s->params.connect_timeout = cfg->connect_timeout > 0 ?
		cfg->connect_timeout : SESSION_DEFAULT_CONNECT_TIMEOUT;
	s->params.try_timeout = cfg->try_timeout > 0 ? cfg->try_timeout :
				SESSION_DEFAULT_TRY_TIMEOUT;
	s->params.backoff_base = SESSION_BACKOFF_BASE;
	s->params.backoff_max = SESSION_BACKOFF_MAX;
	s->params.log = &s->log;
	s->params.ops = &session_conn_ops;
	s->max_io_size = s->params.max_io_size;
	s->rnd = (uint64_t)(uintptr_t)s ^ (uint64_t)(ev_now(loop) * 1e6);

	for (size_t i = 0; i < s->n_seeds; i++) {
		if (nb_session_node_find(s, s->seeds[i]))
			continue;
		if (!nb_session_node_add(s, s->seeds[i])) {
			snprintf(err, errlen, "cannot set up node '%s': %s",
				 s->seeds[i], strerror(errno));
			goto out_free_nodes;
		}
	}

	ev_prepare_init(&s->prepare, session_prepare_cb);
	s->prepare.data = s;
	ev_prepare_start(loop, &s->prepare);
	ev_unref(loop); /* the prepare watcher alone keeps nobody waiting */
	ev_idle_init(&s->idle, session_idle_cb);
	s->idle.data = s;
	ev_init(&s->retry_timer, nb_session_retry_cb);
	s->retry_timer.data = s;
	ev_init(&s->deadline_timer, nb_session_deadline_cb);
	s->deadline_timer.data = s;
	return s;

out_free_nodes:
	nb_session_nodes_free(s);
out_free_strings:
	session_free_config(s);
out_free_c:
	free(s);
	if (!errno)
		errno = EINVAL;
	return NULL;

out_einval:
	errno = EINVAL;
	return NULL;
}

struct session *nb_session_new(struct ev_loop *loop,
			    const struct session_config *cfg)
{
	struct elog log = {
		.fn = cfg->log_fn, .opaque = cfg->log_opaque,
		.level = cfg->log_level ? cfg->log_level : LOG_NOTICE,
	};
	char err[512] = "";
	struct session *s;

	errno = 0;
	s = session_new_err(loop, cfg, err, sizeof(err));
	if (!s) {
		int e = errno;

		nb_elog_printf(&log, LOG_ERR, "%s", err);
		errno = e;
	}
	return s;
}

struct session_sync {
	bool done;
	int err;
};

static void session_sync_ready(struct session *s, int err, void *opaque)
{
	struct session_sync *sync = opaque;

	sync->done = true;
	sync->err = err;
}

struct session *nb_session_open_sync(struct ev_loop *loop,
				  const struct session_config *cfg,
				  char *err, size_t errlen)
{
	struct session_sync sync = { 0 };
	char buf[512] = "";
	struct session *s;

	errno = 0;
	s = session_new_err(loop, cfg, buf, sizeof(buf));
	if (!s) {
		int e = errno ? errno : EINVAL;

		if (errlen)
			snprintf(err, errlen, "%s", buf);
		errno = e;
		return NULL;
	}
	nb_session_start(s, session_sync_ready, &sync);
	while (!sync.done)
		ev_run(loop, EVRUN_ONCE);
	if (sync.err) {
		if (errlen)
			snprintf(err, errlen, "%s", s->last_error);
		nb_session_free(s);
		errno = -sync.err;
		return NULL;
	}
	if (errlen)
		err[0] = '\0';
	return s;
}

void nb_session_free(struct session *s)
{
	if (!s)
		return;
	session_set_state(s, SESSION_FREEING);
	s->ready_due = false;
	/* every request comes back through returned() and completes -EIO */
	for (size_t i = 0; i < s->n_nodes; i++)
		nb_conn_close(s->nodes[i]->conn);
	nb_session_fail_all(s);
	nb_session_run_completions(s);
	nb_session_volreq_run_done(s);
	nb_session_fence_ask(s);	/* logs the fence if nobody answered */

	ev_ref(s->loop);
	ev_prepare_stop(s->loop, &s->prepare);
	ev_idle_stop(s->loop, &s->idle);
	ev_timer_stop(s->loop, &s->retry_timer);
	ev_timer_stop(s->loop, &s->deadline_timer);
	nb_session_nodes_free(s);
	free(s->stores);
	free(s->map_nodes);
	nb_map_free(s->map);
	nb_session_subs_free(s);
	session_free_config(s);
	free(s);
}

int nb_session_reload_tls(struct session *s, SSL_CTX *ctx)
{
	if (!s || !ctx)
		return -EINVAL;
	SSL_CTX_up_ref(ctx);
	/* conns that are up hold their own reference through their SSL */
	SSL_CTX_free(s->ssl_ctx);
	s->ssl_ctx = ctx;
	s->params.ssl_ctx = ctx;
	s->stats.tls_reloads++;
	nb_elog_printf(&s->log, LOG_INFO,
		    "volume %s: TLS context replaced; new connections use it",
		    s->volume_name);
	return 0;
}
