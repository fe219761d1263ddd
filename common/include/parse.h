/* SPDX-License-Identifier: MIT */
/*
 * Parsers for what users type, shared by every program: whole numbers,
 * sizes, durations and "host:port" addresses. They print nothing: each
 * returns 0 and stores the value, or a negative errno and leaves *out
 * alone, so the caller says what was wrong in its own words (naming the
 * option or the spec line):
 *   -EINVAL  not of the form (empty, sign, junk after the digits, unknown
 *            suffix, missing port, ...)
 *   -ERANGE  of the form, but outside [min, max] or beyond 64 bits
 * None of them accepts leading white space or a sign.
 */
#ifndef NETBLK_PARSE_H
#define NETBLK_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits only, min <= value <= max. */
int nb_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Like nb_parse_u64, for values that fit an unsigned int. */
int nb_parse_uint(const char *text, unsigned int min, unsigned int max,
		  unsigned int *out);

/*
 * Bytes: decimal digits and an optional binary unit, one of
 * B K k KB KiB M MB MiB G GB GiB T TB TiB (K = 1024 and so on).
 */
int nb_parse_size(const char *text, uint64_t *out);

/*
 * Seconds: a decimal number as strtod reads it (fractions allowed), finite,
 * min <= value <= max.
 */
int nb_parse_seconds(const char *text, double min, double max, double *out);

/*
 * Split "host:port" or "[v6 address]:port" into host (without brackets)
 * and port (decimal digits, 0..65535, copied as text). A host name may not
 * contain ':' unless bracketed; the host may not be empty. -EINVAL when
 * the form is wrong or a part does not fit its buffer.
 */
int nb_split_host_port(const char *addr, char *host, size_t hostlen,
		       char *port, size_t portlen);

#endif
