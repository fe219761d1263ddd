/* SPDX-License-Identifier: MIT */
/* Online resize: a running session asks a node for its volume's size. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_priv.h"

#define SESSION_VOLREQ_TRIES 3

static void session_volreq_reply(struct conn *conn, struct conn_req *req,
				 struct rpc_reply *rep);
static void session_volreq_returned(struct conn *conn, struct conn_req *req,
				    int err);

int nb_session_refresh_volume(struct session *s, session_volume_fn *cb,
			   void *opaque)
{
	struct session_volreq *vr;
	struct session_node *node;

	if (!s || !cb)
		return -EINVAL;
	if (s->state != SESSION_READY)
		return -ENOTCONN;
	node = nb_session_node_ready(s, NULL);
	if (!node)
		return -ENOTCONN;
	vr = calloc(1, sizeof(*vr));
	if (!vr)
		return -ENOMEM;
	vr->req.op = RPC_OP_INFO;
	vr->req.volume = s->volume_name;
	vr->req.reply = session_volreq_reply;
	vr->req.returned = session_volreq_returned;
	vr->session = s;
	vr->cb = cb;
	vr->opaque = opaque;
	vr->tries = 1;
	nb_elog_printf(&s->log, LOG_DEBUG, "volume %s: asking node %s for its size",
		    s->volume_name, nb_conn_addr(node->conn));
	nb_conn_submit(node->conn, &vr->req);
	return 0;
}

/* Report from the loop (deferred), or at once from nb_session_free(). */
static void session_volreq_done(struct session *s, struct session_volreq *vr,
				int err)
{
	vr->err = err;
	vr->next = s->vol_done;
	s->vol_done = vr;
	if (s->state != SESSION_FREEING)
		nb_session_idle_start(s);
}

void nb_session_volreq_run_done(struct session *s)
{
	struct session_volreq *list = s->vol_done;

	s->vol_done = NULL;
	while (list) {
		struct session_volreq *vr = list;

		list = vr->next;
		if (vr->err == 0)
			s->stats.volume_refreshes++;
		vr->cb(s, vr->err ? NULL : &s->pub_volume, vr->err,
		       vr->opaque);
		free(vr);
	}
}

static struct session_volreq *session_volreq_of(struct conn_req *req)
{
	return (struct session_volreq *)((char *)req -
					 offsetof(struct session_volreq, req));
}

static void session_volreq_reply(struct conn *conn, struct conn_req *req,
				 struct rpc_reply *rep)
{
	struct session_volreq *vr = session_volreq_of(req);
	struct session *s = vr->session;
	const struct rpc_volume_info *v = &rep->volume;

	if (rep->status != RPC_STATUS_OK) {
		nb_elog_printf(&s->log, LOG_WARNING,
			    "volume %s: node %s: INFO failed: %s%s%s",
			    s->volume_name, nb_conn_addr(conn),
			    nb_rpc_status_name(rep->status),
			    rep->message[0] ? ": " : "", rep->message);
		session_volreq_done(s, vr, -EIO);
		return;
	}
	if (!rep->has_volume) {
		nb_elog_printf(&s->log, LOG_WARNING,
			    "volume %s: node %s: INFO reply without volume information",
			    s->volume_name, nb_conn_addr(conn));
		session_volreq_done(s, vr, -EPROTO);
		return;
	}
	if (v->block_size != s->volume.block_size || v->size % SESSION_SECTOR) {
		nb_elog_printf(&s->log, LOG_ERR,
			    "volume %s: node %s reports an unusable geometry (%llu bytes, block size %u; block size must stay %u); size kept",
			    s->volume_name, nb_conn_addr(conn),
			    (unsigned long long)v->size, v->block_size,
			    s->volume.block_size);
		session_volreq_done(s, vr, -EPROTO);
		return;
	}
	if (v->size != s->volume.size) {
		nb_elog_printf(&s->log, LOG_NOTICE,
			    "volume %s: size changed from %llu to %llu bytes (node %s)",
			    s->volume_name, (unsigned long long)s->volume.size,
			    (unsigned long long)v->size, nb_conn_addr(conn));
		s->volume.size = v->size;
		nb_session_volume_changed(s);
	}
	session_volreq_done(s, vr, 0);
}

static void session_volreq_returned(struct conn *conn, struct conn_req *req,
				    int err)
{
	struct session_volreq *vr = session_volreq_of(req);
	struct session *s = vr->session;
	struct session_node *next;

	if (s->state == SESSION_FREEING || err == -ESHUTDOWN) {
		session_volreq_done(s, vr, -ESHUTDOWN);
		return;
	}
	if (err == -EINVAL) { /* could not be encoded */
		session_volreq_done(s, vr, -EPROTO);
		return;
	}
	next = nb_session_node_ready(s, nb_conn_owner(conn));
	if (next && vr->tries < SESSION_VOLREQ_TRIES) {
		vr->tries++;
		nb_conn_submit(next->conn, &vr->req);
		return;
	}
	session_volreq_done(s, vr, -ENOTCONN);
}
