/* SPDX-License-Identifier: MIT */
/*
 * An in-process storage node for the engine's unit tests: a TLS 1.3
 * server on 127.0.0.1 driven by the test's own ev_loop, answering the
 * netblk protocol from a memory disk, with a hook that lets a test
 * answer any request differently (a status, no answer, raw bytes, a
 * closed connection). Also makes a throw-away PKI in a temp directory.
 */
#ifndef NETBLK_FAKE_NODE_H
#define NETBLK_FAKE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "map.h"
#include "rpc.h"

struct fake_pki {
	char dir[64];
	char ca[96], cert[96], key[96];          /* client side files */
	char other_ca[96];                        /* a CA that signed nothing */
	SSL_CTX *server_ctx;                      /* SAN 127.0.0.1, localhost */
	SSL_CTX *expired_ctx;                     /* same names, expired */
};

/* Make the PKI; returns 0 or -1. fake_pki_free removes the files. */
int fake_pki_init(struct fake_pki *pki);
void fake_pki_free(struct fake_pki *pki);

enum fake_kind {
	FAKE_DEFAULT,   /* let the node answer normally */
	FAKE_REPLY,     /* send ans->rep (with READ data if status OK) */
	FAKE_HOLD,      /* no answer now; fake_node_release() answers */
	FAKE_RAW,       /* send ans->raw instead of a reply */
	FAKE_CLOSE,     /* close the connection without answering */
};

struct fake_answer {
	enum fake_kind kind;
	struct rpc_reply rep;
	uint8_t raw[512];
	size_t raw_len;
};

struct fake_node;
typedef void fake_hook_fn(struct fake_node *n, const struct rpc_request *req,
			  struct fake_answer *ans, void *opaque);

struct fake_disk {
	uint8_t *bytes;
	uint64_t size;
};

struct fake_node {
	struct ev_loop *loop;
	SSL_CTX *ctx;
	int lfd;
	ev_io accept_w;
	char addr[64];
	const char *volume;
	uint32_t block_size;
	uint32_t max_inflight, max_io_size;
	uint32_t max_discard;
	bool paused;                /* read nothing (after TLS) while set */
	bool writes_durable;        /* said at HANDSHAKE */
	/*
	 * The writer lock (docs/protocol.md), kept only with lock_enabled
	 * (else OPEN and INFO report none and nothing is fenced). A
	 * read-write OPEN takes it by the protocol's rules and binds the
	 * connection to its generation; write-class requests on a
	 * connection whose generation is gone get FENCED. Nodes of a test
	 * share one lock by pointing lock at the same struct (default: their
	 * own own_lock). LOCKED replies carry VolumeInfo with the holder
	 * unless locked_bare.
	 */
	bool lock_enabled;
	bool locked_bare;
	struct rpc_lock own_lock;
	struct rpc_lock *lock;
	/* What the last read-write OPEN asked for. */
	char open_owner[RPC_NAME_MAX + 1];
	bool open_break;
	uint64_t open_generation;
	unsigned opens_rw, opens_ro;
	struct fake_disk *disk;
	struct map *map;            /* sent with OPEN and GET_MAP (borrowed) */
	fake_hook_fn *hook;
	void *hook_opaque;

	/* counters */
	unsigned conns_accepted;
	unsigned reqs[RPC_OP_MAX];
	unsigned held, max_held;
	unsigned handshakes_failed;

	struct fake_conn *conns;
};

struct fake_node *fake_node_new(struct ev_loop *loop, SSL_CTX *ctx,
				struct fake_disk *disk, const char *volume);
void fake_node_free(struct fake_node *n);
/* Answer every held request normally. */
void fake_node_release(struct fake_node *n);
/* Close every connection of the node (as if it crashed). */
void fake_node_drop_all(struct fake_node *n);
/* Another client takes the writer lock (--break-lock): owner, next
 * generation; owner "" breaks it without taking it (UNLOCK). */
void fake_node_break_lock(struct fake_node *n, const char *owner);

#endif
