/* SPDX-License-Identifier: MIT */
/* What sysfs says of a vDPA device: attached or not, the node it became. */
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sysfs.h"
#include "vduse_dev.h"

/* Which /dev node did the kernel make of vDPA device NAME? */
bool nb_sysfs_find_node(const char *name, char *out, size_t outlen)
{
	static const char *const patterns[] = {
		"/sys/bus/vdpa/devices/%s/virtio*/block/*",
		"/sys/bus/vdpa/devices/%s/vhost-vdpa-*",
	};
	char pattern[PATH_MAX];
	unsigned int i;
	bool found = false;
	glob_t g;

	for (i = 0; i < 2 && !found; i++) {
		snprintf(pattern, sizeof(pattern), patterns[i], name);
		if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
			snprintf(out, outlen, "/dev/%s",
				 strrchr(g.gl_pathv[0], '/') + 1);
			found = true;
		}
		globfree(&g);
	}
	return found;
}

bool nb_sysfs_wait_node(const char *name, char *out, size_t outlen)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited < SYSFS_NODE_WAIT_MS; waited += 20) {
		struct stat st;

		if (nb_sysfs_find_node(name, out, outlen) && stat(out, &st) == 0)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

bool nb_sysfs_attached(const char *name)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
	return stat(path, &sb) == 0;
}

/* A virtio-vdpa disk, /dev/vdX (not /dev/vduse/NAME, not vhost-vdpa)? */
bool nb_sysfs_is_disk(const char *node)
{
	return strncmp(node, "/dev/vd", 7) == 0 &&
	       strncmp(node, VDUSE_DEV_DIR "/", sizeof(VDUSE_DEV_DIR)) != 0;
}
