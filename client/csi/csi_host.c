/* SPDX-License-Identifier: MIT */
/*
 * What the node service asks of the host: mounts (from mountinfo),
 * directories, small files written atomically, the agent's key=value
 * status files, block device sizes. Declared in csi_host.h.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
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

#include "csi.h"
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

long long nb_csi_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	long long btime = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

bool nb_csi_dev_of_vdpa(const char *dev, const char *name)
{
	char pattern[PATH_MAX], text[64];
	unsigned int maj, min;
	bool ok = false;
	struct stat st;
	glob_t g;
	size_t i;

	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode) || strchr(name, '/') || name[0] == '.')
		return false;
	snprintf(pattern, sizeof(pattern), "/sys/bus/vdpa/devices/%s/virtio*/block/*/dev", name);
	if (glob(pattern, 0, NULL, &g) != 0)
		return false;
	for (i = 0; i < g.gl_pathc && !ok; i++)
		ok = nb_csi_read_file(g.gl_pathv[i], text, sizeof(text)) == 0 &&
		     sscanf(text, "%u:%u", &maj, &min) == 2 && makedev(maj, min) == st.st_rdev;
	globfree(&g);
	return ok;
}

/* len bytes at off of fd all zero? 1, 0 or -errno */
static int csi_zeros_at(int fd, uint64_t off, size_t len)
{
	static const char zero[65536];
	char buf[65536];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t r = pread(fd, buf, n, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;	/* shorter than it said */
		if (memcmp(buf, zero, (size_t)r) != 0)
			return 0;
		done += (size_t)r;
	}
	return 1;
}

int nb_csi_dev_blank(const char *dev)
{
	const uint64_t mib = 1 << 20;
	uint64_t size = 0;
	int fd = open(dev, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		r = -errno;
		goto out_close;
	}
	if (size == 0) {
		r = -ENOSPC;
		goto out_close;
	}
	r = csi_zeros_at(fd, 0, size < mib ? size : mib);
	if (r == 1 && size > mib)
		r = csi_zeros_at(fd, size > 2 * mib ? size - mib : mib,
				 size > 2 * mib ? mib : size - mib);
out_close:
	close(fd);
	return r;
}

/* is resolved path p dir itself or below it? */
static bool csi_below(const char *p, const char *dir)
{
	size_t k = strlen(dir);

	if (k == 1 && dir[0] == '/')
		return true;
	return strncmp(p, dir, k) == 0 && (p[k] == '/' || p[k] == '\0');
}

bool nb_csi_path_inside(const char *path, const char *dir)
{
	char real_dir[PATH_MAX], part[PATH_MAX], real[PATH_MAX], *slash;
	struct stat st;

	if (!realpath(dir, real_dir))
		return false;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return false;
	snprintf(part, sizeof(part), "%s", path);
	/* the deepest part of path that exists, resolved */
	while (!realpath(part, real)) {
		if (errno != ENOENT && errno != ENOTDIR)
			return false;
		slash = strrchr(part, '/');
		if (!slash || slash == part)
			return false;
		*slash = '\0';
	}
	return csi_below(real, real_dir);
}

bool nb_csi_loop_name(dev_t rdev, char *buf, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	struct stat st;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u/loop", major(rdev), minor(rdev));
	if (stat(link, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	snprintf(buf, len, "/dev/%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	return true;
}

int nb_csi_loops_detach(const char *backing, char *err, size_t errlen)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char path[PATH_MAX], text[PATH_MAX], loop[300], out[512];
		char *argv[] = { "losetup", "-d", loop, NULL };
		size_t n;

		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", e->d_name);
		if (nb_csi_read_file(path, text, sizeof(text)) < 0)
			continue;	/* not set up */
		n = strlen(text);
		while (n && text[n - 1] == '\n')
			text[--n] = '\0';
		if (strcmp(text, backing) != 0)
			continue;
		snprintf(loop, sizeof(loop), "/dev/%s", e->d_name);
		if (nb_csi_run(argv, out, sizeof(out)) != 0 && r == 0) {
			snprintf(err, errlen, "losetup -d %s: %s", loop, out);
			r = -EIO;
		}
	}
	closedir(d);
	return r;
}
