/* SPDX-License-Identifier: MIT */
/*
 * Walking iovec arrays (struct iovec, <sys/uio.h>): their total length, a
 * position that moves forward, and copies to and from a flat buffer.
 * Nothing here allocates or keeps a pointer; empty segments are allowed
 * anywhere.
 */
#ifndef NETBLK_IOV_H
#define NETBLK_IOV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A position inside an iovec array: segment idx, byte off in it. */
struct nb_iov_pos {
	int idx;
	size_t off;
};

/* Sum of the segment lengths (saturates at SIZE_MAX). Inline: the
 * engine checks every io with it. */
static inline size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/*
 * Move pos forward by n bytes. Returns 0, or -EINVAL when fewer than n
 * bytes remain after pos (pos is then left unchanged). A position at the
 * end of a segment is normalised to the start of the next non-empty one
 * (n == 0 only normalises).
 */
int nb_iov_advance(const struct iovec *iov, int iovcnt,
		   struct nb_iov_pos *pos, uint64_t n);

/*
 * Copy up to len bytes between the array, from byte offset of it on, and
 * buf. Return the bytes copied: less than len when the array ends first.
 */
size_t nb_iov_to_buf(const struct iovec *iov, int iovcnt, size_t offset,
		     void *buf, size_t len);
size_t nb_iov_from_buf(const struct iovec *iov, int iovcnt, size_t offset,
		       const void *buf, size_t len);

#endif
