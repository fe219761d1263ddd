/* SPDX-License-Identifier: MIT */
/*
 * dq.h - the driver side of one split virtqueue (what a guest's virtio_ring
 * does): descriptor free list, direct and indirect chains, publishing the
 * avail index, kick suppression (VRING_USED_F_NO_NOTIFY or EVENT_IDX) and
 * collecting used elements, validating what the device wrote there.
 *
 * The ring lives in memory the caller owns (mapped for the device); the
 * layout is the legacy one of vring_init() with 4 KiB alignment. No
 * syscalls except the kick (write to the kick eventfd).
 */
#ifndef VBT_DQ_H
#define VBT_DQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#define DQ_RING_ALIGN 4096

struct dq_seg {
	uint64_t iova;
	uint32_t len;
	bool dev_writes;	/* VRING_DESC_F_WRITE */
};

struct dq {
	unsigned idx, num;
	struct vring vr;
	uint64_t desc_iova, avail_iova, used_iova;
	int kickfd;
	bool event_idx;
	uint16_t free_head, num_free;
	uint16_t avail_idx;	/* next avail index we publish */
	uint16_t kicked_idx;	/* avail index at the last kick decision */
	uint16_t last_used;	/* next used index we consume */
	void **cookie;		/* per head descriptor; NULL = not in use */
	uint16_t *chain_len;	/* descriptors a head's chain occupies */
	uint64_t kicks, kicks_suppressed, completions;
};

/* Bytes of ring memory for NUM entries (vring_size with DQ_RING_ALIGN). */
size_t dq_ring_bytes(unsigned num);

/*
 * Lays out a ring of NUM entries at mem (zeroed here) whose device address
 * is iova. Returns 0 or -ENOMEM.
 */
int dq_init(struct dq *q, unsigned idx, unsigned num, void *mem,
	    uint64_t iova, int kickfd, bool event_idx);
void dq_fini(struct dq *q);

/*
 * Adds a chain of n segments. With indirect != NULL the segments go to that
 * table (n entries, at device address indirect_iova) and the ring gets one
 * descriptor. Returns 0, or -ENOSPC when the ring lacks free descriptors.
 * The chain is not visible to the device until dq_publish().
 */
int dq_add(struct dq *q, const struct dq_seg *segs, unsigned n,
	   struct vring_desc *indirect, uint64_t indirect_iova, void *cookie);

/* Publishes added chains and kicks unless the device suppressed it. */
int dq_publish(struct dq *q);

/*
 * Takes the next used element: returns 1 and sets *cookie and *len, 0 when
 * none is pending, or -EPROTO (with a message in why) when the device wrote
 * a bad id.
 */
int dq_get_used(struct dq *q, void **cookie, uint32_t *len, char *why,
		size_t why_len);

/* With EVENT_IDX: ask for an interrupt at the next used element. */
void dq_want_interrupt(struct dq *q);

bool dq_has_used(const struct dq *q);
unsigned dq_in_flight(const struct dq *q);

#endif
