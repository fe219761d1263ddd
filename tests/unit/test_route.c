/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the engine's routing decisions (client/route.c): cutting
 * ios at chunk and size limits, walking iovecs, validating ios, choosing
 * nodes, map refresh decisions, backoff, address parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

static void test_piece_len_boundaries(void **state)
{
	uint64_t chunk = 64 * KiB;

	/* inside one chunk: whole length */
	assert_true(nb_route_piece_len(0, 4096, chunk, 0) == 4096);
	assert_true(nb_route_piece_len(4096, chunk - 4096, chunk, 0) == chunk - 4096);
	/* crossing: cut at the boundary */
	assert_true(nb_route_piece_len(chunk - 512, 1024, chunk, 0) == 512);
	assert_true(nb_route_piece_len(chunk, 1024, chunk, 0) == 1024);
	assert_true(nb_route_piece_len(3 * chunk - 100, 2 * chunk, chunk, 0) == 100);
	/* size limit smaller than the chunk rest */
	assert_true(nb_route_piece_len(0, chunk, chunk, 16 * KiB) == 16 * KiB);
	assert_true(nb_route_piece_len(chunk - 4096, 8192, chunk, 2048) == 2048);
	/* a limit larger than the chunk rest does not matter */
	assert_true(nb_route_piece_len(chunk - 4096, 8192, chunk, MiB) == 4096);
	/* huge offsets near the top of the range */
	assert_true(nb_route_piece_len(UINT64_MAX - 4095, 4096, 1ull << 30, 0) == 4096);
}

static void test_count_pieces(void **state)
{
	uint64_t chunk = 64 * KiB;

	assert_true(nb_route_count_pieces(0, 0, chunk, 0) == 0);
	assert_true(nb_route_count_pieces(0, 512, chunk, 0) == 1);
	assert_true(nb_route_count_pieces(0, chunk, chunk, 0) == 1);
	assert_true(nb_route_count_pieces(512, chunk, chunk, 0) == 2);
	/* 3 chunks plus a bit on each side = 5 pieces */
	assert_true(nb_route_count_pieces(chunk - 512, 3 * chunk + 1024, chunk, 0) == 5);
	/* 1 MiB in 256 KiB requests within 1 MiB chunks */
	assert_true(nb_route_count_pieces(0, MiB, MiB, 256 * KiB) == 4);
}

/* Every cut stays in one chunk, respects the limit and covers the range. */
static void test_pieces_cover_range(void **state)
{
	const uint64_t chunks[] = { 4096, 64 * KiB, MiB };
	const uint64_t limits[] = { 0, 512, 12288, 128 * KiB };

	for (size_t ci = 0; ci < 3; ci++) {
		for (size_t li = 0; li < 4; li++) {
			for (uint64_t off = 0; off < 3 * chunks[ci]; off += 1536) {
				uint64_t len = (off * 7 + 512) % (5 * chunks[ci]) + 512;
				uint64_t pos = off, left = len, count = 0;

				while (left) {
					uint64_t n = nb_route_piece_len(pos, left,
								     chunks[ci],
								     limits[li]);
					assert_true(n > 0 && n <= left);
					assert_true(pos / chunks[ci] ==
						    (pos + n - 1) / chunks[ci]);
					if (limits[li])
						assert_true(n <= limits[li]);
					pos += n;
					left -= n;
					count++;
				}
				assert_true(pos == off + len);
				assert_true(count == nb_route_count_pieces(
					off, len, chunks[ci], limits[li]));
			}
		}
	}
}

static void test_iov_advance(void **state)
{
	char a[100], c[50], d[200];
	struct iovec iov[] = {
		{ a, sizeof(a) }, { NULL, 0 }, { c, sizeof(c) }, { d, sizeof(d) },
	};
	struct nb_iov_pos pos = { 0, 0 };

	assert_true(iov_total(iov, 4) == 350);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 0), 0);
	assert_int_equal(pos.idx, 0);
	/* the end of a segment normalises past the empty one */
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 100), 0);
	assert_int_equal(pos.idx, 2);
	assert_true(pos.off == 0);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 60), 0);
	assert_int_equal(pos.idx, 3);
	assert_true(pos.off == 10);
	/* beyond the end: refused, position kept */
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 191), -EINVAL);
	assert_int_equal(pos.idx, 3);
	assert_true(pos.off == 10);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 190), 0);
	assert_int_equal(pos.idx, 4);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 1), -EINVAL);
}

/*
 * Cut an io over guest-page-like segments into pieces, gather each piece's
 * bytes from its starting position: the concatenation is the original.
 */
static void test_iov_slicing_across_segments(void **state)
{
	enum { N = 7 };
	static const size_t seg_len[N] = { 4096, 512, 0, 4096, 1000, 3096, 8192 };
	uint8_t *seg[N], expect[21 * 1024], got[sizeof(expect)];
	struct iovec iov[N];
	size_t total = 0;

	for (int i = 0; i < N; i++) {
		seg[i] = malloc(seg_len[i] + 1);
		assert_non_null(seg[i]);
		for (size_t j = 0; j < seg_len[i]; j++)
			seg[i][j] = expect[total + j] = (uint8_t)(i * 31 + j * 7);
		iov[i].iov_base = seg[i];
		iov[i].iov_len = seg_len[i];
		total += seg_len[i];
	}
	assert_true(total == iov_total(iov, N));

	const uint64_t chunks[] = { 4096, 8192 };
	const uint64_t limits[] = { 0, 1536, 2560 };
	for (size_t ci = 0; ci < 2; ci++) {
		for (size_t li = 0; li < 3; li++) {
			uint64_t start = 2560; /* io offset inside the volume */
			uint64_t off = start, left = total, out = 0;
			struct nb_iov_pos pos = { 0, 0 };

			memset(got, 0, sizeof(got));
			while (left) {
				uint64_t n = nb_route_piece_len(off, left, chunks[ci],
							     limits[li]);
				struct nb_iov_pos p = pos;
				uint64_t k = n;

				/* gather as the connection does */
				nb_iov_advance(iov, N, &p, 0);
				while (k) {
					size_t m = iov[p.idx].iov_len - p.off;

					if (m > k)
						m = k;
					memcpy(got + out, (uint8_t *)iov[p.idx].iov_base + p.off, m);
					out += m;
					k -= m;
					assert_int_equal(nb_iov_advance(iov, N, &p, m), 0);
				}
				assert_int_equal(nb_iov_advance(iov, N, &pos, n), 0);
				off += n;
				left -= n;
			}
			assert_true(out == total);
			assert_memory_equal(got, expect, total);
		}
	}
	for (int i = 0; i < N; i++)
		free(seg[i]);
}

static void test_done(struct session_io *io, int result)
{
}

static void test_io_validate(void **state)
{
	struct rpc_volume_info vol = {
		.size = 8 * MiB, .block_size = 512,
		.max_discard_size = 1 * MiB, .max_write_zeroes_size = 0,
	};
	char buf[8192];
	struct iovec iov[2] = { { buf, 4096 }, { buf + 4096, 4096 } };
	struct session_io io = {
		.op = SESSION_OP_READ, .offset = 0, .length = 8192,
		.iov = iov, .iovcnt = 2, .done = test_done,
	};

	assert_int_equal(nb_route_io_validate(&io, &vol, false), 0);
	io.op = SESSION_OP_WRITE;
	io.flags = SESSION_FLAG_FUA;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), 0);
	/* read-only: accepted, fails with -EROFS */
	assert_int_equal(nb_route_io_validate(&io, &vol, true), -EROFS);
	vol.read_only = true;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EROFS);
	vol.read_only = false;
	/* UNMAP is for WRITE_ZEROES only */
	io.flags = SESSION_FLAG_UNMAP;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.flags = 1u << 7;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.flags = 0;
	/* iovecs shorter than length */
	io.length = 8704;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	/* unaligned */
	io.length = 4000;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.length = 4096;
	io.offset = 100;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	/* beyond the end, and wrapping */
	io.offset = 8 * MiB - 2048;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.offset = UINT64_MAX - 511;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.offset = 8 * MiB - 4096;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), 0);
	/* zero-length read/write */
	io.length = 0;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	/* no done callback */
	io.length = 4096;
	io.done = NULL;
	assert_int_equal(nb_route_io_validate(&io, &vol, false), -EINVAL);
	io.done = test_done;

	/* FLUSH: no range, no data; zero length fine */
	struct session_io fl = { .op = SESSION_OP_FLUSH, .done = test_done };
	assert_int_equal(nb_route_io_validate(&fl, &vol, false), 0);
	fl.flags = SESSION_FLAG_FUA;
	assert_int_equal(nb_route_io_validate(&fl, &vol, false), -EINVAL);

	/* DISCARD supported, WRITE_ZEROES not (limit 0) */
	struct session_io d = { .op = SESSION_OP_DISCARD, .offset = 4096,
				.length = 3 * MiB, .done = test_done };
	assert_int_equal(nb_route_io_validate(&d, &vol, false), 0);
	d.op = SESSION_OP_WRITE_ZEROES;
	d.flags = SESSION_FLAG_UNMAP | SESSION_FLAG_FUA;
	assert_int_equal(nb_route_io_validate(&d, &vol, false), -EOPNOTSUPP);
	/* not an op */
	d.op = SESSION_OP_NONE;
	d.flags = 0;
	assert_int_equal(nb_route_io_validate(&d, &vol, false), -EINVAL);
	d.op = SESSION_OP_MAX;
	assert_int_equal(nb_route_io_validate(&d, &vol, false), -EINVAL);
}

static void test_op_max_len(void **state)
{
	struct rpc_volume_info vol = {
		.size = MiB, .block_size = 4096,
		.max_discard_size = 1000000, .max_write_zeroes_size = 300,
	};

	assert_true(nb_route_op_max_len(RPC_OP_READ, &vol, 131072) == 131072);
	assert_true(nb_route_op_max_len(RPC_OP_WRITE, &vol, 1000) == 512);
	assert_true(nb_route_op_max_len(RPC_OP_DISCARD, &vol, 131072) == 999936);
	assert_true(nb_route_op_max_len(RPC_OP_WRITE_ZEROES, &vol, 131072) == 0);
	assert_true(nb_route_op_max_len(RPC_OP_FLUSH, &vol, 131072) == 0);
	assert_int_equal(route_wire_op(SESSION_OP_WRITE_ZEROES),
			 RPC_OP_WRITE_ZEROES);
	assert_int_equal(route_wire_op(SESSION_OP_NONE), RPC_OP_NONE);
	assert_int_equal(route_wire_op(SESSION_OP_MAX), RPC_OP_NONE);
	assert_int_equal(route_wire_flags(SESSION_FLAG_FUA | SESSION_FLAG_UNMAP),
			 RPC_FLAG_FUA | RPC_FLAG_UNMAP);
	assert_true(nb_route_op_writes(RPC_OP_WRITE));
	assert_true(nb_route_op_writes(RPC_OP_DISCARD));
	assert_true(nb_route_op_writes(RPC_OP_WRITE_ZEROES));
	assert_false(nb_route_op_writes(RPC_OP_READ));
	assert_false(nb_route_op_writes(RPC_OP_FLUSH));
}

static bool test_usable(uint32_t node, void *opaque)
{
	const bool *up = opaque;

	return up[node];
}

/* A map of n nodes, groups as given, with the placements given. */
static struct map test_map_of(uint32_t n, const uint32_t *groups,
			      struct map_placement *pls, uint32_t n_pls)
{
	struct map m = { .epoch = 1, .chunk_size = 65536, .n_nodes = n,
			 .n_chunks = n_pls, .chunks = pls };

	for (uint32_t i = 0; i < n; i++)
		m.groups[i] = groups[i];
	return m;
}

static void test_pick(void **state)
{
	uint32_t nodes[] = { 2, 0, 1 };
	uint32_t groups[] = { 1, 1, 1 };   /* one shared store */
	struct map_placement pl = { .n = 3, .nodes = nodes };
	struct map m = test_map_of(3, groups, &pl, 1);
	bool up[3] = { true, true, true };

	/* the preferred node first */
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), 0);
	/* preferred down: next in order */
	up[2] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), 1);
	/* start from a later position (after an IO_ERROR), wrapping */
	up[2] = true;
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 1);
	up[0] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 2);
	up[1] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 0);
	assert_int_equal(nb_route_pick(&m, &pl, 4, test_usable, up), 0);
	/* nobody */
	up[2] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), -1);
	struct map_placement empty = { .n = 0, .nodes = NULL };
	assert_int_equal(nb_route_pick(&m, &empty, 0, test_usable, up), -1);
	assert_int_equal(nb_route_pick(NULL, &pl, 0, test_usable, up), -1);
	assert_int_equal(nb_route_candidates(&m, &pl), 3);
}

/*
 * Failover only within the first node's store: nodes without a group
 * own their data alone, nodes of another group hold other data.
 */
static void test_pick_groups(void **state)
{
	uint32_t nodes[] = { 0, 1, 2, 3 };
	uint32_t alone[] = { 0, 0, 0, 0 };
	uint32_t mixed[] = { 1, 2, 1, 0 };
	struct map_placement pl = { .n = 4, .nodes = nodes };
	struct map m = test_map_of(4, alone, &pl, 1);
	bool up[4] = { true, true, true, true };

	/* no groups: the first node only, whatever else is up */
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), 0);
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 0);
	up[0] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), -1);
	assert_int_equal(nb_route_pick(&m, &pl, 2, test_usable, up), -1);
	assert_int_equal(nb_route_candidates(&m, &pl), 1);
	assert_true(nb_route_candidate(&m, &pl, 0));
	assert_false(nb_route_candidate(&m, &pl, 1));
	assert_false(nb_route_candidate(&m, &pl, 7));

	/* first node in group 1: node 2 (group 1) may stand in, node 1
	 * (group 2) and node 3 (alone) may not */
	m = test_map_of(4, mixed, &pl, 1);
	assert_int_equal(nb_route_candidates(&m, &pl), 2);
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), 2);
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 2);
	up[2] = false;
	assert_int_equal(nb_route_pick(&m, &pl, 0, test_usable, up), -1);
	up[0] = true;
	assert_int_equal(nb_route_pick(&m, &pl, 1, test_usable, up), 0);
	assert_int_equal(nb_route_pick(&m, &pl, 3, test_usable, up), 0);
}

/* Nodes an engine may have written to: candidates of some placement. */
static void test_node_writable(void **state)
{
	uint32_t p0[] = { 0, 1, 2 }, p1[] = { 1, 0 }, p2[] = { 3, 2 };
	uint32_t groups[] = { 5, 0, 5, 0, 0 };
	struct map_placement pls[] = {
		{ .n = 3, .nodes = p0 }, { .n = 2, .nodes = p1 },
		{ .n = 2, .nodes = p2 },
	};
	struct map m = test_map_of(5, groups, pls, 3);

	assert_true(nb_route_node_writable(&m, 0));   /* first of p0 */
	assert_true(nb_route_node_writable(&m, 1));   /* first of p1 */
	assert_true(nb_route_node_writable(&m, 2));   /* group of node 0 */
	assert_true(nb_route_node_writable(&m, 3));   /* first of p2 */
	assert_false(nb_route_node_writable(&m, 4));  /* in no placement */

	/* node 2 only behind node 3, of no group: never written */
	pls[0].n = 2;
	assert_false(nb_route_node_writable(&m, 2));
}

/* Map refresh decisions: NOT_OWNER epochs and offered maps. */
static void test_map_epochs(void **state)
{
	/* node knows a newer map: refresh */
	assert_true(nb_route_should_refresh(7, 8));
	/* node did not say: refresh to be safe */
	assert_true(nb_route_should_refresh(7, 0));
	/* node is behind or equal: try another node instead */
	assert_false(nb_route_should_refresh(7, 7));
	assert_false(nb_route_should_refresh(7, 3));

	assert_true(nb_route_map_is_newer(0, 1));
	assert_true(nb_route_map_is_newer(7, 8));
	assert_false(nb_route_map_is_newer(7, 7));
	assert_false(nb_route_map_is_newer(8, 7));
	assert_true(nb_route_map_is_newer(UINT64_MAX - 1, UINT64_MAX));
}

static void test_backoff(void **state)
{
	uint64_t rnd = 1;

	for (uint32_t attempt = 0; attempt < 40; attempt++) {
		for (int k = 0; k < 20; k++) {
			double d = nb_route_backoff(attempt, 0.05, 5.0, nb_route_rand(&rnd));
			double nominal = 0.05 * (double)(1ull << (attempt < 20 ? attempt : 20));

			if (nominal > 5.0)
				nominal = 5.0;
			assert_true(d >= 0.75 * nominal - 1e-9);
			assert_true(d < 1.25 * nominal + 1e-9);
		}
	}
	/* jitter really varies */
	double a = nb_route_backoff(3, 0.05, 5.0, 0), b = nb_route_backoff(3, 0.05, 5.0, 999);
	assert_true(b > a);
}

static void test_addr_split(void **state)
{
	char host[64], port[8];

	assert_int_equal(nb_route_addr_split("127.0.0.1:7001", host, sizeof(host),
					  port, sizeof(port)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "7001");
	assert_int_equal(nb_route_addr_split("[::1]:65535", host, sizeof(host),
					  port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "65535");
	assert_int_equal(nb_route_addr_split("node-a.example:1", host, sizeof(host),
					  port, sizeof(port)), 0);
	assert_string_equal(host, "node-a.example");

	static const char *const bad[] = {
		"", "host", "host:", ":7001", "host:0", "host:65536",
		"host:12a", "::1:7001", "[::1]7001", "[::1:7001", "[host]:7001",
		"[]:7001", "ho]st:1", "host:-1", "host:1234567",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (nb_route_addr_split(bad[i], host, sizeof(host), port,
				     sizeof(port)) != -EINVAL)
			fail_msg("address '%s' was accepted", bad[i]);
	}
	/* a host part too long for the buffer */
	assert_int_equal(nb_route_addr_split("abcdefghijkl:1", host, 8, port,
					  sizeof(port)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_piece_len_boundaries),
		cmocka_unit_test(test_count_pieces),
		cmocka_unit_test(test_pieces_cover_range),
		cmocka_unit_test(test_iov_advance),
		cmocka_unit_test(test_iov_slicing_across_segments),
		cmocka_unit_test(test_io_validate),
		cmocka_unit_test(test_op_max_len),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pick_groups),
		cmocka_unit_test(test_node_writable),
		cmocka_unit_test(test_map_epochs),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_addr_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
