/* SPDX-License-Identifier: MIT */
/* Writes well-formed seed inputs for the RPC fuzzers with the real
 * encoders:  gen_seeds rpc DIR | stream DIR
 *   rpc:    inputs for fuzz_rpc (selector byte + frame header, request
 *           header or reply header);
 *   stream: byte streams of whole frames (fixed header, protobuf header,
 *           payload) for the stream fuzzers (fuzz_mock: requests a client
 *           sends; fuzz_conn: replies a node sends);
 *   conn:   inputs for fuzz_conn (flags, read chunk, a node's replies to
 *           the requests that target queues, with the ids it will use).
 * Run once by hand; its output is committed under corpus/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "rpc.h"

static const char *gen_dir;

static void gen_write(const char *name, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", gen_dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static int gen_req(const struct rpc_request *req, uint32_t dlen,
		   uint8_t *out, size_t cap)
{
	int n = nb_rpc_request_encode(req, dlen, out, cap);

	if (n < 0 || (size_t)n + dlen > cap) {
		fprintf(stderr, "encode %s: %d\n", nb_rpc_op_name(req->op), n);
		exit(1);
	}
	memset(out + n, 0xa5, dlen);
	return n + (int)dlen;
}

static int gen_rep(const struct rpc_reply *rep, uint32_t dlen,
		   uint8_t *out, size_t cap)
{
	int n = nb_rpc_reply_encode(rep, dlen, out, cap);

	if (n < 0 || (size_t)n + dlen > cap) {
		fprintf(stderr, "encode reply: %d\n", n);
		exit(1);
	}
	memset(out + n, 0x5a, dlen);
	return n + (int)dlen;
}

/* fuzz_conn: HELLO replies (ids 1, 2), then replies to slots 0..3 of
 * generation 1 (READ 4096, WRITE, FLUSH, DISCARD), then slot 0 of
 * generation 2 (WRITE_ZEROES, sent when the READ was answered). */
/* A node's HANDSHAKE reply (id 1) granting max_inflight requests. */
static void gen_hello_reply(struct rpc_reply *rep, uint32_t max_inflight)
{
	memset(rep, 0, sizeof(*rep));
	rep->id = 1;
	rep->has_handshake = true;
	rep->handshake.version = 1;
	rep->handshake.max_inflight = max_inflight;
	rep->handshake.max_io_size = 1 << 20;
	strcpy(rep->handshake.name, "node0");
}

static int gen_conn(struct map *map)
{
	static uint8_t out[1 << 16];
	struct rpc_reply rep;
	int m;

	for (int variant = 0; variant < 3; variant++) {
		m = 0;
		out[m++] = variant == 2 ? 1 : 0;	/* admin conn */
		out[m++] = variant == 1 ? 7 : 0;	/* read chunk */
		gen_hello_reply(&rep, 4);
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		rep.has_handshake = false;
		if (variant == 2) {
			rep.id = 1ULL << 32;
			rep.has_volume = true;
			strcpy(rep.volume.volume, "vol0");
			rep.volume.size = 1 << 20;
			rep.volume.block_size = 512;
			m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
			rep.id = 1ULL << 32 | 1;
			rep.status = RPC_STATUS_EXISTS;
			strcpy(rep.message, "exists");
			m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
			gen_write("admin", out, m, NULL, 0);
			continue;
		}
		rep.id = 2;
		rep.has_volume = true;
		strcpy(rep.volume.volume, "vol0");
		rep.volume.size = 1 << 20;
		rep.volume.block_size = 512;
		rep.volume.max_discard_size = 1 << 20;
		rep.volume.max_write_zeroes_size = 1 << 20;
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		rep.has_volume = false;
		rep.id = 1ULL << 32;
		m += gen_rep(&rep, 4096, out + m, sizeof(out) - m);
		rep.id = 1ULL << 32 | 1;
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		rep.id = 1ULL << 32 | 2;
		rep.status = RPC_STATUS_IO_ERROR;
		strcpy(rep.message, "media error");
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		rep.id = 1ULL << 32 | 3;
		rep.status = RPC_STATUS_NOT_OWNER;
		rep.epoch = 3;
		rep.map = map;
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		rep.map = NULL;
		rep.status = RPC_STATUS_OK;
		rep.message[0] = '\0';
		rep.id = 2ULL << 32;
		m += gen_rep(&rep, 0, out + m, sizeof(out) - m);
		gen_write(variant ? "session-chunked" : "session", out, m,
			  NULL, 0);
	}
	nb_map_free(map);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16], frame[1 << 16];
	struct rpc_request req;
	struct rpc_reply rep;
	struct map *map;
	char err[256];
	uint8_t sel;
	int n, m, op;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_seeds rpc|stream|conn DIR\n");
		return 2;
	}
	gen_dir = argv[2];
	if (nb_map_parse("epoch 3\nchunk_size 1M\nnode 127.0.0.1:7001\n"
		      "node [::1]:7002\nchunk 0 1\nchunk 1 0\n", &map, err,
		      sizeof(err)) < 0) {
		fprintf(stderr, "map: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "rpc")) {
		char name[64];

		sel = 0;
		nb_rpc_frame_hdr_encode(buf, RPC_KIND_REQUEST, 40, 4096);
		memset(buf + RPC_FRAME_HDR_SIZE, 0xff, 4);
		gen_write("frame", &sel, 1, buf, RPC_FRAME_HDR_SIZE + 4);
		for (op = RPC_OP_HANDSHAKE; op < RPC_OP_MAX; op++) {
			memset(&req, 0, sizeof(req));
			req.id = 1000 + op;
			req.op = op;
			req.offset = 8192;
			req.length = 4096;
			req.flags = op == RPC_OP_WRITE ? RPC_FLAG_FUA : 0;
			req.epoch = 3;
			req.handshake.version = 1;
			req.handshake.max_inflight = 64;
			req.handshake.max_io_size = 1 << 20;
			strcpy(req.handshake.name, "fuzz-client");
			strcpy(req.volume, "vol0");
			req.create_size = 1 << 20;
			req.create_block_size = 512;
			n = gen_req(&req, 0, buf, sizeof(buf));
			sel = 1;
			snprintf(name, sizeof(name), "req-%s", nb_rpc_op_name(op));
			gen_write(name, &sel, 1, buf + RPC_FRAME_HDR_SIZE,
				  n - RPC_FRAME_HDR_SIZE);
		}
		memset(&rep, 0, sizeof(rep));
		rep.id = 7;
		rep.status = RPC_STATUS_NOT_OWNER;
		strcpy(rep.message, "not mine");
		rep.epoch = 4;
		rep.has_handshake = rep.has_volume = true;
		rep.handshake.version = 1;
		strcpy(rep.handshake.name, "node0");
		strcpy(rep.volume.volume, "vol0");
		rep.volume.size = 1 << 30;
		rep.volume.block_size = 4096;
		rep.map = map;
		n = gen_rep(&rep, 0, buf, sizeof(buf));
		sel = 2;
		gen_write("rep-full", &sel, 1, buf + RPC_FRAME_HDR_SIZE,
			  n - RPC_FRAME_HDR_SIZE);
		nb_map_free(map);
		return 0;
	}
	if (!strcmp(argv[1], "conn"))
		return gen_conn(map);
	/* stream: a client's session (handshake, open, I/O) ... */
	memset(&req, 0, sizeof(req));
	m = 0;
	req.id = 1;
	req.op = RPC_OP_HANDSHAKE;
	req.handshake.version = 1;
	req.handshake.max_inflight = 64;
	req.handshake.max_io_size = 1 << 20;
	strcpy(req.handshake.name, "fuzz-client");
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 2;
	req.op = RPC_OP_OPEN;
	strcpy(req.volume, "vol0");
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	gen_write("req-open", frame, m, NULL, 0);
	req.id = 3;
	req.op = RPC_OP_WRITE;
	req.offset = 4096;
	req.length = 1024;
	m += gen_req(&req, 1024, frame + m, sizeof(frame) - m);
	req.id = 4;
	req.op = RPC_OP_READ;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 5;
	req.op = RPC_OP_FLUSH;
	req.offset = req.length = 0;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 6;
	req.op = RPC_OP_DISCARD;
	req.offset = 0;
	req.length = 8192;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 7;
	req.op = RPC_OP_WRITE_ZEROES;
	req.flags = RPC_FLAG_UNMAP;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 8;
	req.op = RPC_OP_GET_MAP;
	req.flags = 0;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 9;
	req.op = RPC_OP_INFO;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	req.id = 10;
	req.op = RPC_OP_PING;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	gen_write("req-session", frame, m, NULL, 0);
	m = 0;
	req.id = 1;
	req.op = RPC_OP_CREATE;
	strcpy(req.volume, "new");
	req.create_size = 1 << 20;
	req.create_block_size = 512;
	m += gen_req(&req, 0, frame + m, sizeof(frame) - m);
	gen_write("req-create", frame, m, NULL, 0);
	/* ... and a node's replies to ids 1.. (handshake, open, read data) */
	m = 0;
	gen_hello_reply(&rep, 64);
	m += gen_rep(&rep, 0, frame + m, sizeof(frame) - m);
	rep.has_handshake = false;
	rep.id = 2;
	rep.has_volume = true;
	strcpy(rep.volume.volume, "vol0");
	rep.volume.size = 1 << 20;
	rep.volume.block_size = 512;
	rep.volume.max_discard_size = 1 << 20;
	rep.volume.max_write_zeroes_size = 1 << 20;
	m += gen_rep(&rep, 0, frame + m, sizeof(frame) - m);
	gen_write("rep-open", frame, m, NULL, 0);
	rep.has_volume = false;
	rep.id = 3;
	m += gen_rep(&rep, 4096, frame + m, sizeof(frame) - m);
	rep.id = 4;
	rep.status = RPC_STATUS_NOT_OWNER;
	rep.epoch = 3;
	rep.map = map;
	strcpy(rep.message, "moved");
	m += gen_rep(&rep, 0, frame + m, sizeof(frame) - m);
	rep.map = NULL;
	rep.id = 5;
	rep.status = RPC_STATUS_IO_ERROR;
	m += gen_rep(&rep, 0, frame + m, sizeof(frame) - m);
	gen_write("rep-session", frame, m, NULL, 0);
	nb_map_free(map);
	return 0;
}
