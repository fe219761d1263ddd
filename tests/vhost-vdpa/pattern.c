// SPDX-License-Identifier: MIT
/* pattern.c - seeded, self-describing sector contents. */
#include "pattern.h"
#include "bufs.h"
#include "util.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PAT_MAGIC 0x3154544150544256ULL	/* "VBTPATT1" */

struct pat_hdr {
	uint64_t magic;
	uint64_t sector;
	uint32_t gen;
	uint32_t seed;
};

static void pat_sector(uint8_t *p, uint64_t seed, uint64_t sector,
		       uint32_t gen)
{
	struct pat_hdr h = {
		.magic = htole64(PAT_MAGIC),
		.sector = htole64(sector),
		.gen = htole32(gen),
		.seed = htole32((uint32_t)seed),
	};
	struct util_rng rng;
	size_t off;

	if (gen == 0) {
		memset(p, 0, PAT_SECTOR);
		return;
	}
	memcpy(p, &h, sizeof(h));
	util_rng_seed(&rng, util_mix(seed, sector, gen));
	for (off = sizeof(h); off < PAT_SECTOR; off += 8) {
		uint64_t v = htole64(util_rng_next(&rng));

		memcpy(p + off, &v, 8);
	}
}

void pat_fill(uint8_t *buf, uint64_t seed, uint64_t sector, uint32_t nsect,
	      uint32_t gen)
{
	uint32_t i;

	for (i = 0; i < nsect; i++)
		pat_sector(buf + (size_t)i * PAT_SECTOR, seed, sector + i, gen);
}

int pat_compare(const uint8_t *buf, uint64_t seed, uint64_t sector,
		uint32_t gen)
{
	uint8_t want[PAT_SECTOR];
	int i;

	pat_sector(want, seed, sector, gen);
	if (!memcmp(buf, want, PAT_SECTOR))
		return -1;
	for (i = 0; i < PAT_SECTOR; i++)
		if (buf[i] != want[i])
			return i;
	return -1;
}

static bool pat_all(const uint8_t *buf, uint8_t v)
{
	int i;

	for (i = 0; i < PAT_SECTOR; i++)
		if (buf[i] != v)
			return false;
	return true;
}

const char *pat_describe(const uint8_t *buf, uint64_t seed, char *out,
			 size_t len)
{
	struct pat_hdr h;

	if (pat_all(buf, 0)) {
		snprintf(out, len, "zeroes");
		return out;
	}
	if (pat_all(buf, BUFS_POISON)) {
		snprintf(out, len, "0x%02x poison (the device wrote nothing "
			 "into this sector of the buffer)", BUFS_POISON);
		return out;
	}
	memcpy(&h, buf, sizeof(h));
	if (le64toh(h.magic) == PAT_MAGIC) {
		uint64_t sec = le64toh(h.sector);
		uint32_t gen = le32toh(h.gen);
		int diff = pat_compare(buf, seed, sec, gen);

		snprintf(out, len, "the pattern of sector %" PRIu64
			 " generation %u seed 0x%x%s", sec, gen,
			 le32toh(h.seed), diff < 0 ? "" : " (but damaged)");
		return out;
	}
	snprintf(out, len, "unrecognised bytes %02x %02x %02x %02x %02x %02x "
		 "%02x %02x ...", buf[0], buf[1], buf[2], buf[3], buf[4],
		 buf[5], buf[6], buf[7]);
	return out;
}
