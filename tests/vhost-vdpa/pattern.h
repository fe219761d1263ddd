/* SPDX-License-Identifier: MIT */
/*
 * pattern.h - the seeded data pattern vhost-blk-test writes.
 *
 * Every 512-byte sector written with generation G (G >= 1) holds a header
 * naming itself (magic, sector number, G, seed) followed by bytes drawn
 * from a generator keyed by (seed, sector, G). A sector read back can thus
 * be recognised: the expected content, zeroes, poison from our own buffer
 * (the device never wrote it), or the pattern of another sector or an
 * older generation (stale or misplaced data).
 */
#ifndef VBT_PATTERN_H
#define VBT_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAT_SECTOR 512

/* Fills nsect sectors starting at sector with generation gen. */
void pat_fill(uint8_t *buf, uint64_t seed, uint64_t sector, uint32_t nsect,
	      uint32_t gen);

/*
 * Compares one sector with the pattern of (sector, gen); gen 0 means
 * zeroes. Returns -1 if equal, else the offset of the first differing byte.
 */
int pat_compare(const uint8_t *buf, uint64_t seed, uint64_t sector,
		uint32_t gen);

/* Says in words what a sector holds. */
const char *pat_describe(const uint8_t *buf, uint64_t seed, char *out,
			 size_t len);

#endif
