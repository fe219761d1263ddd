/* SPDX-License-Identifier: MIT */
/* Messages handed back to a caller in its buffer (errmsg.h). */
#include <stdarg.h>
#include <stdio.h>

#include "errmsg.h"

int nb_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}
