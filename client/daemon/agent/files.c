/* SPDX-License-Identifier: MIT */
/* The agent's small files: atomic writes, bounded reads, names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_priv.h"

/* Write path atomically (temporary file + rename). */
int nb_agent_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

char *nb_agent_read_file(const char *path)
{
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(64 * 1024 + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, 64 * 1024);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		free(buf);
		return NULL;
	}
	return buf;
}

void nb_agent_path(char *out, size_t len, const char *dir,
		const char *name, const char *suffix)
{
	snprintf(out, len, "%s/%s%s", dir, name, suffix);
}

/* "NAME.spec" -> "NAME"; false for other files. */
bool nb_agent_spec_name(const char *file, char *name, size_t len)
{
	size_t n = strlen(file);

	if (n <= 5 || strcmp(file + n - 5, ".spec") || n - 5 >= len ||
	    file[0] == '.')
		return false;
	memcpy(name, file, n - 5);
	name[n - 5] = '\0';
	return true;
}
