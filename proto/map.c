/* SPDX-License-Identifier: MIT */
/* The cluster map: parsing, validation and lookups. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errmsg.h"
#include "map.h"

#define MAP_FILE_MAX (4u << 20)

void nb_map_free(struct map *map)
{
	uint32_t i;

	if (!map)
		return;
	for (i = 0; i < map->n_nodes; i++)
		free(map->nodes[i]);
	free(map->nodes);
	for (i = 0; i < map->n_chunks; i++)
		free(map->chunks[i].nodes);
	free(map->chunks);
	free(map);
}

struct map *nb_map_dup(const struct map *src)
{
	struct map *map;
	uint32_t i;

	map = calloc(1, sizeof(*map));
	if (!map)
		return NULL;
	map->epoch = src->epoch;
	map->chunk_size = src->chunk_size;
	memcpy(map->groups, src->groups, sizeof(map->groups));
	map->nodes = calloc(src->n_nodes ? src->n_nodes : 1, sizeof(char *));
	map->chunks = calloc(src->n_chunks ? src->n_chunks : 1,
			     sizeof(*map->chunks));
	if (!map->nodes || !map->chunks)
		goto out_free;
	for (i = 0; i < src->n_nodes; i++) {
		map->nodes[i] = strdup(src->nodes[i]);
		if (!map->nodes[i])
			goto out_free;
		map->n_nodes++;
	}
	for (i = 0; i < src->n_chunks; i++) {
		struct map_placement *pl = &map->chunks[i];

		pl->nodes = malloc(sizeof(uint32_t) * (src->chunks[i].n ?
						       src->chunks[i].n : 1));
		if (!pl->nodes)
			goto out_free;
		pl->n = src->chunks[i].n;
		memcpy(pl->nodes, src->chunks[i].nodes,
		       sizeof(uint32_t) * pl->n);
		map->n_chunks++;
	}
	return map;

out_free:
	nb_map_free(map);
	errno = ENOMEM;
	return NULL;
}

int nb_map_validate(const struct map *map, char *err, size_t errlen)
{
	uint32_t i, j, k;

	if (map->chunk_size < 4096 ||
	    (map->chunk_size & (map->chunk_size - 1)))
		return nb_errf(err, errlen, -EINVAL,
			       "chunk_size %llu is not a power of two >= 4096",
			       (unsigned long long)map->chunk_size);
	if (map->n_nodes == 0 || map->n_nodes > MAP_MAX_NODES)
		return nb_errf(err, errlen, -EINVAL, "map has %u nodes (1..%u allowed)",
			       map->n_nodes, MAP_MAX_NODES);
	if (map->n_chunks == 0 || map->n_chunks > MAP_MAX_PLACEMENTS)
		return nb_errf(err, errlen, -EINVAL,
			       "map has %u placements (1..%u allowed)",
			       map->n_chunks, MAP_MAX_PLACEMENTS);
	for (i = 0; i < map->n_nodes; i++) {
		size_t len = map->nodes[i] ? strlen(map->nodes[i]) : 0;

		if (len == 0 || len > MAP_ADDR_MAX)
			return nb_errf(err, errlen, -EINVAL,
				       "node %u has an empty or too long address",
				       i);
	}
	for (i = 0; i < map->n_chunks; i++) {
		const struct map_placement *pl = &map->chunks[i];

		if (pl->n == 0 || pl->n > map->n_nodes)
			return nb_errf(err, errlen, -EINVAL,
				       "placement %u lists %u nodes (1..%u allowed)",
				       i, pl->n, map->n_nodes);
		for (j = 0; j < pl->n; j++) {
			if (pl->nodes[j] >= map->n_nodes)
				return nb_errf(err, errlen, -EINVAL,
					       "placement %u names node %u, map has %u",
					       i, pl->nodes[j], map->n_nodes);
			for (k = 0; k < j; k++)
				if (pl->nodes[k] == pl->nodes[j])
					return nb_errf(err, errlen, -EINVAL,
						       "placement %u lists node %u twice",
						       i, pl->nodes[j]);
		}
	}
	return 0;
}

const struct map_placement *nb_map_placement_of(const struct map *map,
					     uint64_t chunk)
{
	return &map->chunks[chunk % map->n_chunks];
}

uint32_t nb_map_n_stores(const struct map *map)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < map->n_nodes; i++) {
		uint32_t j;

		/* counted at the first node of its store */
		for (j = 0; j < i && !map_same_store(map, i, j); j++)
			;
		if (j == i)
			n++;
	}
	return n;
}

int nb_map_node_index(const struct map *map, const char *addr)
{
	uint32_t i;

	for (i = 0; i < map->n_nodes; i++)
		if (strcmp(map->nodes[i], addr) == 0)
			return i;
	return -ENOENT;
}

bool nb_map_node_serves(const struct map *map, uint32_t node, uint64_t chunk)
{
	const struct map_placement *pl = nb_map_placement_of(map, chunk);
	uint32_t i;

	for (i = 0; i < pl->n; i++)
		if (pl->nodes[i] == node)
			return true;
	return false;
}

bool nb_map_node_serves_range(const struct map *map, uint32_t node,
			   uint64_t offset, uint64_t length)
{
	uint64_t first = map_chunk_of(map, offset);
	uint64_t last, c;

	if (length == 0)
		return nb_map_node_serves(map, node, first);
	if (offset + length < offset)
		return false;
	last = map_chunk_of(map, offset + length - 1);
	/*
	 * Placements repeat every n_chunks chunks, so a range longer than
	 * that is checked once per placement, never once per chunk.
	 */
	if (last - first >= map->n_chunks)
		last = first + map->n_chunks - 1;
	for (c = first; c <= last; c++)
		if (!nb_map_node_serves(map, node, c))
			return false;
	return true;
}

/* Parse "123", "64K", "4M", "1G". */
static bool map_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: break;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool map_parse_u32(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > UINT32_MAX)
		return false;
	*out = v;
	return true;
}

/* Builder state while parsing. */
struct map_builder {
	struct map *map;
	uint32_t cap_nodes, cap_chunks;
	bool have_chunk_size, have_epoch;
};

static int map_builder_add_node(struct map_builder *b, const char *addr)
{
	struct map *map = b->map;

	if (map->n_nodes == b->cap_nodes) {
		uint32_t cap = b->cap_nodes ? b->cap_nodes * 2 : 8;
		char **n = realloc(map->nodes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		map->nodes = n;
		b->cap_nodes = cap;
	}
	map->nodes[map->n_nodes] = strdup(addr);
	if (!map->nodes[map->n_nodes])
		return -ENOMEM;
	map->n_nodes++;
	return 0;
}

static int map_builder_add_chunk(struct map_builder *b, uint32_t *nodes,
				 uint32_t n)
{
	struct map *map = b->map;
	struct map_placement *pl;

	if (map->n_chunks == b->cap_chunks) {
		uint32_t cap = b->cap_chunks ? b->cap_chunks * 2 : 8;
		struct map_placement *c = realloc(map->chunks, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		map->chunks = c;
		b->cap_chunks = cap;
	}
	pl = &map->chunks[map->n_chunks];
	pl->nodes = malloc(n * sizeof(uint32_t));
	if (!pl->nodes)
		return -ENOMEM;
	memcpy(pl->nodes, nodes, n * sizeof(uint32_t));
	pl->n = n;
	map->n_chunks++;
	return 0;
}

/* One placement per node, node i first, the others after in order. */
static int map_builder_default_chunks(struct map_builder *b)
{
	uint32_t n = b->map->n_nodes;
	uint32_t nodes[MAP_MAX_NODES];
	uint32_t i, j;
	int ret;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++)
			nodes[j] = (i + j) % n;
		ret = map_builder_add_chunk(b, nodes, n);
		if (ret < 0)
			return ret;
	}
	return 0;
}

#define MAP_MAX_WORDS (MAP_MAX_NODES + 1)

static int map_parse_line(struct map_builder *b, char *line, unsigned int lineno,
			  char *err, size_t errlen)
{
	char *words[MAP_MAX_WORDS];
	uint32_t nodes[MAP_MAX_NODES];
	unsigned int n = 0, i;
	char *save = NULL, *w;
	uint64_t v;
	char *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	for (w = strtok_r(line, " \t\r", &save); w;
	     w = strtok_r(NULL, " \t\r", &save)) {
		if (n == MAP_MAX_WORDS)
			return nb_errf(err, errlen, -EINVAL, "line %u: too many words",
				       lineno);
		words[n++] = w;
	}
	if (n == 0)
		return 0;
	if (strcmp(words[0], "epoch") == 0) {
		if (n != 2 || !map_parse_size(words[1], &v) ||
		    strpbrk(words[1], "KkMmGg"))
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: 'epoch' needs one number",
				       lineno);
		b->map->epoch = v;
		b->have_epoch = true;
	} else if (strcmp(words[0], "chunk_size") == 0) {
		if (n != 2 || !map_parse_size(words[1], &v))
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: 'chunk_size' needs a size such as 1M",
				       lineno);
		b->map->chunk_size = v;
		b->have_chunk_size = true;
	} else if (strcmp(words[0], "node") == 0) {
		uint32_t group = 0;

		if (n == 4 && strcmp(words[2], "group") == 0) {
			if (!map_parse_u32(words[3], &group) || group == 0)
				return nb_errf(err, errlen, -EINVAL,
					       "line %u: 'group' needs a number from 1 to %u",
					       lineno, UINT32_MAX);
			n = 2;
		}
		if (n != 2)
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: 'node' needs one address host:port, then optionally 'group N'",
				       lineno);
		if (strlen(words[1]) > MAP_ADDR_MAX || !strchr(words[1], ':'))
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: node address '%.64s' is not host:port",
				       lineno, words[1]);
		if (nb_map_node_index(b->map, words[1]) >= 0)
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: node %s listed twice", lineno,
				       words[1]);
		if (b->map->n_nodes == MAP_MAX_NODES)
			return nb_errf(err, errlen, -EINVAL, "line %u: more than %u nodes",
				       lineno, MAP_MAX_NODES);
		if (map_builder_add_node(b, words[1]) < 0)
			return -ENOMEM;
		b->map->groups[b->map->n_nodes - 1] = group;
	} else if (strcmp(words[0], "chunk") == 0) {
		if (n < 2)
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: 'chunk' needs node indexes",
				       lineno);
		if (b->map->n_chunks == MAP_MAX_PLACEMENTS)
			return nb_errf(err, errlen, -EINVAL,
				       "line %u: more than %u chunk lines",
				       lineno, MAP_MAX_PLACEMENTS);
		for (i = 1; i < n; i++) {
			if (!map_parse_u32(words[i], &nodes[i - 1]))
				return nb_errf(err, errlen, -EINVAL,
					       "line %u: '%.32s' is not a node index",
					       lineno, words[i]);
		}
		if (map_builder_add_chunk(b, nodes, n - 1) < 0)
			return -ENOMEM;
	} else {
		return nb_errf(err, errlen, -EINVAL, "line %u: unknown keyword '%.32s'",
			       lineno, words[0]);
	}
	return 0;
}

int nb_map_parse(const char *text, struct map **out, char *err, size_t errlen)
{
	struct map_builder b = { 0 };
	char *copy, *line, *next;
	unsigned int lineno = 0;
	int ret;

	b.map = calloc(1, sizeof(*b.map));
	copy = strdup(text);
	if (!b.map || !copy) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		ret = map_parse_line(&b, line, lineno, err, errlen);
		if (ret < 0)
			goto out_free;
	}
	if (!b.have_chunk_size) {
		ret = nb_errf(err, errlen, -EINVAL, "no 'chunk_size' line");
		goto out_free;
	}
	if (!b.have_epoch) {
		ret = nb_errf(err, errlen, -EINVAL, "no 'epoch' line");
		goto out_free;
	}
	if (b.map->n_chunks == 0 && b.map->n_nodes > 0) {
		ret = map_builder_default_chunks(&b);
		if (ret < 0)
			goto out_free;
	}
	ret = nb_map_validate(b.map, err, errlen);
	if (ret < 0)
		goto out_free;
	free(copy);
	*out = b.map;
	return 0;

out_free:
	if (ret == -ENOMEM)
		nb_errf(err, errlen, ret, "out of memory");
	free(copy);
	nb_map_free(b.map);
	return ret;
}

int nb_map_load_file(const char *path, struct map **out, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		nb_errf(err, errlen, ret, "cannot open map file %s: %s", path,
			strerror(-ret));
		return ret;
	}
	buf = malloc(MAP_FILE_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	while ((n = read(fd, buf + len, MAP_FILE_MAX - len)) > 0) {
		len += n;
		if (len == MAP_FILE_MAX)
			break;
	}
	if (n < 0) {
		ret = -errno;
		nb_errf(err, errlen, ret, "cannot read map file %s: %s", path,
			strerror(-ret));
		goto out_free;
	}
	if (len == MAP_FILE_MAX) {
		ret = nb_errf(err, errlen, -EINVAL, "map file %s is larger than %u bytes",
			      path, MAP_FILE_MAX);
		goto out_free;
	}
	if (memchr(buf, '\0', len)) {
		ret = nb_errf(err, errlen, -EINVAL, "map file %s contains a NUL byte",
			      path);
		goto out_free;
	}
	buf[len] = '\0';
	ret = nb_map_parse(buf, out, err, errlen);
	if (ret < 0 && err && errlen) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errlen, "%s", tmp);
	}
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}
