/* SPDX-License-Identifier: MIT */
/* In-process fake transport and driver; see vq_fake.h. */
#include "vq_fake.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

struct vq_fake_region {
	uint64_t iova;
	uint64_t size;
	unsigned int perm;
	uint8_t *mem;
};

struct vq_fake {
	struct vq_fake_region regions[VQ_FAKE_MAX_REGIONS];
	unsigned int nregions;
	unsigned int notifies;
	int notify_error;

	/* driver-side ring */
	uint32_t num;
	uint64_t desc_iova;
	uint64_t avail_iova;
	uint64_t used_iova;
	uint16_t avail_idx;
};

static struct vq_fake_region *vq_fake_find(const struct vq_fake *f,
					   uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < f->nregions; i++) {
		const struct vq_fake_region *r = &f->regions[i];

		if (iova >= r->iova && iova - r->iova < r->size)
			return (struct vq_fake_region *)r;
	}
	return NULL;
}

static void *vq_fake_translate(void *opaque, uint64_t iova, uint64_t *len,
			       bool write)
{
	struct vq_fake *f = opaque;
	struct vq_fake_region *r = vq_fake_find(f, iova);
	uint64_t left;

	if (!r || !(r->perm & (write ? VQ_FAKE_WRITE : VQ_FAKE_READ)))
		return NULL;
	left = r->size - (iova - r->iova);
	if (*len > left)
		*len = left;
	return r->mem + (iova - r->iova);
}

static int vq_fake_notify(void *opaque)
{
	struct vq_fake *f = opaque;

	if (f->notify_error)
		return f->notify_error;
	f->notifies++;
	return 0;
}

const struct vq_ops vq_fake_ops = {
	.translate = vq_fake_translate,
	.notify = vq_fake_notify,
};

struct vq_fake *vq_fake_new(void)
{
	return calloc(1, sizeof(struct vq_fake));
}

void vq_fake_free(struct vq_fake *f)
{
	unsigned int i;

	if (!f)
		return;
	for (i = 0; i < f->nregions; i++)
		free(f->regions[i].mem);
	free(f);
}

void *vq_fake_map(struct vq_fake *f, uint64_t iova, uint64_t size,
		  unsigned int perm)
{
	struct vq_fake_region *r;
	uint64_t alloc;
	unsigned int i;

	if (size == 0 || iova + (size - 1) < iova ||
	    f->nregions == VQ_FAKE_MAX_REGIONS || size > (1ULL << 32)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < f->nregions; i++) {
		r = &f->regions[i];
		if (iova <= r->iova + (r->size - 1) &&
		    r->iova <= iova + (size - 1)) {
			errno = EINVAL;
			return NULL;
		}
	}
	r = &f->regions[f->nregions];
	alloc = (size + 4095) & ~4095ULL;
	r->mem = aligned_alloc(4096, alloc);
	if (!r->mem)
		return NULL;
	memset(r->mem, 0, alloc);
	r->iova = iova;
	r->size = size;
	r->perm = perm;
	f->nregions++;
	return r->mem;
}

int vq_fake_unmap(struct vq_fake *f, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < f->nregions; i++) {
		if (f->regions[i].iova != iova)
			continue;
		free(f->regions[i].mem);
		f->regions[i] = f->regions[--f->nregions];
		return 0;
	}
	return -ENOENT;
}

void *vq_fake_host(struct vq_fake *f, uint64_t iova, uint64_t len)
{
	struct vq_fake_region *r = vq_fake_find(f, iova);

	if (!r || len > r->size - (iova - r->iova))
		return NULL;
	return r->mem + (iova - r->iova);
}

/* Copy len bytes between guest memory at iova and buf, across regions. */
static int vq_fake_copy(struct vq_fake *f, uint64_t iova, uint8_t *buf,
			uint64_t len, bool to_guest)
{
	while (len) {
		struct vq_fake_region *r = vq_fake_find(f, iova);
		uint8_t *mem;
		uint64_t n;

		if (!r)
			return -EFAULT;
		n = r->size - (iova - r->iova);
		if (n > len)
			n = len;
		mem = r->mem + (iova - r->iova);
		if (to_guest)
			memcpy(mem, buf, n);
		else
			memcpy(buf, mem, n);
		buf += n;
		iova += n;
		len -= n;
	}
	return 0;
}

int vq_fake_write(struct vq_fake *f, uint64_t iova, const void *buf,
		  uint64_t len)
{
	return vq_fake_copy(f, iova, (uint8_t *)buf, len, true);
}

int vq_fake_read(struct vq_fake *f, uint64_t iova, void *buf, uint64_t len)
{
	return vq_fake_copy(f, iova, buf, len, false);
}

unsigned int vq_fake_notifies(const struct vq_fake *f)
{
	return f->notifies;
}

void vq_fake_set_notify_error(struct vq_fake *f, int err)
{
	f->notify_error = err;
}

/* ---- driver side ---- */

static void *vq_fake_ring_ptr(const struct vq_fake *f, uint64_t iova,
			      uint64_t len)
{
	return vq_fake_host((struct vq_fake *)f, iova, len);
}

int vq_fake_ring_init(struct vq_fake *f, uint32_t num, uint64_t desc_iova,
		      uint64_t avail_iova, uint64_t used_iova,
		      uint64_t features, struct vq_layout *layout)
{
	void *desc, *avail, *used;

	if (num == 0 || num > VQ_MAX_SIZE)
		return -EINVAL;
	desc = vq_fake_ring_ptr(f, desc_iova, 16ULL * num);
	avail = vq_fake_ring_ptr(f, avail_iova, 6 + 2ULL * num);
	used = vq_fake_ring_ptr(f, used_iova, 6 + 8ULL * num);
	if (!desc || !avail || !used)
		return -EFAULT;
	memset(desc, 0, 16ULL * num);
	memset(avail, 0, 6 + 2ULL * num);
	memset(used, 0, 6 + 8ULL * num);
	f->num = num;
	f->desc_iova = desc_iova;
	f->avail_iova = avail_iova;
	f->used_iova = used_iova;
	f->avail_idx = 0;
	memset(layout, 0, sizeof(*layout));
	layout->num = num;
	layout->desc_iova = desc_iova;
	layout->avail_iova = avail_iova;
	layout->used_iova = used_iova;
	layout->features = features;
	return 0;
}

int vq_fake_set_table_desc(struct vq_fake *f, uint64_t table_iova,
			   uint32_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	return vq_fake_write(f, table_iova + 16ULL * i, &d, sizeof(d));
}

int vq_fake_set_desc(struct vq_fake *f, uint32_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	if (i >= f->num)
		return -EINVAL;
	return vq_fake_set_table_desc(f, f->desc_iova, i, addr, len, flags,
				      next);
}

static uint16_t *vq_fake_u16(const struct vq_fake *f, uint64_t iova)
{
	return vq_fake_ring_ptr(f, iova, 2);
}

void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx)
{
	f->avail_idx = idx;
	__atomic_store_n(vq_fake_u16(f, f->avail_iova + 2), htole16(idx),
			 __ATOMIC_RELEASE);
}

void vq_fake_avail_add(struct vq_fake *f, uint16_t head)
{
	uint64_t slot = f->avail_iova + 4 + 2ULL * (f->avail_idx % f->num);

	*vq_fake_u16(f, slot) = htole16(head);
	vq_fake_set_avail_idx(f, f->avail_idx + 1);
}

void vq_fake_set_avail_flags(struct vq_fake *f, uint16_t flags)
{
	*vq_fake_u16(f, f->avail_iova) = htole16(flags);
}

void vq_fake_set_used_event(struct vq_fake *f, uint16_t idx)
{
	*vq_fake_u16(f, f->avail_iova + 4 + 2ULL * f->num) = htole16(idx);
}

uint16_t vq_fake_avail_idx(const struct vq_fake *f)
{
	return f->avail_idx;
}

uint16_t vq_fake_avail_event(const struct vq_fake *f)
{
	return le16toh(*vq_fake_u16(f, f->used_iova + 4 + 8ULL * f->num));
}

uint16_t vq_fake_used_flags(const struct vq_fake *f)
{
	return le16toh(*vq_fake_u16(f, f->used_iova));
}

uint16_t vq_fake_used_idx(const struct vq_fake *f)
{
	return le16toh(__atomic_load_n(vq_fake_u16(f, f->used_iova + 2),
				       __ATOMIC_ACQUIRE));
}

void vq_fake_used_elem(const struct vq_fake *f, uint16_t pos, uint32_t *id,
		       uint32_t *len)
{
	struct vring_used_elem *e = vq_fake_ring_ptr(f,
		f->used_iova + 4 + 8ULL * (pos % f->num), 8);

	*id = le32toh(e->id);
	*len = le32toh(e->len);
}

int vq_fake_add_chain(struct vq_fake *f, uint16_t first,
		      const struct vq_fake_buf *bufs, unsigned int n)
{
	unsigned int k;
	int rc;

	if (n == 0 || n > f->num)
		return -EINVAL;
	for (k = 0; k < n; k++) {
		uint16_t slot = (first + k) % f->num;
		uint16_t next = (first + k + 1) % f->num;
		uint16_t flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VRING_DESC_F_NEXT : 0);

		rc = vq_fake_set_desc(f, slot, bufs[k].iova, bufs[k].len,
				      flags, k + 1 < n ? next : 0);
		if (rc < 0)
			return rc;
	}
	vq_fake_avail_add(f, first % f->num);
	return first % f->num;
}

int vq_fake_add_indirect(struct vq_fake *f, uint16_t slot,
			 uint64_t table_iova, const struct vq_fake_buf *bufs,
			 unsigned int n)
{
	unsigned int k;
	int rc;

	for (k = 0; k < n; k++) {
		uint16_t flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VRING_DESC_F_NEXT : 0);

		rc = vq_fake_set_table_desc(f, table_iova, k, bufs[k].iova,
					    bufs[k].len, flags,
					    k + 1 < n ? k + 1 : 0);
		if (rc < 0)
			return rc;
	}
	rc = vq_fake_set_desc(f, slot, table_iova, 16 * n,
			      VRING_DESC_F_INDIRECT, 0);
	if (rc < 0)
		return rc;
	vq_fake_avail_add(f, slot);
	return slot;
}
