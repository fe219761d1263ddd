/* SPDX-License-Identifier: MIT */
/* Pure routing decisions of the client engine; see route.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "route.h"

bool nb_route_op_writes(enum rpc_op op)
{
	return op == RPC_OP_WRITE || op == RPC_OP_DISCARD ||
	       op == RPC_OP_WRITE_ZEROES;
}

bool nb_route_op_fenced(enum rpc_op op)
{
	return nb_route_op_writes(op) || op == RPC_OP_FLUSH;
}

static uint64_t route_round_sector(uint64_t v)
{
	return v - v % SESSION_SECTOR;
}

uint64_t nb_route_op_max_len(enum rpc_op op, const struct rpc_volume_info *vol,
			  uint32_t max_io_size)
{
	switch (op) {
	case RPC_OP_READ:
	case RPC_OP_WRITE:
		return route_round_sector(max_io_size);
	case RPC_OP_DISCARD:
		return route_round_sector(vol->max_discard_size);
	case RPC_OP_WRITE_ZEROES:
		return route_round_sector(vol->max_write_zeroes_size);
	default:
		return 0;
	}
}

int nb_route_io_validate(const struct session_io *io,
		      const struct rpc_volume_info *vol, bool read_only)
{
	enum rpc_op op = route_wire_op(io->op);
	uint32_t allowed;

	switch (op) {
	case RPC_OP_READ:
		allowed = 0;
		break;
	case RPC_OP_WRITE:
		allowed = SESSION_FLAG_FUA;
		break;
	case RPC_OP_FLUSH:
	case RPC_OP_DISCARD:
		allowed = 0;
		break;
	case RPC_OP_WRITE_ZEROES:
		allowed = SESSION_FLAG_FUA | SESSION_FLAG_UNMAP;
		break;
	default:
		return -EINVAL;
	}
	if (io->flags & ~allowed)
		return -EINVAL;
	if (!io->done)
		return -EINVAL;

	if (op != RPC_OP_FLUSH) {
		if (io->offset % SESSION_SECTOR || io->length % SESSION_SECTOR)
			return -EINVAL;
		if (io->offset > vol->size || io->length > vol->size - io->offset)
			return -EINVAL;
	}
	if (op == RPC_OP_READ || op == RPC_OP_WRITE) {
		if (io->length == 0 || io->iovcnt <= 0 || !io->iov)
			return -EINVAL;
		if (iov_total(io->iov, io->iovcnt) < io->length)
			return -EINVAL;
	}

	if (nb_route_op_writes(op) && (read_only || vol->read_only))
		return -EROFS;
	if (op == RPC_OP_DISCARD &&
	    nb_route_op_max_len(op, vol, 0) == 0)
		return -EOPNOTSUPP;
	if (op == RPC_OP_WRITE_ZEROES &&
	    nb_route_op_max_len(op, vol, 0) == 0)
		return -EOPNOTSUPP;
	return 0;
}

uint64_t nb_route_piece_len(uint64_t offset, uint64_t length,
			 uint64_t chunk_size, uint64_t max_len)
{
	uint64_t to_end = chunk_size - (offset & (chunk_size - 1));
	uint64_t n = length;

	if (n > to_end)
		n = to_end;
	if (max_len && n > max_len)
		n = max_len;
	return n;
}

uint64_t nb_route_count_pieces(uint64_t offset, uint64_t length,
			    uint64_t chunk_size, uint64_t max_len)
{
	uint64_t count = 0;

	while (length) {
		uint64_t n = nb_route_piece_len(offset, length, chunk_size,
					     max_len);
		offset += n;
		length -= n;
		count++;
	}
	return count;
}

bool nb_route_candidate(const struct map *map, const struct map_placement *pl,
			uint32_t pos)
{
	return pos < pl->n && pl->nodes[pos] < map->n_nodes &&
	       map_same_store(map, pl->nodes[0], pl->nodes[pos]);
}

uint32_t nb_route_candidates(const struct map *map,
			     const struct map_placement *pl)
{
	uint32_t n = 0;

	for (uint32_t pos = 0; pl && pos < pl->n; pos++)
		if (nb_route_candidate(map, pl, pos))
			n++;
	return n ? n : 1;
}

int nb_route_pick(const struct map *map, const struct map_placement *pl,
		  uint32_t start_pos, route_usable_fn *usable, void *opaque)
{
	if (!map || !pl || pl->n == 0)
		return -1;
	for (uint32_t i = 0; i < pl->n; i++) {
		uint32_t pos = (start_pos + i) % pl->n;

		if (nb_route_candidate(map, pl, pos) &&
		    usable(pl->nodes[pos], opaque))
			return (int)pos;
	}
	return -1;
}

bool nb_route_node_writable(const struct map *map, uint32_t node)
{
	for (uint32_t i = 0; i < map->n_chunks; i++) {
		const struct map_placement *pl = &map->chunks[i];

		for (uint32_t pos = 0; pos < pl->n; pos++)
			if (pl->nodes[pos] == node &&
			    nb_route_candidate(map, pl, pos))
				return true;
	}
	return false;
}

enum route_action nb_route_status_action(enum rpc_status status, int *result)
{
	*result = -EIO;
	switch (status) {
	case RPC_STATUS_OK:
		*result = 0;
		return ROUTE_COMPLETE;
	case RPC_STATUS_IO_ERROR:
		return ROUTE_NEXT_NODE;
	case RPC_STATUS_NOT_OWNER:
		return ROUTE_REFRESH_MAP;
	case RPC_STATUS_BUSY:
		return ROUTE_RETRY_LATER;
	case RPC_STATUS_BAD_STATE:
		return ROUTE_RECONNECT;
	case RPC_STATUS_READ_ONLY:
		*result = -EROFS;
		return ROUTE_COMPLETE;
	case RPC_STATUS_UNSUPPORTED:
		*result = -EOPNOTSUPP;
		return ROUTE_COMPLETE;
	case RPC_STATUS_OUT_OF_RANGE:
	case RPC_STATUS_NO_SPACE:
	case RPC_STATUS_MALFORMED:
	case RPC_STATUS_NOT_FOUND:
	case RPC_STATUS_EXISTS:
	case RPC_STATUS_LOCKED:
	/* The writer lock moved on: never retried, elsewhere or later. */
	case RPC_STATUS_FENCED:
	default:
		return ROUTE_COMPLETE;
	}
}

bool nb_route_should_refresh(uint64_t have_epoch, uint64_t node_epoch)
{
	return node_epoch == 0 || node_epoch > have_epoch;
}

bool nb_route_map_is_newer(uint64_t have_epoch, uint64_t got_epoch)
{
	return got_epoch > have_epoch;
}

double nb_route_backoff(uint32_t attempt, double base, double max, uint32_t rnd)
{
	double d = base;
	double jitter = 0.75 + (double)(rnd % 1000) / 2000.0;

	for (uint32_t i = 0; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (d <= 0)
		d = 0.001;
	return d * jitter;
}

uint32_t nb_route_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/*
 * nb_split_host_port() and what the engine refuses on top of it, as it
 * always did: port 0, brackets around anything but an IPv6 address, and
 * brackets inside a host name.
 */
int nb_route_addr_split(const char *addr, char *host, size_t hostlen,
		     char *port, size_t portlen)
{
	if (!addr || nb_split_host_port(addr, host, hostlen, port, portlen) < 0)
		return -EINVAL;
	if (strtoul(port, NULL, 10) == 0)
		return -EINVAL;
	if (addr[0] == '[' ? !strchr(host, ':') : strpbrk(host, "[]") != NULL)
		return -EINVAL;
	return 0;
}
