/* SPDX-License-Identifier: MIT */
/*
 * Internals of a connection, shared by conn.c (state machine) and wire.c
 * (frames); the fuzzer of the reply path (tests/fuzz/fuzz_conn.c) looks in
 * too. The rest of the engine sees struct conn only through conn.h.
 */
#ifndef NETBLK_CONN_PRIV_H
#define NETBLK_CONN_PRIV_H

#include "conn.h"

#define CONN_OUT_HIGH        (1u << 20)  /* stop encoding above this */
#define CONN_READ_FRAMES_MAX 512         /* frames per wake-up */
#define CONN_READ_BYTES_MAX  (16u << 20) /* bytes per wake-up */
#define CONN_SLOT_GEN_SHIFT  32
#define CONN_TRY_PATIENCE    4           /* see conn_timer_cb */

struct conn_slot {
	struct conn_req *req;      /* NULL when free */
	uint32_t gen;
};

enum conn_rx {
	CONN_RX_HDR,
	CONN_RX_PB,
	CONN_RX_DATA,
};

struct conn {
	char addr[MAP_ADDR_MAX + 1];
	enum conn_state state;
	uint32_t fail_count;       /* failures since last READY */
	int err;                   /* -errno of the last failure */
	char errmsg[640];          /* its text, naming the node */
	uint32_t max_inflight;     /* granted (valid when READY) */
	uint32_t max_io_size;      /* granted (valid when READY) */
	char node_name[RPC_NAME_MAX + 1];
	bool writes_durable;       /* said at HANDSHAKE (valid when READY) */
	uint32_t inflight;
	uint32_t queued;
	uint64_t sent, reconnects;

	bool lazy;                 /* see nb_conn_set_lazy() */
	void *owner;               /* see nb_conn_owner() */

	struct ev_loop *loop;
	const struct conn_params *p;
	uint64_t open_generation;  /* lock generation the last OPEN sent */
	char host[MAP_ADDR_MAX + 1];
	char port[8];
	int fd;
	SSL *ssl;
	struct addrinfo *ai_list, *ai_next;
	struct resolve *resolve;   /* host name lookup in progress */
	ev_io io;
	ev_timer timer;
	int events;
	double last_rx;            /* ev_now() of the last bytes received */
	bool ever_ready;
	bool write_wants_read, read_wants_write;
	bool in_dispatch;
	uint64_t rnd;
	char last_logged[640];

	struct conn_req *q_head, **q_tail;
	struct conn_slot *slots;
	uint32_t n_slots;
	uint32_t *free_slots;
	uint32_t n_free;

	uint64_t hello_id;
	enum rpc_op hello_op;

	uint8_t *out;
	size_t out_off, out_len, out_cap;
	size_t out_retry;          /* length of an SSL_write to repeat */

	enum conn_rx rx;
	uint8_t rx_hdr[RPC_FRAME_HDR_SIZE];
	size_t rx_got;
	struct rpc_frame_hdr rx_frame;
	uint8_t *rx_pb;
	size_t rx_pb_cap;
	struct conn_req *rx_req;   /* NULL: data is discarded */
	struct nb_iov_pos rx_pos;
	uint64_t rx_left;
	struct rpc_reply rx_reply;
};


/* conn.c */
void nb_conn_set_state(struct conn *conn, enum conn_state to);
void nb_conn_watch(struct conn *conn, int events);
void nb_conn_update_events(struct conn *conn);

/* wire.c */
/* Write buffered output; returns 0, or -1 when the conn failed. */
int nb_conn_write_out(struct conn *conn);
/* Read and handle what TLS has, within the per-wake-up budget. */
void nb_conn_read(struct conn *conn);
void nb_conn_hello_send(struct conn *conn, enum rpc_op op);
void nb_conn_arm_try_timer(struct conn *conn);

#endif
