/* SPDX-License-Identifier: MIT */
/*
 * Attaching a VDUSE device to the vDPA bus, and detaching it, through the
 * kernel's "vdpa" generic-netlink family (what `vdpa dev add/del` does).
 * Blocking calls; they never touch the network and return in bounded
 * time (the kernel answers netlink synchronously).
 */
#ifndef NETBLK_VDPA_NL_H
#define NETBLK_VDPA_NL_H

#include <stddef.h>

#define VDPA_DEFAULT_MGMTDEV "vduse"

/*
 * Create vDPA device NAME on management device MGMTDEV ("vduse", or
 * "bus/device" for a management device on a bus). Returns 0 or -errno
 * with a message for the user in err:
 *   -ENOENT     the vdpa family (module vdpa) or MGMTDEV does not exist
 *   -EEXIST     a vDPA device NAME exists already
 *   -EPERM      not allowed (needs CAP_NET_ADMIN)
 */
int nb_vdpa_dev_add(const char *name, const char *mgmtdev, char *err,
		 size_t errlen);

/* Delete vDPA device NAME. -ENODEV when there is none. */
int nb_vdpa_dev_del(const char *name, char *err, size_t errlen);

#endif
