/* SPDX-License-Identifier: MIT */
/*
 * Is a disk in use? Before the agent detaches /dev/vdX it looks for what
 * would lose its disk: a file system mounted on it or on a partition, a
 * block device stacked on it (sysfs holders: device mapper, md), a
 * process holding it open, or an exclusive claim (O_EXCL) by anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent_priv.h"
#include "sysfs.h"

/* The first holder of the disk or one of its partitions. */
static bool inuse_holder(const char *disk, char *why, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de, *he;
	bool found = false;
	DIR *d, *h;

	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (strcmp(de->d_name, "holders") &&
		    strncmp(de->d_name, disk, strlen(disk)))
			continue;
		if (!strcmp(de->d_name, "holders"))
			snprintf(path, sizeof(path), "/sys/block/%s/holders",
				 disk);
		else
			snprintf(path, sizeof(path), "/sys/block/%s/%s/holders",
				 disk, de->d_name);
		h = opendir(path);
		while (h && !found && (he = readdir(h))) {
			if (he->d_name[0] == '.')
				continue;
			snprintf(why, len, "held by /dev/%s", he->d_name);
			found = true;
		}
		if (h)
			closedir(h);
	}
	closedir(d);
	return found;
}

/* Major and minor of the disk and its partitions: "MAJ:MIN" strings. */
static bool inuse_mounted(const char *disk, char *why, size_t len)
{
	char path[PATH_MAX], dev[32], line[4096];
	struct dirent *de;
	char devs[65][32];
	size_t n = 0, i;
	bool found = false;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	d = opendir(path);
	if (!d)
		return false;
	while (n < 65 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!strcmp(de->d_name, "dev"))
			snprintf(path, sizeof(path), "/sys/block/%s/dev", disk);
		else if (!strncmp(de->d_name, disk, strlen(disk)))
			snprintf(path, sizeof(path), "/sys/block/%s/%s/dev",
				 disk, de->d_name);
		else
			continue;
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(dev, sizeof(dev), f)) {
			dev[strcspn(dev, "\n")] = '\0';
			snprintf(devs[n++], sizeof(devs[0]), "%s", dev);
		}
		fclose(f);
	}
	closedir(d);
	/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
	f = fopen("/proc/self/mountinfo", "r");
	while (f && !found && fgets(line, sizeof(line), f)) {
		char majmin[32], mnt[PATH_MAX];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", majmin, mnt) != 2)
			continue;
		for (i = 0; i < n; i++) {
			if (!strcmp(majmin, devs[i])) {
				snprintf(why, len, "mounted at %s", mnt);
				found = true;
				break;
			}
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* A process other than this one with the disk open. */
static bool inuse_open(dev_t rdev, char *why, size_t len)
{
	char path[PATH_MAX];
	struct dirent *pe, *fe;
	bool found = false;
	pid_t self = getpid();
	DIR *proc, *fds;

	proc = opendir("/proc");
	while (proc && !found && (pe = readdir(proc))) {
		long pid = strtol(pe->d_name, NULL, 10);

		if (pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		while (fds && !found && (fe = readdir(fds))) {
			struct stat st;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid,
				 fe->d_name);
			if (stat(path, &st) == 0 && S_ISBLK(st.st_mode) &&
			    st.st_rdev == rdev) {
				char comm[64] = "?";
				FILE *f;

				snprintf(path, sizeof(path), "/proc/%ld/comm",
					 pid);
				f = fopen(path, "r");
				if (f) {
					if (fgets(comm, sizeof(comm), f))
						comm[strcspn(comm, "\n")] = '\0';
					fclose(f);
				}
				snprintf(why, len, "open by process %ld (%s)",
					 pid, comm);
				found = true;
			}
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return found;
}

/*
 * A loop device over the disk (the CSI driver's read-only block
 * publication makes one): the loop driver holds the disk open without an
 * exclusive claim and shows up neither as a holder nor in this
 * namespace's /proc.
 */
static bool inuse_loop(const char *node, dev_t rdev, char *why, size_t len)
{
	char path[PATH_MAX], backing[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/sys/block");

	while (d && !found && (de = readdir(d))) {
		struct stat st;
		FILE *f;

		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;	/* not set up */
		if (fgets(backing, sizeof(backing), f)) {
			backing[strcspn(backing, "\n")] = '\0';
			if (!strcmp(backing, node) ||
			    (stat(backing, &st) == 0 && S_ISBLK(st.st_mode) &&
			     st.st_rdev == rdev)) {
				snprintf(why, len, "the backing device of /dev/%.64s",
					 de->d_name);
				found = true;
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

bool nb_agent_disk_in_use(const char *node, char *why, size_t len)
{
	const char *disk = strrchr(node, '/');
	struct stat st;
	int fd;

	if (!nb_sysfs_is_disk(node) || !disk || stat(node, &st) < 0 ||
	    !S_ISBLK(st.st_mode))
		return false;
	disk++;
	if (inuse_mounted(disk, why, len) || inuse_holder(disk, why, len) ||
	    inuse_loop(node, st.st_rdev, why, len) ||
	    inuse_open(st.st_rdev, why, len))
		return true;
	/* Anything else with an exclusive claim (a mount in another mount
	 * namespace, a kernel user). */
	fd = open(node, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EBUSY) {
		snprintf(why, len, "claimed exclusively (mounted in another "
			 "mount namespace, or used by the kernel)");
		return true;
	}
	if (fd >= 0)
		close(fd);
	return false;
}
