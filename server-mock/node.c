/* SPDX-License-Identifier: MIT */
/* The node's state shared by requests and commands (node.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"
#include "node.h"
#include "volume.h"

void mock_node_init(struct mock_node *node, const struct mock_config *cfg)
{
	memset(node, 0, sizeof(*node));
	node->cfg = cfg;
	node->node_index = -1;
	node->rng = cfg->has_seed ? cfg->seed :
		    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	if (node->rng == 0)
		node->rng = 0x9e3779b97f4a7c15ULL;
}

void mock_node_fini(struct mock_node *node)
{
	for (size_t i = 0; i < node->n_volumes; i++)
		mock_volume_free(node->volumes[i]);
	free(node->volumes);
	node->volumes = NULL;
	node->n_volumes = 0;
	nb_map_free(node->map);
	node->map = NULL;
}

void mock_node_set_map(struct mock_node *node, struct map *map)
{
	nb_map_free(node->map);
	node->map = map;
	node->node_index = nb_map_node_index(map, node->node_addr);
	if (node->node_index < 0)
		mock_warn("node %s is not in the cluster map (epoch %llu): every data request gets NOT_OWNER",
			  node->node_addr, (unsigned long long)map->epoch);
}

uint64_t mock_node_epoch(const struct mock_node *node)
{
	return node->map ? node->map->epoch : 0;
}

bool mock_node_serves(const struct mock_node *node, uint64_t offset,
		      uint64_t length)
{
	if (!node->map || node->node_index < 0)
		return false;
	return nb_map_node_serves_range(node->map, (uint32_t)node->node_index,
				     offset, length);
}

struct mock_volume *mock_node_find_volume(struct mock_node *node,
					  const char *name)
{
	for (size_t i = 0; i < node->n_volumes; i++)
		if (strcmp(node->volumes[i]->name, name) == 0)
			return node->volumes[i];
	return NULL;
}

int mock_node_add_volume(struct mock_node *node, struct mock_volume *vol)
{
	struct mock_volume **v;

	if (node->n_volumes >= MOCK_MAX_VOLUMES)
		return -ENOSPC;
	if (mock_node_find_volume(node, vol->name))
		return -EEXIST;
	v = realloc(node->volumes, (node->n_volumes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	vol->max_discard = node->cfg->max_discard;
	vol->max_write_zeroes = node->cfg->max_write_zeroes;
	v[node->n_volumes++] = vol;
	node->volumes = v;
	return 0;
}

uint64_t mock_node_random(struct mock_node *node, uint64_t n)
{
	/* xorshift64* */
	uint64_t x = node->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	node->rng = x;
	return n ? (x * 0x2545F4914F6CDD1DULL) % n : 0;
}
