/* SPDX-License-Identifier: MIT */
/*
 * The one way a function hands a message for the user back to its caller:
 * it fills the caller's buffer err[errlen] and returns its -errno.
 *
 *   return nb_errf(err, errlen, -EINVAL, "line %u: bad key '%s'", n, k);
 *
 * err may be NULL or errlen 0 (then nothing is written). The message is
 * cut to fit and always NUL-terminated. The caller logs or prints it once.
 */
#ifndef NETBLK_ERRMSG_H
#define NETBLK_ERRMSG_H

#include <stddef.h>

/* Format into err (when given) and return ret, whatever it is. */
int nb_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
