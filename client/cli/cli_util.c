/* SPDX-License-Identifier: MIT */
/* netblk-cli: messages, number parsing, clocks, random numbers, buffers. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "parse.h"

void nb_cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("netblk-cli: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int nb_cli_parse_size(const char *optname, const char *s, uint64_t *out)
{
	if (nb_parse_size(s, out) < 0) {
		nb_cli_err("invalid size '%s' for %s (bytes, with an optional K, M, G or T suffix)",
			s, optname);
		return -EINVAL;
	}
	return 0;
}

int nb_cli_parse_uint(const char *optname, const char *s, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	if (nb_parse_u64(s, min, max, out) < 0) {
		nb_cli_err("invalid value '%s' for %s (a whole number from %" PRIu64
			" to %" PRIu64 ")", s, optname, min, max);
		return -EINVAL;
	}
	return 0;
}

int nb_cli_parse_seconds(const char *optname, const char *s, double *out)
{
	if (nb_parse_seconds(s, 0, 1e6, out) < 0) {
		nb_cli_err("invalid number of seconds '%s' for %s", s, optname);
		return -EINVAL;
	}
	return 0;
}

int nb_cli_check_buffers(const char *cmd, uint64_t depth, uint64_t bs)
{
	if (depth * bs <= CLI_MAX_BUFFERS)
		return 0;
	nb_cli_err("%s: queue depth %" PRIu64 " x I/O size %" PRIu64
		" needs more than %llu MiB of buffers; lower one of them",
		cmd, depth, bs, CLI_MAX_BUFFERS >> 20);
	return -EINVAL;
}

const char *nb_cli_fmt_size(uint64_t bytes, char *buf, size_t len)
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

uint64_t nb_cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nb_cli_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void *nb_cli_buf_alloc(size_t size)
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

bool nb_cli_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* a zero first byte, then each byte equals the one before it */
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}
