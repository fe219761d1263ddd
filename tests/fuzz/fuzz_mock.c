/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the mock storage node's request path, fed as a
 * hostile client would: frame extraction (mock_conn_parse, conn.h),
 * request decoding, state checks, fault handling and execution against
 * in-memory volumes.  TLS is left out: the bytes are placed in the
 * connection's input (mock_conn_input) as SSL_read would leave them.
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

#include "conn.h"
#include "volume.h"

static void fz_mock_check_output(struct mock_conn *conn)
{
	struct mock_buf *b = &conn->out;
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

static void fz_mock_commands(struct mock_server *srv, const uint8_t **data,
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
		mock_command_exec(srv, line, out, sizeof(out));
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
	static struct mock_config cfg = {
		.listen = "127.0.0.1", .name = "fuzz-node",
		.allow_create = true, .block_size = 512,
		.max_inflight = 8, .max_io_size = 64 << 10,
		.max_discard = 1 << 20, .max_write_zeroes = 1 << 20,
		.max_connections = 4, .has_seed = true, .seed = 1,
		.log_level = LOG_ERR,
	};
	struct mock_server srv;
	struct mock_conn *conn;
	struct mock_volume *vol;
	char err[256];
	int sv[2], r, round;

	if (!loop) {
		loop = ev_loop_new(EVFLAG_AUTO);
		nb_log_init(MOCK_PROG, LOG_ERR);
		ctx = SSL_CTX_new(TLS_server_method());
		if (!loop || !ctx)
			abort();
	}
	memset(&srv, 0, sizeof(srv));
	srv.loop = loop;
	srv.cfg = &cfg;
	srv.listen_fd = -1;
	mock_node_init(&srv.node, &cfg);	/* rng 1: cfg.seed */
	snprintf(srv.node.node_addr, sizeof(srv.node.node_addr), "127.0.0.1:7001");
	snprintf(srv.node.name, sizeof(srv.node.name), "fuzz-node");
	SSL_CTX_up_ref(ctx);	/* mock_server_fini() drops it */
	srv.ssl_ctx = ctx;
	if (
	    nb_map_parse("epoch 3\nchunk_size 4K\nnode 127.0.0.1:7001\n"
		      "node 127.0.0.1:7002\n", &srv.node.map, err, sizeof(err)) < 0)
		abort();
	srv.node.node_index = 0;
	vol = mock_volume_new_memory("vol0", 256 << 10, 512, false);
	if (!vol || mock_node_add_volume(&srv.node, vol) < 0)
		abort();
	vol = mock_volume_new_memory("ro", 64 << 10, 4096, true);
	if (!vol || mock_node_add_volume(&srv.node, vol) < 0)
		abort();
	if (size && data[0] == '!')
		fz_mock_commands(&srv, &data, &size);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	conn = mock_conn_new(&srv, sv[0], "fuzz-client");
	if (!conn)
		abort();
	mock_conn_set_state(conn, MOCK_CONN_AWAIT_HELLO);
	if (mock_conn_input(conn, data, size) < 0)
		abort();
	for (round = 0; round < 16; round++) {
		r = mock_conn_parse(conn);
		if (r < 0)
			break;
		fz_mock_check_output(conn);
		if (r == 0)
			break;
		/* paused: answer what stall holds; delayed ones stay held */
		mock_conn_release_stalled(conn);
		fz_mock_check_output(conn);
	}
	mock_server_fini(&srv);
	close(sv[1]);
	return 0;
}
