/* SPDX-License-Identifier: MIT */
/*
 * Administrative requests to ONE storage node, without opening a volume:
 * create, delete, grow and list volumes, describe a volume and its
 * writer lock, break the lock, fetch the node's cluster map.
 *
 * Each call is blocking: it connects to node ("host:port" or
 * "[v6]:port"), does TLS and the protocol handshake (no OPEN), sends its
 * one request and runs loop (which should have no other watchers that
 * keep it busy) until the answer, then closes the connection. cfg
 * supplies TLS (ssl_ctx or the files, as for nb_session_new()),
 * server_name, connect_timeout, try_timeout, client_name and the log;
 * cfg->nodes is ignored, cfg->volume names the volume. The caller keeps
 * cfg. Call from the loop's thread only.
 *
 * Each returns 0, or a negative errno with a message naming the node in
 * err (when errlen > 0):
 *   -EEXIST        (create) the volume exists
 *   -ENOENT        (info, unlock, delete, resize) the volume does not exist
 *   -EOPNOTSUPP    the node refuses the request (creation, deletion or
 *                  resizing not allowed, no writer lock, a shrink)
 *   -ESTALE        (unlock) the lock is no longer at the generation given
 *   -EBUSY         (delete) another owner holds the writer lock
 *   -EROFS         (delete, resize) the volume is read-only on that node
 *   -ECONNREFUSED, -ETIMEDOUT, -EACCES, -EPROTO as for nb_session_start()
 *   -EINVAL        bad volume name or node address, or TLS files; a
 *                  request the node calls malformed (a bad name, a size
 *                  that is not a multiple of the block size)
 *   -EIO           any other failure the node reports
 */
#ifndef NETBLK_ADMIN_H
#define NETBLK_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "session.h"

/* A node's cluster map, as nb_admin_get_map() hands it out. */
struct admin_map;

/* Create cfg->volume with size bytes and block_size (0 = 512); the new
 * volume's description is stored in *info (may be NULL). */
int nb_admin_create(struct ev_loop *loop, const struct session_config *cfg,
		 const char *node, uint64_t size, uint32_t block_size,
		 struct session_volume *info, char *err, size_t errlen);

/* Describe cfg->volume into *info, and its writer lock into *lock (may
 * be NULL; all zero from a node that keeps no lock). */
int nb_admin_info(struct ev_loop *loop, const struct session_config *cfg,
	       const char *node, struct session_volume *info,
	       struct session_lock *lock, char *err, size_t errlen);

/*
 * Break cfg->volume's writer lock without taking it (UNLOCK): afterwards
 * nobody holds it and its generation is the next one, so every
 * connection bound to the old generation is fenced. cfg->lock_owner
 * names who breaks it (for the node's log; may be NULL). generation 0
 * breaks whatever holds the lock; otherwise only the lock at that
 * generation (-ESTALE when it moved on: nothing is broken), which is how
 * a holder releases its own lock. *after (may be NULL) gets the lock
 * after the break.
 */
int nb_admin_unlock(struct ev_loop *loop, const struct session_config *cfg,
		 const char *node, uint64_t generation,
		 struct session_lock *after, char *err, size_t errlen);

/*
 * Delete cfg->volume and its data for good (DELETE). cfg->lock_owner
 * (may be NULL) names the caller: the node refuses (-EBUSY, the holder
 * in err) while another owner holds the writer lock, unless force is
 * set; a held lock is broken first, so its holder is fenced. *info (may
 * be NULL) gets the volume as it was. A volume already gone is -ENOENT:
 * callers that want "delete if it exists" take that as done.
 */
int nb_admin_delete(struct ev_loop *loop, const struct session_config *cfg,
		    const char *node, bool force, struct session_volume *info,
		    char *err, size_t errlen);

/*
 * Grow cfg->volume to size bytes (RESIZE; a multiple of its block size).
 * Clients that have it open see the new size with their next check (the
 * daemon's --resize-check). The same size is a no-op; a smaller one is
 * refused (-EOPNOTSUPP). *info (may be NULL) gets the volume after.
 */
int nb_admin_resize(struct ev_loop *loop, const struct session_config *cfg,
		    const char *node, uint64_t size, struct session_volume *info,
		    char *err, size_t errlen);

/*
 * Every volume of the node (LIST, all pages), sorted by name: a
 * malloc'd array of *count volumes in *vols (the caller frees it; NULL
 * when there are none). cfg->volume is not used.
 */
int nb_admin_list(struct ev_loop *loop, const struct session_config *cfg,
		  const char *node, struct session_volume **vols, size_t *count,
		  char *err, size_t errlen);

/*
 * The writer lock of one store of a volume: a map group (its nodes share
 * one store and one lock) or a node without a group.
 */
struct admin_store_lock {
	uint32_t group;                 /* 0: the store of node alone */
	char node[256];                 /* the node asked last */
	int err;                        /* 0: lock is the node's answer */
	char errmsg[256];               /* err != 0: why */
	struct session_lock lock;
};

/*
 * Ask for cfg->volume's writer lock once per store: fetch the cluster
 * map from the first node of cfg->nodes that answers, then INFO the
 * nodes of each store in map order until one answers. Returns the number
 * of stores (>= 1) and a calloc'd array of them in *out (the caller
 * frees it; a store none of whose nodes answered has err set), or
 * -errno when no node gave a map.
 */
int nb_admin_store_locks(struct ev_loop *loop, const struct session_config *cfg,
		      struct admin_store_lock **out, char *err, size_t errlen);

/* Fetch the node's cluster map (validated) into *map_out, which the
 * caller frees with nb_admin_map_free(); *map_out is NULL on failure. */
int nb_admin_get_map(struct ev_loop *loop, const struct session_config *cfg,
		  const char *node, struct admin_map **map_out,
		  char *err, size_t errlen);

/*
 * Print map for people: epoch, chunk size, one line per node, one per
 * placement (the first 64, then how many there are).
 */
void nb_admin_map_print(FILE *out, const struct admin_map *map);

/*
 * The parts of map, for other forms than nb_admin_map_print's (JSON):
 * epoch, chunk size, the nodes ("host:port", store group in *group, 0
 * when alone) and the placements (node indexes, preferred first, in
 * *nodes; returns how many). Indexes must be below the counts.
 */
uint64_t nb_admin_map_epoch(const struct admin_map *map);
uint64_t nb_admin_map_chunk_size(const struct admin_map *map);
uint32_t nb_admin_map_n_nodes(const struct admin_map *map);
const char *nb_admin_map_node(const struct admin_map *map, uint32_t i,
			      uint32_t *group);
uint32_t nb_admin_map_n_placements(const struct admin_map *map);
uint32_t nb_admin_map_placement(const struct admin_map *map, uint32_t i,
				const uint32_t **nodes);

/* NULL is a no-op. */
void nb_admin_map_free(struct admin_map *map);

/*
 * True when the nodes at addresses a and b share one store in map (one
 * map group: one volume, one lock), so that a volume created through one
 * exists on the other. A node not in the map is its own store.
 */
bool nb_admin_map_same_store(const struct admin_map *map, const char *a,
			  const char *b);

#endif
