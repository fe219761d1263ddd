/* SPDX-License-Identifier: MIT */
/* Storage of one volume: memory mapping or sparse file (volume.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volume.h"

#define MOCK_ZERO_CHUNK (64u << 10)

static const uint8_t mock_volume_zeroes[MOCK_ZERO_CHUNK];

bool mock_volume_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > RPC_NAME_MAX)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static struct mock_volume *mock_volume_alloc(const char *name, uint64_t size,
					     uint32_t block_size, bool read_only)
{
	struct mock_volume *vol;

	if (!mock_volume_name_valid(name) ||
	    (block_size != 512 && block_size != 4096) ||
	    size == 0 || size % block_size != 0) {
		errno = EINVAL;
		return NULL;
	}
	vol = calloc(1, sizeof(*vol));
	if (!vol)
		return NULL;
	snprintf(vol->name, sizeof(vol->name), "%s", name);
	vol->size = size;
	vol->block_size = block_size;
	vol->read_only = read_only;
	vol->fd = -1;
	return vol;
}

struct mock_volume *mock_volume_new_memory(const char *name, uint64_t size,
					   uint32_t block_size, bool read_only)
{
	struct mock_volume *vol = mock_volume_alloc(name, size, block_size, read_only);
	void *mem;

	if (!vol)
		return NULL;
	if (size > SIZE_MAX) {
		errno = EFBIG;
		goto out_free;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		goto out_free;
	vol->mem = mem;
	vol->mem_len = size;
	return vol;

out_free:
	free(vol);
	return NULL;
}

struct mock_volume *mock_volume_new_file(const char *name, const char *path,
					 uint64_t size, uint32_t block_size,
					 bool read_only, bool exclusive)
{
	struct mock_volume *vol = mock_volume_alloc(name, size, block_size, read_only);
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : 0);
	struct stat st;
	int err;

	if (!vol)
		return NULL;
	vol->path = strdup(path);
	if (!vol->path)
		goto out_free;
	vol->fd = open(path, flags, 0644);
	if (vol->fd < 0 && read_only && !exclusive && (errno == EACCES || errno == EROFS))
		vol->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (vol->fd < 0)
		goto out_free;
	if (fstat(vol->fd, &st) < 0)
		goto out_close_fd;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		errno = EINVAL;
		goto out_close_fd;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size &&
	    ftruncate(vol->fd, (off_t)size) < 0)
		goto out_close_fd;
	return vol;

out_close_fd:
	err = errno;
	close(vol->fd);
	if (exclusive)
		unlink(path);
	errno = err;
out_free:
	err = errno;
	free(vol->path);
	free(vol);
	errno = err;
	return NULL;
}

void mock_volume_free(struct mock_volume *vol)
{
	if (!vol)
		return;
	if (vol->mem)
		munmap(vol->mem, vol->mem_len);
	if (vol->fd >= 0)
		close(vol->fd);
	free(vol->path);
	free(vol);
}

int mock_volume_read(struct mock_volume *vol, void *buf, uint64_t len,
		     uint64_t off)
{
	uint8_t *p = buf;

	if (vol->mem) {
		memcpy(buf, vol->mem + off, len);
		return 0;
	}
	while (len > 0) {
		ssize_t n = pread(vol->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* Shorter file (shared and truncated elsewhere): zeroes. */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int mock_volume_write(struct mock_volume *vol, const void *buf, uint64_t len,
		      uint64_t off)
{
	const uint8_t *p = buf;

	if (vol->mem) {
		memcpy(vol->mem + off, buf, len);
		return 0;
	}
	while (len > 0) {
		ssize_t n = pwrite(vol->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int mock_volume_flush(struct mock_volume *vol)
{
	if (vol->mem)
		return 0;
	if (fdatasync(vol->fd) < 0)
		return -errno;
	return 0;
}

static int mock_volume_write_zero_bytes(struct mock_volume *vol, uint64_t off,
					uint64_t len)
{
	while (len > 0) {
		uint64_t n = len < MOCK_ZERO_CHUNK ? len : MOCK_ZERO_CHUNK;
		int r = mock_volume_write(vol, mock_volume_zeroes, n, off);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* Memory: whole pages are dropped (they read back as zeroes), edges cleared. */
static void mock_volume_zero_memory(struct mock_volume *vol, uint64_t off,
				    uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (off + page - 1) / page * page;
	uint64_t end = (off + len) / page * page;

	if (start >= end) {
		memset(vol->mem + off, 0, len);
		return;
	}
	memset(vol->mem + off, 0, start - off);
	if (madvise(vol->mem + start, end - start, MADV_DONTNEED) < 0)
		memset(vol->mem + start, 0, end - start);
	memset(vol->mem + end, 0, off + len - end);
}

static int mock_volume_fallocate(struct mock_volume *vol, int mode,
				 uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (fallocate(vol->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV)
		return mock_volume_write_zero_bytes(vol, off, len);
	return -errno;
}

int mock_volume_discard(struct mock_volume *vol, uint64_t off, uint64_t len)
{
	if (vol->mem) {
		mock_volume_zero_memory(vol, off, len);
		return 0;
	}
	return mock_volume_fallocate(vol, FALLOC_FL_PUNCH_HOLE, off, len);
}

int mock_volume_write_zeroes(struct mock_volume *vol, uint64_t off,
			     uint64_t len, bool unmap)
{
	if (vol->mem) {
		mock_volume_zero_memory(vol, off, len);
		return 0;
	}
	return mock_volume_fallocate(vol, unmap ? FALLOC_FL_PUNCH_HOLE :
				     FALLOC_FL_ZERO_RANGE, off, len);
}

int mock_volume_resize(struct mock_volume *vol, uint64_t new_size)
{
	struct stat st;

	if (new_size < vol->size || new_size % vol->block_size != 0)
		return -EINVAL;
	if (new_size == vol->size)
		return 0;
	if (vol->mem) {
		void *mem;

		if (new_size > SIZE_MAX)
			return -EFBIG;
		mem = mremap(vol->mem, vol->mem_len, new_size, MREMAP_MAYMOVE);
		if (mem == MAP_FAILED)
			return -errno;
		vol->mem = mem;
		vol->mem_len = new_size;
	} else {
		if (fstat(vol->fd, &st) < 0)
			return -errno;
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < new_size &&
		    ftruncate(vol->fd, (off_t)new_size) < 0)
			return -errno;
	}
	vol->size = new_size;
	return 0;
}

void mock_volume_info(const struct mock_volume *vol, struct rpc_volume_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->volume, sizeof(out->volume), "%s", vol->name);
	out->size = vol->size;
	out->block_size = vol->block_size;
	out->read_only = vol->read_only;
	out->max_discard_size = vol->max_discard;
	out->max_write_zeroes_size = vol->max_write_zeroes;
}
