/* SPDX-License-Identifier: MIT */
/*
 * IOVA -> host address translation for one worker thread of a VDUSE
 * device: a cache of regions mmap'd from the file descriptors that
 * VDUSE_IOTLB_GET_FD hands out.
 *
 * Each worker owns one struct iotlb (no locks on the data path). When the
 * kernel sends VDUSE_UPDATE_IOTLB for [start, last], the device's control
 * thread asks every worker to call nb_iotlb_invalidate() and waits for them
 * before it answers, so no request popped after the answer can use a stale
 * mapping.
 *
 * A region removed by invalidation may still be in use by requests in
 * flight (a network read may land in it later), so it is not unmapped at
 * once: it retires, tagged with the worker's request sequence number, and
 * is unmapped by nb_iotlb_reap() once every request popped before the
 * invalidation has completed. Writes into a retired region reach the old
 * pages, never unmapped memory.
 *
 * The lookup function is pluggable so tests can drive the cache without a
 * kernel (see iotlb_lookup_fn).
 */
#ifndef NETBLK_IOTLB_H
#define NETBLK_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

/* Most regions kept mapped per worker; the least recently added go first. */
#define IOTLB_MAX_REGIONS 256

/*
 * Find the mapping that covers iova. Returns a file descriptor the cache
 * will mmap at *offset for last - start + 1 bytes and then close, with
 * *start, *last, *offset and *perm (VDUSE_ACCESS_RO/WO/RW) set; or -errno
 * when nothing is mapped there.
 */
typedef int iotlb_lookup_fn(void *opaque, uint64_t iova, uint64_t *start,
			    uint64_t *last, uint64_t *offset, uint8_t *perm);

struct iotlb_stats {
	uint64_t lookups;     /* translations served */
	uint64_t misses;      /* of which needed the kernel */
	uint64_t faults;      /* of which found nothing mapped */
	uint64_t mapped;      /* regions mmap'd */
	uint64_t retired;     /* regions invalidated */
	uint64_t unmapped;    /* regions munmap'd */
};

struct iotlb;

/* NULL with errno on failure. */
struct iotlb *nb_iotlb_new(iotlb_lookup_fn *lookup, void *opaque);
/* Unmaps everything, retired regions included: only once no request
 * is in flight. */
void nb_iotlb_free(struct iotlb *t);

/*
 * Host address of iova, valid for *len bytes (clipped to the end of its
 * region). NULL when not mapped or, with write, not writable. Matches
 * struct vq_ops.translate.
 */
void *nb_iotlb_translate(struct iotlb *t, uint64_t iova, uint64_t *len,
		      bool write);

/* Forget every region overlapping [start, last]; see the header comment. */
void nb_iotlb_invalidate(struct iotlb *t, uint64_t start, uint64_t last);

/*
 * Requests in flight: nb_iotlb_seq() hands out the sequence number to tag a
 * new request with (each call a new one, increasing); nb_iotlb_reap(oldest)
 * unmaps the retired regions that no request tagged >= oldest can use.
 * Pass IOTLB_NONE_INFLIGHT when nothing is in flight.
 */
#define IOTLB_NONE_INFLIGHT UINT64_MAX
uint64_t nb_iotlb_seq(struct iotlb *t);
void nb_iotlb_reap(struct iotlb *t, uint64_t oldest_inflight_seq);

const struct iotlb_stats *nb_iotlb_get_stats(const struct iotlb *t);
/* Regions currently mapped for lookup / retired but not yet unmapped. */
unsigned int nb_iotlb_live_count(const struct iotlb *t);
unsigned int nb_iotlb_retired_count(const struct iotlb *t);

#endif
