// SPDX-License-Identifier: MIT
/* bufs.c - device-visible memory, IOVA windows and buffer moves. */
#include "bufs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost_types.h>

#define BUFS_ALIGN 4096ULL
/* Leave IOVA 0 and a gap unmapped: a device using a zero address faults. */
#define BUFS_IOVA_FLOOR (1ULL << 20)

static size_t bufs_round(size_t v)
{
	return (v + BUFS_ALIGN - 1) & ~(size_t)(BUFS_ALIGN - 1);
}

struct bufs *bufs_new(struct vhd *dev, size_t ctrl_size, unsigned nslots,
		      size_t chunk_size, uint64_t seed)
{
	struct bufs *b;
	uint64_t first, span;
	unsigned i;
	int e;

	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->dev = dev;
	b->ctrl_size = bufs_round(ctrl_size);
	b->chunk_size = bufs_round(chunk_size);
	b->nslots = nslots;
	b->nchunks = nslots + nslots / 2 + 2;
	b->nwindows = nslots + 3;
	b->size = b->ctrl_size + (size_t)b->nchunks * b->chunk_size;
	util_rng_seed(&b->rng, seed ^ 0xb0f5);

	first = dev->range.first < BUFS_IOVA_FLOOR ? BUFS_IOVA_FLOOR :
		(dev->range.first + BUFS_ALIGN - 1) & ~(BUFS_ALIGN - 1);
	/* Control region, a one-page hole, then the data windows. */
	span = b->ctrl_size + BUFS_ALIGN +
	       (uint64_t)b->nwindows * b->chunk_size;
	if (first + span - 1 > dev->range.last || first + span < first) {
		errno = ERANGE;
		goto out_free;
	}
	b->ctrl_iova = first;
	b->data_iova = first + b->ctrl_size + BUFS_ALIGN;

	b->slot = calloc(nslots, sizeof(*b->slot));
	b->free_chunk = calloc(b->nchunks, sizeof(unsigned));
	b->free_window = calloc(b->nwindows, sizeof(unsigned));
	if (!b->slot || !b->free_chunk || !b->free_window)
		goto out_free;
	for (i = 0; i < nslots; i++) {
		b->slot[i].chunk = i;
		b->slot[i].window = i;
	}
	for (i = nslots; i < b->nchunks; i++)
		b->free_chunk[b->nfree_chunk++] = i;
	for (i = nslots; i < b->nwindows; i++)
		b->free_window[b->nfree_window++] = i;

	b->memfd = memfd_create("vhost-blk-test", MFD_CLOEXEC);
	if (b->memfd < 0)
		goto out_free;
	if (ftruncate(b->memfd, (off_t)b->size) < 0)
		goto out_close;
	b->base = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       b->memfd, 0);
	if (b->base == MAP_FAILED)
		goto out_close;
	memset(b->base + b->ctrl_size, BUFS_POISON, b->size - b->ctrl_size);
	return b;

out_close:
	e = errno;
	close(b->memfd);
	errno = e;
out_free:
	e = errno;
	free(b->slot);
	free(b->free_chunk);
	free(b->free_window);
	free(b);
	errno = e;
	return NULL;
}

void bufs_free(struct bufs *b)
{
	if (!b)
		return;
	munmap(b->base, b->size);
	close(b->memfd);
	free(b->slot);
	free(b->free_chunk);
	free(b->free_window);
	free(b);
}

static uint8_t *bufs_chunk_va(struct bufs *b, unsigned chunk)
{
	return b->base + b->ctrl_size + (size_t)chunk * b->chunk_size;
}

static uint64_t bufs_window_iova(struct bufs *b, unsigned window)
{
	return b->data_iova + (uint64_t)window * b->chunk_size;
}

uint8_t *bufs_slot_va(struct bufs *b, unsigned slot)
{
	return bufs_chunk_va(b, b->slot[slot].chunk);
}

uint64_t bufs_slot_iova(struct bufs *b, unsigned slot)
{
	return bufs_window_iova(b, b->slot[slot].window);
}

int bufs_map(struct bufs *b)
{
	unsigned i;
	int ret;

	ret = vhd_iotlb_batch_begin(b->dev);
	if (ret)
		return ret;
	ret = vhd_iotlb_update(b->dev, b->ctrl_iova, b->ctrl_size, b->base,
			       VHOST_ACCESS_RW);
	for (i = 0; !ret && i < b->nslots; i++)
		ret = vhd_iotlb_update(b->dev, bufs_slot_iova(b, i),
				       b->chunk_size, bufs_slot_va(b, i),
				       VHOST_ACCESS_RW);
	if (!ret)
		b->mapped = true;
	if (!ret)
		ret = vhd_iotlb_batch_end(b->dev);
	else
		vhd_iotlb_batch_end(b->dev);
	return ret;
}

int bufs_unmap(struct bufs *b)
{
	int ret;

	if (!b->mapped)
		return 0;
	/* One INVALIDATE over everything we may have mapped. */
	ret = vhd_iotlb_invalidate(b->dev, b->ctrl_iova,
				   b->data_iova - b->ctrl_iova +
				   (uint64_t)b->nwindows * b->chunk_size);
	if (!ret)
		b->mapped = false;
	return ret;
}

int bufs_refresh_ctrl(struct bufs *b)
{
	int ret, r2;

	if (!vhd_has_batch(b->dev))
		return -EOPNOTSUPP;
	ret = vhd_iotlb_batch_begin(b->dev);
	if (ret)
		return ret;
	ret = vhd_iotlb_invalidate(b->dev, b->ctrl_iova, b->ctrl_size);
	if (!ret)
		ret = vhd_iotlb_update(b->dev, b->ctrl_iova, b->ctrl_size,
				       b->base, VHOST_ACCESS_RW);
	r2 = vhd_iotlb_batch_end(b->dev);
	if (!ret)
		ret = r2;
	if (!ret)
		b->ctrl_refreshes++;
	return ret;
}

static unsigned bufs_take(struct util_rng *rng, unsigned *pool, unsigned *n)
{
	unsigned k = (unsigned)util_rng_below(rng, *n), v = pool[k];

	pool[k] = pool[--*n];
	return v;
}

int bufs_move(struct bufs *b, unsigned slot, bool batch)
{
	struct bufs_slot old = b->slot[slot], neu;
	int ret, r2;

	neu.chunk = bufs_take(&b->rng, b->free_chunk, &b->nfree_chunk);
	neu.window = bufs_take(&b->rng, b->free_window, &b->nfree_window);
	batch = batch && vhd_has_batch(b->dev);
	if (batch) {
		ret = vhd_iotlb_batch_begin(b->dev);
		if (ret)
			goto out_return;
	}
	/* Alternate the order: invalidate first, or map the new one first. */
	if (b->moves & 1) {
		ret = vhd_iotlb_invalidate(b->dev, bufs_window_iova(b, old.window),
					   b->chunk_size);
		if (!ret)
			ret = vhd_iotlb_update(b->dev,
					       bufs_window_iova(b, neu.window),
					       b->chunk_size,
					       bufs_chunk_va(b, neu.chunk),
					       VHOST_ACCESS_RW);
	} else {
		ret = vhd_iotlb_update(b->dev, bufs_window_iova(b, neu.window),
				       b->chunk_size, bufs_chunk_va(b, neu.chunk),
				       VHOST_ACCESS_RW);
		if (!ret)
			ret = vhd_iotlb_invalidate(b->dev,
						   bufs_window_iova(b, old.window),
						   b->chunk_size);
	}
	if (batch) {
		r2 = vhd_iotlb_batch_end(b->dev);
		if (!ret)
			ret = r2;
	}
	if (ret)
		goto out_return;
	b->slot[slot] = neu;
	memset(bufs_chunk_va(b, old.chunk), BUFS_POISON, b->chunk_size);
	b->free_chunk[b->nfree_chunk++] = old.chunk;
	b->free_window[b->nfree_window++] = old.window;
	b->moves++;
	return 0;

out_return:
	b->free_chunk[b->nfree_chunk++] = neu.chunk;
	b->free_window[b->nfree_window++] = neu.window;
	return ret;
}
