/* SPDX-License-Identifier: MIT */
/* The map and the volumes table, shared by every I/O thread (srv_node.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_node.h"

int nb_srv_set_map(struct nb_srv *srv, struct map *map)
{
	struct srv_map *m = calloc(1, sizeof(*m));

	if (!m) {
		nb_map_free(map);
		return -ENOMEM;
	}
	m->map = map;
	m->node_index = nb_map_node_index(map, srv->node_addr);
	if (m->node_index < 0)
		srv_warn("node %s is not in the cluster map (epoch %llu): every data request gets NOT_OWNER",
			 srv->node_addr, (unsigned long long)map->epoch);
	pthread_mutex_lock(&srv->lock);
	m->older = srv->map;
	/* Requests on other threads may still read the older maps: kept. */
	__atomic_store_n(&srv->map, m, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

const struct srv_map *nb_srv_map_get(const struct nb_srv *srv)
{
	return __atomic_load_n(&srv->map, __ATOMIC_ACQUIRE);
}

bool nb_srv_map_serves(const struct srv_map *m, uint64_t offset, uint64_t length)
{
	if (!m || m->node_index < 0)
		return false;
	return nb_map_node_serves_range(m->map, (uint32_t)m->node_index, offset,
					length);
}

uint64_t nb_srv_map_epoch(const struct nb_srv *srv)
{
	const struct srv_map *m = nb_srv_map_get(srv);

	return m ? m->map->epoch : 0;
}

void nb_srv_maps_free(struct nb_srv *srv)
{
	struct srv_map *m;

	while ((m = srv->map)) {
		srv->map = m->older;
		nb_map_free(m->map);
		free(m);
	}
}

/* ---- volumes ---- */

static struct srv_volume *srv_volume_find_locked(struct nb_srv *srv,
						 const char *name)
{
	for (size_t i = 0; i < srv->n_volumes; i++)
		if (strcmp(srv->volumes[i]->name, name) == 0)
			return srv->volumes[i];
	return NULL;
}

struct srv_volume *nb_srv_volume_find(struct nb_srv *srv, const char *name)
{
	struct srv_volume *v;

	pthread_mutex_lock(&srv->lock);
	v = srv_volume_find_locked(srv, name);
	pthread_mutex_unlock(&srv->lock);
	return v;
}

bool nb_srv_volume_exists(struct nb_srv *srv, const char *name)
{
	return nb_srv_volume_find(srv, name) != NULL;
}

size_t nb_srv_volume_count(const struct nb_srv *srv)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&srv->lock);
	n = srv->n_volumes;
	pthread_mutex_unlock((pthread_mutex_t *)&srv->lock);
	return n;
}

int nb_srv_volume_insert(struct nb_srv *srv, const char *name,
			 struct nb_store_vol *svol, struct srv_volume **out)
{
	struct nb_store_vol_info info;
	struct srv_volume *v, **vv;
	int r;

	r = svol->store->ops->info(svol, &info);
	if (r < 0)
		goto out_close;
	v = calloc(1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out_close;
	}
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->vol = svol;
	v->size = info.size;
	v->block_size = info.block_size;
	v->read_only = info.read_only;
	v->max_discard = srv->cfg->max_discard;
	v->max_write_zeroes = srv->cfg->max_write_zeroes;
	v->users = out ? 1 : 0;  /* the caller's, before others can see it */

	pthread_mutex_lock(&srv->lock);
	if (srv_volume_find_locked(srv, name)) {
		r = -EEXIST;
	} else if (srv->n_volumes >= NB_SRV_MAX_VOLUMES) {
		r = -ENOSPC;
	} else {
		vv = realloc(srv->volumes, (srv->n_volumes + 1) * sizeof(*vv));
		if (!vv) {
			r = -ENOMEM;
		} else {
			vv[srv->n_volumes++] = v;
			srv->volumes = vv;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	if (r < 0) {
		free(v);
		goto out_close;
	}
	if (out)
		*out = v;
	return 0;

out_close:
	svol->store->ops->close(svol);
	return r;
}

/* The table's volume of that name with a reference, or NULL. */
static struct srv_volume *srv_volume_get(struct nb_srv *srv, const char *name)
{
	struct srv_volume *v;

	pthread_mutex_lock(&srv->lock);
	v = srv_volume_find_locked(srv, name);
	if (v)
		v->users++;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

struct srv_volume *nb_srv_volume_lookup(struct nb_srv *srv, const char *name,
					int *err)
{
	struct srv_volume *v = srv_volume_get(srv, name);
	struct nb_store_vol *svol;
	int r;

	if (v)
		return v;
	if (!srv->cfg->open_by_name || !nb_store_name_valid(name)) {
		*err = -ENOENT;
		return NULL;
	}
	r = srv->store->ops->open(srv->store, name, &svol);
	if (r == 0) {
		r = nb_srv_volume_insert(srv, name, svol, NULL);
		/* Another thread opened it first: take that one. */
		if (r == -EEXIST)
			r = 0;
	}
	if (r == 0) {
		v = srv_volume_get(srv, name);
		if (!v)
			r = -ENOENT;
	}
	if (r < 0) {
		*err = r;
		return NULL;
	}
	srv_info("volume %s: %llu bytes, block size %u%s", v->name,
		 (unsigned long long)nb_srv_volume_size(v), v->block_size,
		 v->read_only ? ", read-only" : "");
	return v;
}

void nb_srv_volume_hold(struct nb_srv *srv, struct srv_volume *v)
{
	pthread_mutex_lock(&srv->lock);
	v->users++;
	pthread_mutex_unlock(&srv->lock);
}

void nb_srv_volume_put(struct nb_srv *srv, struct srv_volume *v)
{
	bool gone;

	if (!v)
		return;
	pthread_mutex_lock(&srv->lock);
	if (v->users)
		v->users--;
	gone = v->deleted && v->users == 0;
	pthread_mutex_unlock(&srv->lock);
	if (gone) {
		v->vol->store->ops->close(v->vol);
		free(v);
	}
}

void nb_srv_volume_retire(struct nb_srv *srv, struct srv_volume *v)
{
	pthread_mutex_lock(&srv->lock);
	for (size_t i = 0; i < srv->n_volumes; i++) {
		if (srv->volumes[i] == v) {
			srv->volumes[i] = srv->volumes[--srv->n_volumes];
			__atomic_store_n(&v->deleted, true, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

int nb_srv_volume_names(struct nb_srv *srv, const struct nb_store *skip,
			char ***names, size_t *count)
{
	char **list;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&srv->lock);
	list = calloc(srv->n_volumes + 1, sizeof(*list));
	for (size_t i = 0; list && i < srv->n_volumes; i++) {
		if (skip && srv->volumes[i]->vol->store == skip)
			continue;
		list[n] = strdup(srv->volumes[i]->name);
		if (!list[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!list)
		return -ENOMEM;
	if (r < 0) {
		nb_store_names_free(list, n);
		return r;
	}
	*names = list;
	*count = n;
	return 0;
}

int nb_srv_volume_add(struct nb_srv *srv, struct nb_store *store, const char *name)
{
	struct nb_store_vol *svol;
	int r;

	if (nb_srv_volume_find(srv, name))
		return -EEXIST;
	r = store->ops->open(store, name, &svol);
	if (r < 0)
		return r;
	return nb_srv_volume_insert(srv, name, svol, NULL);
}

/* Sizes only grow: two grows racing leave the larger. */
static void srv_volume_size_seen(struct srv_volume *v, uint64_t size)
{
	uint64_t cur = nb_srv_volume_size(v);

	while (size > cur &&
	       !__atomic_compare_exchange_n(&v->size, &cur, size, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int nb_srv_volume_grow(struct srv_volume *v, uint64_t size, char *err,
		       size_t errlen)
{
	int r;

	r = v->vol->store->ops->resize(v->vol, size);
	if (r < 0) {
		snprintf(err, errlen, "cannot resize volume %s: %s", v->name,
			 strerror(-r));
		return r;
	}
	srv_volume_size_seen(v, size);
	snprintf(err, errlen, "volume %s size %llu", v->name, (unsigned long long)size);
	return 0;
}

void nb_srv_volume_refresh(struct srv_volume *v)
{
	struct nb_store_vol_info info;

	if (v->vol->store->ops->info(v->vol, &info) < 0)
		return;
	srv_volume_size_seen(v, info.size);
}

int nb_srv_volume_resize(struct nb_srv *srv, const char *name, uint64_t size,
			 char *err, size_t errlen)
{
	struct srv_volume *v = srv_volume_get(srv, name);
	uint64_t now;
	int r;

	if (!v) {
		snprintf(err, errlen, "no volume named \"%s\"", name);
		return -ENOENT;
	}
	nb_srv_volume_refresh(v);
	now = nb_srv_volume_size(v);
	if (size > NB_SRV_VOLUME_SIZE_MAX) {
		snprintf(err, errlen, "volume %s: %llu bytes exceeds the largest volume size (%llu)",
			 v->name, (unsigned long long)size,
			 (unsigned long long)NB_SRV_VOLUME_SIZE_MAX);
		r = -EFBIG;
	} else if (size < now || size % v->block_size != 0) {
		snprintf(err, errlen,
			 "volume %s can only grow to a multiple of %u bytes (now %llu, asked %llu)",
			 v->name, v->block_size, (unsigned long long)now,
			 (unsigned long long)size);
		r = -EINVAL;
	} else {
		r = nb_srv_volume_grow(v, size, err, errlen);
	}
	nb_srv_volume_put(srv, v);
	return r;
}

void nb_srv_volume_info(const struct srv_volume *v, struct rpc_volume_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->volume, sizeof(out->volume), "%s", v->name);
	out->size = nb_srv_volume_size(v);
	out->block_size = v->block_size;
	out->read_only = v->read_only;
	out->max_discard_size = v->max_discard;
	out->max_write_zeroes_size = v->max_write_zeroes;
}

void nb_srv_volumes_free(struct nb_srv *srv)
{
	for (size_t i = 0; i < srv->n_volumes; i++) {
		struct nb_store_vol *svol = srv->volumes[i]->vol;

		svol->store->ops->close(svol);
		free(srv->volumes[i]);
	}
	free(srv->volumes);
	srv->volumes = NULL;
	srv->n_volumes = 0;
}
