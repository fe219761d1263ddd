/* SPDX-License-Identifier: MIT */
/*
 * The storage backend ("store") of a node, in the manner of nbdkit's
 * plugins: one `const struct nb_store_ops` table per backend, and filters
 * (fault injection) that are stores over another store.
 *
 * A store holds volumes by name. The node core (srv.h) opens a volume
 * once and shares the handle between its I/O threads, so every function
 * of a volume may be called from any thread at once.
 *
 * Control operations (open, close, info, create, resize) are synchronous
 * and return 0 or -errno. Data requests are asynchronous: submit() starts
 * one and the store calls nb_store_io_complete() exactly once, from any
 * thread, now or later; the core takes the completion back to the loop
 * that owns the request. Until then the io and its buffer belong to the
 * store.
 *
 * To come (issue #15, C): a writer lock kept with the volume, an owner and
 * a generation number. It will be three more volume operations in this
 * table (lock_take, lock_break, lock_info) and a generation field in
 * struct nb_store_io checked by the store; nothing here depends on their
 * absence.
 */
#ifndef NETBLK_SRV_STORE_H
#define NETBLK_SRV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nb_store_op {
	NB_STORE_READ,
	NB_STORE_WRITE,
	NB_STORE_FLUSH,
	NB_STORE_DISCARD,
	NB_STORE_WRITE_ZEROES,
	NB_STORE_OP_MAX
};

/* Request flags (the protocol's FUA and UNMAP). */
#define NB_STORE_FUA   (1u << 0)  /* WRITE, WRITE_ZEROES: durable at completion */
#define NB_STORE_UNMAP (1u << 1)  /* WRITE_ZEROES: may deallocate */

/* Most bytes of a message a filter gives with its answer. */
#define NB_STORE_WHY_MAX 96

struct nb_store_ops;
struct nb_store_io;

/* Every store instance starts with this header (the backend's own struct embeds it). */
struct nb_store {
	const struct nb_store_ops *ops;
	/*
	 * An acknowledged write is durable without a FLUSH (RADOS: true;
	 * file and memory: false). Reported to clients at HANDSHAKE.
	 */
	bool writes_durable;
};

/* Every open volume starts with this header. */
struct nb_store_vol {
	struct nb_store *store;
};

struct nb_store_vol_info {
	uint64_t size;        /* bytes, a multiple of block_size */
	uint32_t block_size;  /* 512 or 4096 */
	bool read_only;
};

/*
 * One data request. The core fills the first part and calls submit(); the
 * store owns it until nb_store_io_complete().
 */
struct nb_store_io {
	enum nb_store_op op;
	uint32_t flags;            /* NB_STORE_FUA, NB_STORE_UNMAP */
	uint64_t offset, length;   /* bytes, inside the volume (checked) */
	void *buf;                 /* READ: length bytes to fill; WRITE: the data */

	/* Set by the store before completing: */
	/*
	 * The store answered without touching the media (a filter's injected
	 * error): not counted as executed; why is the reply's message.
	 * With result -ECONNABORTED: close the connection without answering.
	 */
	bool refused;
	char why[NB_STORE_WHY_MAX];

	/* Free for the store (and each filter over it) while it owns the io. */
	void *store_priv;
	struct nb_store_io *store_next;

	/* The core's; the store does not touch these. */
	int result;
	void (*complete)(struct nb_store_io *io);
};

struct nb_store_ops {
	const char *name;      /* "memory", "file", "fault" ... */

	/* The store itself: free it (every volume is closed). */
	void (*destroy)(struct nb_store *st);

	/*
	 * Open volume name: -ENOENT when the store has none of that name.
	 * The handle stays valid until close().
	 */
	int (*open)(struct nb_store *st, const char *name,
		    struct nb_store_vol **out);
	void (*close)(struct nb_store_vol *vol);
	int (*info)(struct nb_store_vol *vol, struct nb_store_vol_info *out);
	/*
	 * Make a new volume (the name is valid, size a non-zero multiple of
	 * block_size): -EEXIST, -ENOTSUP when the store cannot, -errno.
	 */
	int (*create)(struct nb_store *st, const char *name, uint64_t size,
		      uint32_t block_size);
	/* Grow to new_size (a multiple of the block size); -EINVAL to shrink. */
	int (*resize)(struct nb_store_vol *vol, uint64_t new_size);

	/* Start io; completion through nb_store_io_complete(). */
	void (*submit)(struct nb_store_vol *vol, struct nb_store_io *io);
	/*
	 * Optional: the connection of io is gone. A store that has not
	 * started io yet completes it (-ECANCELED) instead of executing it;
	 * one whose requests finish in bounded time may leave this NULL.
	 */
	void (*cancel)(struct nb_store_vol *vol, struct nb_store_io *io);

	/* Optional, for logs: "file /srv/vol0", "in memory". */
	void (*describe)(struct nb_store_vol *vol, char *buf, size_t len);
	/* Optional: counters as " key=value" pairs appended to buf. */
	void (*stats)(struct nb_store *st, char *buf, size_t len);
};

/*
 * The store is done with io: result 0 or -errno (-ENOSPC/-EDQUOT become
 * NO_SPACE, others IO_ERROR). Any thread; exactly once per submit().
 */
void nb_store_io_complete(struct nb_store_io *io, int result);

/* Shorthands that dispatch through the volume's table. */
static inline void nb_store_submit(struct nb_store_vol *vol, struct nb_store_io *io)
{
	vol->store->ops->submit(vol, io);
}

static inline void nb_store_destroy(struct nb_store *st)
{
	if (st)
		st->ops->destroy(st);
}

/* Valid volume name: 1..RPC_NAME_MAX of [A-Za-z0-9._-], not "." or "..". */
bool nb_store_name_valid(const char *name);

/* ---- the backends of this library ---- */

/* Volumes in anonymous memory (MAP_NORESERVE): lost at exit. */
struct nb_store *nb_store_memory_new(void);

/*
 * Volumes as files.
 *
 * Managed (the netblk-node layout): dir holds volume NAME as the sparse
 * file NAME.vol with its block size in NAME.meta; volumes present there
 * are found by name, CREATE makes new ones, and the store takes an
 * exclusive lock on dir/.netblk.lock (a second store on the same
 * directory fails with EBUSY).
 *
 * Unmanaged (the mock): only volumes added by nb_store_file_add() exist;
 * CREATE (when dir is set) makes dir/NAME; several processes may share a
 * file (one page cache, like paths to one shared disk).
 *
 * FLUSH and FUA call fdatasync. io_threads > 0 runs the fdatasync calls on
 * that many threads of the store (reads and writes stay on the caller's
 * thread: page cache copies); 0 runs everything in submit(). Returns NULL
 * with errno set and a reason in err.
 */
struct nb_store *nb_store_file_new(const char *dir, bool managed,
				   unsigned io_threads, char *err, size_t errlen);
/*
 * Unmanaged: volume name is the file path (created when missing, extended
 * sparse to size). 0, -EEXIST for a name in use, -errno.
 */
int nb_store_file_add(struct nb_store *st, const char *name, const char *path,
		      uint64_t size, uint32_t block_size, bool read_only);
/* Memory: add a volume (as create, but maybe read-only). */
int nb_store_memory_add(struct nb_store *st, const char *name, uint64_t size,
			uint32_t block_size, bool read_only);
/* fdatasync calls made by file stores of this process. */
uint64_t nb_store_file_syncs(void);

#endif
