/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers of vhost-blk-test: messages, a seeded PRNG,
 * monotonic time and size parsing.
 *
 * Messages go to stderr prefixed with the program name; util_verbose()
 * lines only with --verbose. util_fail() messages describe a failed
 * check and are what a test log shows when the tool exits 1.
 */
#ifndef VBT_UTIL_H
#define VBT_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Exit codes of the tool. */
enum {
	VBT_EXIT_OK = 0,
	VBT_EXIT_FAIL = 1,	/* a check failed or the device misbehaved */
	VBT_EXIT_USAGE = 2,
};

extern bool util_verbose_on;

void util_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void util_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void util_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void util_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xorshift64* generator; never seeded with 0 (util_rng_seed fixes that). */
struct util_rng {
	uint64_t s;
};

void util_rng_seed(struct util_rng *r, uint64_t seed);
uint64_t util_rng_next(struct util_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t util_rng_below(struct util_rng *r, uint64_t n);
/* A well-mixed 64-bit hash of a few words (splitmix64 finaliser). */
uint64_t util_mix(uint64_t a, uint64_t b, uint64_t c);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t util_now_ms(void);

/*
 * Parses "123", "4k", "16M", "1G" (powers of 1024) into *out.
 * Returns 0, or -EINVAL for anything else (including overflow).
 */
int util_parse_size(const char *s, uint64_t *out);

/* Formats a byte count as "16 MiB" / "4096 B" into buf. */
const char *util_fmt_size(uint64_t bytes, char *buf, size_t len);

#endif
