/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the RPC layer's decoders, fed as a hostile peer would.
 *
 * Byte 0 picks the decoder: 0 the fixed frame header, 1 a request header
 * (what a node decodes), 2 a reply header (what a client decodes, cluster
 * map included).  Whatever decodes is encoded again and decoded a second
 * time; the two decodings must agree, so a value the decoder accepts but
 * the encoder cannot carry (or carries differently) is a finding too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "rpc.h"

static void fz_rpc_frame(const uint8_t *data, size_t size)
{
	struct rpc_frame_hdr hdr, again;
	uint8_t buf[RPC_FRAME_HDR_SIZE];
	uint32_t max = 0;

	if (size < RPC_FRAME_HDR_SIZE + 4)
		return;
	memcpy(&max, data + RPC_FRAME_HDR_SIZE, 4);
	if (nb_rpc_frame_hdr_decode(data, &hdr, max) < 0)
		return;
	if (hdr.hdr_len > RPC_MAX_HDR_LEN || hdr.data_len > RPC_MAX_DATA_LEN ||
	    (hdr.kind != RPC_KIND_REQUEST && hdr.kind != RPC_KIND_REPLY))
		abort();
	nb_rpc_frame_hdr_encode(buf, hdr.kind, hdr.hdr_len, hdr.data_len);
	if (nb_rpc_frame_hdr_decode(buf, &again, RPC_MAX_DATA_LEN) < 0 ||
	    again.kind != hdr.kind || again.hdr_len != hdr.hdr_len ||
	    again.data_len != hdr.data_len)
		abort();
}

static void fz_rpc_request(const uint8_t *data, size_t size)
{
	struct rpc_request req, again;
	struct rpc_frame_hdr hdr;
	uint8_t *buf;
	size_t cap;
	int n;

	if (nb_rpc_request_decode(data, size, &req) < 0)
		return;
	if (req.op >= RPC_OP_MAX || strnlen(req.volume, sizeof(req.volume)) ==
	    sizeof(req.volume) || strnlen(req.handshake.name,
	    sizeof(req.handshake.name)) == sizeof(req.handshake.name))
		abort();
	nb_rpc_op_name(req.op);
	cap = nb_rpc_request_encoded_max(&req);
	buf = malloc(cap);
	if (!buf)
		abort();
	n = nb_rpc_request_encode(&req, 0, buf, cap);
	if (n < RPC_FRAME_HDR_SIZE)
		abort();	/* decoded but cannot be encoded again */
	if (nb_rpc_frame_hdr_decode(buf, &hdr, 0) < 0 ||
	    hdr.kind != RPC_KIND_REQUEST ||
	    hdr.hdr_len != (uint32_t)n - RPC_FRAME_HDR_SIZE ||
	    nb_rpc_request_decode(buf + RPC_FRAME_HDR_SIZE, hdr.hdr_len,
			       &again) < 0)
		abort();
	if (again.id != req.id || again.op != req.op ||
	    again.offset != req.offset || again.length != req.length ||
	    again.flags != req.flags || again.epoch != req.epoch ||
	    strcmp(again.volume, req.volume) ||
	    strcmp(again.handshake.name, req.handshake.name))
		abort();
	free(buf);
}

static void fz_rpc_reply(const uint8_t *data, size_t size)
{
	struct rpc_reply rep, again;
	struct rpc_frame_hdr hdr;
	char err[256];
	uint8_t *buf;
	size_t cap;
	int n;

	memset(&rep, 0, sizeof(rep));
	if (nb_rpc_reply_decode(data, size, &rep) < 0) {
		if (rep.map)
			abort();	/* failed decode must not leave a map */
		return;
	}
	if (rep.status >= RPC_STATUS_MAX ||
	    strnlen(rep.message, sizeof(rep.message)) == sizeof(rep.message))
		abort();
	nb_rpc_status_name(rep.status);
	if (rep.map) {
		/* a decoded map may still be invalid: the client checks */
		if (nb_map_validate(rep.map, err, sizeof(err)) == 0) {
			nb_map_placement_of(rep.map, rep.epoch);
			nb_map_node_serves_range(rep.map, 0, rep.epoch,
					      rep.volume.size);
		} else if (!err[0]) {
			abort();	/* refused without a reason */
		}
	}
	cap = nb_rpc_reply_encoded_max(&rep);
	buf = malloc(cap);
	if (!buf)
		abort();
	n = nb_rpc_reply_encode(&rep, 0, buf, cap);
	if (n >= RPC_FRAME_HDR_SIZE) {
		memset(&again, 0, sizeof(again));
		if (nb_rpc_frame_hdr_decode(buf, &hdr, 0) < 0 ||
		    hdr.kind != RPC_KIND_REPLY ||
		    nb_rpc_reply_decode(buf + RPC_FRAME_HDR_SIZE, hdr.hdr_len,
				     &again) < 0)
			abort();
		if (again.id != rep.id || again.status != rep.status ||
		    again.epoch != rep.epoch ||
		    strcmp(again.message, rep.message) ||
		    again.has_volume != rep.has_volume ||
		    again.volume.size != rep.volume.size ||
		    !again.map != !rep.map)
			abort();
		nb_rpc_reply_clear(&again);
	} else if (!rep.map) {
		/* only an unencodable (invalid) map may make encoding fail */
		abort();
	}
	free(buf);
	nb_rpc_reply_clear(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fz_rpc_frame(data + 1, size - 1);
		break;
	case 1:
		fz_rpc_request(data + 1, size - 1);
		break;
	default:
		fz_rpc_reply(data + 1, size - 1);
		break;
	}
	return 0;
}
