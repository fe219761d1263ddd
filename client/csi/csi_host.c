/* SPDX-License-Identifier: MIT */
/*
 * What the node service asks of the host: mounts (from mountinfo),
 * directories, small files written atomically, the agent's key=value
 * status files, block device sizes. Declared in csi_host.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "csi_host.h"

/* unescape a mountinfo field (\040 for a space, ...) in place */
static void csi_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/*
 * Is path a mount point? *dev gets the mounted device's number, *ro
 * whether it is mounted read-only (the topmost mount counts).
 */
bool nb_csi_mounted(const char *path, dev_t *dev, bool *ro)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *fields[6];
		unsigned int maj, min;
		int i;

		fields[0] = strtok_r(line, " ", &save);
		for (i = 1; i < 6 && fields[i - 1]; i++)
			fields[i] = strtok_r(NULL, " ", &save);
		if (i < 6 || !fields[5])
			continue;
		csi_unescape(fields[4]);
		if (strcmp(fields[4], path) != 0)
			continue;
		if (sscanf(fields[2], "%u:%u", &maj, &min) != 2)
			continue;
		found = true;
		if (dev)
			*dev = makedev(maj, min);
		if (ro)
			*ro = strncmp(fields[5], "ro", 2) == 0 && (fields[5][2] == ',' || !fields[5][2]);
	}
	fclose(f);
	return found;
}

int nb_csi_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* key=value from a status file; "" when absent */
bool nb_csi_status_get(const char *text, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);
	const char *p = text;

	out[0] = '\0';
	while (p && *p) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			const char *e = strchr(p + k + 1, '\n');
			size_t n = e ? (size_t)(e - p - k - 1) : strlen(p + k + 1);

			if (n >= len)
				n = len - 1;
			memcpy(out, p + k + 1, n);
			out[n] = '\0';
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

int nb_csi_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int nb_csi_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	int fd, e = 0;
	size_t len = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		e = errno ? errno : EIO;
	close(fd);
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e)
		unlink(tmp);
	return -e;
}

uint64_t nb_csi_dev_size(const char *dev)
{
	uint64_t size = 0;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	close(fd);
	return size;
}

void nb_csi_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool nb_csi_dev_ro(const char *dev)
{
	int ro = 0, fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (ioctl(fd, BLKROGET, &ro) < 0)
		ro = 0;
	close(fd);
	return ro != 0;
}
