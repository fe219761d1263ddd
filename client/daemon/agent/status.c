/* SPDX-License-Identifier: MIT */
/*
 * What the agent reports: STATUS_DIR/NAME.status per spec, the links
 * RUN/by-volume/ID -> device, and the status command that reads them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_priv.h"
#include "log.h"

void nb_agent_write_status(struct agent *a, struct agent_vol *av)
{
	char path[PATH_MAX], text[2048];

	nb_agent_path(path, sizeof(path), a->status_dir, av->name, ".status");
	snprintf(text, sizeof(text),
		 "state=%s\nvolume=%s\nname=%s\ndevice=%s\nmessage=%s\n"
		 "updated=%lld\n",
		 av->v ? "attached" : "error",
		 av->parsed ? av->spec.volume : "",
		 av->parsed ? av->spec.name : av->name,
		 av->v ? nb_volume_node(av->v) : "", av->message,
		 (long long)time(NULL));
	if (nb_agent_write_file(path, text) < 0)
		nb_log_msg(LOG_ERR, "cannot write status file %s: %s", path,
			strerror(errno));
}

/* RUN/by-volume/ID -> the device node. */
void nb_agent_link(struct agent *a, struct agent_vol *av, bool add)
{
	char dir[PATH_MAX], path[PATH_MAX + SPEC_STR_MAX + 2];
	char tmp[sizeof(path) + 8];

	snprintf(dir, sizeof(dir), "%s/by-volume", a->run_dir);
	if (!nb_spec_name_ok(av->spec.volume))
		return;	/* not a safe file name: no link */
	snprintf(path, sizeof(path), "%s/%s", dir, av->spec.volume);
	if (!add) {
		unlink(path);
		return;
	}
	mkdir(a->run_dir, 0755);
	mkdir(dir, 0755);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (symlink(nb_volume_node(av->v), tmp) < 0 || rename(tmp, path) < 0)
		nb_log_msg(LOG_ERR, "cannot link %s: %s", path, strerror(errno));
}

/* vduse-netblk status: what the status files say about each spec. */
int nb_agent_status_main(int argc, char **argv)
{
	char name[SPEC_STR_MAX + 1], path[PATH_MAX];
	struct agent_opts o;
	unsigned int declared = 0, healthy = 0;
	struct dirent *de;
	DIR *d;
	int ret;

	ret = nb_agent_parse(argc, argv, &o);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	d = opendir(o.spec_dir);
	if (!d) {
		fprintf(stderr, "vduse-netblk: cannot read spec directory %s: "
			"%s\n", o.spec_dir, strerror(errno));
		return 1;
	}
	printf("%-20s %-20s %-9s %-18s %s\n", "NAME", "VOLUME", "STATE",
	       "DEVICE", "MESSAGE");
	while ((de = readdir(d))) {
		char state[32] = "pending", volume[256] = "", device[256] = "";
		char message[600] = "no status yet (is the agent running?)";
		char *text, *line, *next;

		if (!nb_agent_spec_name(de->d_name, name, sizeof(name)))
			continue;
		declared++;
		nb_agent_path(path, sizeof(path), o.status_dir, name, ".status");
		text = nb_agent_read_file(path);
		for (line = text; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			sscanf(line, "state=%31s", state);
			sscanf(line, "volume=%255s", volume);
			sscanf(line, "device=%255s", device);
			if (!strncmp(line, "message=", 8))
				snprintf(message, sizeof(message), "%s",
					 line + 8);
		}
		free(text);
		if (!strcmp(state, "attached"))
			healthy++;
		printf("%-20s %-20s %-9s %-18s %s\n", name, volume, state,
		       device[0] ? device : "-", message);
	}
	closedir(d);
	printf("%u declared, %u attached\n", declared, healthy);
	return healthy == declared ? 0 : 1;
}
