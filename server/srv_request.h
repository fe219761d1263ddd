/* SPDX-License-Identifier: MIT */
/*
 * Inside request handling (request.c, request_admin.c): answering a
 * request, and the helpers the handlers share. Every reply goes out
 * through nb_srv_conn_send_reply().
 */
#ifndef NETBLK_SRV_REQUEST_H
#define NETBLK_SRV_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "srv_conn.h"

/* An empty reply to request id with status and the node's map epoch. */
void nb_srv_request_reply_init(struct srv_conn *conn, struct rpc_reply *rep,
			       uint64_t id, enum rpc_status status);
/* Answer with an error status and a message (also logged at debug). */
void nb_srv_request_fail_id(struct srv_conn *conn, uint64_t id, enum rpc_op op,
			    enum rpc_status status, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define srv_request_fail(conn, req, status, ...) \
	nb_srv_request_fail_id(conn, (req)->id, (req)->op, status, __VA_ARGS__)
/* A store's -errno as a status: NO_SPACE, MALFORMED (-EINVAL), IO_ERROR. */
enum rpc_status nb_srv_request_errno_status(int err);
/* "2024-05-01T10:00:00Z" (UTC), or "?" */
void nb_srv_lock_since(uint64_t since, char *buf, size_t len);
/* Lock owners are free text without control bytes. */
bool nb_srv_request_owner_valid(const char *owner);
/*
 * The volume a request names, with a reference (nb_srv_volume_put()),
 * or NULL after answering why not (NOT_FOUND, ...).
 */
struct srv_volume *nb_srv_request_volume(struct srv_conn *conn,
					 const struct rpc_request *req);

/* request_admin.c */
/*
 * The store no longer has vol (deleted through another node of a shared
 * store): take it out of the table and answer NOT_FOUND.
 */
void nb_srv_request_gone(struct srv_conn *conn, const struct rpc_request *req,
			 struct srv_volume *vol);
void nb_srv_request_delete(struct srv_conn *conn, const struct rpc_request *req);
void nb_srv_request_resize(struct srv_conn *conn, const struct rpc_request *req);
void nb_srv_request_list(struct srv_conn *conn, const struct rpc_request *req);

#endif
