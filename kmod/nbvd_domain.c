// SPDX-License-Identifier: GPL-2.0
/*
 * The IOVA space of one attached device, as its userspace server sees it
 * through the fd that VDUSE_IOTLB_GET_FD returns (file offset = IOVA).
 *
 * Three kinds of ranges:
 *  - bounce:   [0, bounce_size). Streaming DMA of the virtio driver
 *              (virtio-vdpa) is copied through pages of our own, so the
 *              server never sees the rest of a kernel page.
 *  - coherent: [bounce_size, bounce_size + NBVD_COHERENT_SIZE). Coherent
 *              allocations (the vrings) are pages of our own, mapped as is.
 *  - user:     what vhost-vdpa gave with set_map (physical addresses of
 *              pinned pages). From the first set_map on, only these are
 *              served; the first DMA call of a virtio driver with no user
 *              range left switches back (driver rebound to virtio-vdpa).
 * One spinlock protects the allocators and both IOTLBs; bounce pages, once
 * allocated, stay until the domain is freed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/dma-map-ops.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pfn_t.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "nbvd.h"

#define NBVD_COHERENT_SIZE	(64ULL << 20)
#define NBVD_MAP_BOUNCE		((void *)1)

struct nbvd_bounce {
	struct page *page;	/* ours, allocated on first use */
	phys_addr_t orig;	/* page-aligned original while mapped */
};

struct nbvd_domain {
	struct file *file;
	u64 bounce_size;
	unsigned long bounce_pages;
	u64 coherent_base;
	unsigned long coherent_pages;

	spinlock_t lock;
	unsigned long *bounce_bitmap;
	unsigned long *coherent_bitmap;
	struct nbvd_bounce *bounce;
	struct vhost_iotlb *dma_iotlb;	/* coherent ranges */
	struct vhost_iotlb *user_iotlb;	/* from set_map */
	bool user_mode;			/* vhost-vdpa: serve user_iotlb only */
};

static struct nbvd_domain *nbvd_domain_of(struct device *dev)
{
	struct vdpa_device *vdpa = container_of(dev, struct vdpa_device, dev);

	return container_of(vdpa, struct nbvd_vdpa, vdpa)->domain;
}

/* Copy between bounce pages and the original pages of a mapped range. */
static void nbvd_bounce_copy(struct nbvd_domain *d, u64 iova, size_t size,
			     bool to_bounce)
{
	while (size) {
		struct nbvd_bounce *b = &d->bounce[iova >> PAGE_SHIFT];
		unsigned int off = offset_in_page(iova);
		size_t len = min_t(size_t, size, PAGE_SIZE - off);
		struct page *orig;
		void *bva, *ova;

		if (WARN_ON_ONCE(!b->page || !b->orig))
			return;
		orig = pfn_to_page(PHYS_PFN(b->orig));
		bva = kmap_local_page(b->page);
		ova = kmap_local_page(orig);
		if (to_bounce)
			memcpy(bva + off, ova + off, len);
		else
			memcpy(ova + off, bva + off, len);
		kunmap_local(ova);
		kunmap_local(bva);
		iova += len;
		size -= len;
	}
}

/* A virtio driver's DMA call: leave user mode if vhost-vdpa left nothing. */
static bool nbvd_domain_dma_ok_locked(struct nbvd_domain *d)
{
	if (d->user_mode && !d->user_iotlb->nmaps)
		d->user_mode = false;
	return !d->user_mode;
}

static bool nbvd_in_bounce(struct nbvd_domain *d, u64 iova, size_t size)
{
	return size && iova < d->bounce_size && size <= d->bounce_size - iova;
}

static dma_addr_t nbvd_dma_map_page(struct device *dev, struct page *page,
				    unsigned long offset, size_t size,
				    enum dma_data_direction dir,
				    unsigned long attrs)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);
	phys_addr_t phys = page_to_phys(page) + offset;
	unsigned long first, n, i;
	u64 iova;

	n = PFN_UP(offset_in_page(phys) + size);
	if (!size || n > d->bounce_pages)
		return DMA_MAPPING_ERROR;

	spin_lock(&d->lock);
	if (!nbvd_domain_dma_ok_locked(d))
		goto out_full;
	first = bitmap_find_next_zero_area(d->bounce_bitmap, d->bounce_pages,
					   0, n, 0);
	if (first >= d->bounce_pages)
		goto out_full;
	for (i = 0; i < n; i++) {
		struct nbvd_bounce *b = &d->bounce[first + i];

		if (!b->page)
			b->page = alloc_page(GFP_ATOMIC | __GFP_ZERO);
		if (!b->page)
			goto out_full;
	}
	bitmap_set(d->bounce_bitmap, first, n);
	for (i = 0; i < n; i++)
		d->bounce[first + i].orig = (phys & PAGE_MASK) + i * PAGE_SIZE;
	spin_unlock(&d->lock);

	iova = ((u64)first << PAGE_SHIFT) + offset_in_page(phys);
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		nbvd_bounce_copy(d, iova, size, true);
	return iova;

out_full:
	spin_unlock(&d->lock);
	return DMA_MAPPING_ERROR;
}

static void nbvd_dma_unmap_page(struct device *dev, dma_addr_t iova,
				size_t size, enum dma_data_direction dir,
				unsigned long attrs)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);
	unsigned long first, n, i;

	if (WARN_ON_ONCE(!nbvd_in_bounce(d, iova, size)))
		return;
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		nbvd_bounce_copy(d, iova, size, false);

	first = iova >> PAGE_SHIFT;
	n = PFN_UP(offset_in_page(iova) + size);
	spin_lock(&d->lock);
	for (i = 0; i < n; i++)
		d->bounce[first + i].orig = 0;
	bitmap_clear(d->bounce_bitmap, first, n);
	spin_unlock(&d->lock);
}

static void nbvd_dma_sync_for_cpu(struct device *dev, dma_addr_t iova,
				  size_t size, enum dma_data_direction dir)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);

	if (WARN_ON_ONCE(!nbvd_in_bounce(d, iova, size)))
		return;
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		nbvd_bounce_copy(d, iova, size, false);
}

static void nbvd_dma_sync_for_device(struct device *dev, dma_addr_t iova,
				     size_t size, enum dma_data_direction dir)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);

	if (WARN_ON_ONCE(!nbvd_in_bounce(d, iova, size)))
		return;
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		nbvd_bounce_copy(d, iova, size, true);
}

static void nbvd_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			      int nents, enum dma_data_direction dir,
			      unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		nbvd_dma_unmap_page(dev, sg_dma_address(sg), sg_dma_len(sg),
				    dir, attrs);
}

static int nbvd_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			   int nents, enum dma_data_direction dir,
			   unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = nbvd_dma_map_page(dev, sg_page(sg),
						    sg->offset, sg->length,
						    dir, attrs);
		if (sg->dma_address == DMA_MAPPING_ERROR) {
			nbvd_dma_unmap_sg(dev, sgl, i, dir, attrs);
			return -ENOMEM;
		}
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static void *nbvd_dma_alloc(struct device *dev, size_t size,
			    dma_addr_t *dma_handle, gfp_t gfp,
			    unsigned long attrs)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);
	unsigned long n = PFN_UP(size), first;
	void *va;
	u64 iova;

	if (!size || n > d->coherent_pages)
		return NULL;
	va = alloc_pages_exact(n << PAGE_SHIFT, gfp | __GFP_ZERO);
	if (!va)
		return NULL;

	spin_lock(&d->lock);
	if (!nbvd_domain_dma_ok_locked(d))
		goto out_unlock;
	first = bitmap_find_next_zero_area(d->coherent_bitmap,
					   d->coherent_pages, 0, n, 0);
	if (first >= d->coherent_pages)
		goto out_unlock;
	iova = d->coherent_base + ((u64)first << PAGE_SHIFT);
	if (vhost_iotlb_add_range(d->dma_iotlb, iova,
				  iova + (n << PAGE_SHIFT) - 1,
				  virt_to_phys(va), VHOST_MAP_RW))
		goto out_unlock;
	bitmap_set(d->coherent_bitmap, first, n);
	spin_unlock(&d->lock);
	*dma_handle = iova;
	return va;

out_unlock:
	spin_unlock(&d->lock);
	free_pages_exact(va, n << PAGE_SHIFT);
	return NULL;
}

static void nbvd_dma_free(struct device *dev, size_t size, void *va,
			  dma_addr_t iova, unsigned long attrs)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);
	unsigned long n = PFN_UP(size);
	u64 off = iova - d->coherent_base;

	if (WARN_ON_ONCE(iova < d->coherent_base ||
			 (off >> PAGE_SHIFT) + n > d->coherent_pages))
		return;
	spin_lock(&d->lock);
	vhost_iotlb_del_range(d->dma_iotlb, iova,
			      iova + (n << PAGE_SHIFT) - 1);
	bitmap_clear(d->coherent_bitmap, off >> PAGE_SHIFT, n);
	spin_unlock(&d->lock);
	/* The server must not keep seeing memory we give back. */
	unmap_mapping_range(d->file->f_mapping, iova, n << PAGE_SHIFT, 1);
	free_pages_exact(va, n << PAGE_SHIFT);
}

static size_t nbvd_dma_max_mapping_size(struct device *dev)
{
	struct nbvd_domain *d = nbvd_domain_of(dev);

	/* Leave room for other requests in the bounce area. */
	return min_t(u64, d->bounce_size / 4, SZ_1M);
}

static u64 nbvd_dma_required_mask(struct device *dev)
{
	return DMA_BIT_MASK(64);
}

const struct dma_map_ops nbvd_dma_ops = {
	.alloc = nbvd_dma_alloc,
	.free = nbvd_dma_free,
	.map_page = nbvd_dma_map_page,
	.unmap_page = nbvd_dma_unmap_page,
	.map_sg = nbvd_dma_map_sg,
	.unmap_sg = nbvd_dma_unmap_sg,
	.sync_single_for_cpu = nbvd_dma_sync_for_cpu,
	.sync_single_for_device = nbvd_dma_sync_for_device,
	.max_mapping_size = nbvd_dma_max_mapping_size,
	.get_required_mask = nbvd_dma_required_mask,
};

/*
 * The range holding @iova as the server sees it. Caller holds d->lock.
 * Returns the iotlb entry, NULL, or NBVD_MAP_BOUNCE for the bounce area.
 */
static struct vhost_iotlb_map *nbvd_domain_lookup(struct nbvd_domain *d,
						  u64 iova)
{
	if (d->user_mode)
		return vhost_iotlb_itree_first(d->user_iotlb, iova, iova);
	if (iova < d->bounce_size)
		return NBVD_MAP_BOUNCE;
	return vhost_iotlb_itree_first(d->dma_iotlb, iova, iova);
}

/*
 * The server maps whole ranges; vhost-vdpa splits its maps wherever the
 * pinned pages are not physically contiguous, which could exhaust a
 * server's region table. Since our fd is addressed by IOVA, hand out the
 * largest IOVA-contiguous run of maps with the same permissions instead.
 */
static void nbvd_domain_extend(struct vhost_iotlb *iotlb,
			       struct vhost_iotlb_map *map, u64 *start,
			       u64 *last)
{
	struct vhost_iotlb_map *m;

	*start = map->start;
	*last = map->last;
	while (*last != U64_MAX) {
		m = vhost_iotlb_itree_first(iotlb, *last + 1, *last + 1);
		if (!m || m->perm != map->perm)
			break;
		*last = m->last;
	}
	while (*start) {
		m = vhost_iotlb_itree_first(iotlb, *start - 1, *start - 1);
		if (!m || m->perm != map->perm)
			break;
		*start = m->start;
	}
}

int nbvd_domain_find(struct nbvd_domain *d, u64 iova,
		     struct vduse_iotlb_entry *entry)
{
	struct vhost_iotlb_map *map;
	u64 start, last;
	int ret = 0;

	spin_lock(&d->lock);
	map = nbvd_domain_lookup(d, iova);
	if (map == NBVD_MAP_BOUNCE) {
		entry->start = 0;
		entry->last = d->bounce_size - 1;
		entry->perm = VDUSE_ACCESS_RW;
	} else if (map) {
		nbvd_domain_extend(d->user_mode ? d->user_iotlb : d->dma_iotlb,
				   map, &start, &last);
		entry->start = start;
		entry->last = last;
		entry->perm = 0;
		if (map->perm & VHOST_MAP_RO)
			entry->perm |= VDUSE_ACCESS_RO;
		if (map->perm & VHOST_MAP_WO)
			entry->perm |= VDUSE_ACCESS_WO;
	} else {
		ret = -EINVAL;
	}
	spin_unlock(&d->lock);
	entry->offset = entry->start;
	return ret;
}

int nbvd_domain_set_user_map(struct nbvd_domain *d, struct vhost_iotlb *iotlb)
{
	struct vhost_iotlb_map *map;
	int ret = 0;

	spin_lock(&d->lock);
	d->user_mode = true;
	vhost_iotlb_reset(d->user_iotlb);
	for (map = vhost_iotlb_itree_first(iotlb, 0, ULLONG_MAX); map;
	     map = vhost_iotlb_itree_next(map, 0, ULLONG_MAX)) {
		ret = vhost_iotlb_add_range(d->user_iotlb, map->start,
					    map->last, map->addr, map->perm);
		if (ret) {
			vhost_iotlb_reset(d->user_iotlb);
			break;
		}
	}
	spin_unlock(&d->lock);
	unmap_mapping_range(d->file->f_mapping, 0, 0, 1);
	return ret;
}

/*
 * Our own pages (bounce, coherent) are mapped as normal pages, so the
 * server may do direct I/O on them. Pages of vhost-vdpa's maps belong to
 * someone else (often a memfd's page cache): they get special PTEs, with no
 * rmap or reference, which set_map zaps.
 */
/* vhost-vdpa let go of every map (release): nothing of it may stay mapped. */
void nbvd_domain_reset_user_map(struct nbvd_domain *d)
{
	spin_lock(&d->lock);
	vhost_iotlb_reset(d->user_iotlb);
	d->user_mode = false;
	spin_unlock(&d->lock);
	unmap_mapping_range(d->file->f_mapping, 0, 0, 1);
}

static vm_fault_t nbvd_domain_fault(struct vm_fault *vmf)
{
	struct nbvd_domain *d = vmf->vma->vm_file->private_data;
	u64 iova = (u64)vmf->pgoff << PAGE_SHIFT;
	struct vhost_iotlb_map *map;
	struct page *page = NULL;
	unsigned long pfn = 0;
	bool user;

	spin_lock(&d->lock);
	user = d->user_mode;
	map = nbvd_domain_lookup(d, iova);
	if (map == NBVD_MAP_BOUNCE) {
		struct nbvd_bounce *b = &d->bounce[iova >> PAGE_SHIFT];

		if (!b->page)
			b->page = alloc_page(GFP_ATOMIC | __GFP_ZERO);
		page = b->page;
	} else if (map) {
		pfn = PHYS_PFN(map->addr + iova - map->start);
		if (!user && pfn_valid(pfn))
			page = pfn_to_page(pfn);
	}
	if (page)
		get_page(page);
	spin_unlock(&d->lock);

	if (page) {
		vmf->page = page;
		return 0;
	}
	if (!user || !pfn)
		return VM_FAULT_SIGBUS;
	return vmf_insert_mixed(vmf->vma, vmf->address, pfn_to_pfn_t(pfn));
}

static const struct vm_operations_struct nbvd_domain_vm_ops = {
	.fault = nbvd_domain_fault,
};

static int nbvd_domain_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vm_flags_set(vma, VM_MIXEDMAP | VM_DONTDUMP | VM_DONTEXPAND);
	vma->vm_ops = &nbvd_domain_vm_ops;
	return 0;
}

static void nbvd_domain_free(struct nbvd_domain *d)
{
	unsigned long i;

	if (d->bounce) {
		for (i = 0; i < d->bounce_pages; i++) {
			WARN_ON_ONCE(d->bounce[i].orig);
			if (d->bounce[i].page)
				__free_page(d->bounce[i].page);
		}
	}
	kvfree(d->bounce);
	bitmap_free(d->bounce_bitmap);
	bitmap_free(d->coherent_bitmap);
	if (d->dma_iotlb)
		vhost_iotlb_free(d->dma_iotlb);
	if (d->user_iotlb)
		vhost_iotlb_free(d->user_iotlb);
	kfree(d);
}

static int nbvd_domain_release(struct inode *inode, struct file *file)
{
	nbvd_domain_free(file->private_data);
	return 0;
}

static const struct file_operations nbvd_domain_fops = {
	.owner = THIS_MODULE,
	.mmap = nbvd_domain_mmap,
	.release = nbvd_domain_release,
};

struct nbvd_domain *nbvd_domain_create(u64 bounce_size)
{
	struct nbvd_domain *d;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return NULL;
	spin_lock_init(&d->lock);
	d->bounce_size = bounce_size;
	d->bounce_pages = bounce_size >> PAGE_SHIFT;
	d->coherent_base = bounce_size;
	d->coherent_pages = NBVD_COHERENT_SIZE >> PAGE_SHIFT;
	d->bounce = kvcalloc(d->bounce_pages, sizeof(*d->bounce), GFP_KERNEL);
	d->bounce_bitmap = bitmap_zalloc(d->bounce_pages, GFP_KERNEL);
	d->coherent_bitmap = bitmap_zalloc(d->coherent_pages, GFP_KERNEL);
	/* Limits: one entry per coherent allocation; vhost-vdpa's own. */
	d->dma_iotlb = vhost_iotlb_alloc(d->coherent_pages, 0);
	d->user_iotlb = vhost_iotlb_alloc(U32_MAX, 0);
	if (!d->bounce || !d->bounce_bitmap || !d->coherent_bitmap ||
	    !d->dma_iotlb || !d->user_iotlb)
		goto out_free;

	d->file = anon_inode_create_getfile("[netblk-vduse-iova]",
					    &nbvd_domain_fops, d, O_RDWR, NULL);
	if (IS_ERR(d->file))
		goto out_free;
	return d;

out_free:
	nbvd_domain_free(d);
	return NULL;
}

/* Drop the attachment's reference; mmaps and fds of the server keep theirs. */
void nbvd_domain_put(struct nbvd_domain *d)
{
	fput(d->file);
}

struct file *nbvd_domain_file(struct nbvd_domain *d)
{
	return get_file(d->file);
}
