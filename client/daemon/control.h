/* SPDX-License-Identifier: MIT */
/*
 * The VDUSE device at run time: a control thread that answers the
 * kernel's control messages on /dev/vduse/NAME (VDUSE_GET_VQ_STATE,
 * VDUSE_SET_STATUS, VDUSE_UPDATE_IOTLB) and starts, stops and remaps the
 * virtqueues on the workers. It never waits on the network or on netlink,
 * so the kernel always gets an answer in time, whatever the cluster does;
 * the main thread may block in vdpa netlink calls (which make the kernel
 * send control messages) while this thread answers them.
 */
#ifndef NETBLK_CONTROL_H
#define NETBLK_CONTROL_H

#include <stdint.h>

#include "worker.h"

struct control;

/*
 * Start the control thread for the open device fd (not owned) with
 * num_queues virtqueues, queue i served by workers[i % n_workers] (the
 * array is copied; the workers must outlive the device). logs (may be
 * NULL) holds num_queues in-flight logs, in the state file. With resume,
 * the device was left running by a daemon that died or left: the queues
 * the driver had set up are taken over at once, from their logs.
 * NULL with errno.
 */
struct control *nb_control_start(const char *name, int dev_fd,
			      unsigned int num_queues, struct worker **workers,
			      unsigned int n_workers, struct vq_log *logs,
			      bool resume);

/* Last device status the driver set (VIRTIO_CONFIG_S_*). */
uint8_t nb_control_status(struct control *d);

/*
 * Stop the control thread, stop every queue, free. With leave, the queues
 * are abandoned as they are, for a successor daemon (nb_worker_queue_stop).
 * NULL is a no-op.
 */
void nb_control_stop(struct control *d, bool leave);

#endif
