/* SPDX-License-Identifier: MIT */
/*
 * step_io: a small client of the engine (session.h) that runs the steps
 * given on its command line, one at a time, in one session, for the
 * tests of the client's flush and failover rules (rules_*.sh). Unlike
 * netblk-cli it can write without FUA and stop without a FLUSH, or send
 * a FLUSH without writing first, and it can wait between steps for the
 * test to break a node while the session stays up.
 *
 *   step_io --cluster A[,B..] --volume V --ca F --cert F --key F
 *           [--io-timeout S] [--try-timeout S] [--seed N] [-v] STEP...
 *
 * Steps:
 *   write:OFF:LEN      write LEN bytes at OFF (a pattern of offset and
 *                      seed), without FUA
 *   writefua:OFF:LEN   the same with FUA
 *   read:OFF:LEN       read LEN bytes at OFF and compare with the pattern
 *   flush              FLUSH
 *   touch:FILE         create FILE (tell the test a point was reached)
 *   wait:FILE          run the loop until FILE exists
 * OFF and LEN take K, M, G suffixes.
 *
 * Output (stdout), one line per step: "step N OP result R elapsed S"
 * (R 0 or -errno, S seconds) and, for reads, "data ok", "data zeroes" or
 * "data wrong". Exits 0 when every step succeeded, 1 at the first step
 * that failed (or read wrong data), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <ev.h>

#include "session.h"

struct sio {
	struct ev_loop *loop;
	struct session *c;
	uint64_t seed;
	bool verbose;
	bool done;
	int result;
};

static void sio_engine_log(void *opaque, int level, const char *msg)
{
	fprintf(stderr, "engine: %s\n", msg);
}

static void sio_usage(void)
{
	fprintf(stderr,
		"usage: step_io --cluster A[,B..] --volume V --ca F --cert F --key F\n"
		"       [--io-timeout S] [--try-timeout S] [--seed N] [-v] STEP...\n"
		"steps: write:OFF:LEN writefua:OFF:LEN read:OFF:LEN flush\n"
		"       touch:FILE wait:FILE\n");
	exit(2);
}

static uint64_t sio_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (end == s || s[0] == '-')
		sio_usage();
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	else if (*end)
		sio_usage();
	if (shift && end[1])
		sio_usage();
	return (uint64_t)v << shift;
}

static uint8_t sio_byte(uint64_t off, uint64_t seed)
{
	uint64_t x = (off | 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17)) | 1; /* never 0: zeroes stand out */
}

static void sio_done(struct session_io *io, int result)
{
	struct sio *s = io->opaque;

	s->result = result;
	s->done = true;
}

static int sio_io(struct sio *s, enum session_op op, uint64_t off,
		  uint64_t len, uint32_t flags, uint8_t *buf)
{
	struct iovec iov = { buf, len };
	struct session_io io = {
		.op = op, .offset = off, .length = len, .flags = flags,
		.iov = buf ? &iov : NULL, .iovcnt = buf ? 1 : 0,
		.done = sio_done, .opaque = s,
	};
	int ret;

	s->done = false;
	ret = nb_session_submit(s->c, &io);
	if (ret)
		return ret;
	while (!s->done)
		ev_run(s->loop, EVRUN_ONCE);
	return s->result;
}

/* "OFF:LEN" after the step's name. */
static void sio_range(const char *arg, uint64_t *off, uint64_t *len)
{
	char buf[64], *colon;

	if (strlen(arg) >= sizeof(buf))
		sio_usage();
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (!colon)
		sio_usage();
	*colon = '\0';
	*off = sio_size(buf);
	*len = sio_size(colon + 1);
	if (*len == 0 || *len > (256u << 20))
		sio_usage();
}

static void sio_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (access((const char *)w->data, F_OK) == 0)
		ev_break(loop, EVBREAK_ONE);
}

/* Run one step; returns 0 or 1 (failed). */
static int sio_step(struct sio *s, int n, const char *step)
{
	double t0 = ev_time();
	const char *what = step;
	char data[32] = "";
	uint64_t off = 0, len = 0;
	uint8_t *buf = NULL;
	int ret = 0;

	if (!strncmp(step, "write:", 6) || !strncmp(step, "writefua:", 9)) {
		bool fua = step[5] != ':';

		what = fua ? "writefua" : "write";
		sio_range(step + (fua ? 9 : 6), &off, &len);
		buf = malloc(len);
		if (!buf)
			return 1;
		for (uint64_t i = 0; i < len; i++)
			buf[i] = sio_byte(off + i, s->seed);
		ret = sio_io(s, SESSION_OP_WRITE, off, len,
			     fua ? SESSION_FLAG_FUA : 0, buf);
	} else if (!strncmp(step, "read:", 5)) {
		what = "read";
		sio_range(step + 5, &off, &len);
		buf = calloc(1, len);
		if (!buf)
			return 1;
		memset(buf, 0xa5, len);
		ret = sio_io(s, SESSION_OP_READ, off, len, 0, buf);
		if (ret == 0) {
			bool zero = true, ok = true;

			for (uint64_t i = 0; i < len; i++) {
				if (buf[i])
					zero = false;
				if (buf[i] != sio_byte(off + i, s->seed))
					ok = false;
			}
			snprintf(data, sizeof(data), " data %s",
				 ok ? "ok" : zero ? "zeroes" : "wrong");
			if (!ok)
				ret = -EILSEQ;
		}
	} else if (!strcmp(step, "flush")) {
		ret = sio_io(s, SESSION_OP_FLUSH, 0, 0, 0, NULL);
	} else if (!strncmp(step, "touch:", 6)) {
		FILE *f = fopen(step + 6, "w");

		what = "touch";
		if (f)
			fclose(f);
		else
			ret = -errno;
	} else if (!strncmp(step, "wait:", 5)) {
		ev_timer tick;

		what = "wait";
		ev_timer_init(&tick, sio_tick_cb, 0.05, 0.05);
		tick.data = (void *)(step + 5);
		ev_timer_start(s->loop, &tick);
		if (access(step + 5, F_OK) != 0)
			ev_run(s->loop, 0);
		ev_timer_stop(s->loop, &tick);
	} else {
		sio_usage();
	}
	free(buf);
	printf("step %d %s result %d elapsed %.3f%s\n", n, what, ret,
	       ev_time() - t0, data);
	fflush(stdout);
	if (ret && s->verbose)
		fprintf(stderr, "step_io: %s\n", nb_session_last_error(s->c));
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct sio s;
	struct session_config cfg = { 0 };
	const char *nodes[16], *ca = NULL, *cert = NULL, *key = NULL;
	char *cluster_arg = NULL, err[512];
	int i, rc = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			s.verbose = true;
			continue;
		}
		if (!v)
			sio_usage();
		i++;
		if (!strcmp(a, "--cluster"))
			cluster_arg = strdup(v);
		else if (!strcmp(a, "--volume"))
			cfg.volume = v;
		else if (!strcmp(a, "--ca"))
			ca = v;
		else if (!strcmp(a, "--cert"))
			cert = v;
		else if (!strcmp(a, "--key"))
			key = v;
		else if (!strcmp(a, "--io-timeout"))
			cfg.io_timeout = strtod(v, NULL);
		else if (!strcmp(a, "--try-timeout"))
			cfg.try_timeout = strtod(v, NULL);
		else if (!strcmp(a, "--seed"))
			s.seed = strtoull(v, NULL, 10);
		else
			sio_usage();
	}
	if (!cluster_arg || !cfg.volume || !ca || i >= argc)
		sio_usage();
	cfg.nodes = nodes;
	for (char *tok = strtok(cluster_arg, ","); tok && cfg.n_nodes < 16;
	     tok = strtok(NULL, ","))
		nodes[cfg.n_nodes++] = tok;
	cfg.tls_ca = ca;
	cfg.tls_cert = cert;
	cfg.tls_key = key;
	cfg.client_name = "step_io";
	cfg.log_fn = sio_engine_log;
	cfg.log_level = s.verbose ? LOG_DEBUG : LOG_WARNING;

	s.loop = ev_default_loop(0);
	s.c = nb_session_open_sync(s.loop, &cfg, err, sizeof(err));
	if (!s.c) {
		printf("cannot open: %s\n", err);
		free(cluster_arg);
		return 1;
	}
	for (int n = 1; i < argc; i++, n++) {
		rc = sio_step(&s, n, argv[i]);
		if (rc)
			break;
	}
	nb_session_free(s.c);
	free(cluster_arg);
	return rc;
}
