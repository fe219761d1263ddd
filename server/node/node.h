/* SPDX-License-Identifier: MIT */
/*
 * netblk-node: the storage node users run (docs/node.md). A thin program
 * over the node core (srv.h): configuration (config.c) and glue (main.c).
 */
#ifndef NETBLK_NODE_H
#define NETBLK_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "srv.h"

#define NODE_PROG "netblk-node"

/* Exit codes */
#define NODE_EXIT_RUNTIME 1
#define NODE_EXIT_USAGE   2

enum node_backend {
	NODE_BACKEND_FILE,
	NODE_BACKEND_RADOS,
	NODE_BACKEND_MAX
};

struct node_config {
	struct nb_srv_config srv;      /* what the core takes */
	const char *config_path;       /* --config */
	const char *port_file;
	enum node_backend backend;
	const char *dir;               /* file: the volumes' directory */
	unsigned sync_threads;         /* file: fdatasync threads */
	const char *rados_pool, *rados_conf, *rados_user, *rados_keyring;
	unsigned rados_connect_timeout;  /* s */
	unsigned rados_op_timeout;       /* s, 0 = never */
	double stats_interval;         /* s, 0 = off */
	int log_level;
	bool check_only;               /* --check-config */
	char **strings;                /* every value kept, freed by node_config_free */
	size_t n_strings;
};

/*
 * Read the configuration file named by --config (if any), then the
 * command line, which wins. Returns 0, 1 when --help was printed, or
 * -EINVAL after printing a message naming the option or FILE:LINE.
 */
int nb_node_config_load(int argc, char **argv, struct node_config *cfg);
void nb_node_config_free(struct node_config *cfg);
/* The effective settings, one "key = value" line each (--check-config). */
void nb_node_config_print(const struct node_config *cfg);
const char *nb_node_backend_name(enum node_backend b);

#endif
