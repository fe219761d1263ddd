/* SPDX-License-Identifier: MIT */
/*
 * One request of a connection: protocol checks, cluster-map ownership,
 * fault injection and execution against the volume. Replies are appended
 * to the connection's output; they go out at the next flush.
 */
#ifndef NETBLK_MOCK_REQUEST_H
#define NETBLK_MOCK_REQUEST_H

#include <stdint.h>

#include <ev.h>

#include "conn.h"

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

/* Timer of a request held by a delay fault. */
void mock_request_held_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

#endif
