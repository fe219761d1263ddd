/* SPDX-License-Identifier: MIT */
/*
 * Dropping privileges once the VDUSE device is set up.
 *
 * What the daemon still needs after attach, and why:
 *  - the open /dev/vduse/NAME descriptor: its ioctls (VQ info, IOTLB fds,
 *    interrupts) and mmap need no capability, the open file is enough;
 *  - CAP_NET_ADMIN: the vdpa generic-netlink commands (VDPA_CMD_DEV_DEL on
 *    SIGTERM, VDPA_CMD_DEV_NEW on a re-attach) are admin-only;
 *  - VDUSE_DESTROY_DEV goes through /dev/vduse/control, which is root's
 *    (mode 0600) on a stock system: either the control descriptor opened
 *    before the drop is kept open (ioctls on it need nothing more), or the
 *    destroy fails after the drop and the device stays until root removes
 *    it (`vdpa dev del` + a new daemon, or rmmod).  Keeping
 *    CAP_DAC_OVERRIDE just to reopen it would undo most of the drop, so we
 *    don't;
 *  - network access to the storage nodes (no capability), and read access
 *    to the CA, certificate and key files for a TLS reload (file
 *    permissions of the new user);
 *  - the state directory (--state-dir) writable by the new user if files
 *    are created there after the drop.
 * Everything else goes: effective, permitted, inheritable and ambient sets
 * are cut to PRIVS_KEEP, the bounding set too (when CAP_SETPCAP allows),
 * and no_new_privs is set so an exec can never regain anything.
 *
 * Capabilities are per thread.  nb_privs_drop() changes the calling thread;
 * with a user, the uid change also strips every other thread of all its
 * capabilities (the kernel does so when a thread's uids all become
 * non-zero).  Without a user, other threads keep theirs: each worker thread
 * calls nb_privs_drop_thread() itself (it needs none).
 *
 * Not dropped: the agent (vduse-netblk agent), which creates devices for
 * new spec files while it runs and so needs root's access to
 * /dev/vduse/control, the new /dev/vduse/NAME nodes and the state
 * directory for as long as it runs.
 */
#ifndef NETBLK_PRIVS_H
#define NETBLK_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/capability.h>

/* Capabilities the daemon keeps, as a mask of 1 << CAP_*. */
#define PRIVS_KEEP (1ULL << CAP_NET_ADMIN)

/*
 * Switch to @user (NULL: stay the same user) and keep only PRIVS_KEEP (of
 * what the thread has).  Call from the main thread after the device is
 * attached.  Returns 0, or -errno with a message in @err: -ENOENT unknown
 * user, -EPERM not allowed to switch (not root), other -errno from the
 * system calls.  On failure the process may be half-dropped: exit.
 */
int nb_privs_drop(const char *user, char *err, size_t errlen);

/* Drop the capabilities of the calling thread (worker threads, at their
 * start): all of them, or all but CAP_SETUID and CAP_SETGID after
 * nb_privs_will_switch_user(true) (see there). 0 or -errno. */
int nb_privs_drop_thread(void);

/*
 * Say, before starting any thread, whether nb_privs_drop() will switch to a
 * user. glibc changes the uids and groups of every thread (each thread
 * makes the system call itself) and aborts the process when one thread is
 * refused, so threads that drop early must keep CAP_SETUID and CAP_SETGID
 * until the switch, which clears them (and everything else) in those
 * threads.
 */
void nb_privs_will_switch_user(bool yes);

/* Effective capabilities of the calling thread as a mask; 0 on error. */
uint64_t nb_privs_effective(void);

#endif
