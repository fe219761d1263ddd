/* SPDX-License-Identifier: MIT */
/* netblk-rados-bench: IOPS and MB/s of the rados library against a pool. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "rados_store.h"
#include "version.h"

static const char bench_usage[] =
"Usage: netblk-rados-bench [OPTIONS]\n"
"\n"
"Creates a scratch volume in a Ceph pool, writes it all once, runs 4 KiB random\n"
"writes and reads at queue depth 32 and 128 KiB random writes and reads\n"
"at queue depth 8 through the netblk_rados library (the rados backend's\n"
"data path, without the network protocol), prints IOPS, MB/s and mean\n"
"latency for each, and removes the volume. A benchmark, not a test: it\n"
"asserts nothing.\n"
"\n"
"  --env FILE         read CEPH_CONF, CEPH_CLIENT_ID, CEPH_CLIENT_KEYRING\n"
"                     and CEPH_POOL from FILE (ceph-cluster.sh's env)\n"
"  --conf PATH        ceph.conf (default: librados' search)\n"
"  --id NAME          cephx client id (default: admin)\n"
"  --keyring PATH     keyring (default: the one ceph.conf names)\n"
"  --pool NAME        pool (required unless in --env)\n"
"  --seconds N        seconds per job (default 5)\n"
"  --size SIZE        volume size (default 256M)\n"
"  --object-size SIZE extent size (default 4M)\n"
"  --guard            take the writer lock and guard every write\n"
"  -h, --help         this text\n"
"      --version      print the version and exit\n";

#define BENCH_MAX_QD 64

struct bench_job {
	const char *name;
	enum nb_rados_op op;
	uint32_t bs;
	unsigned qd;
	bool fill;		/* sequential, once over the volume, no deadline */
};

struct bench_slot {
	struct nb_rados_io io;
	struct iovec iov;
	struct bench_run *run;
	struct timespec start;
	unsigned seed;
};

struct bench_run {
	struct nb_rados_vol *vol;
	const struct bench_job *job;
	uint64_t blocks;		/* volume size / bs */
	double deadline;
	atomic_uint_fast64_t next;	/* fill: the next block */
	atomic_bool stop;
	atomic_uint_fast64_t ops;
	atomic_uint_fast64_t lat_ns;
	atomic_uint outstanding;
	atomic_int err;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bench_slot slot[BENCH_MAX_QD];
};

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start s's next request: 1 when there is none left (fill done). */
static int bench_submit(struct bench_slot *s)
{
	struct bench_run *run = s->run;

	if (run->job->fill) {
		uint64_t b = atomic_fetch_add(&run->next, 1);

		if (b >= run->blocks)
			return 1;
		s->io.offset = b * run->job->bs;
	} else {
		s->io.offset = ((uint64_t)rand_r(&s->seed) * 65536u +
				(uint64_t)rand_r(&s->seed)) % run->blocks * run->job->bs;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	return nb_rados_submit(run->vol, &s->io);
}

static void bench_slot_end(struct bench_run *run)
{
	pthread_mutex_lock(&run->mu);
	if (atomic_fetch_sub(&run->outstanding, 1) == 1)
		pthread_cond_signal(&run->cv);
	pthread_mutex_unlock(&run->mu);
}

/* librados thread: count it, start the next one. */
static void bench_done(struct nb_rados_io *io, int ret)
{
	struct bench_slot *s = io->priv;
	struct bench_run *run = s->run;
	struct timespec end;
	int zero = 0;

	clock_gettime(CLOCK_MONOTONIC, &end);
	if (ret < 0) {
		atomic_compare_exchange_strong(&run->err, &zero, ret);
		atomic_store(&run->stop, true);
	} else {
		atomic_fetch_add(&run->ops, 1);
		atomic_fetch_add(&run->lat_ns,
				 (uint64_t)((end.tv_sec - s->start.tv_sec) * 1000000000ll +
					    (end.tv_nsec - s->start.tv_nsec)));
	}
	if (atomic_load(&run->stop) || (!run->job->fill && bench_now() >= run->deadline)) {
		atomic_store(&run->stop, true);
		bench_slot_end(run);
		return;
	}
	ret = bench_submit(s);
	if (ret < 0) {
		atomic_compare_exchange_strong(&run->err, &zero, ret);
		atomic_store(&run->stop, true);
	}
	if (ret)
		bench_slot_end(run);
}

static int bench_job_run(struct nb_rados_vol *vol, const struct bench_job *job,
			 double seconds)
{
	struct bench_run *run = calloc(1, sizeof(*run));
	char *bufs = NULL;
	double t0, t;
	unsigned i;
	int ret;

	if (!run || posix_memalign((void **)&bufs, 4096, (size_t)job->bs * job->qd)) {
		free(run);
		return -ENOMEM;
	}
	memset(bufs, 0x5a, (size_t)job->bs * job->qd);
	run->vol = vol;
	run->job = job;
	run->blocks = nb_rados_vol_size(vol) / job->bs;
	pthread_mutex_init(&run->mu, NULL);
	pthread_cond_init(&run->cv, NULL);
	t0 = bench_now();
	run->deadline = t0 + seconds;
	atomic_store(&run->outstanding, job->qd);
	for (i = 0; i < job->qd; i++) {
		struct bench_slot *s = &run->slot[i];

		s->run = run;
		s->seed = 7919u * (i + 1);
		s->iov = (struct iovec){ bufs + (size_t)i * job->bs, job->bs };
		s->io.op = job->op;
		s->io.len = job->bs;
		s->io.iov = &s->iov;
		s->io.iovcnt = 1;
		s->io.done = bench_done;
		s->io.priv = s;
		ret = bench_submit(s);
		if (ret < 0) {
			atomic_store(&run->err, ret);
			atomic_store(&run->stop, true);
		}
		if (ret)
			bench_slot_end(run);
	}
	pthread_mutex_lock(&run->mu);
	while (atomic_load(&run->outstanding))
		pthread_cond_wait(&run->cv, &run->mu);
	pthread_mutex_unlock(&run->mu);
	t = bench_now() - t0;
	ret = atomic_load(&run->err);
	if (ret < 0) {
		fprintf(stderr, "netblk-rados-bench: %s: %s\n", job->name, strerror(-ret));
	} else {
		uint64_t ops = atomic_load(&run->ops);

		printf("%-22s %9.0f IOPS %9.1f MB/s   mean latency %7.2f ms   (%" PRIu64
		       " ops in %.1f s)\n", job->name, ops / t, ops * job->bs / t / 1e6,
		       ops ? atomic_load(&run->lat_ns) / 1e6 / ops : 0.0, ops, t);
	}
	free(bufs);
	free(run);
	return ret;
}

static char *bench_env_value(const char *line, const char *key)
{
	size_t n = strlen(key);
	const char *v;

	if (strncmp(line, "export ", 7) || strncmp(line + 7, key, n) || line[7 + n] != '=')
		return NULL;
	v = line + 7 + n + 1;
	if (*v == '\'')
		return strndup(v + 1, strcspn(v + 1, "'"));
	return strndup(v, strcspn(v, "\n"));
}

static int bench_env(const char *path, struct nb_rados_conf *c)
{
	char line[1024], *v;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "netblk-rados-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if ((v = bench_env_value(line, "CEPH_CONF")))
			c->conf_path = v;
		else if ((v = bench_env_value(line, "CEPH_CLIENT_ID")))
			c->client_id = v;
		else if ((v = bench_env_value(line, "CEPH_CLIENT_KEYRING")))
			c->keyring = v;
		else if ((v = bench_env_value(line, "CEPH_POOL")))
			c->pool = v;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "conf", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'i' },
		{ "keyring", required_argument, NULL, 'k' },
		{ "pool", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "object-size", required_argument, NULL, 'o' },
		{ "guard", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct bench_job jobs[] = {
		{ "4k randwrite qd32", NB_RADOS_WRITE, 4096, 32 },
		{ "4k randread qd32", NB_RADOS_READ, 4096, 32 },
		{ "128k randwrite qd8", NB_RADOS_WRITE, 128 * 1024, 8 },
		{ "128k randread qd8", NB_RADOS_READ, 128 * 1024, 8 },
	};
	struct nb_rados_conf conf = { .connect_timeout_s = 30 };
	uint64_t size = 256ull << 20, osz = NB_RADOS_OBJECT_SIZE_DEFAULT, gen;
	struct nb_rados_store *st;
	struct nb_rados_vol *vol;
	char err[512], name[64];
	double seconds = 5;
	bool guard = false;
	int o, ret = 0;
	size_t i;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			if (bench_env(optarg, &conf))
				return 1;
			break;
		case 'c': conf.conf_path = optarg; break;
		case 'i': conf.client_id = optarg; break;
		case 'k': conf.keyring = optarg; break;
		case 'p': conf.pool = optarg; break;
		case 's':
			seconds = atof(optarg);
			if (seconds <= 0) {
				fprintf(stderr, "netblk-rados-bench: bad --seconds '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (nb_parse_size(optarg, &size) || !size) {
				fprintf(stderr, "netblk-rados-bench: bad --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'o':
			if (nb_parse_size(optarg, &osz) || osz > UINT32_MAX) {
				fprintf(stderr, "netblk-rados-bench: bad --object-size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'g': guard = true; break;
		case 'h':
			fputs(bench_usage, stdout);
			return 0;
		case 'V':
			nb_version_print(stdout, "netblk-rados-bench");
			return 0;
		default:
			fputs(bench_usage, stderr);
			return 2;
		}
	}
	if (!conf.pool) {
		fprintf(stderr, "netblk-rados-bench: no pool: give --pool or --env\n");
		return 2;
	}
	st = nb_rados_connect(&conf, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "netblk-rados-bench: %s\n", err);
		return 1;
	}
	snprintf(name, sizeof(name), "bench-%d", (int)getpid());
	if (nb_rados_vol_create(st, name, size, 4096, (uint32_t)osz, err, sizeof(err))) {
		fprintf(stderr, "netblk-rados-bench: %s\n", err);
		nb_rados_disconnect(st);
		return 1;
	}
	vol = nb_rados_vol_open(st, name, guard ? NB_RADOS_OPEN_GUARD_WRITES : 0,
				err, sizeof(err));
	if (!vol) {
		fprintf(stderr, "netblk-rados-bench: %s\n", err);
		ret = 1;
		goto out_remove;
	}
	if (guard && nb_rados_lock_take(vol, "netblk-rados-bench", false, &gen, NULL,
					err, sizeof(err))) {
		fprintf(stderr, "netblk-rados-bench: %s\n", err);
		ret = 1;
		goto out_close;
	}
	printf("pool %s, volume %s: %" PRIu64 " MiB, extents of %" PRIu64 " KiB%s, "
	       "%.0f s per job\n", nb_rados_pool(st), name, size >> 20, osz >> 10,
	       guard ? ", guarded writes" : "", seconds);
	{
		/* Reads of never-written extents would not reach the OSDs'
		 * data: write the whole volume first. */
		struct bench_job fill = { "fill: seq write 1M qd8", NB_RADOS_WRITE,
					  1u << 20, 8, true };

		if (size % fill.bs)
			fill.bs = 4096;
		if (bench_job_run(vol, &fill, seconds) < 0) {
			ret = 1;
			goto out_close;
		}
	}
	for (i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
		if (bench_job_run(vol, &jobs[i], seconds) < 0)
			ret = 1;
out_close:
	nb_rados_vol_close(vol);
out_remove:
	if (nb_rados_vol_remove(st, name, err, sizeof(err))) {
		fprintf(stderr, "netblk-rados-bench: %s\n", err);
		ret = 1;
	}
	nb_rados_disconnect(st);
	return ret;
}
