/* SPDX-License-Identifier: MIT */
/*
 * The writer lock of the stores (srv_store.h): the rules
 * (nb_store_lock_decide), the lock file's text, and the memory and file
 * stores: fencing of write-class requests, the lock surviving a new store
 * over the same directory, one lock shared by two stores over one file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "srv_store.h"

static struct nb_store_lock lk(const char *owner, uint64_t gen, uint64_t since)
{
	struct nb_store_lock l = { .gen = gen, .since = since };

	snprintf(l.owner, sizeof(l.owner), "%s", owner);
	return l;
}

static void test_rules_take(void **state)
{
	struct nb_store_lock free7 = lk("", 7, 0), held = lk("a@h", 3, 100), next;

	/* Free: taken with the next generation. */
	assert_int_equal(nb_store_lock_decide(&free7, "a@h", false, 0, 500, &next), 0);
	assert_string_equal(next.owner, "a@h");
	assert_int_equal(next.gen, 8);
	assert_int_equal(next.since, 500);
	/* Same owner: kept, same generation and since. */
	assert_int_equal(nb_store_lock_decide(&held, "a@h", false, 0, 500, &next), 0);
	assert_int_equal(next.gen, 3);
	assert_int_equal(next.since, 100);
	assert_int_equal(nb_store_lock_decide(&held, "a@h", true, 3, 500, &next), 0);
	assert_int_equal(next.gen, 3);
	/* Another owner: LOCKED unless break, which bumps. */
	next = lk("untouched", 99, 0);
	assert_int_equal(nb_store_lock_decide(&held, "b@h", false, 0, 500, &next), -EBUSY);
	assert_string_equal(next.owner, "untouched");
	assert_int_equal(nb_store_lock_decide(&held, "b@h", true, 0, 500, &next), 0);
	assert_string_equal(next.owner, "b@h");
	assert_int_equal(next.gen, 4);
	/* A generation that moved on: FENCED, first, even with break. */
	assert_int_equal(nb_store_lock_decide(&held, "a@h", false, 2, 500, &next), -ESTALE);
	assert_int_equal(nb_store_lock_decide(&held, "b@h", true, 2, 500, &next), -ESTALE);
	assert_int_equal(nb_store_lock_decide(&free7, "a@h", false, 7, 500, &next), 0);
	assert_int_equal(next.gen, 8);
	/* A store that forgot the lock (a restarted memory node): the holder
	 * of generation 5 keeps it at 5; another owner holding a lower one
	 * is not overridden. */
	{
		struct nb_store_lock forgot = lk("", 0, 0), other = lk("c@h", 1, 50);

		assert_int_equal(nb_store_lock_decide(&forgot, "a@h", false, 5, 600, &next), 0);
		assert_string_equal(next.owner, "a@h");
		assert_int_equal(next.gen, 5);
		assert_int_equal(next.since, 600);
		assert_int_equal(nb_store_lock_decide(&other, "a@h", false, 5, 600, &next), -ESTALE);
	}
	/* No owner is not a take. */
	assert_int_equal(nb_store_lock_decide(&free7, "", false, 0, 500, &next), -EINVAL);
}

static void test_rules_break(void **state)
{
	struct nb_store_lock held = lk("a@h", 3, 100), next;

	assert_int_equal(nb_store_lock_break_decide(&held, 0, &next), 0);
	assert_string_equal(next.owner, "");
	assert_int_equal(next.gen, 4);
	assert_int_equal(next.since, 0);
	assert_int_equal(nb_store_lock_break_decide(&held, 3, &next), 0);
	assert_int_equal(nb_store_lock_break_decide(&held, 2, &next), -ESTALE);
}

static void test_lock_text(void **state)
{
	struct nb_store_lock a = lk("client one@host-1", 18446744073709551615ull, 1700000000), b;
	char buf[512];
	int n;

	n = nb_store_lock_format(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(nb_store_lock_parse(buf, (size_t)n, &b), 0);
	assert_string_equal(b.owner, a.owner);
	assert_true(b.gen == a.gen);
	assert_int_equal(b.since, a.since);
	assert_int_equal(nb_store_lock_parse("owner\ngen 5\n", 12, &b), 0);
	assert_string_equal(b.owner, "");
	assert_int_equal(b.gen, 5);
	assert_int_equal(nb_store_lock_parse("owner x\n", 8, &b), -EINVAL);
	assert_int_equal(nb_store_lock_parse("gen 5x\n", 7, &b), -EINVAL);
	assert_int_equal(nb_store_lock_parse("bogus 1\ngen 1\n", 14, &b), -EINVAL);
	assert_int_equal(nb_store_lock_format(&a, buf, 10), -ENOSPC);
}

/* ---- stores ---- */

static void test_io_done(struct nb_store_io *io)
{
	(void)io;
}

/* Submit a write-class request (synchronous stores) and return its result. */
static int test_write(struct nb_store_vol *vol, enum nb_store_op op, bool gen,
		      uint64_t g, void *buf)
{
	struct nb_store_io io = {
		.op = op, .offset = 0, .length = op == NB_STORE_FLUSH ? 0 : 4096,
		.buf = buf, .flags = gen ? NB_STORE_GEN : 0, .gen = g,
		.complete = test_io_done, .result = 1,
	};

	vol->store->ops->submit(vol, &io);
	assert_int_not_equal(io.result, 1);
	return io.result;
}

static void test_memory_fencing(void **state)
{
	struct nb_store *st = nb_store_memory_new();
	const struct nb_store_ops *ops = st->ops;
	struct nb_store_vol *vol;
	struct nb_store_lock l;
	uint8_t buf[4096] = { 1 };

	assert_int_equal(nb_store_memory_add(st, "m", 1 << 20, 512, false), 0);
	assert_int_equal(ops->open(st, "m", &vol), 0);
	assert_int_equal(ops->lock_take(vol, "a", false, 0, &l), 0);
	assert_int_equal(l.gen, 1);
	assert_true(ops->lock_is_current(vol, 1));
	assert_int_equal(test_write(vol, NB_STORE_WRITE, true, 1, buf), 0);
	assert_int_equal(ops->lock_take(vol, "b", false, 0, &l), -EBUSY);
	assert_string_equal(l.owner, "a");
	assert_int_equal(ops->lock_take(vol, "b", true, 0, &l), 0);
	assert_int_equal(l.gen, 2);
	assert_false(ops->lock_is_current(vol, 1));
	for (int op = NB_STORE_WRITE; op < NB_STORE_OP_MAX; op++)
		assert_int_equal(test_write(vol, op, true, 1, buf), -ESTALE);
	assert_int_equal(test_write(vol, NB_STORE_WRITE, true, 2, buf), 0);
	/* Without NB_STORE_GEN (read-only checks aside) nothing is checked. */
	assert_int_equal(test_write(vol, NB_STORE_WRITE, false, 0, buf), 0);
	assert_int_equal(ops->lock_break(vol, 1, &l), -ESTALE);
	assert_int_equal(ops->lock_break(vol, 2, &l), 0);
	assert_int_equal(l.gen, 3);
	assert_int_equal(ops->lock_get(vol, &l), 0);
	assert_string_equal(l.owner, "");
	ops->close(vol);
	nb_store_destroy(st);
}

static char test_dir[] = "/tmp/test_store_lock.XXXXXX";

static void test_file_persists(void **state)
{
	char err[256], path[512];
	struct nb_store *st;
	struct nb_store_vol *vol;
	struct nb_store_lock l;
	uint8_t buf[4096] = { 2 };

	st = nb_store_file_new(test_dir, true, 0, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->ops->create(st, "v", 1 << 20, 512), 0);
	assert_int_equal(st->ops->open(st, "v", &vol), 0);
	assert_int_equal(st->ops->lock_take(vol, "a", false, 0, &l), 0);
	assert_int_equal(st->ops->lock_take(vol, "b", true, 0, &l), 0);
	assert_int_equal(l.gen, 2);
	assert_int_equal(test_write(vol, NB_STORE_WRITE, true, 1, buf), -ESTALE);
	assert_int_equal(test_write(vol, NB_STORE_FLUSH, true, 2, buf), 0);
	nb_store_destroy(st);
	snprintf(path, sizeof(path), "%s/v.lock", test_dir);
	assert_int_equal(access(path, R_OK), 0);

	/* A new store (a restarted node) finds the lock as it was. */
	st = nb_store_file_new(test_dir, true, 0, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->ops->open(st, "v", &vol), 0);
	assert_int_equal(st->ops->lock_get(vol, &l), 0);
	assert_string_equal(l.owner, "b");
	assert_int_equal(l.gen, 2);
	assert_int_equal(st->ops->lock_take(vol, "a", false, 0, &l), -EBUSY);
	assert_int_equal(st->ops->lock_take(vol, "b", false, 2, &l), 0);
	assert_int_equal(l.gen, 2);
	assert_int_equal(test_write(vol, NB_STORE_WRITE, true, 2, buf), 0);
	nb_store_destroy(st);
}

static void test_file_shared(void **state)
{
	struct nb_store *s1, *s2;
	struct nb_store_vol *v1, *v2;
	struct nb_store_lock l;
	char err[256], path[512];
	uint8_t buf[4096] = { 3 };

	/* Two unmanaged stores over one file: two mock processes. */
	snprintf(path, sizeof(path), "%s/shared.img", test_dir);
	s1 = nb_store_file_new(NULL, false, 0, err, sizeof(err));
	s2 = nb_store_file_new(NULL, false, 0, err, sizeof(err));
	assert_non_null(s1);
	assert_non_null(s2);
	assert_int_equal(nb_store_file_add(s1, "d", path, 1 << 20, 512, false), 0);
	assert_int_equal(nb_store_file_add(s2, "d", path, 1 << 20, 512, false), 0);
	assert_int_equal(s1->ops->open(s1, "d", &v1), 0);
	assert_int_equal(s2->ops->open(s2, "d", &v2), 0);
	assert_int_equal(s1->ops->lock_take(v1, "a", false, 0, &l), 0);
	assert_int_equal(l.gen, 1);
	assert_int_equal(s2->ops->lock_take(v2, "b", false, 0, &l), -EBUSY);
	assert_string_equal(l.owner, "a");
	assert_int_equal(test_write(v1, NB_STORE_WRITE, true, 1, buf), 0);
	assert_int_equal(s2->ops->lock_take(v2, "b", true, 0, &l), 0);
	assert_int_equal(l.gen, 2);
	/* s1 has not looked yet: the early check may still say current ... */
	assert_true(s1->ops->lock_is_current(v1, 1));
	/* ... but the binding check at execution re-reads the file. */
	assert_int_equal(test_write(v1, NB_STORE_WRITE, true, 1, buf), -ESTALE);
	assert_false(s1->ops->lock_is_current(v1, 1));
	assert_int_equal(s1->ops->lock_get(v1, &l), 0);
	assert_string_equal(l.owner, "b");
	assert_int_equal(s1->ops->lock_break(v1, 0, &l), 0);
	assert_int_equal(test_write(v2, NB_STORE_DISCARD, true, 2, buf), -ESTALE);
	assert_int_equal(s2->ops->lock_get(v2, &l), 0);
	assert_int_equal(l.gen, 3);
	nb_store_destroy(s1);
	nb_store_destroy(s2);
}

static int test_setup(void **state)
{
	return mkdtemp(test_dir) ? 0 : -1;
}

static int test_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_take),
		cmocka_unit_test(test_rules_break),
		cmocka_unit_test(test_lock_text),
		cmocka_unit_test(test_memory_fencing),
		cmocka_unit_test(test_file_persists),
		cmocka_unit_test(test_file_shared),
	};

	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
