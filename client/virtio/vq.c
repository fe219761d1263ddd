/* SPDX-License-Identifier: MIT */
/* Split virtqueue, device side.  See vq.h for the contract. */
#include "vq.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

struct vq {
	const struct vq_ops *ops;
	void *opaque;
	unsigned int index;

	struct vq_layout layout;
	bool configured;	/* layout accepted by nb_vq_setup() */
	bool ready;		/* rings mapped */
	bool needs_reset;
	bool kicks_enabled;

	/* host pointers to the rings, valid while ready */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;	/* avail->ring[num] */
	uint16_t *avail_event;	/* after used->ring[num] */

	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
	unsigned int unsignalled;	/* pushes since last nb_vq_notify_batch */
	unsigned int inflight;

	struct vq_stats stats;
	struct vq_log *log;	/* NULL: not logging */

	/* scratch for one chain walk */
	struct iovec iov[VQ_MAX_IOV];
	struct vring_desc indirect[VQ_MAX_INDIRECT];
};

/* State of one chain walk. */
struct vq_walk {
	unsigned int niov;
	unsigned int out_num;
	unsigned int in_num;
	uint64_t out_len;
	uint64_t in_len;
	bool seen_writable;
	int buf_error;
	const char *buf_why;
	bool have_last_w;
	uint64_t last_w_iova;
	uint32_t last_w_len;
};

struct vq *nb_vq_new(const struct vq_ops *ops, void *opaque, unsigned int index)
{
	struct vq *vq;

	if (!ops || !ops->translate || !ops->notify) {
		errno = EINVAL;
		return NULL;
	}
	vq = calloc(1, sizeof(*vq));
	if (!vq)
		return NULL;
	vq->ops = ops;
	vq->opaque = opaque;
	vq->index = index;
	return vq;
}

void nb_vq_free(struct vq *vq)
{
	free(vq);
}

/* Map @len bytes at @iova in one piece, aligned for @align. */
static void *vq_map_ring(struct vq *vq, uint64_t iova, uint64_t len,
			 bool write, size_t align)
{
	uint64_t got = len;
	void *p;

	if (len == 0 || iova + (len - 1) < iova)
		return NULL;
	p = vq->ops->translate(vq->opaque, iova, &got, write);
	if (!p || got != len || ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int nb_vq_remap(struct vq *vq)
{
	uint32_t num = vq->layout.num;
	void *desc, *avail, *used;

	vq->ready = false;
	if (!vq->configured)
		return -ENXIO;
	desc = vq_map_ring(vq, vq->layout.desc_iova,
			   (uint64_t)num * sizeof(struct vring_desc), false, 16);
	avail = vq_map_ring(vq, vq->layout.avail_iova, 6 + 2 * (uint64_t)num,
			    false, 2);
	used = vq_map_ring(vq, vq->layout.used_iova, 6 + 8 * (uint64_t)num,
			   true, 4);
	if (!desc || !avail || !used)
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (uint16_t *)&vq->used->ring[num];
	vq->ready = true;
	return 0;
}

int nb_vq_setup(struct vq *vq, const struct vq_layout *layout)
{
	int rc;

	nb_vq_reset(vq);
	if (layout->num == 0 || layout->num > VQ_MAX_SIZE ||
	    (layout->num & (layout->num - 1)))
		return -EINVAL;
	if ((layout->desc_iova & 15) || (layout->avail_iova & 1) ||
	    (layout->used_iova & 3))
		return -EINVAL;
	vq->layout = *layout;
	vq->configured = true;
	rc = nb_vq_remap(vq);
	if (rc < 0) {
		vq->configured = false;
		return rc;
	}
	vq->last_avail_idx = layout->last_avail_idx;
	vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx,
					       __ATOMIC_ACQUIRE));
	vq->kicks_enabled = true;
	return 0;
}

void nb_vq_reset(struct vq *vq)
{
	vq->configured = false;
	vq->ready = false;
	vq->needs_reset = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->used_event = NULL;
	vq->avail_event = NULL;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->unsignalled = 0;
	vq->log = NULL;
	memset(&vq->layout, 0, sizeof(vq->layout));
}

bool nb_vq_ready(const struct vq *vq)
{
	return vq->ready;
}

unsigned int nb_vq_index(const struct vq *vq)
{
	return vq->index;
}

uint32_t nb_vq_size(const struct vq *vq)
{
	return vq->layout.num;
}

uint16_t nb_vq_last_avail_idx(const struct vq *vq)
{
	return vq->last_avail_idx;
}

unsigned int nb_vq_inflight(const struct vq *vq)
{
	return vq->inflight;
}

const struct vq_stats *nb_vq_get_stats(const struct vq *vq)
{
	return &vq->stats;
}

bool nb_vq_needs_reset(const struct vq *vq)
{
	return vq->needs_reset;
}

void nb_vq_set_needs_reset(struct vq *vq)
{
	vq->needs_reset = true;
}

static bool vq_has_feature(const struct vq *vq, unsigned int bit)
{
	return vq->layout.features & (1ULL << bit);
}

static uint16_t vq_avail_idx(struct vq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

bool nb_vq_has_avail(struct vq *vq)
{
	return vq->ready && vq_avail_idx(vq) != vq->last_avail_idx;
}

/* Copy @len bytes of guest memory at @iova, crossing regions as needed. */
static int vq_read_guest(struct vq *vq, uint64_t iova, void *buf, uint64_t len)
{
	uint8_t *dst = buf;

	if (len && iova + (len - 1) < iova)
		return -EFAULT;
	while (len) {
		uint64_t got = len;
		void *p = vq->ops->translate(vq->opaque, iova, &got, false);

		if (!p || got == 0 || got > len)
			return -EFAULT;
		memcpy(dst, p, got);
		dst += got;
		iova += got;
		len -= got;
	}
	return 0;
}

static void vq_walk_fail(struct vq_walk *w, int error, const char *why)
{
	if (!w->buf_error) {
		w->buf_error = error;
		w->buf_why = why;
	}
}

/* Account one data descriptor and translate it into iovecs. */
static void vq_walk_buf(struct vq *vq, struct vq_walk *w,
			const struct vring_desc *d)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool writable = le16toh(d->flags) & VRING_DESC_F_WRITE;

	if (writable) {
		w->seen_writable = true;
		w->have_last_w = true;
		w->last_w_iova = addr;
		w->last_w_len = len;
		w->in_len += len;
	} else {
		if (w->seen_writable)
			vq_walk_fail(w, -EINVAL, "device-readable descriptor after a device-writable one");
		w->out_len += len;
	}
	if (len == 0)
		vq_walk_fail(w, -EINVAL, "zero-length descriptor");
	if (len && addr + (len - 1) < addr)
		vq_walk_fail(w, -EFAULT, "buffer wraps around the end of the address space");
	if (w->in_len > UINT32_MAX || w->out_len > UINT32_MAX)
		vq_walk_fail(w, -EOVERFLOW, "chain longer than 4 GiB");
	if (w->buf_error)
		return;		/* keep walking to find the end, map no more */

	while (len) {
		uint64_t got = len;
		void *p = vq->ops->translate(vq->opaque, addr, &got, writable);

		if (!p || got == 0 || got > len) {
			vq_walk_fail(w, -EFAULT, writable ?
				     "buffer not mapped writable" :
				     "buffer not mapped");
			return;
		}
		if (w->niov == VQ_MAX_IOV) {
			vq_walk_fail(w, -E2BIG, "chain needs too many segments");
			return;
		}
		vq->iov[w->niov].iov_base = p;
		vq->iov[w->niov].iov_len = got;
		w->niov++;
		if (writable)
			w->in_num++;
		else
			w->out_num++;
		addr += got;
		len -= (uint32_t)got;
	}
}

/* Load descriptor @i of the ring's table (aligned: checked at remap). */
static void vq_load_desc(struct vq *vq, uint16_t i, struct vring_desc *d)
{
	struct vring_desc *s = &vq->desc[i];

	d->addr = __atomic_load_n(&s->addr, __ATOMIC_RELAXED);
	d->len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
	d->flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
	d->next = __atomic_load_n(&s->next, __ATOMIC_RELAXED);
}

/* Walk an indirect table referenced by @d.  Returns NULL or a chain error. */
static const char *vq_walk_indirect(struct vq *vq, struct vq_walk *w,
				    const struct vring_desc *d)
{
	uint32_t len = le32toh(d->len);
	unsigned int n, i, count;

	if (!vq_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC))
		return "indirect descriptor but VIRTIO_RING_F_INDIRECT_DESC not negotiated";
	if (le16toh(d->flags) & VRING_DESC_F_NEXT)
		return "indirect descriptor with the NEXT flag";
	if (len == 0 || len % sizeof(struct vring_desc))
		return "indirect table length not a non-zero multiple of 16";
	n = len / sizeof(struct vring_desc);
	if (n > VQ_MAX_INDIRECT)
		return "indirect table longer than 1024 descriptors";
	if (vq_read_guest(vq, le64toh(d->addr), vq->indirect, len) < 0)
		return "indirect table not mapped";

	for (i = 0, count = 0;; count++) {
		const struct vring_desc *e = &vq->indirect[i];
		uint16_t flags = le16toh(e->flags);

		if (count >= n)
			return "loop in indirect table";
		if (flags & VRING_DESC_F_INDIRECT)
			return "nested indirect descriptor";
		vq_walk_buf(vq, w, e);
		if (!(flags & VRING_DESC_F_NEXT))
			return NULL;
		i = le16toh(e->next);
		if (i >= n)
			return "indirect next index out of range";
	}
}

/* Walk the chain at @head.  Returns NULL or a chain error. */
static const char *vq_walk_chain(struct vq *vq, struct vq_walk *w,
				 uint16_t head)
{
	uint32_t num = vq->layout.num;
	struct vring_desc d;
	uint32_t count;
	uint16_t i = head;

	vq_load_desc(vq, head, &d);
	if (le16toh(d.flags) & VRING_DESC_F_INDIRECT)
		return vq_walk_indirect(vq, w, &d);

	for (count = 1;; count++) {
		uint16_t flags = le16toh(d.flags);

		if (flags & VRING_DESC_F_INDIRECT)
			return "indirect descriptor inside a chain";
		vq_walk_buf(vq, w, &d);
		if (!(flags & VRING_DESC_F_NEXT))
			return NULL;
		i = le16toh(d.next);
		if (i >= num)
			return "next index out of range";
		if (count >= num)
			return "chain longer than the queue (loop)";
		vq_load_desc(vq, i, &d);
	}
}

/* Pointer to the last byte of the last writable descriptor, if mapped. */
static uint8_t *vq_walk_last_byte(struct vq *vq, const struct vq_walk *w)
{
	uint64_t iova, got = 1;

	if (!w->have_last_w || w->last_w_len == 0)
		return NULL;
	iova = w->last_w_iova + (w->last_w_len - 1);
	if (iova < w->last_w_iova)
		return NULL;
	return vq->ops->translate(vq->opaque, iova, &got, true);
}

static void vq_publish_avail_event(struct vq *vq)
{
	if (vq->kicks_enabled && vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		__atomic_store_n(vq->avail_event, htole16(vq->last_avail_idx),
				 __ATOMIC_RELEASE);
}

static int vq_next_head(struct vq *vq, uint16_t *headp)
{
	uint16_t avail_idx, head;

	avail_idx = vq_avail_idx(vq);
	if (avail_idx == vq->last_avail_idx)
		return -EAGAIN;
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->layout.num) {
		vq->needs_reset = true;
		return -EIO;
	}
	/* the acquire load of avail->idx orders this read after it */
	head = le16toh(__atomic_load_n(
		&vq->avail->ring[vq->last_avail_idx & (vq->layout.num - 1)],
		__ATOMIC_RELAXED));
	vq->last_avail_idx++;
	*headp = head;
	return 0;
}

/* Walk the chain at @head into a fresh element. */
static int vq_build_elem(struct vq *vq, uint16_t head, size_t elem_size,
			 struct vq_elem **elemp)
{
	struct vq_walk w;
	struct vq_elem *elem;
	const char *chain_why;
	size_t niov;

	memset(&w, 0, sizeof(w));
	chain_why = vq_walk_chain(vq, &w, head);
	if (chain_why) {
		w.buf_error = -EINVAL;
		w.buf_why = chain_why;
	}
	niov = w.buf_error ? 0 : w.niov;

	elem_size = (elem_size + _Alignof(struct iovec) - 1) &
		    ~(_Alignof(struct iovec) - 1);
	elem = calloc(1, elem_size + niov * sizeof(struct iovec));
	if (!elem)
		return -ENOMEM;
	elem->head = head;
	elem->iov = (struct iovec *)((char *)elem + elem_size);
	if (w.buf_error) {
		elem->error = w.buf_error;
		elem->why = w.buf_why;
		elem->last_in_byte = chain_why ? NULL : vq_walk_last_byte(vq, &w);
		vq->stats.malformed++;
	} else {
		memcpy(elem->iov, vq->iov, niov * sizeof(struct iovec));
		elem->out_num = w.out_num;
		elem->in_num = w.in_num;
		elem->out_len = w.out_len;
		elem->in_len = w.in_len;
		if (w.in_num) {
			struct iovec *last = &elem->iov[niov - 1];

			elem->last_in_byte = (uint8_t *)last->iov_base +
					     last->iov_len - 1;
		}
	}
	vq->stats.popped++;
	vq->inflight++;
	*elemp = elem;
	return 0;
}

/* The log's last_avail_idx follows ours; stores ordered for a reader
 * that finds them after we died. */
static void vq_log_avail(struct vq *vq)
{
	if (vq->log)
		__atomic_store_n(&vq->log->last_avail_idx, vq->last_avail_idx,
				 __ATOMIC_RELEASE);
}

int nb_vq_pop(struct vq *vq, size_t elem_size, struct vq_elem **elemp)
{
	uint16_t head;
	int rc;

	if (!vq->ready)
		return -ENXIO;
	if (elem_size < sizeof(struct vq_elem))
		return -EINVAL;
	for (;;) {
		rc = vq_next_head(vq, &head);
		if (rc < 0)
			return rc;
		if (head < vq->layout.num)
			break;
		vq->stats.bad_heads++;
		vq->needs_reset = true;
		vq_log_avail(vq);
		vq_publish_avail_event(vq);
	}
	rc = vq_build_elem(vq, head, elem_size, elemp);
	if (rc < 0) {
		/* give the chain back: the next pop retries it */
		vq->last_avail_idx--;
		return rc;
	}
	if (vq->log)
		__atomic_store_n(&vq->log->inflight[head], 1, __ATOMIC_RELEASE);
	vq_log_avail(vq);
	vq_publish_avail_event(vq);
	return 0;
}

int nb_vq_pop_head(struct vq *vq, uint16_t head, size_t elem_size,
		struct vq_elem **elemp)
{
	if (!vq->ready)
		return -ENXIO;
	if (elem_size < sizeof(struct vq_elem) || head >= vq->layout.num)
		return -EINVAL;
	return vq_build_elem(vq, head, elem_size, elemp);
}

void nb_vq_log_start(struct vq *vq, struct vq_log *log)
{
	log->num = vq->layout.num;
	memset(log->inflight, 0, sizeof(log->inflight));
	log->used_idx = vq->used_idx;
	__atomic_store_n(&log->last_avail_idx, vq->last_avail_idx,
			 __ATOMIC_RELEASE);
	vq->log = log;
}

void nb_vq_log_stop(struct vq *vq)
{
	vq->log = NULL;
}

int nb_vq_recover(struct vq *vq, struct vq_log *log, uint16_t *heads)
{
	uint32_t num = vq->layout.num;
	uint16_t idx, end;
	unsigned int n = 0, i;

	if (!vq->ready)
		return -ENXIO;
	if (log->num != num || log->last_avail_idx != vq->last_avail_idx)
		return -EINVAL;
	/* Pushes published but not recorded: those heads are done. */
	end = vq->used_idx;
	if ((uint16_t)(end - log->used_idx) > num)
		return -EINVAL;
	for (idx = log->used_idx; idx != end; idx++) {
		uint32_t id = le32toh(vq->used->ring[idx & (num - 1)].id);

		if (id < num)
			log->inflight[id] = 0;
	}
	log->used_idx = end;
	/* Heads still offered in the avail ring cannot be in flight: a mark
	 * there is a pop that died before recording last_avail_idx. */
	end = vq_avail_idx(vq);
	if ((uint16_t)(end - vq->last_avail_idx) <= num) {
		for (idx = vq->last_avail_idx; idx != end; idx++) {
			uint16_t h = le16toh(vq->avail->ring[idx & (num - 1)]);

			if (h < num)
				log->inflight[h] = 0;
		}
	}
	for (i = 0; i < num; i++)
		if (log->inflight[i])
			heads[n++] = i;
	vq->log = log;
	return n;
}

int nb_vq_push(struct vq *vq, uint16_t id, uint32_t len)
{
	struct vring_used_elem *u;

	if (vq->inflight)
		vq->inflight--;
	if (!vq->ready)
		return -ENXIO;
	u = &vq->used->ring[vq->used_idx & (vq->layout.num - 1)];
	__atomic_store_n(&u->id, htole32(id), __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, htole32(len), __ATOMIC_RELAXED);
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
	if (vq->log && id < vq->layout.num) {
		__atomic_store_n(&vq->log->inflight[id], 0, __ATOMIC_RELEASE);
		__atomic_store_n(&vq->log->used_idx, vq->used_idx,
				 __ATOMIC_RELEASE);
	}
	vq->unsignalled++;
	vq->stats.pushed++;
	return 0;
}

int nb_vq_notify_batch(struct vq *vq)
{
	uint16_t old, new;
	bool need;

	if (!vq->ready || vq->unsignalled == 0)
		return 0;
	vq->unsignalled = 0;
	/* used->idx store must be visible before we read the driver's wish */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = vq->signalled_used;
	new = vq->used_idx;
	if (vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t event = le16toh(__atomic_load_n(vq->used_event,
							 __ATOMIC_RELAXED));

		need = !vq->signalled_used_valid ||
		       vring_need_event(event, new, old);
	} else {
		uint16_t flags = le16toh(__atomic_load_n(&vq->avail->flags,
							 __ATOMIC_RELAXED));

		need = !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!need) {
		vq->stats.notifies_suppressed++;
		return 0;
	}
	vq->stats.notifies++;
	return vq->ops->notify(vq->opaque);
}

void nb_vq_kick_disable(struct vq *vq)
{
	vq->kicks_enabled = false;
	if (!vq->ready || vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return;		/* avail_event simply stays behind */
	__atomic_store_n(&vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY),
			 __ATOMIC_RELAXED);
}

bool nb_vq_kick_enable(struct vq *vq)
{
	vq->kicks_enabled = true;
	if (!vq->ready)
		return false;
	if (vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		vq_publish_avail_event(vq);
	else
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	/* the flag/event store must be visible before we look again */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_idx(vq) != vq->last_avail_idx;
}
