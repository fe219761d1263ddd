/* SPDX-License-Identifier: MIT */
/*
 * The node core's request path (server/request.c, request_admin.c,
 * node.c) on one connection, without TLS or a socket, as fuzz_mock
 * drives it: the mock's fault store over memory volumes, frames placed
 * in the connection's input, replies decoded from its output.
 *
 * Volume lifetimes around DELETE (a request held by a stall keeps its
 * volume through a second OPEN), DELETE racing a lock take, admin
 * requests on a volume another node deleted from a shared store, RESIZE
 * against a size grown elsewhere, and the size cap of CREATE/RESIZE.
 * Run it under ASan (-DSANITIZE=ON): the use-after-free cases only
 * crash there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock.h"
#include "srv_conn.h"

#define T_MAX_REPLIES 32

struct t_node {
	struct ev_loop *loop;
	SSL_CTX *ctx;
	struct mock_config mcfg;
	struct nb_srv_config cfg;
	struct mock_server ms;
	struct nb_srv srv;
	struct srv_worker w;
	struct srv_conn *conn;
	struct nb_store *mem;      /* below the fault store */
	int sv[2];
	uint64_t next_id;
	struct rpc_reply replies[T_MAX_REPLIES];
	unsigned n_replies;
};

static void t_node_start(struct t_node *t)
{
	struct map *map = NULL;
	char err[256];

	memset(t, 0, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	t->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(t->loop);
	assert_non_null(t->ctx);
	t->mcfg.has_seed = true;
	t->mcfg.seed = 1;
	t->mcfg.log_level = LOG_ERR;
	t->cfg.listen = "127.0.0.1";
	t->cfg.name = "test-node";
	t->cfg.allow_create = true;
	t->cfg.threads = 1;
	t->cfg.max_inflight = 8;
	t->cfg.max_io_size = 64 << 10;
	t->cfg.max_discard = 1 << 20;
	t->cfg.max_write_zeroes = 1 << 20;
	t->cfg.max_connections = 4;

	t->srv.loop = t->loop;
	t->srv.cfg = &t->cfg;
	t->srv.ssl_ctx = t->ctx;
	t->srv.listen_fd = -1;
	pthread_mutex_init(&t->srv.lock, NULL);
	t->srv.workers = &t->w;
	t->srv.n_workers = 1;
	t->w.srv = &t->srv;
	t->w.loop = t->loop;
	t->w.thread = pthread_self();
	pthread_mutex_init(&t->w.lock, NULL);
	snprintf(t->srv.node_addr, sizeof(t->srv.node_addr), "127.0.0.1:7001");
	snprintf(t->srv.name, sizeof(t->srv.name), "test-node");
	assert_int_equal(nb_map_parse("epoch 3\nchunk_size 4K\nnode 127.0.0.1:7001\n",
				      &map, err, sizeof(err)), 0);
	assert_int_equal(nb_srv_set_map(&t->srv, map), 0);
	t->ms.loop = t->loop;
	t->ms.cfg = &t->mcfg;
	t->ms.srv = &t->srv;
	mock_faults_init(&t->ms.faults, t->loop, &t->mcfg);
	t->mem = nb_store_memory_new();
	assert_non_null(t->mem);
	assert_int_equal(nb_store_memory_add(t->mem, "vol0", 256 << 10, 512, false), 0);
	assert_int_equal(nb_store_memory_add(t->mem, "vol1", 64 << 10, 512, false), 0);
	t->srv.store = mock_fault_store_new(t->mem, &t->ms.faults);
	assert_non_null(t->srv.store);
	assert_int_equal(nb_srv_volume_add(&t->srv, t->srv.store, "vol0"), 0);
	assert_int_equal(nb_srv_volume_add(&t->srv, t->srv.store, "vol1"), 0);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t->sv), 0);
	__atomic_fetch_add(&t->w.n_conns, 1, __ATOMIC_RELAXED);
	t->conn = nb_srv_conn_new(&t->w, t->sv[0], "test-client");
	assert_non_null(t->conn);
	nb_srv_conn_set_state(t->conn, SRV_CONN_AWAIT_HELLO);
	t->next_id = 1;
}

static void t_replies_clear(struct t_node *t)
{
	for (unsigned i = 0; i < t->n_replies; i++)
		nb_rpc_reply_clear(&t->replies[i]);
	t->n_replies = 0;
}

/* Close (cancelling held requests), free everything. */
static void t_node_stop(struct t_node *t)
{
	struct srv_conn *conn;

	t_replies_clear(t);
	if (t->conn)
		nb_srv_conn_close(t->conn, true);
	while ((conn = t->w.dead)) {
		t->w.dead = conn->next;
		nb_srv_conn_free(conn);
	}
	nb_srv_volumes_free(&t->srv);
	nb_store_destroy(t->srv.store);
	nb_srv_maps_free(&t->srv);
	pthread_mutex_destroy(&t->w.lock);
	pthread_mutex_destroy(&t->srv.lock);
	close(t->sv[1]);
	SSL_CTX_free(t->ctx);
	ev_loop_destroy(t->loop);
}

/* Decode what the node wrote into t->replies. */
static void t_collect(struct t_node *t)
{
	struct srv_buf *b = &t->conn->out;
	struct rpc_frame_hdr fh;

	while (b->len - b->off >= RPC_FRAME_HDR_SIZE) {
		const uint8_t *p = b->data + b->off;
		struct rpc_reply *rep;

		assert_int_equal(nb_rpc_frame_hdr_decode(p, &fh, RPC_MAX_DATA_LEN), 0);
		assert_int_equal(fh.kind, RPC_KIND_REPLY);
		assert_true(t->n_replies < T_MAX_REPLIES);
		rep = &t->replies[t->n_replies++];
		memset(rep, 0, sizeof(*rep));
		assert_int_equal(nb_rpc_reply_decode(p + RPC_FRAME_HDR_SIZE, fh.hdr_len, rep), 0);
		b->off += RPC_FRAME_HDR_SIZE + (size_t)fh.hdr_len + fh.data_len;
	}
	assert_int_equal(b->off, b->len);
	b->off = b->len = 0;
}

/* Send one request (with data for WRITE); returns its id. */
static uint64_t t_send(struct t_node *t, struct rpc_request *r, const void *data,
		       uint32_t dlen)
{
	uint8_t frame[8192];
	int n;

	r->id = t->next_id++;
	n = nb_rpc_request_encode(r, dlen, frame, sizeof(frame));
	assert_true(n > 0);
	assert_true((size_t)n + dlen <= sizeof(frame));
	if (dlen)
		memcpy(frame + n, data, dlen);
	assert_int_equal(nb_srv_conn_input(t->conn, frame, (size_t)n + dlen), 0);
	assert_true(nb_srv_conn_parse(t->conn) >= 0);
	t_collect(t);
	return r->id;
}

/* The reply to id, or fail. */
static const struct rpc_reply *t_reply(struct t_node *t, uint64_t id)
{
	for (unsigned i = 0; i < t->n_replies; i++)
		if (t->replies[i].id == id)
			return &t->replies[i];
	fail_msg("no reply to request %llu", (unsigned long long)id);
	return NULL;
}

static bool t_replied(struct t_node *t, uint64_t id)
{
	for (unsigned i = 0; i < t->n_replies; i++)
		if (t->replies[i].id == id)
			return true;
	return false;
}

static enum rpc_status t_status(struct t_node *t, uint64_t id)
{
	return t_reply(t, id)->status;
}

static uint64_t t_handshake(struct t_node *t)
{
	struct rpc_request r = { .op = RPC_OP_HANDSHAKE };

	r.handshake.version = RPC_VERSION;
	r.handshake.max_inflight = 8;
	r.handshake.max_io_size = 64 << 10;
	snprintf(r.handshake.name, sizeof(r.handshake.name), "test");
	return t_send(t, &r, NULL, 0);
}

static uint64_t t_named(struct t_node *t, enum rpc_op op, const char *vol,
			const char *owner, bool read_only, bool brk)
{
	struct rpc_request r = { .op = op, .read_only = read_only, .break_lock = brk };

	snprintf(r.volume, sizeof(r.volume), "%s", vol);
	snprintf(r.owner, sizeof(r.owner), "%s", owner ? owner : "");
	return t_send(t, &r, NULL, 0);
}

static uint64_t t_sized(struct t_node *t, enum rpc_op op, const char *vol,
			uint64_t size)
{
	struct rpc_request r = { .op = op };

	snprintf(r.volume, sizeof(r.volume), "%s", vol);
	r.create_size = size;
	return t_send(t, &r, NULL, 0);
}

static uint64_t t_write(struct t_node *t, uint64_t offset, uint32_t len)
{
	struct rpc_request r = { .op = RPC_OP_WRITE, .offset = offset, .length = len };
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	memset(buf, 0xab, len);
	return t_send(t, &r, buf, len);
}

static void t_command(struct t_node *t, const char *line)
{
	char out[1024] = "";

	mock_command_exec(&t->ms, line, out, sizeof(out));
	assert_true(out[0] != '\0');
}

/*
 * A WRITE held by a stall, DELETE of its volume, OPEN of another: the
 * connection's reference goes; the request's keeps the deleted volume
 * until the request completes (released here), then it is freed.
 */
static void test_reopen_with_request_in_flight(void **state)
{
	struct t_node t;
	uint64_t wr, del, op2;

	t_node_start(&t);
	t_command(&t, "stall on");
	assert_int_equal(t_status(&t, t_handshake(&t)), RPC_STATUS_OK);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_OPEN, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	wr = t_write(&t, 0, 4096);
	assert_false(t_replied(&t, wr));        /* held by the stall */
	del = t_named(&t, RPC_OP_DELETE, "vol0", "me", false, false);
	assert_int_equal(t_status(&t, del), RPC_STATUS_OK);
	op2 = t_named(&t, RPC_OP_OPEN, "vol1", NULL, true, false);
	assert_int_equal(t_status(&t, op2), RPC_STATUS_OK);
	assert_false(t_replied(&t, wr));
	/* The held write runs on the deleted volume: fenced by the delete's break. */
	t_command(&t, "stall off");
	mock_faults_release_stalled(&t.ms.faults);
	t_collect(&t);
	assert_int_equal(t_status(&t, wr), RPC_STATUS_FENCED);
	/* Named after its own volume, not the one opened since. */
	assert_non_null(strstr(t_reply(&t, wr)->message, "volume vol0:"));
	assert_null(nb_srv_volume_find(&t.srv, "vol0"));
	t_node_stop(&t);
}

/* The same, but the connection closes with the write still held. */
static void test_reopen_then_close_with_request_held(void **state)
{
	struct t_node t;
	uint64_t wr;

	t_node_start(&t);
	t_command(&t, "stall on");
	t_handshake(&t);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_OPEN, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	wr = t_write(&t, 512, 512);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_DELETE, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_OPEN, "vol1", "me", false, false)),
			 RPC_STATUS_OK);
	assert_false(t_replied(&t, wr));
	t_node_stop(&t);                        /* cancels the held write */
}

/* A second OPEN of the same deleted-and-recreated name. */
static void test_reopen_recreated(void **state)
{
	struct t_node t;
	uint64_t wr;

	t_node_start(&t);
	t_command(&t, "stall on");
	t_handshake(&t);
	t_named(&t, RPC_OP_OPEN, "vol0", "me", false, false);
	wr = t_write(&t, 0, 512);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_DELETE, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	assert_int_equal(t_status(&t, t_sized(&t, RPC_OP_CREATE, "vol0", 8192)), RPC_STATUS_OK);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_OPEN, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	t_command(&t, "stall off");
	mock_faults_release_stalled(&t.ms.faults);
	t_collect(&t);
	assert_int_equal(t_status(&t, wr), RPC_STATUS_FENCED);
	/* The new volume works. */
	assert_int_equal(t_status(&t, t_write(&t, 0, 512)), RPC_STATUS_OK);
	t_node_stop(&t);
}

/* ---- a memory store whose calls can be made to misbehave ---- */

static const struct nb_store_ops *t_mem_ops;
static struct nb_store_ops t_ops;
static bool t_gone;                /* "deleted through another node" */
static const char *t_thief;        /* takes the lock right after lock_get */

static int t_lock_get(struct nb_store_vol *vol, struct nb_store_lock *lock)
{
	struct nb_store_lock tmp;
	int r;

	if (t_gone)
		return -ENOENT;
	r = t_mem_ops->lock_get(vol, lock);
	if (r == 0 && t_thief) {
		t_mem_ops->lock_take(vol, t_thief, true, 0, &tmp);
		t_thief = NULL;
	}
	return r;
}

static int t_lock_break(struct nb_store_vol *vol, uint64_t gen, struct nb_store_lock *lock)
{
	return t_gone ? -ENOENT : t_mem_ops->lock_break(vol, gen, lock);
}

static int t_resize(struct nb_store_vol *vol, uint64_t size)
{
	return t_gone ? -ENOENT : t_mem_ops->resize(vol, size);
}

static int t_remove(struct nb_store *st, const char *name)
{
	return t_gone ? -ENOENT : t_mem_ops->remove(st, name);
}

static void t_hook(struct t_node *t)
{
	t_mem_ops = t->mem->ops;
	t_ops = *t_mem_ops;
	t_ops.lock_get = t_lock_get;
	t_ops.lock_break = t_lock_break;
	t_ops.resize = t_resize;
	t_ops.remove = t_remove;
	t->mem->ops = &t_ops;
	t_gone = false;
	t_thief = NULL;
}

static void t_unhook(struct t_node *t)
{
	t->mem->ops = t_mem_ops;
	t_gone = false;
	t_thief = NULL;
}

/* A lock taken by another owner between DELETE's check and its break stays. */
static void test_delete_lock_taken_meanwhile(void **state)
{
	struct t_node t;
	const struct rpc_reply *rep;
	uint64_t del;

	t_node_start(&t);
	t_hook(&t);
	t_handshake(&t);
	assert_int_equal(t_status(&t, t_named(&t, RPC_OP_OPEN, "vol0", "me", false, false)),
			 RPC_STATUS_OK);
	t_thief = "other@host";
	del = t_named(&t, RPC_OP_DELETE, "vol0", "me", false, false);
	rep = t_reply(&t, del);
	assert_int_equal(rep->status, RPC_STATUS_LOCKED);
	assert_non_null(strstr(rep->message, "other@host"));
	/* Not deleted, and the thief still holds it. */
	assert_non_null(nb_srv_volume_find(&t.srv, "vol0"));
	rep = t_reply(&t, t_named(&t, RPC_OP_INFO, "vol0", NULL, false, false));
	assert_int_equal(rep->status, RPC_STATUS_OK);
	assert_string_equal(rep->volume.lock.owner, "other@host");
	t_unhook(&t);
	t_node_stop(&t);
}

/* DELETE, RESIZE, UNLOCK of a volume gone from the (shared) store: NOT_FOUND. */
static void test_admin_on_volume_gone(void **state)
{
	static const enum rpc_op ops[] = { RPC_OP_DELETE, RPC_OP_RESIZE, RPC_OP_UNLOCK };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct t_node t;
		uint64_t id;

		t_node_start(&t);
		t_hook(&t);
		t_handshake(&t);
		t_gone = true;
		if (ops[i] == RPC_OP_RESIZE)
			id = t_sized(&t, ops[i], "vol1", 128 << 10);
		else
			id = t_named(&t, ops[i], "vol1", "me", false, false);
		assert_int_equal(t_status(&t, id), RPC_STATUS_NOT_FOUND);
		/* Forgotten by the node. */
		assert_null(nb_srv_volume_find(&t.srv, "vol1"));
		t_unhook(&t);
		t_node_stop(&t);
	}
}

/*
 * RESIZE after another node grew the volume: the cached size is
 * refreshed first, so a size between the old and the new one is a
 * shrink (UNSUPPORTED), and the answer carries the store's size.
 */
static void test_resize_sees_size_grown_elsewhere(void **state)
{
	struct t_node t;
	struct srv_volume *v;
	const struct rpc_reply *rep;

	t_node_start(&t);
	t_handshake(&t);
	v = nb_srv_volume_find(&t.srv, "vol1");
	assert_non_null(v);
	assert_int_equal(nb_srv_volume_size(v), 64 << 10);
	/* Behind the node's back, as another node of a shared store would. */
	assert_int_equal(v->vol->store->ops->resize(v->vol, 1 << 20), 0);
	rep = t_reply(&t, t_sized(&t, RPC_OP_RESIZE, "vol1", 512 << 10));
	assert_int_equal(rep->status, RPC_STATUS_UNSUPPORTED);
	rep = t_reply(&t, t_sized(&t, RPC_OP_RESIZE, "vol1", 1 << 20));
	assert_int_equal(rep->status, RPC_STATUS_OK);
	assert_int_equal(rep->volume.size, 1 << 20);
	rep = t_reply(&t, t_sized(&t, RPC_OP_RESIZE, "vol1", 2 << 20));
	assert_int_equal(rep->status, RPC_STATUS_OK);
	assert_int_equal(nb_srv_volume_size(v), 2 << 20);
	t_node_stop(&t);
}

/* Sizes past the cap: a clear NO_SPACE, nothing created or grown. */
static void test_size_cap(void **state)
{
	struct t_node t;
	const struct rpc_reply *rep;
	char out[512] = "";

	t_node_start(&t);
	t_handshake(&t);
	rep = t_reply(&t, t_sized(&t, RPC_OP_CREATE, "huge", NB_SRV_VOLUME_SIZE_MAX * 2));
	assert_int_equal(rep->status, RPC_STATUS_NO_SPACE);
	assert_non_null(strstr(rep->message, "largest volume size"));
	assert_null(nb_srv_volume_find(&t.srv, "huge"));
	rep = t_reply(&t, t_sized(&t, RPC_OP_CREATE, "huge", ~0ull - 511));
	assert_int_equal(rep->status, RPC_STATUS_NO_SPACE);
	rep = t_reply(&t, t_sized(&t, RPC_OP_RESIZE, "vol1", 1ull << 63));
	assert_int_equal(rep->status, RPC_STATUS_NO_SPACE);
	rep = t_reply(&t, t_sized(&t, RPC_OP_RESIZE, "vol1", ~0ull - 511));
	assert_int_equal(rep->status, RPC_STATUS_NO_SPACE);
	assert_int_equal(nb_srv_volume_size(nb_srv_volume_find(&t.srv, "vol1")), 64 << 10);
	/* The control command too. */
	assert_true(nb_srv_volume_resize(&t.srv, "vol1", 1ull << 60, out, sizeof(out)) < 0);
	assert_non_null(strstr(out, "largest volume size"));
	t_node_stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reopen_with_request_in_flight),
		cmocka_unit_test(test_reopen_then_close_with_request_held),
		cmocka_unit_test(test_reopen_recreated),
		cmocka_unit_test(test_delete_lock_taken_meanwhile),
		cmocka_unit_test(test_admin_on_volume_gone),
		cmocka_unit_test(test_resize_sees_size_grown_elsewhere),
		cmocka_unit_test(test_size_cap),
	};

	nb_log_init("test_node_requests", LOG_CRIT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
