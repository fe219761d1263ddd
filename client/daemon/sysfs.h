/* SPDX-License-Identifier: MIT */
/*
 * What sysfs says of a vDPA device NAME (/sys/bus/vdpa/devices/NAME):
 * whether it is attached, and which /dev node the kernel made of it
 * (/dev/vdX through virtio_vdpa, /dev/vhost-vdpa-N through vhost_vdpa).
 */
#ifndef NETBLK_SYSFS_H
#define NETBLK_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

/* How long nb_sysfs_wait_node() waits for the node to appear. */
#define SYSFS_NODE_WAIT_MS 10000

/* The /dev node of vDPA device NAME into out; false when there is none. */
bool nb_sysfs_find_node(const char *name, char *out, size_t outlen);
/* nb_sysfs_find_node() until the node exists, SYSFS_NODE_WAIT_MS at most. */
bool nb_sysfs_wait_node(const char *name, char *out, size_t outlen);
/* Is vDPA device NAME attached (in sysfs)? */
bool nb_sysfs_attached(const char *name);
/* A virtio-vdpa disk, /dev/vdX (not /dev/vduse/NAME, not vhost-vdpa)? */
bool nb_sysfs_is_disk(const char *node);

#endif
