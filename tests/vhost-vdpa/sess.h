/* SPDX-License-Identifier: MIT */
/*
 * sess.h - a virtio-blk driver session over one /dev/vhost-vdpa-N: feature
 * negotiation, status handshake, queue setup, request submission and
 * completion, reset.
 *
 *   sess_open()   open the device, read what it offers, allocate memory
 *   sess_setup()  reset, negotiate (offered & wanted & mask), map memory,
 *                 set up the queues, DRIVER_OK
 *   sess_req_get() / sess_submit() / sess_poll()   asynchronous I/O
 *   sess_reset()  status 0; requests in flight are handed back as lost
 *   sess_close()
 *
 * A request lives in a slot; each slot has a data buffer (bufs.h) and a
 * control page for its header, status byte, discard ranges and indirect
 * table. sess_poll() validates every completion (descriptor id, status
 * byte written and known, used length) before handing it to the caller;
 * a device that breaks the protocol makes it fail with -EPROTO after
 * printing what it did.
 */
#ifndef VBT_SESS_H
#define VBT_SESS_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "bufs.h"
#include "dq.h"
#include "util.h"
#include "vhd.h"

#define SESS_MAX_QUEUES 8
#define SESS_MAX_SEGS 64	/* data segments per request */
#define SESS_MAX_RANGES 16	/* discard / write-zeroes segments */
#define SESS_STATUS_UNSET 0xff	/* status byte before the device writes */

/* Features the tool knows how to drive. */
#define SESS_KNOWN_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_BLK_F_FLUSH) | \
	 (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) | \
	 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_SEG_MAX) | \
	 (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_MQ) | \
	 (1ULL << VIRTIO_BLK_F_RO) | (1ULL << VIRTIO_BLK_F_TOPOLOGY))

struct sess_opts {
	unsigned queues;	/* 0 = as many as the device has (max 8) */
	unsigned queue_size;	/* ring entries, power of two */
	unsigned depth;		/* requests in flight per queue */
	uint32_t max_io;	/* bytes per read/write request */
	uint32_t seg_align;	/* data segments split at multiples of this */
	int timeout_ms;		/* longest wait without any completion */
	bool batch;		/* use IOTLB batching when offered */
	bool strict_len;	/* used length must be exact */
	uint64_t seed;
};

struct sess_req {
	/* Filled by the caller before sess_submit(). */
	uint32_t type;		/* VIRTIO_BLK_T_* */
	uint64_t sector;
	uint32_t len;		/* data bytes (IN, OUT, GET_ID) */
	unsigned nranges;	/* DISCARD, WRITE_ZEROES: ranges in use */
	void *opaque;		/* caller's */
	uint64_t tag;		/* caller's */
	/* Results. */
	uint8_t status;
	uint32_t used_len;
	/* Internal. */
	unsigned slot, queue, nsegs;
	uint32_t data_off;
	bool busy, indirect;
};

struct sess {
	struct sess_opts o;
	struct vhd dev;
	struct bufs *bufs;
	uint64_t offered;	/* device features */
	uint64_t features;	/* negotiated in the current setup */
	bool live;		/* DRIVER_OK set */
	struct virtio_blk_config cfg;
	uint32_t cfg_size;
	uint64_t capacity;	/* 512-byte sectors */
	uint32_t blk_size;
	uint16_t vring_num_max;
	uint32_t vqs_count;	/* from VHOST_VDPA_GET_VQS_COUNT, 0 = unknown */
	unsigned max_queues;	/* what the device offers, capped */
	unsigned nq;		/* queues in the current setup */
	unsigned qsize;		/* entries per queue in the current setup */
	struct dq q[SESS_MAX_QUEUES];
	int kickfd[SESS_MAX_QUEUES], callfd[SESS_MAX_QUEUES];
	unsigned nslots;	/* allocated */
	unsigned active_slots;	/* nq * depth in the current setup */
	struct sess_req *req;
	size_t ring_off;	/* control region layout */
	size_t ring_stride;
	size_t slot_ctrl_off;
	struct util_rng rng;
	unsigned setups;
	/* Statistics. */
	uint64_t submitted, completed, irqs, missed_irqs, indirect_reqs;
	uint64_t bytes_read, bytes_written;
};

/* Opens PATH and reads what the device offers; allocates the memory. */
int sess_open(struct sess *s, const char *path, const struct sess_opts *o);
void sess_close(struct sess *s);

/*
 * Resets the device, negotiates offered & SESS_KNOWN_FEATURES & mask, maps
 * the memory if unmapped, sets up min(nq_want, device) queues (0 = all) of
 * qsize entries (0 = the option) and sets DRIVER_OK.
 */
int sess_setup(struct sess *s, uint64_t mask, unsigned nq_want,
	       unsigned qsize);

typedef void sess_req_fn(struct sess *s, struct sess_req *r, void *arg);

/*
 * Writes status 0 and checks that it reads back 0. Requests in flight are
 * passed to lost (may be NULL) and their slots freed. With unmap, the
 * IOTLB mappings are invalidated too (sess_setup maps them again).
 */
int sess_reset(struct sess *s, bool unmap, sess_req_fn *lost, void *arg);

bool sess_has(const struct sess *s, unsigned feature);
bool sess_offers(const struct sess *s, unsigned feature);

/*
 * An idle slot's request (fields reset, status SESS_STATUS_UNSET), or NULL
 * when every slot of the current setup is busy. The slot is reserved until
 * sess_submit() succeeds and the request completes, or sess_req_put().
 */
struct sess_req *sess_req_get(struct sess *s);
void sess_req_put(struct sess *s, struct sess_req *r);
uint8_t *sess_req_data(struct sess *s, struct sess_req *r);
struct virtio_blk_discard_write_zeroes *sess_req_ranges(struct sess *s,
							struct sess_req *r);
/* Largest data length a request may have. */
uint32_t sess_max_io(const struct sess *s);

/* 0, -EAGAIN (ring full: poll, then retry), or -errno. */
int sess_submit(struct sess *s, struct sess_req *r);

/*
 * Collects completions, calling done for each (the slot is free again
 * after done returns). Waits up to the option's timeout for the first one
 * when none is ready. Returns how many completed, 0 if nothing was in
 * flight, -ETIMEDOUT (after printing the rings' state) or -EPROTO.
 */
int sess_poll(struct sess *s, sess_req_fn *done, void *arg);

unsigned sess_in_flight(const struct sess *s);
unsigned sess_idle_slots(const struct sess *s);

/* Name of a VIRTIO_BLK_T_* type / VIRTIO_BLK_S_* status. */
const char *sess_type_name(uint32_t type);
const char *sess_status_name(uint8_t status);
/* Writes the negotiated/offered feature names into buf. */
const char *sess_feature_names(uint64_t f, char *buf, size_t len);

#endif
