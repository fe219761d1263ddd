/* SPDX-License-Identifier: MIT */
/* In-process fake transport and driver for the virtqueue layer.
 *
 * Memory: a few "mapped regions" of plain host memory placed at chosen
 * IOVAs, each readable and/or writable by the device, exactly like the
 * regions the VDUSE daemon mmaps.  `vq_fake_ops` translates through them
 * and counts interrupts.
 *
 * Driver: helpers that write descriptor tables, avail entries, indirect
 * tables and event indices with any values at all (hostile ones included)
 * and read the used ring back, so tests and fuzzers can drive every chain a
 * guest can build.  The driver side ignores region permissions (the guest
 * owns its memory) but never writes outside a region: helpers return
 * -EFAULT instead.
 *
 * For tests and fuzzers only; not linked into the daemon.
 */
#ifndef NETBLK_VQ_FAKE_H
#define NETBLK_VQ_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "vq.h"

#define VQ_FAKE_MAX_REGIONS 16

/* Region permissions, as seen by the device. */
#define VQ_FAKE_READ  1u
#define VQ_FAKE_WRITE 2u
#define VQ_FAKE_RW    (VQ_FAKE_READ | VQ_FAKE_WRITE)

struct vq_fake;

/* Transport table; its opaque is the struct vq_fake *. */
extern const struct vq_ops vq_fake_ops;

/* NULL with errno on failure.  vq_fake_free() releases all regions. */
struct vq_fake *vq_fake_new(void);
void vq_fake_free(struct vq_fake *f);

/* Map @size zeroed bytes at @iova with @perm.  Returns the host memory
 * (page aligned), or NULL with errno: EINVAL for size 0, overlap, wrap, or
 * too many regions. */
void *vq_fake_map(struct vq_fake *f, uint64_t iova, uint64_t size,
		  unsigned int perm);
/* Unmap the region starting at @iova.  0 or -ENOENT. */
int vq_fake_unmap(struct vq_fake *f, uint64_t iova);
/* Host pointer to [@iova, @iova + @len) if inside one region, whatever its
 * permissions, else NULL. */
void *vq_fake_host(struct vq_fake *f, uint64_t iova, uint64_t len);
/* Copy to/from guest memory (driver view).  0 or -EFAULT. */
int vq_fake_write(struct vq_fake *f, uint64_t iova, const void *buf,
		  uint64_t len);
int vq_fake_read(struct vq_fake *f, uint64_t iova, void *buf, uint64_t len);

/* Interrupts the device sent through vq_fake_ops.notify. */
unsigned int vq_fake_notifies(const struct vq_fake *f);
/* Make notify fail with @err (0 restores success). */
void vq_fake_set_notify_error(struct vq_fake *f, int err);

/* ---- driver side of one split ring ---- */

/* Place a ring of @num entries at the given IOVAs (inside mapped regions),
 * zero it, and fill @layout for nb_vq_setup() with @features.
 * 0 or -EFAULT / -EINVAL. */
int vq_fake_ring_init(struct vq_fake *f, uint32_t num, uint64_t desc_iova,
		      uint64_t avail_iova, uint64_t used_iova,
		      uint64_t features, struct vq_layout *layout);

/* The helpers below need a ring set up by vq_fake_ring_init() first.
 * Write descriptor @i (< num, else -EINVAL) of the ring's table. */
int vq_fake_set_desc(struct vq_fake *f, uint32_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next);
/* Write entry @i of a descriptor table at @table_iova (indirect tables). */
int vq_fake_set_table_desc(struct vq_fake *f, uint64_t table_iova,
			   uint32_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next);

/* Put @head in the next avail slot and publish avail->idx + 1. */
void vq_fake_avail_add(struct vq_fake *f, uint16_t head);
/* Raw writes for hostile drivers. */
void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx);
void vq_fake_set_avail_flags(struct vq_fake *f, uint16_t flags);
void vq_fake_set_used_event(struct vq_fake *f, uint16_t idx);

uint16_t vq_fake_avail_idx(const struct vq_fake *f);
uint16_t vq_fake_avail_event(const struct vq_fake *f);
uint16_t vq_fake_used_flags(const struct vq_fake *f);
uint16_t vq_fake_used_idx(const struct vq_fake *f);
/* Used entry at free-running position @pos. */
void vq_fake_used_elem(const struct vq_fake *f, uint16_t pos, uint32_t *id,
		       uint32_t *len);

/* One buffer of a chain built by the helpers below. */
struct vq_fake_buf {
	uint64_t iova;
	uint32_t len;
	bool write;		/* device-writable */
};

/* Write @n linked descriptors at table slots first, first+1, ... (modulo
 * num) and make the chain available.  Returns the head, or -errno. */
int vq_fake_add_chain(struct vq_fake *f, uint16_t first,
		      const struct vq_fake_buf *bufs, unsigned int n);
/* Write @bufs as an indirect table at @table_iova, point descriptor @slot
 * at it and make it available.  Returns the head, or -errno. */
int vq_fake_add_indirect(struct vq_fake *f, uint16_t slot,
			 uint64_t table_iova, const struct vq_fake_buf *bufs,
			 unsigned int n);

#endif
