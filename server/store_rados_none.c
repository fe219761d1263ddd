/* SPDX-License-Identifier: MIT */
/* The rados backend when librados was not found at build time. */
#include <errno.h>
#include <stdio.h>

#include "srv_store.h"

struct nb_store *nb_store_rados_new(const struct nb_store_rados_conf *conf,
				    char *err, size_t errlen)
{
	(void)conf;
	snprintf(err, errlen, "rados backend not built (librados-dev was missing at build time)");
	errno = ENOTSUP;
	return NULL;
}
