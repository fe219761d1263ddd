/* SPDX-License-Identifier: MIT */
/* Administrative requests to one node: create, info, unlock, delete,
 * resize, list, get map; the writer lock of every store (admin.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "conn.h"
#include "engine_log.h"
#include "errmsg.h"
#include "map.h"
#include "tls.h"

_Static_assert(sizeof(((struct admin_store_lock *)0)->node) > MAP_ADDR_MAX,
	       "admin_store_lock.node holds no map address");

struct admin_map {
	struct map *map;
};

/* One request on its own connection; the conn's owner. */
struct admin {
	struct conn_req req;
	bool sent, done;
	int result;
	char msg[1024];
	struct session_volume *info;
	struct session_lock *lock;
	struct map **map_out;
	/* LIST: the volumes gathered so far, and whether more follow */
	struct session_volume *list;
	size_t n_list;
	bool list_more;
};

static void admin_end(struct admin *a, int result, const char *msg)
{
	if (a->done)
		return;
	a->done = true;
	a->result = result;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
}

static void admin_volume_copy(struct session_volume *to,
			      const struct rpc_volume_info *from)
{
	snprintf(to->name, sizeof(to->name), "%s", from->volume);
	to->size = from->size;
	to->block_size = from->block_size;
	to->read_only = from->read_only;
	to->max_discard_size = from->max_discard_size;
	to->max_write_zeroes_size = from->max_write_zeroes_size;
}

/* An OK reply: take what was asked for. Returns 0 or -EPROTO (msg). */
static int admin_take(struct admin *a, struct conn *conn,
		      struct rpc_reply *rep, char *msg, size_t msglen)
{
	char why[256];

	if (a->req.op == RPC_OP_LIST) {
		struct session_volume *grown;

		if (!rep->has_list) {
			snprintf(msg, msglen, "node %s: LIST reply without a list",
				 nb_conn_addr(conn));
			return -EPROTO;
		}
		if (rep->n_list == 0) {
			a->list_more = false;  /* nothing to continue after */
			return 0;
		}
		grown = realloc(a->list, (a->n_list + rep->n_list) * sizeof(*grown));
		if (!grown) {
			snprintf(msg, msglen, "out of memory");
			return -ENOMEM;
		}
		a->list = grown;
		for (uint32_t i = 0; i < rep->n_list; i++)
			admin_volume_copy(&a->list[a->n_list++], &rep->list[i]);
		a->list_more = rep->list_more;
		return 0;
	}
	if (a->req.op != RPC_OP_GET_MAP) {
		if (!rep->has_volume) {
			snprintf(msg, msglen,
				 "node %s: %s reply without volume information",
				 nb_conn_addr(conn), nb_rpc_op_name(a->req.op));
			return -EPROTO;
		}
		if (a->info)
			admin_volume_copy(a->info, &rep->volume);
		if (a->lock) {
			snprintf(a->lock->owner, sizeof(a->lock->owner), "%s",
				 rep->volume.lock.owner);
			a->lock->generation = rep->volume.lock.generation;
			a->lock->since = rep->volume.lock.since;
		}
		return 0;
	}
	if (!rep->map) {
		snprintf(msg, msglen, "node %s: GET_MAP reply without a map",
			 nb_conn_addr(conn));
		return -EPROTO;
	}
	if (nb_map_validate(rep->map, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "node %s sent an invalid map: %s",
			 nb_conn_addr(conn), why);
		return -EPROTO;
	}
	if (a->map_out) {
		*a->map_out = rep->map;
		rep->map = NULL;
	}
	return 0;
}

static void admin_reply(struct conn *conn, struct conn_req *req,
			struct rpc_reply *rep)
{
	struct admin *a = nb_conn_owner(conn);
	char msg[1024];
	int result;

	snprintf(msg, sizeof(msg), "node %s: %s %s%s%s", nb_conn_addr(conn),
		 nb_rpc_op_name(req->op), nb_rpc_status_name(rep->status),
		 rep->message[0] ? ": " : "", rep->message);
	switch (rep->status) {
	case RPC_STATUS_OK:
		result = admin_take(a, conn, rep, msg, sizeof(msg));
		if (result == 0)
			msg[0] = '\0';
		break;
	case RPC_STATUS_EXISTS:
		result = -EEXIST;
		break;
	case RPC_STATUS_NOT_FOUND:
		result = -ENOENT;
		break;
	case RPC_STATUS_UNSUPPORTED:
		result = -EOPNOTSUPP;
		break;
	case RPC_STATUS_FENCED:
		result = -ESTALE;
		break;
	case RPC_STATUS_LOCKED:
		result = -EBUSY;
		break;
	case RPC_STATUS_READ_ONLY:
		result = -EROFS;
		break;
	case RPC_STATUS_MALFORMED:
		result = req->op == RPC_OP_DELETE || req->op == RPC_OP_RESIZE ||
			 req->op == RPC_OP_LIST ? -EINVAL : -EIO;
		break;
	default:
		result = -EIO;
		break;
	}
	admin_end(a, result, msg);
}

static void admin_returned(struct conn *conn, struct conn_req *req, int err)
{
	struct admin *a = nb_conn_owner(conn);

	admin_end(a, nb_conn_err(conn) ? nb_conn_err(conn) : -EIO,
		  nb_conn_errmsg(conn)[0] ? nb_conn_errmsg(conn) : "connection closed");
}

static void admin_state(struct conn *conn, enum conn_state old)
{
	struct admin *a = nb_conn_owner(conn);

	if (nb_conn_state(conn) == CONN_READY && !a->sent) {
		a->sent = true;
		nb_conn_submit(conn, &a->req);
		nb_conn_flush(conn);
	} else if (nb_conn_state(conn) == CONN_BACKOFF) {
		int err = nb_conn_err(conn);

		if (err != -ENOENT && err != -EACCES && err != -EPROTO &&
		    err != -ETIMEDOUT && err != -EROFS)
			err = err == -ECONNRESET ? -EPROTO : -ECONNREFUSED;
		admin_end(a, err, nb_conn_errmsg(conn));
	}
}

static int admin_opened(struct conn *conn, struct rpc_reply *rep,
			char *msg, size_t msglen)
{
	return 0;
}

static void admin_kick(struct conn *conn)
{
	nb_conn_flush(conn);
}

static const struct conn_ops admin_conn_ops = {
	.state_changed = admin_state,
	.opened = admin_opened,
	.kick = admin_kick,
};

/* Connect to node, send a->req, run loop until it is answered. */
static int admin_run(struct ev_loop *loop, const struct session_config *cfg,
		     const char *node, struct admin *a, char *err,
		     size_t errlen)
{
	struct elog log = {
		.fn = cfg->log_fn, .opaque = cfg->log_opaque,
		.level = cfg->log_level ? cfg->log_level : LOG_NOTICE,
	};
	struct conn_params p;
	struct conn *conn;
	char buf[512] = "";
	SSL_CTX *ctx;
	int ret;

	if (a->req.op != RPC_OP_GET_MAP && a->req.op != RPC_OP_LIST &&
	    (!cfg->volume || !cfg->volume[0] ||
	     strlen(cfg->volume) > RPC_NAME_MAX)) {
		snprintf(err, errlen, "invalid volume name '%s'",
			 cfg->volume ? cfg->volume : "");
		return -EINVAL;
	}

	if (cfg->ssl_ctx) {
		ctx = cfg->ssl_ctx;
		SSL_CTX_up_ref(ctx);
	} else {
		ctx = nb_tls_client_ctx_new(cfg->tls_ca, cfg->tls_cert,
					 cfg->tls_key, cfg->tls_ciphersuites,
					 buf, sizeof(buf));
		if (!ctx) {
			ret = -(errno ? errno : EINVAL);
			snprintf(err, errlen, "%s", buf);
			return ret;
		}
	}

	if (a->req.op != RPC_OP_LIST)
		a->req.volume = cfg->volume;
	a->req.reply = admin_reply;
	a->req.returned = admin_returned;

	memset(&p, 0, sizeof(p));
	p.ssl_ctx = ctx;
	p.server_name = cfg->server_name;
	p.client_name = cfg->client_name ? cfg->client_name : "netblk";
	p.max_inflight = 1;
	p.max_io_size = SESSION_DEFAULT_MAX_IO_SIZE;
	p.connect_timeout = cfg->connect_timeout > 0 ? cfg->connect_timeout :
			    SESSION_DEFAULT_CONNECT_TIMEOUT;
	p.try_timeout = cfg->try_timeout > 0 ? cfg->try_timeout :
			SESSION_DEFAULT_TRY_TIMEOUT;
	p.backoff_base = 0.05;
	p.backoff_max = 5;
	p.log = &log;
	p.ops = &admin_conn_ops;

	conn = nb_conn_new(loop, node, &p, a);
	if (!conn) {
		ret = -errno;
		snprintf(err, errlen, "invalid node address '%s'", node);
		goto out_free_ctx;
	}
	nb_conn_connect(conn);
	while (!a->done)
		ev_run(loop, EVRUN_ONCE);
	nb_conn_free(conn);
	ret = a->result;
	snprintf(err, errlen, "%s", a->msg);

out_free_ctx:
	SSL_CTX_free(ctx);
	return ret;
}

int nb_admin_create(struct ev_loop *loop, const struct session_config *cfg,
		 const char *node, uint64_t size, uint32_t block_size,
		 struct session_volume *info, char *err, size_t errlen)
{
	struct admin a = { .info = info };

	a.req.op = RPC_OP_CREATE;
	a.req.create_size = size;
	a.req.create_block_size = block_size;
	return admin_run(loop, cfg, node, &a, err, errlen);
}

int nb_admin_info(struct ev_loop *loop, const struct session_config *cfg,
	       const char *node, struct session_volume *info,
	       struct session_lock *lock, char *err, size_t errlen)
{
	struct admin a = { .info = info, .lock = lock };

	if (lock)
		memset(lock, 0, sizeof(*lock));
	a.req.op = RPC_OP_INFO;
	return admin_run(loop, cfg, node, &a, err, errlen);
}

int nb_admin_unlock(struct ev_loop *loop, const struct session_config *cfg,
		 const char *node, uint64_t generation,
		 struct session_lock *after, char *err, size_t errlen)
{
	struct admin a = { .lock = after };

	if (after)
		memset(after, 0, sizeof(*after));
	if (cfg->lock_owner && strlen(cfg->lock_owner) > RPC_NAME_MAX)
		return nb_errf(err, errlen, -EINVAL, "lock owner too long");
	a.req.op = RPC_OP_UNLOCK;
	a.req.owner = cfg->lock_owner;
	a.req.lock_generation = generation;
	return admin_run(loop, cfg, node, &a, err, errlen);
}

int nb_admin_delete(struct ev_loop *loop, const struct session_config *cfg,
		    const char *node, bool force, struct session_volume *info,
		    char *err, size_t errlen)
{
	struct admin a = { .info = info };

	if (cfg->lock_owner && strlen(cfg->lock_owner) > RPC_NAME_MAX)
		return nb_errf(err, errlen, -EINVAL, "lock owner too long");
	a.req.op = RPC_OP_DELETE;
	a.req.owner = cfg->lock_owner;
	a.req.force = force;
	return admin_run(loop, cfg, node, &a, err, errlen);
}

int nb_admin_resize(struct ev_loop *loop, const struct session_config *cfg,
		    const char *node, uint64_t size, struct session_volume *info,
		    char *err, size_t errlen)
{
	struct admin a = { .info = info };

	a.req.op = RPC_OP_RESIZE;
	a.req.create_size = size;
	return admin_run(loop, cfg, node, &a, err, errlen);
}

int nb_admin_list(struct ev_loop *loop, const struct session_config *cfg,
		  const char *node, struct session_volume **vols, size_t *count,
		  char *err, size_t errlen)
{
	struct admin a;
	char after[SESSION_NAME_MAX + 1] = "";
	int ret;

	*vols = NULL;
	*count = 0;
	memset(&a, 0, sizeof(a));
	do {
		/* each page on its own connection, after the last name seen */
		a.sent = a.done = false;
		a.list_more = false;
		memset(&a.req, 0, sizeof(a.req));
		a.req.op = RPC_OP_LIST;
		a.req.volume = after;
		ret = admin_run(loop, cfg, node, &a, err, errlen);
		if (ret < 0) {
			free(a.list);
			return ret;
		}
		if (a.list_more && a.n_list &&
		    strcmp(a.list[a.n_list - 1].name, after) <= 0) {
			/* a page that does not move on would never end */
			free(a.list);
			return nb_errf(err, errlen, -EPROTO,
				       "node %s: LIST page does not advance past '%s'",
				       node, after);
		}
		if (a.n_list)
			snprintf(after, sizeof(after), "%s", a.list[a.n_list - 1].name);
	} while (a.list_more);
	*vols = a.list;
	*count = a.n_list;
	return 0;
}

int nb_admin_get_map(struct ev_loop *loop, const struct session_config *cfg,
		  const char *node, struct admin_map **map_out,
		  char *err, size_t errlen)
{
	struct admin_map *am;
	struct admin a;
	int ret;

	*map_out = NULL;
	am = calloc(1, sizeof(*am));
	if (!am)
		return nb_errf(err, errlen, -ENOMEM, "out of memory");
	memset(&a, 0, sizeof(a));
	a.map_out = &am->map;
	a.req.op = RPC_OP_GET_MAP;
	ret = admin_run(loop, cfg, node, &a, err, errlen);
	if (ret < 0 || !am->map) {
		nb_admin_map_free(am);
		return ret;
	}
	*map_out = am;
	return 0;
}

void nb_admin_map_print(FILE *out, const struct admin_map *am)
{
	const struct map *m = am->map;

	fprintf(out, "map epoch:        %" PRIu64 "\n", m->epoch);
	fprintf(out, "chunk size:       %" PRIu64 "\n", m->chunk_size);
	for (uint32_t i = 0; i < m->n_nodes; i++)
		if (m->groups[i])
			fprintf(out, "node %-3u          %s group %u\n", i,
				m->nodes[i], m->groups[i]);
		else
			fprintf(out, "node %-3u          %s\n", i, m->nodes[i]);
	for (uint32_t i = 0; i < m->n_chunks && i < 64; i++) {
		fprintf(out, "placement %-3u     ", i);
		for (uint32_t j = 0; j < m->chunks[i].n; j++)
			fprintf(out, "%s%u", j ? " " : "", m->chunks[i].nodes[j]);
		fprintf(out, "\n");
	}
	if (m->n_chunks > 64)
		fprintf(out, "(%u placements, first 64 shown)\n", m->n_chunks);
}

bool nb_admin_map_same_store(const struct admin_map *am, const char *a,
			  const char *b)
{
	int i, j;

	if (!strcmp(a, b))
		return true;
	i = nb_map_node_index(am->map, a);
	j = nb_map_node_index(am->map, b);
	return i >= 0 && j >= 0 && map_same_store(am->map, (uint32_t)i, (uint32_t)j);
}

uint64_t nb_admin_map_epoch(const struct admin_map *am)
{
	return am->map->epoch;
}

uint64_t nb_admin_map_chunk_size(const struct admin_map *am)
{
	return am->map->chunk_size;
}

uint32_t nb_admin_map_n_nodes(const struct admin_map *am)
{
	return am->map->n_nodes;
}

const char *nb_admin_map_node(const struct admin_map *am, uint32_t i,
			      uint32_t *group)
{
	*group = am->map->groups[i];
	return am->map->nodes[i];
}

uint32_t nb_admin_map_n_placements(const struct admin_map *am)
{
	return am->map->n_chunks;
}

uint32_t nb_admin_map_placement(const struct admin_map *am, uint32_t i,
				const uint32_t **nodes)
{
	*nodes = am->map->chunks[i].nodes;
	return am->map->chunks[i].n;
}

void nb_admin_map_free(struct admin_map *am)
{
	if (!am)
		return;
	nb_map_free(am->map);
	free(am);
}

/* Ask the nodes of store st (the first one answering) for its lock. */
static void admin_store_ask(struct ev_loop *loop,
			    const struct session_config *cfg,
			    const struct map *m, uint32_t first,
			    struct admin_store_lock *st)
{
	int ret = -ENOTCONN;

	for (uint32_t j = first; j < m->n_nodes; j++) {
		if (!map_same_store(m, first, j))
			continue;
		st->errmsg[0] = '\0';
		ret = nb_admin_info(loop, cfg, m->nodes[j], NULL, &st->lock,
				 st->errmsg, sizeof(st->errmsg));
		snprintf(st->node, sizeof(st->node), "%s", m->nodes[j]);
		/* a missing volume, or a refusal, is an answer */
		if (ret == 0 || ret == -ENOENT || ret == -EOPNOTSUPP)
			break;
	}
	st->err = ret;
	if (ret < 0 && !st->errmsg[0])
		snprintf(st->errmsg, sizeof(st->errmsg), "%s", strerror(-ret));
}

int nb_admin_store_locks(struct ev_loop *loop, const struct session_config *cfg,
		      struct admin_store_lock **out, char *err, size_t errlen)
{
	struct admin_map *am = NULL;
	struct admin_store_lock *v;
	const struct map *m;
	uint32_t n = 0;
	int ret = -ENOTCONN;

	*out = NULL;
	for (size_t i = 0; i < cfg->n_nodes && !am; i++)
		ret = nb_admin_get_map(loop, cfg, cfg->nodes[i], &am, err, errlen);
	if (!am)
		return ret;
	m = am->map;
	v = calloc(nb_map_n_stores(m), sizeof(*v));
	if (!v) {
		nb_admin_map_free(am);
		return nb_errf(err, errlen, -ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < m->n_nodes; i++) {
		uint32_t j;

		/* a store is asked from its first node on */
		for (j = 0; j < i && !map_same_store(m, i, j); j++)
			;
		if (j < i)
			continue;
		v[n].group = m->groups[i];
		admin_store_ask(loop, cfg, m, i, &v[n]);
		n++;
	}
	nb_admin_map_free(am);
	*out = v;
	return (int)n;
}
