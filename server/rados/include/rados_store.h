/* SPDX-License-Identifier: MIT */
/*
 * Volumes kept in a Ceph RADOS pool through librados: the storage library
 * of netblk-node's `rados` backend (docs/rados.md has the object layout).
 *
 * A volume NAME is a header object `netblk.NAME.header` (xattrs: format,
 * size, block size, object size, creation time, writer lock) and one data
 * object per extent of object_size bytes, `netblk.NAME.%016llx` (the
 * extent index). Never-written extents have no object and read as zeroes.
 * The names of the volumes are kept in the omap of `netblk.directory`.
 *
 * Objects and ownership:
 *   struct nb_rados_store  one cluster connection (rados_t) and one pool
 *                          (rados_ioctx_t); nb_rados_connect() makes it,
 *                          nb_rados_disconnect() frees it, after every
 *                          volume opened on it was closed.
 *   struct nb_rados_vol    one open volume: its layout, its header watch,
 *                          the writer lock it holds. nb_rados_vol_open()
 *                          makes it, nb_rados_vol_close() frees it once no
 *                          request of it is in flight.
 *   struct nb_rados_io     one request, owned by the caller, who keeps it
 *                          and its buffers alive from nb_rados_submit()
 *                          until its done callback has run.
 *
 * Threads: every function may be called from any thread; a store and its
 * volumes may be shared by threads (librados handles are thread safe;
 * the library's own state is atomics). The calls marked "blocks" wait on
 * the network (the admin calls, open, lock calls): keep them off an event
 * loop that serves I/O. nb_rados_submit() never blocks.
 *
 * Completions: an io's done callback runs exactly once, on a librados
 * thread (not inside nb_rados_submit(), but see there), and must not
 * block: an event
 * loop server queues the io and wakes its loop (ev_async). Watch events
 * (a lock break, a resize) are also handled on librados threads; they
 * only update atomics read by nb_rados_lock_is_current() and
 * nb_rados_vol_size().
 *
 * Durability: librados acknowledges a write once every replica of the
 * pool has it (on an OSD's journal or store: durable across a power cut,
 * except with the test cluster's memstore). A completed WRITE, DISCARD or
 * WRITE_ZEROES is therefore already durable: nb_rados_writes_durable()
 * says so, and FLUSH only waits for writes still in flight on the store.
 *
 * Errors: functions return 0 or -errno; those with err/errlen also put a
 * message for the user there (common/errmsg.h). Constructors return a
 * pointer, or NULL with errno set and the message in err.
 */
#ifndef NETBLK_RADOS_STORE_H
#define NETBLK_RADOS_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Limits and defaults of the layout. */
#define NB_RADOS_NAME_MAX 200		/* volume name: [A-Za-z0-9_.-], 1..200 */
#define NB_RADOS_OWNER_MAX 256		/* lock owner, with the NUL */
#define NB_RADOS_OBJECT_SIZE_DEFAULT (4u << 20)
#define NB_RADOS_OBJECT_SIZE_MIN 4096u
#define NB_RADOS_OBJECT_SIZE_MAX (64u << 20)
#define NB_RADOS_FORMAT 1		/* header format written by create */

struct nb_rados_store;
struct nb_rados_vol;

/* Where and as whom to connect. */
struct nb_rados_conf {
	const char *conf_path;	/* ceph.conf; NULL: librados' default search */
	const char *client_id;	/* cephx user without "client.", e.g. "netblk" */
	const char *keyring;	/* keyring file; NULL: the one ceph.conf names */
	const char *pool;	/* pool of the volumes (required) */
	/* Seconds to wait for the monitors at connect (0: 30). */
	unsigned connect_timeout_s;
	/* Seconds after which a RADOS op fails with -ETIMEDOUT (0: never,
	 * librados waits for the cluster to recover). */
	unsigned op_timeout_s;
};

/*
 * Connect and open the pool; checks that the client may use the pool.
 * Blocks (up to connect_timeout_s). Messages name the cause: a config file
 * that cannot be read, cephx refusing the key, a keyring that is missing,
 * a pool that does not exist or that the client's caps do not cover.
 */
struct nb_rados_store *nb_rados_connect(const struct nb_rados_conf *conf,
					char *err, size_t errlen);
/* Close the pool and the connection. Every volume must be closed. */
void nb_rados_disconnect(struct nb_rados_store *st);
/* The pool's name (valid while st is). */
const char *nb_rados_pool(const struct nb_rados_store *st);

/* True: a completed write is durable; FLUSH has nothing to add. */
bool nb_rados_writes_durable(const struct nb_rados_store *st);

/*
 * What librados returns for any op of an instance the cluster has
 * blocklisted (EBLOCKLISTED in Ceph's sources): a node that did not
 * acknowledge a lock break in time (docs/rados.md, "Fencing").
 * nb_rados_lock_refresh() then replaces the instance by a new one.
 */
#define NB_RADOS_EBLOCKLISTED (-ESHUTDOWN)
/*
 * What a take with break or a break returns when its fence is not sure:
 * a watcher that did not acknowledge could not be blocklisted (the cephx
 * user lacks the mon cap, or it published no address). The lock then
 * stays with its holder (owner and since as before, at the new
 * generation), err says why (docs/rados.md, "Fencing").
 */
#define NB_RADOS_EFENCE (-ENOLCK)
/* How many times the store replaced its blocklisted instance. */
unsigned nb_rados_reconnects(struct nb_rados_store *st);

/* --- volumes (admin calls; all block) ----------------------------------- */

/* The writer lock as kept in the header. owner is "" when free. */
struct nb_rados_lock_holder {
	char owner[NB_RADOS_OWNER_MAX];
	uint64_t gen;		/* bumped each time the lock changes hands */
	uint64_t since;		/* unix seconds of the take (0 when free) */
};

struct nb_rados_vol_info {
	uint64_t size;		/* bytes, a multiple of block_size */
	uint32_t block_size;	/* 512 .. 65536, power of two */
	uint32_t object_size;	/* extent size, power of two */
	uint32_t format;	/* NB_RADOS_FORMAT */
	uint64_t ctime;		/* unix seconds of the create */
	struct nb_rados_lock_holder lock;
};

/* True for a name this library accepts (1..NB_RADOS_NAME_MAX of
 * [A-Za-z0-9_.-], not starting with '.'). */
bool nb_rados_name_valid(const char *name);

/*
 * Create a volume of size bytes (a positive multiple of block_size);
 * object_size 0 means NB_RADOS_OBJECT_SIZE_DEFAULT. Atomic: the header is
 * made with an exclusive create, so of two racing creates one gets
 * -EEXIST. Then the name is added to the directory.
 */
int nb_rados_vol_create(struct nb_rados_store *st, const char *name,
			uint64_t size, uint32_t block_size, uint32_t object_size,
			char *err, size_t errlen);
/* Read the header: -ENOENT when there is no such volume. */
int nb_rados_vol_info(struct nb_rados_store *st, const char *name,
		      struct nb_rados_vol_info *info, char *err, size_t errlen);
/*
 * Grow to new_size (a multiple of the block size; equal is a no-op,
 * smaller is -EINVAL). Atomic against other resizes (compare-and-set on
 * the size xattr); open handles learn it through their watch.
 */
int nb_rados_vol_resize(struct nb_rados_store *st, const char *name,
			uint64_t new_size, char *err, size_t errlen);
/*
 * Delete the data objects, then the header, then the directory entry.
 * -EBUSY (with the holder in the message) while the writer lock is held.
 * A remove cut short can be run again.
 */
int nb_rados_vol_remove(struct nb_rados_store *st, const char *name,
			char *err, size_t errlen);
/*
 * The names in the directory, sorted: *names is a malloc'ed array of
 * *count malloc'ed strings; free with nb_rados_names_free().
 */
int nb_rados_vol_list(struct nb_rados_store *st, char ***names, size_t *count,
		      char *err, size_t errlen);
void nb_rados_names_free(char **names, size_t count);

/* --- an open volume ---------------------------------------------------- */

/*
 * nb_rados_vol_open() flags. NB_RADOS_OPEN_GUARD_WRITES: while this handle
 * holds the writer lock at generation G, every data write carries a
 * compare on the object's `netblk.gen` xattr (G >= stored, 16 hex digits
 * compare as numbers) and stamps G there, in the same atomic RADOS op.
 * A write that meets a newer stamp fails with -ESTALE. Its limit: it only
 * protects objects that the newer holder has already written (or
 * discarded); an object the newer holder has not touched yet still takes
 * a stale write that was already in flight. The first write to an absent
 * object costs a second op (exclusive create), and discarding a whole
 * extent truncates it (keeping the stamp) instead of removing it.
 */
#define NB_RADOS_OPEN_GUARD_WRITES 0x1u
/*
 * NB_RADOS_OPEN_SHARED: one handle serves many clients (a storage node):
 * the lock is the clients', not the handle's. lock_take does not make the
 * handle the holder (nb_rados_lock_held() stays 0, close releases nothing,
 * submit applies no holder check of its own); each write says instead
 * which generation it relies on (nb_rados_io.check_gen, gen).
 */
#define NB_RADOS_OPEN_SHARED 0x2u

/*
 * Open a volume: reads the header and watches it (lock breaks and resizes
 * are then seen without polling). Blocks. NULL with errno ENOENT when the
 * volume does not exist.
 */
struct nb_rados_vol *nb_rados_vol_open(struct nb_rados_store *st,
				       const char *name, unsigned flags,
				       char *err, size_t errlen);
/*
 * Close: waits for requests still in flight, then releases the lock if
 * this handle holds it, unwatches, removes this client's watcher key from
 * the header (unless another handle of the store still has the volume
 * open, or a write timed out: a break then still blocklists the client)
 * and frees. Blocks. Must not be called from a done callback.
 */
void nb_rados_vol_close(struct nb_rados_vol *vol);

const char *nb_rados_vol_name(const struct nb_rados_vol *vol);
/* Current size: updated by resizes seen through the watch. */
uint64_t nb_rados_vol_size(const struct nb_rados_vol *vol);
uint32_t nb_rados_vol_block_size(const struct nb_rados_vol *vol);
uint32_t nb_rados_vol_object_size(const struct nb_rados_vol *vol);

/* --- I/O ------------------------------------------------------------------ */

enum nb_rados_op {
	NB_RADOS_READ,
	NB_RADOS_WRITE,
	NB_RADOS_DISCARD,	/* frees the range: reads back zeroes */
	NB_RADOS_WRITE_ZEROES,	/* the same effect as DISCARD here */
	NB_RADOS_FLUSH,		/* waits for writes in flight on the store */
	NB_RADOS_OP_MAX
};

struct nb_rados_io {
	/* Filled by the caller. */
	enum nb_rados_op op;
	uint64_t offset;		/* bytes */
	uint64_t len;			/* bytes; 0 for FLUSH */
	const struct iovec *iov;	/* READ, WRITE: len bytes in all */
	int iovcnt;
	/*
	 * Called once, on a librados thread, with 0 or -errno: -EIO (or what
	 * RADOS said) for a failed op, -ESTALE when the writer lock moved to
	 * a newer generation (the handle is fenced), -ETIMEDOUT after
	 * op_timeout_s (a write that timed out may still be applied: the
	 * handle then acknowledges no lock break, and is blocklisted by
	 * it), NB_RADOS_EBLOCKLISTED when a break blocklisted this
	 * client (the watch is then marked lost: refresh reconnects). For a request over several extents, the first error
	 * wins and done runs when every extent's op has finished.
	 */
	void (*done)(struct nb_rados_io *io, int ret);
	void *priv;			/* the caller's */
	/*
	 * Writes (WRITE, DISCARD, WRITE_ZEROES, FLUSH) only: run only while
	 * gen is the newest lock generation the handle knows and its watch
	 * is intact (else nb_rados_submit() returns -ESTALE or -ENOTCONN).
	 * A take or break notify that raises the generation is acknowledged
	 * by this handle only once the writes admitted under the older one
	 * are done, so the breaker's call returns after them (or after the
	 * notify's 5 s timeout).
	 */
	bool check_gen;
	uint64_t gen;

	/* Private to the library. */
	void *state;
};

/*
 * Start io: one RADOS op per extent that the range touches. Returns 0
 * (done will run) or -errno without calling done: -EINVAL for a range
 * not inside the volume or not block-aligned, an iovec shorter than len;
 * for a write (WRITE, DISCARD, WRITE_ZEROES) by a handle that holds the
 * lock, -ESTALE when a newer generation is known (fenced: for good) and
 * -ENOTCONN when the header watch is lost (unknown: call
 * nb_rados_lock_refresh(), then -ESTALE or writes again); -ENOMEM.
 * Never blocks. done runs on a librados thread, with one exception:
 * when RADOS refuses to start the op of a later extent after earlier ones
 * were started (only when out of memory or shutting down), done may run
 * before nb_rados_submit() returns 0.
 */
int nb_rados_submit(struct nb_rados_vol *vol, struct nb_rados_io *io);

/* --- writer lock ---------------------------------------------------------- */

/*
 * Take the volume's writer lock for owner (a non-empty string, at most
 * NB_RADOS_OWNER_MAX - 1 bytes, e.g. "client@host"). Blocks.
 *   - free: taken, the generation is bumped;
 *   - held by owner already: kept, same generation (a takeover by the same
 *     client on the same host);
 *   - held by another owner: -EBUSY with *holder filled (when non-NULL),
 *     unless brk, which takes it over and bumps the generation.
 * Every change is one RADOS write op guarded by compares on the header's
 * owner and generation xattrs, retried when another change won the race.
 * After a change the header's watchers are notified (waits up to 5 s for
 * their acks): a handle that lost the lock sees it in
 * nb_rados_lock_is_current() before this call returns, unless it is
 * unreachable. A holder that died leaves its watch on the OSD until the
 * OSD times it out (osd_client_watch_timeout, 30 s): a break then waits
 * the 5 s. Every client that published its address on the header and
 * did not acknowledge (silent, or its watch lost), except ours, is
 * blocklisted (docs/rados.md, "Fencing"): on success err holds what was
 * done (else err is ""). When one cannot be blocklisted: NB_RADOS_EFENCE,
 * err says why, and the lock stays with its former holder (at the new
 * generation). A success then waits for the newest OSD map, so the
 * holder's writes reach OSDs that know the blocklist.
 * *gen gets the generation held.
 */
int nb_rados_lock_take(struct nb_rados_vol *vol, const char *owner, bool brk,
		       uint64_t *gen, struct nb_rados_lock_holder *holder,
		       char *err, size_t errlen);
/*
 * As nb_rados_lock_take(), and: expect_gen non-zero is the generation the
 * caller held before; -ESTALE (with *holder the lock now) when the lock
 * has moved on, checked before the owner rules. *holder (when non-NULL)
 * gets the lock as held after a success too.
 */
int nb_rados_lock_take_gen(struct nb_rados_vol *vol, const char *owner, bool brk,
			   uint64_t expect_gen, uint64_t *gen,
			   struct nb_rados_lock_holder *holder,
			   char *err, size_t errlen);
/* Release the lock if this handle holds it (and it was not broken):
 * owner becomes "", the generation stays. Blocks. */
int nb_rados_lock_release(struct nb_rados_vol *vol, char *err, size_t errlen);
/*
 * Break whoever holds the lock of volume name, without taking it (the
 * admin's "unlock"): owner "", generation bumped, watchers notified and
 * blocklisted as for a take. NB_RADOS_EFENCE (the lock left with its
 * holder, at the new generation) when the fence is not sure.
 * *gen (when non-NULL) gets the new generation. Blocks.
 */
int nb_rados_lock_break(struct nb_rados_store *st, const char *name,
			uint64_t *gen, char *err, size_t errlen);
/* As nb_rados_lock_break(); expect_gen non-zero: -ESTALE when it is not
 * the generation; *holder (when non-NULL) gets the lock before. */
int nb_rados_lock_break_gen(struct nb_rados_store *st, const char *name,
			    uint64_t expect_gen, uint64_t *gen,
			    struct nb_rados_lock_holder *holder,
			    char *err, size_t errlen);
/* The holder as the header says now; the handle takes a newer generation
 * and a larger size from the header too. Blocks. */
int nb_rados_lock_holder(struct nb_rados_vol *vol,
			 struct nb_rados_lock_holder *holder,
			 char *err, size_t errlen);
/*
 * Fencing, cheap (one atomic load, no I/O): false once gen is known not
 * to be the current generation (a notify of a take or break arrived, or
 * a header read saw a newer one). A lost watch does not make it false:
 * the generation may not have moved, and a false here is final for the
 * client (FENCED). Writes are then refused by nb_rados_submit() with
 * -ENOTCONN (try again) until nb_rados_lock_refresh() re-armed the watch
 * and re-read the header. A node that cannot be notified (cut off from
 * the cluster) also loses its watch, and its writes cannot reach the
 * OSDs either until it reconnects, when the watch error shows first.
 */
bool nb_rados_lock_is_current(struct nb_rados_vol *vol, uint64_t gen);
/* Re-read the header (generation, size) and re-watch if the watch was
 * lost; afterwards nb_rados_lock_is_current() tells fenced from not.
 * When the store's client was blocklisted, first replaces it by a new one
 * (for every volume of the store: the others re-watch at their refresh).
 * Blocks. */
int nb_rados_lock_refresh(struct nb_rados_vol *vol, char *err, size_t errlen);
/* The generation this handle holds, 0 when it holds no lock. */
uint64_t nb_rados_lock_held(const struct nb_rados_vol *vol);

#endif
