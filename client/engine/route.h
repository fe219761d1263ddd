/* SPDX-License-Identifier: MIT */
/*
 * Routing decisions of the client engine, as pure functions: checking an
 * io, cutting it at chunk and size limits, walking the caller's iovecs,
 * choosing a node of a placement, what a reply status means, when a map
 * is newer, backoff delays, mapping session ops to wire ops, and
 * splitting node addresses. No I/O, no
 * allocation, no logging: unit-tested without a network (test_route.c,
 * test_status.c).
 */
#ifndef NETBLK_ROUTE_H
#define NETBLK_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iov.h"
#include "session.h"
#include "map.h"
#include "rpc.h"

/*
 * Check an io against the volume before accepting it. Returns
 *   0            accept
 *   -EINVAL      refuse (nb_session_submit returns it): unknown op, bad
 *                flags, unaligned or out-of-range offset/length, zero
 *                length READ/WRITE, too few iovec bytes
 *   -EROFS       accept but fail: write-class op, read-only volume
 *   -EOPNOTSUPP  accept but fail: the volume does not do this op
 */
int nb_route_io_validate(const struct session_io *io,
		      const struct rpc_volume_info *vol, bool read_only);

/* The wire op of a session op; RPC_OP_NONE for none. Inline: every
 * request goes through it. */
static inline enum rpc_op route_wire_op(enum session_op op)
{
	switch (op) {
	case SESSION_OP_READ: return RPC_OP_READ;
	case SESSION_OP_WRITE: return RPC_OP_WRITE;
	case SESSION_OP_FLUSH: return RPC_OP_FLUSH;
	case SESSION_OP_DISCARD: return RPC_OP_DISCARD;
	case SESSION_OP_WRITE_ZEROES: return RPC_OP_WRITE_ZEROES;
	default: return RPC_OP_NONE;
	}
}

/* The wire flags (RPC_FLAG_*) of session flags (SESSION_FLAG_*). */
static inline uint32_t route_wire_flags(uint32_t flags)
{
	return (flags & SESSION_FLAG_FUA ? RPC_FLAG_FUA : 0) |
	       (flags & SESSION_FLAG_UNMAP ? RPC_FLAG_UNMAP : 0);
}

/* Is op a write-class op (WRITE, DISCARD, WRITE_ZEROES)? */
bool nb_route_op_writes(enum rpc_op op);

/* Does a node refuse op once the writer lock is broken (FENCED): the
 * write-class ops and FLUSH? */
bool nb_route_op_fenced(enum rpc_op op);

/*
 * Largest piece of op one request may carry: max_io_size for READ and
 * WRITE, the volume's discard / write-zeroes limits for those (rounded
 * down to SESSION_SECTOR), 0 for ops with no range.
 */
uint64_t nb_route_op_max_len(enum rpc_op op, const struct rpc_volume_info *vol,
			  uint32_t max_io_size);

/*
 * Length of the first piece of [offset, offset + length) that stays in
 * one chunk and is at most max_len (0 = no size limit). Never 0 for
 * length > 0. chunk_size must be a power of two.
 */
uint64_t nb_route_piece_len(uint64_t offset, uint64_t length,
			 uint64_t chunk_size, uint64_t max_len);

/* Number of pieces nb_route_piece_len cuts the range into (0 for length 0). */
uint64_t nb_route_count_pieces(uint64_t offset, uint64_t length,
			    uint64_t chunk_size, uint64_t max_len);

/*
 * May a chunk of placement pl be served by the node at position pos?
 * Only by the placement's first node or a node of the same store group
 * (map_same_store): the others do not hold the chunk's data.
 */
bool nb_route_candidate(const struct map *map, const struct map_placement *pl,
			uint32_t pos);

/* Number of positions of pl that nb_route_candidate() accepts (>= 1). */
uint32_t nb_route_candidates(const struct map *map,
			     const struct map_placement *pl);

/*
 * First position in pl, going round from start_pos, that is a candidate
 * (nb_route_candidate) and whose node usable() accepts. Returns the
 * position (0 .. pl->n - 1) or -1 when none is: the chunk then waits for
 * one of its candidates, it never goes to a node of another store.
 */
typedef bool route_usable_fn(uint32_t node, void *opaque);
int nb_route_pick(const struct map *map, const struct map_placement *pl,
		  uint32_t start_pos, route_usable_fn *usable, void *opaque);

/*
 * Can an engine routing with map have written to node (a candidate of
 * some placement)? A new engine owes a FLUSH to each such node that does
 * not say writes_durable: its predecessor may have left writes there.
 */
bool nb_route_node_writable(const struct map *map, uint32_t node);

/* What the engine does with a reply status. */
enum route_action {
	ROUTE_COMPLETE,     /* finish the request with the given result */
	ROUTE_NEXT_NODE,    /* try the next node of the placement, then
			       keep retrying until the io timeout */
	ROUTE_RETRY_LATER,  /* same routing again after a backoff */
	ROUTE_REFRESH_MAP,  /* the map may be stale: refresh, route again */
	ROUTE_RECONNECT,    /* the connection lost its state: reconnect,
			       send again */
	ROUTE_ACTION_MAX
};

/*
 * Decide for a reply to a block request. *result gets the io result for
 * ROUTE_COMPLETE (0, -EIO, -EROFS, -EOPNOTSUPP) and -EIO otherwise (the
 * result if retries run out).
 */
enum route_action nb_route_status_action(enum rpc_status status, int *result);

/* Should a NOT_OWNER carrying node_epoch (0 = unknown) trigger a map
 * refresh, given the epoch we routed with? Otherwise the node is behind
 * us and the next node of the placement is tried. */
bool nb_route_should_refresh(uint64_t have_epoch, uint64_t node_epoch);

/* Is a map with epoch got newer than the one we have (have; 0 = none)? */
bool nb_route_map_is_newer(uint64_t have_epoch, uint64_t got_epoch);

/*
 * Backoff before attempt number attempt (0 = first retry): base doubled
 * per attempt up to max, scaled by a jitter factor in [0.75, 1.25) taken
 * from rnd. Always > 0 and <= 1.25 * max.
 */
double nb_route_backoff(uint32_t attempt, double base, double max, uint32_t rnd);

/* Small per-session and per-conn pseudo-random generator (xorshift64*). */
uint32_t nb_route_rand(uint64_t *state);

/*
 * Split "host:port" or "[v6]:port" into host (brackets removed) and
 * port with nb_split_host_port() (parse.h). Returns 0, or -EINVAL for
 * an empty host, a missing or non-numeric port, port 0 or over 65535,
 * an unbalanced bracket, brackets around anything but an IPv6 address,
 * an unbracketed IPv6 address, or a part too long for its buffer.
 */
int nb_route_addr_split(const char *addr, char *host, size_t hostlen,
		     char *port, size_t portlen);

#endif
