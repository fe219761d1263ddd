/* SPDX-License-Identifier: MIT */
/*
 * The CSI Controller service over the cluster's admin requests
 * (admin.h): CREATE, DELETE, RESIZE, LIST and INFO make, delete, grow,
 * list and describe volumes, UNLOCK takes the writer lock from a node the
 * volume was unpublished from (docs/csi.md).
 *
 * Publications are kept in memory (the external-attacher repeats its
 * ControllerPublish calls after a restart); the writer lock on the
 * cluster is checked as well, so a volume some other node still holds
 * read-write is refused even when this process has forgotten it.
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "csi.h"
#include "csi.pb-c.h"
#include "csi_volume.h"
#include "session.h"

#define CSI_DEFAULT_SIZE (1ULL << 30)

static void csi_cfg(const struct csi_ctx *ctx, const struct csi_volume *v,
		    struct session_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nodes = v->nodes;
	cfg->n_nodes = v->n_nodes;
	cfg->volume = v->name;
	cfg->tls_ca = ctx->tls_ca;
	cfg->tls_cert = ctx->tls_cert;
	cfg->tls_key = ctx->tls_key;
	cfg->server_name = ctx->server_name;
	cfg->connect_timeout = ctx->connect_timeout;
	cfg->client_name = "netblk-csi";
	cfg->lock_owner = "netblk-csi";
}

static int csi_errno_code(int r)
{
	switch (r) {
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return CSI_UNAVAILABLE;
	case -ENOENT:
		return CSI_NOT_FOUND;
	case -EEXIST:
		return CSI_ALREADY_EXISTS;
	case -EOPNOTSUPP:
		return CSI_FAILED_PRECONDITION;
	case -EINVAL:
		return CSI_INVALID_ARGUMENT;
	default:
		return CSI_INTERNAL;
	}
}

static bool csi_unreachable(int r)
{
	return csi_errno_code(r) == CSI_UNAVAILABLE || r == -EACCES || r == -EPROTO;
}

/* INFO on the first node that answers; 0 or -errno with err set */
static int csi_info(const struct csi_ctx *ctx, const struct csi_volume *v,
		    struct session_volume *info, struct session_lock *lock,
		    char *err, size_t errlen)
{
	struct session_config cfg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int r = -EIO;
	size_t i;

	if (!loop) {
		snprintf(err, errlen, "cannot create an event loop");
		return -ENOMEM;
	}
	csi_cfg(ctx, v, &cfg);
	for (i = 0; i < v->n_nodes; i++) {
		r = nb_admin_info(loop, &cfg, v->nodes[i], info, lock, err, errlen);
		if (!csi_unreachable(r))
			break;
	}
	ev_loop_destroy(loop);
	return r;
}

static int csi_create(const struct csi_ctx *ctx, const struct csi_volume *v, uint64_t size,
		      uint32_t block_size, struct session_volume *info, char *err,
		      size_t errlen)
{
	struct session_config cfg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int r = -EIO;
	size_t i;

	if (!loop) {
		snprintf(err, errlen, "cannot create an event loop");
		return -ENOMEM;
	}
	csi_cfg(ctx, v, &cfg);
	for (i = 0; i < v->n_nodes; i++) {
		r = nb_admin_create(loop, &cfg, v->nodes[i], size, block_size, info, err, errlen);
		if (!csi_unreachable(r))
			break;
	}
	ev_loop_destroy(loop);
	return r;
}

/*
 * The owner a node of the driver takes the writer lock as; the node
 * service uses the same (csi_node.c).
 */
static void csi_owner(const char *node_id, char *buf, size_t len)
{
	snprintf(buf, len, "csi@%s", node_id);
}

/* ---- publications ---- */

static struct csi_pub *csi_pub_find(struct csi_ctx *ctx, const char *vol, const char *node)
{
	size_t i;

	for (i = 0; i < ctx->n_pubs; i++)
		if (strcmp(ctx->pubs[i].volume, vol) == 0 &&
		    (!node || strcmp(ctx->pubs[i].node, node) == 0))
			return &ctx->pubs[i];
	return NULL;
}

/* A read-write publication of vol to a node other than node */
static struct csi_pub *csi_pub_writer_elsewhere(struct csi_ctx *ctx, const char *vol,
						const char *node)
{
	size_t i;

	for (i = 0; i < ctx->n_pubs; i++)
		if (strcmp(ctx->pubs[i].volume, vol) == 0 && !ctx->pubs[i].readonly &&
		    strcmp(ctx->pubs[i].node, node) != 0)
			return &ctx->pubs[i];
	return NULL;
}

static void csi_pub_remove(struct csi_ctx *ctx, struct csi_pub *p)
{
	*p = ctx->pubs[--ctx->n_pubs];
}

/* ---- parameters ---- */

struct csi_params {
	const char *cluster;
	uint32_t block_size;
	unsigned int queues;
	bool read_only;
	const char *fs_type;
};

static int csi_params_parse(struct csi_call *c, size_t n, void *const *entries,
			    struct csi_params *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < n; i++) {
		const Csi__V1__CreateVolumeRequest__ParametersEntry *e = entries[i];
		const char *k = e->key ? e->key : "", *val = e->value ? e->value : "";
		char *end;
		unsigned long x;

		if (strcmp(k, "cluster") == 0) {
			p->cluster = val;
		} else if (strcmp(k, "blockSize") == 0) {
			x = strtoul(val, &end, 10);
			if (*end || (x != 512 && x != 4096))
				return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
						   "parameter blockSize=%s: must be 512 or 4096", val);
			p->block_size = (uint32_t)x;
		} else if (strcmp(k, "queues") == 0) {
			x = strtoul(val, &end, 10);
			if (*end || !val[0] || x < 1 || x > 64)
				return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
						   "parameter queues=%s: must be 1 to 64", val);
			p->queues = (unsigned int)x;
		} else if (strcmp(k, "readOnly") == 0) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
						   "parameter readOnly=%s: must be true or false", val);
			p->read_only = strcmp(val, "true") == 0;
		} else if (strcmp(k, "fsType") == 0 || strcmp(k, "csi.storage.k8s.io/fstype") == 0) {
			if (strcmp(val, "ext4"))
				return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
						   "parameter %s=%s: only ext4 is supported", k, val);
			p->fs_type = val;
		} else {
			return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
					   "unknown parameter '%s' (known: cluster, blockSize, "
					   "queues, readOnly, fsType)", k);
		}
	}
	return CSI_OK;
}

static Csi__V1__Volume__VolumeContextEntry *csi_ctx_entry(struct csi_call *c,
							   const char *k, const char *v)
{
	Csi__V1__Volume__VolumeContextEntry *e = nb_csi_alloc(c, sizeof(*e));

	csi__v1__volume__volume_context_entry__init(e);
	e->key = nb_csi_strdup(c, k);
	e->value = nb_csi_strdup(c, v);
	return e;
}

/* ---- CreateVolume ---- */

static bool csi_size_fits(uint64_t size, int64_t required, int64_t limit)
{
	return (required <= 0 || size >= (uint64_t)required) &&
	       (limit <= 0 || size <= (uint64_t)limit);
}

static int csi_create_volume(struct csi_call *c, const ProtobufCMessage *m,
			     ProtobufCMessage **resp)
{
	const Csi__V1__CreateVolumeRequest *req = (const void *)m;
	Csi__V1__CreateVolumeResponse *r;
	Csi__V1__Volume *vol;
	struct csi_params p;
	struct csi_volume v;
	char key[1200];
	struct session_volume info;
	int64_t required = 0, limit = 0;
	uint64_t size, bs;
	char id[1200], err[512], qbuf[16];
	size_t i, n_ctx = 0;
	int code, rc;

	if (!req->name || !req->name[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "CreateVolume: no name");
	if (req->n_volume_capabilities == 0)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "CreateVolume %s: no volume capabilities", req->name);
	for (i = 0; i < req->n_volume_capabilities; i++) {
		const char *why = nb_csi_cap_problem(req->volume_capabilities[i]);

		if (why)
			return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "CreateVolume %s: capability %zu: %s",
					   req->name, i + 1, why);
	}
	if (req->volume_content_source)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "CreateVolume %s: content sources (snapshots, clones) are not supported",
				   req->name);
	code = csi_params_parse(c, req->n_parameters, (void *const *)req->parameters, &p);
	if (code)
		return code;
	if (req->capacity_range) {
		required = req->capacity_range->required_bytes;
		limit = req->capacity_range->limit_bytes;
		if (required < 0 || limit < 0 || (limit > 0 && required > limit))
			return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
					   "CreateVolume %s: bad capacity range %lld..%lld", req->name,
					   (long long)required, (long long)limit);
	}
	bs = p.block_size ? p.block_size : 4096;
	size = required > 0 ? (uint64_t)required : CSI_DEFAULT_SIZE;
	if (required <= 0 && limit > 0 && (uint64_t)limit < size)
		size = (uint64_t)limit;
	size = (size + bs - 1) / bs * bs;
	if (limit > 0 && size > (uint64_t)limit)
		size = (uint64_t)limit / bs * bs;
	if (size == 0 || !csi_size_fits(size, required, limit))
		return nb_csi_fail(c, CSI_OUT_OF_RANGE,
				   "CreateVolume %s: no size in %lld..%lld is a multiple of the "
				   "block size %llu", req->name, (long long)required,
				   (long long)limit, (unsigned long long)bs);
	if (p.cluster && p.cluster[0])
		snprintf(id, sizeof(id), "%s/%s", p.cluster, req->name);
	else
		snprintf(id, sizeof(id), "%s", req->name);
	if (nb_csi_volume_parse(id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "CreateVolume: %s", err);
	nb_csi_volume_id(&v, c->ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "CreateVolume");
	if (code)
		return code;
	rc = csi_create(c->ctx, &v, size, (uint32_t)bs, &info, err, sizeof(err));
	if (rc == -EEXIST) {
		rc = csi_info(c->ctx, &v, &info, NULL, err, sizeof(err));
		if (rc == 0 && !csi_size_fits(info.size, required, limit)) {
			nb_csi_release(c->ctx, key);
			return nb_csi_fail(c, CSI_ALREADY_EXISTS,
					   "CreateVolume %s: the volume exists with %llu bytes, "
					   "outside the range asked for", req->name,
					   (unsigned long long)info.size);
		}
		if (rc == 0 && info.block_size && info.block_size != bs) {
			nb_csi_release(c->ctx, key);
			return nb_csi_fail(c, CSI_ALREADY_EXISTS,
					   "CreateVolume %s: the volume exists with %u-byte blocks, "
					   "not %llu", req->name, info.block_size,
					   (unsigned long long)bs);
		}
	}
	nb_csi_release(c->ctx, key);
	if (rc < 0)
		return nb_csi_fail(c, csi_errno_code(rc), "CreateVolume %s: %s", req->name, err);

	r = nb_csi_alloc(c, sizeof(*r));
	vol = nb_csi_alloc(c, sizeof(*vol));
	csi__v1__create_volume_response__init(r);
	csi__v1__volume__init(vol);
	vol->capacity_bytes = (int64_t)info.size;
	vol->volume_id = nb_csi_strdup(c, key);
	vol->volume_context = nb_csi_alloc(c, 4 * sizeof(*vol->volume_context));
	if (p.queues) {
		snprintf(qbuf, sizeof(qbuf), "%u", p.queues);
		vol->volume_context[n_ctx++] = csi_ctx_entry(c, "queues", qbuf);
	}
	if (p.read_only)
		vol->volume_context[n_ctx++] = csi_ctx_entry(c, "readOnly", "true");
	if (p.fs_type)
		vol->volume_context[n_ctx++] = csi_ctx_entry(c, "fsType", p.fs_type);
	vol->n_volume_context = n_ctx;
	r->volume = vol;
	*resp = &r->base;
	return CSI_OK;
}

/* ---- DELETE and RESIZE, once per store ---- */

enum csi_store_op { CSI_STORE_DELETE, CSI_STORE_RESIZE };

/*
 * op on every store of v's cluster: one node of each map group (the
 * first that answers) and each node alone. 0 when every store did it
 * (DELETE: or had no such volume; *found tells whether one had it), or
 * the first failure with err set.
 */
static int csi_each_store(const struct csi_ctx *ctx, const struct csi_volume *v,
			  enum csi_store_op op, uint64_t size, bool *found,
			  char *err, size_t errlen)
{
	struct session_config cfg;
	struct admin_map *map = NULL;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	bool done[CSI_VOLUME_MAX_NODES] = { false };
	int r = 0, first_err = 0;
	size_t i, j;

	if (!loop) {
		snprintf(err, errlen, "cannot create an event loop");
		return -ENOMEM;
	}
	csi_cfg(ctx, v, &cfg);
	if (found)
		*found = false;
	for (i = 0; i < v->n_nodes && !map; i++)
		nb_admin_get_map(loop, &cfg, v->nodes[i], &map, err, errlen);
	for (i = 0; i < v->n_nodes; i++) {
		for (j = 0; map && j < i; j++)
			if (done[j] && nb_admin_map_same_store(map, v->nodes[j], v->nodes[i]))
				break;
		if (map && j < i)
			continue;
		if (op == CSI_STORE_DELETE)
			r = nb_admin_delete(loop, &cfg, v->nodes[i], false, NULL, err, errlen);
		else
			r = nb_admin_resize(loop, &cfg, v->nodes[i], size, NULL, err, errlen);
		if (r == 0 && found)
			*found = true;
		if (r == -ENOENT && op == CSI_STORE_DELETE)
			r = 0;
		/* a node that cannot be reached: its store may have another */
		done[i] = !csi_unreachable(r);
		if (r < 0 && !first_err && !(csi_unreachable(r) && map))
			first_err = r;
		if (r < 0 && csi_unreachable(r) && map) {
			/* is another node of that store left to ask? */
			for (j = i + 1; j < v->n_nodes; j++)
				if (nb_admin_map_same_store(map, v->nodes[i], v->nodes[j]))
					break;
			if (j == v->n_nodes && !first_err)
				first_err = r;
		}
	}
	nb_admin_map_free(map);
	ev_loop_destroy(loop);
	return first_err;
}

/* ---- DeleteVolume ---- */

static int csi_delete_volume(struct csi_call *c, const ProtobufCMessage *m,
			     ProtobufCMessage **resp)
{
	const Csi__V1__DeleteVolumeRequest *req = (const void *)m;
	Csi__V1__DeleteVolumeResponse *r = nb_csi_alloc(c, sizeof(*r));
	struct csi_volume v;
	char key[1200];
	struct csi_pub *pub;
	char err[512], pub_node[128] = "";
	int rc, code = CSI_OK;

	csi__v1__delete_volume_response__init(r);
	*resp = &r->base;
	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "DeleteVolume: no volume_id");
	/* an id we could never have made names no volume: done */
	if (nb_csi_volume_parse(req->volume_id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return CSI_OK;
	nb_csi_volume_id(&v, c->ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "DeleteVolume");
	if (code)
		return code;
	pthread_mutex_lock(&c->ctx->lock);
	pub = csi_pub_find(c->ctx, key, NULL);
	if (pub)
		snprintf(pub_node, sizeof(pub_node), "%s", pub->node);
	pthread_mutex_unlock(&c->ctx->lock);
	if (pub_node[0]) {
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "DeleteVolume %s: still published to node %s", v.name, pub_node);
		goto out;
	}
	/*
	 * DELETE on every store: a node refuses while a node of the driver
	 * (or anyone else) holds the writer lock; a store without the
	 * volume has it deleted already.
	 */
	rc = csi_each_store(c->ctx, &v, CSI_STORE_DELETE, 0, NULL, err, sizeof(err));
	if (rc == -EBUSY)
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION, "DeleteVolume %s: in use: %s",
				   v.name, err);
	else if (rc < 0)
		code = nb_csi_fail(c, csi_errno_code(rc), "DeleteVolume %s: %s", v.name, err);
out:
	nb_csi_release(c->ctx, key);
	return code;
}

/* ---- ControllerPublishVolume / ControllerUnpublishVolume ---- */

static Csi__V1__ControllerPublishVolumeResponse__PublishContextEntry *
csi_pub_entry(struct csi_call *c, const char *k, const char *v)
{
	Csi__V1__ControllerPublishVolumeResponse__PublishContextEntry *e =
		nb_csi_alloc(c, sizeof(*e));

	csi__v1__controller_publish_volume_response__publish_context_entry__init(e);
	e->key = nb_csi_strdup(c, k);
	e->value = nb_csi_strdup(c, v);
	return e;
}

static int csi_controller_publish(struct csi_call *c, const ProtobufCMessage *m,
				  ProtobufCMessage **resp)
{
	const Csi__V1__ControllerPublishVolumeRequest *req = (const void *)m;
	Csi__V1__ControllerPublishVolumeResponse *r;
	struct csi_volume v;
	char key[1200];
	struct session_volume info;
	struct session_lock lock;
	struct csi_pub *pub;
	char err[512], owner[300], other[128] = "";
	const char *why;
	bool ro;
	int rc, code = CSI_OK;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ControllerPublishVolume: no volume_id");
	if (!req->node_id || !req->node_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ControllerPublishVolume %s: no node_id",
				   req->volume_id);
	if (strlen(req->node_id) >= sizeof(((struct csi_pub *)0)->node))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "ControllerPublishVolume %s: node_id longer than 127 bytes",
				   req->volume_id);
	why = nb_csi_cap_problem(req->volume_capability);
	if (why)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ControllerPublishVolume %s: %s",
				   req->volume_id, why);
	if (nb_csi_volume_parse(req->volume_id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_NOT_FOUND, "ControllerPublishVolume: %s", err);
	ro = req->readonly || nb_csi_cap_readonly(req->volume_capability);
	nb_csi_volume_id(&v, c->ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "ControllerPublishVolume");
	if (code)
		return code;
	rc = csi_info(c->ctx, &v, &info, &lock, err, sizeof(err));
	if (rc < 0) {
		code = nb_csi_fail(c, csi_errno_code(rc), "ControllerPublishVolume %s: %s",
				   v.name, err);
		goto out;
	}
	if (!ro && info.read_only) {
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "ControllerPublishVolume %s: the volume is read-only on the "
				   "cluster; publish it read-only", v.name);
		goto out;
	}
	csi_owner(req->node_id, owner, sizeof(owner));
	pthread_mutex_lock(&c->ctx->lock);
	pub = csi_pub_find(c->ctx, key, req->node_id);
	if (pub && pub->readonly != ro) {
		pthread_mutex_unlock(&c->ctx->lock);
		code = nb_csi_fail(c, CSI_ALREADY_EXISTS,
				   "ControllerPublishVolume %s: already published to %s %s", v.name,
				   req->node_id, pub->readonly ? "read-only" : "read-write");
		goto out;
	}
	if (!pub && !ro) {
		struct csi_pub *w = csi_pub_writer_elsewhere(c->ctx, key, req->node_id);

		if (w)
			snprintf(other, sizeof(other), "%s", w->node);
	}
	pthread_mutex_unlock(&c->ctx->lock);
	if (other[0]) {
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "ControllerPublishVolume %s: published read-write to node %s; "
				   "unpublish it there first", v.name, other);
		goto out;
	}
	if (!ro && lock.owner[0] && strcmp(lock.owner, owner) != 0) {
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "ControllerPublishVolume %s: %s holds the writer lock; "
				   "unpublish it there first", v.name, lock.owner);
		goto out;
	}
	pthread_mutex_lock(&c->ctx->lock);
	if (!csi_pub_find(c->ctx, key, req->node_id)) {
		if (c->ctx->n_pubs == CSI_MAX_PUBS) {
			pthread_mutex_unlock(&c->ctx->lock);
			code = nb_csi_fail(c, CSI_RESOURCE_EXHAUSTED,
					   "ControllerPublishVolume %s: %d publications already",
					   v.name, CSI_MAX_PUBS);
			goto out;
		}
		pub = &c->ctx->pubs[c->ctx->n_pubs++];
		snprintf(pub->volume, sizeof(pub->volume), "%s", key);
		snprintf(pub->node, sizeof(pub->node), "%s", req->node_id);
		pub->readonly = ro;
	}
	pthread_mutex_unlock(&c->ctx->lock);

	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__controller_publish_volume_response__init(r);
	r->publish_context = nb_csi_alloc(c, 2 * sizeof(*r->publish_context));
	r->publish_context[0] = csi_pub_entry(c, "lockOwner", owner);
	r->publish_context[1] = csi_pub_entry(c, "readOnly", ro ? "true" : "false");
	r->n_publish_context = 2;
	*resp = &r->base;
out:
	nb_csi_release(c->ctx, key);
	return code;
}

/* Break the writer lock of every store of v that owner still holds. */
static int csi_fence(struct csi_call *c, const struct csi_volume *v, const char *owner)
{
	struct session_config cfg;
	struct admin_store_lock *stores = NULL;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char err[512];
	int n, i, code = CSI_OK;

	if (!loop)
		return nb_csi_fail(c, CSI_INTERNAL, "cannot create an event loop");
	csi_cfg(c->ctx, v, &cfg);
	n = nb_admin_store_locks(loop, &cfg, &stores, err, sizeof(err));
	if (n < 0) {
		code = nb_csi_fail(c, csi_errno_code(n), "ControllerUnpublishVolume %s: %s",
				   v->name, err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int rc;

		if (stores[i].err || strcmp(stores[i].lock.owner, owner) != 0)
			continue;
		rc = nb_admin_unlock(loop, &cfg, stores[i].node, stores[i].lock.generation, NULL,
				     err, sizeof(err));
		if (rc < 0 && rc != -ESTALE) {
			code = nb_csi_fail(c, csi_errno_code(rc),
					   "ControllerUnpublishVolume %s: breaking %s's lock: %s",
					   v->name, owner, err);
			break;
		}
	}
out:
	free(stores);
	ev_loop_destroy(loop);
	return code;
}

static int csi_controller_unpublish(struct csi_call *c, const ProtobufCMessage *m,
				    ProtobufCMessage **resp)
{
	const Csi__V1__ControllerUnpublishVolumeRequest *req = (const void *)m;
	Csi__V1__ControllerUnpublishVolumeResponse *r = nb_csi_alloc(c, sizeof(*r));
	struct csi_volume v;
	char key[1200];
	struct session_volume info;
	struct session_lock lock;
	struct csi_pub *pub;
	char err[512], owner[300];
	const char *node = req->node_id && req->node_id[0] ? req->node_id : NULL;
	int rc, code = CSI_OK;

	csi__v1__controller_unpublish_volume_response__init(r);
	*resp = &r->base;
	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ControllerUnpublishVolume: no volume_id");
	if (nb_csi_volume_parse(req->volume_id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_NOT_FOUND, "ControllerUnpublishVolume: %s", err);
	nb_csi_volume_id(&v, c->ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "ControllerUnpublishVolume");
	if (code)
		return code;
	rc = csi_info(c->ctx, &v, &info, &lock, err, sizeof(err));
	if (rc == -ENOENT) {
		/* a volume that is gone is unpublished everywhere (CSI: OK) */
		lock.owner[0] = '\0';
	} else if (rc < 0) {
		code = nb_csi_fail(c, csi_errno_code(rc), "ControllerUnpublishVolume %s: %s",
				   v.name, err);
		goto out;
	}
	/* the node that held it read-write may be gone: fence it */
	if (lock.owner[0] && strncmp(lock.owner, "csi@", 4) == 0 &&
	    (!node || (csi_owner(node, owner, sizeof(owner)), strcmp(lock.owner, owner) == 0))) {
		snprintf(owner, sizeof(owner), "%s", lock.owner);
		code = csi_fence(c, &v, owner);
		if (code)
			goto out;
	}
	pthread_mutex_lock(&c->ctx->lock);
	while ((pub = csi_pub_find(c->ctx, key, node)))
		csi_pub_remove(c->ctx, pub);
	pthread_mutex_unlock(&c->ctx->lock);
out:
	nb_csi_release(c->ctx, key);
	return code;
}

/* ---- ValidateVolumeCapabilities ---- */

static int csi_validate(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	const Csi__V1__ValidateVolumeCapabilitiesRequest *req = (const void *)m;
	Csi__V1__ValidateVolumeCapabilitiesResponse *r;
	Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed *conf;
	struct csi_volume v;
	struct session_volume info;
	struct csi_params p;
	char err[512];
	size_t i;
	int rc, code;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ValidateVolumeCapabilities: no volume_id");
	if (req->n_volume_capabilities == 0)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "ValidateVolumeCapabilities %s: no volume capabilities",
				   req->volume_id);
	if (nb_csi_volume_parse(req->volume_id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_NOT_FOUND, "ValidateVolumeCapabilities: %s", err);
	rc = csi_info(c->ctx, &v, &info, NULL, err, sizeof(err));
	if (rc < 0)
		return nb_csi_fail(c, csi_errno_code(rc), "ValidateVolumeCapabilities %s: %s",
				   v.name, err);
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__validate_volume_capabilities_response__init(r);
	*resp = &r->base;
	code = csi_params_parse(c, req->n_parameters, (void *const *)req->parameters, &p);
	if (code) {
		r->message = nb_csi_strdup(c, c->msg);
		c->msg[0] = '\0';
		return CSI_OK;
	}
	for (i = 0; i < req->n_volume_capabilities; i++) {
		const char *why = nb_csi_cap_problem(req->volume_capabilities[i]);

		if (!why && info.read_only && !nb_csi_cap_readonly(req->volume_capabilities[i]))
			why = "the volume is read-only on the cluster";
		if (why) {
			snprintf(err, sizeof(err), "capability %zu: %s", i + 1, why);
			r->message = nb_csi_strdup(c, err);
			return CSI_OK;
		}
	}
	conf = nb_csi_alloc(c, sizeof(*conf));
	csi__v1__validate_volume_capabilities_response__confirmed__init(conf);
	conf->n_volume_capabilities = req->n_volume_capabilities;
	conf->volume_capabilities = req->volume_capabilities;
	r->confirmed = conf;
	return CSI_OK;
}

/* ---- ControllerExpandVolume ---- */

static int csi_controller_expand(struct csi_call *c, const ProtobufCMessage *m,
				 ProtobufCMessage **resp)
{
	const Csi__V1__ControllerExpandVolumeRequest *req = (const void *)m;
	Csi__V1__ControllerExpandVolumeResponse *r;
	struct csi_volume v;
	char key[1200];
	struct session_volume info;
	char err[512];
	int64_t required, limit;
	int rc, code = CSI_OK;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "ControllerExpandVolume: no volume_id");
	if (!req->capacity_range || req->capacity_range->required_bytes <= 0)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "ControllerExpandVolume %s: no capacity_range.required_bytes",
				   req->volume_id);
	required = req->capacity_range->required_bytes;
	limit = req->capacity_range->limit_bytes;
	if (limit > 0 && limit < required)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "ControllerExpandVolume %s: limit_bytes below required_bytes",
				   req->volume_id);
	if (nb_csi_volume_parse(req->volume_id, c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_NOT_FOUND, "ControllerExpandVolume: %s", err);
	nb_csi_volume_id(&v, c->ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "ControllerExpandVolume");
	if (code)
		return code;
	rc = csi_info(c->ctx, &v, &info, NULL, err, sizeof(err));
	if (rc < 0) {
		code = nb_csi_fail(c, csi_errno_code(rc), "ControllerExpandVolume %s: %s", v.name, err);
		goto out;
	}
	if (info.size < (uint64_t)required) {
		uint64_t bs = info.block_size ? info.block_size : 512;
		uint64_t want = ((uint64_t)required + bs - 1) / bs * bs;

		if (limit > 0 && want > (uint64_t)limit) {
			code = nb_csi_fail(c, CSI_OUT_OF_RANGE,
					   "ControllerExpandVolume %s: no multiple of the block size "
					   "%llu fits the range", v.name, (unsigned long long)bs);
			goto out;
		}
		rc = csi_each_store(c->ctx, &v, CSI_STORE_RESIZE, want, NULL, err,
				    sizeof(err));
		if (rc < 0) {
			code = nb_csi_fail(c, rc == -ENOENT ? CSI_NOT_FOUND : CSI_INTERNAL,
					   "ControllerExpandVolume %s: %s", v.name, err);
			goto out;
		}
		rc = csi_info(c->ctx, &v, &info, NULL, err, sizeof(err));
		if (rc < 0) {
			code = nb_csi_fail(c, csi_errno_code(rc), "ControllerExpandVolume %s: %s",
					   v.name, err);
			goto out;
		}
		if (info.size < (uint64_t)required) {
			code = nb_csi_fail(c, CSI_INTERNAL,
					   "ControllerExpandVolume %s: still %llu bytes after "
					   "RESIZE", v.name, (unsigned long long)info.size);
			goto out;
		}
	}
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__controller_expand_volume_response__init(r);
	r->capacity_bytes = (int64_t)info.size;
	r->node_expansion_required =
		!(req->volume_capability &&
		  req->volume_capability->access_type_case ==
			  CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK);
	*resp = &r->base;
out:
	nb_csi_release(c->ctx, key);
	return code;
}

/* ---- ListVolumes ---- */

/*
 * The volumes of the driver's own cluster (--cluster), by LIST on the
 * first node that answers, sorted by name. starting_token is the name
 * of the last volume of the previous page; one that names no position
 * the driver could have handed out is ABORTED, as the specification
 * says.
 */
static int csi_list_volumes(struct csi_call *c, const ProtobufCMessage *m,
			    ProtobufCMessage **resp)
{
	const Csi__V1__ListVolumesRequest *req = (const void *)m;
	const char *token = req->starting_token ? req->starting_token : "";
	Csi__V1__ListVolumesResponse *r;
	struct session_volume *vols = NULL;
	struct session_config cfg;
	struct csi_volume v;
	struct ev_loop *loop;
	size_t n = 0, i, start = 0, page, k;
	char err[512];
	int rc = -EIO;

	if (req->max_entries < 0)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "ListVolumes: max_entries %d is negative", req->max_entries);
	if (!c->ctx->cluster_text || !c->ctx->cluster_text[0])
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "ListVolumes: the driver has no --cluster to list");
	if (token[0] && !nb_csi_volume_name_ok(token))
		return nb_csi_fail(c, CSI_ABORTED, "ListVolumes: bad starting_token '%s'", token);
	/* any valid name gives the nodes of the driver's cluster */
	if (nb_csi_volume_parse("list", c->ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION, "ListVolumes: %s", err);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop)
		return nb_csi_fail(c, CSI_INTERNAL, "ListVolumes: cannot create an event loop");
	csi_cfg(c->ctx, &v, &cfg);
	for (i = 0; i < v.n_nodes; i++) {
		rc = nb_admin_list(loop, &cfg, v.nodes[i], &vols, &n, err, sizeof(err));
		if (!csi_unreachable(rc))
			break;
	}
	ev_loop_destroy(loop);
	if (rc < 0)
		return nb_csi_fail(c, csi_errno_code(rc), "ListVolumes: %s", err);
	if (token[0]) {
		while (start < n && strcmp(vols[start].name, token) <= 0)
			start++;
	}
	page = n - start;
	if (req->max_entries > 0 && (size_t)req->max_entries < page)
		page = (size_t)req->max_entries;
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__list_volumes_response__init(r);
	r->entries = nb_csi_alloc(c, (page + 1) * sizeof(*r->entries));
	for (k = 0; k < page; k++) {
		Csi__V1__ListVolumesResponse__Entry *e = nb_csi_alloc(c, sizeof(*e));
		Csi__V1__Volume *vol = nb_csi_alloc(c, sizeof(*vol));

		csi__v1__list_volumes_response__entry__init(e);
		csi__v1__volume__init(vol);
		vol->volume_id = nb_csi_strdup(c, vols[start + k].name);
		vol->capacity_bytes = (int64_t)vols[start + k].size;
		e->volume = vol;
		r->entries[k] = e;
	}
	r->n_entries = page;
	if (start + page < n && page > 0)
		r->next_token = nb_csi_strdup(c, vols[start + page - 1].name);
	free(vols);
	*resp = &r->base;
	return CSI_OK;
}

/* ---- ControllerGetCapabilities ---- */

static int csi_controller_caps(struct csi_call *c, const ProtobufCMessage *m,
			       ProtobufCMessage **resp)
{
	static const Csi__V1__ControllerServiceCapability__RPC__Type types[] = {
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__PUBLISH_UNPUBLISH_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__PUBLISH_READONLY,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_VOLUMES,
	};
	size_t i, n = sizeof(types) / sizeof(types[0]);
	Csi__V1__ControllerGetCapabilitiesResponse *r = nb_csi_alloc(c, sizeof(*r));

	(void)m;
	csi__v1__controller_get_capabilities_response__init(r);
	r->capabilities = nb_csi_alloc(c, n * sizeof(*r->capabilities));
	for (i = 0; i < n; i++) {
		Csi__V1__ControllerServiceCapability *cap = nb_csi_alloc(c, sizeof(*cap));
		Csi__V1__ControllerServiceCapability__RPC *rpc = nb_csi_alloc(c, sizeof(*rpc));

		csi__v1__controller_service_capability__init(cap);
		csi__v1__controller_service_capability__rpc__init(rpc);
		rpc->type = types[i];
		cap->type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
		cap->rpc = rpc;
		r->capabilities[i] = cap;
	}
	r->n_capabilities = n;
	*resp = &r->base;
	return CSI_OK;
}

const struct csi_method nb_csi_controller_methods[] = {
	{ "/csi.v1.Controller/CreateVolume", &csi__v1__create_volume_request__descriptor,
	  csi_create_volume },
	{ "/csi.v1.Controller/DeleteVolume", &csi__v1__delete_volume_request__descriptor,
	  csi_delete_volume },
	{ "/csi.v1.Controller/ControllerPublishVolume",
	  &csi__v1__controller_publish_volume_request__descriptor, csi_controller_publish },
	{ "/csi.v1.Controller/ControllerUnpublishVolume",
	  &csi__v1__controller_unpublish_volume_request__descriptor, csi_controller_unpublish },
	{ "/csi.v1.Controller/ValidateVolumeCapabilities",
	  &csi__v1__validate_volume_capabilities_request__descriptor, csi_validate },
	{ "/csi.v1.Controller/ControllerExpandVolume",
	  &csi__v1__controller_expand_volume_request__descriptor, csi_controller_expand },
	{ "/csi.v1.Controller/ListVolumes", &csi__v1__list_volumes_request__descriptor,
	  csi_list_volumes },
	{ "/csi.v1.Controller/ControllerGetCapabilities",
	  &csi__v1__controller_get_capabilities_request__descriptor, csi_controller_caps },
	{ NULL, NULL, NULL },
};
