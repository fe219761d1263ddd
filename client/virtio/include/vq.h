/* SPDX-License-Identifier: MIT */
/* Split virtqueue, device side (virtio 1.x, little-endian rings).
 *
 * This layer walks the rings a driver (the guest kernel) shares with us and
 * turns each available descriptor chain into host iovecs; it knows nothing
 * of event loops, block devices or the network.  Memory is reached only
 * through a transport, a `struct vq_ops` table: the VDUSE daemon maps IOVAs
 * through the regions it mmap'd from VDUSE_IOTLB_GET_FD and injects
 * interrupts with VDUSE_VQ_INJECT_IRQ; tests and fuzzers use vq_fake.h.
 *
 * Threading: a queue belongs to one thread.  The guest runs concurrently;
 * ring indices are read with acquire and published with release semantics,
 * and every descriptor is copied once before it is checked, so the guest
 * changing memory under us can make a request fail, never make us touch
 * memory outside what the transport maps.
 *
 * Malformed chains.  nb_vq_pop() still returns them (elem->error < 0 with a
 * reason in elem->why) so the caller can complete them and the queue keeps
 * going:
 *  - buffer errors (unmapped or partly mapped buffer, zero length, readable
 *    after writable, lengths over 4 GiB, too many segments): the whole chain
 *    was walked, no iovec is returned, and elem->last_in_byte points at the
 *    last byte of the last device-writable descriptor if that byte is mapped
 *    writable (virtio-blk's status byte), else NULL;
 *  - chain errors (next index out of range, loop or chain longer than the
 *    queue, indirect table bad, nested or not negotiated): the chain's end is
 *    unknown, so no iovec and last_in_byte is NULL.
 * Either way the caller must nb_vq_push(elem->head, bytes written) and free it.
 * A head index out of range cannot be completed at all: nb_vq_pop() consumes
 * it, sets the queue's needs-reset flag and goes on with the next entry.
 * A caller that cannot report a failure in-band calls nb_vq_set_needs_reset()
 * (the device should then set VIRTIO_CONFIG_S_NEEDS_RESET).
 */
#ifndef NETBLK_VQ_H
#define NETBLK_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iov.h"

/* Largest queue the split layout allows. */
#define VQ_MAX_SIZE 32768u
/* Most host iovecs one chain may produce (after splitting buffers that
 * span several mapped regions).  Longer chains fail with -E2BIG. */
#define VQ_MAX_IOV 1024u
/* Most descriptors an indirect table may hold (16 KiB table).  The spec
 * leaves this open; drivers size tables by seg_max, which is far below. */
#define VQ_MAX_INDIRECT 1024u

struct vq_ops {
	/* Host address of guest IOVA @iova, for up to *@len bytes.  On success
	 * set *@len to the number of bytes, at most the requested number, that
	 * are contiguous in host memory from there (the end of the mapped
	 * region), and return the pointer.  Return NULL if @iova is not mapped,
	 * or not writable when @write is true.  Must not fail for other reasons
	 * and must not block. */
	void *(*translate)(void *opaque, uint64_t iova, uint64_t *len,
			   bool write);
	/* Signal the driver that used buffers are available (interrupt).
	 * 0 or -errno. */
	int (*notify)(void *opaque);
};

/* Where the rings live, from VDUSE_VQ_GET_INFO or the fake driver. */
struct vq_layout {
	uint32_t num;		/* queue size: power of two, 1..VQ_MAX_SIZE */
	uint64_t desc_iova;	/* descriptor table, 16-byte aligned */
	uint64_t avail_iova;	/* driver area, 2-byte aligned */
	uint64_t used_iova;	/* device area, 4-byte aligned */
	uint16_t last_avail_idx; /* where to resume popping (0 when fresh) */
	uint64_t features;	/* negotiated: VIRTIO_RING_F_INDIRECT_DESC,
				   VIRTIO_RING_F_EVENT_IDX honoured */
};

/* A popped chain.  Allocated by nb_vq_pop() with malloc() as one block of the
 * size the caller asked for (so a caller struct can embed this as its first
 * member) followed by the iovec array.  Freed by the caller with free(),
 * after nb_vq_push(). */
struct vq_elem {
	uint16_t head;		/* id to give back with nb_vq_push() */
	int error;		/* 0, or -errno when the chain is malformed */
	const char *why;	/* static text naming what was wrong, or NULL */
	unsigned int out_num;	/* device-readable iovecs: iov[0..out_num) */
	unsigned int in_num;	/* device-writable ones follow them */
	uint64_t out_len;	/* byte totals of those iovecs */
	uint64_t in_len;
	uint8_t *last_in_byte;	/* see the header comment; NULL if none */
	struct iovec *iov;	/* out_num + in_num entries */
};

struct vq_stats {
	uint64_t popped;	/* chains handed out, malformed included */
	uint64_t malformed;	/* of which with elem->error */
	uint64_t bad_heads;	/* head index out of range, dropped */
	uint64_t pushed;
	uint64_t notifies;	/* interrupts actually sent */
	uint64_t notifies_suppressed;
};

/*
 * In-flight log: what a successor process needs to resume a queue after
 * this one died (kill -9 included). It lives in memory the caller maps
 * from a file (MAP_SHARED under /run), so every store that executed
 * survives the process. nb_vq_pop() marks a head in flight before it records
 * the new last_avail_idx; nb_vq_push() publishes the used entry before it
 * clears the mark and records used_idx. nb_vq_recover() reconciles a log
 * with the rings, whatever instruction the writer died at.
 */
struct vq_log {
	uint32_t num;                    /* queue size the log belongs to */
	uint16_t last_avail_idx;         /* chains before this were popped */
	uint16_t used_idx;               /* pushes recorded */
	uint8_t inflight[VQ_MAX_SIZE];   /* 1: popped, not yet pushed */
};

struct vq;

/* New unconfigured queue (not ready: nb_vq_pop() returns -ENXIO).  @index is
 * kept for the caller's messages only.  NULL with errno on failure. */
struct vq *nb_vq_new(const struct vq_ops *ops, void *opaque, unsigned int index);
void nb_vq_free(struct vq *vq);

/* Check the layout and map the rings.  -EINVAL for a bad size or
 * alignment, -EFAULT if a ring is not mapped in one piece with the access
 * it needs.  used_idx starts at the ring's current used->idx. */
int nb_vq_setup(struct vq *vq, const struct vq_layout *layout);
/* Re-translate the rings after the transport's mappings changed; call it
 * before unmapping anything the old ring pointers used.  On failure the
 * queue is not ready until the next successful nb_vq_remap()/nb_vq_setup(). */
int nb_vq_remap(struct vq *vq);
/* Forget the layout (device reset).  In-flight elements may still be
 * freed, but pushing them is refused. */
void nb_vq_reset(struct vq *vq);

bool nb_vq_ready(const struct vq *vq);
unsigned int nb_vq_index(const struct vq *vq);
uint32_t nb_vq_size(const struct vq *vq);
uint16_t nb_vq_last_avail_idx(const struct vq *vq);
/* Chains popped and not yet pushed. */
unsigned int nb_vq_inflight(const struct vq *vq);
const struct vq_stats *nb_vq_get_stats(const struct vq *vq);

/* Sticky flag: the driver broke the ring in a way that cannot be reported
 * per request.  Cleared by nb_vq_setup() and nb_vq_reset(). */
bool nb_vq_needs_reset(const struct vq *vq);
void nb_vq_set_needs_reset(struct vq *vq);

/* Pop the next available chain into a fresh element of @elem_size bytes
 * (>= sizeof(struct vq_elem); the vq_elem is at offset 0).
 * 0: *@elemp set (check elem->error).  -EAGAIN: nothing available.
 * -ENOMEM.  -ENXIO: queue not ready.  -EIO: the avail index is more than a
 * queue ahead of us (broken driver, needs-reset set, nothing consumed). */
int nb_vq_pop(struct vq *vq, size_t elem_size, struct vq_elem **elemp);

/*
 * Start (log != NULL) or stop logging to @log. Starting a fresh log sets
 * it to the queue's current position with nothing in flight.
 */
void nb_vq_log_start(struct vq *vq, struct vq_log *log);
void nb_vq_log_stop(struct vq *vq);

/*
 * Resume from @log after nb_vq_setup() with layout.last_avail_idx =
 * log->last_avail_idx: finish the bookkeeping a dead writer left half
 * done, then store in @heads (room for the queue size) the heads that
 * were popped and never completed, and return how many. The caller
 * re-reads each with nb_vq_pop_head() and completes it as usual. Starts
 * logging to @log. -EINVAL when the log does not match the queue.
 */
int nb_vq_recover(struct vq *vq, struct vq_log *log, uint16_t *heads);

/* As nb_vq_pop(), for chain @head that was popped by an earlier process. */
int nb_vq_pop_head(struct vq *vq, uint16_t head, size_t elem_size,
		struct vq_elem **elemp);

/* True if nb_vq_pop() would find something (cheap; no state change). */
bool nb_vq_has_avail(struct vq *vq);

/* Return chain @id to the driver with @len bytes written to its writable
 * buffers.  The used index is published at once; the interrupt is left to
 * nb_vq_notify_batch().  -ENXIO if the queue is not ready. */
int nb_vq_push(struct vq *vq, uint16_t id, uint32_t len);

/* Send at most one interrupt for everything pushed since the last call,
 * unless the driver suppressed it (used_event with VIRTIO_RING_F_EVENT_IDX,
 * else VRING_AVAIL_F_NO_INTERRUPT).  0, or the transport's -errno. */
int nb_vq_notify_batch(struct vq *vq);

/* Kick (driver -> device notification) suppression around a processing
 * loop:
 *	do {
 *		nb_vq_kick_disable(vq);
 *		... pop up to a budget; if the budget ran out, reschedule ...
 *	} while (nb_vq_kick_enable(vq));
 * nb_vq_kick_enable() returns true if chains arrived meanwhile (keep going). */
void nb_vq_kick_disable(struct vq *vq);
bool nb_vq_kick_enable(struct vq *vq);

/* Copies between guest buffers and flat memory: nb_iov_to_buf() and
 * nb_iov_from_buf() of iov.h (common). */


#endif
