/* SPDX-License-Identifier: MIT */
/*
 * work.h - workloads over a session, checked against a model of what every
 * sector of the test range must hold.
 *
 * The model keeps, per 512-byte sector, the generation last written
 * (WORK_ZERO after write-zeroes, WORK_UNKNOWN before we wrote it) and an
 * alternative that is also acceptable (after a discard: zeroes; after a
 * request lost in a reset: the content it would have written). Every read
 * compares every byte; the first mismatches are reported with the sector,
 * the byte, what the sector holds and what was expected.
 *
 * work_run() keeps the device busy with ops from a generator: several in
 * flight on every queue, never two overlapping, calling the tick hook after
 * each batch of completions (remap and reset modes act from there).
 */
#ifndef VBT_WORK_H
#define VBT_WORK_H

#include <stdbool.h>
#include <stdint.h>

#include "sess.h"
#include "util.h"

#define WORK_UNKNOWN 0u
#define WORK_ZERO 0xffffffffu
#define WORK_NONE 0xfffffffeu
#define WORK_MAX_REPORTS 5

enum work_expect {
	WORK_EXPECT_OK,
	WORK_EXPECT_IOERR,
	WORK_EXPECT_UNSUPP,
	WORK_EXPECT_OK_OR_UNSUPP,
};

struct work_range {
	uint64_t sector;	/* absolute */
	uint32_t nsect;
};

struct work_op {
	uint32_t type;
	unsigned nranges;	/* 1 for read/write; 0 for flush */
	struct work_range r[SESS_MAX_RANGES];
	uint32_t gen;		/* writes */
	bool unmap;		/* write-zeroes flag */
	bool edge;		/* outside the model (error checks) */
	enum work_expect expect;
};

struct work_sector {
	uint32_t gen;
	uint32_t alt;
};

struct work;
typedef bool work_gen_fn(struct work *w, struct work_op *op, void *arg);
typedef int work_tick_fn(struct work *w, void *arg);

struct work {
	struct sess *s;
	uint64_t seed;
	uint64_t first, nsect;	/* the test range, in sectors */
	struct work_sector *model;
	uint8_t *busy;
	struct work_op *inflight;	/* per slot */
	uint32_t next_gen;
	uint32_t fixed_gen;	/* non-zero: every write uses this generation */
	struct util_rng rng;
	work_tick_fn *tick;
	void *tick_arg;
	bool hold;		/* tick asks: submit nothing new */
	int failures;
	/* Statistics. */
	uint64_t ops[16];	/* by VIRTIO_BLK_T_* (IN..WRITE_ZEROES) */
	uint64_t sectors_checked, discard_zeroed, discard_kept, lost;
};

/* Range in bytes; both multiples of the device's block size. */
int work_init(struct work *w, struct sess *s, uint64_t seed,
	      uint64_t offset, uint64_t size);
void work_fini(struct work *w);

/*
 * Runs ops from gen until it returns false and all completed. Returns 0,
 * or -1 after a failed check or device error (already reported).
 */
int work_run(struct work *w, work_gen_fn *gen, void *arg);

/* Hands a request lost in a reset back to the model (sess_req_fn). */
void work_lost(struct sess *s, struct sess_req *r, void *arg);

/* Ready-made generators. */
struct work_cover {
	uint32_t type;		/* VIRTIO_BLK_T_IN or _OUT */
	uint64_t cur, end;	/* absolute sectors */
	uint32_t gen;
};
/* Covers [first, first + nsect) with reads or writes of random sizes. */
void work_cover_init(struct work *w, struct work_cover *c, uint32_t type,
		     uint64_t first, uint64_t nsect);
work_gen_fn work_cover_next;

struct work_mixed {
	uint64_t left;		/* ops still to generate */
	unsigned pct_discard, pct_zeroes, pct_flush, pct_write;
};
/* Random reads, writes, flushes, discards, write-zeroes over the range. */
void work_mixed_init(struct work *w, struct work_mixed *m, uint64_t ops);
work_gen_fn work_mixed_next;

/* One discard or write-zeroes op of random ranges; false if unsupported. */
bool work_make_trim(struct work *w, struct work_op *op, uint32_t type);

/* Reads the whole range and checks it. */
int work_check_all(struct work *w);

/* Status and error-path checks outside the test range. */
int work_edge_checks(struct work *w);

void work_print_stats(const struct work *w);

#endif
