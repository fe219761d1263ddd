/* SPDX-License-Identifier: MIT */
/* Framing and encoding of the netblk storage protocol. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "netblk.pb-c.h"
#include "rpc.h"

static const char *const rpc_op_names[RPC_OP_MAX] = {
	[RPC_OP_NONE] = "NONE",
	[RPC_OP_HANDSHAKE] = "HANDSHAKE",
	[RPC_OP_OPEN] = "OPEN",
	[RPC_OP_READ] = "READ",
	[RPC_OP_WRITE] = "WRITE",
	[RPC_OP_FLUSH] = "FLUSH",
	[RPC_OP_DISCARD] = "DISCARD",
	[RPC_OP_WRITE_ZEROES] = "WRITE_ZEROES",
	[RPC_OP_GET_MAP] = "GET_MAP",
	[RPC_OP_PING] = "PING",
	[RPC_OP_CREATE] = "CREATE",
	[RPC_OP_INFO] = "INFO",
	[RPC_OP_UNLOCK] = "UNLOCK",
	[RPC_OP_DELETE] = "DELETE",
	[RPC_OP_RESIZE] = "RESIZE",
	[RPC_OP_LIST] = "LIST",
};

static const char *const rpc_status_names[RPC_STATUS_MAX] = {
	[RPC_STATUS_OK] = "OK",
	[RPC_STATUS_IO_ERROR] = "IO_ERROR",
	[RPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[RPC_STATUS_READ_ONLY] = "READ_ONLY",
	[RPC_STATUS_NO_SPACE] = "NO_SPACE",
	[RPC_STATUS_NOT_OWNER] = "NOT_OWNER",
	[RPC_STATUS_BUSY] = "BUSY",
	[RPC_STATUS_UNSUPPORTED] = "UNSUPPORTED",
	[RPC_STATUS_MALFORMED] = "MALFORMED",
	[RPC_STATUS_NOT_FOUND] = "NOT_FOUND",
	[RPC_STATUS_EXISTS] = "EXISTS",
	[RPC_STATUS_BAD_STATE] = "BAD_STATE",
	[RPC_STATUS_LOCKED] = "LOCKED",
	[RPC_STATUS_FENCED] = "FENCED",
};

const char *nb_rpc_op_name(enum rpc_op op)
{
	if ((unsigned int)op >= RPC_OP_MAX)
		return "UNKNOWN_OP";
	return rpc_op_names[op];
}

const char *nb_rpc_status_name(enum rpc_status status)
{
	if ((unsigned int)status >= RPC_STATUS_MAX)
		return "UNKNOWN_STATUS";
	return rpc_status_names[status];
}

bool nb_rpc_op_has_request_data(enum rpc_op op)
{
	return op == RPC_OP_WRITE;
}

bool nb_rpc_op_has_reply_data(enum rpc_op op)
{
	return op == RPC_OP_READ;
}

static void rpc_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t rpc_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Layout: magic(4) version(1) kind(1) reserved(2) hdr_len(4) data_len(4),
 * all big-endian.
 */
void nb_rpc_frame_hdr_encode(uint8_t *out, enum rpc_kind kind,
			  uint32_t hdr_len, uint32_t data_len)
{
	rpc_put_be32(out, RPC_MAGIC);
	out[4] = RPC_VERSION;
	out[5] = kind;
	out[6] = 0;
	out[7] = 0;
	rpc_put_be32(out + 8, hdr_len);
	rpc_put_be32(out + 12, data_len);
}

int nb_rpc_frame_hdr_decode(const uint8_t *in, struct rpc_frame_hdr *hdr,
			 uint32_t max_data_len)
{
	if (rpc_get_be32(in) != RPC_MAGIC || in[4] != RPC_VERSION)
		return -EPROTO;
	if (in[5] != RPC_KIND_REQUEST && in[5] != RPC_KIND_REPLY)
		return -EPROTO;
	if (in[6] || in[7])
		return -EPROTO;
	hdr->kind = in[5];
	hdr->hdr_len = rpc_get_be32(in + 8);
	hdr->data_len = rpc_get_be32(in + 12);
	if (max_data_len > RPC_MAX_DATA_LEN)
		max_data_len = RPC_MAX_DATA_LEN;
	if (hdr->hdr_len > RPC_MAX_HDR_LEN ||
	    hdr->data_len > max_data_len)
		return -EMSGSIZE;
	return 0;
}

/*
 * Decoding allocates from a small arena on the caller's stack, so the
 * common message costs no malloc; larger ones fall back to the heap.
 */
struct rpc_arena {
	uint8_t buf[2048];
	size_t used;
};

static void *rpc_arena_alloc(void *data, size_t size)
{
	struct rpc_arena *a = data;
	size_t aligned = (size + 15) & ~(size_t)15;

	if (aligned >= size && aligned <= sizeof(a->buf) - a->used) {
		void *p = a->buf + a->used;

		a->used += aligned;
		return p;
	}
	return malloc(size);
}

static void rpc_arena_free(void *data, void *ptr)
{
	struct rpc_arena *a = data;
	uint8_t *p = ptr;

	if (p >= a->buf && p < a->buf + sizeof(a->buf))
		return;
	free(ptr);
}

static bool rpc_copy_name(char *dst, const char *src)
{
	size_t len = src ? strlen(src) : 0;

	if (len > RPC_NAME_MAX)
		return false;
	memcpy(dst, src ? src : "", len + 1);
	return true;
}

static void rpc_copy_message(char *dst, const char *src)
{
	size_t len = src ? strlen(src) : 0;

	/* Error text is informative only: truncate rather than refuse. */
	if (len > RPC_MESSAGE_MAX)
		len = RPC_MESSAGE_MAX;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

static int rpc_finish_encode(enum rpc_kind kind, const ProtobufCMessage *msg,
			     uint32_t data_len, uint8_t *buf, size_t cap)
{
	size_t len = protobuf_c_message_get_packed_size(msg);

	if (len > RPC_MAX_HDR_LEN || data_len > RPC_MAX_DATA_LEN)
		return -EINVAL;
	if (cap < RPC_FRAME_HDR_SIZE + len)
		return -ENOSPC;
	protobuf_c_message_pack(msg, buf + RPC_FRAME_HDR_SIZE);
	nb_rpc_frame_hdr_encode(buf, kind, len, data_len);
	return RPC_FRAME_HDR_SIZE + len;
}

int nb_rpc_request_encode(const struct rpc_request *req, uint32_t data_len,
		       uint8_t *buf, size_t cap)
{
	Netblk__Request m = NETBLK__REQUEST__INIT;
	Netblk__Handshake hs = NETBLK__HANDSHAKE__INIT;
	Netblk__Open open = NETBLK__OPEN__INIT;
	Netblk__Create create = NETBLK__CREATE__INIT;
	Netblk__List list = NETBLK__LIST__INIT;

	if ((unsigned int)req->op >= RPC_OP_MAX || req->op == RPC_OP_NONE)
		return -EINVAL;
	m.id = req->id;
	m.op = (Netblk__Op)req->op;
	m.offset = req->offset;
	m.length = req->length;
	m.flags = req->flags;
	m.epoch = req->epoch;
	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		hs.version = req->handshake.version;
		hs.max_inflight = req->handshake.max_inflight;
		hs.max_io_size = req->handshake.max_io_size;
		hs.client_name = (char *)req->handshake.name;
		m.handshake = &hs;
		break;
	case RPC_OP_OPEN:
	case RPC_OP_INFO:
	case RPC_OP_UNLOCK:
	case RPC_OP_DELETE:
		open.volume = (char *)req->volume;
		open.read_only = req->read_only;
		open.owner = (char *)req->owner;
		open.break_lock = req->break_lock;
		open.generation = req->lock_generation;
		m.open = &open;
		break;
	case RPC_OP_CREATE:
	case RPC_OP_RESIZE:
		create.volume = (char *)req->volume;
		create.size = req->create_size;
		create.block_size = req->create_block_size;
		m.create = &create;
		break;
	case RPC_OP_LIST:
		list.start_after = (char *)req->volume;
		list.max_entries = req->list_max;
		m.list = &list;
		break;
	default:
		break;
	}
	return rpc_finish_encode(RPC_KIND_REQUEST, &m.base, data_len, buf, cap);
}

size_t nb_rpc_request_encoded_max(const struct rpc_request *req)
{
	/* Every field at its widest varint plus tags: generous bound. */
	return RPC_FRAME_HDR_SIZE + 128 + 2 * (RPC_NAME_MAX + 16);
}

int nb_rpc_request_decode(const uint8_t *buf, size_t len, struct rpc_request *req)
{
	struct rpc_arena arena = { .used = 0 };
	ProtobufCAllocator alloc = {
		.alloc = rpc_arena_alloc,
		.free = rpc_arena_free,
		.allocator_data = &arena,
	};
	Netblk__Request *m;
	int ret = -EBADMSG;

	m = netblk__request__unpack(&alloc, len, buf);
	if (!m)
		return -EBADMSG;
	memset(req, 0, sizeof(*req));
	if ((unsigned int)m->op >= RPC_OP_MAX || m->op == NETBLK__OP__OP_NONE)
		goto out_free;
	req->id = m->id;
	req->op = (enum rpc_op)m->op;
	req->offset = m->offset;
	req->length = m->length;
	req->flags = m->flags;
	req->epoch = m->epoch;
	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		if (!m->handshake)
			goto out_free;
		req->handshake.version = m->handshake->version;
		req->handshake.max_inflight = m->handshake->max_inflight;
		req->handshake.max_io_size = m->handshake->max_io_size;
		if (!rpc_copy_name(req->handshake.name,
				   m->handshake->client_name))
			goto out_free;
		break;
	case RPC_OP_OPEN:
	case RPC_OP_INFO:
	case RPC_OP_UNLOCK:
	case RPC_OP_DELETE:
		if (!m->open || !rpc_copy_name(req->volume, m->open->volume) ||
		    !rpc_copy_name(req->owner, m->open->owner))
			goto out_free;
		req->read_only = m->open->read_only;
		req->break_lock = m->open->break_lock;
		req->lock_generation = m->open->generation;
		break;
	case RPC_OP_CREATE:
	case RPC_OP_RESIZE:
		if (!m->create || !rpc_copy_name(req->volume, m->create->volume))
			goto out_free;
		req->create_size = m->create->size;
		req->create_block_size = m->create->block_size;
		break;
	case RPC_OP_LIST:
		/* no list message: from the start, the node's page */
		if (m->list) {
			if (!rpc_copy_name(req->volume, m->list->start_after))
				goto out_free;
			req->list_max = m->list->max_entries;
		}
		break;
	default:
		break;
	}
	ret = 0;
out_free:
	netblk__request__free_unpacked(m, &alloc);
	return ret;
}

/* Build the protobuf form of a map; the result borrows map's strings. */
static int rpc_map_to_pb(const struct map *map, Netblk__ClusterMap *pm,
			 Netblk__ChunkPlacement **pptrs,
			 Netblk__ChunkPlacement *pcs)
{
	uint32_t i;

	pm->epoch = map->epoch;
	pm->chunk_size = map->chunk_size;
	pm->n_nodes = map->n_nodes;
	pm->nodes = map->nodes;
	pm->n_groups = map->n_nodes;
	pm->groups = (uint32_t *)map->groups;
	pm->n_chunks = map->n_chunks;
	pm->chunks = pptrs;
	for (i = 0; i < map->n_chunks; i++) {
		netblk__chunk_placement__init(&pcs[i]);
		pcs[i].n_nodes = map->chunks[i].n;
		pcs[i].nodes = map->chunks[i].nodes;
		pptrs[i] = &pcs[i];
	}
	return 0;
}

static struct map *rpc_map_from_pb(const Netblk__ClusterMap *pm)
{
	struct map tmp = {
		.epoch = pm->epoch,
		.chunk_size = pm->chunk_size,
		.n_nodes = pm->n_nodes,
		.nodes = pm->nodes,
		.n_chunks = pm->n_chunks,
	};
	struct map_placement *pl;
	struct map *map;
	char err[128];
	size_t i;

	if (pm->n_nodes > MAP_MAX_NODES || pm->n_chunks > MAP_MAX_PLACEMENTS ||
	    pm->n_chunks == 0 ||
	    (pm->n_groups != 0 && pm->n_groups != pm->n_nodes)) {
		errno = EBADMSG;
		return NULL;
	}
	pl = calloc(pm->n_chunks, sizeof(*pl));
	if (!pl)
		return NULL;
	for (i = 0; i < pm->n_chunks; i++) {
		pl[i].n = pm->chunks[i]->n_nodes;
		pl[i].nodes = pm->chunks[i]->nodes;
	}
	tmp.chunks = pl;
	if (nb_map_validate(&tmp, err, sizeof(err)) < 0) {
		free(pl);
		errno = EBADMSG;
		return NULL;
	}
	if (pm->n_groups)
		memcpy(tmp.groups, pm->groups, pm->n_groups * sizeof(uint32_t));
	map = nb_map_dup(&tmp);
	free(pl);
	return map;
}

int nb_rpc_reply_encode(const struct rpc_reply *rep, uint32_t data_len,
		     uint8_t *buf, size_t cap)
{
	Netblk__Reply m = NETBLK__REPLY__INIT;
	Netblk__HandshakeReply hs = NETBLK__HANDSHAKE_REPLY__INIT;
	Netblk__VolumeInfo vol = NETBLK__VOLUME_INFO__INIT;
	Netblk__LockHolder lock = NETBLK__LOCK_HOLDER__INIT;
	Netblk__ClusterMap pm = NETBLK__CLUSTER_MAP__INIT;
	Netblk__ChunkPlacement **pptrs = NULL;
	Netblk__ChunkPlacement *pcs = NULL;
	Netblk__VolumeList vl = NETBLK__VOLUME_LIST__INIT;
	Netblk__VolumeInfo *lvols = NULL, **lptrs = NULL;
	int ret;

	if ((unsigned int)rep->status >= RPC_STATUS_MAX)
		return -EINVAL;
	m.id = rep->id;
	m.status = (Netblk__Status)rep->status;
	m.message = (char *)rep->message;
	m.epoch = rep->epoch;
	if (rep->has_handshake) {
		hs.version = rep->handshake.version;
		hs.max_inflight = rep->handshake.max_inflight;
		hs.max_io_size = rep->handshake.max_io_size;
		hs.node_name = (char *)rep->handshake.name;
		hs.writes_durable = rep->handshake.writes_durable;
		m.handshake = &hs;
	}
	if (rep->has_volume) {
		vol.volume = (char *)rep->volume.volume;
		vol.size = rep->volume.size;
		vol.block_size = rep->volume.block_size;
		vol.read_only = rep->volume.read_only;
		vol.max_discard_size = rep->volume.max_discard_size;
		vol.max_write_zeroes_size = rep->volume.max_write_zeroes_size;
		if (rep->volume.lock.owner[0] || rep->volume.lock.generation) {
			lock.owner = (char *)rep->volume.lock.owner;
			lock.generation = rep->volume.lock.generation;
			lock.since = rep->volume.lock.since;
			vol.lock = &lock;
		}
		m.volume = &vol;
	}
	if (rep->map) {
		pptrs = calloc(rep->map->n_chunks + 1, sizeof(*pptrs));
		pcs = calloc(rep->map->n_chunks + 1, sizeof(*pcs));
		if (!pptrs || !pcs) {
			ret = -ENOMEM;
			goto out_free;
		}
		rpc_map_to_pb(rep->map, &pm, pptrs, pcs);
		m.map = &pm;
	}
	if (rep->has_list) {
		if (rep->n_list > RPC_LIST_MAX) {
			ret = -EINVAL;
			goto out_free;
		}
		lvols = calloc(rep->n_list + 1, sizeof(*lvols));
		lptrs = calloc(rep->n_list + 1, sizeof(*lptrs));
		if (!lvols || !lptrs) {
			ret = -ENOMEM;
			goto out_free;
		}
		for (uint32_t i = 0; i < rep->n_list; i++) {
			netblk__volume_info__init(&lvols[i]);
			lvols[i].volume = (char *)rep->list[i].volume;
			lvols[i].size = rep->list[i].size;
			lvols[i].block_size = rep->list[i].block_size;
			lvols[i].read_only = rep->list[i].read_only;
			lptrs[i] = &lvols[i];
		}
		vl.n_volumes = rep->n_list;
		vl.volumes = lptrs;
		vl.more = rep->list_more;
		m.list = &vl;
	}
	ret = rpc_finish_encode(RPC_KIND_REPLY, &m.base, data_len, buf, cap);
out_free:
	free(pptrs);
	free(pcs);
	free(lptrs);
	free(lvols);
	return ret;
}

size_t nb_rpc_reply_encoded_max(const struct rpc_reply *rep)
{
	size_t n = RPC_FRAME_HDR_SIZE + 160 + 3 * (RPC_NAME_MAX + 16) +
		   RPC_MESSAGE_MAX + 16;
	uint32_t i;

	if (rep->map) {
		n += 64;
		for (i = 0; i < rep->map->n_nodes; i++)
			n += strlen(rep->map->nodes[i]) + 8 + 6;
		for (i = 0; i < rep->map->n_chunks; i++)
			n += 8 + 6 * (size_t)rep->map->chunks[i].n;
	}
	if (rep->has_list)
		n += 16 + (size_t)rep->n_list * (RPC_NAME_MAX + 48);
	return n;
}

int nb_rpc_reply_decode(const uint8_t *buf, size_t len, struct rpc_reply *rep)
{
	struct rpc_arena arena = { .used = 0 };
	ProtobufCAllocator alloc = {
		.alloc = rpc_arena_alloc,
		.free = rpc_arena_free,
		.allocator_data = &arena,
	};
	Netblk__Reply *m;
	int ret = -EBADMSG;

	memset(rep, 0, sizeof(*rep));
	m = netblk__reply__unpack(&alloc, len, buf);
	if (!m)
		return -EBADMSG;
	if ((unsigned int)m->status >= RPC_STATUS_MAX)
		goto out_free;
	rep->id = m->id;
	rep->status = (enum rpc_status)m->status;
	rpc_copy_message(rep->message, m->message);
	rep->epoch = m->epoch;
	if (m->handshake) {
		rep->has_handshake = true;
		rep->handshake.version = m->handshake->version;
		rep->handshake.max_inflight = m->handshake->max_inflight;
		rep->handshake.max_io_size = m->handshake->max_io_size;
		if (!rpc_copy_name(rep->handshake.name, m->handshake->node_name))
			goto out_free;
		rep->handshake.writes_durable = m->handshake->writes_durable;
	}
	if (m->volume) {
		rep->has_volume = true;
		if (!rpc_copy_name(rep->volume.volume, m->volume->volume))
			goto out_free;
		rep->volume.size = m->volume->size;
		rep->volume.block_size = m->volume->block_size;
		rep->volume.read_only = m->volume->read_only;
		rep->volume.max_discard_size = m->volume->max_discard_size;
		rep->volume.max_write_zeroes_size =
			m->volume->max_write_zeroes_size;
		if (m->volume->lock) {
			if (!rpc_copy_name(rep->volume.lock.owner,
					   m->volume->lock->owner))
				goto out_free;
			rep->volume.lock.generation = m->volume->lock->generation;
			rep->volume.lock.since = m->volume->lock->since;
		}
	}
	if (m->map) {
		rep->map = rpc_map_from_pb(m->map);
		if (!rep->map)
			goto out_free;
	}
	if (m->list) {
		if (m->list->n_volumes > RPC_LIST_MAX)
			goto out_free;
		rep->has_list = true;
		rep->list_more = m->list->more;
		if (m->list->n_volumes) {
			rep->list = calloc(m->list->n_volumes, sizeof(*rep->list));
			if (!rep->list)
				goto out_free;
		}
		for (size_t i = 0; i < m->list->n_volumes; i++) {
			const Netblk__VolumeInfo *v = m->list->volumes[i];

			if (!rpc_copy_name(rep->list[i].volume, v->volume))
				goto out_free;
			rep->list[i].size = v->size;
			rep->list[i].block_size = v->block_size;
			rep->list[i].read_only = v->read_only;
			rep->n_list++;
		}
	}
	ret = 0;
out_free:
	netblk__reply__free_unpacked(m, &alloc);
	if (ret)
		nb_rpc_reply_clear(rep);
	return ret;
}

void nb_rpc_reply_clear(struct rpc_reply *rep)
{
	nb_map_free(rep->map);
	rep->map = NULL;
	free(rep->list);
	rep->list = NULL;
	rep->n_list = 0;
	rep->has_list = false;
}
