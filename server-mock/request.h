/* SPDX-License-Identifier: MIT */
/*
 * One request of a connection: protocol checks, cluster-map ownership,
 * fault injection and execution against the volume. Replies are appended
 * to the connection's output; they go out at the next flush.
 *
 * The request layer sees the node through node.h, and its connection
 * only through the functions declared at the end of this header (given by
 * conn.c): struct mock_conn and struct mock_server stay opaque to it.
 */
#ifndef NETBLK_MOCK_REQUEST_H
#define NETBLK_MOCK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "rpc.h"

struct mock_conn;
struct mock_volume;

/*
 * Handle one decoded request frame. data (data_len bytes) is the frame's
 * payload and is only valid during the call. Returns 0, or -1 when the
 * connection was closed (malformed frame, drop fault).
 */
int mock_request_handle(struct mock_conn *conn, const struct rpc_request *req,
			const uint8_t *data, uint32_t data_len);

/* Answer a data request now: checks, injected errors, execution. */
void mock_request_execute(struct mock_conn *conn, const struct rpc_request *req,
			  const uint8_t *data);

/* ---- what a request may ask of its connection (conn.c) ---- */

/* The node that accepted the connection. */
struct mock_node *mock_conn_node(struct mock_conn *conn);
/* The client's address, for log lines. */
const char *mock_conn_peer(const struct mock_conn *conn);
bool mock_conn_closed(const struct mock_conn *conn);
/* True until a HANDSHAKE succeeded. */
bool mock_conn_awaits_hello(const struct mock_conn *conn);
/* Largest READ/WRITE payload: granted by HANDSHAKE, else --max-io-size. */
uint32_t mock_conn_max_io_size(const struct mock_conn *conn);

/*
 * HANDSHAKE accepted: grant the limits (allocates the held-request slots)
 * and become ready. 0, or -ENOMEM with nothing changed.
 */
int mock_conn_grant(struct mock_conn *conn, uint32_t max_inflight,
		    uint32_t max_io_size);
/* OPEN accepted: bind vol (owned by the node) for the next requests. */
void mock_conn_open(struct mock_conn *conn, struct mock_volume *vol,
		    bool read_only);
/* The bound volume, NULL before OPEN; *read_only tells how it is open. */
struct mock_volume *mock_conn_volume(const struct mock_conn *conn,
				     bool *read_only);

/*
 * Output: reserve returns room for len bytes at the end of the output
 * (NULL on allocation failure); commit appends n of them. send_reply
 * appends a reply frame without data (closing the connection when out of
 * memory). Bytes go out on the next flush.
 */
uint8_t *mock_conn_reserve(struct mock_conn *conn, size_t len);
void mock_conn_commit(struct mock_conn *conn, size_t n);
int mock_conn_send_reply(struct mock_conn *conn, const struct rpc_reply *rep);

/*
 * Close: abrupt skips the TLS close_notify (drop fault, protocol
 * violations). Safe to call more than once.
 */
void mock_conn_close(struct mock_conn *conn, bool abrupt);

/*
 * Hold a data request back (data_len bytes of payload copied): until
 * stall is turned off when stall is set, else for delay_ms; the
 * connection then calls mock_request_execute(). 0, -EBUSY when every slot
 * is taken, -ENOMEM.
 */
int mock_conn_hold(struct mock_conn *conn, const struct rpc_request *req,
		   const uint8_t *data, uint32_t data_len, bool stall,
		   uint32_t delay_ms);

#endif
