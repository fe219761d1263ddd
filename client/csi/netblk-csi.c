/* SPDX-License-Identifier: MIT */
/* netblk-csi: command line and glue (see csi.h, docs/csi.md). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csi.h"
#include "logging.h"
#include "version.h"

static const char csi_help[] =
"NAME\n"
"    netblk-csi - Container Storage Interface driver for vduse-netblk volumes\n"
"\n"
"SYNOPSIS\n"
"    netblk-csi --mode controller|node|all --endpoint unix:///PATH [OPTIONS]\n"
"\n"
"DESCRIPTION\n"
"    Serves the CSI v1 Identity service and, by --mode, the Controller\n"
"    service (volumes created and described through the cluster's admin\n"
"    requests, the writer lock handed from node to node), the Node service\n"
"    (volumes attached through the vduse-netblk agent's spec files, file\n"
"    systems made and mounted, bind mounts for pods), or both, over gRPC\n"
"    on a unix socket. docs/csi.md describes every call.\n"
"\n"
"OPTIONS\n"
"    --mode M                  controller, node or all (default all)\n"
"    --endpoint unix:///PATH   socket to serve on (required)\n"
"    --node-id ID              this node's name (node mode; default: host name)\n"
"    --driver-name NAME        CSI driver name (default csi.vduse-netblk.io)\n"
"    --cluster ADDR[,ADDR...]  seed nodes of the default cluster, host:port\n"
"    --ca FILE, --cert FILE, --key FILE\n"
"                              TLS files for the cluster (controller)\n"
"    --tls-name NAME           name the node certificates must carry (empty:\n"
"                              the host part of each address; the node\n"
"                              plugin passes it to the agent in each spec)\n"
"    --connect-timeout S       admin requests give up after S s (default 10)\n"
"    --spec-dir DIR            the agent's spec directory\n"
"                              (default /etc/vduse-netblk/specs)\n"
"    --run-dir DIR             the agent's run directory (default /run/vduse-netblk)\n"
"    --kubelet-dir DIR         staging and target paths must lie under it\n"
"                              (default /var/lib/kubelet)\n"
"    --attach-timeout S        NodeStageVolume waits this long for the disk\n"
"                              (default 120)\n"
"    --log-level L             error, warning, notice, info, debug (default info)\n"
"    -h, --help                this text\n"
"    --version                 print the version and exit\n";

enum { OPT_MODE = 256, OPT_ENDPOINT, OPT_NODE_ID, OPT_DRIVER, OPT_CLUSTER, OPT_CA, OPT_CERT,
       OPT_KEY, OPT_TLS_NAME, OPT_CONNECT_TIMEOUT, OPT_SPEC_DIR, OPT_RUN_DIR,
       OPT_KUBELET_DIR, OPT_ATTACH_TIMEOUT, OPT_LOG_LEVEL, OPT_VERSION };

static int csi_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "netblk-csi: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static bool csi_seconds(const char *text, double *out)
{
	char *end;
	double d = strtod(text, &end);

	if (end == text || *end || !(d > 0) || d > 86400)
		return false;
	*out = d;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
		{ "node-id", required_argument, NULL, OPT_NODE_ID },
		{ "driver-name", required_argument, NULL, OPT_DRIVER },
		{ "cluster", required_argument, NULL, OPT_CLUSTER },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "tls-name", required_argument, NULL, OPT_TLS_NAME },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "spec-dir", required_argument, NULL, OPT_SPEC_DIR },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "kubelet-dir", required_argument, NULL, OPT_KUBELET_DIR },
		{ "attach-timeout", required_argument, NULL, OPT_ATTACH_TIMEOUT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	static struct csi_ctx ctx;
	static char host[HOST_NAME_MAX + 1];
	const struct csi_method *tables[3];
	const char *mode = "all", *endpoint = NULL;
	size_t n_tables = 0;
	int level = LOG_INFO, opt;

	ctx.driver_name = "csi.vduse-netblk.io";
	ctx.spec_dir = "/etc/vduse-netblk/specs";
	ctx.run_dir = "/run/vduse-netblk";
	ctx.kubelet_dir = "/var/lib/kubelet";
	ctx.attach_timeout = 120;
	ctx.connect_timeout = 10;
	pthread_mutex_init(&ctx.lock, NULL);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_MODE: mode = optarg; break;
		case OPT_ENDPOINT: endpoint = optarg; break;
		case OPT_NODE_ID: ctx.node_id = optarg; break;
		case OPT_DRIVER: ctx.driver_name = optarg; break;
		case OPT_CLUSTER: ctx.cluster_text = optarg; break;
		case OPT_CA: ctx.tls_ca = optarg; break;
		case OPT_CERT: ctx.tls_cert = optarg; break;
		case OPT_KEY: ctx.tls_key = optarg; break;
		case OPT_TLS_NAME: ctx.server_name = *optarg ? optarg : NULL; break;
		case OPT_SPEC_DIR: ctx.spec_dir = optarg; break;
		case OPT_RUN_DIR: ctx.run_dir = optarg; break;
		case OPT_KUBELET_DIR: ctx.kubelet_dir = optarg; break;
		case OPT_CONNECT_TIMEOUT:
			if (!csi_seconds(optarg, &ctx.connect_timeout))
				return csi_usage_error("--connect-timeout %s: not a number of seconds", optarg);
			break;
		case OPT_ATTACH_TIMEOUT:
			if (!csi_seconds(optarg, &ctx.attach_timeout))
				return csi_usage_error("--attach-timeout %s: not a number of seconds", optarg);
			break;
		case OPT_LOG_LEVEL:
			level = nb_log_parse_level(optarg);
			if (level < 0)
				return csi_usage_error("--log-level %s: unknown level", optarg);
			break;
		case 'h':
			fputs(csi_help, stdout);
			return 0;
		case OPT_VERSION:
			nb_version_print(stdout, "netblk-csi");
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return csi_usage_error("unexpected argument '%s'", argv[optind]);
	if (strcmp(mode, "controller") == 0) {
		ctx.controller = true;
	} else if (strcmp(mode, "node") == 0) {
		ctx.node = true;
	} else if (strcmp(mode, "all") == 0) {
		ctx.controller = ctx.node = true;
	} else {
		return csi_usage_error("--mode %s: must be controller, node or all", mode);
	}
	if (!endpoint)
		return csi_usage_error("%s", "--endpoint unix:///PATH is required");
	if (strncmp(endpoint, "unix://", 7) == 0)
		endpoint += 7;
	else if (strncmp(endpoint, "unix:", 5) == 0)
		endpoint += 5;
	if (endpoint[0] != '/')
		return csi_usage_error("--endpoint %s: must be unix:///ABSOLUTE-PATH", endpoint);
	ctx.endpoint = endpoint;
	if (ctx.controller && !ctx.cluster_text)
		fprintf(stderr, "netblk-csi: note: no --cluster; only volumes of StorageClasses "
			"with a cluster parameter can be created\n");
	if (ctx.controller && !ctx.tls_ca)
		return csi_usage_error("%s", "--ca FILE is required for the controller");
	if (!ctx.node_id) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			return csi_usage_error("%s", "no --node-id and no host name");
		ctx.node_id = host;
	}
	if (ctx.node && (ctx.kubelet_dir[0] != '/' || ctx.spec_dir[0] != '/' ||
			 ctx.run_dir[0] != '/'))
		return csi_usage_error("%s", "--kubelet-dir, --spec-dir and --run-dir must be absolute");

	nb_log_init("netblk-csi", level);
	tables[n_tables++] = nb_csi_identity_methods;
	if (ctx.controller)
		tables[n_tables++] = nb_csi_controller_methods;
	if (ctx.node)
		tables[n_tables++] = nb_csi_node_methods;
	return nb_csi_serve(&ctx, tables, n_tables) < 0 ? 1 : 0;
}
