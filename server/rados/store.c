/* SPDX-License-Identifier: MIT */
/* The cluster connection and the pool: nb_rados_connect() and its errors. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errmsg.h"
#include "rados_int.h"

void nb_rados_header_oid(char *buf, const char *name)
{
	snprintf(buf, RS_OID_MAX, "netblk.%s.header", name);
}

void nb_rados_data_oid(char *buf, const char *name, uint64_t objno)
{
	snprintf(buf, RS_OID_MAX, "netblk.%s.%016" PRIx64, name, objno);
}

void nb_rados_gen_str(char *buf, uint64_t gen)
{
	snprintf(buf, RS_GEN_LEN + 1, "%016" PRIx64, gen);
}

static int store_set(rados_t cl, const char *opt, unsigned val)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", val);
	return rados_conf_set(cl, opt, num);
}

/* 0 when the keyring file has a section [client] (-ENOENT when not). */
static int store_keyring_has(const char *path, const char *client)
{
	char line[512], want[300];
	FILE *f = fopen(path, "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "[%s]", client);
	while (ret && fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");

		s[strcspn(s, " \t\r\n")] = '\0';
		if (strcmp(s, want) == 0)
			ret = 0;
	}
	fclose(f);
	return ret;
}

/* The message for a failed rados_connect(). */
static int store_connect_err(const struct nb_rados_conf *c, const char *client,
			     int ret, unsigned timeout, char *err, size_t errlen)
{
	const char *conf = c->conf_path ? c->conf_path : "the default ceph.conf";
	const char *keyring = c->keyring ? c->keyring : "the keyring named in the config";

	switch (ret) {
	case -EACCES:
	case -EPERM:
		return nb_errf(err, errlen, ret,
			       "Ceph refused %s: cephx authentication failed with the key from %s "
			       "(wrong key, or no such client)", client, keyring);
	case -ENOENT:
		return nb_errf(err, errlen, ret,
			       "cannot connect to Ceph as %s: no key for it found in %s",
			       client, keyring);
	case -ETIMEDOUT:
		return nb_errf(err, errlen, ret,
			       "cannot connect to Ceph as %s: no monitor of %s answered within %u s",
			       client, conf, timeout);
	default:
		return nb_errf(err, errlen, ret, "cannot connect to Ceph as %s (config %s): %s",
			       client, conf, strerror(-ret));
	}
}

/*
 * A new rados instance for st's client, config and pool: *cluster and
 * *io. Messages as nb_rados_connect() documents.
 */
static int store_instance_open(struct nb_rados_store *st, rados_t *cluster_out,
			       rados_ioctx_t *io_out, char *err, size_t errlen)
{
	struct nb_rados_conf c = {
		.conf_path = st->conf_path,
		.keyring = st->keyring,
		.pool = st->pool,
	};
	unsigned timeout = st->connect_timeout_s ? st->connect_timeout_s : 30;
	rados_t cluster;
	rados_ioctx_t io;
	uint64_t size;
	time_t mtime;
	int ret;

	ret = rados_create2(&cluster, "ceph", st->client, 0);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "cannot set up a Ceph client %s: %s",
			       st->client, strerror(-ret));
	if (c.conf_path) {
		if (access(c.conf_path, R_OK) < 0) {
			ret = nb_errf(err, errlen, -errno, "cannot read Ceph config %s: %s",
				      c.conf_path, strerror(errno));
			goto out_shutdown;
		}
		ret = rados_conf_read_file(cluster, c.conf_path);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "cannot parse Ceph config %s: %s",
				c.conf_path, strerror(-ret));
			goto out_shutdown;
		}
	} else {
		ret = rados_conf_read_file(cluster, NULL);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "no usable Ceph config found "
				"(CEPH_CONF, /etc/ceph/ceph.conf): %s", strerror(-ret));
			goto out_shutdown;
		}
	}
	if (c.keyring) {
		if (access(c.keyring, R_OK) < 0) {
			ret = nb_errf(err, errlen, -errno, "cannot read Ceph keyring %s: %s",
				      c.keyring, strerror(errno));
			goto out_shutdown;
		}
		ret = store_keyring_has(c.keyring, st->client);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "Ceph keyring %s holds no key for %s",
				c.keyring, st->client);
			goto out_shutdown;
		}
		ret = rados_conf_set(cluster, "keyring", c.keyring);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "cannot use keyring %s: %s",
				c.keyring, strerror(-ret));
			goto out_shutdown;
		}
	}
	store_set(cluster, "client_mount_timeout", timeout);
	if (st->op_timeout_s) {
		store_set(cluster, "rados_osd_op_timeout", st->op_timeout_s);
		store_set(cluster, "rados_mon_op_timeout", st->op_timeout_s);
	}

	ret = rados_connect(cluster);
	if (ret < 0) {
		store_connect_err(&c, st->client, ret, timeout, err, errlen);
		goto out_shutdown;
	}
	ret = rados_ioctx_create(cluster, st->pool, &io);
	if (ret < 0) {
		if (ret == -ENOENT)
			nb_errf(err, errlen, ret, "Ceph pool '%s' does not exist", st->pool);
		else
			nb_errf(err, errlen, ret, "cannot open Ceph pool '%s': %s",
				st->pool, strerror(-ret));
		goto out_shutdown;
	}
	/* One read proves the OSD caps cover the pool. */
	ret = rados_stat(io, RS_DIRECTORY_OID, &size, &mtime);
	if (ret < 0 && ret != -ENOENT) {
		if (ret == -EPERM || ret == -EACCES)
			nb_errf(err, errlen, ret, "%s may not use Ceph pool '%s' "
				"(its osd caps do not allow it)", st->client, st->pool);
		else
			nb_errf(err, errlen, ret, "cannot read Ceph pool '%s': %s",
				st->pool, strerror(-ret));
		goto out_ioctx;
	}
	*cluster_out = cluster;
	*io_out = io;
	return 0;

out_ioctx:
	rados_ioctx_destroy(io);
out_shutdown:
	rados_shutdown(cluster);
	return ret;
}

static void store_free(struct nb_rados_store *st)
{
	free(st->client);
	free(st->pool);
	free(st->conf_path);
	free(st->keyring);
	while (st->pubs) {
		struct rs_pub *p = st->pubs;

		st->pubs = p->next;
		free(p);
	}
	pthread_mutex_destroy(&st->pub_mu);
	pthread_mutex_destroy(&st->reconnect_mu);
	free(st);
}

struct nb_rados_store *nb_rados_connect(const struct nb_rados_conf *c,
					char *err, size_t errlen)
{
	struct nb_rados_store *st;
	rados_t cluster;
	rados_ioctx_t io;
	int ret;

	if (!c->pool || !*c->pool) {
		errno = -nb_errf(err, errlen, -EINVAL, "no Ceph pool given");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		errno = -nb_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->reconnect_mu, NULL);
	pthread_mutex_init(&st->pub_mu, NULL);
	st->pool = strdup(c->pool);
	if (c->client_id && strncmp(c->client_id, "client.", 7) == 0)
		st->client = strdup(c->client_id);
	else if (asprintf(&st->client, "client.%s",
			  c->client_id ? c->client_id : "admin") < 0)
		st->client = NULL;
	st->conf_path = c->conf_path ? strdup(c->conf_path) : NULL;
	st->keyring = c->keyring ? strdup(c->keyring) : NULL;
	st->connect_timeout_s = c->connect_timeout_s;
	st->op_timeout_s = c->op_timeout_s;
	if (!st->pool || !st->client || (c->conf_path && !st->conf_path) ||
	    (c->keyring && !st->keyring)) {
		ret = nb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	ret = store_instance_open(st, &cluster, &io, err, errlen);
	if (ret < 0)
		goto out_free;
	atomic_store(&st->cluster, cluster);
	atomic_store(&st->io, io);
	return st;

out_free:
	store_free(st);
	errno = -ret;
	return NULL;
}

int nb_rados_reconnect(struct nb_rados_store *st, rados_ioctx_t failed,
		       char *err, size_t errlen)
{
	struct rs_instance *old;
	rados_t cluster;
	rados_ioctx_t io;
	int ret = 0;

	pthread_mutex_lock(&st->reconnect_mu);
	if (atomic_load(&st->io) != failed)
		goto out;	/* replaced already */
	old = malloc(sizeof(*old));
	if (!old) {
		ret = nb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	ret = store_instance_open(st, &cluster, &io, err, errlen);
	if (ret < 0) {
		free(old);
		goto out;
	}
	/* Requests and watches of the old instance end with errors; it is
	 * freed at the disconnect. */
	old->cluster = atomic_load(&st->cluster);
	old->io = failed;
	old->next = st->old;
	st->old = old;
	atomic_store(&st->cluster, cluster);
	atomic_store(&st->io, io);
	st->reconnects++;
out:
	pthread_mutex_unlock(&st->reconnect_mu);
	return ret;
}

unsigned nb_rados_reconnects(struct nb_rados_store *st)
{
	unsigned n;

	pthread_mutex_lock(&st->reconnect_mu);
	n = st->reconnects;
	pthread_mutex_unlock(&st->reconnect_mu);
	return n;
}

void nb_rados_disconnect(struct nb_rados_store *st)
{
	struct rs_instance *old;

	if (!st)
		return;
	rados_aio_flush(st->io);
	rados_ioctx_destroy(st->io);
	rados_shutdown(st->cluster);
	while ((old = st->old)) {
		st->old = old->next;
		rados_ioctx_destroy(old->io);
		rados_shutdown(old->cluster);
		free(old);
	}
	store_free(st);
}

const char *nb_rados_pool(const struct nb_rados_store *st)
{
	return st->pool;
}

bool nb_rados_writes_durable(const struct nb_rados_store *st)
{
	return true;
}
