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

#endif
