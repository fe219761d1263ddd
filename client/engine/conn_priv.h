/* SPDX-License-Identifier: MIT */
/* Internals shared by conn.c (state machine) and conn_wire.c (frames). */
#ifndef NETBLK_CONN_PRIV_H
#define NETBLK_CONN_PRIV_H

#include "conn.h"

#define CONN_OUT_HIGH        (1u << 20)  /* stop encoding above this */
#define CONN_READ_FRAMES_MAX 512         /* frames per wake-up */
#define CONN_READ_BYTES_MAX  (16u << 20) /* bytes per wake-up */
#define CONN_SLOT_GEN_SHIFT  32
#define CONN_TRY_PATIENCE    4           /* see conn_timer_cb */

/* conn.c */
void conn_set_state(struct conn *conn, enum conn_state to);
void conn_watch(struct conn *conn, int events);
void conn_update_events(struct conn *conn);

/* conn_wire.c */
/* Write buffered output; returns 0, or -1 when the conn failed. */
int conn_write_out(struct conn *conn);
/* Read and handle what TLS has, within the per-wake-up budget. */
void conn_read(struct conn *conn);
void conn_hello_send(struct conn *conn, enum rpc_op op);
void conn_arm_try_timer(struct conn *conn);

#endif
