// SPDX-License-Identifier: MIT
/* dq.c - driver side of a split virtqueue. */
#include "dq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <endian.h>

size_t dq_ring_bytes(unsigned num)
{
	return vring_size(num, DQ_RING_ALIGN);
}

int dq_init(struct dq *q, unsigned idx, unsigned num, void *mem,
	    uint64_t iova, int kickfd, bool event_idx)
{
	unsigned i;

	memset(q, 0, sizeof(*q));
	q->cookie = calloc(num, sizeof(*q->cookie));
	q->chain_len = calloc(num, sizeof(*q->chain_len));
	if (!q->cookie || !q->chain_len) {
		free(q->cookie);
		free(q->chain_len);
		return -ENOMEM;
	}
	memset(mem, 0, dq_ring_bytes(num));
	vring_init(&q->vr, num, mem, DQ_RING_ALIGN);
	q->idx = idx;
	q->num = num;
	q->kickfd = kickfd;
	q->event_idx = event_idx;
	q->desc_iova = iova;
	q->avail_iova = iova + ((uint8_t *)q->vr.avail - (uint8_t *)mem);
	q->used_iova = iova + ((uint8_t *)q->vr.used - (uint8_t *)mem);
	for (i = 0; i < num; i++)
		q->vr.desc[i].next = htole16((uint16_t)((i + 1) % num));
	q->free_head = 0;
	q->num_free = (uint16_t)num;
	if (event_idx)
		vring_used_event(&q->vr) = htole16(0);
	return 0;
}

void dq_fini(struct dq *q)
{
	free(q->cookie);
	free(q->chain_len);
	q->cookie = NULL;
	q->chain_len = NULL;
}

static void dq_fill_desc(struct vring_desc *d, const struct dq_seg *s,
			 bool has_next, uint16_t next)
{
	uint16_t flags = 0;

	if (s->dev_writes)
		flags |= VRING_DESC_F_WRITE;
	if (has_next)
		flags |= VRING_DESC_F_NEXT;
	d->addr = htole64(s->iova);
	d->len = htole32(s->len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

int dq_add(struct dq *q, const struct dq_seg *segs, unsigned n,
	   struct vring_desc *indirect, uint64_t indirect_iova, void *cookie)
{
	unsigned need = indirect ? 1 : n, i;
	uint16_t head = q->free_head, cur;

	if (n == 0 || need > q->num_free)
		return -ENOSPC;
	if (indirect) {
		struct dq_seg table = {
			.iova = indirect_iova,
			.len = (uint32_t)(n * sizeof(struct vring_desc)),
		};

		uint16_t next = le16toh(q->vr.desc[head].next);

		for (i = 0; i < n; i++)
			dq_fill_desc(&indirect[i], &segs[i], i + 1 < n,
				     (uint16_t)(i + 1));
		/* Keep next: it still links the free list. */
		dq_fill_desc(&q->vr.desc[head], &table, false, next);
		q->vr.desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
		q->free_head = next;
	} else {
		cur = head;
		for (i = 0; i < n; i++) {
			uint16_t next = le16toh(q->vr.desc[cur].next);

			dq_fill_desc(&q->vr.desc[cur], &segs[i], i + 1 < n, next);
			if (i + 1 < n)
				cur = next;
			else
				q->free_head = next;
		}
	}
	q->num_free -= (uint16_t)need;
	q->cookie[head] = cookie;
	q->chain_len[head] = (uint16_t)need;
	q->vr.avail->ring[q->avail_idx % q->num] = htole16(head);
	q->avail_idx++;
	return 0;
}

int dq_publish(struct dq *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	bool kick;
	uint64_t one = 1;

	__atomic_store_n(&q->vr.avail->idx, htole16(new), __ATOMIC_RELEASE);
	/* Order the avail index store before reading the device's hint. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx)
		kick = vring_need_event(le16toh(__atomic_load_n(
				&vring_avail_event(&q->vr), __ATOMIC_ACQUIRE)),
				new, old);
	else
		kick = !(le16toh(__atomic_load_n(&q->vr.used->flags,
						 __ATOMIC_ACQUIRE)) &
			 VRING_USED_F_NO_NOTIFY);
	q->kicked_idx = new;
	if (!kick) {
		q->kicks_suppressed++;
		return 0;
	}
	q->kicks++;
	if (write(q->kickfd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

bool dq_has_used(const struct dq *q)
{
	uint16_t used = le16toh(__atomic_load_n(&q->vr.used->idx,
						__ATOMIC_ACQUIRE));

	return used != q->last_used;
}

unsigned dq_in_flight(const struct dq *q)
{
	return (uint16_t)(q->avail_idx - q->last_used);
}

void dq_want_interrupt(struct dq *q)
{
	if (!q->event_idx)
		return;
	__atomic_store_n(&vring_used_event(&q->vr), htole16(q->last_used),
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int dq_get_used(struct dq *q, void **cookie, uint32_t *len, char *why,
		size_t why_len)
{
	uint16_t used = le16toh(__atomic_load_n(&q->vr.used->idx,
						__ATOMIC_ACQUIRE));
	struct vring_used_elem *e;
	uint32_t id;
	uint16_t head, tail, i;

	if (used == q->last_used)
		return 0;
	if ((uint16_t)(used - q->last_used) > dq_in_flight(q)) {
		snprintf(why, why_len, "queue %u: used index %u is %u ahead of "
			 "the %u requests in flight", q->idx, used,
			 (uint16_t)(used - q->last_used), dq_in_flight(q));
		return -EPROTO;
	}
	e = &q->vr.used->ring[q->last_used % q->num];
	id = le32toh(e->id);
	if (id >= q->num || !q->cookie[id]) {
		snprintf(why, why_len, "queue %u: used element %u names "
			 "descriptor %u, which is %s", q->idx, q->last_used,
			 id, id >= q->num ? "out of range" : "not in flight");
		return -EPROTO;
	}
	*cookie = q->cookie[id];
	*len = le32toh(e->len);
	q->cookie[id] = NULL;
	/* Return the chain to the free list: find its tail, link it in. */
	head = (uint16_t)id;
	tail = head;
	for (i = 1; i < q->chain_len[head]; i++)
		tail = le16toh(q->vr.desc[tail].next);
	q->vr.desc[tail].next = htole16(q->free_head);
	q->free_head = head;
	q->num_free += q->chain_len[head];
	q->chain_len[head] = 0;
	q->last_used++;
	q->completions++;
	return 1;
}
