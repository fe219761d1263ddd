/* SPDX-License-Identifier: MIT */
/*
 * The single-volume daemon's command line (vduse-netblk --cluster ...
 * --volume ...): its options, parsed into a volume's configuration and the
 * process settings around it. Limits and defaults come from options.h.
 */
#ifndef NETBLK_CMDLINE_H
#define NETBLK_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "volume.h"
#include "vduse_dev.h"

struct cmdline {
	/* The volume to serve. cfg.nodes and cfg.name point into this
	 * struct (nodes, name); its other strings into argv. */
	struct volume_config cfg;
	char **nodes;              /* --cluster, split; owned */
	size_t n_nodes;
	char name[VDUSE_NAME_MAX];
	unsigned int bounce_mb;    /* --bounce-size; 0: the kernel's default */
	bool bounce_given;
	bool foreground;
	const char *pid_file;
	const char *metrics;          /* --metrics ADDR:PORT, or NULL */
	const char *user;          /* --user, NULL: stay root */
	uid_t uid;                 /* the user's, resolved at parse time */
	gid_t gid;
};

/*
 * Parse argv (argv[0] is the program). Returns 0; 1 after printing the
 * help to stdout (--help: exit 0); or -EINVAL or -ENOMEM after printing
 * what is wrong to stderr (exit 2). Whatever it returns, free the result
 * with nb_cmdline_free().
 */
int nb_cmdline_parse(int argc, char **argv, struct cmdline *o);

/* Free what nb_cmdline_parse() allocated. */
void nb_cmdline_free(struct cmdline *o);

/* The help text. */
void nb_cmdline_usage(FILE *f);

#endif
