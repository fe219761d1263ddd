/* SPDX-License-Identifier: MIT */
/*
 * The memory backend (srv_store.h): each volume is an anonymous private
 * mapping with MAP_NORESERVE, so untouched blocks cost nothing. Requests
 * complete inside submit(): a memcpy is cheaper than any hand-over.
 * Volumes are shared between threads; a resize (mremap) takes the
 * volume's lock for writing, requests take it for reading.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"
#include "srv_store.h"

struct memory_vol {
	struct nb_store_vol base;
	struct memory_vol *next;
	char name[RPC_NAME_MAX + 1];
	pthread_rwlock_t lock;   /* mem and size: readers do I/O, resize writes */
	uint8_t *mem;
	uint64_t size;
	uint32_t block_size;
	bool read_only;
	/* The writer lock: changed under lock held for writing, so a break
	 * waits for the requests executing (they hold it for reading). */
	struct nb_store_lock wlock;
	unsigned opens;          /* open handles (under the store's lock) */
	bool removed;            /* out of the list: freed at the last close */
};

struct memory_store {
	struct nb_store base;
	pthread_mutex_t lock;    /* the list */
	struct memory_vol *vols;
};

static struct memory_store *memory_store_of(struct nb_store *st)
{
	return (struct memory_store *)st;
}

static struct memory_vol *memory_vol_of(struct nb_store_vol *vol)
{
	return (struct memory_vol *)vol;
}

static struct memory_vol *memory_find(struct memory_store *ms, const char *name)
{
	for (struct memory_vol *v = ms->vols; v; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

int nb_store_memory_add(struct nb_store *st, const char *name, uint64_t size,
			uint32_t block_size, bool read_only)
{
	struct memory_store *ms = memory_store_of(st);
	struct memory_vol *v;
	void *mem;
	int r = 0;

	if (!nb_store_name_valid(name) || (block_size != 512 && block_size != 4096) ||
	    size == 0 || size % block_size != 0)
		return -EINVAL;
	if (size > SIZE_MAX)
		return -EFBIG;
	pthread_mutex_lock(&ms->lock);
	if (memory_find(ms, name)) {
		r = -EEXIST;
		goto out_unlock;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out_unlock;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		r = -errno;
		free(v);
		goto out_unlock;
	}
	v->base.store = st;
	snprintf(v->name, sizeof(v->name), "%s", name);
	pthread_rwlock_init(&v->lock, NULL);
	v->mem = mem;
	v->size = size;
	v->block_size = block_size;
	v->read_only = read_only;
	v->next = ms->vols;
	ms->vols = v;
out_unlock:
	pthread_mutex_unlock(&ms->lock);
	return r;
}

static int memory_create(struct nb_store *st, const char *name, uint64_t size,
			 uint32_t block_size)
{
	return nb_store_memory_add(st, name, size, block_size, false);
}

static int memory_open(struct nb_store *st, const char *name,
		       struct nb_store_vol **out)
{
	struct memory_store *ms = memory_store_of(st);
	struct memory_vol *v;

	pthread_mutex_lock(&ms->lock);
	v = memory_find(ms, name);
	if (v)
		v->opens++;
	pthread_mutex_unlock(&ms->lock);
	if (!v)
		return -ENOENT;
	*out = &v->base;
	return 0;
}

static void memory_vol_free(struct memory_vol *v)
{
	if (v->mem)
		munmap(v->mem, v->size);
	pthread_rwlock_destroy(&v->lock);
	free(v);
}

/* Volumes live as long as the store, unless removed. */
static void memory_close(struct nb_store_vol *vol)
{
	struct memory_store *ms = memory_store_of(vol->store);
	struct memory_vol *v = memory_vol_of(vol);
	bool gone;

	pthread_mutex_lock(&ms->lock);
	if (v->opens)
		v->opens--;
	gone = v->removed && v->opens == 0;
	pthread_mutex_unlock(&ms->lock);
	if (gone)
		memory_vol_free(v);
}

static int memory_remove(struct nb_store *st, const char *name)
{
	struct memory_store *ms = memory_store_of(st);
	struct memory_vol **pp, *v = NULL;
	bool gone = false;

	pthread_mutex_lock(&ms->lock);
	for (pp = &ms->vols; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			v = *pp;
			*pp = v->next;
			v->removed = true;
			gone = v->opens == 0;
			break;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	if (!v)
		return -ENOENT;
	if (gone)
		memory_vol_free(v);
	return 0;
}

static int memory_info(struct nb_store_vol *vol, struct nb_store_vol_info *out)
{
	struct memory_vol *v = memory_vol_of(vol);

	pthread_rwlock_rdlock(&v->lock);
	out->size = v->size;
	pthread_rwlock_unlock(&v->lock);
	out->block_size = v->block_size;
	out->read_only = v->read_only;
	return 0;
}

static int memory_resize(struct nb_store_vol *vol, uint64_t new_size)
{
	struct memory_vol *v = memory_vol_of(vol);
	void *mem;
	int r = 0;

	if (new_size % v->block_size != 0)
		return -EINVAL;
	if (new_size > SIZE_MAX)
		return -EFBIG;
	pthread_rwlock_wrlock(&v->lock);
	if (new_size < v->size) {
		r = -EINVAL;
	} else if (new_size > v->size) {
		mem = mremap(v->mem, v->size, new_size, MREMAP_MAYMOVE);
		if (mem == MAP_FAILED) {
			r = -errno;
		} else {
			v->mem = mem;
			v->size = new_size;
		}
	}
	pthread_rwlock_unlock(&v->lock);
	return r;
}

/* Whole pages are dropped (they read back as zeroes), edges cleared. */
static void memory_zero(struct memory_vol *v, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (off + page - 1) / page * page;
	uint64_t end = (off + len) / page * page;

	if (start >= end) {
		memset(v->mem + off, 0, len);
		return;
	}
	memset(v->mem + off, 0, start - off);
	if (madvise(v->mem + start, end - start, MADV_DONTNEED) < 0)
		memset(v->mem + start, 0, end - start);
	memset(v->mem + end, 0, off + len - end);
}

static void memory_submit(struct nb_store_vol *vol, struct nb_store_io *io)
{
	struct memory_vol *v = memory_vol_of(vol);
	int r = 0;

	pthread_rwlock_rdlock(&v->lock);
	if ((io->flags & NB_STORE_GEN) && io->gen != v->wlock.gen) {
		io->refused = true;
		r = -ESTALE;
	} else if (io->op != NB_STORE_FLUSH &&
	    (io->offset > v->size || io->length > v->size - io->offset)) {
		r = -EINVAL;  /* the core checked against an older size */
	} else if (io->length == 0 && io->op != NB_STORE_FLUSH) {
		/* nothing to move; buf may be NULL for an empty request */
	} else {
		switch (io->op) {
		case NB_STORE_READ:
			memcpy(io->buf, v->mem + io->offset, io->length);
			break;
		case NB_STORE_WRITE:
			memcpy(v->mem + io->offset, io->buf, io->length);
			break;
		case NB_STORE_FLUSH:
			break;
		case NB_STORE_DISCARD:
		case NB_STORE_WRITE_ZEROES:
			memory_zero(v, io->offset, io->length);
			break;
		default:
			r = -EOPNOTSUPP;
			break;
		}
	}
	pthread_rwlock_unlock(&v->lock);
	nb_store_io_complete(io, r);
}

/* Under v->lock for writing; gen is also read without it. */
static void memory_lock_set(struct memory_vol *v, const struct nb_store_lock *next)
{
	memcpy(v->wlock.owner, next->owner, sizeof(v->wlock.owner));
	v->wlock.since = next->since;
	__atomic_store_n(&v->wlock.gen, next->gen, __ATOMIC_RELAXED);
}

static int memory_lock_take(struct nb_store_vol *vol, const char *owner, bool brk,
			    uint64_t expect_gen, struct nb_store_lock *lock)
{
	struct memory_vol *v = memory_vol_of(vol);
	struct nb_store_lock next;
	int r;

	pthread_rwlock_wrlock(&v->lock);
	r = nb_store_lock_decide(&v->wlock, owner, brk, expect_gen,
				 (uint64_t)time(NULL), &next);
	if (r == 0)
		memory_lock_set(v, &next);
	*lock = v->wlock;
	pthread_rwlock_unlock(&v->lock);
	return r;
}

static int memory_lock_break(struct nb_store_vol *vol, uint64_t expect_gen,
			     struct nb_store_lock *lock)
{
	struct memory_vol *v = memory_vol_of(vol);
	struct nb_store_lock next;
	int r;

	pthread_rwlock_wrlock(&v->lock);
	r = nb_store_lock_break_decide(&v->wlock, expect_gen, &next);
	if (r == 0)
		memory_lock_set(v, &next);
	*lock = v->wlock;
	pthread_rwlock_unlock(&v->lock);
	return r;
}

static int memory_lock_get(struct nb_store_vol *vol, struct nb_store_lock *lock)
{
	struct memory_vol *v = memory_vol_of(vol);

	pthread_rwlock_rdlock(&v->lock);
	*lock = v->wlock;
	pthread_rwlock_unlock(&v->lock);
	return 0;
}

/* The early check: a relaxed read of a value changed under the lock. */
static bool memory_lock_is_current(struct nb_store_vol *vol, uint64_t gen)
{
	struct memory_vol *v = memory_vol_of(vol);

	return __atomic_load_n(&v->wlock.gen, __ATOMIC_RELAXED) == gen;
}

static void memory_describe(struct nb_store_vol *vol, char *buf, size_t len)
{
	snprintf(buf, len, "in memory");
}

static void memory_destroy(struct nb_store *st)
{
	struct memory_store *ms = memory_store_of(st);
	struct memory_vol *v;

	while ((v = ms->vols)) {
		ms->vols = v->next;
		memory_vol_free(v);
	}
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

static const struct nb_store_ops memory_ops = {
	.name = "memory",
	.destroy = memory_destroy,
	.open = memory_open,
	.close = memory_close,
	.info = memory_info,
	.create = memory_create,
	.resize = memory_resize,
	.remove = memory_remove,
	.submit = memory_submit,
	.lock_take = memory_lock_take,
	.lock_break = memory_lock_break,
	.lock_get = memory_lock_get,
	.lock_is_current = memory_lock_is_current,
	.describe = memory_describe,
};

struct nb_store *nb_store_memory_new(void)
{
	struct memory_store *ms = calloc(1, sizeof(*ms));

	if (!ms)
		return NULL;
	ms->base.ops = &memory_ops;
	ms->base.writes_durable = false;
	pthread_mutex_init(&ms->lock, NULL);
	return &ms->base;
}
