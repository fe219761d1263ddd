/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the cluster-map text parser (nb_map_parse), the form an
 * operator writes and the mock nodes share.  Whatever parses must pass
 * nb_map_validate, survive nb_map_dup, and answer placement queries for any
 * chunk and range without touching memory it does not own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map *map = NULL, *dup;
	char err[256];
	char *text;
	uint64_t chunk = 0, len = 0;
	uint32_t node;
	int rc;

	/* the last 16 bytes, when present, also pick a query */
	if (size >= 16) {
		memcpy(&chunk, data + size - 16, 8);
		memcpy(&len, data + size - 8, 8);
	}
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	rc = nb_map_parse(text, &map, err, sizeof(err));
	free(text);
	if (rc < 0) {
		if (map || !err[0])
			abort();	/* refused without a reason */
		return 0;
	}
	if (nb_map_validate(map, err, sizeof(err)) < 0)
		abort();	/* parsed a map it calls invalid */
	dup = nb_map_dup(map);
	if (!dup)
		abort();
	for (node = 0; node < map->n_nodes; node++) {
		if (nb_map_node_index(dup, map->nodes[node]) < 0)
			abort();
		nb_map_node_serves(map, node, chunk);
		nb_map_node_serves_range(map, node, chunk, len);
	}
	if (!nb_map_placement_of(map, chunk) ||
	    !nb_map_placement_of(map, map_chunk_of(map, chunk)))
		abort();
	nb_map_free(dup);
	nb_map_free(map);
	return 0;
}
