// SPDX-License-Identifier: MIT
/* sess.c - virtio-blk driver session over vhost-vdpa. */
#include "sess.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

/* Control page of a slot. */
#define SESS_SLOT_CTRL 4096
#define SESS_OFF_HDR 0
#define SESS_OFF_STATUS 16
#define SESS_OFF_RANGES 64
#define SESS_OFF_INDIRECT 512
/* Data buffers start at a random sub-page offset inside their chunk. */
#define SESS_DATA_SLACK 4096

#define SESS_POLL_SLICE_MS 200

bool sess_has(const struct sess *s, unsigned feature)
{
	return s->features & (1ULL << feature);
}

bool sess_offers(const struct sess *s, unsigned feature)
{
	return s->offered & (1ULL << feature);
}

const char *sess_type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return "read";
	case VIRTIO_BLK_T_OUT: return "write";
	case VIRTIO_BLK_T_FLUSH: return "flush";
	case VIRTIO_BLK_T_GET_ID: return "get-id";
	case VIRTIO_BLK_T_DISCARD: return "discard";
	case VIRTIO_BLK_T_WRITE_ZEROES: return "write-zeroes";
	default: return "unknown-type";
	}
}

const char *sess_status_name(uint8_t status)
{
	switch (status) {
	case VIRTIO_BLK_S_OK: return "OK";
	case VIRTIO_BLK_S_IOERR: return "IOERR";
	case VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
	case SESS_STATUS_UNSET: return "not written by the device";
	default: return "invalid";
	}
}

const char *sess_feature_names(uint64_t f, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ VIRTIO_BLK_F_SIZE_MAX, "SIZE_MAX" },
		{ VIRTIO_BLK_F_SEG_MAX, "SEG_MAX" },
		{ VIRTIO_BLK_F_GEOMETRY, "GEOMETRY" },
		{ VIRTIO_BLK_F_RO, "RO" },
		{ VIRTIO_BLK_F_BLK_SIZE, "BLK_SIZE" },
		{ VIRTIO_BLK_F_FLUSH, "FLUSH" },
		{ VIRTIO_BLK_F_TOPOLOGY, "TOPOLOGY" },
		{ VIRTIO_BLK_F_CONFIG_WCE, "CONFIG_WCE" },
		{ VIRTIO_BLK_F_MQ, "MQ" },
		{ VIRTIO_BLK_F_DISCARD, "DISCARD" },
		{ VIRTIO_BLK_F_WRITE_ZEROES, "WRITE_ZEROES" },
		{ VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC" },
		{ VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
		{ VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY" },
		{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
		{ VIRTIO_F_VERSION_1, "VERSION_1" },
		{ VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
		{ VIRTIO_F_RING_PACKED, "RING_PACKED" },
	};
	size_t used = 0, i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & (1ULL << names[i].bit)))
			continue;
		f &= ~(1ULL << names[i].bit);
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
					 "%s%s", used ? " " : "", names[i].name);
	}
	if (f && used < len)
		snprintf(buf + used, len - used, "%sother:0x%" PRIx64,
			 used ? " " : "", f);
	return buf;
}

static int sess_read_config(struct sess *s)
{
	uint32_t size;
	int ret;

	if (vhd_get_config_size(&s->dev, &size) < 0)
		size = sizeof(s->cfg);
	if (size > sizeof(s->cfg))
		size = sizeof(s->cfg);
	if (size < offsetof(struct virtio_blk_config, size_max)) {
		util_err("%s: config space of %u bytes has no capacity field",
			 s->dev.path, size);
		return -EPROTO;
	}
	memset(&s->cfg, 0, sizeof(s->cfg));
	ret = vhd_get_config(&s->dev, &s->cfg, 0, size);
	if (ret)
		return ret;
	s->cfg_size = size;
	s->capacity = le64toh(s->cfg.capacity);
	s->blk_size = 512;
	if ((s->features ? sess_has(s, VIRTIO_BLK_F_BLK_SIZE) :
	     sess_offers(s, VIRTIO_BLK_F_BLK_SIZE)) &&
	    le32toh(s->cfg.blk_size)) {
		s->blk_size = le32toh(s->cfg.blk_size);
		if (s->blk_size < 512 || s->blk_size > 65536 ||
		    (s->blk_size & (s->blk_size - 1))) {
			util_err("%s: config blk_size %u is not a power of two "
				 "in [512, 65536]", s->dev.path, s->blk_size);
			return -EPROTO;
		}
	}
	return 0;
}

int sess_open(struct sess *s, const char *path, const struct sess_opts *o)
{
	size_t ctrl;
	unsigned num, i;
	uint16_t nq;
	int ret;

	memset(s, 0, sizeof(*s));
	s->o = *o;
	for (i = 0; i < SESS_MAX_QUEUES; i++)
		s->kickfd[i] = s->callfd[i] = -1;
	util_rng_seed(&s->rng, o->seed ^ 0x5e55);
	ret = vhd_open(&s->dev, path, o->batch);
	if (ret)
		return ret;
	if (s->dev.device_id != VIRTIO_ID_BLOCK) {
		util_err("%s: device id %u is not virtio-blk (%u)", path,
			 s->dev.device_id, VIRTIO_ID_BLOCK);
		ret = -ENODEV;
		goto out_close;
	}
	/* Start from a clean device whatever the last user left. */
	ret = vhd_set_status(&s->dev, 0);
	if (ret)
		goto out_close;
	ret = vhd_get_features(&s->dev, &s->offered);
	if (ret)
		goto out_close;
	if (!sess_offers(s, VIRTIO_F_VERSION_1)) {
		util_err("%s: device does not offer VIRTIO_F_VERSION_1", path);
		ret = -EPROTO;
		goto out_close;
	}
	ret = sess_read_config(s);
	if (ret)
		goto out_close;
	ret = vhd_get_vring_num_max(&s->dev, &s->vring_num_max);
	if (ret)
		goto out_close;
	if (vhd_get_vqs_count(&s->dev, &s->vqs_count) < 0)
		s->vqs_count = 0;
	s->max_queues = 1;
	nq = le16toh(s->cfg.num_queues);
	if (sess_offers(s, VIRTIO_BLK_F_MQ) && nq > 1)
		s->max_queues = nq < SESS_MAX_QUEUES ? nq : SESS_MAX_QUEUES;
	if (o->queues && o->queues < s->max_queues)
		s->max_queues = o->queues;

	num = o->queue_size;
	if (num > s->vring_num_max)
		num = s->vring_num_max;
	if (num < 4) {
		util_err("%s: queue size %u is too small (device maximum %u)",
			 path, num, s->vring_num_max);
		ret = -EINVAL;
		goto out_close;
	}
	s->nslots = s->max_queues * o->depth;
	s->ring_off = 0;
	s->ring_stride = (dq_ring_bytes(num) + 4095) & ~(size_t)4095;
	s->slot_ctrl_off = s->ring_stride * s->max_queues;
	ctrl = s->slot_ctrl_off + (size_t)s->nslots * SESS_SLOT_CTRL;
	s->req = calloc(s->nslots, sizeof(*s->req));
	if (!s->req) {
		ret = -ENOMEM;
		goto out_close;
	}
	s->bufs = bufs_new(&s->dev, ctrl, s->nslots,
			   (size_t)o->max_io + SESS_DATA_SLACK, o->seed);
	if (!s->bufs) {
		ret = -errno;
		util_err("%s: cannot set up %u buffers of %u bytes: %s", path,
			 s->nslots, o->max_io, strerror(-ret));
		goto out_free;
	}
	for (i = 0; i < s->nslots; i++)
		s->req[i].slot = i;
	return 0;

out_free:
	free(s->req);
	s->req = NULL;
out_close:
	vhd_close(&s->dev);
	return ret;
}

static void sess_close_queues(struct sess *s)
{
	unsigned i;

	for (i = 0; i < SESS_MAX_QUEUES; i++) {
		if (s->q[i].cookie)
			dq_fini(&s->q[i]);
		if (s->kickfd[i] >= 0)
			close(s->kickfd[i]);
		if (s->callfd[i] >= 0)
			close(s->callfd[i]);
		s->kickfd[i] = s->callfd[i] = -1;
	}
	s->nq = 0;
}

void sess_close(struct sess *s)
{
	if (s->dev.fd >= 0 && s->live)
		sess_reset(s, false, NULL, NULL);
	sess_close_queues(s);
	bufs_free(s->bufs);
	s->bufs = NULL;
	free(s->req);
	s->req = NULL;
	vhd_close(&s->dev);
}

static int sess_add_status(struct sess *s, uint8_t bit, const char *name)
{
	uint8_t st;
	int ret;

	ret = vhd_get_status(&s->dev, &st);
	if (ret)
		return ret;
	ret = vhd_set_status(&s->dev, st | bit);
	if (ret)
		return ret;
	ret = vhd_get_status(&s->dev, &st);
	if (ret)
		return ret;
	if (st & VIRTIO_CONFIG_S_NEEDS_RESET) {
		util_fail("%s: device set NEEDS_RESET (status 0x%02x) after %s",
			  s->dev.path, st, name);
		return -EPROTO;
	}
	if (!(st & bit)) {
		util_fail("%s: device status 0x%02x lacks %s after setting it",
			  s->dev.path, st, name);
		return -EPROTO;
	}
	return 0;
}

static int sess_setup_queue(struct sess *s, unsigned i)
{
	void *mem = bufs_ctrl_va(s->bufs, s->ring_off + i * s->ring_stride);
	uint64_t iova = bufs_ctrl_iova(s->bufs, s->ring_off + i * s->ring_stride);
	struct dq *q = &s->q[i];
	int ret;

	s->kickfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->callfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->kickfd[i] < 0 || s->callfd[i] < 0) {
		ret = -errno;
		util_err("eventfd: %s", strerror(-ret));
		return ret;
	}
	ret = dq_init(q, i, s->qsize, mem, iova, s->kickfd[i],
		      sess_has(s, VIRTIO_RING_F_EVENT_IDX));
	if (ret)
		return ret;
	ret = vhd_vring_setup(&s->dev, i, s->qsize, q->desc_iova,
			      q->avail_iova, q->used_iova, s->kickfd[i],
			      s->callfd[i]);
	if (ret)
		return ret;
	return vhd_vring_enable(&s->dev, i, true);
}

int sess_setup(struct sess *s, uint64_t mask, unsigned nq_want,
	       unsigned qsize)
{
	uint64_t want = s->offered & SESS_KNOWN_FEATURES & mask;
	char names[512];
	unsigned i;
	int ret;

	if (s->live || s->setups == 0) {
		ret = sess_reset(s, false, NULL, NULL);
		if (ret)
			return ret;
	}
	sess_close_queues(s);
	/* Required whatever the mask says. */
	want |= s->offered & ((1ULL << VIRTIO_F_VERSION_1) |
			      (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	ret = sess_add_status(s, VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE");
	if (!ret)
		ret = sess_add_status(s, VIRTIO_CONFIG_S_DRIVER, "DRIVER");
	if (ret)
		return ret;
	ret = vhd_set_features(&s->dev, want);
	if (ret)
		return ret;
	s->features = want;
	ret = sess_add_status(s, VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK");
	if (ret) {
		util_fail("%s: device did not accept features %s", s->dev.path,
			  sess_feature_names(want, names, sizeof(names)));
		return ret;
	}
	ret = sess_read_config(s);
	if (ret)
		return ret;

	s->nq = 1;
	if (sess_has(s, VIRTIO_BLK_F_MQ)) {
		s->nq = s->max_queues;
		if (nq_want && nq_want < s->nq)
			s->nq = nq_want;
	}
	s->qsize = qsize ? qsize : s->o.queue_size;
	if (s->qsize > s->vring_num_max)
		s->qsize = s->vring_num_max;
	if (dq_ring_bytes(s->qsize) > s->ring_stride) {
		util_err("queue size %u does not fit the ring area", s->qsize);
		return -EINVAL;
	}
	s->active_slots = s->nq * s->o.depth;

	if (!s->bufs->mapped) {
		ret = bufs_map(s->bufs);
		if (ret)
			return ret;
	}
	for (i = 0; i < s->nq; i++) {
		ret = sess_setup_queue(s, i);
		if (ret)
			return ret;
	}
	ret = sess_add_status(s, VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK");
	if (ret)
		return ret;
	s->live = true;
	s->setups++;
	util_info("setup %u: features %s; %u queue%s of %u entries, %u "
		  "requests in flight per queue", s->setups,
		  sess_feature_names(want, names, sizeof(names)), s->nq,
		  s->nq == 1 ? "" : "s", s->qsize, s->o.depth);
	return 0;
}

int sess_reset(struct sess *s, bool unmap, sess_req_fn *lost, void *arg)
{
	uint8_t st;
	unsigned i;
	int ret;

	ret = vhd_set_status(&s->dev, 0);
	if (ret)
		return ret;
	ret = vhd_get_status(&s->dev, &st);
	if (ret)
		return ret;
	if (st != 0) {
		util_fail("%s: status reads 0x%02x after a reset (want 0)",
			  s->dev.path, st);
		return -EPROTO;
	}
	s->live = false;
	for (i = 0; i < s->nslots; i++) {
		struct sess_req *r = &s->req[i];

		if (!r->busy)
			continue;
		if (lost && r->status == SESS_STATUS_UNSET && r->nsegs)
			lost(s, r, arg);
		r->busy = false;
	}
	sess_close_queues(s);
	if (unmap)
		return bufs_unmap(s->bufs);
	return 0;
}

unsigned sess_in_flight(const struct sess *s)
{
	unsigned i, n = 0;

	for (i = 0; i < s->nq; i++)
		n += dq_in_flight(&s->q[i]);
	return n;
}

unsigned sess_idle_slots(const struct sess *s)
{
	unsigned i, n = 0;

	for (i = 0; i < s->active_slots; i++)
		n += !s->req[i].busy;
	return n;
}

uint32_t sess_max_io(const struct sess *s)
{
	uint64_t m = s->o.max_io;
	uint32_t segs = SESS_MAX_SEGS;

	if (sess_has(s, VIRTIO_BLK_F_SEG_MAX) && le32toh(s->cfg.seg_max) &&
	    le32toh(s->cfg.seg_max) < segs)
		segs = le32toh(s->cfg.seg_max);
	if (segs > s->qsize - 2 && !sess_has(s, VIRTIO_RING_F_INDIRECT_DESC))
		segs = s->qsize - 2;
	if (sess_has(s, VIRTIO_BLK_F_SIZE_MAX) && le32toh(s->cfg.size_max) &&
	    (uint64_t)segs * le32toh(s->cfg.size_max) < m)
		m = (uint64_t)segs * le32toh(s->cfg.size_max);
	m &= ~(uint64_t)(s->blk_size - 1);
	return (uint32_t)m;
}

struct sess_req *sess_req_get(struct sess *s)
{
	unsigned start, i;

	if (!s->live || !s->active_slots)
		return NULL;
	start = (unsigned)util_rng_below(&s->rng, s->active_slots);
	for (i = 0; i < s->active_slots; i++) {
		struct sess_req *r = &s->req[(start + i) % s->active_slots];

		if (r->busy)
			continue;
		r->busy = true;
		r->type = 0;
		r->sector = 0;
		r->len = 0;
		r->nranges = 0;
		r->opaque = NULL;
		r->tag = 0;
		r->status = SESS_STATUS_UNSET;
		r->used_len = 0;
		r->nsegs = 0;
		r->queue = r->slot % s->nq;
		r->data_off = (uint32_t)(util_rng_below(&s->rng,
				SESS_DATA_SLACK / s->o.seg_align) *
				s->o.seg_align) % SESS_DATA_SLACK;
		return r;
	}
	return NULL;
}

void sess_req_put(struct sess *s, struct sess_req *r)
{
	r->busy = false;
}

uint8_t *sess_req_data(struct sess *s, struct sess_req *r)
{
	return bufs_slot_va(s->bufs, r->slot) + r->data_off;
}

static uint8_t *sess_slot_ctrl(struct sess *s, unsigned slot, size_t off)
{
	return bufs_ctrl_va(s->bufs, s->slot_ctrl_off +
			    (size_t)slot * SESS_SLOT_CTRL + off);
}

static uint64_t sess_slot_ctrl_iova(struct sess *s, unsigned slot, size_t off)
{
	return bufs_ctrl_iova(s->bufs, s->slot_ctrl_off +
			      (size_t)slot * SESS_SLOT_CTRL + off);
}

struct virtio_blk_discard_write_zeroes *sess_req_ranges(struct sess *s,
							struct sess_req *r)
{
	return (void *)sess_slot_ctrl(s, r->slot, SESS_OFF_RANGES);
}

/*
 * Splits len bytes at iova into at most max segments, at multiples of the
 * alignment, no segment over size_max (0 = no limit). Returns the count.
 */
static unsigned sess_split(struct sess *s, struct dq_seg *seg, uint64_t iova,
			   uint32_t len, unsigned max, bool dev_writes)
{
	uint32_t align = s->o.seg_align, units = len / align, smu = 0;
	unsigned k, i;

	if (sess_has(s, VIRTIO_BLK_F_SIZE_MAX) && le32toh(s->cfg.size_max))
		smu = le32toh(s->cfg.size_max) / align;
	if (max > units)
		max = units;
	if (smu && (units + smu - 1) / smu > max)
		return 0;	/* cannot honour size_max in max segments */
	/* Half the requests in one segment when allowed, the rest split. */
	k = 1;
	if (max > 1 && util_rng_below(&s->rng, 2))
		k = 2 + (unsigned)util_rng_below(&s->rng, max - 1);
	if (smu && k < (units + smu - 1) / smu)
		k = (units + smu - 1) / smu;
	for (i = 0; i < k; i++) {
		uint32_t left = k - 1 - i, lo = 1, hi, n;

		if (left == 0) {
			n = units;
		} else {
			hi = units - left;
			if (smu && units > left * smu)
				lo = units - left * smu;
			if (hi > 2 * units / (left + 1))
				hi = 2 * units / (left + 1);
			if (smu && hi > smu)
				hi = smu;
			if (hi < lo)
				hi = lo;
			n = lo + (uint32_t)util_rng_below(&s->rng, hi - lo + 1);
		}
		seg[i].iova = iova;
		seg[i].len = n * align;
		seg[i].dev_writes = dev_writes;
		iova += seg[i].len;
		units -= n;
	}
	return k;
}

int sess_submit(struct sess *s, struct sess_req *r)
{
	struct dq_seg seg[SESS_MAX_SEGS + 2];
	struct virtio_blk_outhdr *hdr;
	struct dq *q = &s->q[r->queue];
	unsigned n = 0, max;
	uint64_t data_iova;
	bool indirect;
	int ret;

	hdr = (void *)sess_slot_ctrl(s, r->slot, SESS_OFF_HDR);
	hdr->type = htole32(r->type);
	hdr->ioprio = 0;
	hdr->sector = htole64(r->sector);
	*sess_slot_ctrl(s, r->slot, SESS_OFF_STATUS) = SESS_STATUS_UNSET;
	r->status = SESS_STATUS_UNSET;
	seg[n++] = (struct dq_seg){
		.iova = sess_slot_ctrl_iova(s, r->slot, SESS_OFF_HDR),
		.len = sizeof(*hdr),
	};

	indirect = sess_has(s, VIRTIO_RING_F_INDIRECT_DESC) &&
		   util_rng_below(&s->rng, 4) != 0;
	max = SESS_MAX_SEGS;
	if (sess_has(s, VIRTIO_BLK_F_SEG_MAX) && le32toh(s->cfg.seg_max) &&
	    le32toh(s->cfg.seg_max) < max)
		max = le32toh(s->cfg.seg_max);
	if (max > s->qsize - 2)
		max = s->qsize - 2;
	if (!indirect) {
		if (q->num_free < 3)
			return -EAGAIN;
		if (max > q->num_free - 2u)
			max = q->num_free - 2u;
	} else if (q->num_free < 1) {
		return -EAGAIN;
	}

	data_iova = bufs_slot_iova(s->bufs, r->slot) + r->data_off;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->len == 0 || r->len > s->o.max_io) {
			util_err("internal: request of %u bytes", r->len);
			return -EINVAL;
		}
		ret = (int)sess_split(s, seg + n, data_iova, r->len, max,
				      r->type == VIRTIO_BLK_T_IN);
		if (!ret && indirect) {
			util_err("internal: %u bytes do not fit %u segments "
				 "of at most size_max", r->len, max);
			return -EINVAL;
		}
		if (!ret)
			return -EAGAIN;
		n += (unsigned)ret;
		break;
	case VIRTIO_BLK_T_GET_ID:
		seg[n++] = (struct dq_seg){ .iova = data_iova, .len = r->len,
					    .dev_writes = true };
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		seg[n++] = (struct dq_seg){
			.iova = sess_slot_ctrl_iova(s, r->slot, SESS_OFF_RANGES),
			.len = r->nranges *
			       (uint32_t)sizeof(struct virtio_blk_discard_write_zeroes),
		};
		break;
	default:	/* FLUSH and deliberately unknown types: no data */
		break;
	}
	seg[n++] = (struct dq_seg){
		.iova = sess_slot_ctrl_iova(s, r->slot, SESS_OFF_STATUS),
		.len = 1,
		.dev_writes = true,
	};
	if (indirect)
		ret = dq_add(q, seg, n,
			     (void *)sess_slot_ctrl(s, r->slot, SESS_OFF_INDIRECT),
			     sess_slot_ctrl_iova(s, r->slot, SESS_OFF_INDIRECT), r);
	else
		ret = dq_add(q, seg, n, NULL, 0, r);
	if (ret)
		return -EAGAIN;
	r->nsegs = n;
	r->indirect = indirect;
	s->indirect_reqs += indirect;
	s->submitted++;
	ret = dq_publish(q);
	if (ret) {
		util_err("queue %u: kick: %s", q->idx, strerror(-ret));
		return ret;
	}
	return 0;
}

static int sess_check_completion(struct sess *s, struct sess_req *r)
{
	uint32_t min = 1, max = 1;

	r->status = *(volatile uint8_t *)sess_slot_ctrl(s, r->slot,
							SESS_OFF_STATUS);
	if (r->status != VIRTIO_BLK_S_OK && r->status != VIRTIO_BLK_S_IOERR &&
	    r->status != VIRTIO_BLK_S_UNSUPP) {
		util_fail("%s of %u bytes at sector %" PRIu64 " (queue %u): "
			  "status byte 0x%02x (%s)", sess_type_name(r->type),
			  r->len, r->sector, r->queue, r->status,
			  sess_status_name(r->status));
		return -EPROTO;
	}
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID) {
		max = r->len + 1;
		if (r->status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_IN)
			min = max;
	}
	if (r->used_len < min || r->used_len > max) {
		if (s->o.strict_len) {
			util_fail("%s of %u bytes at sector %" PRIu64 " (queue "
				  "%u, status %s): used length %u, want %s%u",
				  sess_type_name(r->type), r->len, r->sector,
				  r->queue, sess_status_name(r->status),
				  r->used_len, min == max ? "" : "at most ", max);
			return -EPROTO;
		}
		util_verbose("%s: used length %u (want %u..%u)",
			     sess_type_name(r->type), r->used_len, min, max);
	}
	if (r->status == VIRTIO_BLK_S_OK) {
		if (r->type == VIRTIO_BLK_T_IN)
			s->bytes_read += r->len;
		else if (r->type == VIRTIO_BLK_T_OUT)
			s->bytes_written += r->len;
	}
	return 0;
}

static int sess_drain(struct sess *s, sess_req_fn *done, void *arg)
{
	char why[160];
	unsigned i;
	int n = 0, ret;

	for (i = 0; i < s->nq; i++) {
		void *cookie;
		uint32_t len;

		while ((ret = dq_get_used(&s->q[i], &cookie, &len, why,
					  sizeof(why))) == 1) {
			struct sess_req *r = cookie;

			r->used_len = len;
			ret = sess_check_completion(s, r);
			if (ret)
				return ret;
			s->completed++;
			n++;
			done(s, r, arg);
			r->busy = false;
		}
		if (ret < 0) {
			util_fail("device broke the used ring: %s%s", why,
				  s->setups > 1 ? " (the device was reset "
				  "before: a request from before the reset "
				  "completing now looks like this)" : "");
			return ret;
		}
	}
	return n;
}

static void sess_dump_rings(struct sess *s)
{
	unsigned i;

	for (i = 0; i < s->nq; i++) {
		struct dq *q = &s->q[i];

		util_err("queue %u: avail idx %u, used idx %u (consumed %u), "
			 "%u in flight, used flags 0x%x, avail_event %u, "
			 "kicks %" PRIu64 " (+%" PRIu64 " suppressed)", i,
			 q->avail_idx, le16toh(q->vr.used->idx), q->last_used,
			 dq_in_flight(q), le16toh(q->vr.used->flags),
			 q->event_idx ? le16toh(vring_avail_event(&q->vr)) : 0,
			 q->kicks, q->kicks_suppressed);
	}
}

int sess_poll(struct sess *s, sess_req_fn *done, void *arg)
{
	int64_t deadline = util_now_ms() + s->o.timeout_ms;
	struct pollfd pfd[SESS_MAX_QUEUES];
	unsigned i;
	int n;

	for (;;) {
		n = sess_drain(s, done, arg);
		if (n)
			return n;
		if (!sess_in_flight(s))
			return 0;
		for (i = 0; i < s->nq; i++)
			dq_want_interrupt(&s->q[i]);
		n = sess_drain(s, done, arg);
		if (n)
			return n;
		int64_t left = deadline - util_now_ms();

		if (left <= 0)
			break;
		for (i = 0; i < s->nq; i++)
			pfd[i] = (struct pollfd){ .fd = s->callfd[i],
						  .events = POLLIN };
		n = poll(pfd, s->nq, left < SESS_POLL_SLICE_MS ? (int)left :
							     SESS_POLL_SLICE_MS);
		if (n < 0 && errno != EINTR) {
			util_err("poll: %s", strerror(errno));
			return -errno;
		}
		if (n > 0) {
			for (i = 0; i < s->nq; i++) {
				uint64_t v;

				if ((pfd[i].revents & POLLIN) &&
				    read(s->callfd[i], &v, sizeof(v)) == sizeof(v))
					s->irqs++;
			}
		} else if (n == 0) {
			for (i = 0; i < s->nq; i++)
				if (dq_has_used(&s->q[i]))
					s->missed_irqs++;
		}
	}
	util_fail("no completion within %d ms with %u requests in flight",
		  s->o.timeout_ms, sess_in_flight(s));
	sess_dump_rings(s);
	return -ETIMEDOUT;
}
