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
 * The writer lock (docs/protocol.md, "The writer lock"): each volume has
 * one, kept by the store with the volume (memory: in the process; file:
 * in a NAME.lock file next to the volume; rados: in the header object),
 * an owner and a generation that grows with every change of holder. The
 * lock_* operations take, break and read it; a write-class request
 * (WRITE, WRITE_ZEROES, DISCARD, FLUSH) carrying NB_STORE_GEN is executed
 * only while io->gen is still the lock's generation, and the check and
 * the write are ordered against a break by the store (a break returns
 * only once the writes that passed the check before it are done, or
 * after a bounded time on RADOS: docs/rados.md). A fenced request
 * completes with -ESTALE and the node answers FENCED.
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
/*
 * Write-class requests: execute only while io->gen is the current
 * generation of the volume's writer lock; otherwise complete with -ESTALE
 * without touching the media. Reads never carry it.
 */
#define NB_STORE_GEN   (1u << 2)

/* Lock owners: at most this many bytes with the NUL (the protocol's 255). */
#define NB_STORE_OWNER_MAX 256

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

/* A volume's writer lock. owner "" when nobody holds it. */
struct nb_store_lock {
	char owner[NB_STORE_OWNER_MAX];
	uint64_t gen;          /* grows with every change of holder */
	uint64_t since;        /* unix seconds of the take, 0 when free */
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
	uint32_t flags;            /* NB_STORE_FUA, NB_STORE_UNMAP, NB_STORE_GEN */
	uint64_t offset, length;   /* bytes, inside the volume (checked) */
	uint64_t gen;              /* NB_STORE_GEN: the generation it relies on */
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
	/*
	 * Optional: delete volume name and its data and writer lock for good
	 * (the caller broke a held lock first): 0, -ENOENT, -ENOTSUP, -EBUSY
	 * (rados: locked meanwhile), -errno. A handle of it that is still
	 * open stays valid until close(), which then frees it; a new open()
	 * of the name fails with -ENOENT (or finds a new volume).
	 */
	int (*remove)(struct nb_store *st, const char *name);
	/*
	 * Optional: the names of every volume of the store, also those not
	 * opened yet, in *names (a malloc'd array of malloc'd strings, any
	 * order; free with nb_store_names_free()); -ENOTSUP as if absent. A
	 * store without list has only the volumes it was given or created,
	 * which the node knows.
	 */
	int (*list)(struct nb_store *st, char ***names, size_t *count);

	/* Start io; completion through nb_store_io_complete(). */
	void (*submit)(struct nb_store_vol *vol, struct nb_store_io *io);
	/*
	 * Optional: the connection of io is gone. A store that has not
	 * started io yet completes it (-ECANCELED) instead of executing it;
	 * one whose requests finish in bounded time may leave this NULL.
	 */
	void (*cancel)(struct nb_store_vol *vol, struct nb_store_io *io);

	/*
	 * The writer lock (optional as a whole: a store without lock_take
	 * serves read-write opens unlocked and never fences). Every call may
	 * block on the store (RADOS: the network) and is made from an I/O
	 * thread.
	 *
	 * lock_take: take it for owner (non-empty) by the rules of
	 * nb_store_lock_decide(): 0 with *lock the lock now held (same
	 * generation for the same owner, the next one otherwise); -EBUSY
	 * with *lock the holder (another owner, brk not set); -ESTALE with
	 * *lock the current lock (expect_gen non-zero and no longer the
	 * generation); -errno.
	 */
	int (*lock_take)(struct nb_store_vol *vol, const char *owner, bool brk,
			 uint64_t expect_gen, struct nb_store_lock *lock);
	/*
	 * Break it without taking it (admin UNLOCK): owner "", next
	 * generation; *lock the lock after. -ESTALE (with *lock the current
	 * one) when expect_gen is non-zero and no longer the generation.
	 */
	int (*lock_break)(struct nb_store_vol *vol, uint64_t expect_gen,
			  struct nb_store_lock *lock);
	/* The lock as the store has it now (INFO, read-only checks). */
	int (*lock_get)(struct nb_store_vol *vol, struct nb_store_lock *lock);
	/*
	 * Cheap, no I/O: false once gen is known not to be the current
	 * generation (the core's early check of write-class requests). It may
	 * say true a little late: submit() makes the binding check.
	 */
	bool (*lock_is_current)(struct nb_store_vol *vol, uint64_t gen);

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
/* Free what list() returned (NULL is a no-op). */
void nb_store_names_free(char **names, size_t count);

/* ---- the lock rules (store_lock.c), for stores that keep the lock themselves ---- */

/*
 * A take of cur by owner (non-empty), at time now: 0 with *next the lock
 * to keep (unchanged when owner holds it already; else owner, gen + 1,
 * since now), -ESTALE when expect_gen is non-zero and not cur->gen (the
 * lock moved on since the client held it; checked first: a client that
 * lost its lock cannot take it back, not even with brk), -EBUSY when
 * another owner holds it and brk is not set. A free lock below expect_gen
 * was forgotten by its store (generations only grow: a memory volume of a
 * restarted node): owner gets it at expect_gen. *next is untouched on
 * error.
 */
int nb_store_lock_decide(const struct nb_store_lock *cur, const char *owner,
			 bool brk, uint64_t expect_gen, uint64_t now,
			 struct nb_store_lock *next);
/* A break of cur: 0 with *next = no owner, gen + 1; -ESTALE as above. */
int nb_store_lock_break_decide(const struct nb_store_lock *cur,
			       uint64_t expect_gen, struct nb_store_lock *next);
/*
 * The lock file format of the file store: "owner X\ngen N\nsince T\n".
 * Parse text (len bytes): 0 or -EINVAL; format into buf: bytes written.
 */
int nb_store_lock_parse(const char *text, size_t len, struct nb_store_lock *out);
int nb_store_lock_format(const struct nb_store_lock *lock, char *buf, size_t len);

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

/*
 * Volumes in a Ceph RADOS pool (server/rados, docs/rados.md). Connects
 * (blocks up to connect_timeout_s) and checks the pool. Many processes
 * may serve one pool: the writer lock is in each volume's header object
 * and its breaks reach the other processes through watch/notify.
 * writes_durable is true. NULL with errno set and the reason in err;
 * without librados at build time: ENOTSUP, "rados backend not built".
 */
struct nb_store_rados_conf {
	const char *pool;        /* required */
	const char *conf_path;   /* ceph.conf; NULL: librados' search */
	const char *client_id;   /* cephx user without "client."; NULL: admin */
	const char *keyring;     /* NULL: the one ceph.conf names */
	unsigned connect_timeout_s;  /* 0: 30 */
	unsigned op_timeout_s;       /* 0: never */
};
struct nb_store *nb_store_rados_new(const struct nb_store_rados_conf *conf,
				    char *err, size_t errlen);

#endif
