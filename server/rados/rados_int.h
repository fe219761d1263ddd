/* SPDX-License-Identifier: MIT */
/* What the files of the rados library share: its structs, object names. */
#ifndef NETBLK_RADOS_INT_H
#define NETBLK_RADOS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>

#include "rados_store.h"

/* Object names. */
#define RS_DIRECTORY_OID "netblk.directory"
#define RS_OID_MAX (NB_RADOS_NAME_MAX + 32)

/* Header xattrs: ASCII decimal numbers, except the generation (16 hex
 * digits, so that byte-wise compares order generations as numbers). */
#define RS_X_FORMAT "netblk.format"
#define RS_X_SIZE "netblk.size"
#define RS_X_BLOCK_SIZE "netblk.block_size"
#define RS_X_OBJECT_SIZE "netblk.object_size"
#define RS_X_CTIME "netblk.ctime"
#define RS_X_LOCK_OWNER "netblk.lock.owner"
#define RS_X_LOCK_GEN "netblk.lock.gen"
#define RS_X_LOCK_SINCE "netblk.lock.since"
/* Header omap key RS_WATCHER_KEY "GID": the client address of the rados
 * instance with global id GID that watches the header (for blocklisting
 * a watcher that does not acknowledge a fence). */
#define RS_WATCHER_KEY "netblk.watcher."
/* On data objects written by a guarded handle: the writer's generation. */
#define RS_X_DATA_GEN "netblk.gen"

#define RS_GEN_LEN 16			/* "%016" PRIx64 */
#define RS_NOTIFY_TIMEOUT_MS 5000

/* A rados instance replaced by nb_rados_reconnect(): kept until the
 * disconnect, since requests and watches may still refer to it. */
struct rs_instance {
	rados_t cluster;
	rados_ioctx_t io;
	struct rs_instance *next;
};

struct nb_rados_store {
	/* The current instance; replaced (never freed) by a reconnect. */
	_Atomic(rados_t) cluster;
	_Atomic(rados_ioctx_t) io;
	char *pool;
	char *client;			/* "client.ID", for messages */
	/* What a reconnect needs of the nb_rados_conf. */
	char *conf_path, *keyring;
	unsigned connect_timeout_s, op_timeout_s;
	pthread_mutex_t reconnect_mu;
	struct rs_instance *old;	/* replaced instances */
	unsigned reconnects;
};

struct nb_rados_vol {
	struct nb_rados_store *st;
	char name[NB_RADOS_NAME_MAX + 1];
	char header_oid[RS_OID_MAX];
	unsigned flags;
	uint32_t block_size;
	uint32_t object_size;
	unsigned object_shift;		/* log2(object_size) */

	_Atomic uint64_t size;		/* grows on resize notifies */
	_Atomic uint64_t known_gen;	/* newest lock generation seen */
	atomic_bool watch_ok;		/* false after a watch error */
	uint64_t watch_cookie;		/* valid while watching */
	_Atomic(rados_ioctx_t) watch_io; /* the instance the watch is on */
	bool watching;

	/* The lock as this handle holds it (held_gen 0: not held). */
	_Atomic uint64_t held_gen;
	char owner[NB_RADOS_OWNER_MAX];
	pthread_mutex_t lock_mu;	/* serializes take/release/refresh */

	/*
	 * Writes admitted against a generation (nb_rados_io.check_gen), by
	 * epoch of known_gen: every raise of known_gen moves the current
	 * count to old (fence_mu). A notify that raised it is acknowledged
	 * only once fence_old is 0: the breaker's notify then waits for the
	 * writes this handle let through under the older generation.
	 */
	pthread_mutex_t fence_mu;
	uint64_t fence_epoch;
	unsigned fence_cur, fence_old;
	struct rs_ack *acks;		/* notifies waiting for fence_old == 0 */

	/* Requests between submit and the return of their done. */
	pthread_mutex_t inflight_mu;
	pthread_cond_t inflight_cv;
	unsigned inflight;
};

/* A notify to acknowledge later. */
struct rs_ack {
	uint64_t notify_id, cookie;
	struct rs_ack *next;
};

/* store.c */
void nb_rados_header_oid(char *buf, const char *name);
void nb_rados_data_oid(char *buf, const char *name, uint64_t objno);
void nb_rados_gen_str(char *buf, uint64_t gen);	/* RS_GEN_LEN + 1 bytes */

/* volume.c: read the header object of name; -ENOENT when absent. */
int nb_rados_header_read(struct nb_rados_store *st, const char *oid,
		   struct nb_rados_vol_info *info);
/*
 * Notify the watchers of a header object with text. A watcher that did
 * not acknowledge within RS_NOTIFY_TIMEOUT_MS is blocklisted (its address
 * from the header's RS_WATCHER_KEY omap), but for this node's own
 * client (rados_get_instance_id), which is only noted. Returns how many
 * were blocklisted or skipped so, with what was done in note (empty
 * when nothing), or
 * -errno when a silent watcher could not be blocklisted (why in note).
 */
int nb_rados_header_notify(struct nb_rados_store *st, const char *oid,
			   const char *text, char *note, size_t notelen);
/* Put the address of io's instance into the header's omap (before it
 * watches the header). */
int nb_rados_watcher_publish(rados_ioctx_t io, const char *oid);
/* Write op guarded on the current generation that changes the lock
 * fields; -ECANCELED when the generation moved. */
int nb_rados_lock_write(struct nb_rados_store *st, const char *oid, uint64_t cur_gen,
		  const char *owner, uint64_t new_gen, uint64_t since);

/* store.c: replace the current instance by a new one when it is still
 * io (blocklisted); 0 also when another caller did it already. */
int nb_rados_reconnect(struct nb_rados_store *st, rados_ioctx_t io,
		       char *err, size_t errlen);

/* lock.c: the header watch */
int nb_rados_watch_start(struct nb_rados_vol *vol);
/* A generation seen in the header or a notify: known_gen becomes the
 * larger of the two (under fence_mu); writes admitted so far turn old. */
void nb_rados_lock_gen_seen(struct nb_rados_vol *vol, uint64_t gen);
void nb_rados_watch_stop(struct nb_rados_vol *vol);
/* The watch is intact and on the store's current instance. */
bool nb_rados_watch_current(struct nb_rados_vol *vol);
/*
 * lock.c: admit a write against gen (0, -ESTALE, -ENOTCONN); *epoch gets
 * the epoch to hand back to nb_rados_fence_done() once it is finished.
 */
int nb_rados_fence_admit(struct nb_rados_vol *vol, uint64_t gen, uint64_t *epoch);
void nb_rados_fence_done(struct nb_rados_vol *vol, uint64_t epoch);

/* io.c: wait until no request of vol is in flight. */
void nb_rados_io_drain(struct nb_rados_vol *vol);

#endif
