/* SPDX-License-Identifier: MIT */
/*
 * The RPC layer: framing and encoding of the netblk storage protocol.
 *
 * A frame on the TLS byte stream is
 *
 *   16-byte fixed header | protobuf header (hdr_len) | raw data (data_len)
 *
 * This layer turns plain C structs into frames and back; it owns no
 * sockets and knows nothing of TLS, libev or virtqueues. The generated
 * protobuf-c code is included only by rpc.c. See docs/protocol.md.
 */
#ifndef NETBLK_RPC_H
#define NETBLK_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_MAGIC          0x4e424c4bu /* "NBLK" */
#define RPC_VERSION        1
#define RPC_FRAME_HDR_SIZE 16
#define RPC_MAX_HDR_LEN    (1u << 20)  /* protobuf header, bytes */
#define RPC_MAX_DATA_LEN   (32u << 20) /* absolute cap on one payload */
#define RPC_NAME_MAX       255         /* volume names, node names */
#define RPC_MESSAGE_MAX    255         /* error text in a reply */
#define RPC_LIST_MAX       256         /* volumes in one LIST reply, at most */

/* Request flags */
#define RPC_FLAG_FUA   (1u << 0) /* WRITE, WRITE_ZEROES: durable before reply */
#define RPC_FLAG_UNMAP (1u << 1) /* WRITE_ZEROES: node may deallocate */
#define RPC_FLAGS_ALL  (RPC_FLAG_FUA | RPC_FLAG_UNMAP)

enum rpc_kind {
	RPC_KIND_REQUEST = 1,
	RPC_KIND_REPLY = 2,
};

/* Values equal the protobuf enum values. */
enum rpc_op {
	RPC_OP_NONE = 0,
	RPC_OP_HANDSHAKE,
	RPC_OP_OPEN,
	RPC_OP_READ,
	RPC_OP_WRITE,
	RPC_OP_FLUSH,
	RPC_OP_DISCARD,
	RPC_OP_WRITE_ZEROES,
	RPC_OP_GET_MAP,
	RPC_OP_PING,
	RPC_OP_CREATE,
	RPC_OP_INFO,
	RPC_OP_UNLOCK,
	RPC_OP_DELETE,
	RPC_OP_RESIZE,
	RPC_OP_LIST,
	RPC_OP_MAX
};

enum rpc_status {
	RPC_STATUS_OK = 0,
	RPC_STATUS_IO_ERROR,
	RPC_STATUS_OUT_OF_RANGE,
	RPC_STATUS_READ_ONLY,
	RPC_STATUS_NO_SPACE,
	RPC_STATUS_NOT_OWNER,
	RPC_STATUS_BUSY,
	RPC_STATUS_UNSUPPORTED,
	RPC_STATUS_MALFORMED,
	RPC_STATUS_NOT_FOUND,
	RPC_STATUS_EXISTS,
	RPC_STATUS_BAD_STATE,
	RPC_STATUS_LOCKED,
	RPC_STATUS_FENCED,
	RPC_STATUS_MAX
};

struct rpc_frame_hdr {
	enum rpc_kind kind;
	uint32_t hdr_len;
	uint32_t data_len;
};

struct rpc_handshake {
	uint32_t version;
	uint32_t max_inflight;
	uint32_t max_io_size;
	char name[RPC_NAME_MAX + 1]; /* client_name or node_name */
	bool writes_durable;         /* reply only: no FLUSH needed */
};

/* A volume's writer lock; owner "" when nobody holds it. */
struct rpc_lock {
	char owner[RPC_NAME_MAX + 1];
	uint64_t generation;
	uint64_t since;              /* unix seconds */
};

struct rpc_volume_info {
	char volume[RPC_NAME_MAX + 1];
	uint64_t size;
	uint32_t block_size;
	bool read_only;
	uint32_t max_discard_size;
	uint32_t max_write_zeroes_size;
	struct rpc_lock lock;
};

struct map;

struct rpc_request {
	uint64_t id;
	enum rpc_op op;
	uint64_t offset;
	uint64_t length;
	uint32_t flags;
	uint64_t epoch;
	/* Set according to op: */
	struct rpc_handshake handshake;     /* HANDSHAKE */
	/* OPEN, CREATE, INFO, UNLOCK, DELETE, RESIZE; LIST: start_after */
	char volume[RPC_NAME_MAX + 1];
	bool read_only;                     /* OPEN */
	char owner[RPC_NAME_MAX + 1];       /* OPEN (read-write), UNLOCK, DELETE */
	bool break_lock;                    /* OPEN; DELETE: force */
	uint64_t lock_generation;           /* OPEN, UNLOCK: 0 = any */
	uint64_t create_size;               /* CREATE; RESIZE: the new size */
	uint32_t create_block_size;         /* CREATE */
	uint32_t list_max;                  /* LIST: 0 = the node's page */
};

struct rpc_reply {
	uint64_t id;
	enum rpc_status status;
	char message[RPC_MESSAGE_MAX + 1];
	uint64_t epoch;
	bool has_handshake, has_volume;
	struct rpc_handshake handshake;
	struct rpc_volume_info volume;
	/*
	 * Owned by the reply when set: nb_rpc_reply_decode() allocates it and
	 * nb_rpc_reply_clear() frees it. For encoding, the caller's map is only
	 * read.
	 */
	struct map *map;
	/*
	 * LIST: n_list volumes, more after them when list_more. Owned like
	 * map: allocated by nb_rpc_reply_decode(), freed by
	 * nb_rpc_reply_clear(); only read for encoding.
	 */
	bool has_list;
	bool list_more;
	uint32_t n_list;
	struct rpc_volume_info *list;
};

/* Names for logs; never NULL. */
const char *nb_rpc_op_name(enum rpc_op op);
const char *nb_rpc_status_name(enum rpc_status status);

/*
 * Fixed header. encode writes exactly RPC_FRAME_HDR_SIZE bytes.
 * decode returns 0, -EPROTO for a bad magic, version or kind, or
 * -EMSGSIZE when hdr_len exceeds RPC_MAX_HDR_LEN or data_len exceeds
 * max_data_len (itself capped at RPC_MAX_DATA_LEN).
 */
void nb_rpc_frame_hdr_encode(uint8_t *out, enum rpc_kind kind,
			  uint32_t hdr_len, uint32_t data_len);
int nb_rpc_frame_hdr_decode(const uint8_t *in, struct rpc_frame_hdr *hdr,
			 uint32_t max_data_len);

/*
 * Encode a whole frame head (fixed header + protobuf header) into buf.
 * data_len is the length of the raw payload the caller sends after it.
 * Returns the number of bytes written, or -ENOSPC when cap is too small,
 * -EINVAL for a value the protocol cannot carry.
 */
int nb_rpc_request_encode(const struct rpc_request *req, uint32_t data_len,
		       uint8_t *buf, size_t cap);
int nb_rpc_reply_encode(const struct rpc_reply *rep, uint32_t data_len,
		     uint8_t *buf, size_t cap);
/* Upper bound of the encoded size, for sizing buffers. */
size_t nb_rpc_request_encoded_max(const struct rpc_request *req);
size_t nb_rpc_reply_encoded_max(const struct rpc_reply *rep);

/*
 * Decode a protobuf header (the hdr_len bytes after the fixed header).
 * Returns 0, or -EBADMSG when the bytes are not a valid message or carry
 * values out of range (unknown op or status, oversized strings). A
 * decoded reply may own a map: release it with nb_rpc_reply_clear().
 */
int nb_rpc_request_decode(const uint8_t *buf, size_t len, struct rpc_request *req);
int nb_rpc_reply_decode(const uint8_t *buf, size_t len, struct rpc_reply *rep);
void nb_rpc_reply_clear(struct rpc_reply *rep);

/*
 * Does a well-formed request of this op carry data in the request frame
 * (WRITE) / in its OK reply (READ)?
 */
bool nb_rpc_op_has_request_data(enum rpc_op op);
bool nb_rpc_op_has_reply_data(enum rpc_op op);

#endif
