/* SPDX-License-Identifier: MIT */
/*
 * modes.h - the subcommands of vhost-blk-test. Each returns an exit code
 * (VBT_EXIT_*), having printed what it did and, on failure, why.
 */
#ifndef VBT_MODES_H
#define VBT_MODES_H

#include <stdbool.h>
#include <stdint.h>

#include "sess.h"

struct mode_args {
	const char *path;	/* /dev/vhost-vdpa-N */
	const char *file;	/* read-file / write-file */
	struct sess_opts so;
	uint64_t seed;
	uint64_t offset, size;	/* bytes; size 0 = default */
	bool size_given;
	uint64_t ops;		/* mixed ops per phase; 0 = from the size */
	unsigned rounds;
	bool inflight;		/* reset with requests in flight */
	bool quiesce;		/* remap only while no request is in flight */
	uint64_t feature_mask;	/* features the user allows */
};

int mode_info(struct mode_args *a);
int mode_verify(struct mode_args *a);
int mode_fill(struct mode_args *a);
int mode_check(struct mode_args *a);
int mode_remap(struct mode_args *a);
int mode_reset(struct mode_args *a);
int mode_write_file(struct mode_args *a);
int mode_read_file(struct mode_args *a);

#endif
