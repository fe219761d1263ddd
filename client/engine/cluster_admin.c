/* SPDX-License-Identifier: MIT */
/*
 * Administrative requests: to one node (CREATE, INFO, GET_MAP), blocking
 * on a loop of the caller's (cluster_admin_sync()); and, on a running
 * cluster, the volume refresh (INFO on a READY connection, for online
 * resize) and the TLS context reload. See cluster.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "conn.h"
#include "map.h"
#include "tls.h"

/* ---- running cluster: volume refresh, TLS reload ---- */

#define CLUSTER_VOLREQ_TRIES 3

/* A READY conn other than skip, preferring nodes not avoided. */
static struct conn *cluster_ready_conn(struct cluster *c, struct conn *skip)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->n_conns; i++) {
			struct conn *conn = c->conns[i];

			if (conn != skip && conn->state == CONN_READY &&
			    (pass || !cluster_node_avoided(c, conn)))
				return conn;
		}
	return NULL;
}

int cluster_refresh_volume(struct cluster *c, cluster_volume_fn *cb,
			   void *opaque)
{
	struct cluster_volreq *vr;
	struct conn *conn;

	if (!c || !cb)
		return -EINVAL;
	if (c->state != CLUSTER_READY)
		return -ENOTCONN;
	conn = cluster_ready_conn(c, NULL);
	if (!conn)
		return -ENOTCONN;
	vr = calloc(1, sizeof(*vr));
	if (!vr)
		return -ENOMEM;
	vr->req.op = RPC_OP_INFO;
	vr->req.volume = c->volume_name;
	vr->cb = cb;
	vr->opaque = opaque;
	vr->tries = 1;
	elog_printf(&c->log, LOG_DEBUG, "volume %s: asking node %s for its size",
		    c->volume_name, conn->addr);
	conn_submit(conn, &vr->req);
	return 0;
}

/* Report from the loop (deferred), or at once from cluster_free(). */
static void cluster_volreq_done(struct cluster *c, struct cluster_volreq *vr,
				int err)
{
	vr->err = err;
	vr->next = c->vol_done;
	c->vol_done = vr;
	if (c->state != CLUSTER_FREEING)
		cluster_idle_start(c);
}

void cluster_volreq_run_done(struct cluster *c)
{
	struct cluster_volreq *list = c->vol_done;

	c->vol_done = NULL;
	while (list) {
		struct cluster_volreq *vr = list;

		list = vr->next;
		if (vr->err == 0)
			c->stats.volume_refreshes++;
		vr->cb(c, vr->err ? NULL : &c->volume, vr->err, vr->opaque);
		free(vr);
	}
}

void cluster_volreq_reply(struct cluster *c, struct conn *conn,
			  struct cluster_volreq *vr, const struct rpc_reply *rep)
{
	const struct rpc_volume_info *v = &rep->volume;

	if (rep->status != RPC_STATUS_OK) {
		elog_printf(&c->log, LOG_WARNING,
			    "volume %s: node %s: INFO failed: %s%s%s",
			    c->volume_name, conn->addr,
			    rpc_status_name(rep->status),
			    rep->message[0] ? ": " : "", rep->message);
		cluster_volreq_done(c, vr, -EIO);
		return;
	}
	if (!rep->has_volume) {
		elog_printf(&c->log, LOG_WARNING,
			    "volume %s: node %s: INFO reply without volume information",
			    c->volume_name, conn->addr);
		cluster_volreq_done(c, vr, -EPROTO);
		return;
	}
	if (v->block_size != c->volume.block_size || v->size % CLUSTER_SECTOR) {
		elog_printf(&c->log, LOG_ERR,
			    "volume %s: node %s reports an unusable geometry (%llu bytes, block size %u; block size must stay %u); size kept",
			    c->volume_name, conn->addr,
			    (unsigned long long)v->size, v->block_size,
			    c->volume.block_size);
		cluster_volreq_done(c, vr, -EPROTO);
		return;
	}
	if (v->size != c->volume.size) {
		elog_printf(&c->log, LOG_NOTICE,
			    "volume %s: size changed from %llu to %llu bytes (node %s)",
			    c->volume_name, (unsigned long long)c->volume.size,
			    (unsigned long long)v->size, conn->addr);
		c->volume.size = v->size;
	}
	cluster_volreq_done(c, vr, 0);
}

void cluster_volreq_returned(struct cluster *c, struct conn *conn,
			     struct cluster_volreq *vr, int err)
{
	struct conn *next;

	if (c->state == CLUSTER_FREEING || err == -ESHUTDOWN) {
		cluster_volreq_done(c, vr, -ESHUTDOWN);
		return;
	}
	if (err == -EINVAL) { /* could not be encoded */
		cluster_volreq_done(c, vr, -EPROTO);
		return;
	}
	next = cluster_ready_conn(c, conn);
	if (next && vr->tries < CLUSTER_VOLREQ_TRIES) {
		vr->tries++;
		conn_submit(next, &vr->req);
		return;
	}
	cluster_volreq_done(c, vr, -ENOTCONN);
}

int cluster_reload_tls(struct cluster *c, SSL_CTX *ctx)
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

/* ---- one node, blocking ---- */

struct cluster_admin {
	struct conn_req req;
	bool sent, done;
	int result;
	char msg[1024];
	struct rpc_volume_info *info;
	struct map **map_out;
};

static void cluster_admin_end(struct cluster_admin *a, int result,
			      const char *msg)
{
	if (a->done)
		return;
	a->done = true;
	a->result = result;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
}

static void cluster_admin_reply(struct conn *conn, struct conn_req *req,
				struct rpc_reply *rep)
{
	struct cluster_admin *a = conn->p->opaque;
	char msg[1024];
	int result;

	snprintf(msg, sizeof(msg), "node %s: %s %s%s%s", conn->addr,
		 rpc_op_name(req->op), rpc_status_name(rep->status),
		 rep->message[0] ? ": " : "", rep->message);
	switch (rep->status) {
	case RPC_STATUS_OK:
		result = 0;
		if (req->op == RPC_OP_GET_MAP) {
			char why[256];

			if (!rep->map) {
				result = -EPROTO;
				snprintf(msg, sizeof(msg),
					 "node %s: GET_MAP reply without a map",
					 conn->addr);
			} else if (map_validate(rep->map, why, sizeof(why)) < 0) {
				result = -EPROTO;
				snprintf(msg, sizeof(msg),
					 "node %s sent an invalid map: %s",
					 conn->addr, why);
			} else if (a->map_out) {
				*a->map_out = rep->map;
				rep->map = NULL;
			}
		} else if (!rep->has_volume) {
			result = -EPROTO;
			snprintf(msg, sizeof(msg),
				 "node %s: %s reply without volume information",
				 conn->addr, rpc_op_name(req->op));
		} else if (a->info) {
			*a->info = rep->volume;
		}
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
	default:
		result = -EIO;
		break;
	}
	cluster_admin_end(a, result, msg);
}

static void cluster_admin_returned(struct conn *conn, struct conn_req *req,
				   int err)
{
	struct cluster_admin *a = conn->p->opaque;

	cluster_admin_end(a, conn->err ? conn->err : -EIO,
			  conn->errmsg[0] ? conn->errmsg : "connection closed");
}

static void cluster_admin_state(struct conn *conn, enum conn_state old)
{
	struct cluster_admin *a = conn->p->opaque;

	if (conn->state == CONN_READY && !a->sent) {
		a->sent = true;
		conn_submit(conn, &a->req);
		conn_flush(conn);
	} else if (conn->state == CONN_BACKOFF) {
		int err = conn->err;

		if (err != -ENOENT && err != -EACCES && err != -EPROTO &&
		    err != -ETIMEDOUT && err != -EROFS)
			err = err == -ECONNRESET ? -EPROTO : -ECONNREFUSED;
		cluster_admin_end(a, err, conn->errmsg);
	}
}

static int cluster_admin_opened(struct conn *conn, struct rpc_reply *rep,
				char *msg, size_t msglen)
{
	return 0;
}

static void cluster_admin_kick(struct conn *conn)
{
	conn_flush(conn);
}

static const struct conn_ops cluster_admin_ops = {
	.reply = cluster_admin_reply,
	.returned = cluster_admin_returned,
	.state_changed = cluster_admin_state,
	.opened = cluster_admin_opened,
	.kick = cluster_admin_kick,
};

int cluster_admin_sync(struct ev_loop *loop, const struct cluster_config *cfg,
		       const char *node, enum rpc_op op, uint64_t size,
		       uint32_t block_size, struct rpc_volume_info *info,
		       struct map **map_out, char *err, size_t errlen)
{
	struct elog log = {
		.fn = cfg->log_fn, .opaque = cfg->log_opaque,
		.level = cfg->log_level ? cfg->log_level : LOG_NOTICE,
	};
	struct cluster_admin a;
	struct conn_params p;
	struct conn *conn;
	char buf[512] = "";
	SSL_CTX *ctx;
	int ret;

	if (op != RPC_OP_CREATE && op != RPC_OP_INFO && op != RPC_OP_GET_MAP) {
		snprintf(err, errlen, "%s is not an administrative request",
			 rpc_op_name(op));
		return -EINVAL;
	}
	if (op != RPC_OP_GET_MAP &&
	    (!cfg->volume || !cfg->volume[0] ||
	     strlen(cfg->volume) > RPC_NAME_MAX)) {
		snprintf(err, errlen, "invalid volume name '%s'",
			 cfg->volume ? cfg->volume : "");
		return -EINVAL;
	}
	if (map_out)
		*map_out = NULL;

	if (cfg->ssl_ctx) {
		ctx = cfg->ssl_ctx;
		SSL_CTX_up_ref(ctx);
	} else {
		ctx = tls_client_ctx_new(cfg->tls_ca, cfg->tls_cert,
					 cfg->tls_key, cfg->tls_ciphersuites,
					 buf, sizeof(buf));
		if (!ctx) {
			ret = -(errno ? errno : EINVAL);
			snprintf(err, errlen, "%s", buf);
			return ret;
		}
	}

	memset(&a, 0, sizeof(a));
	a.req.op = op;
	a.req.volume = cfg->volume;
	a.req.create_size = size;
	a.req.create_block_size = block_size;
	a.info = info;
	a.map_out = map_out;

	memset(&p, 0, sizeof(p));
	p.ssl_ctx = ctx;
	p.server_name = cfg->server_name;
	p.client_name = cfg->client_name ? cfg->client_name : "netblk";
	p.max_inflight = 1;
	p.max_io_size = CLUSTER_DEFAULT_MAX_IO_SIZE;
	p.connect_timeout = cfg->connect_timeout > 0 ? cfg->connect_timeout :
			    CLUSTER_DEFAULT_CONNECT_TIMEOUT;
	p.try_timeout = cfg->try_timeout > 0 ? cfg->try_timeout :
			CLUSTER_DEFAULT_TRY_TIMEOUT;
	p.backoff_base = 0.05;
	p.backoff_max = 5;
	p.log = &log;
	p.ops = &cluster_admin_ops;
	p.opaque = &a;

	conn = conn_new(loop, node, &p);
	if (!conn) {
		ret = -errno;
		snprintf(err, errlen, "invalid node address '%s'", node);
		goto out_free_ctx;
	}
	conn_connect(conn);
	while (!a.done)
		ev_run(loop, EVRUN_ONCE);
	conn_free(conn);
	ret = a.result;
	snprintf(err, errlen, "%s", a.msg);

out_free_ctx:
	SSL_CTX_free(ctx);
	return ret;
}
