/* SPDX-License-Identifier: MIT */
/* The daemon's state file, shared with its successor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "state.h"

#define STATE_MAGIC   "NBLKSTAT"
#define STATE_VERSION 1

/* The queues' logs start at the same place in every file of version 1,
 * whatever fields the header gained in its padding. */
_Static_assert(((sizeof(struct state_header) + 63) & ~(size_t)63) == 320,
	       "the state header outgrew its version 1 layout");

static size_t state_size(uint32_t num_queues)
{
	/* keep the logs aligned after the header */
	size_t hdr = (sizeof(struct state_header) + 63) & ~(size_t)63;

	return hdr + (size_t)num_queues * sizeof(struct vq_log);
}

static int state_map(struct state *st, uint32_t num_queues, bool create)
{
	void *p;

	st->len = state_size(num_queues);
	if (create && ftruncate(st->fd, st->len) < 0)
		return -errno;
	p = mmap(NULL, st->len, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	st->hdr = p;
	st->queues = (struct vq_log *)((char *)p + state_size(0));
	return 0;
}

int nb_state_create(struct state *st, const char *dir, const char *name,
		 const char *volume, uint32_t num_queues, uint32_t queue_size,
		 char *err, size_t errlen)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return nb_errf(err, errlen, -errno,
			       "cannot make state directory %s: %s", dir,
			       strerror(errno));
	snprintf(st->path, sizeof(st->path), "%s/%s.state", dir, name);
	st->fd = open(st->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
		      O_NOFOLLOW, 0600);
	if (st->fd < 0)
		return nb_errf(err, errlen, -errno,
			       "cannot create state file %s: %s", st->path,
			       strerror(errno));
	ret = state_map(st, num_queues, true);
	if (ret < 0) {
		nb_state_close(st, true);
		return nb_errf(err, errlen, ret, "cannot map %s: %s",
			       st->path, strerror(-ret));
	}
	memcpy(st->hdr->magic, STATE_MAGIC, sizeof(st->hdr->magic));
	st->hdr->version = STATE_VERSION;
	st->hdr->num_queues = num_queues;
	st->hdr->queue_size = queue_size;
	snprintf(st->hdr->volume, sizeof(st->hdr->volume), "%s", volume);
	return 0;
}

int nb_state_open(struct state *st, const char *dir, const char *name,
	       char *err, size_t errlen)
{
	struct state_header hdr;
	struct stat sb;
	int ret;

	memset(st, 0, sizeof(*st));
	snprintf(st->path, sizeof(st->path), "%s/%s.state", dir, name);
	st->fd = open(st->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (st->fd < 0)
		return nb_errf(err, errlen, -errno, "cannot open %s: %s",
			       st->path, strerror(errno));
	if (fstat(st->fd, &sb) < 0 ||
	    pread(st->fd, &hdr, sizeof(hdr), 0) != sizeof(hdr) ||
	    memcmp(hdr.magic, STATE_MAGIC, sizeof(hdr.magic)) ||
	    hdr.version != STATE_VERSION || hdr.num_queues == 0 ||
	    hdr.num_queues > 1024 || hdr.queue_size == 0 ||
	    hdr.queue_size > VQ_MAX_SIZE ||
	    (size_t)sb.st_size != state_size(hdr.num_queues) ||
	    !memchr(hdr.volume, '\0', sizeof(hdr.volume))) {
		nb_state_close(st, false);
		return nb_errf(err, errlen, -EINVAL,
			       "%s is not a vduse-netblk state file of "
			       "this version", st->path);
	}
	ret = state_map(st, hdr.num_queues, false);
	if (ret < 0) {
		nb_state_close(st, false);
		return nb_errf(err, errlen, ret, "cannot map %s: %s",
			       st->path, strerror(-ret));
	}
	return 0;
}

void nb_state_close(struct state *st, bool remove)
{
	if (st->hdr)
		munmap(st->hdr, st->len);
	st->hdr = NULL;
	st->queues = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	if (remove && st->path[0])
		unlink(st->path);
}
