/* SPDX-License-Identifier: MIT */
/*
 * What the agent reports: STATUS_DIR/NAME.status per spec, the links
 * RUN/by-volume/ID -> device, and the status command that reads them.
 */
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

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
		 nb_agent_vol_state(av),
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

/* One volume as the status command reports it. */
struct agent_status_row {
	char name[SPEC_STR_MAX + 1];
	char state[32], volume[256], device[256];
	char message[600];
	long long updated;
};

/* Read STATUS_DIR/NAME.status into row (defaults when there is none). */
static void agent_status_read(const struct agent_opts *o, const char *name,
			      struct agent_status_row *row)
{
	char path[PATH_MAX], *text, *line, *next;

	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", name);
	snprintf(row->state, sizeof(row->state), "pending");
	snprintf(row->message, sizeof(row->message),
		 "no status yet (is the agent running?)");
	nb_agent_path(path, sizeof(path), o->status_dir, name, ".status");
	text = nb_agent_read_file(path);
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sscanf(line, "state=%31s", row->state);
		sscanf(line, "volume=%255s", row->volume);
		sscanf(line, "device=%255s", row->device);
		sscanf(line, "updated=%lld", &row->updated);
		if (!strncmp(line, "message=", 8))
			snprintf(row->message, sizeof(row->message), "%s",
				 line + 8);
	}
	free(text);
}

/*
 * Does the agent run, its loop answering? Its heartbeat file names a
 * live process and is at most AGENT_HEARTBEAT_STALE seconds old.
 */
static bool agent_status_alive(const struct agent_opts *o, int *pid,
			       long long *age, char *why, size_t len)
{
	char path[PATH_MAX], *text;
	long long updated = 0;
	const char *p;

	*pid = 0;
	*age = -1;
	snprintf(path, sizeof(path), "%s/" AGENT_HEARTBEAT_FILE, o->run_dir);
	text = nb_agent_read_file(path);
	if (!text) {
		snprintf(why, len, "no agent: %s is missing", path);
		return false;
	}
	p = strstr(text, "pid=");
	if (p)
		*pid = atoi(p + 4);
	p = strstr(text, "updated=");
	if (p)
		updated = atoll(p + 8);
	free(text);
	*age = (long long)time(NULL) - updated;
	if (*pid <= 0 || (kill(*pid, 0) < 0 && errno == ESRCH)) {
		snprintf(why, len, "no agent: process %d of %s is gone", *pid,
			 path);
		return false;
	}
	if (*age > AGENT_HEARTBEAT_STALE) {
		snprintf(why, len, "agent %d not answering: its loop last "
			 "wrote %s %lld s ago", *pid, path, *age);
		return false;
	}
	snprintf(why, len, "agent %d running", *pid);
	return true;
}

static int agent_status_cmp(const void *x, const void *y)
{
	return strcmp(((const struct agent_status_row *)x)->name,
		      ((const struct agent_status_row *)y)->name);
}

/*
 * The volumes: every spec, and the status files of removed specs whose
 * disk is still attached because it is in use. Sorted by name. Returns
 * the count, or -errno when the spec directory cannot be read.
 */
static int agent_status_rows(const struct agent_opts *o,
			     struct agent_status_row **out)
{
	char name[SPEC_STR_MAX + 1], path[PATH_MAX];
	struct agent_status_row *rows = NULL, *tmp;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int pass;
	DIR *d;

	for (pass = 0; pass < 2; pass++) {
		d = opendir(pass ? o->status_dir : o->spec_dir);
		if (!d) {
			if (pass)
				break;
			free(rows);
			return -errno;
		}
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name);

			if (!pass) {
				if (!nb_agent_spec_name(de->d_name, name,
							sizeof(name)))
					continue;
			} else {
				if (len <= 7 || len - 7 >= sizeof(name) ||
				    strcmp(de->d_name + len - 7, ".status") ||
				    de->d_name[0] == '.')
					continue;
				snprintf(name, sizeof(name), "%.*s",
					 (int)(len - 7), de->d_name);
				nb_agent_path(path, sizeof(path), o->spec_dir,
					      name, ".spec");
				if (access(path, F_OK) == 0)
					continue;	/* listed already */
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				tmp = realloc(rows, cap * sizeof(*rows));
				if (!tmp) {
					closedir(d);
					free(rows);
					return -ENOMEM;
				}
				rows = tmp;
			}
			agent_status_read(o, name, &rows[n]);
			if (pass && strcmp(rows[n].state, "in-use"))
				continue;	/* a stale file, not a disk */
			n++;
		}
		closedir(d);
	}
	if (n)
		qsort(rows, n, sizeof(*rows), agent_status_cmp);
	*out = rows;
	return (int)n;
}

static bool agent_status_row_ready(const struct agent_status_row *r)
{
	return !strcmp(r->state, "attached") || !strcmp(r->state, "in-use");
}

static void agent_status_json(const struct agent_status_row *rows, int n,
			      bool alive, int pid, long long age,
			      const char *why, unsigned int attached, bool ready)
{
	json_object *root = json_object_new_object();
	json_object *agent = json_object_new_object();
	json_object *vols = json_object_new_array();
	int i;

	json_object_object_add(agent, "running", json_object_new_boolean(alive));
	json_object_object_add(agent, "pid", pid > 0 ?
			       json_object_new_int(pid) : NULL);
	json_object_object_add(agent, "heartbeat_age_seconds", age >= 0 ?
			       json_object_new_int64(age) : NULL);
	json_object_object_add(agent, "message", json_object_new_string(why));
	json_object_object_add(root, "agent", agent);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_new_object();
		const struct agent_status_row *r = &rows[i];

		json_object_object_add(v, "name", json_object_new_string(r->name));
		json_object_object_add(v, "volume", r->volume[0] ?
				       json_object_new_string(r->volume) : NULL);
		json_object_object_add(v, "state", json_object_new_string(r->state));
		json_object_object_add(v, "device", r->device[0] ?
				       json_object_new_string(r->device) : NULL);
		json_object_object_add(v, "message",
				       json_object_new_string(r->message));
		json_object_object_add(v, "updated", r->updated ?
				       json_object_new_int64(r->updated) : NULL);
		json_object_array_add(vols, v);
	}
	json_object_object_add(root, "volumes", vols);
	json_object_object_add(root, "declared", json_object_new_int(n));
	json_object_object_add(root, "attached", json_object_new_int(attached));
	json_object_object_add(root, "ready", json_object_new_boolean(ready));
	printf("%s\n", json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/*
 * vduse-netblk status: what the status files say about each spec, and
 * whether the agent runs. Exit 0 when it runs (whatever its volumes),
 * with --ready only when every volume is attached too; 1 otherwise.
 */
int nb_agent_status_main(int argc, char **argv)
{
	struct agent_status_row *rows = NULL;
	unsigned int attached = 0;
	struct agent_opts o;
	char why[PATH_MAX + 128];
	long long age;
	bool alive, ready;
	int ret, n, i, pid;

	ret = nb_agent_parse(argc, argv, &o);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	n = agent_status_rows(&o, &rows);
	if (n < 0) {
		fprintf(stderr, "vduse-netblk: cannot read spec directory %s: "
			"%s\n", o.spec_dir, strerror(-n));
		return 1;
	}
	alive = agent_status_alive(&o, &pid, &age, why, sizeof(why));
	for (i = 0; i < n; i++)
		if (agent_status_row_ready(&rows[i]))
			attached++;
	ready = alive && attached == (unsigned int)n;
	if (o.json) {
		agent_status_json(rows, n, alive, pid, age, why, attached, ready);
	} else {
		printf("%-20s %-20s %-9s %-18s %s\n", "NAME", "VOLUME", "STATE",
		       "DEVICE", "MESSAGE");
		for (i = 0; i < n; i++)
			printf("%-20s %-20s %-9s %-18s %s\n", rows[i].name,
			       rows[i].volume[0] ? rows[i].volume : "-",
			       rows[i].state,
			       rows[i].device[0] ? rows[i].device : "-",
			       rows[i].message);
		printf("%d declared, %u attached; %s\n", n, attached, why);
	}
	free(rows);
	if (!alive)
		return 1;
	return o.ready && !ready ? 1 : 0;
}
