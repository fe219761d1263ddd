/* SPDX-License-Identifier: MIT */
/*
 * The file backend (srv_store.h): volumes as sparse files.
 *
 * Reads, writes, hole punches and zeroing go through the page cache with
 * pread/pwrite/fallocate on the calling thread: they are memory copies
 * unless the disk must be read, and handing them to another thread would
 * cost more than it saves (measured in docs/node.md). fdatasync, which
 * waits for the disk, runs on the store's sync threads when it has some:
 * a FLUSH, and the FUA part of a WRITE, queue their volume there; one
 * fdatasync answers every request of that volume queued before it started
 * (their writes all reached the page cache before it began).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "logging.h"
#include "rpc.h"
#include "srv_store.h"

#define FILE_ZERO_CHUNK (64u << 10)
#define FILE_PATH_MAX   4096
#define FILE_LOCK_NAME  ".netblk.lock"

static const uint8_t file_zeroes[FILE_ZERO_CHUNK];
static uint64_t file_sync_count;

struct file_vol {
	struct nb_store_vol base;
	struct file_vol *next;
	char name[RPC_NAME_MAX + 1];
	char *path;
	int fd;
	uint64_t size;           /* __atomic: resize vs. info */
	uint32_t block_size;
	bool read_only;
	/*
	 * The first fdatasync error, kept for good (__atomic): Linux reports a
	 * writeback error to one fdatasync only and marks the pages clean, so
	 * a FLUSH retried after a failed one would succeed without the data.
	 * Every later FLUSH and FUA of the volume fails until it is opened
	 * again (a node restart).
	 */
	int sync_err;

	/*
	 * The writer lock, kept in lock_path (NAME.lock next to the volume),
	 * replaced with rename + fsync. Changes hold wl_order for writing and
	 * flock(LOCK_EX) on the volume's file (other processes over the same
	 * file: the mock's groups); write-class requests hold wl_order for
	 * reading from their check to the end of their write, so a break in
	 * this process waits for them. shared (unmanaged stores): another
	 * process may change the file, so the check compares the file's
	 * identity (stat) with the one cached and re-reads it when it moved.
	 */
	char *lock_path;
	bool shared;
	pthread_rwlock_t wl_order;
	pthread_mutex_t wl_mu;   /* the cache below */
	struct nb_store_lock wl; /* wl.gen also read with __atomic */
	struct stat wl_st;       /* identity of the file read; st_ino 0: none */

	unsigned opens;          /* open handles (under the store's lock) */
	bool removed;            /* out of the list: freed at the last close */
};

struct file_store {
	struct nb_store base;
	char *dir;               /* NULL: no CREATE (unmanaged) */
	bool managed;
	int lock_fd;
	pthread_mutex_t lock;    /* vols */
	struct file_vol *vols;

	/* sync threads: queue of FLUSH and FUA requests */
	unsigned n_threads;
	pthread_t *threads;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct nb_store_io *qhead, *qtail;
	bool stopping;
};

bool nb_store_name_valid(const char *name)
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

uint64_t nb_store_file_syncs(void)
{
	return __atomic_load_n(&file_sync_count, __ATOMIC_RELAXED);
}

static struct file_store *file_store_of(struct nb_store *st)
{
	return (struct file_store *)st;
}

static struct file_vol *file_vol_of(struct nb_store_vol *vol)
{
	return (struct file_vol *)vol;
}

static uint64_t file_vol_size(struct file_vol *v)
{
	return __atomic_load_n(&v->size, __ATOMIC_RELAXED);
}

static int file_sync(struct file_vol *v)
{
	int r = __atomic_load_n(&v->sync_err, __ATOMIC_SEQ_CST);

	if (r)
		return r;
	__atomic_fetch_add(&file_sync_count, 1, __ATOMIC_RELAXED);
	if (fdatasync(v->fd) == 0)
		return 0;
	r = -errno;
	__atomic_store_n(&v->sync_err, r, __ATOMIC_SEQ_CST);
	nb_log_msg(LOG_ERR, "volume %s: fdatasync failed: %s; every later FLUSH and FUA write fails until the node restarts",
		v->name, strerror(-r));
	return r;
}

/* ---- volumes ---- */

/* Make v one of the store's volumes (fs->lock held). */
static void file_link(struct file_store *fs, struct file_vol *v)
{
	v->base.store = &fs->base;
	v->next = fs->vols;
	fs->vols = v;
}

static struct file_vol *file_find(struct file_store *fs, const char *name)
{
	for (struct file_vol *v = fs->vols; v; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

static void file_vol_free(struct file_vol *v)
{
	if (v->fd >= 0)
		close(v->fd);
	pthread_rwlock_destroy(&v->wl_order);
	pthread_mutex_destroy(&v->wl_mu);
	free(v->lock_path);
	free(v->path);
	free(v);
}

/*
 * Open path as a volume. create: O_CREAT (with exclusive: O_EXCL); size
 * 0 takes the file's size, else the file is extended to size. Returns
 * NULL with errno set.
 */
static struct file_vol *file_vol_open(const char *name, const char *path,
				      uint64_t size, uint32_t block_size,
				      bool read_only, bool create, bool exclusive)
{
	struct file_vol *v = calloc(1, sizeof(*v));
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0) |
		    (exclusive ? O_EXCL : 0);
	struct stat st;
	int err;

	if (!v)
		return NULL;
	pthread_rwlock_init(&v->wl_order, NULL);
	pthread_mutex_init(&v->wl_mu, NULL);
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->block_size = block_size;
	v->read_only = read_only;
	v->path = strdup(path);
	if (!v->path)
		goto out_free;
	v->fd = open(path, flags, 0644);
	if (v->fd < 0 && !exclusive && (errno == EACCES || errno == EROFS)) {
		v->fd = open(path, O_RDONLY | O_CLOEXEC);
		v->read_only = true;
	}
	if (v->fd < 0)
		goto out_free;
	if (fstat(v->fd, &st) < 0)
		goto out_close_fd;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		errno = EINVAL;
		goto out_close_fd;
	}
	if (size == 0)
		size = (uint64_t)st.st_size / block_size * block_size;
	if (size == 0) {
		errno = EINVAL;
		goto out_close_fd;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size &&
	    ftruncate(v->fd, (off_t)size) < 0)
		goto out_close_fd;
	v->size = size;
	return v;

out_close_fd:
	err = errno;
	close(v->fd);
	if (exclusive)
		unlink(path);
	errno = err;
out_free:
	err = errno;
	free(v->path);
	pthread_rwlock_destroy(&v->wl_order);
	pthread_mutex_destroy(&v->wl_mu);
	free(v);
	errno = err;
	return NULL;
}

/* ---- the writer lock ---- */

static int file_sync_dir(const char *dir);

static bool file_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void file_lock_cache(struct file_vol *v, const struct nb_store_lock *lk)
{
	memcpy(v->wl.owner, lk->owner, sizeof(v->wl.owner));
	v->wl.since = lk->since;
	__atomic_store_n(&v->wl.gen, lk->gen, __ATOMIC_RELAXED);
}

/*
 * Bring the cache up to date with the lock file (under wl_mu). force:
 * read even when the file looks unchanged. No file: free, generation 0
 * (or the generation cached, if a file was removed under us).
 */
static int file_lock_load(struct file_vol *v, bool force)
{
	struct nb_store_lock lk;
	char text[NB_STORE_OWNER_MAX + 128];
	struct stat st;
	ssize_t n;
	int fd, r;

	if (stat(v->lock_path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		v->wl.owner[0] = '\0';
		v->wl.since = 0;
		memset(&v->wl_st, 0, sizeof(v->wl_st));
		return 0;
	}
	if (!force && v->wl_st.st_ino && file_same_file(&st, &v->wl_st))
		return 0;
	fd = open(v->lock_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;  /* replaced meanwhile: next time */
	r = fstat(fd, &st) < 0 ? -errno : 0;
	n = r == 0 ? read(fd, text, sizeof(text) - 1) : 0;
	if (r == 0 && n < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	text[n] = '\0';
	r = nb_store_lock_parse(text, (size_t)n, &lk);
	if (r < 0)
		return r;
	file_lock_cache(v, &lk);
	v->wl_st = st;
	return 0;
}

static char *file_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;

	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

/* Replace the lock file: temporary file, fdatasync, rename, directory fsync. */
static int file_lock_store(struct file_vol *v, const struct nb_store_lock *lk)
{
	char text[NB_STORE_OWNER_MAX + 128], tmp[FILE_PATH_MAX + 32];
	struct stat st;
	char *dir;
	int fd, n, r = 0;

	n = nb_store_lock_format(lk, text, sizeof(text));
	if (n < 0)
		return n;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", v->lock_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, v->lock_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	dir = file_dir_of(v->lock_path);
	r = dir ? file_sync_dir(dir) : -ENOMEM;
	free(dir);
	file_lock_cache(v, lk);
	v->wl_st = st;
	return r;
}

/*
 * Change the lock: take (owner non-NULL) or break. Orders against this
 * process's write-class requests (wl_order) and other processes' changes
 * (flock on the volume's file).
 */
static int file_lock_change(struct file_vol *v, const char *owner, bool brk,
			    uint64_t expect_gen, struct nb_store_lock *lock)
{
	struct nb_store_lock next;
	int r;

	pthread_rwlock_wrlock(&v->wl_order);
	pthread_mutex_lock(&v->wl_mu);
	if (flock(v->fd, LOCK_EX) < 0) {
		r = -errno;
		goto out_unlock;
	}
	r = file_lock_load(v, true);
	if (r == 0) {
		if (owner)
			r = nb_store_lock_decide(&v->wl, owner, brk, expect_gen,
						 (uint64_t)time(NULL), &next);
		else
			r = nb_store_lock_break_decide(&v->wl, expect_gen, &next);
	}
	if (r == 0 && next.gen != v->wl.gen)
		r = file_lock_store(v, &next);
	flock(v->fd, LOCK_UN);
out_unlock:
	*lock = v->wl;
	pthread_mutex_unlock(&v->wl_mu);
	pthread_rwlock_unlock(&v->wl_order);
	return r;
}

static int file_lock_take(struct nb_store_vol *vol, const char *owner, bool brk,
			  uint64_t expect_gen, struct nb_store_lock *lock)
{
	return file_lock_change(file_vol_of(vol), owner, brk, expect_gen, lock);
}

static int file_lock_break(struct nb_store_vol *vol, uint64_t expect_gen,
			   struct nb_store_lock *lock)
{
	return file_lock_change(file_vol_of(vol), NULL, false, expect_gen, lock);
}

static int file_lock_get(struct nb_store_vol *vol, struct nb_store_lock *lock)
{
	struct file_vol *v = file_vol_of(vol);
	int r = 0;

	pthread_mutex_lock(&v->wl_mu);
	if (v->shared)
		r = file_lock_load(v, false);
	*lock = v->wl;
	pthread_mutex_unlock(&v->wl_mu);
	return r;
}

static bool file_lock_is_current(struct nb_store_vol *vol, uint64_t gen)
{
	return __atomic_load_n(&file_vol_of(vol)->wl.gen, __ATOMIC_RELAXED) == gen;
}

/*
 * The binding check of a write-class request, under wl_order for
 * reading: a shared lock file is looked at again (one stat).
 */
static bool file_lock_check(struct file_vol *v, uint64_t gen)
{
	bool ok;

	if (!v->shared)
		return __atomic_load_n(&v->wl.gen, __ATOMIC_RELAXED) == gen;
	pthread_mutex_lock(&v->wl_mu);
	/* An unreadable lock file fences: the lock cannot be confirmed. */
	ok = file_lock_load(v, false) == 0 && v->wl.gen == gen;
	pthread_mutex_unlock(&v->wl_mu);
	return ok;
}

/* Set up the lock of a new volume handle: path, first read. */
static int file_lock_init(struct file_vol *v, const char *lock_path, bool shared)
{
	int r;

	v->lock_path = strdup(lock_path);
	if (!v->lock_path)
		return -ENOMEM;
	v->shared = shared;
	pthread_mutex_lock(&v->wl_mu);
	r = file_lock_load(v, true);
	pthread_mutex_unlock(&v->wl_mu);
	return r;
}

static void file_path(const struct file_store *fs, const char *name,
		      const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s", fs->dir, name, suffix);
}

/* Managed layout: NAME.meta holds "block_size N". 512 when absent. */
static int file_meta_read(const struct file_store *fs, const char *name,
			  uint32_t *block_size)
{
	char path[FILE_PATH_MAX], line[128];
	unsigned bs;
	FILE *f;

	*block_size = 512;
	file_path(fs, name, ".meta", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "block_size %u", &bs) == 1 && (bs == 512 || bs == 4096))
			*block_size = bs;
	fclose(f);
	return 0;
}

static int file_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int file_meta_write(const struct file_store *fs, const char *name,
			   uint32_t block_size)
{
	char path[FILE_PATH_MAX], tmp[FILE_PATH_MAX + 16];
	FILE *f;
	int r = 0;

	file_path(fs, name, ".meta", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "# netblk-node volume %s\nblock_size %u\n", name, block_size);
	if (fflush(f) != 0 || fdatasync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int nb_store_file_add(struct nb_store *st, const char *name, const char *path,
		      uint64_t size, uint32_t block_size, bool read_only)
{
	struct file_store *fs = file_store_of(st);
	char lock_path[FILE_PATH_MAX + 8];
	struct file_vol *v;
	int r = 0;

	if (!nb_store_name_valid(name) || (block_size != 512 && block_size != 4096) ||
	    size == 0 || size % block_size != 0)
		return -EINVAL;
	pthread_mutex_lock(&fs->lock);
	if (file_find(fs, name)) {
		r = -EEXIST;
		goto out_unlock;
	}
	v = file_vol_open(name, path, size, block_size, read_only, true, false);
	if (!v) {
		r = -errno;
		goto out_unlock;
	}
	/* The mock's --volume keeps ":ro" even for a writable file. */
	v->read_only = v->read_only || read_only;
	/* Other processes may serve the same file: one lock file for all. */
	snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
	r = file_lock_init(v, lock_path, true);
	if (r < 0) {
		file_vol_free(v);
		goto out_unlock;
	}
	file_link(fs, v);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int file_open(struct nb_store *st, const char *name,
		     struct nb_store_vol **out)
{
	struct file_store *fs = file_store_of(st);
	char path[FILE_PATH_MAX];
	struct file_vol *v;
	uint32_t bs;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	v = file_find(fs, name);
	if (v || !fs->managed || !nb_store_name_valid(name))
		goto out_unlock;
	r = file_meta_read(fs, name, &bs);
	if (r < 0)
		goto out_unlock;
	file_path(fs, name, ".vol", path, sizeof(path));
	if (access(path, F_OK) < 0) {
		r = -errno;
		goto out_unlock;
	}
	v = file_vol_open(name, path, 0, bs, false, false, false);
	if (!v) {
		r = -errno;
		goto out_unlock;
	}
	file_path(fs, name, ".lock", path, sizeof(path));
	r = file_lock_init(v, path, false);
	if (r < 0) {
		file_vol_free(v);
		v = NULL;
		goto out_unlock;
	}
	file_link(fs, v);
out_unlock:
	if (v && r == 0)
		v->opens++;
	pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		return r;
	if (!v)
		return -ENOENT;
	*out = &v->base;
	return 0;
}

/* Volumes live as long as the store, unless removed. */
static void file_close(struct nb_store_vol *vol)
{
	struct file_store *fs = file_store_of(vol->store);
	struct file_vol *v = file_vol_of(vol);
	bool gone;

	pthread_mutex_lock(&fs->lock);
	if (v->opens)
		v->opens--;
	gone = v->removed && v->opens == 0;
	pthread_mutex_unlock(&fs->lock);
	if (gone)
		file_vol_free(v);
}

/* unlink path; a missing file is fine. */
static int file_unlink(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Delete a volume: its file, its lock file and (managed) its meta file.
 * An open handle keeps the data until its last close.
 */
static int file_remove(struct nb_store *st, const char *name)
{
	struct file_store *fs = file_store_of(st);
	char path[FILE_PATH_MAX];
	struct file_vol **pp, *v = NULL;
	bool gone = false;
	int r = 0, r2;

	if (!nb_store_name_valid(name))
		return -ENOENT;
	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->vols; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			v = *pp;
			break;
		}
	}
	if (v && v->read_only) {
		r = -EROFS;
		goto out_unlock;
	}
	if (v) {
		r = file_unlink(v->path);
		if (r == 0 && v->lock_path)
			r = file_unlink(v->lock_path);
	} else if (fs->managed) {
		file_path(fs, name, ".vol", path, sizeof(path));
		if (access(path, F_OK) < 0) {
			r = -errno;
			goto out_unlock;
		}
		r = file_unlink(path);
		file_path(fs, name, ".lock", path, sizeof(path));
		if (r == 0)
			r = file_unlink(path);
	} else {
		r = -ENOENT;
	}
	if (r == 0 && fs->managed) {
		file_path(fs, name, ".meta", path, sizeof(path));
		r = file_unlink(path);
		r2 = file_sync_dir(fs->dir);
		if (r == 0)
			r = r2;
	}
	if (r == 0 && v) {
		*pp = v->next;
		v->removed = true;
		gone = v->opens == 0;
	}
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	if (gone)
		file_vol_free(v);
	return r;
}

/* Managed: every NAME.vol of the directory; unmanaged: the volumes added. */
static int file_list(struct nb_store *st, char ***names, size_t *count)
{
	struct file_store *fs = file_store_of(st);
	char **list = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	*names = NULL;
	*count = 0;
	pthread_mutex_lock(&fs->lock);
	if (fs->managed) {
		d = opendir(fs->dir);
		if (!d) {
			r = -errno;
			goto out_unlock;
		}
	}
	for (struct file_vol *v = d ? NULL : fs->vols;;) {
		char name[RPC_NAME_MAX + 1];

		if (d) {
			size_t len;

			errno = 0;
			de = readdir(d);
			if (!de) {
				r = errno ? -errno : 0;
				break;
			}
			len = strlen(de->d_name);
			if (len <= 4 || len - 4 > RPC_NAME_MAX ||
			    strcmp(de->d_name + len - 4, ".vol") != 0)
				continue;
			memcpy(name, de->d_name, len - 4);
			name[len - 4] = '\0';
			if (!nb_store_name_valid(name))
				continue;
		} else {
			if (!v)
				break;
			snprintf(name, sizeof(name), "%s", v->name);
			v = v->next;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			list = grown;
		}
		list[n] = strdup(name);
		if (!list[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (d)
		closedir(d);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	if (r < 0) {
		nb_store_names_free(list, n);
		return r;
	}
	*names = list;
	*count = n;
	return 0;
}

void nb_store_names_free(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int file_info(struct nb_store_vol *vol, struct nb_store_vol_info *out)
{
	struct file_vol *v = file_vol_of(vol);

	out->size = file_vol_size(v);
	out->block_size = v->block_size;
	out->read_only = v->read_only;
	return 0;
}

static int file_create(struct nb_store *st, const char *name, uint64_t size,
		       uint32_t block_size)
{
	struct file_store *fs = file_store_of(st);
	char path[FILE_PATH_MAX], lock_path[FILE_PATH_MAX + 8];
	struct file_vol *v;
	int r = 0;

	if (!fs->dir)
		return -ENOTSUP;
	pthread_mutex_lock(&fs->lock);
	if (file_find(fs, name)) {
		r = -EEXIST;
		goto out_unlock;
	}
	file_path(fs, name, fs->managed ? ".vol" : "", path, sizeof(path));
	v = file_vol_open(name, path, size, block_size, false, true, true);
	if (!v) {
		r = -errno;
		goto out_unlock;
	}
	/* A lock left by a removed volume of that name is not this one's. */
	snprintf(lock_path, sizeof(lock_path), "%s/%s.lock", fs->dir, name);
	unlink(lock_path);
	r = file_lock_init(v, lock_path, !fs->managed);
	if (r < 0) {
		unlink(path);
		file_vol_free(v);
		goto out_unlock;
	}
	if (fs->managed) {
		/* The volume survives a crash once CREATE is answered. */
		r = file_sync(v);
		if (r == 0)
			r = file_meta_write(fs, name, block_size);
		if (r == 0)
			r = file_sync_dir(fs->dir);
		if (r < 0) {
			unlink(path);
			file_path(fs, name, ".meta", path, sizeof(path));
			unlink(path);
			file_vol_free(v);
			goto out_unlock;
		}
	}
	file_link(fs, v);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int file_resize(struct nb_store_vol *vol, uint64_t new_size)
{
	struct file_vol *v = file_vol_of(vol);
	struct stat st;

	if (new_size < file_vol_size(v) || new_size % v->block_size != 0)
		return -EINVAL;
	if (new_size == file_vol_size(v))
		return 0;
	if (fstat(v->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < new_size &&
	    ftruncate(v->fd, (off_t)new_size) < 0)
		return -errno;
	__atomic_store_n(&v->size, new_size, __ATOMIC_RELAXED);
	return 0;
}

/* ---- data ---- */

static int file_read(struct file_vol *v, uint8_t *p, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(v->fd, p, len, (off_t)off);

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

static int file_write(struct file_vol *v, const uint8_t *p, uint64_t len,
		      uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(v->fd, p, len, (off_t)off);

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

static int file_write_zero_bytes(struct file_vol *v, uint64_t off, uint64_t len)
{
	while (len > 0) {
		uint64_t n = len < FILE_ZERO_CHUNK ? len : FILE_ZERO_CHUNK;
		int r = file_write(v, file_zeroes, n, off);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int file_fallocate(struct file_vol *v, int mode, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (fallocate(v->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV)
		return file_write_zero_bytes(v, off, len);
	return -errno;
}

/* Queue io for an fdatasync of its volume on a sync thread. */
static void file_queue_sync(struct file_store *fs, struct nb_store_io *io)
{
	io->store_next = NULL;
	pthread_mutex_lock(&fs->qlock);
	if (fs->qtail)
		fs->qtail->store_next = io;
	else
		fs->qhead = io;
	fs->qtail = io;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
}

static void *file_sync_thread(void *arg)
{
	struct file_store *fs = arg;

	pthread_mutex_lock(&fs->qlock);
	for (;;) {
		struct nb_store_io *io, *batch = NULL, **tail = &batch, **pp;
		struct file_vol *v;
		int r;

		while (!fs->qhead && !fs->stopping)
			pthread_cond_wait(&fs->qcond, &fs->qlock);
		if (!fs->qhead)
			break;
		/* Every request of this volume queued now shares one fdatasync. */
		v = fs->qhead->store_priv;
		for (pp = &fs->qhead; (io = *pp);) {
			if (io->store_priv == v) {
				*pp = io->store_next;
				io->store_next = NULL;
				*tail = io;
				tail = &io->store_next;
			} else {
				pp = &io->store_next;
			}
		}
		fs->qtail = NULL;
		for (io = fs->qhead; io; io = io->store_next)
			fs->qtail = io;
		pthread_mutex_unlock(&fs->qlock);
		r = file_sync(v);
		while ((io = batch)) {
			batch = io->store_next;
			nb_store_io_complete(io, r);
		}
		pthread_mutex_lock(&fs->qlock);
	}
	pthread_mutex_unlock(&fs->qlock);
	return NULL;
}

static void file_submit(struct nb_store_vol *vol, struct nb_store_io *io)
{
	struct file_vol *v = file_vol_of(vol);
	struct file_store *fs = file_store_of(vol->store);
	bool gen = io->flags & NB_STORE_GEN, sync = false;
	int r = 0;

	if (gen) {
		/* Held until the data is in the file: a break waits for it. */
		pthread_rwlock_rdlock(&v->wl_order);
		if (!file_lock_check(v, io->gen)) {
			pthread_rwlock_unlock(&v->wl_order);
			io->refused = true;
			nb_store_io_complete(io, -ESTALE);
			return;
		}
	}
	switch (io->op) {
	case NB_STORE_READ:
		r = file_read(v, io->buf, io->length, io->offset);
		break;
	case NB_STORE_WRITE:
		r = file_write(v, io->buf, io->length, io->offset);
		sync = io->flags & NB_STORE_FUA;
		break;
	case NB_STORE_FLUSH:
		sync = true;
		break;
	case NB_STORE_DISCARD:
		r = file_fallocate(v, FALLOC_FL_PUNCH_HOLE, io->offset, io->length);
		break;
	case NB_STORE_WRITE_ZEROES:
		r = file_fallocate(v, io->flags & NB_STORE_UNMAP ? FALLOC_FL_PUNCH_HOLE :
				   FALLOC_FL_ZERO_RANGE, io->offset, io->length);
		sync = io->flags & NB_STORE_FUA;
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	if (gen)
		pthread_rwlock_unlock(&v->wl_order);
	if (r == 0 && sync) {
		if (fs->n_threads > 0) {
			io->store_priv = v;
			file_queue_sync(fs, io);
			return;
		}
		r = file_sync(v);
	}
	nb_store_io_complete(io, r);
}

static void file_describe(struct nb_store_vol *vol, char *buf, size_t len)
{
	snprintf(buf, len, "file %s", file_vol_of(vol)->path);
}

static void file_stats(struct nb_store *st, char *buf, size_t len)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, " fdatasyncs=%llu",
			 (unsigned long long)nb_store_file_syncs());
}

static void file_destroy(struct nb_store *st)
{
	struct file_store *fs = file_store_of(st);
	struct file_vol *v;

	pthread_mutex_lock(&fs->qlock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
	for (unsigned i = 0; i < fs->n_threads; i++)
		pthread_join(fs->threads[i], NULL);
	free(fs->threads);
	while ((v = fs->vols)) {
		fs->vols = v->next;
		file_vol_free(v);
	}
	if (fs->lock_fd >= 0)
		close(fs->lock_fd);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->qlock);
	pthread_cond_destroy(&fs->qcond);
	free(fs->dir);
	free(fs);
}

static const struct nb_store_ops file_ops = {
	.name = "file",
	.destroy = file_destroy,
	.open = file_open,
	.close = file_close,
	.info = file_info,
	.create = file_create,
	.resize = file_resize,
	.remove = file_remove,
	.list = file_list,
	.submit = file_submit,
	.lock_take = file_lock_take,
	.lock_break = file_lock_break,
	.lock_get = file_lock_get,
	.lock_is_current = file_lock_is_current,
	.describe = file_describe,
	.stats = file_stats,
};

/* The managed directory belongs to one store: an exclusive flock. */
static int file_lock_dir(struct file_store *fs, char *err, size_t errlen)
{
	char path[FILE_PATH_MAX], pid[32];
	int n;

	snprintf(path, sizeof(path), "%s/%s", fs->dir, FILE_LOCK_NAME);
	fs->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fs->lock_fd < 0)
		return nb_errf(err, errlen, -errno, "cannot open %s: %s", path,
			       strerror(errno));
	if (flock(fs->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		n = (int)pread(fs->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (r == -EWOULDBLOCK)
			return nb_errf(err, errlen, -EBUSY,
				       "directory %s is in use by another node (pid %s holds %s): a file node owns its volumes alone",
				       fs->dir, pid[0] ? pid : "?", path);
		return nb_errf(err, errlen, r, "cannot lock %s: %s", path, strerror(-r));
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fs->lock_fd, 0) == 0 && pwrite(fs->lock_fd, pid, (size_t)n, 0) < 0)
		return nb_errf(err, errlen, -errno, "cannot write %s: %s", path,
			       strerror(errno));
	return 0;
}

struct nb_store *nb_store_file_new(const char *dir, bool managed,
				   unsigned io_threads, char *err, size_t errlen)
{
	struct file_store *fs = calloc(1, sizeof(*fs));
	struct stat st;
	int r;

	if (!fs) {
		nb_errf(err, errlen, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	fs->base.ops = &file_ops;
	fs->base.writes_durable = false;
	fs->managed = managed;
	fs->lock_fd = -1;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	if (dir) {
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			r = nb_errf(err, errlen, -ENOTDIR, "%s: not a directory", dir);
			goto out_destroy;
		}
		fs->dir = strdup(dir);
		if (!fs->dir) {
			r = nb_errf(err, errlen, -ENOMEM, "out of memory");
			goto out_destroy;
		}
	}
	if (managed) {
		if (!dir) {
			r = nb_errf(err, errlen, -EINVAL, "a managed file store needs a directory");
			goto out_destroy;
		}
		r = file_lock_dir(fs, err, errlen);
		if (r < 0)
			goto out_destroy;
	}
	if (io_threads > 0) {
		fs->threads = calloc(io_threads, sizeof(*fs->threads));
		if (!fs->threads) {
			r = nb_errf(err, errlen, -ENOMEM, "out of memory");
			goto out_destroy;
		}
		for (; fs->n_threads < io_threads; fs->n_threads++) {
			r = -pthread_create(&fs->threads[fs->n_threads], NULL,
					    file_sync_thread, fs);
			if (r < 0) {
				nb_errf(err, errlen, r, "cannot start a sync thread: %s",
					strerror(-r));
				goto out_destroy;
			}
		}
	}
	return &fs->base;

out_destroy:
	file_destroy(&fs->base);
	errno = -r;
	return NULL;
}
