/* SPDX-License-Identifier: MIT */
/* One request: checks, ownership, faults, execution (request.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "request.h"
#include "volume.h"

static void mock_request_reply_init(struct mock_conn *conn, struct rpc_reply *rep,
				    const struct rpc_request *req,
				    enum rpc_status status)
{
	memset(rep, 0, sizeof(*rep));
	rep->id = req->id;
	rep->status = status;
	rep->epoch = mock_node_epoch(mock_conn_node(conn));
}

static void mock_request_fail(struct mock_conn *conn, const struct rpc_request *req,
			      enum rpc_status status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Answer with an error status and a message. */
static void mock_request_fail(struct mock_conn *conn, const struct rpc_request *req,
			      enum rpc_status status, const char *fmt, ...)
{
	struct rpc_reply rep;
	va_list ap;

	mock_request_reply_init(conn, &rep, req, status);
	va_start(ap, fmt);
	vsnprintf(rep.message, sizeof(rep.message), fmt, ap);
	va_end(ap);
	mock_debug("client %s: request %llu (%s): %s: %s", mock_conn_peer(conn),
		   (unsigned long long)req->id, nb_rpc_op_name(req->op),
		   nb_rpc_status_name(status), rep.message);
	mock_conn_send_reply(conn, &rep);
}

static void mock_request_ok(struct mock_conn *conn, const struct rpc_request *req)
{
	struct rpc_reply rep;

	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	mock_conn_send_reply(conn, &rep);
}

static enum rpc_status mock_request_errno_status(int err)
{
	return err == -ENOSPC || err == -EDQUOT ? RPC_STATUS_NO_SPACE :
	       RPC_STATUS_IO_ERROR;
}

static void mock_request_media_error(struct mock_conn *conn,
				     const struct mock_volume *vol,
				     const struct rpc_request *req, int err)
{
	mock_warn("client %s: volume %s: %s at offset %llu length %llu failed: %s",
		  mock_conn_peer(conn), vol->name, nb_rpc_op_name(req->op),
		  (unsigned long long)req->offset, (unsigned long long)req->length,
		  strerror(-err));
	mock_request_fail(conn, req, mock_request_errno_status(err), "%s failed: %s",
			  nb_rpc_op_name(req->op), strerror(-err));
}

/* ---- data path ---- */

static bool mock_request_is_data(enum rpc_op op)
{
	return op == RPC_OP_READ || op == RPC_OP_WRITE || op == RPC_OP_FLUSH ||
	       op == RPC_OP_DISCARD || op == RPC_OP_WRITE_ZEROES;
}

static enum mock_fault_op mock_request_fault_op(enum rpc_op op)
{
	switch (op) {
	case RPC_OP_READ:
		return MOCK_FOP_READ;
	case RPC_OP_WRITE:
		return MOCK_FOP_WRITE;
	case RPC_OP_FLUSH:
		return MOCK_FOP_FLUSH;
	case RPC_OP_DISCARD:
		return MOCK_FOP_DISCARD;
	default:
		return MOCK_FOP_WRITE_ZEROES;
	}
}

/* Known flags each operation takes (docs/protocol.md). */
static uint32_t mock_request_flags_taken(enum rpc_op op)
{
	switch (op) {
	case RPC_OP_WRITE:
		return RPC_FLAG_FUA;
	case RPC_OP_WRITE_ZEROES:
		return RPC_FLAG_FUA | RPC_FLAG_UNMAP;
	default:
		return 0;
	}
}

static bool mock_request_inject_error(struct mock_node *node, enum rpc_op op)
{
	double rate = node->faults.error_rate[mock_request_fault_op(op)];

	if (rate <= 0)
		return false;
	if (rate < 100 && (double)mock_node_random(node, 1000000) >= rate * 10000)
		return false;
	node->stats.errors_injected++;
	return true;
}

static void mock_request_read(struct mock_conn *conn, struct mock_volume *vol,
			      const struct rpc_request *req)
{
	struct mock_node *node = mock_conn_node(conn);
	struct rpc_reply rep;
	size_t max;
	uint8_t *p;
	int h, r;

	node->stats.reads++;
	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	max = nb_rpc_reply_encoded_max(&rep);
	p = mock_conn_reserve(conn, max + req->length);
	if (!p) {
		mock_err("client %s: out of memory for a %llu byte read reply; closing",
			 mock_conn_peer(conn), (unsigned long long)req->length);
		mock_conn_close(conn, true);
		return;
	}
	h = nb_rpc_reply_encode(&rep, (uint32_t)req->length, p, max);
	if (h < 0) {
		mock_err("client %s: cannot encode read reply: %s",
			 mock_conn_peer(conn), strerror(-h));
		mock_conn_close(conn, true);
		return;
	}
	/* Data goes straight into the output buffer, after the head. */
	r = mock_volume_read(vol, p + h, req->length, req->offset);
	if (r < 0) {
		mock_request_media_error(conn, vol, req, r);
		return;
	}
	mock_conn_commit(conn, (size_t)h + req->length);
	node->stats.bytes_read += req->length;
}

static int mock_request_sync_if_fua(struct mock_node *node,
				    struct mock_volume *vol,
				    const struct rpc_request *req)
{
	if (!(req->flags & RPC_FLAG_FUA))
		return 0;
	node->stats.fua++;
	return mock_volume_flush(vol);
}

void mock_request_execute(struct mock_conn *conn, const struct rpc_request *req,
			  const uint8_t *data)
{
	struct mock_node *node = mock_conn_node(conn);
	bool writes = req->op == RPC_OP_WRITE || req->op == RPC_OP_DISCARD ||
		      req->op == RPC_OP_WRITE_ZEROES;
	struct mock_volume *vol;
	bool read_only = false;
	int r = 0;

	if (mock_conn_closed(conn))
		return;
	vol = mock_conn_volume(conn, &read_only);
	if (!vol) {
		mock_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				  "no volume open on this connection (send OPEN first)");
		return;
	}
	if (req->flags & ~RPC_FLAGS_ALL) {
		mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
				  "unknown flag bits 0x%x", req->flags & ~RPC_FLAGS_ALL);
		return;
	}
	if (req->flags & ~mock_request_flags_taken(req->op)) {
		mock_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				  "flag 0x%x is not taken by %s",
				  req->flags & ~mock_request_flags_taken(req->op),
				  nb_rpc_op_name(req->op));
		return;
	}
	if (req->op != RPC_OP_FLUSH &&
	    (req->offset > vol->size || req->length > vol->size - req->offset)) {
		mock_request_fail(conn, req, RPC_STATUS_OUT_OF_RANGE,
				  "offset %llu length %llu outside volume %s of %llu bytes",
				  (unsigned long long)req->offset,
				  (unsigned long long)req->length, vol->name,
				  (unsigned long long)vol->size);
		return;
	}
	if (writes && read_only) {
		mock_request_fail(conn, req, RPC_STATUS_READ_ONLY,
				  "volume %s is open read-only", vol->name);
		return;
	}
	if (req->op == RPC_OP_DISCARD || req->op == RPC_OP_WRITE_ZEROES) {
		uint32_t max = req->op == RPC_OP_DISCARD ? vol->max_discard :
			       vol->max_write_zeroes;

		if (max == 0) {
			mock_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
					  "%s is disabled on this node",
					  nb_rpc_op_name(req->op));
			return;
		}
		if (req->length > max) {
			mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
					  "%s of %llu bytes exceeds the limit of %u",
					  nb_rpc_op_name(req->op),
					  (unsigned long long)req->length, max);
			return;
		}
	}
	if (req->op != RPC_OP_FLUSH && !mock_node_serves(node, req->offset, req->length)) {
		node->stats.not_owner++;
		mock_request_fail(conn, req, RPC_STATUS_NOT_OWNER,
				  "node %s does not serve offset %llu length %llu (map epoch %llu)",
				  node->node_addr, (unsigned long long)req->offset,
				  (unsigned long long)req->length,
				  (unsigned long long)mock_node_epoch(node));
		return;
	}
	if (mock_request_inject_error(node, req->op)) {
		mock_request_fail(conn, req, RPC_STATUS_IO_ERROR, "injected %s error",
				  nb_rpc_op_name(req->op));
		return;
	}

	switch (req->op) {
	case RPC_OP_READ:
		mock_request_read(conn, vol, req);
		return;
	case RPC_OP_WRITE:
		node->stats.writes++;
		r = mock_volume_write(vol, data, req->length, req->offset);
		if (r == 0) {
			node->stats.bytes_written += req->length;
			r = mock_request_sync_if_fua(node, vol, req);
		}
		break;
	case RPC_OP_FLUSH:
		node->stats.flushes++;
		r = mock_volume_flush(vol);
		break;
	case RPC_OP_DISCARD:
		node->stats.discards++;
		r = mock_volume_discard(vol, req->offset, req->length);
		break;
	case RPC_OP_WRITE_ZEROES:
		node->stats.write_zeroes++;
		r = mock_volume_write_zeroes(vol, req->offset, req->length,
					     req->flags & RPC_FLAG_UNMAP);
		if (r == 0)
			r = mock_request_sync_if_fua(node, vol, req);
		break;
	default:
		mock_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				  "operation %s not supported", nb_rpc_op_name(req->op));
		return;
	}
	if (r < 0)
		mock_request_media_error(conn, vol, req, r);
	else
		mock_request_ok(conn, req);
}

/* Hold a data request back for a delay or a stall. */
static void mock_request_hold(struct mock_conn *conn, const struct rpc_request *req,
			      const uint8_t *data, uint32_t data_len)
{
	struct mock_node *node = mock_conn_node(conn);
	const struct mock_faults *f = &node->faults;
	uint32_t ms = f->delay_min_ms;
	int r;

	if (!f->stall && f->delay_max_ms > ms)
		ms += (uint32_t)mock_node_random(node, f->delay_max_ms - ms + 1);
	r = mock_conn_hold(conn, req, data, data_len, f->stall, ms);
	if (r == -EBUSY) {
		/* Cannot happen: input pauses at max_inflight. Answer at once. */
		mock_request_execute(conn, req, data);
	} else if (r < 0) {
		mock_request_fail(conn, req, RPC_STATUS_BUSY,
				  "out of memory for a held request");
	}
}

/* ---- control path ---- */

static void mock_request_handshake(struct mock_conn *conn, const struct rpc_request *req)
{
	struct mock_node *node = mock_conn_node(conn);
	const struct mock_config *cfg = node->cfg;
	const struct rpc_handshake *hs = &req->handshake;
	char client[RPC_NAME_MAX + 1];
	struct rpc_reply rep;
	uint32_t inflight, io;

	if (!mock_conn_awaits_hello(conn)) {
		mock_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				  "HANDSHAKE already done on this connection");
		return;
	}
	if (hs->version < 1) {
		mock_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				  "protocol version %u not supported (node speaks %d)",
				  hs->version, RPC_VERSION);
		return;
	}
	if (hs->max_inflight == 0 || hs->max_io_size == 0) {
		mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
				  "HANDSHAKE needs max_inflight and max_io_size > 0");
		return;
	}
	inflight = hs->max_inflight < cfg->max_inflight ? hs->max_inflight :
		   cfg->max_inflight;
	io = hs->max_io_size < cfg->max_io_size ? hs->max_io_size : cfg->max_io_size;
	if (mock_conn_grant(conn, inflight, io) < 0) {
		mock_err("client %s: out of memory granting %u requests in flight; closing",
			 mock_conn_peer(conn), inflight);
		mock_conn_close(conn, true);
		return;
	}
	/* The client's name is free text: keep control bytes out of the log. */
	snprintf(client, sizeof(client), "%s", hs->name);
	for (char *p = client; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	mock_info("client %s: handshake from \"%s\": version %u, max_inflight %u, max_io_size %u",
		  mock_conn_peer(conn), client, RPC_VERSION, inflight, io);
	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	rep.has_handshake = true;
	rep.handshake.version = RPC_VERSION;
	rep.handshake.max_inflight = inflight;
	rep.handshake.max_io_size = io;
	snprintf(rep.handshake.name, sizeof(rep.handshake.name), "%s", node->name);
	mock_conn_send_reply(conn, &rep);
}

static void mock_request_open(struct mock_conn *conn, const struct rpc_request *req)
{
	struct mock_node *node = mock_conn_node(conn);
	struct mock_volume *vol = mock_node_find_volume(node, req->volume);
	struct rpc_reply rep;
	bool read_only;

	if (!vol) {
		mock_request_fail(conn, req, RPC_STATUS_NOT_FOUND, "no volume named \"%s\"",
				  req->volume);
		return;
	}
	read_only = req->read_only || vol->read_only;
	mock_conn_open(conn, vol, read_only);
	mock_info("client %s: opened volume %s (%llu bytes, %s)", mock_conn_peer(conn),
		  vol->name, (unsigned long long)vol->size,
		  read_only ? "read-only" : "read-write");
	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	rep.has_volume = true;
	mock_volume_info(vol, &rep.volume);
	rep.volume.read_only = read_only;
	rep.map = node->map;
	mock_conn_send_reply(conn, &rep);
}

static void mock_request_info(struct mock_conn *conn, const struct rpc_request *req)
{
	struct mock_volume *vol = mock_node_find_volume(mock_conn_node(conn),
							req->volume);
	struct rpc_reply rep;

	if (!vol) {
		mock_request_fail(conn, req, RPC_STATUS_NOT_FOUND, "no volume named \"%s\"",
				  req->volume);
		return;
	}
	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	rep.has_volume = true;
	mock_volume_info(vol, &rep.volume);
	mock_conn_send_reply(conn, &rep);
}

static void mock_request_get_map(struct mock_conn *conn, const struct rpc_request *req)
{
	struct rpc_reply rep;

	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	rep.map = mock_conn_node(conn)->map;
	mock_conn_send_reply(conn, &rep);
}

static void mock_request_create(struct mock_conn *conn, const struct rpc_request *req)
{
	struct mock_node *node = mock_conn_node(conn);
	const struct mock_config *cfg = node->cfg;
	uint32_t bs = req->create_block_size ? req->create_block_size : 512;
	struct mock_volume *vol;
	struct rpc_reply rep;
	char path[4096];
	int r;

	if (!cfg->allow_create) {
		mock_request_fail(conn, req, RPC_STATUS_UNSUPPORTED,
				  "volume creation is disabled on this node (--allow-create)");
		return;
	}
	if (!mock_volume_name_valid(req->volume)) {
		mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
				  "bad volume name \"%s\" (use letters, digits, '.', '_', '-')",
				  req->volume);
		return;
	}
	if (mock_node_find_volume(node, req->volume)) {
		mock_request_fail(conn, req, RPC_STATUS_EXISTS, "volume %s already exists",
				  req->volume);
		return;
	}
	if (bs != 512 && bs != 4096) {
		mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
				  "block size %u (use 512 or 4096)", bs);
		return;
	}
	if (req->create_size == 0 || req->create_size % bs != 0) {
		mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
				  "size %llu is not a non-zero multiple of the block size %u",
				  (unsigned long long)req->create_size, bs);
		return;
	}
	if (node->n_volumes >= MOCK_MAX_VOLUMES) {
		mock_request_fail(conn, req, RPC_STATUS_NO_SPACE,
				  "node holds its maximum of %d volumes", MOCK_MAX_VOLUMES);
		return;
	}
	if (cfg->volume_dir) {
		snprintf(path, sizeof(path), "%s/%s", cfg->volume_dir, req->volume);
		vol = mock_volume_new_file(req->volume, path, req->create_size, bs,
					   false, true);
	} else {
		vol = mock_volume_new_memory(req->volume, req->create_size, bs, false);
	}
	if (!vol) {
		r = -errno;
		mock_warn("client %s: cannot create volume %s: %s", mock_conn_peer(conn),
			  req->volume, strerror(-r));
		mock_request_fail(conn, req, r == -EEXIST ? RPC_STATUS_EXISTS :
				  mock_request_errno_status(r),
				  "cannot create volume %s: %s", req->volume, strerror(-r));
		return;
	}
	r = mock_node_add_volume(node, vol);
	if (r < 0) {
		mock_volume_free(vol);
		mock_request_fail(conn, req, RPC_STATUS_NO_SPACE,
				  "cannot add volume %s: %s", req->volume, strerror(-r));
		return;
	}
	mock_info("client %s: created volume %s (%llu bytes, block size %u%s%s)",
		  mock_conn_peer(conn), vol->name, (unsigned long long)vol->size, bs,
		  vol->path ? ", file " : ", in memory", vol->path ? vol->path : "");
	mock_request_reply_init(conn, &rep, req, RPC_STATUS_OK);
	rep.has_volume = true;
	mock_volume_info(vol, &rep.volume);
	mock_conn_send_reply(conn, &rep);
}

int mock_request_handle(struct mock_conn *conn, const struct rpc_request *req,
			const uint8_t *data, uint32_t data_len)
{
	struct mock_node *node = mock_conn_node(conn);
	uint32_t max_io = mock_conn_max_io_size(conn);
	char why[160];

	node->stats.requests++;
	mock_debug("client %s: request %llu %s offset %llu length %llu flags 0x%x data %u",
		   mock_conn_peer(conn), (unsigned long long)req->id, nb_rpc_op_name(req->op),
		   (unsigned long long)req->offset, (unsigned long long)req->length,
		   req->flags, data_len);

	/* Frame-level rules: a violation closes the connection. */
	why[0] = '\0';
	if (nb_rpc_op_has_request_data(req->op)) {
		if (data_len != req->length)
			snprintf(why, sizeof(why), "%s request %llu carries %u data bytes for length %llu",
				 nb_rpc_op_name(req->op), (unsigned long long)req->id,
				 data_len, (unsigned long long)req->length);
	} else if (data_len != 0) {
		snprintf(why, sizeof(why), "%s request %llu carries %u unexpected data bytes",
			 nb_rpc_op_name(req->op), (unsigned long long)req->id, data_len);
	}
	if (!why[0] && (req->op == RPC_OP_READ || req->op == RPC_OP_WRITE) &&
	    req->length > max_io)
		snprintf(why, sizeof(why), "%s request %llu of %llu bytes exceeds max_io_size %u",
			 nb_rpc_op_name(req->op), (unsigned long long)req->id,
			 (unsigned long long)req->length, max_io);
	if (why[0]) {
		mock_warn("client %s: malformed frame: %s; closing the connection",
			  mock_conn_peer(conn), why);
		mock_conn_close(conn, true);
		return -1;
	}

	if (mock_conn_awaits_hello(conn) && req->op != RPC_OP_HANDSHAKE) {
		mock_request_fail(conn, req, RPC_STATUS_BAD_STATE,
				  "HANDSHAKE must be the first request");
		return 0;
	}

	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		mock_request_handshake(conn, req);
		break;
	case RPC_OP_OPEN:
		mock_request_open(conn, req);
		break;
	case RPC_OP_GET_MAP:
		mock_request_get_map(conn, req);
		break;
	case RPC_OP_PING:
		mock_request_ok(conn, req);
		break;
	case RPC_OP_INFO:
		mock_request_info(conn, req);
		break;
	case RPC_OP_CREATE:
		mock_request_create(conn, req);
		break;
	default:
		if (!mock_request_is_data(req->op)) {
			mock_request_fail(conn, req, RPC_STATUS_MALFORMED,
					  "operation %s is not a request", nb_rpc_op_name(req->op));
			break;
		}
		if (node->faults.drop_every &&
		    ++node->faults.drop_counter % node->faults.drop_every == 0) {
			node->stats.drops++;
			mock_info("client %s: dropping the connection at request %llu (%s) (fault drop-every %llu)",
				  mock_conn_peer(conn), (unsigned long long)req->id,
				  nb_rpc_op_name(req->op),
				  (unsigned long long)node->faults.drop_every);
			mock_conn_close(conn, true);
			return -1;
		}
		if (node->faults.stall || node->faults.delay_max_ms > 0)
			mock_request_hold(conn, req, data, data_len);
		else
			mock_request_execute(conn, req, data);
		break;
	}
	return mock_conn_closed(conn) ? -1 : 0;
}
