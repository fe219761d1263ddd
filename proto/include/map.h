/* SPDX-License-Identifier: MIT */
/*
 * The cluster map: which nodes serve which chunk of a volume.
 *
 * A volume is cut into chunks of chunk_size bytes (a power of two).
 * Chunk i is served by placement chunks[i % n_chunks], whose node list
 * is ordered by preference. The map carries an epoch that grows with
 * every change. The same map applies to every volume of a cluster.
 *
 * Text form (the file the mock nodes share, see docs/protocol.md):
 *
 *   # comment
 *   epoch 7
 *   chunk_size 1M          # suffixes K, M, G (powers of 1024)
 *   node 127.0.0.1:7001    # node 0
 *   node 127.0.0.1:7002    # node 1
 *   chunk 0 1              # placement 0: node 0, then node 1
 *   chunk 1 0              # placement 1: node 1, then node 0
 *
 * A node line may end with "group N" (N >= 1): nodes of one group share
 * one store (the RADOS nodes of one pool, mock nodes over one file) and
 * hold the same data, so any of them can stand in for another. A node
 * without a group (group 0) owns its store alone: its chunks are served
 * by it only, whatever other nodes its placements list.
 *
 * Without "chunk" lines there is one placement per node: placement i
 * prefers node i and falls back to the others in order.
 */
#ifndef NETBLK_MAP_H
#define NETBLK_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAP_MAX_NODES      256
#define MAP_MAX_PLACEMENTS 65536
#define MAP_ADDR_MAX       255

struct map_placement {
	uint32_t n;          /* number of nodes, >= 1 */
	uint32_t *nodes;     /* indexes into map.nodes, preferred first */
};

struct map {
	uint64_t epoch;
	uint64_t chunk_size;
	uint32_t n_nodes;
	char **nodes;        /* "host:port", "[v6]:port" */
	uint32_t groups[MAP_MAX_NODES]; /* store group per node; 0: alone */
	uint32_t n_chunks;   /* number of placements */
	struct map_placement *chunks;
};

/* Constructors return NULL with errno set. nb_map_free(NULL) is a no-op. */
struct map *nb_map_dup(const struct map *map);
void nb_map_free(struct map *map);

/*
 * Parse the text form. Returns 0 and a new map in *out, or -EINVAL with
 * a message naming the line and what is wrong in err.
 */
int nb_map_parse(const char *text, struct map **out, char *err, size_t errlen);
/* As nb_map_parse on a file's contents; -errno from open/read too. */
int nb_map_load_file(const char *path, struct map **out, char *err, size_t errlen);

/*
 * Check a map received from the network or built by hand: chunk_size a
 * power of two >= 4096, 1..MAP_MAX_NODES nodes, 1..MAP_MAX_PLACEMENTS
 * placements, every placement non-empty with valid distinct node indexes.
 * Returns 0 or -EINVAL with a reason in err.
 */
int nb_map_validate(const struct map *map, char *err, size_t errlen);

/* Chunk index of a byte offset. */
static inline uint64_t map_chunk_of(const struct map *map, uint64_t offset)
{
	return offset / map->chunk_size;
}

/* Placement serving a chunk. */
const struct map_placement *nb_map_placement_of(const struct map *map,
					     uint64_t chunk);

/*
 * Do nodes a and b hold the same data (same node, or one group != 0)?
 * Failover from a to b is safe only then.
 */
static inline bool map_same_store(const struct map *map, uint32_t a,
				  uint32_t b)
{
	return a == b || (map->groups[a] != 0 &&
			  map->groups[a] == map->groups[b]);
}

/* How many stores the map's nodes make up: one per group != 0, one per
 * node without a group. */
uint32_t nb_map_n_stores(const struct map *map);

/* Index of a node by its address string, or -ENOENT. */
int nb_map_node_index(const struct map *map, const char *addr);

/* Does node serve chunk (anywhere in its placement list)? */
bool nb_map_node_serves(const struct map *map, uint32_t node, uint64_t chunk);

/*
 * Does node serve every chunk that [offset, offset + length) touches?
 * length 0 counts as touching the chunk of offset.
 */
bool nb_map_node_serves_range(const struct map *map, uint32_t node,
			   uint64_t offset, uint64_t length);

#endif
