/* SPDX-License-Identifier: MIT */
/* Host helpers of the node service (csi_host.c). */
#ifndef NETBLK_CSI_HOST_H
#define NETBLK_CSI_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Is path a mount point? *dev (may be NULL) gets the topmost mount's
 * device number, *ro (may be NULL) whether it is mounted read-only. */
bool nb_csi_mounted(const char *path, dev_t *dev, bool *ro);
/* mkdir -p; 0 or -errno */
int nb_csi_mkdirs(const char *path, mode_t mode);
/* KEY=value of a status file's text into out ("" and false when absent) */
bool nb_csi_status_get(const char *text, const char *key, char *out, size_t len);
/* a small file into buf (NUL-terminated); 0 or -errno */
int nb_csi_read_file(const char *path, char *buf, size_t len);
/* write path atomically (PATH.tmp, fsync, rename); 0 or -errno */
int nb_csi_write_file(const char *path, const char *text);
/* size of a block device in bytes, 0 when it cannot be read */
uint64_t nb_csi_dev_size(const char *dev);
/* is the block device read-only (BLKROGET)? */
bool nb_csi_dev_ro(const char *dev);
void nb_csi_sleep_ms(long ms);
/* when the host booted (/proc/stat btime), 0 when unknown */
long long nb_csi_boot_time(void);
/*
 * Is dev (a device node) the disk of vDPA device name, the one sysfs
 * shows at /sys/bus/vdpa/devices/NAME/virtioN/block/X (same dev_t)?
 */
bool nb_csi_dev_of_vdpa(const char *dev, const char *name);
/*
 * Do the first and last MiB of the block device dev read back as zeros?
 * 1 yes, 0 no, -errno when it cannot be opened or read (never "blank").
 */
int nb_csi_dev_blank(const char *dev);
/*
 * Does path lie inside dir, both resolved (realpath of the deepest part
 * of path that exists), and is path itself no symbolic link?
 */
bool nb_csi_path_inside(const char *path, const char *dir);
/* the loop device (/dev/loopN) of device number rdev; false if none */
bool nb_csi_loop_name(dev_t rdev, char *buf, size_t len);
/* the loop devices whose backing file is backing, detached; 0 or -errno */
int nb_csi_loops_detach(const char *backing, char *err, size_t errlen);

#endif
