/* SPDX-License-Identifier: MIT */
/* virtio-blk device logic over virtqueue chains: parse, validate, complete.
 *
 * Pure: no event loop, no network.  Requests go to a backend through
 * `struct blk_backend_ops` (the daemon binds it to the cluster engine,
 * tests to plain memory).  This is the only layer that turns errors into
 * VIRTIO_BLK_S_* status bytes.
 *
 * Request life:
 *   nb_blk_queue_process() pops chains; each one is checked; a bad one is
 *   completed at once (IOERR/UNSUPP in its status byte, or, when no status
 *   byte can be written, used length 0 and nb_vq_set_needs_reset());
 *   a good READ/WRITE/FLUSH/DISCARD/WRITE_ZEROES goes to backend->submit();
 *   GET_ID is answered here.  The backend finishes with nb_blk_complete(req,
 *   0 or -errno) exactly once, from any depth (also from inside submit()).
 *   nb_blk_complete() writes the status byte, pushes the used element with the
 *   number of bytes written and frees the request.  Interrupts are batched:
 *   nb_blk_queue_process() ends with nb_vq_notify_batch(); after completing
 *   requests outside it, the owner calls nb_vq_notify_batch() once per loop
 *   iteration (e.g. after handling network replies).
 *
 * Threading: a blk_dev may serve several queues, each owned by one thread;
 * blk_dev itself is read-only after nb_blk_dev_set_features().
 */
#ifndef NETBLK_BLK_H
#define NETBLK_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "vq.h"

/* Volume parameters the device is built from. */
struct blk_params {
	uint64_t size_bytes;		/* capacity; rounded down to 512 */
	uint32_t block_size;		/* logical block size: 512..65536, power of 2 */
	bool read_only;
	uint64_t max_discard_bytes;	/* 0: no DISCARD */
	uint64_t max_write_zeroes_bytes;/* 0: no WRITE_ZEROES */
	uint32_t max_discard_seg;	/* 0 means 1 */
	uint32_t max_write_zeroes_seg;	/* 0 means 1 */
	uint16_t num_queues;		/* >= 1 */
	uint32_t queue_size;		/* power of two, 4..VQ_MAX_SIZE */
	uint32_t max_segment_bytes;	/* size_max; 0 means 1 MiB */
	char serial[VIRTIO_BLK_ID_BYTES]; /* GET_ID answer, NUL padded */
};

/* Fill @cfg (little-endian) and the device feature set from @p.
 * 0, or -EINVAL naming nothing: the caller validated @p with
 * nb_blk_params_check() first for a message. */
int nb_blk_config_build(const struct blk_params *p, struct virtio_blk_config *cfg,
		     uint64_t *features);
/* NULL if @p is usable, else static text saying what is wrong. */
const char *nb_blk_params_check(const struct blk_params *p);

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
	BLK_OP_MAX
};

/* blk_req.flags */
#define BLK_REQ_F_UNMAP 1u	/* WRITE_ZEROES may deallocate */

struct blk_range {
	uint64_t offset;	/* bytes */
	uint64_t length;	/* bytes */
	uint32_t flags;		/* BLK_REQ_F_* */
};

struct blk_dev;

/* One guest request, as the backend sees it.  Owned by the blk layer;
 * valid from submit() until the backend calls nb_blk_complete().  For
 * DISCARD/WRITE_ZEROES with several segments the backend sees one submit()
 * per segment, in order, each followed by its own nb_blk_complete(). */
struct blk_req {
	struct vq_elem elem;	/* first: allocated by nb_vq_pop() */
	struct blk_dev *dev;
	struct vq *vq;
	enum blk_op op;
	uint64_t offset;	/* bytes; 0 for FLUSH */
	uint64_t length;	/* bytes; 0 for FLUSH */
	uint32_t flags;		/* BLK_REQ_F_*; there is no FUA in virtio-blk */
	struct iovec *iov;	/* READ: guest memory to fill; WRITE: to send */
	unsigned int iov_cnt;
	void *backend_priv;	/* free for the backend's use */

	/* private */
	uint32_t written;	/* bytes written to writable buffers */
	uint8_t *status;
	struct blk_range *ranges;
	unsigned int nr_ranges;
	unsigned int cur_range;
	int result;
	bool in_submit;
	bool done_in_submit;
};

#define BLK_TYPE_UNKNOWN UINT32_MAX

struct blk_backend_ops {
	/* Start @req.  0: accepted, nb_blk_complete() will be called exactly once
	 * (possibly before submit returns).  -errno: refused, the request is
	 * failed by the caller; nb_blk_complete() must not be called. */
	int (*submit)(void *opaque, struct blk_req *req);
	/* Optional: a request was rejected before reaching the backend; @why
	 * names the reason, @type is the request type or BLK_TYPE_UNKNOWN when
	 * the chain was unreadable.  For the daemon to log (rate-limited) with
	 * the device name; tests check the text. */
	void (*bad_request)(void *opaque, unsigned int queue, uint16_t head,
			    uint32_t type, const char *why);
};

/* NULL with errno (EINVAL if nb_blk_params_check() fails). */
struct blk_dev *nb_blk_dev_new(const struct blk_params *p,
			    const struct blk_backend_ops *ops, void *opaque);
void nb_blk_dev_free(struct blk_dev *dev);
/* Record what the driver accepted (DISCARD/WRITE_ZEROES are refused with
 * UNSUPP unless negotiated).  -EINVAL if it asks for features we did not
 * offer. */
int nb_blk_dev_set_features(struct blk_dev *dev, uint64_t driver_features);
uint64_t nb_blk_dev_capacity_sectors(const struct blk_dev *dev);
/* The volume was resized: requests are checked against the new size
 * (rounded down to 512) from now on. The caller tells the driver. */
void nb_blk_dev_set_size(struct blk_dev *dev, uint64_t size_bytes);

/* Pop and start at most @budget requests from @vq, then batch-notify.
 * Returns the number popped (== @budget: more may be waiting, reschedule),
 * or -errno from nb_vq_pop() (-ENXIO not ready, -EIO ring broken). */
int nb_blk_queue_process(struct blk_dev *dev, struct vq *vq, unsigned int budget);

/* Start again request @head, popped by a process that died before it
 * completed (see nb_vq_recover()). 0 or -errno from nb_vq_pop_head(). */
int nb_blk_queue_resubmit(struct blk_dev *dev, struct vq *vq, uint16_t head);

/* Backend's completion: @err 0 or -errno (-EOPNOTSUPP -> UNSUPP, others ->
 * IOERR).  Frees @req (unless more segments follow). */
void nb_blk_complete(struct blk_req *req, int err);

const char *nb_blk_op_name(enum blk_op op);

#endif
