/* SPDX-License-Identifier: MIT */
/*
 * Administrative requests to one node (CREATE, INFO, GET_MAP), blocking
 * on a loop of the caller's: cluster_admin_sync() in cluster.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "conn.h"
#include "map.h"
#include "tls.h"

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
					 cfg->tls_key, buf, sizeof(buf));
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
