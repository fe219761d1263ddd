/* SPDX-License-Identifier: MIT */
/*
 * Volume ids: "NAME" for a volume of the driver's own cluster (--cluster),
 * "HOST:PORT[,HOST:PORT...]/NAME" for one of a cluster a StorageClass named.
 */
#include <stdio.h>
#include <string.h>

#include "csi_volume.h"

bool nb_csi_volume_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 128 || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

int nb_csi_volume_parse(const char *id, const char *default_cluster,
			struct csi_volume *v, char *err, size_t errlen)
{
	const char *slash = strrchr(id, '/');
	const char *cluster = default_cluster;
	char *save = NULL, *tok;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (slash) {
		n = (size_t)(slash - id);
		if (n == 0 || n >= sizeof(v->cluster)) {
			snprintf(err, errlen, "volume id '%s': bad cluster part", id);
			return -1;
		}
		memcpy(v->cluster, id, n);
		v->cluster[n] = '\0';
		cluster = NULL;
	} else if (cluster) {
		if (strlen(cluster) >= sizeof(v->cluster)) {
			snprintf(err, errlen, "the --cluster list is too long");
			return -1;
		}
		strcpy(v->cluster, cluster);
	}
	snprintf(v->name, sizeof(v->name), "%s", slash ? slash + 1 : id);
	if (!nb_csi_volume_name_ok(v->name) || strlen(slash ? slash + 1 : id) >= sizeof(v->name)) {
		snprintf(err, errlen,
			 "volume id '%s': the name must be 1 to 128 of A-Z a-z 0-9 . _ - "
			 "(not starting with . or -)", id);
		return -1;
	}
	if (!v->cluster[0]) {
		snprintf(err, errlen, "volume id '%s' names no cluster and the driver has no --cluster", id);
		return -1;
	}
	n = strlen(v->cluster);
	if (v->cluster[0] == ',' || v->cluster[n - 1] == ',' || strstr(v->cluster, ",,")) {
		snprintf(err, errlen, "volume id '%s': empty node address in '%s'", id, v->cluster);
		return -1;
	}
	snprintf(v->nodes_buf, sizeof(v->nodes_buf), "%s", v->cluster);
	for (tok = strtok_r(v->nodes_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (v->n_nodes == CSI_VOLUME_MAX_NODES) {
			snprintf(err, errlen, "volume id '%s': more than %d nodes", id,
				 CSI_VOLUME_MAX_NODES);
			return -1;
		}
		if (!tok[0] || !strchr(tok, ':') ||
		    strspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-:[]_") != strlen(tok)) {
			snprintf(err, errlen, "volume id '%s': '%s' is not HOST:PORT", id, tok);
			return -1;
		}
		v->nodes[v->n_nodes++] = tok;
	}
	if (v->n_nodes == 0) {
		snprintf(err, errlen, "volume id '%s': empty cluster", id);
		return -1;
	}
	return 0;
}

/* is node one of the comma-separated list? */
static bool csi_volume_node_in(const char *node, const char *list)
{
	size_t n = strlen(node);
	const char *p = list;

	while (p && *p) {
		if (strncmp(p, node, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

void nb_csi_volume_id(const struct csi_volume *v, const char *default_cluster,
		      char *buf, size_t len)
{
	struct csi_volume d;
	char err[256];
	size_t i;
	bool same;

	same = default_cluster &&
	       nb_csi_volume_parse(v->name, default_cluster, &d, err, sizeof(err)) == 0 &&
	       d.n_nodes == v->n_nodes;
	for (i = 0; same && i < v->n_nodes; i++)
		same = csi_volume_node_in(v->nodes[i], default_cluster) &&
		       csi_volume_node_in(d.nodes[i], v->cluster);
	if (same)
		snprintf(buf, len, "%s", v->name);
	else
		snprintf(buf, len, "%s/%s", v->cluster, v->name);
}
