/* SPDX-License-Identifier: MIT */
/* Volume headers: create, info, resize, remove, list, open and close. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errmsg.h"
#include "rados_int.h"

#define VOL_REMOVE_WINDOW 32		/* removes in flight at once */
#define VOL_CAS_TRIES 32		/* compare-and-set attempts */
#define VOL_LIST_PAGE 1000

bool nb_rados_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !*name || name[0] == '.')
		return false;
	for (; name[n]; n++) {
		char ch = name[n];

		if (n >= NB_RADOS_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static bool vol_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int vol_parse_u64(const char *val, size_t len, int base, uint64_t *out)
{
	char buf[32], *end;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, base);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int nb_rados_header_read(struct nb_rados_store *st, const char *oid,
		   struct nb_rados_vol_info *info)
{
	rados_read_op_t op = rados_create_read_op();
	rados_xattrs_iter_t it = NULL;
	const char *key, *val;
	int ret, prval = 0, seen = 0;
	size_t len;
	uint64_t v;

	if (!op)
		return -ENOMEM;
	memset(info, 0, sizeof(*info));
	rados_read_op_getxattrs(op, &it, &prval);
	ret = rados_read_op_operate(op, st->io, oid, 0);
	rados_release_read_op(op);
	if (ret == 0 && prval < 0)
		ret = prval;
	if (ret < 0) {
		if (it)
			rados_getxattrs_end(it);
		return ret;
	}
	while (rados_getxattrs_next(it, &key, &val, &len) == 0 && key) {
		int bad = 0;

		if (strcmp(key, RS_X_LOCK_OWNER) == 0) {
			if (len >= sizeof(info->lock.owner))
				len = sizeof(info->lock.owner) - 1;
			if (len)
				memcpy(info->lock.owner, val, len);
			info->lock.owner[len] = '\0';
			continue;
		}
		if (strcmp(key, RS_X_LOCK_GEN) == 0) {
			bad = vol_parse_u64(val, len, 16, &info->lock.gen);
			seen |= 1;
		} else if (strcmp(key, RS_X_LOCK_SINCE) == 0) {
			bad = vol_parse_u64(val, len, 10, &info->lock.since);
		} else if (strcmp(key, RS_X_SIZE) == 0) {
			bad = vol_parse_u64(val, len, 10, &info->size);
			seen |= 2;
		} else if (strcmp(key, RS_X_BLOCK_SIZE) == 0) {
			bad = vol_parse_u64(val, len, 10, &v);
			info->block_size = (uint32_t)v;
			seen |= 4;
		} else if (strcmp(key, RS_X_OBJECT_SIZE) == 0) {
			bad = vol_parse_u64(val, len, 10, &v);
			info->object_size = (uint32_t)v;
			seen |= 8;
		} else if (strcmp(key, RS_X_FORMAT) == 0) {
			bad = vol_parse_u64(val, len, 10, &v);
			info->format = (uint32_t)v;
			seen |= 16;
		} else if (strcmp(key, RS_X_CTIME) == 0) {
			bad = vol_parse_u64(val, len, 10, &info->ctime);
		}
		if (bad) {
			rados_getxattrs_end(it);
			return -EBADMSG;
		}
	}
	rados_getxattrs_end(it);
	if (seen != 31 || info->format != NB_RADOS_FORMAT ||
	    !vol_pow2(info->block_size) || !vol_pow2(info->object_size) ||
	    info->object_size < info->block_size || info->size % info->block_size)
		return -EBADMSG;
	return 0;
}

/* Little-endian fields of a notify reply; false past its end. */
static bool vol_reply_u32(const char **p, const char *end, uint32_t *v)
{
	const unsigned char *b = (const unsigned char *)*p;

	if (end - *p < 4)
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	     (uint32_t)b[3] << 24;
	*p += 4;
	return true;
}

static bool vol_reply_u64(const char **p, const char *end, uint64_t *v)
{
	uint32_t lo, hi;

	if (!vol_reply_u32(p, end, &lo) || !vol_reply_u32(p, end, &hi))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* Note more text (a "; " between parts). */
static void vol_note(char *note, size_t len, const char *text)
{
	size_t n;

	if (!note || !len)
		return;
	n = strlen(note);
	if (n && n + 2 < len) {
		memcpy(note + n, "; ", 3);
		n += 2;
	}
	snprintf(note + n, len - n, "%s", text);
}

/* A published watcher (an omap key RS_WATCHER_KEY "GID" of a header). */
struct vol_watcher {
	uint64_t gid;
	char addr[256];
	bool acked;
	bool timedout;		/* named by the notify as silent */
};

/* Every watcher key of the header oid: a malloc'ed *out of *count. */
static int vol_watchers_read(rados_ioctx_t io, const char *oid,
			     struct vol_watcher **out, size_t *count)
{
	struct vol_watcher *list = NULL;
	char after[64] = "";
	size_t n = 0, cap = 0;
	unsigned char more = 1;
	int ret = 0;

	while (more) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		int prval = 0;
		char *k, *v;
		size_t klen, vlen;

		if (!op) {
			ret = -ENOMEM;
			break;
		}
		more = 0;
		rados_read_op_omap_get_vals2(op, after[0] ? after : NULL, RS_WATCHER_KEY,
					     1000, &it, &more, &prval);
		ret = rados_read_op_operate(op, io, oid, 0);
		rados_release_read_op(op);
		if (ret == 0)
			ret = prval;
		if (ret < 0) {
			if (it)
				rados_omap_get_end(it);
			break;
		}
		while (rados_omap_get_next2(it, &k, &v, &klen, &vlen) == 0 && k) {
			char key[64], *end;
			struct vol_watcher *w;

			if (klen >= sizeof(key))
				continue;
			memcpy(key, k, klen);
			key[klen] = '\0';
			snprintf(after, sizeof(after), "%s", key);
			if (n == cap) {
				struct vol_watcher *grown;

				grown = realloc(list, (cap ? cap * 2 : 8) * sizeof(*list));
				if (!grown) {
					ret = -ENOMEM;
					break;
				}
				list = grown;
				cap = cap ? cap * 2 : 8;
			}
			w = &list[n];
			memset(w, 0, sizeof(*w));
			errno = 0;
			w->gid = strtoull(key + strlen(RS_WATCHER_KEY), &end, 10);
			if (errno || *end || end == key + strlen(RS_WATCHER_KEY))
				continue;
			if (vlen >= sizeof(w->addr))
				vlen = 0;	/* not an address: cannot blocklist */
			memcpy(w->addr, v, vlen);
			w->addr[vlen] = '\0';
			n++;
		}
		rados_omap_get_end(it);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		free(list);
		return ret;
	}
	*out = list;
	*count = n;
	return 0;
}

static void vol_watcher_remove(rados_ioctx_t io, const char *oid, uint64_t gid)
{
	char key[64];
	const char *keys[1] = { key };
	size_t key_lens[1];
	rados_write_op_t op = rados_create_write_op();

	if (!op)
		return;
	snprintf(key, sizeof(key), RS_WATCHER_KEY "%" PRIu64, gid);
	key_lens[0] = strlen(key);
	rados_write_op_omap_rm_keys2(op, keys, key_lens, 1);
	rados_write_op_operate(op, io, oid, NULL, 0);
	rados_release_write_op(op);
}

/*
 * The acknowledgements of a notify reply: marks the watchers in w[] that
 * acknowledged; *silent gets the first gid that timed out and has no key
 * (0: none). -EPROTO when the reply cannot be parsed.
 */
static int vol_reply_acks(const char *reply, size_t reply_len,
			  struct vol_watcher *w, size_t nw, uint64_t *silent)
{
	const char *p = reply, *end = reply + reply_len;
	uint32_t n, i, len;
	uint64_t gid, cookie;
	size_t j;

	*silent = 0;
	if (!vol_reply_u32(&p, end, &n))
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (!vol_reply_u64(&p, end, &gid) || !vol_reply_u64(&p, end, &cookie) ||
		    !vol_reply_u32(&p, end, &len) || (size_t)(end - p) < len)
			return -EPROTO;
		p += len;
		for (j = 0; j < nw; j++)
			if (w[j].gid == gid)
				w[j].acked = true;
	}
	if (!vol_reply_u32(&p, end, &n))
		return -EPROTO;
	for (i = 0; i < n; i++) {
		bool known = false;

		if (!vol_reply_u64(&p, end, &gid) || !vol_reply_u64(&p, end, &cookie))
			return -EPROTO;
		for (j = 0; j < nw; j++)
			if (w[j].gid == gid)
				known = w[j].timedout = true;
		if (!known && !*silent)
			*silent = gid;
	}
	return 0;
}

int nb_rados_header_notify(struct nb_rados_store *st, const char *oid,
			   const char *text, bool fence, char *note, size_t notelen)
{
	rados_ioctx_t io = st->io;
	rados_t cluster = st->cluster;
	struct vol_watcher *w = NULL;
	char *reply = NULL, msg[512];
	size_t reply_len = 0, nw = 0, j;
	uint64_t silent = 0, self = rados_get_instance_id(cluster);
	int ret, done = 0, failed = 0;

	if (note && notelen)
		note[0] = '\0';
	/* Waits for the watchers' acks: a node acknowledges once it has no
	 * write of an older generation in flight (lock.c). */
	ret = rados_notify2(io, oid, text, (int)strlen(text), RS_NOTIFY_TIMEOUT_MS,
			    &reply, &reply_len);
	if (!fence) {
		if (reply)
			rados_buffer_free(reply);
		return 0;
	}
	if (ret < 0 && ret != -ETIMEDOUT) {
		if (reply)
			rados_buffer_free(reply);
		snprintf(msg, sizeof(msg), "cannot notify the watchers: %s",
			 strerror(-ret));
		vol_note(note, notelen, msg);
		return ret;
	}
	/*
	 * Every published watcher that did not acknowledge may still have
	 * writes of the older generation on their way: one that timed out,
	 * and one whose watch the OSD dropped (cut off), which the notify
	 * does not even name. Keep every OSD from taking another op of
	 * them: blocklist their addresses. A node that closed the volume
	 * cleanly removed its key.
	 */
	ret = vol_watchers_read(io, oid, &w, &nw);
	if (ret < 0) {
		if (reply)
			rados_buffer_free(reply);
		snprintf(msg, sizeof(msg), "cannot read the watchers' addresses: %s",
			 strerror(-ret));
		vol_note(note, notelen, msg);
		return ret;
	}
	ret = reply ? vol_reply_acks(reply, reply_len, w, nw, &silent) : -EPROTO;
	if (reply)
		rados_buffer_free(reply);
	if (ret < 0) {
		free(w);
		vol_note(note, notelen, "the notify reply cannot be parsed: nobody "
			 "was blocklisted");
		return ret;
	}
	if (silent) {
		snprintf(msg, sizeof(msg), "client.%" PRIu64 " did not acknowledge the "
			 "fence within %d s and cannot be blocklisted (it published no "
			 "address): writes of the older generation it had in flight may "
			 "still land", silent, RS_NOTIFY_TIMEOUT_MS / 1000);
		vol_note(note, notelen, msg);
		failed = -ENOENT;
	}
	for (j = 0; j < nw; j++) {
		int r;

		if (w[j].acked || w[j].gid == self)
			continue;
		r = w[j].addr[0] ? rados_blocklist_add(cluster, w[j].addr, 0) : -ENOENT;
		if (r == 0) {
			if (w[j].timedout)
				snprintf(msg, sizeof(msg), "client.%" PRIu64 " at %s did "
					 "not acknowledge the fence within %d s: "
					 "blocklisted it", w[j].gid, w[j].addr,
					 RS_NOTIFY_TIMEOUT_MS / 1000);
			else
				snprintf(msg, sizeof(msg), "client.%" PRIu64 " at %s "
					 "published an address but does not watch the "
					 "header (its watch was lost): blocklisted it",
					 w[j].gid, w[j].addr);
			/* gone for good: later breaks need not blocklist it */
			vol_watcher_remove(io, oid, w[j].gid);
			done++;
		} else {
			snprintf(msg, sizeof(msg), "client.%" PRIu64 " did not acknowledge "
				 "the fence %s and cannot be blocklisted (%s): "
				 "writes of the older generation it had in flight may "
				 "still land", w[j].gid, w[j].timedout ?
				 "within " RS_NOTIFY_TIMEOUT_STR :
				 "(its watch was lost)",
				 r == -ENOENT ? "it published no address" :
				 r == -EACCES || r == -EPERM ?
				 "our cephx user lacks the mon cap for 'osd blocklist add'; "
				 "give it mon 'profile rbd'" :
				 strerror(-r));
			if (!failed)
				failed = r;
		}
		vol_note(note, notelen, msg);
	}
	free(w);
	return failed ? failed : done;
}

int nb_rados_watcher_publish(struct nb_rados_store *st, rados_ioctx_t io,
			     const char *oid)
{
	rados_t cluster = rados_ioctx_get_cluster(io);
	char key[64], *addrs = NULL;
	const char *keys[1] = { key }, *vals[1];
	size_t key_lens[1], val_lens[1];
	rados_write_op_t op;
	struct rs_pub *p;
	int ret;

	ret = rados_getaddrs(cluster, &addrs);
	if (ret < 0)
		return ret;
	snprintf(key, sizeof(key), RS_WATCHER_KEY "%" PRIu64,
		 rados_get_instance_id(cluster));
	key_lens[0] = strlen(key);
	vals[0] = addrs;
	val_lens[0] = strlen(addrs);
	op = rados_create_write_op();
	if (!op) {
		rados_buffer_free(addrs);
		return -ENOMEM;
	}
	rados_write_op_assert_exists(op);
	rados_write_op_omap_set2(op, keys, vals, key_lens, val_lens, 1);
	/* counted before the write: an unpublish racing it keeps the key */
	pthread_mutex_lock(&st->pub_mu);
	for (p = st->pubs; p; p = p->next)
		if (p->io == io && strcmp(p->oid, oid) == 0)
			break;
	if (!p && (p = calloc(1, sizeof(*p)))) {
		p->io = io;
		snprintf(p->oid, sizeof(p->oid), "%s", oid);
		p->next = st->pubs;
		st->pubs = p;
	}
	if (p)
		p->refs++;
	pthread_mutex_unlock(&st->pub_mu);
	ret = p ? rados_write_op_operate(op, io, oid, NULL, 0) : -ENOMEM;
	rados_release_write_op(op);
	rados_buffer_free(addrs);
	if (ret < 0 && p)
		nb_rados_watcher_unpublish(st, io, oid, true);
	return ret;
}

void nb_rados_watcher_unpublish(struct nb_rados_store *st, rados_ioctx_t io,
				const char *oid, bool keep)
{
	struct rs_pub **pp, *p;
	bool last = false;

	pthread_mutex_lock(&st->pub_mu);
	for (pp = &st->pubs; (p = *pp); pp = &p->next)
		if (p->io == io && strcmp(p->oid, oid) == 0)
			break;
	if (p && --p->refs == 0) {
		*pp = p->next;
		free(p);
		last = true;
	}
	/* under pub_mu: a publish of another handle waits for the remove */
	if (last && !keep)
		vol_watcher_remove(io, oid, rados_get_instance_id(
					   rados_ioctx_get_cluster(io)));
	pthread_mutex_unlock(&st->pub_mu);
}

static void vol_setx_u64(rados_write_op_t op, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	rados_write_op_setxattr(op, key, buf, strlen(buf));
}

int nb_rados_lock_write(struct nb_rados_store *st, const char *oid, uint64_t cur_gen,
		  const char *owner, uint64_t new_gen, uint64_t since)
{
	rados_write_op_t op = rados_create_write_op();
	char cur[RS_GEN_LEN + 1], next[RS_GEN_LEN + 1];
	int ret;

	if (!op)
		return -ENOMEM;
	nb_rados_gen_str(cur, cur_gen);
	nb_rados_gen_str(next, new_gen);
	rados_write_op_assert_exists(op);
	rados_write_op_cmpxattr(op, RS_X_LOCK_GEN, LIBRADOS_CMPXATTR_OP_EQ,
				cur, RS_GEN_LEN);
	rados_write_op_setxattr(op, RS_X_LOCK_OWNER, owner, strlen(owner));
	rados_write_op_setxattr(op, RS_X_LOCK_GEN, next, RS_GEN_LEN);
	vol_setx_u64(op, RS_X_LOCK_SINCE, since);
	ret = rados_write_op_operate(op, st->io, oid, NULL, 0);
	rados_release_write_op(op);
	return ret;
}

static int vol_check_name(const char *name, char *err, size_t errlen)
{
	if (!nb_rados_name_valid(name))
		return nb_errf(err, errlen, -EINVAL,
			       "bad volume name '%s': 1 to %d of A-Z a-z 0-9 _ . -, "
			       "not starting with '.'", name ? name : "", NB_RADOS_NAME_MAX);
	return 0;
}

/* The header's error, in words. */
static int vol_header_err(struct nb_rados_store *st, const char *name, int ret,
			  char *err, size_t errlen)
{
	if (ret == -ENOENT)
		return nb_errf(err, errlen, ret, "no volume '%s' in pool '%s'",
			       name, st->pool);
	if (ret == -EBADMSG)
		return nb_errf(err, errlen, ret, "volume '%s': header object is damaged "
			       "or of another format", name);
	return nb_errf(err, errlen, ret, "volume '%s': cannot read its header: %s",
		       name, strerror(-ret));
}

static int vol_dir_update(struct nb_rados_store *st, const char *name, bool add)
{
	rados_write_op_t op = rados_create_write_op();
	const char *keys[1] = { name };
	const char *vals[1] = { "" };
	size_t key_lens[1] = { strlen(name) };
	size_t val_lens[1] = { 0 };
	int ret;

	if (!op)
		return -ENOMEM;
	if (add)
		rados_write_op_omap_set2(op, keys, vals, key_lens, val_lens, 1);
	else
		rados_write_op_omap_rm_keys2(op, keys, key_lens, 1);
	ret = rados_write_op_operate(op, st->io, RS_DIRECTORY_OID, NULL, 0);
	rados_release_write_op(op);
	if (!add && ret == -ENOENT)
		ret = 0;
	return ret;
}

int nb_rados_vol_create(struct nb_rados_store *st, const char *name,
			uint64_t size, uint32_t block_size, uint32_t object_size,
			char *err, size_t errlen)
{
	char oid[RS_OID_MAX], gen[RS_GEN_LEN + 1];
	rados_write_op_t op;
	int ret;

	ret = vol_check_name(name, err, errlen);
	if (ret)
		return ret;
	if (!object_size)
		object_size = NB_RADOS_OBJECT_SIZE_DEFAULT;
	if (!vol_pow2(block_size) || block_size < 512 || block_size > 65536)
		return nb_errf(err, errlen, -EINVAL, "volume '%s': block size %u is not "
			       "a power of two from 512 to 65536", name, block_size);
	if (!vol_pow2(object_size) || object_size < NB_RADOS_OBJECT_SIZE_MIN ||
	    object_size > NB_RADOS_OBJECT_SIZE_MAX || object_size < block_size)
		return nb_errf(err, errlen, -EINVAL, "volume '%s': object size %u is not "
			       "a power of two from %u to %u (and at least the block size)",
			       name, object_size, NB_RADOS_OBJECT_SIZE_MIN,
			       NB_RADOS_OBJECT_SIZE_MAX);
	if (!size || size % block_size)
		return nb_errf(err, errlen, -EINVAL, "volume '%s': size %" PRIu64
			       " is not a positive multiple of the block size %u",
			       name, size, block_size);

	nb_rados_header_oid(oid, name);
	nb_rados_gen_str(gen, 0);
	op = rados_create_write_op();
	if (!op)
		return nb_errf(err, errlen, -ENOMEM, "out of memory");
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	vol_setx_u64(op, RS_X_FORMAT, NB_RADOS_FORMAT);
	vol_setx_u64(op, RS_X_SIZE, size);
	vol_setx_u64(op, RS_X_BLOCK_SIZE, block_size);
	vol_setx_u64(op, RS_X_OBJECT_SIZE, object_size);
	vol_setx_u64(op, RS_X_CTIME, (uint64_t)time(NULL));
	rados_write_op_setxattr(op, RS_X_LOCK_OWNER, "", 0);
	rados_write_op_setxattr(op, RS_X_LOCK_GEN, gen, RS_GEN_LEN);
	vol_setx_u64(op, RS_X_LOCK_SINCE, 0);
	ret = rados_write_op_operate(op, st->io, oid, NULL, 0);
	rados_release_write_op(op);
	if (ret == -EEXIST)
		return nb_errf(err, errlen, ret, "volume '%s' already exists in pool '%s'",
			       name, st->pool);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s': cannot create its header: %s",
			       name, strerror(-ret));
	/* The header is the truth; the directory only lists. */
	ret = vol_dir_update(st, name, true);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s' created, but not added to "
			       "%s: %s", name, RS_DIRECTORY_OID, strerror(-ret));
	return 0;
}

int nb_rados_vol_info(struct nb_rados_store *st, const char *name,
		      struct nb_rados_vol_info *info, char *err, size_t errlen)
{
	char oid[RS_OID_MAX];
	int ret;

	ret = vol_check_name(name, err, errlen);
	if (ret)
		return ret;
	nb_rados_header_oid(oid, name);
	ret = nb_rados_header_read(st, oid, info);
	if (ret < 0)
		return vol_header_err(st, name, ret, err, errlen);
	return 0;
}

int nb_rados_vol_resize(struct nb_rados_store *st, const char *name,
			uint64_t new_size, char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	char oid[RS_OID_MAX], cur[32], text[48];
	rados_write_op_t op;
	int ret, tries;

	ret = vol_check_name(name, err, errlen);
	if (ret)
		return ret;
	nb_rados_header_oid(oid, name);
	for (tries = 0; tries < VOL_CAS_TRIES; tries++) {
		ret = nb_rados_header_read(st, oid, &info);
		if (ret < 0)
			return vol_header_err(st, name, ret, err, errlen);
		if (new_size == info.size)
			return 0;
		if (new_size < info.size)
			return nb_errf(err, errlen, -EINVAL, "volume '%s': cannot shrink "
				       "from %" PRIu64 " to %" PRIu64 " bytes (grow only)",
				       name, info.size, new_size);
		if (new_size % info.block_size)
			return nb_errf(err, errlen, -EINVAL, "volume '%s': size %" PRIu64
				       " is not a multiple of the block size %u",
				       name, new_size, info.block_size);
		op = rados_create_write_op();
		if (!op)
			return nb_errf(err, errlen, -ENOMEM, "out of memory");
		snprintf(cur, sizeof(cur), "%" PRIu64, info.size);
		rados_write_op_assert_exists(op);
		rados_write_op_cmpxattr(op, RS_X_SIZE, LIBRADOS_CMPXATTR_OP_EQ,
					cur, strlen(cur));
		vol_setx_u64(op, RS_X_SIZE, new_size);
		ret = rados_write_op_operate(op, st->io, oid, NULL, 0);
		rados_release_write_op(op);
		if (ret == -ECANCELED)
			continue;	/* another resize won: look again */
		if (ret < 0)
			return nb_errf(err, errlen, ret, "volume '%s': cannot update its "
				       "header: %s", name, strerror(-ret));
		snprintf(text, sizeof(text), "size=%" PRIu64, new_size);
		nb_rados_header_notify(st, oid, text, false, NULL, 0);
		return 0;
	}
	return nb_errf(err, errlen, -EAGAIN, "volume '%s': the header kept changing "
		       "during the resize", name);
}

struct vol_rm {
	rados_completion_t comp;
	bool busy;
};

/* Remove the data objects 0..count-1, VOL_REMOVE_WINDOW at a time. */
static int vol_remove_data(struct nb_rados_store *st, const char *name,
			   uint64_t count)
{
	struct vol_rm win[VOL_REMOVE_WINDOW];
	char oid[RS_OID_MAX];
	uint64_t next = 0;
	int ret = 0, r;
	unsigned i;

	memset(win, 0, sizeof(win));
	for (;;) {
		bool any = false;

		for (i = 0; i < VOL_REMOVE_WINDOW; i++) {
			if (win[i].busy) {
				rados_aio_wait_for_complete(win[i].comp);
				r = rados_aio_get_return_value(win[i].comp);
				rados_aio_release(win[i].comp);
				win[i].busy = false;
				if (r < 0 && r != -ENOENT && ret == 0)
					ret = r;
			}
			if (next >= count || ret < 0)
				continue;
			nb_rados_data_oid(oid, name, next);
			r = rados_aio_create_completion2(NULL, NULL, &win[i].comp);
			if (r == 0) {
				r = rados_aio_remove(st->io, oid, win[i].comp);
				if (r < 0)
					rados_aio_release(win[i].comp);
			}
			if (r < 0) {
				ret = r;
				continue;
			}
			win[i].busy = true;
			any = true;
			next++;
		}
		if (!any)
			break;
	}
	for (i = 0; i < VOL_REMOVE_WINDOW; i++) {
		if (!win[i].busy)
			continue;
		rados_aio_wait_for_complete(win[i].comp);
		r = rados_aio_get_return_value(win[i].comp);
		rados_aio_release(win[i].comp);
		if (r < 0 && r != -ENOENT && ret == 0)
			ret = r;
	}
	return ret;
}

int nb_rados_vol_remove(struct nb_rados_store *st, const char *name,
			char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	char oid[RS_OID_MAX];
	uint64_t count;
	int ret;

	ret = nb_rados_vol_info(st, name, &info, err, errlen);
	if (ret < 0)
		return ret;
	if (info.lock.owner[0])
		return nb_errf(err, errlen, -EBUSY, "volume '%s' is locked by '%s' "
			       "(generation %" PRIu64 "); break the lock to remove it",
			       name, info.lock.owner, info.lock.gen);
	/* No overflow for any size a header may hold. */
	count = info.size / info.object_size + (info.size % info.object_size != 0);
	ret = vol_remove_data(st, name, count);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s': cannot remove its data "
			       "objects: %s", name, strerror(-ret));
	nb_rados_header_oid(oid, name);
	ret = rados_remove(st->io, oid);
	if (ret < 0 && ret != -ENOENT)
		return nb_errf(err, errlen, ret, "volume '%s': cannot remove its header: %s",
			       name, strerror(-ret));
	ret = vol_dir_update(st, name, false);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s' removed, but not from %s: %s",
			       name, RS_DIRECTORY_OID, strerror(-ret));
	return 0;
}

void nb_rados_names_free(char **names, size_t count)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int nb_rados_vol_list(struct nb_rados_store *st, char ***names, size_t *count,
		      char *err, size_t errlen)
{
	char **list = NULL, *after = NULL;
	size_t n = 0, cap = 0;
	unsigned char more = 1;
	int ret = 0;

	while (more) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		int prval = 0;
		char *key, *val;
		size_t key_len, val_len;

		if (!op) {
			ret = -ENOMEM;
			break;
		}
		more = 0;
		rados_read_op_omap_get_keys2(op, after, VOL_LIST_PAGE, &it, &more, &prval);
		ret = rados_read_op_operate(op, st->io, RS_DIRECTORY_OID, 0);
		rados_release_read_op(op);
		if (ret == 0 && prval < 0)
			ret = prval;
		if (ret < 0) {
			if (it)
				rados_omap_get_end(it);
			if (ret == -ENOENT)	/* no volume created yet */
				ret = 0;
			break;
		}
		while (rados_omap_get_next2(it, &key, &val, &key_len, &val_len) == 0 && key) {
			char *copy;

			if (n == cap) {
				char **grown = realloc(list, (cap ? cap * 2 : 16) * sizeof(*list));

				if (!grown) {
					ret = -ENOMEM;
					break;
				}
				list = grown;
				cap = cap ? cap * 2 : 16;
			}
			copy = strndup(key, key_len);
			if (!copy) {
				ret = -ENOMEM;
				break;
			}
			list[n++] = copy;
		}
		rados_omap_get_end(it);
		if (ret < 0)
			break;
		after = n ? list[n - 1] : NULL;
		if (!after)
			more = 0;
	}
	if (ret < 0) {
		nb_rados_names_free(list, n);
		return nb_errf(err, errlen, ret, "cannot list the volumes of pool '%s': %s",
			       st->pool, strerror(-ret));
	}
	/* omap keys come sorted already. */
	*names = list;
	*count = n;
	return 0;
}

struct nb_rados_vol *nb_rados_vol_open(struct nb_rados_store *st,
				       const char *name, unsigned flags,
				       char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	struct nb_rados_vol *vol;
	int ret;

	ret = vol_check_name(name, err, errlen);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	vol = calloc(1, sizeof(*vol));
	if (!vol) {
		errno = -nb_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	vol->st = st;
	vol->flags = flags;
	snprintf(vol->name, sizeof(vol->name), "%s", name);
	nb_rados_header_oid(vol->header_oid, name);
	pthread_mutex_init(&vol->lock_mu, NULL);
	pthread_mutex_init(&vol->fence_mu, NULL);
	pthread_mutex_init(&vol->inflight_mu, NULL);
	pthread_cond_init(&vol->inflight_cv, NULL);

	/* Watch first, then read: no change can fall in between. */
	ret = nb_rados_watch_start(vol);
	if (ret < 0) {
		if (ret == -ENOENT)
			vol_header_err(st, name, ret, err, errlen);
		else
			nb_errf(err, errlen, ret, "volume '%s': cannot watch its header: %s",
				name, strerror(-ret));
		goto out_free;
	}
	ret = nb_rados_header_read(st, vol->header_oid, &info);
	if (ret < 0) {
		vol_header_err(st, name, ret, err, errlen);
		goto out_unwatch;
	}
	vol->block_size = info.block_size;
	vol->object_size = info.object_size;
	vol->object_shift = (unsigned)__builtin_ctz(info.object_size);
	atomic_store(&vol->size, info.size);
	/* a max: a notify seen since the read may have raised it already */
	nb_rados_lock_gen_seen(vol, info.lock.gen);
	atomic_store(&vol->watch_ok, true);	/* header read after the watch */
	return vol;

out_unwatch:
	nb_rados_watch_stop(vol);
out_free:
	if (vol->pub_io)
		nb_rados_watcher_unpublish(st, vol->pub_io, vol->header_oid, false);
	pthread_cond_destroy(&vol->inflight_cv);
	pthread_mutex_destroy(&vol->inflight_mu);
	pthread_mutex_destroy(&vol->fence_mu);
	pthread_mutex_destroy(&vol->lock_mu);
	free(vol);
	errno = -ret;
	return NULL;
}

void nb_rados_vol_close(struct nb_rados_vol *vol)
{
	if (!vol)
		return;
	nb_rados_io_drain(vol);
	if (atomic_load(&vol->held_gen))
		nb_rados_lock_release(vol, NULL, 0);
	nb_rados_watch_stop(vol);
	/* No watcher here any more: a break need not blocklist this node,
	 * unless a write timed out and may still land. */
	if (vol->pub_io)
		nb_rados_watcher_unpublish(vol->st, vol->pub_io, vol->header_oid,
					   vol->timedout_io == vol->pub_io);
	/* Drained: no ack is left waiting (fence_old is 0). */
	while (vol->acks) {
		struct rs_ack *a = vol->acks;

		vol->acks = a->next;
		free(a);
	}
	pthread_cond_destroy(&vol->inflight_cv);
	pthread_mutex_destroy(&vol->inflight_mu);
	pthread_mutex_destroy(&vol->fence_mu);
	pthread_mutex_destroy(&vol->lock_mu);
	free(vol);
}

const char *nb_rados_vol_name(const struct nb_rados_vol *vol)
{
	return vol->name;
}

uint64_t nb_rados_vol_size(const struct nb_rados_vol *vol)
{
	return atomic_load(&((struct nb_rados_vol *)vol)->size);
}

uint32_t nb_rados_vol_block_size(const struct nb_rados_vol *vol)
{
	return vol->block_size;
}

uint32_t nb_rados_vol_object_size(const struct nb_rados_vol *vol)
{
	return vol->object_size;
}
