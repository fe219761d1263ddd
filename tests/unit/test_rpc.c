/* SPDX-License-Identifier: MIT */
/* Unit tests of the RPC layer: framing and message encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map.h"
#include "rpc.h"

static void test_frame_hdr_roundtrip(void **state)
{
	uint8_t buf[RPC_FRAME_HDR_SIZE];
	struct rpc_frame_hdr h;

	nb_rpc_frame_hdr_encode(buf, RPC_KIND_REPLY, 37, 4096);
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), 0);
	assert_int_equal(h.kind, RPC_KIND_REPLY);
	assert_int_equal(h.hdr_len, 37);
	assert_int_equal(h.data_len, 4096);
	/* "NBLK" on the wire, big-endian lengths */
	assert_memory_equal(buf, "NBLK", 4);
	assert_int_equal(buf[15], 0x00);
	assert_int_equal(buf[14], 0x10);
}

static void test_frame_hdr_rejects_bad(void **state)
{
	uint8_t good[RPC_FRAME_HDR_SIZE], buf[RPC_FRAME_HDR_SIZE];
	struct rpc_frame_hdr h;

	nb_rpc_frame_hdr_encode(good, RPC_KIND_REQUEST, 10, 100);

	memcpy(buf, good, sizeof(buf));
	buf[0] ^= 1; /* magic */
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), -EPROTO);
	memcpy(buf, good, sizeof(buf));
	buf[4] = 2; /* version */
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), -EPROTO);
	memcpy(buf, good, sizeof(buf));
	buf[5] = 3; /* kind */
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), -EPROTO);
	memcpy(buf, good, sizeof(buf));
	buf[7] = 1; /* reserved */
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), -EPROTO);

	/* oversized header and payload */
	nb_rpc_frame_hdr_encode(buf, RPC_KIND_REQUEST, RPC_MAX_HDR_LEN + 1, 0);
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), -EMSGSIZE);
	nb_rpc_frame_hdr_encode(buf, RPC_KIND_REQUEST, 10, 4097);
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 4096), -EMSGSIZE);
	/* the caller's limit cannot raise the absolute cap */
	nb_rpc_frame_hdr_encode(buf, RPC_KIND_REQUEST, 10, RPC_MAX_DATA_LEN + 1);
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, UINT32_MAX), -EMSGSIZE);
}

static void test_request_roundtrip(void **state)
{
	struct rpc_request in = {
		.id = 0x1122334455667788ull, .op = RPC_OP_WRITE,
		.offset = 1ull << 40, .length = 65536,
		.flags = RPC_FLAG_FUA, .epoch = 9,
	};
	struct rpc_request out;
	struct rpc_frame_hdr h;
	uint8_t buf[512];
	int n;

	n = nb_rpc_request_encode(&in, 65536, buf, sizeof(buf));
	assert_true(n > RPC_FRAME_HDR_SIZE);
	assert_true((size_t)n <= nb_rpc_request_encoded_max(&in));
	assert_int_equal(nb_rpc_frame_hdr_decode(buf, &h, 1 << 20), 0);
	assert_int_equal(h.kind, RPC_KIND_REQUEST);
	assert_int_equal(h.data_len, 65536);
	assert_int_equal(h.hdr_len, n - RPC_FRAME_HDR_SIZE);
	assert_int_equal(nb_rpc_request_decode(buf + RPC_FRAME_HDR_SIZE,
					    h.hdr_len, &out), 0);
	assert_true(out.id == in.id);
	assert_int_equal(out.op, RPC_OP_WRITE);
	assert_true(out.offset == in.offset);
	assert_true(out.length == in.length);
	assert_int_equal(out.flags, RPC_FLAG_FUA);
	assert_true(out.epoch == 9);
}

static void test_request_handshake_open_create(void **state)
{
	struct rpc_request in = { .id = 1, .op = RPC_OP_HANDSHAKE };
	struct rpc_request out;
	uint8_t buf[1024];
	int n;

	in.handshake.version = 1;
	in.handshake.max_inflight = 64;
	in.handshake.max_io_size = 1 << 20;
	strcpy(in.handshake.name, "host-a");
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.handshake.max_inflight, 64);
	assert_int_equal(out.handshake.max_io_size, 1 << 20);
	assert_string_equal(out.handshake.name, "host-a");

	memset(&in, 0, sizeof(in));
	in.id = 2;
	in.op = RPC_OP_OPEN;
	strcpy(in.volume, "vol-7");
	in.read_only = true;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.op, RPC_OP_OPEN);
	assert_string_equal(out.volume, "vol-7");
	assert_true(out.read_only);
	assert_string_equal(out.owner, "");
	assert_false(out.break_lock);

	memset(&in, 0, sizeof(in));
	in.id = 4;
	in.op = RPC_OP_OPEN;
	strcpy(in.volume, "vol-8");
	strcpy(in.owner, "vda@host-b");
	in.break_lock = true;
	in.lock_generation = 12;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_string_equal(out.owner, "vda@host-b");
	assert_true(out.break_lock);
	assert_true(out.lock_generation == 12);
	assert_false(out.read_only);

	memset(&in, 0, sizeof(in));
	in.id = 5;
	in.op = RPC_OP_UNLOCK;
	strcpy(in.volume, "vol-8");
	strcpy(in.owner, "admin@host-c");
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.op, RPC_OP_UNLOCK);
	assert_string_equal(out.volume, "vol-8");
	assert_string_equal(out.owner, "admin@host-c");

	memset(&in, 0, sizeof(in));
	in.id = 3;
	in.op = RPC_OP_CREATE;
	strcpy(in.volume, "new");
	in.create_size = 1ull << 30;
	in.create_block_size = 4096;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_string_equal(out.volume, "new");
	assert_true(out.create_size == 1ull << 30);
	assert_int_equal(out.create_block_size, 4096);
}

/* DELETE (owner, force), RESIZE (new size) and LIST (start, page size). */
static void test_request_admin_ops(void **state)
{
	struct rpc_request in, out;
	uint8_t buf[1024];
	int n;

	memset(&in, 0, sizeof(in));
	in.id = 6;
	in.op = RPC_OP_DELETE;
	strcpy(in.volume, "gone");
	strcpy(in.owner, "csi@ctl");
	in.break_lock = true;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.op, RPC_OP_DELETE);
	assert_string_equal(out.volume, "gone");
	assert_string_equal(out.owner, "csi@ctl");
	assert_true(out.break_lock);
	assert_string_equal(nb_rpc_op_name(RPC_OP_DELETE), "DELETE");

	memset(&in, 0, sizeof(in));
	in.id = 7;
	in.op = RPC_OP_RESIZE;
	strcpy(in.volume, "grow");
	in.create_size = 3ull << 30;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.op, RPC_OP_RESIZE);
	assert_string_equal(out.volume, "grow");
	assert_true(out.create_size == 3ull << 30);

	memset(&in, 0, sizeof(in));
	in.id = 8;
	in.op = RPC_OP_LIST;
	strcpy(in.volume, "after-this");
	in.list_max = 17;
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.op, RPC_OP_LIST);
	assert_string_equal(out.volume, "after-this");
	assert_int_equal(out.list_max, 17);
	assert_string_equal(nb_rpc_op_name(RPC_OP_LIST), "LIST");
}

/* A LIST reply: every volume with its size, the more flag; owned list. */
static void test_reply_list(void **state)
{
	struct rpc_volume_info vols[3];
	struct rpc_reply in = { .id = 9, .status = RPC_STATUS_OK }, out;
	uint8_t *buf;
	size_t cap;
	int n;

	memset(vols, 0, sizeof(vols));
	strcpy(vols[0].volume, "a");
	vols[0].size = 1 << 20;
	vols[0].block_size = 512;
	strcpy(vols[1].volume, "b");
	vols[1].size = 1ull << 40;
	vols[1].block_size = 4096;
	vols[1].read_only = true;
	memset(vols[2].volume, 'z', RPC_NAME_MAX);
	vols[2].size = 4096;
	in.has_list = true;
	in.list = vols;
	in.n_list = 3;
	in.list_more = true;
	cap = nb_rpc_reply_encoded_max(&in);
	buf = malloc(cap);
	assert_non_null(buf);
	n = nb_rpc_reply_encode(&in, 0, buf, cap);
	assert_true(n > 16);
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), 0);
	assert_true(out.has_list && out.list_more);
	assert_int_equal(out.n_list, 3);
	assert_string_equal(out.list[0].volume, "a");
	assert_true(out.list[1].size == 1ull << 40);
	assert_int_equal(out.list[1].block_size, 4096);
	assert_true(out.list[1].read_only);
	assert_int_equal(strlen(out.list[2].volume), RPC_NAME_MAX);
	nb_rpc_reply_clear(&out);
	assert_null(out.list);

	/* an empty page is a list too; more than RPC_LIST_MAX is refused */
	in.n_list = 0;
	in.list_more = false;
	n = nb_rpc_reply_encode(&in, 0, buf, cap);
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), 0);
	assert_true(out.has_list && !out.list_more);
	assert_int_equal(out.n_list, 0);
	nb_rpc_reply_clear(&out);
	in.n_list = RPC_LIST_MAX + 1;
	assert_int_equal(nb_rpc_reply_encode(&in, 0, buf, cap), -EINVAL);
	free(buf);
}

static void test_request_encode_limits(void **state)
{
	struct rpc_request in = { .id = 1, .op = RPC_OP_READ, .length = 4096 };
	uint8_t buf[512];

	/* buffer too small for the header */
	assert_int_equal(nb_rpc_request_encode(&in, 0, buf, 8), -ENOSPC);
	in.op = RPC_OP_NONE;
	assert_int_equal(nb_rpc_request_encode(&in, 0, buf, sizeof(buf)), -EINVAL);
	in.op = RPC_OP_MAX;
	assert_int_equal(nb_rpc_request_encode(&in, 0, buf, sizeof(buf)), -EINVAL);
}

static void test_request_decode_rejects(void **state)
{
	struct rpc_request in = { .id = 5, .op = RPC_OP_OPEN };
	struct rpc_request out;
	uint8_t buf[1024];
	uint8_t junk[64];
	int n, i;

	/* OPEN without its sub-message: hand-made protobuf, id=5 op=2 */
	static const uint8_t open_no_body[] = { 0x08, 0x05, 0x10, 0x02 };
	assert_int_equal(nb_rpc_request_decode(open_no_body, sizeof(open_no_body),
					    &out), -EBADMSG);
	/* unknown op 99 */
	static const uint8_t unknown_op[] = { 0x08, 0x05, 0x10, 99 };
	assert_int_equal(nb_rpc_request_decode(unknown_op, sizeof(unknown_op),
					    &out), -EBADMSG);
	/* empty message means op NONE */
	assert_int_equal(nb_rpc_request_decode(buf, 0, &out), -EBADMSG);

	/* every truncation of a valid message fails or decodes, never crashes */
	strcpy(in.volume, "volume-name");
	n = nb_rpc_request_encode(&in, 0, buf, sizeof(buf));
	for (i = 0; i < n - 16; i++)
		(void)nb_rpc_request_decode(buf + 16, i, &out);
	assert_int_equal(nb_rpc_request_decode(buf + 16, n - 16, &out), 0);

	/* random bytes */
	srand(1);
	for (i = 0; i < 2000; i++) {
		size_t j;

		for (j = 0; j < sizeof(junk); j++)
			junk[j] = rand();
		(void)nb_rpc_request_decode(junk, rand() % sizeof(junk), &out);
	}
}

static void test_request_name_too_long(void **state)
{
	/* field 11 (open), length-delimited, containing field 1 string of 300 */
	uint8_t buf[400];
	struct rpc_request out;
	size_t n = 0;

	buf[n++] = 0x08; buf[n++] = 1;           /* id = 1 */
	buf[n++] = 0x10; buf[n++] = RPC_OP_OPEN; /* op */
	buf[n++] = (11 << 3) | 2;                /* open */
	buf[n++] = 0x80 | ((303) & 0x7f); buf[n++] = 303 >> 7;
	buf[n++] = (1 << 3) | 2;                 /* volume */
	buf[n++] = 0x80 | (300 & 0x7f); buf[n++] = 300 >> 7;
	memset(buf + n, 'a', 300);
	n += 300;
	assert_int_equal(nb_rpc_request_decode(buf, n, &out), -EBADMSG);
}

static void test_reply_roundtrip_with_map(void **state)
{
	struct rpc_reply in = { .id = 77, .status = RPC_STATUS_OK };
	struct rpc_reply out;
	struct map *map;
	char err[128];
	uint8_t *buf;
	size_t cap;
	int n;

	assert_int_equal(nb_map_parse("epoch 4\nchunk_size 1M\n"
				   "node 127.0.0.1:1 group 3\nnode 127.0.0.1:2\n"
				   "chunk 1 0\nchunk 0\n",
				   &map, err, sizeof(err)), 0);
	in.has_handshake = true;
	in.handshake.version = 1;
	in.handshake.max_inflight = 128;
	in.handshake.max_io_size = 1 << 20;
	strcpy(in.handshake.name, "node-1");
	in.handshake.writes_durable = true;
	in.has_volume = true;
	strcpy(in.volume.lock.owner, "vol1@host-a");
	in.volume.lock.generation = 41;
	in.volume.lock.since = 1700000000;
	strcpy(in.volume.volume, "v");
	in.volume.size = 1ull << 33;
	in.volume.block_size = 4096;
	in.volume.read_only = true;
	in.volume.max_discard_size = 1 << 25;
	in.volume.max_write_zeroes_size = 1 << 24;
	in.map = map;
	cap = nb_rpc_reply_encoded_max(&in);
	buf = malloc(cap);
	n = nb_rpc_reply_encode(&in, 0, buf, cap);
	assert_true(n > 16);
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), 0);
	assert_true(out.id == 77);
	assert_int_equal(out.status, RPC_STATUS_OK);
	assert_true(out.has_handshake && out.has_volume);
	assert_string_equal(out.handshake.name, "node-1");
	assert_true(out.handshake.writes_durable);
	assert_string_equal(out.volume.lock.owner, "vol1@host-a");
	assert_true(out.volume.lock.generation == 41);
	assert_true(out.volume.lock.since == 1700000000);
	assert_int_equal(out.map->groups[0], 3);
	assert_int_equal(out.map->groups[1], 0);
	assert_true(out.volume.size == 1ull << 33);
	assert_int_equal(out.volume.block_size, 4096);
	assert_true(out.volume.read_only);
	assert_int_equal(out.volume.max_write_zeroes_size, 1 << 24);
	assert_non_null(out.map);
	assert_true(out.map->epoch == 4);
	assert_true(out.map->chunk_size == 1 << 20);
	assert_int_equal(out.map->n_nodes, 2);
	assert_string_equal(out.map->nodes[1], "127.0.0.1:2");
	assert_int_equal(out.map->n_chunks, 2);
	assert_int_equal(out.map->chunks[0].n, 2);
	assert_int_equal(out.map->chunks[0].nodes[0], 1);
	assert_int_equal(out.map->chunks[1].nodes[0], 0);
	nb_rpc_reply_clear(&out);
	assert_null(out.map);
	free(buf);
	nb_map_free(map);
}

static void test_reply_error_message(void **state)
{
	struct rpc_reply in = { .id = 3, .status = RPC_STATUS_NOT_OWNER,
				.epoch = 12 };
	struct rpc_reply out;
	uint8_t buf[1024];
	int n;

	strcpy(in.message, "chunk 5 is not served here");
	n = nb_rpc_reply_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), 0);
	assert_int_equal(out.status, RPC_STATUS_NOT_OWNER);
	assert_true(out.epoch == 12);
	assert_string_equal(out.message, "chunk 5 is not served here");
	assert_null(out.map);
	/* an OK reply to request id 0 is valid and encodes to nothing */
	memset(&in, 0, sizeof(in));
	n = nb_rpc_reply_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(n, RPC_FRAME_HDR_SIZE);
	assert_int_equal(nb_rpc_reply_decode(buf + 16, 0, &out), 0);
	assert_int_equal(out.status, RPC_STATUS_OK);
}

static void test_reply_decode_rejects_bad_map(void **state)
{
	/* A map with chunk_size 1000 (not a power of two) must be refused. */
	struct map bad = { .epoch = 1, .chunk_size = 1000, .n_nodes = 1 };
	uint32_t idx0 = 0;
	struct map_placement pl = { .n = 1, .nodes = &idx0 };
	char *nodes[] = { "127.0.0.1:1" };
	struct rpc_reply in = { .id = 1 };
	struct rpc_reply out;
	uint8_t buf[1024];
	int n;

	bad.nodes = nodes;
	bad.n_chunks = 1;
	bad.chunks = &pl;
	in.map = &bad;
	n = nb_rpc_reply_encode(&in, 0, buf, sizeof(buf));
	assert_true(n > 16);
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), -EBADMSG);
	assert_null(out.map);

	/* a placement naming a node the map does not have */
	bad.chunk_size = 4096;
	idx0 = 3;
	n = nb_rpc_reply_encode(&in, 0, buf, sizeof(buf));
	assert_int_equal(nb_rpc_reply_decode(buf + 16, n - 16, &out), -EBADMSG);
	/* unknown status */
	static const uint8_t unknown_status[] = { 0x08, 0x01, 0x10, 77 };
	assert_int_equal(nb_rpc_reply_decode(unknown_status, 4, &out), -EBADMSG);
}

static void test_names(void **state)
{
	assert_string_equal(nb_rpc_op_name(RPC_OP_WRITE_ZEROES), "WRITE_ZEROES");
	assert_string_equal(nb_rpc_op_name(1000), "UNKNOWN_OP");
	assert_string_equal(nb_rpc_status_name(RPC_STATUS_NOT_OWNER), "NOT_OWNER");
	assert_string_equal(nb_rpc_status_name(-1), "UNKNOWN_STATUS");
	assert_true(nb_rpc_op_has_request_data(RPC_OP_WRITE));
	assert_false(nb_rpc_op_has_request_data(RPC_OP_READ));
	assert_true(nb_rpc_op_has_reply_data(RPC_OP_READ));
	assert_false(nb_rpc_op_has_reply_data(RPC_OP_FLUSH));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_hdr_roundtrip),
		cmocka_unit_test(test_frame_hdr_rejects_bad),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_handshake_open_create),
		cmocka_unit_test(test_request_encode_limits),
		cmocka_unit_test(test_request_decode_rejects),
		cmocka_unit_test(test_request_name_too_long),
		cmocka_unit_test(test_reply_roundtrip_with_map),
		cmocka_unit_test(test_reply_error_message),
		cmocka_unit_test(test_request_admin_ops),
		cmocka_unit_test(test_reply_list),
		cmocka_unit_test(test_reply_decode_rejects_bad_map),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
