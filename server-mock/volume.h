/* SPDX-License-Identifier: MIT */
/*
 * Storage of one volume: an anonymous private mapping (memory volumes,
 * untouched pages cost nothing) or a sparse file. Several processes given
 * the same file see one shared disk. Offsets and lengths are bytes and
 * must lie inside the volume (the caller checks); no alignment needed.
 */
#ifndef NETBLK_MOCK_VOLUME_H
#define NETBLK_MOCK_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"

struct mock_volume {
	char name[RPC_NAME_MAX + 1];
	uint64_t size;
	uint32_t block_size;
	bool read_only;
	uint32_t max_discard;
	uint32_t max_write_zeroes;
	int fd;            /* file volumes; -1 for memory */
	char *path;        /* file volumes */
	uint8_t *mem;      /* memory volumes */
	size_t mem_len;
};

/* Valid volume name: 1..RPC_NAME_MAX of [A-Za-z0-9._-], not "." or "..". */
bool mock_volume_name_valid(const char *name);

/*
 * Constructors return NULL with errno set. size must be a non-zero
 * multiple of block_size (EINVAL). A file is created when missing and
 * extended with ftruncate when shorter than size; with exclusive it must
 * not exist yet (EEXIST).
 */
struct mock_volume *mock_volume_new_memory(const char *name, uint64_t size,
					   uint32_t block_size, bool read_only);
struct mock_volume *mock_volume_new_file(const char *name, const char *path,
					 uint64_t size, uint32_t block_size,
					 bool read_only, bool exclusive);
void mock_volume_free(struct mock_volume *vol);

/* Data operations: 0 or -errno. */
int mock_volume_read(struct mock_volume *vol, void *buf, uint64_t len,
		     uint64_t off);
int mock_volume_write(struct mock_volume *vol, const void *buf, uint64_t len,
		      uint64_t off);
int mock_volume_flush(struct mock_volume *vol);
/* The range reads back as zeroes afterwards in this mock. */
int mock_volume_discard(struct mock_volume *vol, uint64_t off, uint64_t len);
int mock_volume_write_zeroes(struct mock_volume *vol, uint64_t off,
			     uint64_t len, bool unmap);
/* Grow to new_size (a multiple of block_size); -EINVAL to shrink. */
int mock_volume_resize(struct mock_volume *vol, uint64_t new_size);

void mock_volume_info(const struct mock_volume *vol, struct rpc_volume_info *out);

#endif
