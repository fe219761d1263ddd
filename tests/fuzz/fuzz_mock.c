/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the mock storage node's request path, fed as a
 * hostile client would: frame extraction (nb_srv_conn_parse, the node
 * core's srv_conn.h),
 * request decoding, state checks, fault handling and execution against
 * in-memory volumes.  TLS is left out: the bytes are placed in the
 * connection's input (nb_srv_conn_input) as SSL_read would leave them.
 *
 * Input: optional control commands first ("!" then lines up to an empty
 * line, run with mock_command_exec as the control socket would), then the
 * client's byte stream.  Every reply the node writes must decode as a
 * reply frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pthread.h>

#include "mock.h"
#include "srv_conn.h"

static void fz_mock_check_output(struct srv_conn *conn)
{
	struct srv_buf *b = &conn->out;
	struct rpc_frame_hdr fh;
	struct rpc_reply rep;

	while (b->len - b->off >= RPC_FRAME_HDR_SIZE) {
		const uint8_t *p = b->data + b->off;
		size_t total;

		if (nb_rpc_frame_hdr_decode(p, &fh, RPC_MAX_DATA_LEN) < 0 ||
		    fh.kind != RPC_KIND_REPLY)
			abort();	/* the node wrote a bad frame */
		total = RPC_FRAME_HDR_SIZE + (size_t)fh.hdr_len + fh.data_len;
		if (total > b->len - b->off)
			abort();	/* a truncated reply */
		memset(&rep, 0, sizeof(rep));
		if (nb_rpc_reply_decode(p + RPC_FRAME_HDR_SIZE, fh.hdr_len,
				     &rep) < 0)
			abort();
		if (fh.data_len && (rep.status != RPC_STATUS_OK))
			abort();	/* data with an error reply */
		nb_rpc_reply_clear(&rep);
		b->off += total;
	}
	if (b->off != b->len)
		abort();
	b->off = b->len = 0;
}

static void fz_mock_commands(struct mock_server *ms, const uint8_t **data,
			     size_t *size)
{
	char line[256], out[4096];
	size_t i = 1, n;

	while (i < *size) {
		n = 0;
		while (i < *size && (*data)[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = (char)(*data)[i];
			i++;
		}
		i++;		/* the '\n' */
		if (n == 0)
			break;	/* empty line: the stream follows */
		line[n] = '\0';
		out[0] = '\0';
		mock_command_exec(ms, line, out, sizeof(out));
		if (!out[0])
			abort();	/* every command answers something */
	}
	if (i > *size)
		i = *size;
	*data += i;
	*size -= i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	static SSL_CTX *ctx;
	static struct mock_config mcfg = { .has_seed = true, .seed = 1,
					   .log_level = LOG_ERR };
	static struct nb_srv_config cfg = {
		.listen = "127.0.0.1", .name = "fuzz-node",
		.allow_create = true, .threads = 1,
		.max_inflight = 8, .max_io_size = 64 << 10,
		.max_discard = 1 << 20, .max_write_zeroes = 1 << 20,
		.max_connections = 4,
	};
	struct mock_server ms;
	struct nb_srv srv;
	struct srv_worker w;
	struct srv_conn *conn;
	struct nb_store *mem;
	struct map *map = NULL;
	char err[256];
	int sv[2], r, round;

	if (!loop) {
		loop = ev_loop_new(EVFLAG_AUTO);
		nb_log_init(MOCK_PROG, LOG_ERR);
		ctx = SSL_CTX_new(TLS_server_method());
		if (!loop || !ctx)
			abort();
	}
	/* The node core by hand: one worker on this thread, no listening socket. */
	memset(&srv, 0, sizeof(srv));
	memset(&w, 0, sizeof(w));
	srv.loop = loop;
	srv.cfg = &cfg;
	srv.ssl_ctx = ctx;
	srv.listen_fd = -1;
	pthread_mutex_init(&srv.lock, NULL);
	srv.workers = &w;
	srv.n_workers = 1;
	w.srv = &srv;
	w.loop = loop;
	w.thread = pthread_self();
	pthread_mutex_init(&w.lock, NULL);
	snprintf(srv.node_addr, sizeof(srv.node_addr), "127.0.0.1:7001");
	snprintf(srv.name, sizeof(srv.name), "fuzz-node");
	if (nb_map_parse("epoch 3\nchunk_size 4K\nnode 127.0.0.1:7001\n"
			 "node 127.0.0.1:7002\n", &map, err, sizeof(err)) < 0 ||
	    nb_srv_set_map(&srv, map) < 0)
		abort();
	memset(&ms, 0, sizeof(ms));
	ms.loop = loop;
	ms.cfg = &mcfg;
	ms.srv = &srv;
	mock_faults_init(&ms.faults, loop, &mcfg);	/* rng 1: mcfg.seed */
	mem = nb_store_memory_new();
	if (!mem || nb_store_memory_add(mem, "vol0", 256 << 10, 512, false) < 0 ||
	    nb_store_memory_add(mem, "ro", 64 << 10, 4096, true) < 0)
		abort();
	srv.store = mock_fault_store_new(mem, &ms.faults);
	if (!srv.store || nb_srv_volume_add(&srv, srv.store, "vol0") < 0 ||
	    nb_srv_volume_add(&srv, srv.store, "ro") < 0)
		abort();
	if (size && data[0] == '!')
		fz_mock_commands(&ms, &data, &size);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	__atomic_fetch_add(&w.n_conns, 1, __ATOMIC_RELAXED);
	conn = nb_srv_conn_new(&w, sv[0], "fuzz-client");
	if (!conn)
		abort();
	nb_srv_conn_set_state(conn, SRV_CONN_AWAIT_HELLO);
	if (nb_srv_conn_input(conn, data, size) < 0)
		abort();
	for (round = 0; round < 16; round++) {
		r = nb_srv_conn_parse(conn);
		if (r < 0)
			break;
		fz_mock_check_output(conn);
		if (r == 0)
			break;
		/* paused: answer what stall holds; delayed ones stay held */
		mock_faults_release_stalled(&ms.faults);
		fz_mock_check_output(conn);
	}
	/* Closing cancels the held requests; then everything is freed. */
	nb_srv_conn_close(conn, true);
	while ((conn = w.dead)) {
		w.dead = conn->next;
		nb_srv_conn_free(conn);
	}
	nb_srv_volumes_free(&srv);
	nb_store_destroy(srv.store);
	nb_srv_maps_free(&srv);
	pthread_mutex_destroy(&w.lock);
	pthread_mutex_destroy(&srv.lock);
	close(sv[1]);
	return 0;
}
