/* SPDX-License-Identifier: MIT */
/*
 * Inside the node core: the server object, its I/O threads ("workers"),
 * the cluster map and the volumes table (node.c), shared by every thread.
 *
 * Sharing rules: the map is replaced by swapping one pointer (old maps
 * stay allocated until nb_srv_free, so a request may keep using the map
 * it looked at); the volumes table only grows, under srv->lock, and a
 * volume's size is read and written with __atomic operations. Counters
 * are per worker, added up when asked.
 */
#ifndef NETBLK_SRV_NODE_H
#define NETBLK_SRV_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "logging.h"
#include "map.h"
#include "rpc.h"
#include "srv.h"

#define srv_err(...)   nb_log_msg(LOG_ERR, __VA_ARGS__)
#define srv_warn(...)  nb_log_msg(LOG_WARNING, __VA_ARGS__)
#define srv_info(...)  nb_log_msg(LOG_INFO, __VA_ARGS__)
#define srv_debug(...) do { \
	if (log_enabled(LOG_DEBUG)) \
		nb_log_msg(LOG_DEBUG, __VA_ARGS__); \
} while (0)

/* Add n to a counter of a worker (other threads read it). */
#define srv_count(w, field, n) \
	__atomic_fetch_add(&(w)->stats.field, (n), __ATOMIC_RELAXED)

struct srv_conn;

/* One version of the map and this node's place in it. */
struct srv_map {
	struct map *map;
	int node_index;            /* -1: not in the map */
	struct srv_map *older;
};

/*
 * The largest volume CREATE and RESIZE make (1 PiB): every store
 * addresses it (RADOS: object counts and offsets stay far from 2^64).
 */
#define NB_SRV_VOLUME_SIZE_MAX (1ull << 50)

/* A served volume. */
struct srv_volume {
	char name[RPC_NAME_MAX + 1];
	struct nb_store_vol *vol;
	uint64_t size;             /* __atomic */
	uint32_t block_size;
	bool read_only;
	uint32_t max_discard, max_write_zeroes;
	/*
	 * References (under srv->lock): each connection that opened it,
	 * each request handler using it and each data request in flight
	 * (its slot's, from submission until the slot is put back). The table holds none: a volume in
	 * the table lives as long as the node; once deleted (out of the
	 * table) the last nb_srv_volume_put() closes and frees it.
	 */
	unsigned users;
	bool deleted;              /* __atomic: DELETE took it out of the table */
};

/* An accepted socket on its way to a worker. */
struct srv_handoff {
	int fd;
	char peer[64];
	struct srv_handoff *next;
};

struct srv_worker {
	struct nb_srv *srv;
	unsigned index;
	struct ev_loop *loop;
	pthread_t thread;          /* the thread running loop */
	bool own_thread;           /* false for worker 0 (the caller's loop) */
	ev_async wake;             /* completions, hand-overs, stop */
	ev_prepare prepare;

	pthread_mutex_t lock;      /* the lists below, filled by other threads */
	struct nb_store_io *done_head, *done_tail;
	struct srv_handoff *handoffs;
	bool stop;

	/* The worker's own. */
	struct srv_conn *conns;    /* live */
	struct srv_conn *dead;     /* closed; freed once no request is out */
	struct srv_conn *dirty;    /* output to flush before sleeping */
	size_t n_conns;            /* __atomic: the acceptor balances on it */
	bool stopping;
	struct nb_srv_stats stats;
};

struct nb_srv {
	struct ev_loop *loop;
	const struct nb_srv_config *cfg;
	SSL_CTX *ssl_ctx;
	struct nb_store *store;

	int listen_fd;
	ev_io accept_watcher;
	ev_timer accept_pause;     /* out of descriptors: retry accept later */
	uint16_t port;
	char name[RPC_NAME_MAX + 1];      /* logs, HANDSHAKE reply */
	char node_addr[MAP_ADDR_MAX + 1]; /* this node in the map */

	pthread_mutex_t lock;      /* volumes; map replacement */
	struct srv_map *map;       /* __atomic; never NULL once running */
	struct srv_volume **volumes;
	size_t n_volumes;

	struct srv_worker *workers;
	unsigned n_workers;
	uint64_t connections;      /* accepted (acceptor thread only) */

	ev_signal sig_int, sig_term, sig_hup, sig_usr1;
	bool quitting;
};

/* ---- node.c: map and volumes ---- */

/* Replace the map (taking ownership); warns when this node is not in it. */
int nb_srv_set_map(struct nb_srv *srv, struct map *map);
/* The current map; valid until nb_srv_free. */
const struct srv_map *nb_srv_map_get(const struct nb_srv *srv);
bool nb_srv_map_serves(const struct srv_map *m, uint64_t offset, uint64_t length);
void nb_srv_maps_free(struct nb_srv *srv);

struct srv_volume *nb_srv_volume_find(struct nb_srv *srv, const char *name);
/*
 * The served volume of that name, asking the store for it when the
 * table lacks it and open_by_name is set: NULL with -ENOENT or the
 * store's error in *err. The caller holds a reference: give it back
 * with nb_srv_volume_put() (or hand it to a connection).
 */
struct srv_volume *nb_srv_volume_lookup(struct nb_srv *srv, const char *name,
					int *err);
/* One more reference to v, which the caller already holds one of. */
void nb_srv_volume_hold(struct nb_srv *srv, struct srv_volume *v);
void nb_srv_volume_put(struct nb_srv *srv, struct srv_volume *v);
/* Take v (the caller holds a reference) out of the table: deleted. */
void nb_srv_volume_retire(struct nb_srv *srv, struct srv_volume *v);
/*
 * Grow v to size (checked by the caller: a multiple of the block size,
 * not smaller): the store, then the size every INFO and range check
 * sees. 0 or -errno with a message in err.
 */
int nb_srv_volume_grow(struct srv_volume *v, uint64_t size, char *err,
		       size_t errlen);
/*
 * Take a size the store grew to behind the node's back (a RESIZE through
 * another node of a RADOS pool, seen by its notify): sizes only grow.
 */
void nb_srv_volume_refresh(struct srv_volume *v);
/*
 * The names in the table, malloc'd (nb_store_names_free()), but for the
 * volumes of store skip (NULL: none), which its list() names already.
 */
int nb_srv_volume_names(struct nb_srv *srv, const struct nb_store *skip,
			char ***names, size_t *count);
/*
 * Add an opened volume of store to the table (closing it on failure).
 * With out, the caller gets it with a reference (nb_srv_volume_put()).
 */
int nb_srv_volume_insert(struct nb_srv *srv, const char *name,
			 struct nb_store_vol *vol, struct srv_volume **out);
void nb_srv_volumes_free(struct nb_srv *srv);
static inline uint64_t nb_srv_volume_size(const struct srv_volume *v)
{
	return __atomic_load_n(&v->size, __ATOMIC_RELAXED);
}
void nb_srv_volume_info(const struct srv_volume *v, struct rpc_volume_info *out);

/* ---- server.c ---- */

/* The worker whose thread is running, NULL elsewhere. */
struct srv_worker *nb_srv_worker_self(struct nb_srv *srv);

#endif
