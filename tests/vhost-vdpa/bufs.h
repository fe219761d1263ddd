/* SPDX-License-Identifier: MIT */
/*
 * bufs.h - the memory the device sees and where it sees it.
 *
 * One memfd (shared, file-backed: vhost-vdpa in VA mode, which VDUSE uses,
 * only maps shared file mappings) holds
 *   - a control region (rings, request headers, status bytes, indirect
 *     tables), mapped once at ctrl_iova;
 *   - data chunks, one per request slot plus spares, each mapped on its own
 *     at one of a small pool of IOVA windows.
 * bufs_move() gives an idle slot a different chunk at a different IOVA
 * window (IOTLB UPDATE new, INVALIDATE old, in a batch or not), poisons the
 * chunk it left and returns both to the pools, so IOVAs get reused for
 * other memory: a device that keeps using a stale translation reads or
 * writes the wrong bytes, which the data checks catch.
 */
#ifndef VBT_BUFS_H
#define VBT_BUFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"
#include "vhd.h"

#define BUFS_POISON 0xdb	/* fill of memory the device must not touch */

struct bufs_slot {
	unsigned chunk;		/* index of the memfd chunk */
	unsigned window;	/* index of the IOVA window */
};

struct bufs {
	struct vhd *dev;
	int memfd;
	uint8_t *base;
	size_t size;
	size_t ctrl_size;
	uint64_t ctrl_iova;
	size_t chunk_size;
	unsigned nslots, nchunks, nwindows;
	uint64_t data_iova;	/* window k is at data_iova + k * chunk_size */
	struct bufs_slot *slot;
	unsigned *free_chunk, nfree_chunk;
	unsigned *free_window, nfree_window;
	bool mapped;
	uint64_t moves, ctrl_refreshes;
	struct util_rng rng;
};

/*
 * Creates the memfd and its mapping (not yet mapped for the device).
 * Returns NULL with errno set.
 */
struct bufs *bufs_new(struct vhd *dev, size_t ctrl_size, unsigned nslots,
		      size_t chunk_size, uint64_t seed);
void bufs_free(struct bufs *b);

/* IOTLB-maps the control region and every slot's chunk. */
int bufs_map(struct bufs *b);
/* Invalidates every mapping made by bufs_map/bufs_move. */
int bufs_unmap(struct bufs *b);

static inline uint8_t *bufs_ctrl_va(struct bufs *b, size_t off)
{
	return b->base + off;
}

static inline uint64_t bufs_ctrl_iova(struct bufs *b, size_t off)
{
	return b->ctrl_iova + off;
}

uint8_t *bufs_slot_va(struct bufs *b, unsigned slot);
uint64_t bufs_slot_iova(struct bufs *b, unsigned slot);

/*
 * Replaces the control region's mapping (rings, headers, status bytes) by
 * an identical one in one IOTLB batch: INVALIDATE then UPDATE. Legal while
 * requests are in flight since the device never sees a gap; the device
 * must drop and re-look-up its translations. -EOPNOTSUPP without batching.
 */
int bufs_refresh_ctrl(struct bufs *b);

/* Moves an idle slot's buffer to another chunk and IOVA window. */
int bufs_move(struct bufs *b, unsigned slot, bool batch);

#endif
