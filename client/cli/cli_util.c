/* SPDX-License-Identifier: MIT */
/* netblk-cli: messages, number parsing, clocks, random numbers, buffers. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("netblk-cli: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cli_size_shift(const char *suffix, unsigned int *shift)
{
	static const struct {
		const char *name;
		unsigned int shift;
	} units[] = {
		{ "", 0 }, { "B", 0 },
		{ "K", 10 }, { "k", 10 }, { "KB", 10 }, { "KiB", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 },
		{ "T", 40 }, { "TB", 40 }, { "TiB", 40 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(suffix, units[i].name) == 0) {
			*shift = units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

int cli_parse_size(const char *optname, const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		goto out_bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto out_bad;
	if (cli_size_shift(end, &shift) < 0)
		goto out_bad;
	if (shift && v > (UINT64_MAX >> shift))
		goto out_bad;
	*out = (uint64_t)v << shift;
	return 0;

out_bad:
	cli_err("invalid size '%s' for %s (bytes, with an optional K, M, G or T suffix)",
		s, optname);
	return -EINVAL;
}

int cli_parse_uint(const char *optname, const char *s, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		goto out_bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		goto out_bad;
	*out = v;
	return 0;

out_bad:
	cli_err("invalid value '%s' for %s (a whole number from %" PRIu64
		" to %" PRIu64 ")", s, optname, min, max);
	return -EINVAL;
}

int cli_parse_seconds(const char *optname, const char *s, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
	    v > 1e6) {
		cli_err("invalid number of seconds '%s' for %s", s, optname);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cli_check_buffers(const char *cmd, uint64_t depth, uint64_t bs)
{
	if (depth * bs <= CLI_MAX_BUFFERS)
		return 0;
	cli_err("%s: queue depth %" PRIu64 " x I/O size %" PRIu64
		" needs more than %llu MiB of buffers; lower one of them",
		cmd, depth, bs, CLI_MAX_BUFFERS >> 20);
	return -EINVAL;
}

const char *cli_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.4g %s (%" PRIu64 " bytes)", v, units[u],
			 bytes);
	return buf;
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cli_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void *cli_buf_alloc(size_t size)
{
	void *p = NULL;
	int ret;

	ret = posix_memalign(&p, CLI_BUF_ALIGN, size ? size : 1);
	if (ret) {
		errno = ret;
		return NULL;
	}
	return p;
}
