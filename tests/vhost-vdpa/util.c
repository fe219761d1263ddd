// SPDX-License-Identifier: MIT
/* util.c - messages, PRNG, time and size parsing for vhost-blk-test. */
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool util_verbose_on;

static void util_vmsg(const char *tag, const char *fmt, va_list ap)
{
	fprintf(stderr, "vhost-blk-test: %s", tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void util_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vmsg("error: ", fmt, ap);
	va_end(ap);
}

void util_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vmsg("CHECK FAILED: ", fmt, ap);
	va_end(ap);
}

void util_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void util_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!util_verbose_on)
		return;
	va_start(ap, fmt);
	util_vmsg("", fmt, ap);
	va_end(ap);
}

uint64_t util_mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) ^
		     (c * 0xbf58476d1ce4e5b9ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void util_rng_seed(struct util_rng *r, uint64_t seed)
{
	r->s = util_mix(seed, 0x5eed, 0);
	if (!r->s)
		r->s = 0x2545f4914f6cdd1dULL;
}

uint64_t util_rng_next(struct util_rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t util_rng_below(struct util_rng *r, uint64_t n)
{
	return util_rng_next(r) % n;
}

int64_t util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int util_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *util_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	uint64_t v = bytes;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && v >= 1024 &&
	       v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, units[u]);
	return buf;
}
