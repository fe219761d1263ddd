/* SPDX-License-Identifier: MIT */
/* Volume ids of netblk-csi: see csi_volume.c. */
#ifndef NETBLK_CSI_VOLUME_H
#define NETBLK_CSI_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#define CSI_VOLUME_MAX_NODES 16

struct csi_volume {
	char name[129];
	char cluster[1024];             /* "host:port,host:port" */
	char nodes_buf[1024];
	const char *nodes[CSI_VOLUME_MAX_NODES]; /* point into nodes_buf */
	size_t n_nodes;
};

bool nb_csi_volume_name_ok(const char *name);

/* Split id into *v; 0, or -1 with why in err. */
int nb_csi_volume_parse(const char *id, const char *default_cluster,
			struct csi_volume *v, char *err, size_t errlen);

/*
 * The one id of the volume *v (parsed from any of its ids): "NAME" when its
 * cluster is default_cluster (the same nodes, in any order), else
 * "CLUSTER/NAME"; so "NAME" and "HOST:PORT/NAME" of the driver's own
 * cluster name one device, one spec, one call at a time.
 */
void nb_csi_volume_id(const struct csi_volume *v, const char *default_cluster,
		      char *buf, size_t len);

#endif
