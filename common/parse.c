/* SPDX-License-Identifier: MIT */
/* Parsers for numbers, sizes, durations and addresses (parse.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static int parse_digits(const char *text, unsigned long long *v,
			const char **end)
{
	char *e;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(text, &e, 10);
	*end = e;
	return errno == ERANGE ? -ERANGE : 0;
}

int nb_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	const char *end;
	int ret = parse_digits(text, &v, &end);

	if (ret == 0 && *end)
		return -EINVAL;
	if (ret < 0)
		return ret;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int nb_parse_uint(const char *text, unsigned int min, unsigned int max,
		  unsigned int *out)
{
	uint64_t v;
	int ret = nb_parse_u64(text, min, max, &v);

	if (ret == 0)
		*out = (unsigned int)v;
	return ret;
}

static int parse_size_shift(const char *suffix, unsigned int *shift)
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

int nb_parse_size(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift;
	const char *end;
	int ret = parse_digits(text, &v, &end);

	if (ret < 0)
		return ret;
	if (parse_size_shift(end, &shift) < 0)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int nb_parse_seconds(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end)
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v) || !(v >= min) || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int nb_split_host_port(const char *addr, char *host, size_t hostlen,
		       char *port, size_t portlen)
{
	const char *name = addr, *colon;
	size_t name_len, port_len;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		name = addr + 1;
		name_len = (size_t)(close - name);
		colon = close + 1;
	} else {
		colon = strchr(addr, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		name_len = (size_t)(colon - addr);
	}
	port_len = strlen(colon + 1);
	if (name_len == 0 || name_len >= hostlen || port_len == 0 ||
	    port_len > 5 || port_len >= portlen ||
	    strspn(colon + 1, "0123456789") != port_len ||
	    strtoul(colon + 1, NULL, 10) > 65535)
		return -EINVAL;
	memcpy(host, name, name_len);
	host[name_len] = '\0';
	memcpy(port, colon + 1, port_len + 1);
	return 0;
}
