/* SPDX-License-Identifier: MIT */
/* Walking iovec arrays: positions, copies (iov.h; the total is inline there). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "iov.h"

int nb_iov_advance(const struct iovec *iov, int iovcnt,
		   struct nb_iov_pos *pos, uint64_t n)
{
	struct nb_iov_pos p = *pos;

	for (;;) {
		size_t left;

		/* Normalise: skip finished and empty segments. */
		while (p.idx < iovcnt && p.off >= iov[p.idx].iov_len) {
			p.idx++;
			p.off = 0;
		}
		if (n == 0)
			break;
		if (p.idx >= iovcnt)
			return -EINVAL;
		left = iov[p.idx].iov_len - p.off;
		if (n < left) {
			p.off += n;
			n = 0;
		} else {
			n -= left;
			p.idx++;
			p.off = 0;
		}
	}
	*pos = p;
	return 0;
}

static size_t nb_iov_copy(const struct iovec *iov, int iovcnt, size_t offset,
			  uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		uint8_t *seg = iov[i].iov_base;
		size_t n;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - offset;
		if (n > len - done)
			n = len - done;
		if (to_iov)
			memcpy(seg + offset, buf + done, n);
		else
			memcpy(buf + done, seg + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t nb_iov_to_buf(const struct iovec *iov, int iovcnt, size_t offset,
		     void *buf, size_t len)
{
	return nb_iov_copy(iov, iovcnt, offset, buf, len, false);
}

size_t nb_iov_from_buf(const struct iovec *iov, int iovcnt, size_t offset,
		       const void *buf, size_t len)
{
	return nb_iov_copy(iov, iovcnt, offset, (uint8_t *)buf, len, true);
}
