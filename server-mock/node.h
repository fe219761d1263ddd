/* SPDX-License-Identifier: MIT */
/*
 * The node as its requests and commands see it: settings, name and
 * address, the cluster map, the volumes, fault settings and counters.
 * struct mock_server (mock.h) holds one; the layers below the server
 * (request.c, command.c) reach the node only through this header.
 */
#ifndef NETBLK_MOCK_NODE_H
#define NETBLK_MOCK_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"
#include "rpc.h"

struct mock_config;
struct mock_volume;

enum mock_fault_op {
	MOCK_FOP_READ,
	MOCK_FOP_WRITE,
	MOCK_FOP_FLUSH,
	MOCK_FOP_DISCARD,
	MOCK_FOP_WRITE_ZEROES,
	MOCK_FOP_MAX
};

struct mock_faults {
	double error_rate[MOCK_FOP_MAX]; /* percent, 0..100 */
	uint32_t delay_min_ms, delay_max_ms;
	uint64_t drop_every;             /* 0 = off */
	uint64_t drop_counter;           /* data requests since drop-every */
	bool stall;
};

struct mock_stats {
	uint64_t connections;      /* accepted since start */
	uint64_t requests;         /* frames decoded as requests */
	uint64_t reads, writes, flushes, fua, discards, write_zeroes;
	uint64_t not_owner;
	uint64_t errors_injected;
	uint64_t drops;
	uint64_t bytes_read, bytes_written;
	uint64_t inflight;         /* held requests right now */
};

struct mock_node {
	const struct mock_config *cfg;
	char name[RPC_NAME_MAX + 1];      /* logs, HANDSHAKE reply */
	char node_addr[MAP_ADDR_MAX + 1]; /* this node in the map */

	struct map *map;           /* never NULL once the server runs */
	int node_index;            /* in map, or -1 when absent */

	struct mock_volume **volumes;
	size_t n_volumes;

	struct mock_faults faults;
	struct mock_stats stats;
	uint64_t rng;
};

/* Empty node: no map, no volumes, random numbers seeded from cfg. */
void mock_node_init(struct mock_node *node, const struct mock_config *cfg);
/* Free the volumes and the map. */
void mock_node_fini(struct mock_node *node);

/* Replace the map (taking ownership); warns when this node is not in it. */
void mock_node_set_map(struct mock_node *node, struct map *map);
/* The map's epoch, 0 without a map. */
uint64_t mock_node_epoch(const struct mock_node *node);
/* Whether this node serves every chunk of [offset, offset + length). */
bool mock_node_serves(const struct mock_node *node, uint64_t offset,
		      uint64_t length);

struct mock_volume *mock_node_find_volume(struct mock_node *node,
					  const char *name);
/*
 * Add a volume, taking ownership on success: -ENOSPC past
 * MOCK_MAX_VOLUMES, -EEXIST for a name in use, -ENOMEM.
 */
int mock_node_add_volume(struct mock_node *node, struct mock_volume *vol);

/* Uniform random in [0, n) (xorshift64*, seeded by --seed). */
uint64_t mock_node_random(struct mock_node *node, uint64_t n);

#endif
