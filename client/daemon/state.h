/* SPDX-License-Identifier: MIT */
/*
 * The daemon's state file: what a new vduse-netblk needs to take over a
 * VDUSE device whose daemon died or left on purpose (SIGUSR1): the volume
 * it serves, the queue geometry, the writer lock generation it holds,
 * and each queue's in-flight log (struct vq_log, written on every pop and
 * push by the data path).
 *
 * The file, DIR/NAME.state (DIR = /run/vduse-netblk by default), is mapped
 * MAP_SHARED so every store survives the process; it lives in tmpfs, so it
 * does not survive a reboot, and neither does the device.
 */
#ifndef NETBLK_STATE_H
#define NETBLK_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#define STATE_DEFAULT_DIR "/run/vduse-netblk"
#define STATE_VOLUME_MAX  255

struct state_header {
	char magic[8];             /* "NBLKSTAT" */
	uint32_t version;          /* 1 */
	uint32_t num_queues;
	uint32_t queue_size;
	uint32_t reserved;
	char volume[STATE_VOLUME_MAX + 1];
	/* The writer lock generation the daemon holds (0: none, a map of
	 * several stores, each its own lock and generation, or a file of a
	 * daemon older than the lock: its padding reads as 0). */
	uint64_t lock_generation;
};

struct state {
	char path[4096];
	int fd;
	size_t len;
	struct state_header *hdr;  /* the mapping */
	struct vq_log *queues;     /* num_queues logs after the header */
};

/*
 * Create (or truncate) DIR/NAME.state for a new device. The directory is
 * made if missing. 0 or -errno with a message in err.
 */
int nb_state_create(struct state *st, const char *dir, const char *name,
		 const char *volume, uint32_t num_queues, uint32_t queue_size,
		 char *err, size_t errlen);

/*
 * Open the state file of an existing device. -ENOENT when there is none;
 * -EINVAL (with a message) when it is not a valid state file.
 */
int nb_state_open(struct state *st, const char *dir, const char *name,
	       char *err, size_t errlen);

/* Unmap and close; with remove, also delete the file. */
void nb_state_close(struct state *st, bool remove);

#endif
