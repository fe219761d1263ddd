/* SPDX-License-Identifier: MIT */
/*
 * The administrative requests that change or enumerate volumes: DELETE,
 * RESIZE and LIST (docs/protocol.md, "Delete, resize and list"),
 * dispatched from request.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_request.h"

/* Admin requests that change volumes need --allow-create; false after answering. */
static bool srv_request_admin_allowed(struct srv_conn *conn, const struct rpc_request *req)
{
	if (conn->srv->cfg->allow_create)
		return true;
	srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
			 "%s is disabled on this node (--allow-create allows CREATE, DELETE and RESIZE)",
			 nb_rpc_op_name(req->op));
	return false;
}

static bool srv_request_name_ok(struct srv_conn *conn, const struct rpc_request *req)
{
	if (nb_store_name_valid(req->volume))
		return true;
	srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
			 "bad volume name \"%s\" (use letters, digits, '.', '_', '-')",
			 req->volume);
	return false;
}

/*
 * Delete a volume for good. Refused (LOCKED) while another owner than
 * req->owner holds the writer lock, unless break_lock (force). A held
 * lock is broken first, so connections still writing are fenced; then
 * the store deletes the data, and the node forgets the volume: requests
 * of connections that had it open get NOT_FOUND.
 */
static void srv_request_delete_vol(struct srv_conn *conn, const struct rpc_request *req,
				   struct srv_volume *vol)
{
	struct nb_store *store = vol->vol->store;
	const struct nb_store_ops *ops = store->ops;
	struct nb_store_lock lk = { .gen = 0 };
	struct rpc_reply rep;
	char since[32];
	int r;

	if (vol->read_only) {
		srv_request_fail(conn, req, RPC_STATUS_READ_ONLY,
				 "volume %s is read-only on this node: not deleted", vol->name);
		return;
	}
	if (!ops->remove) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "the %s store of this node cannot delete volumes", ops->name);
		return;
	}
	if (ops->lock_get) {
		r = ops->lock_get(vol->vol, &lk);
		if (r == -ENOENT) {
			nb_srv_request_gone(conn, req, vol);
			return;
		}
		if (r < 0) {
			srv_request_fail(conn, req, nb_srv_request_errno_status(r),
					 "volume %s: cannot read its writer lock: %s",
					 vol->name, strerror(-r));
			return;
		}
	}
	if (lk.owner[0] && strcmp(lk.owner, req->owner) != 0 && !req->break_lock) {
		nb_srv_lock_since(lk.since, since, sizeof(since));
		srv_request_fail(conn, req, RPC_STATUS_LOCKED,
				 "volume %s is in use: locked by '%s' since %s (generation %llu); detach it first, or force the delete",
				 vol->name, lk.owner, since, (unsigned long long)lk.gen);
		return;
	}
	if (lk.owner[0] && ops->lock_break) {
		/*
		 * At the generation checked above: a lock taken by another
		 * owner since then is not broken (LOCKED, as if seen above).
		 */
		r = ops->lock_break(vol->vol, lk.gen, &lk);
		if (r == -ENOENT) {
			nb_srv_request_gone(conn, req, vol);
			return;
		}
		if (r == -ESTALE || r == -EAGAIN) {
			nb_srv_lock_since(lk.since, since, sizeof(since));
			srv_request_fail(conn, req, RPC_STATUS_LOCKED,
					 "volume %s: its writer lock changed hands while being deleted (now '%s' since %s, generation %llu): not deleted",
					 vol->name, lk.owner, since, (unsigned long long)lk.gen);
			return;
		}
		if (r < 0) {
			srv_request_fail(conn, req, RPC_STATUS_IO_ERROR,
					 "volume %s: cannot break the writer lock to delete it: %s",
					 vol->name, strerror(-r));
			return;
		}
	}
	r = ops->remove(store, vol->name);
	if (r == -EBUSY) {
		srv_request_fail(conn, req, RPC_STATUS_LOCKED,
				 "volume %s was locked again while being deleted: not deleted",
				 vol->name);
		return;
	}
	if (r == -ENOENT) {  /* deleted meanwhile through another node */
		nb_srv_request_gone(conn, req, vol);
		return;
	}
	if (r < 0) {
		srv_warn("client %s: cannot delete volume %s: %s", conn->peer,
			 vol->name, strerror(-r));
		srv_request_fail(conn, req, r == -EROFS ? RPC_STATUS_READ_ONLY :
				 nb_srv_request_errno_status(r),
				 "cannot delete volume %s: %s", vol->name, strerror(-r));
		return;
	}
	nb_srv_volume_retire(conn->srv, vol);
	srv_warn("client %s%s%s%s: deleted volume %s (%llu bytes%s)", conn->peer,
		 req->owner[0] ? " ('" : "", req->owner, req->owner[0] ? "')" : "",
		 vol->name, (unsigned long long)nb_srv_volume_size(vol),
		 lk.gen && req->break_lock ? ", forced" : "");
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	nb_srv_conn_send_reply(conn, &rep);
}

void nb_srv_request_delete(struct srv_conn *conn, const struct rpc_request *req)
{
	struct srv_volume *vol;

	if (!srv_request_admin_allowed(conn, req) || !srv_request_name_ok(conn, req))
		return;
	if (req->owner[0] && !nb_srv_request_owner_valid(req->owner)) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "the owner contains control characters");
		return;
	}
	vol = nb_srv_request_volume(conn, req);
	if (!vol)
		return;
	srv_request_delete_vol(conn, req, vol);
	nb_srv_volume_put(conn->srv, vol);
}

/*
 * Grow a volume (the same path as the mock's resize command): clients
 * see the new size with their next INFO (the daemon checks every few
 * seconds and resizes the disk). Shrinking is always refused: data
 * past the end would be lost under a file system that still uses it.
 */
static void srv_request_resize_vol(struct srv_conn *conn, const struct rpc_request *req,
				   struct srv_volume *vol)
{
	const struct nb_store_ops *ops = vol->vol->store->ops;
	struct nb_store_lock lk;
	struct rpc_reply rep;
	char msg[RPC_MESSAGE_MAX + 1];
	uint64_t now;
	int r;

	/*
	 * Gone from a shared store? Reading the lock also re-reads what the
	 * store keeps (RADOS: the header, with the size another node may
	 * have grown it to), which the refresh below takes.
	 */
	if (ops->lock_get && ops->lock_get(vol->vol, &lk) == -ENOENT) {
		nb_srv_request_gone(conn, req, vol);
		return;
	}
	nb_srv_volume_refresh(vol);
	now = nb_srv_volume_size(vol);
	if (req->create_size > NB_SRV_VOLUME_SIZE_MAX) {
		srv_request_fail(conn, req, RPC_STATUS_NO_SPACE,
				 "size %llu exceeds the largest volume size of this node (%llu bytes)",
				 (unsigned long long)req->create_size,
				 (unsigned long long)NB_SRV_VOLUME_SIZE_MAX);
		return;
	}
	if (req->create_size % vol->block_size != 0 || req->create_size == 0) {
		srv_request_fail(conn, req, RPC_STATUS_MALFORMED,
				 "size %llu is not a non-zero multiple of volume %s's block size %u",
				 (unsigned long long)req->create_size, vol->name,
				 vol->block_size);
		return;
	}
	if (req->create_size < now) {
		srv_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				 "volume %s is %llu bytes: shrinking it to %llu is not supported",
				 vol->name, (unsigned long long)now,
				 (unsigned long long)req->create_size);
		return;
	}
	if (vol->read_only) {
		srv_request_fail(conn, req, RPC_STATUS_READ_ONLY,
				 "volume %s is read-only on this node", vol->name);
		return;
	}
	if (req->create_size > now) {
		r = nb_srv_volume_grow(vol, req->create_size, msg, sizeof(msg));
		if (r == -ENOENT) {
			nb_srv_request_gone(conn, req, vol);
			return;
		}
		if (r < 0) {
			srv_warn("client %s: %s", conn->peer, msg);
			srv_request_fail(conn, req, nb_srv_request_errno_status(r), "%s", msg);
			return;
		}
		srv_info("client %s: volume %s grown from %llu to %llu bytes", conn->peer,
			 vol->name, (unsigned long long)now,
			 (unsigned long long)req->create_size);
	}
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_volume = true;
	nb_srv_volume_info(vol, &rep.volume);
	nb_srv_conn_send_reply(conn, &rep);
}

void nb_srv_request_resize(struct srv_conn *conn, const struct rpc_request *req)
{
	struct srv_volume *vol;

	if (!srv_request_admin_allowed(conn, req) || !srv_request_name_ok(conn, req))
		return;
	vol = nb_srv_request_volume(conn, req);
	if (!vol)
		return;
	srv_request_resize_vol(conn, req, vol);
	nb_srv_volume_put(conn->srv, vol);
}

static int srv_request_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The size of a volume the node has not opened: open, ask, close. */
static int srv_request_list_stat(struct nb_srv *srv, const char *name,
				 struct rpc_volume_info *out)
{
	struct nb_store *store = srv->store;
	struct nb_store_vol_info info;
	struct nb_store_vol *svol;
	int r;

	r = store->ops->open(store, name, &svol);
	if (r < 0)
		return r;
	r = store->ops->info(svol, &info);
	store->ops->close(svol);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	snprintf(out->volume, sizeof(out->volume), "%s", name);
	out->size = info.size;
	out->block_size = info.block_size;
	out->read_only = info.read_only;
	return 0;
}

/*
 * The volumes the node serves and those of its store, sorted by name,
 * one page (after start_after) at a time.
 */
void nb_srv_request_list(struct srv_conn *conn, const struct rpc_request *req)
{
	struct nb_srv *srv = conn->srv;
	char **names = NULL, **more = NULL, **all;
	size_t n = 0, n_more = 0, n_all = 0;
	uint32_t max = req->list_max && req->list_max < RPC_LIST_MAX ?
		       req->list_max : RPC_LIST_MAX;
	struct rpc_volume_info *page = NULL;
	struct rpc_reply rep;
	uint32_t got = 0;
	bool has_more = false;
	int r;

	/*
	 * The store's list is the truth for its volumes (one deleted through
	 * another node of a shared store may still be in the table); the
	 * table adds the volumes of stores that cannot list (memory, the
	 * mock's other store).
	 */
	r = srv->store->ops->list ? srv->store->ops->list(srv->store, &more, &n_more) :
	    -ENOTSUP;
	if (r == -ENOTSUP)
		r = nb_srv_volume_names(srv, NULL, &names, &n);
	else if (r == 0)
		r = nb_srv_volume_names(srv, srv->store, &names, &n);
	if (r < 0)
		goto out_fail;
	all = realloc(names, (n + n_more + 1) * sizeof(*all));
	if (!all) {
		r = -ENOMEM;
		goto out_fail;
	}
	names = all;
	for (size_t i = 0; i < n_more; i++) {
		names[n++] = more[i];
		more[i] = NULL;
	}
	qsort(names, n, sizeof(*names), srv_request_name_cmp);
	page = calloc(max, sizeof(*page));
	if (!page) {
		r = -ENOMEM;
		goto out_fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct srv_volume *v;
		int err = 0;

		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;  /* in the table and in the store */
		if (req->volume[0] && strcmp(names[i], req->volume) <= 0)
			continue;
		if (got == max) {
			has_more = true;
			break;
		}
		v = nb_srv_volume_find(srv, names[i]) ?
		    nb_srv_volume_lookup(srv, names[i], &err) : NULL;
		if (v) {
			nb_srv_volume_refresh(v);
			nb_srv_volume_info(v, &page[got]);
			nb_srv_volume_put(srv, v);
		} else if (srv_request_list_stat(srv, names[i], &page[got]) < 0) {
			continue;  /* deleted meanwhile, or unreadable: not listed */
		}
		got++;
	}
	n_all = n;
	nb_srv_request_reply_init(conn, &rep, req->id, RPC_STATUS_OK);
	rep.has_list = true;
	rep.list = page;
	rep.n_list = got;
	rep.list_more = has_more;
	nb_srv_conn_send_reply(conn, &rep);
	free(page);
	nb_store_names_free(names, n_all);
	nb_store_names_free(more, n_more);
	return;

out_fail:
	srv_request_fail(conn, req, nb_srv_request_errno_status(r),
			 "cannot list the volumes: %s", strerror(-r));
	free(page);
	nb_store_names_free(names, n);
	nb_store_names_free(more, n_more);
}
