/* SPDX-License-Identifier: MIT */
/*
 * One client connection (conn.c) and its requests (request.c).
 *
 * A connection belongs to one worker and is touched only on its thread.
 * It is a non-blocking TCP socket under TLS, input and output buffers,
 * frame extraction and backpressure, and max_inflight request slots: a
 * data request takes a slot from its submission to the store until its
 * completion, and input pauses while every slot is taken.
 *
 * Ownership: the worker creates a connection on accept.
 * nb_srv_conn_close() stops every watcher, asks the store to cancel the
 * requests not started yet and moves the connection to the worker's dead
 * list; the worker frees it from its prepare watcher once no request of
 * it is left with the store, never inside a callback of the connection.
 */
#ifndef NETBLK_SRV_CONN_H
#define NETBLK_SRV_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "srv_node.h"

enum srv_conn_state {
	SRV_CONN_TLS_HANDSHAKE,  /* SSL_accept in progress */
	SRV_CONN_AWAIT_HELLO,    /* TLS up, waiting for HANDSHAKE */
	SRV_CONN_READY,          /* HANDSHAKE done, no volume */
	SRV_CONN_OPEN,           /* bound to a volume */
	SRV_CONN_CLOSED,         /* waiting to be freed */
	SRV_CONN_STATE_MAX
};

/* Bytes [off, len) of data[0, cap) are valid. */
struct srv_buf {
	uint8_t *data;
	size_t off, len, cap;
};

/* A data request between submission and completion. */
struct srv_req {
	struct nb_store_io io;
	struct srv_conn *conn;
	struct srv_volume *vol;  /* a reference of the request's own */
	uint64_t id;
	enum rpc_op op;
	bool busy;
	uint8_t *buf;            /* READ result, WRITE data */
	size_t cap;
	struct srv_req *next;    /* free list; worker's done list */
};

struct srv_conn {
	struct srv_worker *worker;
	struct nb_srv *srv;
	struct srv_conn *prev, *next;    /* worker's live list, or dead list */
	struct srv_conn *dirty_next;
	bool dirty;

	int fd;
	SSL *ssl;
	char peer[64];
	enum srv_conn_state state;
	ev_io rd, wr;
	ev_timer hello_timer;

	struct srv_buf in, out;
	bool out_blocked;        /* SSL_write wants a writable socket */
	bool read_wants_write;   /* SSL_read asked for a writable socket */
	bool write_wants_read;   /* SSL_write asked for a readable socket */
	bool input_blocked;      /* stopped reading: in-flight or output full */

	uint32_t max_inflight;   /* granted */
	uint32_t max_io_size;    /* granted */
	struct srv_volume *vol;  /* SRV_CONN_OPEN */
	bool read_only;
	/*
	 * Read-write opens of a store with a writer lock: the generation the
	 * connection is bound to; its write-class requests are FENCED once
	 * the lock moved on (logged once, fenced_logged).
	 */
	bool lock_bound;
	uint64_t lock_gen;
	bool fenced_logged;

	struct srv_req *reqs;    /* max_inflight slots */
	struct srv_req *free_reqs;
	uint32_t n_inflight;
};

/* ---- conn.c ---- */

/*
 * Take ownership of an accepted socket; NULL with errno set on failure.
 * The caller counted it in w->n_conns (closing uncounts it).
 */
struct srv_conn *nb_srv_conn_new(struct srv_worker *w, int fd, const char *peer);
void nb_srv_conn_free(struct srv_conn *conn);
void nb_srv_conn_set_state(struct srv_conn *conn, enum srv_conn_state state);
const char *nb_srv_conn_state_name(enum srv_conn_state state);
/*
 * Close: abrupt skips the TLS close_notify (drop fault, protocol
 * violations). Safe to call more than once.
 */
void nb_srv_conn_close(struct srv_conn *conn, bool abrupt);

static inline bool nb_srv_conn_closed(const struct srv_conn *conn)
{
	return conn->state == SRV_CONN_CLOSED;
}

/*
 * Bytes received, as SSL_read would leave them: appended to the input
 * (tests and fuzzers feed a connection this way). 0 or -ENOMEM.
 */
int nb_srv_conn_input(struct srv_conn *conn, const void *data, size_t len);
/*
 * Handle the complete frames in the input buffer. Returns 0 when more
 * bytes are needed, 1 when input must pause (in-flight or output limit),
 * -1 when the connection was closed.
 */
int nb_srv_conn_parse(struct srv_conn *conn);
/*
 * Hand the output to TLS and send the gathered records with one send()
 * (the socket BIO, sockbio.h); arms the write watcher while any output
 * or gathered record remains.
 */
void nb_srv_conn_flush(struct srv_conn *conn);
/* Flush before the loop sleeps (batches replies of completions). */
void nb_srv_conn_mark_dirty(struct srv_conn *conn);

/* Largest READ/WRITE payload: granted by HANDSHAKE, else the configured one. */
uint32_t nb_srv_conn_max_io_size(const struct srv_conn *conn);
/*
 * HANDSHAKE accepted: grant the limits (allocates the request slots)
 * and become ready. 0, or -ENOMEM with nothing changed.
 */
int nb_srv_conn_grant(struct srv_conn *conn, uint32_t max_inflight,
		      uint32_t max_io_size);
/* OPEN accepted: bind vol (and the lock generation) for the next requests;
 * the connection takes over the caller's reference to vol. */
void nb_srv_conn_open(struct srv_conn *conn, struct srv_volume *vol,
		      bool read_only, bool lock_bound, uint64_t lock_gen);

/*
 * Output: reserve returns room for len bytes at the end of the output
 * (NULL on allocation failure); commit appends n of them. send_reply
 * appends a reply frame without data (closing the connection when out of
 * memory). Bytes go out on the next flush.
 */
uint8_t *nb_srv_conn_reserve(struct srv_conn *conn, size_t len);
void nb_srv_conn_commit(struct srv_conn *conn, size_t n);
int nb_srv_conn_send_reply(struct srv_conn *conn, const struct rpc_reply *rep);

/*
 * A free request slot (NULL when all are taken); put it back once done.
 * Putting it back drops the slot's reference to rq->vol, if any: the
 * volume may be closed and freed then (a deleted one whose connection
 * opened another), so nothing may use rq->vol afterwards.
 */
struct srv_req *nb_srv_conn_req_get(struct srv_conn *conn);
void nb_srv_conn_req_put(struct srv_conn *conn, struct srv_req *rq);

/* ---- request.c ---- */

/*
 * Handle one decoded request frame. data (data_len bytes) is the frame's
 * payload and is only valid during the call. Returns 0, or -1 when the
 * connection was closed (malformed frame).
 */
int nb_srv_request_handle(struct srv_conn *conn, const struct rpc_request *req,
			  const uint8_t *data, uint32_t data_len);
/* The store completed rq: answer it (on the connection's thread). */
void nb_srv_request_done(struct srv_req *rq);

#endif
