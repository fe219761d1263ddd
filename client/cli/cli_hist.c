/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli: a fixed-size log-linear histogram for latencies. Values
 * below 32 have a bucket each; above, every power of two [2^k, 2^(k+1))
 * is cut into 16 equal buckets.
 */
#include "cli.h"

static unsigned int cli_hist_bucket(uint64_t v)
{
	unsigned int msb, shift;

	if (v < 2 * CLI_HIST_HALF)
		return v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - 4; /* v >> shift is in [16, 32) */
	return 2 * CLI_HIST_HALF + (shift - 1) * CLI_HIST_HALF +
	       (unsigned int)((v >> shift) - CLI_HIST_HALF);
}

/* Middle of a bucket's range. */
static uint64_t cli_hist_value(unsigned int b)
{
	unsigned int shift;
	uint64_t m;

	if (b < 2 * CLI_HIST_HALF)
		return b;
	shift = (b - 2 * CLI_HIST_HALF) / CLI_HIST_HALF + 1;
	m = (b - 2 * CLI_HIST_HALF) % CLI_HIST_HALF + CLI_HIST_HALF;
	return (m << shift) + ((1ull << shift) >> 1);
}

void nb_cli_hist_add(struct cli_hist *h, uint64_t v)
{
	h->count[cli_hist_bucket(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t nb_cli_hist_quantile(const struct cli_hist *h, double q)
{
	uint64_t want, seen = 0, v;

	if (h->n == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	want = (uint64_t)(q * h->n + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned int b = 0; b < CLI_HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want) {
			v = cli_hist_value(b);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
