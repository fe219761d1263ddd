/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the engine's writer lock and fencing (lock.c; session.h,
 * "Fencing") against in-process fake nodes that keep a lock
 * (fake_node.c, lock_enabled): the generation granted is recorded and
 * presented again at reconnect; LOCKED fails the start with the holder;
 * --break-lock is sent only until the first grant; FENCED fails the
 * write with -EIO without a retry, later writes fail at once, reads go
 * on, and it is logged once with the new holder; a takeover presenting a
 * generation that moved on fails with -ESTALE; admin info and unlock;
 * nodes without a group are stores with a lock and generation each.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "admin.h"
#include "engine_env.h"
#include "fake_node.h"
#include "map.h"
#include "session.h"

#define KiB 1024u

/* n lock-keeping nodes over one disk and one lock (e->lock); chunk i
 * prefers node i % n. */
static struct engine_env *env_new(int n)
{
	struct engine_env *e = engine_env_new(n, n == 2 ? "chunk 0 1\nchunk 1 0\n" : NULL);

	for (int i = 0; i < n; i++) {
		e->node[i]->lock_enabled = true;
		e->node[i]->lock = &e->lock;
	}
	e->cfg.io_timeout = 10;
	e->cfg.client_name = "test_engine_lock";
	e->cfg.lock_owner = "web@host1";
	return e;
}

/* One io of buf (NULL: none), synchronously. */
static int io_sync(struct engine_env *e, struct session *c, enum session_op op,
		   uint64_t off, uint64_t len, void *buf)
{
	struct iovec iov = { buf, len };

	return engine_env_io(e, c, op, off, len, 0, buf ? &iov : NULL, buf ? 1 : 0);
}

/* ---- tests ---- */

static void test_generation_recorded(void **state)
{
	struct engine_env *e = env_new(2);
	uint8_t buf[4096];
	struct session_lock held;
	struct session *c;

	e->cfg.n_nodes = 1;	/* node 1 is found through the map */
	c = engine_env_open(e);
	nb_session_writer_lock(c, &held);
	assert_string_equal(held.owner, "web@host1");
	assert_int_equal(held.generation, 1);
	assert_int_equal(held.since, 1700000000);
	assert_false(nb_session_fenced(c));
	/* the first OPEN had no generation to present, and no break */
	assert_string_equal(e->node[0]->open_owner, "web@host1");
	assert_int_equal(e->node[0]->open_generation, 0);
	assert_false(e->node[0]->open_break);

	/* chunk 1 is node 1's: its OPEN presents the generation held */
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 64 * KiB, sizeof(buf),
				 buf), 0);
	assert_int_equal(e->node[1]->opens_rw, 1);
	assert_string_equal(e->node[1]->open_owner, "web@host1");
	assert_int_equal(e->node[1]->open_generation, 1);
	assert_memory_equal(e->disk.bytes + 64 * KiB, buf, sizeof(buf));
	assert_non_null(strstr(e->log, "writer lock held as 'web@host1' (generation 1, since 2023-11-14 22:13:20 UTC)"));
	nb_session_free(c);

	/* a second session of the same owner keeps the lock and generation */
	c = engine_env_open(e);
	nb_session_writer_lock(c, &held);
	assert_int_equal(held.generation, 1);
	nb_session_free(c);
	engine_env_free(e);
}

/* Two nodes without a group: two stores, each its own lock and generation. */
static void test_own_stores(void **state)
{
	struct engine_env *e = env_new(2);
	struct admin_store_lock *stores = NULL;
	struct session_lock held;
	struct session *c;
	uint8_t buf[4096];
	char text[512], err[256];

	nb_map_free(e->map);
	snprintf(text, sizeof(text),
		 "epoch 1\nchunk_size 64K\nnode %s\nnode %s\nchunk 0\nchunk 1\n",
		 e->node[0]->addr, e->node[1]->addr);
	if (nb_map_parse(text, &e->map, err, sizeof(err)) < 0)
		fail_msg("map: %s", err);
	for (int i = 0; i < 2; i++) {
		e->node[i]->map = e->map;
		e->node[i]->lock = &e->node[i]->own_lock;
	}
	e->node[1]->own_lock.generation = 6;	/* broken before, unlocked */

	e->cfg.n_nodes = 1;
	c = engine_env_open(e);
	memset(buf, 0xcd, sizeof(buf));
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 64 * KiB, sizeof(buf),
				 buf), 0);
	/* node 1's store was never granted: it presents no generation */
	assert_int_equal(e->node[1]->opens_rw, 1);
	assert_int_equal(e->node[1]->open_generation, 0);
	assert_int_equal(e->node[1]->own_lock.generation, 7);
	assert_false(nb_session_fenced(c));
	assert_int_equal(nb_session_locks_held(c), 2);
	/* several stores: no one generation for the state file */
	nb_session_writer_lock(c, &held);
	assert_int_equal(held.generation, 0);
	assert_non_null(strstr(e->log, "(generation 7, since 2023-11-14 22:13:20 UTC) (store of node"));

	/* a reconnect presents each store's own generation */
	fake_node_drop_all(e->node[1]);
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 64 * KiB, sizeof(buf),
				 buf), 0);
	assert_int_equal(e->node[1]->open_generation, 7);
	assert_false(nb_session_fenced(c));
	nb_session_free(c);

	/* the lock of each store, for release and unlock */
	assert_int_equal(nb_admin_store_locks(e->loop, &e->cfg, &stores, err,
					   sizeof(err)), 2);
	assert_int_equal(stores[0].err, 0);
	assert_int_equal(stores[0].lock.generation, 1);
	assert_string_equal(stores[1].lock.owner, "web@host1");
	assert_int_equal(stores[1].lock.generation, 7);
	assert_string_equal(stores[1].node, e->node[1]->addr);
	free(stores);
	engine_env_free(e);
}

static void test_locked_start(void **state)
{
	struct engine_env *e = env_new(1);
	char err[512];

	snprintf(e->lock.owner, sizeof(e->lock.owner), "db@host2");
	e->lock.generation = 3;
	e->lock.since = 1700000000;
	errno = 0;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(err, "volume 'vol0' is locked by 'db@host2' (generation 3, since 2023-11-14 22:13:20 UTC)"));
	assert_non_null(strstr(err, e->node[0]->addr));

	/* a node that names the holder in its message only */
	e->node[0]->locked_bare = true;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(err, "locked by another writer"));
	assert_non_null(strstr(err, "'db@host2'"));

	/* read-only: no lock asked, none checked */
	e->cfg.read_only = true;
	struct session *c = engine_env_open(e);
	struct session_lock held;

	nb_session_writer_lock(c, &held);
	assert_int_equal(held.generation, 0);
	assert_int_equal(e->node[0]->opens_ro, 1);
	nb_session_free(c);
	assert_string_equal(e->lock.owner, "db@host2");
	engine_env_free(e);
}

static void test_break_lock(void **state)
{
	struct engine_env *e = env_new(1);
	uint8_t buf[4096] = { 1 };
	struct session_lock held;
	struct session *c;

	snprintf(e->lock.owner, sizeof(e->lock.owner), "db@host2");
	e->lock.generation = 3;
	e->cfg.break_lock = true;
	c = engine_env_open(e);
	assert_true(e->node[0]->open_break);
	nb_session_writer_lock(c, &held);
	assert_string_equal(held.owner, "web@host1");
	assert_int_equal(held.generation, 4);

	/* a reconnect presents the generation, and breaks nothing */
	fake_node_drop_all(e->node[0]);
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 0, sizeof(buf), buf), 0);
	assert_int_equal(e->node[0]->opens_rw, 2);
	assert_false(e->node[0]->open_break);
	assert_int_equal(e->node[0]->open_generation, 4);
	assert_int_equal(e->lock.generation, 4);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_fenced_write(void **state)
{
	struct engine_env *e = env_new(1);
	uint8_t buf[4096], rd[4096];
	struct session *c;
	unsigned writes;

	c = engine_env_open(e);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 0, sizeof(buf), buf), 0);

	/* another host breaks the lock: our next write is FENCED */
	fake_node_break_lock(e->node[0], "db@host2");
	writes = e->node[0]->reqs[RPC_OP_WRITE];
	memset(buf, 0x22, sizeof(buf));
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 0, sizeof(buf), buf),
			 -EIO);
	assert_int_equal(e->node[0]->reqs[RPC_OP_WRITE], writes + 1); /* no retry */
	assert_true(nb_session_fenced(c));
	engine_env_run_until(e, NULL, "writer lock lost");
	assert_non_null(strstr(e->log, "volume vol0: writer lock lost (now held by 'db@host2' (generation 2, since 2023-11-14 22:23:20 UTC), generation 2 > ours 1): writes fail with I/O errors"));

	/* later writes fail at once, without reaching a node */
	writes = e->node[0]->reqs[RPC_OP_WRITE];
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 8192, sizeof(buf), buf),
			 -EIO);
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE_ZEROES, 0, 4096, NULL),
			 -EIO);
	assert_int_equal(io_sync(e, c, SESSION_OP_FLUSH, 0, 0, NULL), -EIO);
	assert_int_equal(e->node[0]->reqs[RPC_OP_WRITE], writes);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);

	/* reads go on, also over a new connection (opened read-only) */
	assert_int_equal(io_sync(e, c, SESSION_OP_READ, 0, sizeof(rd), rd), 0);
	memset(buf, 0x11, sizeof(buf));
	assert_memory_equal(rd, buf, sizeof(rd));
	fake_node_drop_all(e->node[0]);
	assert_int_equal(io_sync(e, c, SESSION_OP_READ, 0, sizeof(rd), rd), 0);
	assert_int_equal(e->node[0]->opens_ro, 1);
	assert_memory_equal(rd, buf, sizeof(rd));
	/* logged once */
	assert_int_equal(engine_env_count(e->log, "writer lock lost"), 1);
	nb_session_free(c);
	engine_env_free(e);
}

/* The sessions of one device (one per queue) share fence_logged: the
 * lost lock is one error line, the other sessions say it at LOG_INFO. */
static void test_fenced_logged_once(void **state)
{
	struct engine_env *e = env_new(1);
	uint8_t buf[4096];
	struct session *c[3];
	int fence_logged = 0;

	e->cfg.fence_logged = &fence_logged;
	for (int i = 0; i < 3; i++)
		c[i] = engine_env_open(e);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(io_sync(e, c[0], SESSION_OP_WRITE, 0, sizeof(buf), buf), 0);
	fake_node_break_lock(e->node[0], "db@host2");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(io_sync(e, c[i], SESSION_OP_WRITE, 0, sizeof(buf), buf),
				 -EIO);
		assert_true(nb_session_fenced(c[i]));
	}
	/* a session that did not learn the holder asks a node first */
	for (int i = 0; i < 5000 && engine_env_count(e->log, "writer lock lost") < 3; i++) {
		engine_env_settle(e, 1);
		usleep(1000);
	}
	assert_int_equal(engine_env_count(e->log, "writer lock lost"), 3);
	assert_int_equal(e->log_errors, 1);
	assert_int_equal(fence_logged, 1);
	for (int i = 0; i < 3; i++)
		nb_session_free(c[i]);
	engine_env_free(e);
}

static void test_fenced_at_reconnect(void **state)
{
	struct engine_env *e = env_new(1);
	uint8_t buf[4096] = { 7 }, rd[4096];
	struct session *c;

	c = engine_env_open(e);
	/* the lock is broken and released while we were disconnected */
	fake_node_drop_all(e->node[0]);
	fake_node_break_lock(e->node[0], "");
	assert_int_equal(io_sync(e, c, SESSION_OP_READ, 0, sizeof(rd), rd), 0);
	assert_true(nb_session_fenced(c));
	assert_int_equal(e->node[0]->open_generation, 1); /* presented, refused */
	assert_string_equal(e->lock.owner, "");           /* not taken again */
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 0, sizeof(buf), buf),
			 -EIO);
	assert_int_equal(e->node[0]->reqs[RPC_OP_WRITE], 0);
	engine_env_run_until(e, NULL, "writer lock lost");
	assert_non_null(strstr(e->log, "now held by nobody (generation 2), generation 2 > ours 1"));
	nb_session_free(c);
	engine_env_free(e);
}

static void test_takeover_generation(void **state)
{
	struct engine_env *e = env_new(1);
	struct session_lock held;
	struct session *c;
	char err[512];

	/* the predecessor's generation, still current: kept */
	snprintf(e->lock.owner, sizeof(e->lock.owner), "web@host1");
	e->lock.generation = 5;
	e->cfg.lock_generation = 5;
	c = engine_env_open(e);
	assert_int_equal(e->node[0]->open_generation, 5);
	nb_session_writer_lock(c, &held);
	assert_int_equal(held.generation, 5);
	nb_session_free(c);

	/* broken since: the new daemon must not take it back */
	fake_node_break_lock(e->node[0], "db@host2");
	errno = 0;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, ESTALE);
	assert_non_null(strstr(err, "writer lock at generation 5 was broken"));
	assert_string_equal(e->lock.owner, "db@host2");
	engine_env_free(e);
}

static void test_admin_lock(void **state)
{
	struct engine_env *e = env_new(1);
	struct session_volume info;
	struct session_lock lock, after;
	char err[512];

	snprintf(e->lock.owner, sizeof(e->lock.owner), "db@host2");
	e->lock.generation = 3;
	e->lock.since = 1700000000;
	assert_int_equal(nb_admin_info(e->loop, &e->cfg, e->node[0]->addr, &info,
				    &lock, err, sizeof(err)), 0);
	assert_string_equal(lock.owner, "db@host2");
	assert_int_equal(lock.generation, 3);
	assert_int_equal(lock.since, 1700000000);

	/* a release at a generation that moved on breaks nothing */
	assert_int_equal(nb_admin_unlock(e->loop, &e->cfg, e->node[0]->addr, 2,
				      &after, err, sizeof(err)), -ESTALE);
	assert_string_equal(e->lock.owner, "db@host2");
	assert_int_equal(nb_admin_unlock(e->loop, &e->cfg, e->node[0]->addr, 3,
				      &after, err, sizeof(err)), 0);
	assert_string_equal(after.owner, "");
	assert_int_equal(after.generation, 4);
	assert_string_equal(e->lock.owner, "");

	/* a node without locks */
	e->node[0]->lock_enabled = false;
	assert_int_equal(nb_admin_unlock(e->loop, &e->cfg, e->node[0]->addr, 0,
				      &after, err, sizeof(err)), -EOPNOTSUPP);
	assert_int_equal(nb_admin_info(e->loop, &e->cfg, e->node[0]->addr, &info,
				    &lock, err, sizeof(err)), 0);
	assert_int_equal(lock.generation, 0);
	engine_env_free(e);
}

static void test_no_lock_nodes(void **state)
{
	struct engine_env *e = env_new(1);
	uint8_t buf[4096] = { 3 };
	struct session_lock held;
	struct session *c;

	e->node[0]->lock_enabled = false;
	c = engine_env_open(e);
	nb_session_writer_lock(c, &held);
	assert_int_equal(held.generation, 0);
	assert_int_equal(io_sync(e, c, SESSION_OP_WRITE, 0, sizeof(buf), buf), 0);
	assert_false(nb_session_fenced(c));
	nb_session_free(c);
	engine_env_free(e);
}

/* A host name that names no one ("(none)" in a VM guest) gives way to
 * the machine id; a real one is kept. */
static void test_owner_host(void **state)
{
	char dir[] = "/tmp/test_engine_lock.XXXXXX", path[64], buf[256];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/machine-id", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);

	assert_int_equal(nb_session_lock_host("vm1", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "vm1");
	assert_int_equal(nb_session_lock_host("(none)", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "machine-0123456789ab");
	assert_int_equal(nb_session_lock_host("", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "machine-0123456789ab");
	assert_int_equal(nb_session_lock_host("localhost", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "machine-0123456789ab");
	/* no usable machine id */
	assert_int_equal(nb_session_lock_host("(none)", NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "localhost");
	assert_int_equal(nb_session_lock_host("", "/nonexistent/machine-id", buf,
					      sizeof(buf)), 0);
	assert_string_equal(buf, "localhost");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not-hex\n", f);
	fclose(f);
	assert_int_equal(nb_session_lock_host("(none)", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "localhost");
	unlink(path);
	rmdir(dir);
}

static void test_owner_helpers(void **state)
{
	char buf[SESSION_NAME_MAX + 1], small[4];
	struct session_lock l = { .owner = "", .generation = 7 };

	assert_int_equal(nb_session_lock_owner_default("netblk-vol0", buf,
						    sizeof(buf)), 0);
	assert_true(strncmp(buf, "netblk-vol0@", 12) == 0);
	assert_true(strlen(buf) > 12);
	assert_int_equal(nb_session_lock_owner_default("x", small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_true(nb_session_lock_owner_ok("a@b"));
	assert_false(nb_session_lock_owner_ok(""));
	assert_false(nb_session_lock_owner_ok("a\nb"));
	assert_string_equal(nb_session_lock_describe(&l, buf, sizeof(buf)),
			    "nobody (generation 7)");
	snprintf(l.owner, sizeof(l.owner), "o@h");
	assert_string_equal(nb_session_lock_describe(&l, buf, sizeof(buf)),
			    "'o@h' (generation 7)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generation_recorded),
		cmocka_unit_test(test_locked_start),
		cmocka_unit_test(test_break_lock),
		cmocka_unit_test(test_fenced_write),
		cmocka_unit_test(test_fenced_logged_once),
		cmocka_unit_test(test_fenced_at_reconnect),
		cmocka_unit_test(test_takeover_generation),
		cmocka_unit_test(test_admin_lock),
		cmocka_unit_test(test_no_lock_nodes),
		cmocka_unit_test(test_owner_helpers),
		cmocka_unit_test(test_owner_host),
		cmocka_unit_test(test_own_stores),
	};

	return cmocka_run_group_tests(tests, engine_env_setup, engine_env_teardown);
}
