/* SPDX-License-Identifier: MIT */
/* The rados storage library (server/rados) against a live Ceph pool. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rados_int.h"
#include "rados_store.h"

#define KIB 1024u
#define OBJ (64 * KIB)			/* small extents: many boundaries */
#define VOLSIZE (4u << 20)		/* 64 extents */

/* The cluster, from NETBLK_CEPH_ENV (ceph-cluster.sh's env file). */
static char env_conf[512], env_keyring[512], env_client_keyring[512];
static char env_admin_keyring[512];
static char env_id[64], env_pool[128];
static struct nb_rados_store *store;
static char vol_prefix[64];

static int env_value(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *v;
	size_t n;

	snprintf(pat, sizeof(pat), "export %s='", key);
	if (strncmp(line, pat, strlen(pat)) != 0)
		return 0;
	v = line + strlen(pat);
	n = strcspn(v, "'");
	if (n >= len)
		return 0;
	memcpy(out, v, n);
	out[n] = '\0';
	return 1;
}

static bool env_load(void)
{
	const char *path = getenv("NETBLK_CEPH_ENV");
	char line[1024];
	FILE *f;

	if (!path || !(f = fopen(path, "r")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		env_value(line, "CEPH_CONF", env_conf, sizeof(env_conf));
		env_value(line, "CEPH_KEYRING", env_keyring, sizeof(env_keyring));
		env_value(line, "CEPH_CLIENT_KEYRING", env_client_keyring,
			  sizeof(env_client_keyring));
		env_value(line, "CEPH_ADMIN_KEYRING", env_admin_keyring,
			  sizeof(env_admin_keyring));
		env_value(line, "CEPH_CLIENT_ID", env_id, sizeof(env_id));
		env_value(line, "CEPH_POOL", env_pool, sizeof(env_pool));
	}
	fclose(f);
	return env_conf[0] && env_id[0] && env_pool[0] && env_client_keyring[0];
}

static struct nb_rados_conf conf_default(void)
{
	struct nb_rados_conf c = {
		.conf_path = env_conf,
		.client_id = env_id,
		.keyring = env_client_keyring,
		.pool = env_pool,
		.connect_timeout_s = 20,
	};
	return c;
}

static struct nb_rados_store *connect_or_die(void)
{
	struct nb_rados_conf c = conf_default();
	char err[256] = "";
	struct nb_rados_store *st = nb_rados_connect(&c, err, sizeof(err));

	if (!st)
		fail_msg("connect: %s", err);
	return st;
}

/* A volume name unique to this run and test. */
static const char *vname(const char *what)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s-%s", vol_prefix, what);
	return buf[i];
}

/* --- synchronous I/O on top of the async API ----------------------------- */

struct waiter {
	struct nb_rados_io io;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int ret;
	pthread_t thread;	/* the thread done ran on */
};

static void waiter_done(struct nb_rados_io *io, int ret)
{
	struct waiter *w = io->priv;

	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->ret = ret;
	w->thread = pthread_self();
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int t_iov(struct nb_rados_vol *vol, enum nb_rados_op op, uint64_t off,
		 uint64_t len, const struct iovec *iov, int iovcnt)
{
	struct waiter w;
	int ret;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.io.op = op;
	w.io.offset = off;
	w.io.len = len;
	w.io.iov = iov;
	w.io.iovcnt = iovcnt;
	w.io.done = waiter_done;
	w.io.priv = &w;
	ret = nb_rados_submit(vol, &w.io);
	if (ret == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		assert_false(pthread_equal(w.thread, pthread_self()));
		ret = w.ret;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return ret;
}

static int t_io(struct nb_rados_vol *vol, enum nb_rados_op op, uint64_t off,
		uint64_t len, void *buf)
{
	struct iovec iov = { buf, len };

	return t_iov(vol, op, off, len, buf ? &iov : NULL, buf ? 1 : 0);
}

static void pattern(void *buf, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed;

		p[i] = (uint8_t)((x >> 29) ^ (x >> 47)) | 1;	/* never 0 */
	}
}

static bool all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct nb_rados_vol *open_or_die(struct nb_rados_store *st, const char *name,
					unsigned flags)
{
	char err[256] = "";
	struct nb_rados_vol *vol = nb_rados_vol_open(st, name, flags, err, sizeof(err));

	if (!vol)
		fail_msg("open %s: %s", name, err);
	return vol;
}

static void create_or_die(const char *name, uint64_t size, uint32_t obj)
{
	char err[256] = "";

	if (nb_rados_vol_create(store, name, size, 512, obj, err, sizeof(err)))
		fail_msg("create %s: %s", name, err);
}

static void remove_or_die(const char *name)
{
	char err[256] = "";

	if (nb_rados_vol_remove(store, name, err, sizeof(err)))
		fail_msg("remove %s: %s", name, err);
}

static bool name_listed(const char *name)
{
	char **names = NULL, err[256] = "";
	size_t n = 0, i;
	bool found = false;

	assert_int_equal(nb_rados_vol_list(store, &names, &n, err, sizeof(err)), 0);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			found = true;
	for (i = 1; i < n; i++)
		assert_true(strcmp(names[i - 1], names[i]) < 0);
	nb_rados_names_free(names, n);
	return found;
}

/* --- connect errors -------------------------------------------------------- */

static void test_connect_errors(void **state)
{
	struct nb_rados_conf c = conf_default();
	char err[256], path[] = "/tmp/test_rados_store.XXXXXX";
	struct nb_rados_store *st;
	FILE *f;
	int fd;

	/* A pool that does not exist. */
	c.pool = "no-such-pool";
	err[0] = '\0';
	st = nb_rados_connect(&c, err, sizeof(err));
	assert_null(st);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "pool 'no-such-pool' does not exist"));

	/* No config file. */
	c = conf_default();
	c.conf_path = "/nonexistent/ceph.conf";
	st = nb_rados_connect(&c, err, sizeof(err));
	assert_null(st);
	assert_non_null(strstr(err, "cannot read Ceph config /nonexistent/ceph.conf"));

	/* No keyring file. */
	c = conf_default();
	c.keyring = "/nonexistent/keyring";
	st = nb_rados_connect(&c, err, sizeof(err));
	assert_null(st);
	assert_non_null(strstr(err, "cannot read Ceph keyring /nonexistent/keyring"));

	/* A keyring with another key for the client: cephx refuses it. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "[client.%s]\n\tkey = AQCmGBFri+CwBBAAjcy3rKvKqAo2eiT27Qd60Q==\n", env_id);
	fclose(f);
	c = conf_default();
	c.keyring = path;
	st = nb_rados_connect(&c, err, sizeof(err));
	unlink(path);
	assert_null(st);
	print_message("bad key: %s\n", err);
	assert_true(errno == EACCES || errno == EPERM);
	assert_non_null(strstr(err, "cephx authentication failed"));
	assert_non_null(strstr(err, path));

	/* A client that does not exist (its key is nowhere). */
	c = conf_default();
	c.client_id = "nobody";
	c.keyring = env_client_keyring;
	st = nb_rados_connect(&c, err, sizeof(err));
	assert_null(st);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "holds no key for client.nobody"));

	/* And the right ones work. */
	st = connect_or_die();
	assert_string_equal(nb_rados_pool(st), env_pool);
	assert_true(nb_rados_writes_durable(st));
	nb_rados_disconnect(st);
}

/* --- volumes ---------------------------------------------------------------- */

static void test_volume_admin(void **state)
{
	const char *name = vname("admin");
	struct nb_rados_vol_info info;
	char err[256];
	time_t now = time(NULL);

	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no volume"));
	assert_false(name_listed(name));

	/* Bad arguments. */
	assert_int_equal(nb_rados_vol_create(store, "bad/name", 1 << 20, 512, 0,
					     err, sizeof(err)), -EINVAL);
	assert_int_equal(nb_rados_vol_create(store, name, 1000, 512, 0,
					     err, sizeof(err)), -EINVAL);
	assert_int_equal(nb_rados_vol_create(store, name, 1 << 20, 512, 3 << 20,
					     err, sizeof(err)), -EINVAL);

	assert_int_equal(nb_rados_vol_create(store, name, 10 << 20, 4096, 0,
					     err, sizeof(err)), 0);
	assert_int_equal(nb_rados_vol_create(store, name, 10 << 20, 4096, 0,
					     err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already exists"));
	assert_true(name_listed(name));

	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_int_equal(info.size, 10 << 20);
	assert_int_equal(info.block_size, 4096);
	assert_int_equal(info.object_size, NB_RADOS_OBJECT_SIZE_DEFAULT);
	assert_int_equal(info.format, NB_RADOS_FORMAT);
	assert_true(info.ctime >= (uint64_t)now - 5 && info.ctime <= (uint64_t)now + 5);
	assert_string_equal(info.lock.owner, "");
	assert_int_equal(info.lock.gen, 0);

	/* Grow only, block multiples. */
	assert_int_equal(nb_rados_vol_resize(store, name, 20 << 20, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_vol_resize(store, name, 20 << 20, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_vol_resize(store, name, 8 << 20, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot shrink"));
	assert_int_equal(nb_rados_vol_resize(store, name, (20 << 20) + 512, err,
					     sizeof(err)), -EINVAL);
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_int_equal(info.size, 20 << 20);

	remove_or_die(name);
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), -ENOENT);
	assert_false(name_listed(name));
	assert_int_equal(nb_rados_vol_remove(store, name, err, sizeof(err)), -ENOENT);
	assert_null(nb_rados_vol_open(store, name, 0, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
}

/* Racing creates of one name: exactly one wins. */
struct race {
	const char *name;
	int ret;
};

static void *race_create(void *arg)
{
	struct race *r = arg;

	r->ret = nb_rados_vol_create(store, r->name, 1 << 20, 512, 0, NULL, 0);
	return NULL;
}

static void test_create_race(void **state)
{
	struct race r[4];
	pthread_t th[4];
	int i, won = 0;

	for (i = 0; i < 4; i++) {
		r[i].name = vname("race");
		r[i].name = strdup(r[i].name);
		pthread_create(&th[i], NULL, race_create, &r[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (r[i].ret == 0)
			won++;
		else
			assert_int_equal(r[i].ret, -EEXIST);
	}
	assert_int_equal(won, 1);
	remove_or_die(r[0].name);
	for (i = 0; i < 4; i++)
		free((char *)r[i].name);
}

/* --- data -------------------------------------------------------------------- */

static void test_rw_extents(void **state)
{
	const char *name = vname("rw");
	struct nb_rados_vol *vol;
	uint8_t *w = malloc(VOLSIZE), *r = malloc(VOLSIZE);
	struct { uint64_t off, len; } cases[] = {
		{ 0, 512 },				/* first sector */
		{ OBJ - 512, 1024 },			/* across one boundary */
		{ 3 * OBJ + 4096, 2 * OBJ + 8192 },	/* over a whole extent */
		{ 10 * OBJ, OBJ },			/* exactly one extent */
		{ VOLSIZE - 1536, 1536 },		/* the volume's end */
	};
	size_t i;

	create_or_die(name, VOLSIZE, OBJ);
	vol = open_or_die(store, name, 0);
	assert_int_equal(nb_rados_vol_size(vol), VOLSIZE);
	assert_int_equal(nb_rados_vol_object_size(vol), OBJ);
	assert_int_equal(nb_rados_vol_block_size(vol), 512);

	/* Never written: zeroes everywhere. */
	memset(r, 0xee, VOLSIZE);
	assert_int_equal(t_io(vol, NB_RADOS_READ, 0, VOLSIZE, r), 0);
	assert_true(all_zero(r, VOLSIZE));

	memset(w, 0, VOLSIZE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pattern(w + cases[i].off, cases[i].off, cases[i].len, (uint32_t)i + 1);
		assert_int_equal(t_io(vol, NB_RADOS_WRITE, cases[i].off, cases[i].len,
				      w + cases[i].off), 0);
		memset(r, 0xee, cases[i].len);
		assert_int_equal(t_io(vol, NB_RADOS_READ, cases[i].off, cases[i].len, r), 0);
		assert_memory_equal(r, w + cases[i].off, cases[i].len);
	}
	/* The whole volume: written ranges, holes, short objects as zeroes. */
	memset(r, 0xee, VOLSIZE);
	assert_int_equal(t_io(vol, NB_RADOS_READ, 0, VOLSIZE, r), 0);
	assert_memory_equal(r, w, VOLSIZE);

	/* Out of range, unaligned. */
	assert_int_equal(t_io(vol, NB_RADOS_READ, VOLSIZE - 512, 1024, r), -EINVAL);
	assert_int_equal(t_io(vol, NB_RADOS_WRITE, 100, 512, r), -EINVAL);
	assert_int_equal(t_io(vol, NB_RADOS_READ, 0, 0, r), -EINVAL);
	assert_int_equal(t_io(vol, NB_RADOS_FLUSH, 0, 0, NULL), 0);

	nb_rados_vol_close(vol);
	remove_or_die(name);
	free(w);
	free(r);
}

/* Scattered buffers whose segments straddle extent boundaries. */
static void test_iovec(void **state)
{
	const char *name = vname("iov");
	struct nb_rados_vol *vol;
	uint64_t off = OBJ - 4096, len = OBJ + 8192;
	uint8_t *w = malloc(len), *r = calloc(1, len);
	struct iovec wv[3], rv[4];

	create_or_die(name, VOLSIZE, OBJ);
	vol = open_or_die(store, name, 0);
	pattern(w, off, len, 77);
	wv[0] = (struct iovec){ w, 3072 };
	wv[1] = (struct iovec){ w + 3072, 6144 };
	wv[2] = (struct iovec){ w + 9216, len - 9216 };
	assert_int_equal(t_iov(vol, NB_RADOS_WRITE, off, len, wv, 3), 0);
	rv[0] = (struct iovec){ r, 512 };
	rv[1] = (struct iovec){ r + 512, 0 };
	rv[2] = (struct iovec){ r + 512, OBJ };
	rv[3] = (struct iovec){ r + 512 + OBJ, len - 512 - OBJ };
	assert_int_equal(t_iov(vol, NB_RADOS_READ, off, len, rv, 4), 0);
	assert_memory_equal(r, w, len);
	/* An iovec shorter than len. */
	assert_int_equal(t_iov(vol, NB_RADOS_READ, off, len, rv, 2), -EINVAL);
	nb_rados_vol_close(vol);
	remove_or_die(name);
	free(w);
	free(r);
}

static void discard_check(enum nb_rados_op op, unsigned flags)
{
	const char *name = vname(op == NB_RADOS_DISCARD ? "discard" : "zeroes");
	struct nb_rados_vol *vol;
	uint8_t *w = malloc(VOLSIZE), *r = malloc(VOLSIZE);
	struct { uint64_t off, len; } cases[] = {
		{ 2 * OBJ, OBJ },			/* a whole extent */
		{ 5 * OBJ + 4096, OBJ - 4096 },		/* an extent's tail */
		{ 8 * OBJ + 512, 1024 },		/* inside an extent */
		{ 12 * OBJ - 512, 3 * OBJ + 1024 },	/* over boundaries */
		{ 40 * OBJ, 2 * OBJ },			/* never written */
		{ VOLSIZE - OBJ / 2, OBJ / 2 },		/* the volume's end */
	};
	uint64_t gen = 0;
	char err[256];
	size_t i;

	create_or_die(name, VOLSIZE, OBJ);
	vol = open_or_die(store, name, flags);
	if (flags & NB_RADOS_OPEN_GUARD_WRITES)
		assert_int_equal(nb_rados_lock_take(vol, "discard-test", false, &gen,
						    NULL, err, sizeof(err)), 0);
	pattern(w, 0, 32 * OBJ, 5);
	memset(w + 32 * OBJ, 0, VOLSIZE - 32 * OBJ);
	pattern(w + VOLSIZE - 2 * OBJ, VOLSIZE - 2 * OBJ, 2 * OBJ, 6);
	assert_int_equal(t_io(vol, NB_RADOS_WRITE, 0, VOLSIZE, w), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(t_io(vol, op, cases[i].off, cases[i].len, NULL), 0);
		memset(w + cases[i].off, 0, cases[i].len);
	}
	memset(r, 0xee, VOLSIZE);
	assert_int_equal(t_io(vol, NB_RADOS_READ, 0, VOLSIZE, r), 0);
	assert_memory_equal(r, w, VOLSIZE);
	/* Writing into freed ranges works again. */
	pattern(w + 2 * OBJ, 2 * OBJ, 4096, 9);
	assert_int_equal(t_io(vol, NB_RADOS_WRITE, 2 * OBJ, 4096, w + 2 * OBJ), 0);
	assert_int_equal(t_io(vol, NB_RADOS_READ, 2 * OBJ, OBJ, r), 0);
	assert_memory_equal(r, w + 2 * OBJ, OBJ);
	nb_rados_vol_close(vol);
	remove_or_die(name);
	free(w);
	free(r);
}

static void test_discard(void **state)
{
	discard_check(NB_RADOS_DISCARD, 0);
}

static void test_write_zeroes(void **state)
{
	discard_check(NB_RADOS_WRITE_ZEROES, 0);
}

static void test_discard_guarded(void **state)
{
	discard_check(NB_RADOS_DISCARD, NB_RADOS_OPEN_GUARD_WRITES);
}

/* --- many requests in flight -------------------------------------------------- */

#define QD 256
#define BS 4096

struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned left;
	unsigned errors;
	int first_err;
};

struct bio {
	struct nb_rados_io io;
	struct iovec iov;
	struct batch *b;
};

static void batch_done(struct nb_rados_io *io, int ret)
{
	struct bio *x = io->priv;
	struct batch *b = x->b;

	pthread_mutex_lock(&b->mu);
	if (ret) {
		b->errors++;
		if (!b->first_err)
			b->first_err = ret;
	}
	if (--b->left == 0)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* QD requests of op at offs[] at once; returns the failures. */
static unsigned batch_run(struct nb_rados_vol *vol, enum nb_rados_op op,
			  const uint64_t *offs, uint8_t *bufs, int *first_err)
{
	static struct bio ios[QD];
	struct batch b = { .left = QD };
	unsigned i;

	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	for (i = 0; i < QD; i++) {
		memset(&ios[i], 0, sizeof(ios[i]));
		ios[i].b = &b;
		ios[i].iov = (struct iovec){ bufs + (size_t)i * BS, BS };
		ios[i].io.op = op;
		ios[i].io.offset = offs[i];
		ios[i].io.len = BS;
		ios[i].io.iov = &ios[i].iov;
		ios[i].io.iovcnt = 1;
		ios[i].io.done = batch_done;
		ios[i].io.priv = &ios[i];
	}
	for (i = 0; i < QD; i++) {
		int ret = nb_rados_submit(vol, &ios[i].io);

		if (ret)
			batch_done(&ios[i].io, ret);
	}
	pthread_mutex_lock(&b.mu);
	while (b.left)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	*first_err = b.first_err;
	return b.errors;
}

static void test_many_in_flight(void **state)
{
	const char *name = vname("qd");
	uint64_t volsize = 16u << 20, offs[QD];
	uint8_t *w = malloc((size_t)QD * BS), *r = malloc((size_t)QD * BS);
	struct nb_rados_vol *vol;
	unsigned i, j, nslots = (unsigned)(volsize / BS);
	unsigned *slots = malloc(nslots * sizeof(*slots));
	int err = 0;

	create_or_die(name, volsize, 1u << 20);
	vol = open_or_die(store, name, 0);
	/* QD distinct random 4k blocks (a shuffle), each its own pattern. */
	srand(12345);
	for (i = 0; i < nslots; i++)
		slots[i] = i;
	for (i = 0; i < QD; i++) {
		unsigned k = i + (unsigned)rand() % (nslots - i), t = slots[i];

		slots[i] = slots[k];
		slots[k] = t;
		offs[i] = (uint64_t)slots[i] * BS;
		pattern(w + (size_t)i * BS, offs[i], BS, 1000 + i);
	}
	for (j = 0; j < 2; j++) {	/* twice: the second overwrites */
		assert_int_equal(batch_run(vol, NB_RADOS_WRITE, offs, w, &err), 0);
		memset(r, 0xee, (size_t)QD * BS);
		assert_int_equal(batch_run(vol, NB_RADOS_READ, offs, r, &err), 0);
		assert_memory_equal(r, w, (size_t)QD * BS);
		for (i = 0; i < QD; i++)
			pattern(w + (size_t)i * BS, offs[i], BS, 5000 + i);
	}
	nb_rados_vol_close(vol);
	remove_or_die(name);
	free(slots);
	free(w);
	free(r);
}

/* --- the writer lock ----------------------------------------------------------- */

static bool wait_not_current(struct nb_rados_vol *vol, uint64_t gen, int ms)
{
	int i;

	for (i = 0; i < ms / 10; i++) {
		if (!nb_rados_lock_is_current(vol, gen))
			return true;
		usleep(10000);
	}
	return !nb_rados_lock_is_current(vol, gen);
}

static void test_lock(void **state)
{
	const char *name = vname("lock");
	struct nb_rados_store *node2 = connect_or_die();
	struct nb_rados_vol *a, *a2, *b;
	struct nb_rados_lock_holder h;
	struct nb_rados_vol_info info;
	uint64_t ga, ga2, gb, gc;
	char err[256], *buf = malloc(OBJ);
	time_t now = time(NULL);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(store, name, 0);
	b = open_or_die(node2, name, 0);	/* as another node would */

	assert_int_equal(nb_rados_lock_held(a), 0);
	assert_int_equal(nb_rados_lock_take(a, "host-a", false, &ga, NULL, err,
					    sizeof(err)), 0);
	assert_int_equal(ga, 1);
	assert_int_equal(nb_rados_lock_held(a), 1);
	assert_true(nb_rados_lock_is_current(a, ga));
	assert_true(wait_not_current(b, 0, 2000));	/* b saw the take */

	/* The same owner again (a takeover on the same host): same gen. */
	a2 = open_or_die(store, name, 0);
	assert_int_equal(nb_rados_lock_take(a2, "host-a", false, &ga2, NULL, err,
					    sizeof(err)), 0);
	assert_int_equal(ga2, ga);
	assert_true(nb_rados_lock_is_current(a, ga));

	/* Another owner is refused and told who holds it. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(nb_rados_lock_take(b, "host-b", false, &gb, &h, err,
					    sizeof(err)), -EBUSY);
	assert_string_equal(h.owner, "host-a");
	assert_int_equal(h.gen, ga);
	assert_true(h.since >= (uint64_t)now - 5 && h.since <= (uint64_t)now + 5);
	assert_non_null(strstr(err, "locked by 'host-a'"));
	print_message("refused: %s\n", err);
	assert_int_equal(nb_rados_vol_remove(store, name, err, sizeof(err)), -EBUSY);
	assert_int_equal(nb_rados_lock_holder(b, &h, err, sizeof(err)), 0);
	assert_string_equal(h.owner, "host-a");

	/* a writes, then b breaks the lock: a is fenced. */
	memset(buf, 'a', OBJ);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, OBJ, buf), 0);
	assert_int_equal(nb_rados_lock_take(b, "host-b", true, &gb, NULL, err,
					    sizeof(err)), 0);
	assert_int_equal(gb, ga + 1);
	assert_true(wait_not_current(a, ga, 5000));
	assert_true(wait_not_current(a2, ga, 5000));
	assert_true(nb_rados_lock_is_current(b, gb));
	/* A fenced handle's writes are refused at once; its reads work. */
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, OBJ, buf), -ESTALE);
	assert_int_equal(t_io(a, NB_RADOS_DISCARD, 0, OBJ, NULL), -ESTALE);
	assert_int_equal(t_io(a, NB_RADOS_READ, 0, OBJ, buf), 0);
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "host-b");
	assert_int_equal(info.lock.gen, gb);
	/* Its release does not undo b's lock. */
	assert_int_equal(nb_rados_lock_release(a, err, sizeof(err)), -ESTALE);
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "host-b");

	/* The admin's break: free, generation bumped, b fenced. */
	assert_int_equal(nb_rados_lock_break(store, name, &gc, err, sizeof(err)), 0);
	assert_int_equal(gc, gb + 1);
	assert_true(wait_not_current(b, gb, 5000));
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "");
	/* Taking a free lock bumps the generation too. */
	assert_int_equal(nb_rados_lock_take(a2, "host-c", false, &gc, NULL, err,
					    sizeof(err)), 0);
	assert_int_equal(gc, gb + 2);
	assert_int_equal(nb_rados_lock_release(a2, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "");
	assert_int_equal(info.lock.gen, gc);

	/* Refresh re-reads the header and says the truth. */
	assert_int_equal(nb_rados_lock_refresh(a, err, sizeof(err)), 0);
	assert_true(nb_rados_lock_is_current(a, gc));

	nb_rados_vol_close(a);
	nb_rados_vol_close(a2);
	nb_rados_vol_close(b);
	nb_rados_disconnect(node2);
	remove_or_die(name);
	free(buf);
}

/* nb_rados_submit()'s answer to a write of gen by a shared handle (a
 * write it admits is waited for). */
static int t_write_gen(struct nb_rados_vol *vol, uint64_t gen, void *buf)
{
	struct waiter w;
	struct iovec iov = { buf, OBJ };
	int ret;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.io.op = NB_RADOS_WRITE;
	w.io.len = OBJ;
	w.io.iov = &iov;
	w.io.iovcnt = 1;
	w.io.done = waiter_done;
	w.io.priv = &w;
	w.io.check_gen = true;
	w.io.gen = gen;
	ret = nb_rados_submit(vol, &w.io);
	if (ret == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		ret = w.ret;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return ret;
}

/*
 * A node that does not acknowledge a break's notify (here: a write of the
 * old generation it never finishes, white box) is blocklisted by the
 * breaker: a write it sends after the break is refused by the OSD, so it
 * cannot overwrite the new holder's data; its refresh then reconnects
 * with a new client that sees the new generation.
 */
static void test_blocklist(void **state)
{
	const char *name = vname("blocklist"), *name2 = vname("blocklist2");
	struct nb_rados_store *node_a = connect_or_die();
	struct nb_rados_vol *a, *b, *a2;
	uint64_t ga, gb, g2, epoch;
	char err[1024];
	uint8_t *buf = malloc(OBJ), *r = malloc(OBJ);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(node_a, name, NB_RADOS_OPEN_SHARED);
	b = open_or_die(store, name, NB_RADOS_OPEN_SHARED);
	assert_int_equal(nb_rados_lock_take_gen(a, "alice", false, 0, &ga, NULL, err,
						sizeof(err)), 0);
	assert_string_equal(err, "");
	memset(buf, 'a', OBJ);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, OBJ, buf), 0);
	/* another volume of the same node, not broken */
	create_or_die(name2, VOLSIZE, OBJ);
	a2 = open_or_die(node_a, name2, NB_RADOS_OPEN_SHARED);
	assert_int_equal(nb_rados_lock_take_gen(a2, "alice", false, 0, &g2, NULL, err,
						sizeof(err)), 0);
	assert_int_equal(t_write_gen(a2, g2, buf), 0);

	/* A write of generation ga that will not finish: a keeps the ack. */
	assert_int_equal(nb_rados_fence_admit(a, ga, &epoch), 0);
	assert_int_equal(nb_rados_lock_take_gen(b, "bob", true, 0, &gb, NULL, err,
						sizeof(err)), 0);
	assert_int_equal(gb, ga + 1);
	print_message("break: %s\n", err);
	assert_non_null(strstr(err, "did not acknowledge the fence"));
	assert_non_null(strstr(err, "blocklisted it"));

	/* The new holder writes; then a stale write of a arrives: refused. */
	memset(buf, 'b', OBJ);
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 0, OBJ, buf), 0);
	memset(buf, 'a', OBJ);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, OBJ, buf), NB_RADOS_EBLOCKLISTED);
	assert_int_equal(t_io(b, NB_RADOS_READ, 0, OBJ, r), 0);
	memset(buf, 'b', OBJ);
	assert_memory_equal(r, buf, OBJ);
	nb_rados_fence_done(a, epoch);

	/* a recovers: a new client, the new generation, reads work. */
	assert_int_equal(nb_rados_reconnects(node_a), 0);
	assert_int_equal(nb_rados_lock_refresh(a, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_reconnects(node_a), 1);
	assert_false(nb_rados_lock_is_current(a, ga));
	assert_true(nb_rados_lock_is_current(a, gb));
	assert_int_equal(t_io(a, NB_RADOS_READ, 0, OBJ, r), 0);
	assert_memory_equal(r, buf, OBJ);
	/* the other volume's watch is on the replaced client: its writes
	 * wait for its own refresh, then go on at the same generation */
	assert_int_equal(t_write_gen(a2, g2, buf), -ENOTCONN);
	assert_int_equal(nb_rados_lock_refresh(a2, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_reconnects(node_a), 1);
	assert_int_equal(t_write_gen(a2, g2, buf), 0);

	nb_rados_vol_close(a2);
	assert_int_equal(nb_rados_lock_break(store, name2, NULL, err, sizeof(err)), 0);
	remove_or_die(name2);
	nb_rados_vol_close(a);
	nb_rados_vol_close(b);
	nb_rados_disconnect(node_a);
	assert_int_equal(nb_rados_lock_break(store, name, NULL, err, sizeof(err)), 0);
	remove_or_die(name);
	free(buf);
	free(r);
}

/* "client.GID " of a store's instance, as a break's message names it. */
static void gid_str(struct nb_rados_store *st, char *buf, size_t len)
{
	snprintf(buf, len, "client.%" PRIu64 " ", rados_get_instance_id(st->cluster));
}

/*
 * A node whose watch the OSD dropped (cut off for longer than the watch
 * timeout; here: unwatched behind its back, its key left) is not named
 * by the break's notify, and it still admits writes of the old
 * generation: the break blocklists it all the same, from its published
 * key. A node that closed the volume cleanly removed its key and is not
 * blocklisted.
 */
static void test_blocklist_lost_watch(void **state)
{
	const char *name = vname("lostwatch");
	struct nb_rados_store *node_a = connect_or_die(), *node_c = connect_or_die();
	struct nb_rados_vol *a, *b, *c;
	uint64_t ga, gb;
	char err[1024], gid_a[64], gid_c[64];
	uint8_t *buf = malloc(OBJ), *r = malloc(OBJ);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(node_a, name, NB_RADOS_OPEN_SHARED);
	c = open_or_die(node_c, name, NB_RADOS_OPEN_SHARED);
	b = open_or_die(store, name, NB_RADOS_OPEN_SHARED);
	gid_str(node_a, gid_a, sizeof(gid_a));
	gid_str(node_c, gid_c, sizeof(gid_c));
	assert_int_equal(nb_rados_lock_take_gen(a, "alice", false, 0, &ga, NULL, err,
						sizeof(err)), 0);
	memset(buf, 'a', OBJ);
	assert_int_equal(t_write_gen(a, ga, buf), 0);
	nb_rados_vol_close(c);

	/* The OSD dropped a's watch; a has not noticed yet. */
	assert_int_equal(rados_unwatch2(a->watch_io, a->watch_cookie), 0);
	a->watching = false;
	assert_int_equal(nb_rados_lock_take_gen(b, "bob", true, 0, &gb, NULL, err,
						sizeof(err)), 0);
	print_message("break: %s\n", err);
	assert_non_null(strstr(err, gid_a));
	assert_non_null(strstr(err, "its watch was lost): blocklisted it"));
	assert_null(strstr(err, gid_c));

	/* The new holder writes; a's write of ga, admitted: refused. */
	memset(buf, 'b', OBJ);
	assert_int_equal(t_write_gen(b, gb, buf), 0);
	memset(buf, 'a', OBJ);
	assert_true(nb_rados_lock_is_current(a, ga));
	assert_int_equal(t_write_gen(a, ga, buf), NB_RADOS_EBLOCKLISTED);
	assert_int_equal(t_io(b, NB_RADOS_READ, 0, OBJ, r), 0);
	memset(buf, 'b', OBJ);
	assert_memory_equal(r, buf, OBJ);

	/* c was not blocklisted: it opens, reads. */
	c = open_or_die(node_c, name, NB_RADOS_OPEN_SHARED);
	assert_int_equal(t_io(c, NB_RADOS_READ, 0, OBJ, r), 0);
	assert_memory_equal(r, buf, OBJ);
	assert_int_equal(nb_rados_reconnects(node_c), 0);
	/* and a later break finds a's key gone, c's again (c acknowledges) */
	assert_int_equal(nb_rados_lock_break(store, name, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	assert_int_equal(nb_rados_lock_refresh(a, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_reconnects(node_a), 1);
	nb_rados_vol_close(a);
	nb_rados_vol_close(b);
	nb_rados_vol_close(c);
	nb_rados_disconnect(node_a);
	nb_rados_disconnect(node_c);
	remove_or_die(name);
	free(buf);
	free(r);
}

/*
 * A write of the old generation that timed out (rados op timeout) may
 * still be applied by the OSD later: its node does not acknowledge the
 * break and is blocklisted (white box: the timeout is marked as io.c
 * marks it). With a new client after the blocklist, it acknowledges
 * again.
 */
static void test_blocklist_timedout(void **state)
{
	const char *name = vname("timedout");
	struct nb_rados_store *node_a = connect_or_die();
	struct nb_rados_vol *a, *b;
	uint64_t ga, gb;
	char err[1024], gid_a[64];
	uint8_t *buf = malloc(OBJ);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(node_a, name, NB_RADOS_OPEN_SHARED);
	b = open_or_die(store, name, NB_RADOS_OPEN_SHARED);
	gid_str(node_a, gid_a, sizeof(gid_a));
	assert_int_equal(nb_rados_lock_take_gen(a, "alice", false, 0, &ga, NULL, err,
						sizeof(err)), 0);
	memset(buf, 'a', OBJ);
	assert_int_equal(t_write_gen(a, ga, buf), 0);
	nb_rados_fence_timedout(a, a->watch_io);	/* nothing in flight now */
	assert_int_equal(nb_rados_lock_take_gen(b, "bob", true, 0, &gb, NULL, err,
						sizeof(err)), 0);
	print_message("break: %s\n", err);
	assert_non_null(strstr(err, gid_a));
	assert_non_null(strstr(err, "within 5 s: blocklisted it"));
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, OBJ, buf), NB_RADOS_EBLOCKLISTED);

	assert_int_equal(nb_rados_lock_refresh(a, err, sizeof(err)), 0);
	assert_int_equal(nb_rados_reconnects(node_a), 1);
	assert_int_equal(nb_rados_lock_break(store, name, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	nb_rados_vol_close(a);
	nb_rados_vol_close(b);
	nb_rados_disconnect(node_a);
	remove_or_die(name);
	free(buf);
}

/* A mon command as client.admin; 0 or -errno. */
static int admin_mon_command(const char *cmd, char **out, size_t *outlen)
{
	struct nb_rados_conf c = conf_default();
	struct nb_rados_store *admin;
	const char *cmds[1] = { cmd };
	char err[256] = "", *outs = NULL, *buf = NULL;
	size_t outslen = 0, len = 0;
	int ret;

	c.client_id = "admin";
	c.keyring = env_admin_keyring;
	admin = nb_rados_connect(&c, err, sizeof(err));
	if (!admin)
		fail_msg("connect as client.admin: %s", err);
	ret = rados_mon_command(admin->cluster, cmds, 1, "", 0, &buf, &len,
				&outs, &outslen);
	if (ret < 0)
		print_message("mon command %s: %.*s\n", cmd, (int)outslen,
			      outs ? outs : "");
	if (out && ret == 0) {
		*out = strndup(buf ? buf : "", len);
		*outlen = len;
	}
	rados_buffer_free(buf);
	rados_buffer_free(outs);
	nb_rados_disconnect(admin);
	return ret;
}

/*
 * A break whose fence is not sure fails: the breaker's cephx user has no
 * mon cap for 'osd blocklist' and a watcher does not acknowledge. The
 * lock stays with its holder (at the new generation), so a delete is
 * still refused; once the watcher acknowledges, a break goes through.
 */
static void test_blocklist_denied(void **state)
{
	const char *name = vname("nocap");
	struct nb_rados_store *node_a = connect_or_die(), *nocap;
	struct nb_rados_conf conf = conf_default();
	struct nb_rados_vol *a, *n;
	struct nb_rados_lock_holder h;
	struct nb_rados_vol_info info;
	char user[64], cmd[512], keyring[] = "/tmp/test_rados_nocap.XXXXXX";
	char err[1024], *key = NULL;
	uint64_t ga, gn, epoch;
	size_t keylen = 0;
	FILE *f;
	int fd;

	/* client.USER: the pool, but mon 'allow r' only. */
	snprintf(user, sizeof(user), "netblk-nocap-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "{\"prefix\": \"auth get-or-create\", \"entity\": "
		 "\"client.%s\", \"caps\": [\"mon\", \"allow r\", \"osd\", "
		 "\"allow rwx pool=%s\"]}", user, env_pool);
	assert_int_equal(admin_mon_command(cmd, &key, &keylen), 0);
	fd = mkstemp(keyring);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fwrite(key, 1, keylen, f);
	fclose(f);
	free(key);
	conf.client_id = user;
	conf.keyring = keyring;
	nocap = nb_rados_connect(&conf, err, sizeof(err));
	if (!nocap)
		fail_msg("connect as client.%s: %s", user, err);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(node_a, name, NB_RADOS_OPEN_SHARED);
	n = open_or_die(nocap, name, NB_RADOS_OPEN_SHARED);
	assert_int_equal(nb_rados_lock_take_gen(a, "alice", false, 0, &ga, NULL, err,
						sizeof(err)), 0);
	/* a write of ga that does not finish: a keeps its ack */
	assert_int_equal(nb_rados_fence_admit(a, ga, &epoch), 0);

	memset(&h, 0, sizeof(h));
	assert_int_equal(nb_rados_lock_take_gen(n, "bob", true, 0, &gn, &h, err,
						sizeof(err)), NB_RADOS_EFENCE);
	print_message("take with break: %s\n", err);
	assert_non_null(strstr(err, "not broken"));
	assert_non_null(strstr(err, "lacks the mon cap"));
	assert_string_equal(h.owner, "alice");
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "alice");
	assert_int_equal(info.lock.gen, ga + 1);
	/* the admin's break: the same */
	assert_int_equal(nb_rados_lock_break(nocap, name, NULL, err, sizeof(err)),
			 NB_RADOS_EFENCE);
	assert_non_null(strstr(err, "lacks the mon cap"));
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "alice");
	assert_int_equal(info.lock.gen, ga + 2);
	assert_int_equal(nb_rados_vol_remove(nocap, name, err, sizeof(err)), -EBUSY);

	/* a acknowledges now: a break without blocklisting goes through */
	nb_rados_fence_done(a, epoch);
	assert_int_equal(nb_rados_lock_break(nocap, name, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(nb_rados_vol_info(store, name, &info, err, sizeof(err)), 0);
	assert_string_equal(info.lock.owner, "");

	nb_rados_vol_close(a);
	nb_rados_vol_close(n);
	nb_rados_disconnect(node_a);
	nb_rados_disconnect(nocap);
	unlink(keyring);
	snprintf(cmd, sizeof(cmd), "{\"prefix\": \"auth rm\", \"entity\": \"client.%s\"}",
		 user);
	assert_int_equal(admin_mon_command(cmd, NULL, NULL), 0);
	remove_or_die(name);
}

/*
 * The per-write guard: a write of an old generation that was already past
 * the cached check (here: the notify is made to look late) fails on an
 * object the new holder wrote, and (its documented limit) lands on one the
 * new holder has not touched.
 */
static void test_write_guard(void **state)
{
	const char *name = vname("guard");
	struct nb_rados_store *node2 = connect_or_die();
	struct nb_rados_vol *a, *b;
	uint64_t ga, gb;
	char err[256];
	uint8_t *buf = malloc(2 * OBJ), *r = malloc(2 * OBJ);

	create_or_die(name, VOLSIZE, OBJ);
	a = open_or_die(store, name, NB_RADOS_OPEN_GUARD_WRITES);
	b = open_or_die(node2, name, NB_RADOS_OPEN_GUARD_WRITES);
	assert_int_equal(nb_rados_lock_take(a, "host-a", false, &ga, NULL, err,
					    sizeof(err)), 0);
	memset(buf, 'a', 2 * OBJ);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, 2 * OBJ, buf), 0);	/* objects 0, 1 */
	assert_int_equal(nb_rados_lock_take(b, "host-b", true, &gb, NULL, err,
					    sizeof(err)), 0);
	memset(buf, 'b', OBJ);
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 0, OBJ, buf), 0);		/* object 0 */
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 4 * OBJ, 512, buf), 0);	/* new object 4 */
	assert_true(wait_not_current(a, ga, 5000));

	/* a has not heard of the break yet. */
	atomic_store(&a->known_gen, ga);
	assert_true(nb_rados_lock_is_current(a, ga));
	memset(buf, 'A', 2 * OBJ);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 0, 512, buf), -ESTALE);
	assert_int_equal(t_io(a, NB_RADOS_WRITE, 4 * OBJ, 512, buf), -ESTALE);
	assert_int_equal(t_io(a, NB_RADOS_DISCARD, 0, OBJ, NULL), -ESTALE);
	/* Object 1, not yet written by b: the guard cannot tell. */
	assert_int_equal(t_io(a, NB_RADOS_WRITE, OBJ, 512, buf), 0);
	/* A request over both: the first error wins, the rest still ran. */
	assert_int_equal(t_io(a, NB_RADOS_WRITE, OBJ - 512, 1024, buf), -ESTALE);

	assert_int_equal(t_io(b, NB_RADOS_READ, 0, OBJ, r), 0);
	memset(buf, 'b', OBJ);
	assert_memory_equal(r, buf, OBJ);
	assert_int_equal(t_io(b, NB_RADOS_READ, 4 * OBJ, 512, r), 0);
	assert_memory_equal(r, buf, 512);
	/* b goes on writing everywhere, a's objects included. */
	assert_int_equal(t_io(b, NB_RADOS_WRITE, OBJ, OBJ, buf), 0);
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 8 * OBJ, OBJ, buf), 0);

	/* A lost watch: b is not fenced (its generation did not move), but
	 * its writes wait for a refresh, which finds b still the holder;
	 * a's refresh finds a fenced. */
	atomic_store(&b->watch_ok, false);
	assert_true(nb_rados_lock_is_current(b, gb));
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 0, 512, buf), -ENOTCONN);
	assert_int_equal(t_io(b, NB_RADOS_READ, 0, 512, r), 0);
	assert_int_equal(nb_rados_lock_refresh(b, err, sizeof(err)), 0);
	assert_true(nb_rados_lock_is_current(b, gb));
	assert_int_equal(t_io(b, NB_RADOS_WRITE, 0, 512, buf), 0);
	assert_int_equal(nb_rados_lock_refresh(a, err, sizeof(err)), 0);
	assert_false(nb_rados_lock_is_current(a, ga));
	assert_int_equal(t_io(a, NB_RADOS_WRITE, OBJ, 512, buf), -ESTALE);

	nb_rados_vol_close(a);
	nb_rados_vol_close(b);
	nb_rados_disconnect(node2);
	remove_or_die(name);
	free(buf);
	free(r);
}

/* A resize through the store reaches an open handle through its watch. */
static void test_resize_seen(void **state)
{
	const char *name = vname("grow");
	struct nb_rados_vol *vol;
	char err[256], *buf = calloc(1, 4096);
	int i;

	create_or_die(name, 1 << 20, OBJ);
	vol = open_or_die(store, name, 0);
	assert_int_equal(t_io(vol, NB_RADOS_WRITE, 2 << 20, 4096, buf), -EINVAL);
	assert_int_equal(nb_rados_vol_resize(store, name, 4 << 20, err, sizeof(err)), 0);
	for (i = 0; i < 500 && nb_rados_vol_size(vol) != 4 << 20; i++)
		usleep(10000);
	assert_int_equal(nb_rados_vol_size(vol), 4 << 20);
	assert_int_equal(t_io(vol, NB_RADOS_WRITE, 2 << 20, 4096, buf), 0);
	nb_rados_vol_close(vol);
	remove_or_die(name);
	free(buf);
}

static int group_setup(void **state)
{
	store = connect_or_die();
	snprintf(vol_prefix, sizeof(vol_prefix), "t%ld-%d", (long)time(NULL), (int)getpid());
	return 0;
}

static int group_teardown(void **state)
{
	nb_rados_disconnect(store);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_volume_admin),
		cmocka_unit_test(test_create_race),
		cmocka_unit_test(test_rw_extents),
		cmocka_unit_test(test_iovec),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_discard_guarded),
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_blocklist),
		cmocka_unit_test(test_blocklist_lost_watch),
		cmocka_unit_test(test_blocklist_timedout),
		cmocka_unit_test(test_blocklist_denied),
		cmocka_unit_test(test_write_guard),
		cmocka_unit_test(test_resize_seen),
	};

	if (!env_load()) {
		fprintf(stderr, "SKIP: no Ceph cluster: NETBLK_CEPH_ENV (%s) unset or "
			"not a ceph-cluster.sh env file\n",
			getenv("NETBLK_CEPH_ENV") ? getenv("NETBLK_CEPH_ENV") : "");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
