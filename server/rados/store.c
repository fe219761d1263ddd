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

struct nb_rados_store *nb_rados_connect(const struct nb_rados_conf *c,
					char *err, size_t errlen)
{
	struct nb_rados_store *st;
	unsigned timeout = c->connect_timeout_s ? c->connect_timeout_s : 30;
	uint64_t size;
	time_t mtime;
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
	st->pool = strdup(c->pool);
	if (c->client_id && strncmp(c->client_id, "client.", 7) == 0)
		st->client = strdup(c->client_id);
	else if (asprintf(&st->client, "client.%s",
			  c->client_id ? c->client_id : "admin") < 0)
		st->client = NULL;
	if (!st->pool || !st->client) {
		ret = nb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}

	ret = rados_create2(&st->cluster, "ceph", st->client, 0);
	if (ret < 0) {
		nb_errf(err, errlen, ret, "cannot set up a Ceph client %s: %s",
			st->client, strerror(-ret));
		goto out_free;
	}
	if (c->conf_path) {
		if (access(c->conf_path, R_OK) < 0) {
			ret = nb_errf(err, errlen, -errno, "cannot read Ceph config %s: %s",
				      c->conf_path, strerror(errno));
			goto out_shutdown;
		}
		ret = rados_conf_read_file(st->cluster, c->conf_path);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "cannot parse Ceph config %s: %s",
				c->conf_path, strerror(-ret));
			goto out_shutdown;
		}
	} else {
		ret = rados_conf_read_file(st->cluster, NULL);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "no usable Ceph config found "
				"(CEPH_CONF, /etc/ceph/ceph.conf): %s", strerror(-ret));
			goto out_shutdown;
		}
	}
	if (c->keyring) {
		if (access(c->keyring, R_OK) < 0) {
			ret = nb_errf(err, errlen, -errno, "cannot read Ceph keyring %s: %s",
				      c->keyring, strerror(errno));
			goto out_shutdown;
		}
		ret = store_keyring_has(c->keyring, st->client);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "Ceph keyring %s holds no key for %s",
				c->keyring, st->client);
			goto out_shutdown;
		}
		ret = rados_conf_set(st->cluster, "keyring", c->keyring);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "cannot use keyring %s: %s",
				c->keyring, strerror(-ret));
			goto out_shutdown;
		}
	}
	store_set(st->cluster, "client_mount_timeout", timeout);
	if (c->op_timeout_s) {
		store_set(st->cluster, "rados_osd_op_timeout", c->op_timeout_s);
		store_set(st->cluster, "rados_mon_op_timeout", c->op_timeout_s);
	}

	ret = rados_connect(st->cluster);
	if (ret < 0) {
		store_connect_err(c, st->client, ret, timeout, err, errlen);
		goto out_shutdown;
	}
	ret = rados_ioctx_create(st->cluster, st->pool, &st->io);
	if (ret < 0) {
		if (ret == -ENOENT)
			nb_errf(err, errlen, ret, "Ceph pool '%s' does not exist", st->pool);
		else
			nb_errf(err, errlen, ret, "cannot open Ceph pool '%s': %s",
				st->pool, strerror(-ret));
		goto out_shutdown;
	}
	/* One read proves the OSD caps cover the pool. */
	ret = rados_stat(st->io, RS_DIRECTORY_OID, &size, &mtime);
	if (ret < 0 && ret != -ENOENT) {
		if (ret == -EPERM || ret == -EACCES)
			nb_errf(err, errlen, ret, "%s may not use Ceph pool '%s' "
				"(its osd caps do not allow it)", st->client, st->pool);
		else
			nb_errf(err, errlen, ret, "cannot read Ceph pool '%s': %s",
				st->pool, strerror(-ret));
		goto out_ioctx;
	}
	return st;

out_ioctx:
	rados_ioctx_destroy(st->io);
out_shutdown:
	rados_shutdown(st->cluster);
out_free:
	free(st->client);
	free(st->pool);
	free(st);
	errno = -ret;
	return NULL;
}

void nb_rados_disconnect(struct nb_rados_store *st)
{
	if (!st)
		return;
	rados_aio_flush(st->io);
	rados_ioctx_destroy(st->io);
	rados_shutdown(st->cluster);
	free(st->client);
	free(st->pool);
	free(st);
}

const char *nb_rados_pool(const struct nb_rados_store *st)
{
	return st->pool;
}

bool nb_rados_writes_durable(const struct nb_rados_store *st)
{
	return true;
}
