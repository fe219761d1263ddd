/* SPDX-License-Identifier: MIT */
/* Per-worker cache of IOVA regions mmap'd from VDUSE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vduse.h>

#include "iotlb.h"

struct iotlb_region {
	uint64_t start, last;  /* IOVA range, inclusive */
	uint8_t *host;         /* host address of start */
	void *map_base;        /* what munmap takes */
	size_t map_len;
	uint8_t perm;
	uint64_t retire_seq;   /* retired: requests tagged below may use it */
	struct iotlb_region *next_retired;
};

struct iotlb {
	iotlb_lookup_fn *lookup;
	void *opaque;
	struct iotlb_region *live[IOTLB_MAX_REGIONS];
	unsigned int n_live;
	unsigned int last_hit;
	struct iotlb_region *retired;  /* newest first */
	unsigned int n_retired;
	uint64_t seq;
	struct iotlb_stats stats;
};

struct iotlb *nb_iotlb_new(iotlb_lookup_fn *lookup, void *opaque)
{
	struct iotlb *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->lookup = lookup;
	t->opaque = opaque;
	return t;
}

static void iotlb_unmap(struct iotlb *t, struct iotlb_region *r)
{
	munmap(r->map_base, r->map_len);
	free(r);
	t->stats.unmapped++;
}

void nb_iotlb_free(struct iotlb *t)
{
	struct iotlb_region *r, *next;
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < t->n_live; i++)
		iotlb_unmap(t, t->live[i]);
	for (r = t->retired; r; r = next) {
		next = r->next_retired;
		iotlb_unmap(t, r);
	}
	free(t);
}

static bool iotlb_region_allows(const struct iotlb_region *r, bool write)
{
	return write ? (r->perm & VDUSE_ACCESS_WO) : (r->perm & VDUSE_ACCESS_RO);
}

static void iotlb_retire(struct iotlb *t, unsigned int i)
{
	struct iotlb_region *r = t->live[i];

	t->live[i] = t->live[--t->n_live];
	r->retire_seq = t->seq;
	r->next_retired = t->retired;
	t->retired = r;
	t->n_retired++;
	t->stats.retired++;
	t->last_hit = 0;
}

/* Ask the kernel for the region around iova and map it. */
static struct iotlb_region *iotlb_fill(struct iotlb *t, uint64_t iova)
{
	struct iotlb_region *r;
	uint64_t start, last, offset, skew;
	long page = sysconf(_SC_PAGESIZE);
	uint8_t perm;
	int prot = 0, fd;
	void *base;

	fd = t->lookup(t->opaque, iova, &start, &last, &offset, &perm);
	if (fd < 0)
		return NULL;
	if (last < start || iova < start || iova > last ||
	    last - start >= SIZE_MAX - (size_t)page ||
	    !(perm & VDUSE_ACCESS_RW)) {
		close(fd);
		return NULL;
	}
	if (perm & VDUSE_ACCESS_RO)
		prot |= PROT_READ;
	if (perm & VDUSE_ACCESS_WO)
		prot |= PROT_WRITE;
	skew = offset % (uint64_t)page;
	base = mmap(NULL, last - start + 1 + skew, prot, MAP_SHARED, fd,
		    offset - skew);
	close(fd);
	if (base == MAP_FAILED)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(base, last - start + 1 + skew);
		return NULL;
	}
	r->start = start;
	r->last = last;
	r->map_base = base;
	r->map_len = last - start + 1 + skew;
	r->host = (uint8_t *)base + skew;
	r->perm = perm;
	if (t->n_live == IOTLB_MAX_REGIONS)
		iotlb_retire(t, 0);
	t->live[t->n_live++] = r;
	t->stats.mapped++;
	return r;
}

void *nb_iotlb_translate(struct iotlb *t, uint64_t iova, uint64_t *len,
		      bool write)
{
	struct iotlb_region *r = NULL;
	uint64_t avail;
	unsigned int i;

	t->stats.lookups++;
	if (t->last_hit < t->n_live) {
		r = t->live[t->last_hit];
		if (iova < r->start || iova > r->last)
			r = NULL;
	}
	for (i = 0; !r && i < t->n_live; i++) {
		if (iova >= t->live[i]->start && iova <= t->live[i]->last) {
			r = t->live[i];
			t->last_hit = i;
		}
	}
	if (!r) {
		t->stats.misses++;
		r = iotlb_fill(t, iova);
		if (!r) {
			t->stats.faults++;
			return NULL;
		}
		t->last_hit = t->n_live - 1;
	}
	if (!iotlb_region_allows(r, write)) {
		t->stats.faults++;
		return NULL;
	}
	avail = r->last - iova + 1; /* cannot overflow unless the region is
				     * the whole 2^64 space */
	if (avail == 0 || *len < avail)
		avail = *len;
	*len = avail;
	return r->host + (iova - r->start);
}

void nb_iotlb_invalidate(struct iotlb *t, uint64_t start, uint64_t last)
{
	unsigned int i = 0;

	while (i < t->n_live) {
		struct iotlb_region *r = t->live[i];

		if (r->start <= last && start <= r->last)
			iotlb_retire(t, i);  /* moves another entry into i */
		else
			i++;
	}
}

uint64_t nb_iotlb_seq(struct iotlb *t)
{
	return t->seq++;
}

void nb_iotlb_reap(struct iotlb *t, uint64_t oldest)
{
	struct iotlb_region **pp = &t->retired;

	while (*pp) {
		struct iotlb_region *r = *pp;

		if (oldest >= r->retire_seq) {
			*pp = r->next_retired;
			t->n_retired--;
			iotlb_unmap(t, r);
		} else {
			pp = &r->next_retired;
		}
	}
}

const struct iotlb_stats *nb_iotlb_get_stats(const struct iotlb *t)
{
	return &t->stats;
}

unsigned int nb_iotlb_live_count(const struct iotlb *t)
{
	return t->n_live;
}

unsigned int nb_iotlb_retired_count(const struct iotlb *t)
{
	return t->n_retired;
}
