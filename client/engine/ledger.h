/* SPDX-License-Identifier: MIT */
/*
 * The FLUSH ledger shared by the sessions of one device (one session per
 * queue, each on its own thread): per node address, how many writes
 * completed without being durable (written) and up to which of them a
 * FLUSH succeeded (flushed). A guest FLUSH on any queue must cover the
 * writes completed on every queue, so a session flushes each node whose
 * written count is ahead of its flushed count, not only the nodes it
 * wrote to itself.
 *
 * Counters only grow. A session snapshots written when it sends a FLUSH
 * and, once the node answered OK, raises flushed to that snapshot: a
 * write counted after the snapshot keeps written ahead, so the next
 * FLUSH goes out for it. Slots are found by address under a mutex when a
 * session creates a node; the counters are atomics, lock-free on the
 * data path. Slots live as long as the ledger.
 */
#ifndef NETBLK_ENGINE_LEDGER_H
#define NETBLK_ENGINE_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "map.h"
#include "session.h"

struct ledger_slot {
	char addr[MAP_ADDR_MAX + 1];
	uint64_t written;          /* atomic */
	uint64_t flushed;          /* atomic */
};

/* The slot of addr, created on first use; NULL without a ledger or when
 * it is full (then the session alone tracks that node). */
struct ledger_slot *nb_ledger_slot_of(struct session_flush_ledger *l,
				   const char *addr);

/* A write completed on the node without being durable. */
static inline void ledger_wrote(struct ledger_slot *slot)
{
	if (slot)
		__atomic_add_fetch(&slot->written, 1, __ATOMIC_SEQ_CST);
}

/* Does the node hold writes no FLUSH has covered yet? */
static inline bool ledger_owes(const struct ledger_slot *slot)
{
	return slot && __atomic_load_n(&slot->written, __ATOMIC_SEQ_CST) >
		__atomic_load_n(&slot->flushed, __ATOMIC_SEQ_CST);
}

/* What a FLUSH sent now covers. */
static inline uint64_t ledger_snapshot(const struct ledger_slot *slot)
{
	return slot ? __atomic_load_n(&slot->written, __ATOMIC_SEQ_CST) : 0;
}

/* A FLUSH sent at snapshot seq succeeded. */
static inline void ledger_flushed(struct ledger_slot *slot, uint64_t seq)
{
	uint64_t cur;

	if (!slot)
		return;
	cur = __atomic_load_n(&slot->flushed, __ATOMIC_SEQ_CST);
	while (cur < seq &&
	       !__atomic_compare_exchange_n(&slot->flushed, &cur, seq, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

#endif
