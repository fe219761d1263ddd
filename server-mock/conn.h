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

/* Take ownership of an accepted socket; NULL with errno set on failure. */
struct mock_conn *mock_conn_new(struct mock_server *srv, int fd,
				const char *peer);
void mock_conn_free(struct mock_conn *conn);

void mock_conn_set_state(struct mock_conn *conn, enum mock_conn_state state);
const char *mock_conn_state_name(enum mock_conn_state state);

/*
 * Close: abrupt skips the TLS close_notify (drop fault, protocol
 * violations). Safe to call more than once.
 */
void mock_conn_close(struct mock_conn *conn, bool abrupt);
static inline bool mock_conn_closed(const struct mock_conn *conn)
{
	return conn->state == MOCK_CONN_CLOSED;
}

/* Grant the HANDSHAKE limits: allocates held slots and the input buffer. */
int mock_conn_grant(struct mock_conn *conn, uint32_t max_inflight,
		    uint32_t max_io_size);

/*
 * Output: reserve returns room for len bytes at the end of the output
 * (NULL on allocation failure); commit appends n of them. send_reply
 * appends a reply frame without data. Bytes go out on the next flush.
 */
uint8_t *mock_conn_reserve(struct mock_conn *conn, size_t len);
void mock_conn_commit(struct mock_conn *conn, size_t n);
int mock_conn_send_reply(struct mock_conn *conn, const struct rpc_reply *rep);

/*
 * Hand the output to TLS and send the gathered records with one send()
 * (the socket BIO, sockbio.h); arms the write watcher while any output
 * or gathered record remains.
 */
void mock_conn_flush(struct mock_conn *conn);
/* Flush before the loop sleeps (batches replies completed by timers). */
void mock_conn_mark_dirty(struct mock_conn *conn);

/* Held requests: a free slot (NULL when all in use), and its release. */
struct mock_held *mock_conn_held_get(struct mock_conn *conn);
void mock_conn_held_put(struct mock_conn *conn, struct mock_held *held);
void mock_conn_stall_push(struct mock_conn *conn, struct mock_held *held);
/* Answer every stalled request of this connection. */
void mock_conn_release_stalled(struct mock_conn *conn);

#endif
