/* SPDX-License-Identifier: MIT */
/*
 * One client connection: a non-blocking TCP socket under TLS, its input
 * and output buffers, frame extraction and backpressure, and the requests
 * it holds back for delay or stall faults.
 *
 * Ownership: the server creates a connection on accept. mock_conn_close()
 * stops every watcher and moves it to the server's dead list; the server
 * frees it from its prepare watcher, never inside a callback of the
 * connection itself.
 */
#ifndef NETBLK_MOCK_CONN_H
#define NETBLK_MOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "mock.h"
#include "request.h"

enum mock_conn_state {
	MOCK_CONN_TLS_HANDSHAKE,  /* SSL_accept in progress */
	MOCK_CONN_AWAIT_HELLO,    /* TLS up, waiting for HANDSHAKE */
	MOCK_CONN_READY,          /* HANDSHAKE done, no volume */
	MOCK_CONN_OPEN,           /* bound to a volume */
	MOCK_CONN_CLOSED,         /* waiting to be freed */
	MOCK_CONN_STATE_MAX
};

/* Bytes [off, len) of data[0, cap) are valid. */
struct mock_buf {
	uint8_t *data;
	size_t off, len, cap;
};

/* A data request held back by a delay or a stall fault. */
struct mock_held {
	struct mock_conn *conn;
	struct rpc_request req;
	uint8_t *data;          /* WRITE payload copy */
	size_t data_cap;
	ev_timer timer;
	struct mock_held *next; /* free list or stalled list */
};

struct mock_conn {
	struct mock_server *srv;
	struct mock_conn *prev, *next;   /* server's live list, or dead list */
	struct mock_conn *dirty_next;
	bool dirty;

	int fd;
	SSL *ssl;
	char peer[64];
	enum mock_conn_state state;
	ev_io rd, wr;
	ev_timer hello_timer;

	struct mock_buf in, out;
	bool out_blocked;        /* SSL_write wants a writable socket */
	bool read_wants_write;   /* SSL_read asked for a writable socket */
	bool write_wants_read;   /* SSL_write asked for a readable socket */
	bool input_blocked;      /* stopped reading: in-flight or output full */

	uint32_t max_inflight;   /* granted */
	uint32_t max_io_size;    /* granted */
	struct mock_volume *vol; /* MOCK_CONN_OPEN */
	bool read_only;

	struct mock_held *held;  /* max_inflight slots */
	struct mock_held *free_held;
	struct mock_held *stalled_head, *stalled_tail;
	uint32_t n_held;
};

/*
 * The functions a request may call (node, peer, grant, open, output,
 * close, hold) are declared in request.h.
 */

/* Take ownership of an accepted socket; NULL with errno set on failure. */
struct mock_conn *mock_conn_new(struct mock_server *srv, int fd,
				const char *peer);
void mock_conn_free(struct mock_conn *conn);

void mock_conn_set_state(struct mock_conn *conn, enum mock_conn_state state);
const char *mock_conn_state_name(enum mock_conn_state state);

/*
 * Bytes received, as SSL_read would leave them: appended to the input
 * (tests and fuzzers feed a connection this way). 0 or -ENOMEM.
 */
int mock_conn_input(struct mock_conn *conn, const void *data, size_t len);
/*
 * Handle the complete frames in the input buffer. Returns 0 when more
 * bytes are needed, 1 when input must pause (in-flight or output limit),
 * -1 when the connection was closed.
 */
int mock_conn_parse(struct mock_conn *conn);

/*
 * Hand the output to TLS and send the gathered records with one send()
 * (the socket BIO, sockbio.h); arms the write watcher while any output
 * or gathered record remains.
 */
void mock_conn_flush(struct mock_conn *conn);
/* Flush before the loop sleeps (batches replies completed by timers). */
void mock_conn_mark_dirty(struct mock_conn *conn);

/* Answer every stalled request of this connection. */
void mock_conn_release_stalled(struct mock_conn *conn);

#endif
