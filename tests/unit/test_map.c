/* SPDX-License-Identifier: MIT */
/* Unit tests of the cluster map: text parsing, validation, lookups. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "map.h"

static void test_parse_full(void **state)
{
	struct map *m;
	char err[256];

	assert_int_equal(nb_map_parse("# cluster\n"
				   "epoch 7\n"
				   "chunk_size 64K   # small chunks\n"
				   "node 127.0.0.1:7001\n"
				   "node [::1]:7002\n"
				   "node host-c:7003\n"
				   "chunk 0 1\n"
				   "chunk 1 2\n"
				   "chunk 2\n",
				   &m, err, sizeof(err)), 0);
	assert_true(m->epoch == 7);
	assert_true(m->chunk_size == 65536);
	assert_int_equal(m->n_nodes, 3);
	assert_string_equal(m->nodes[1], "[::1]:7002");
	assert_int_equal(m->n_chunks, 3);
	assert_int_equal(nb_map_node_index(m, "host-c:7003"), 2);
	assert_int_equal(nb_map_node_index(m, "host-d:7003"), -ENOENT);

	/* chunk 4 uses placement 4 % 3 = 1: nodes 1 then 2 */
	assert_int_equal(nb_map_placement_of(m, 4)->nodes[0], 1);
	assert_int_equal(nb_map_placement_of(m, 4)->nodes[1], 2);
	assert_true(nb_map_node_serves(m, 2, 4));
	assert_false(nb_map_node_serves(m, 0, 4));
	assert_true(map_chunk_of(m, 65535) == 0);
	assert_true(map_chunk_of(m, 65536) == 1);

	/* node 1 serves chunks 0 and 1 but not 2 */
	assert_true(nb_map_node_serves_range(m, 1, 100, 65536));
	assert_false(nb_map_node_serves_range(m, 1, 100, 2 * 65536));
	assert_true(nb_map_node_serves_range(m, 2, 2 * 65536, 0));
	/* a range over every placement: only a node in all of them serves it */
	assert_false(nb_map_node_serves_range(m, 0, 0, 1ull << 40));
	/* overflowing range */
	assert_false(nb_map_node_serves_range(m, 1, UINT64_MAX - 10, 100));
	nb_map_free(m);
}

static void test_default_placements(void **state)
{
	struct map *m;
	char err[256];

	assert_int_equal(nb_map_parse("epoch 1\nchunk_size 1M\n"
				   "node a:1\nnode b:2\nnode c:3\n",
				   &m, err, sizeof(err)), 0);
	assert_int_equal(m->n_chunks, 3);
	/* placement i prefers node i, then the rest in order */
	assert_int_equal(m->chunks[1].n, 3);
	assert_int_equal(m->chunks[1].nodes[0], 1);
	assert_int_equal(m->chunks[1].nodes[1], 2);
	assert_int_equal(m->chunks[1].nodes[2], 0);
	/* every node serves everything, as a fallback */
	assert_true(nb_map_node_serves_range(m, 2, 0, 1ull << 30));
	nb_map_free(m);
}

static void expect_error(const char *text, const char *needle)
{
	struct map *m = NULL;
	char err[256] = "";

	assert_int_equal(nb_map_parse(text, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_parse_errors(void **state)
{
	expect_error("chunk_size 1M\nnode a:1\n", "epoch");
	expect_error("epoch 1\nnode a:1\n", "chunk_size");
	expect_error("epoch 1\nchunk_size 1M\n", "nodes");
	expect_error("epoch 1\nchunk_size 1000\nnode a:1\n", "power of two");
	expect_error("epoch 1\nchunk_size 1K\nnode a:1\n", "power of two");
	expect_error("epoch x\nchunk_size 1M\nnode a:1\n", "line 1");
	expect_error("epoch 1\nchunk_size 1M\nnode nocolon\n", "line 3");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nnode a:1\n", "twice");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nchunk 1\n", "names node 1");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nnode b:1\nchunk 0 0\n", "twice");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nchunk\n", "line 4");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nchunk -1\n", "not a node index");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1\nchunk 99999999999\n",
		     "not a node index");
	expect_error("epoch 1\nchunk_size 99999999999999999999G\nnode a:1\n",
		     "line 2");
	expect_error("epoch 1\nfoo bar\n", "unknown keyword 'foo'");
}

static void test_too_many_words(void **state)
{
	/* a chunk line with more indexes than a map can have nodes */
	size_t cap = 16 * (MAP_MAX_NODES + 10) + 64;
	char *text = malloc(cap);
	size_t n;
	int i;

	n = snprintf(text, cap, "epoch 1\nchunk_size 1M\nnode a:1\nchunk");
	for (i = 0; i < MAP_MAX_NODES + 5; i++)
		n += snprintf(text + n, cap - n, " 0");
	snprintf(text + n, cap - n, "\n");
	expect_error(text, "line 4");
	free(text);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_map_XXXXXX";
	struct map *m = NULL;
	char err[256];
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "epoch 2\nchunk_size 4M\nnode x:9\n", 31), 31);
	close(fd);
	assert_int_equal(nb_map_load_file(path, &m, err, sizeof(err)), 0);
	assert_true(m->chunk_size == 4u << 20);
	nb_map_free(m);

	/* a NUL byte in the file */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "epoch 2\0", 8), 8);
	close(fd);
	assert_true(nb_map_load_file(path, &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "NUL"));
	unlink(path);

	assert_int_equal(nb_map_load_file(path, &m, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

static void test_dup(void **state)
{
	struct map *m, *d;
	char err[256];

	assert_int_equal(nb_map_parse("epoch 3\nchunk_size 1M\nnode a:1\nnode b:2\n"
				   "chunk 1\n", &m, err, sizeof(err)), 0);
	d = nb_map_dup(m);
	assert_non_null(d);
	nb_map_free(m);
	assert_int_equal(nb_map_validate(d, err, sizeof(err)), 0);
	assert_string_equal(d->nodes[1], "b:2");
	assert_int_equal(d->chunks[0].nodes[0], 1);
	nb_map_free(d);
	nb_map_free(NULL);
}

/* Store groups: who may stand in for whom. */
static void test_groups(void **state)
{
	struct map *m, *d;
	char err[256];

	assert_int_equal(nb_map_parse("epoch 3\nchunk_size 1M\n"
				      "node a:1 group 7\nnode b:2 group 7\n"
				      "node c:3\nnode d:4 group 9\n",
				      &m, err, sizeof(err)), 0);
	assert_int_equal(m->groups[0], 7);
	assert_int_equal(m->groups[2], 0);
	assert_true(map_same_store(m, 0, 1));
	assert_true(map_same_store(m, 1, 0));
	assert_true(map_same_store(m, 2, 2));
	assert_false(map_same_store(m, 0, 2));
	assert_false(map_same_store(m, 2, 0));
	assert_false(map_same_store(m, 0, 3));
	d = nb_map_dup(m);
	assert_non_null(d);
	assert_int_equal(d->groups[3], 9);
	assert_false(map_same_store(d, 1, 3));
	nb_map_free(d);
	nb_map_free(m);

	/* Without group words every node is alone. */
	assert_int_equal(nb_map_parse("epoch 3\nchunk_size 1M\nnode a:1\nnode b:2\n",
				      &m, err, sizeof(err)), 0);
	assert_false(map_same_store(m, 0, 1));
	nb_map_free(m);

	expect_error("epoch 1\nchunk_size 1M\nnode a:1 group 0\n", "line 3: 'group' needs");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1 group x\n", "line 3: 'group' needs");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1 group\n", "line 3");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1 grope 1\n", "line 3");
	expect_error("epoch 1\nchunk_size 1M\nnode a:1 group 1 2\n", "line 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_default_placements),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_too_many_words),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_groups),
	};

	return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
