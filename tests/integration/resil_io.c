/* SPDX-License-Identifier: MIT */
/*
 * resil_io: a small client of the engine (session.h) for the resilience
 * tests. It writes and reads back a range of a volume, block by block,
 * for as long as it is told, while the test breaks the nodes; every read
 * is compared with what was written last to that block, and a final pass
 * reads every block once more. It counts I/O errors and mismatches and
 * exits 0 only when there were none (or, with --allow-errors, when no
 * block read back wrong).
 *
 * Signals, handled from the loop as the daemon does:
 *   SIGHUP   reload the TLS files given with --ca/--cert/--key into a new
 *            context and hand it to nb_session_reload_tls(); a bad file keeps
 *            the old context ("TLS reload failed: ...")
 *   SIGUSR1  nb_session_refresh_volume(); prints "volume size N"; with
 *            --grow-check, then writes and reads the last block of the
 *            new size
 *
 *   resil_io --cluster A[,B..] --volume V --ca F --cert F --key F
 *            [--size BYTES] [--block-size BYTES] [--queue-depth N]
 *            [--seconds S | --until-file F] [--max-seconds S]
 *            [--io-timeout S] [--try-timeout S] [--ready-file F]
 *            [--allow-errors] [--grow-check] [-v]
 *
 * Output (stdout), one line each: "ready size N", reload and refresh
 * results, then "summary writes W reads R errors E mismatches M
 * final_checked C final_mismatches F unknown U retries T reconnects X
 * timeouts O".
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <ev.h>

#include "session.h"
#include "tls.h"

#define RIO_MAX_SLOTS 64
#define RIO_SECTOR    512
#define RIO_SHOW_MAX  5

struct rio;

struct rio_slot {
	struct rio *r;
	struct session_io io;
	struct iovec iov;
	uint8_t *buf;
	uint8_t *expect;
	uint64_t block;
	uint64_t gen;
	bool busy;
	bool final;      /* a read of the final pass */
};

struct rio_block {
	uint64_t gen;    /* last generation known written; 0 = unknown */
	bool busy;
};

struct rio {
	struct ev_loop *loop;
	struct session *c;
	const char *ca, *cert, *key;
	uint64_t size, block_size, n_blocks;
	unsigned qd;
	double seconds, max_seconds;
	const char *until_file, *ready_file;
	bool allow_errors, grow_check, verbose;

	struct rio_block *blocks;
	struct rio_slot slots[RIO_MAX_SLOTS];
	uint64_t cursor;
	uint64_t next_gen;
	double start;
	bool stopping;     /* no new writes */
	bool final_pass;
	uint64_t final_cursor;
	unsigned busy_slots;
	bool done;
	int exit_code;

	uint64_t writes, reads, errors, mismatches, shown;
	uint64_t final_checked, final_mismatches, unknown;

	ev_timer tick;
	ev_signal sighup, sigusr1;
};

static void rio_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void rio_say(const char *fmt, ...)
{
	va_list ap;

	fputs("resil_io: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void rio_engine_log(void *opaque, int level, const char *msg)
{
	fprintf(stderr, "engine: %s\n", msg);
}

/* ---- the pattern: every sector names its offset and generation ---- */

static uint64_t rio_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void rio_fill(uint8_t *p, uint64_t off, uint64_t len, uint64_t gen)
{
	for (uint64_t s = 0; s < len; s += RIO_SECTOR) {
		uint64_t o = off + s, x = rio_mix(o ^ (gen * 0x9e3779b97f4a7c15ull));

		memcpy(p + s, &o, 8);
		memcpy(p + s + 8, &gen, 8);
		for (unsigned i = 16; i < RIO_SECTOR; i += 8) {
			x = rio_mix(x + i);
			memcpy(p + s + i, &x, 8);
		}
	}
}

static void rio_mismatch(struct rio *r, struct rio_slot *s, const char *when)
{
	const uint8_t *got = s->buf, *want = s->expect;

	for (uint64_t i = 0; i < r->block_size; i += RIO_SECTOR) {
		uint64_t goff, ggen;

		if (!memcmp(got + i, want + i, RIO_SECTOR))
			continue;
		if (r->shown++ >= RIO_SHOW_MAX)
			return;
		memcpy(&goff, got + i, 8);
		memcpy(&ggen, got + i + 8, 8);
		rio_say("MISMATCH (%s) at offset %" PRIu64
			": expected generation %" PRIu64
			", found sector of offset %" PRIu64 " generation %" PRIu64,
			when, s->block * r->block_size + i, s->gen, goff, ggen);
		return;
	}
}

/* ---- slots ---- */

static void rio_slot_next(struct rio_slot *s);

static void rio_submit(struct rio_slot *s, enum session_op op)
{
	struct rio *r = s->r;
	int ret;

	s->io = (struct session_io){
		.op = op, .offset = s->block * r->block_size,
		.length = r->block_size, .iov = &s->iov, .iovcnt = 1,
		.opaque = s, .done = s->io.done,
	};
	ret = nb_session_submit(r->c, &s->io);
	if (ret) {
		rio_say("submit refused: %s", strerror(-ret));
		s->io.done(&s->io, ret); /* counted as failed there */
	}
}

static void rio_release(struct rio_slot *s)
{
	struct rio *r = s->r;

	if (!s->final)
		r->blocks[s->block].busy = false;
	s->busy = false;
	r->busy_slots--;
}

static void rio_done(struct session_io *io, int result)
{
	struct rio_slot *s = io->opaque;
	struct rio *r = s->r;

	if (io->op == SESSION_OP_WRITE) {
		r->writes++;
		if (result) {
			r->errors++;
			r->blocks[s->block].gen = 0; /* unknown now */
			if (r->verbose || r->errors <= RIO_SHOW_MAX)
				rio_say("write of block %" PRIu64 " failed: %s",
					s->block, strerror(-result));
			rio_release(s);
			rio_slot_next(s);
			return;
		}
		r->blocks[s->block].gen = s->gen;
		memset(s->buf, 0, r->block_size);
		rio_submit(s, SESSION_OP_READ);
		return;
	}
	/* a read: of the write just done, or of the final pass */
	r->reads++;
	if (result) {
		r->errors++;
		if (r->verbose || r->errors <= RIO_SHOW_MAX)
			rio_say("read of block %" PRIu64 " failed: %s", s->block,
				strerror(-result));
	} else if (memcmp(s->buf, s->expect, r->block_size)) {
		if (s->final)
			r->final_mismatches++;
		else
			r->mismatches++;
		rio_mismatch(r, s, s->final ? "final pass" : "read after write");
	}
	if (s->final && !result)
		r->final_checked++;
	rio_release(s);
	rio_slot_next(s);
}

static bool rio_time_up(struct rio *r)
{
	double el = ev_now(r->loop) - r->start;

	if (r->until_file)
		return access(r->until_file, F_OK) == 0;
	return el >= r->seconds;
}

/* Give the slot its next work: a write+read, a final read, or rest. */
static void rio_slot_next(struct rio_slot *s)
{
	struct rio *r = s->r;

	if (!r->stopping) {
		for (uint64_t n = 0; n < r->n_blocks; n++) {
			uint64_t b = r->cursor++ % r->n_blocks;

			if (r->blocks[b].busy)
				continue;
			r->blocks[b].busy = true;
			s->block = b;
			s->gen = ++r->next_gen;
			s->final = false;
			s->busy = true;
			r->busy_slots++;
			rio_fill(s->buf, b * r->block_size, r->block_size, s->gen);
			memcpy(s->expect, s->buf, r->block_size);
			rio_submit(s, SESSION_OP_WRITE);
			return;
		}
		return;
	}
	if (!r->final_pass)
		return;
	while (r->final_cursor < r->n_blocks) {
		uint64_t b = r->final_cursor++;

		if (!r->blocks[b].gen) {
			r->unknown++;
			continue;
		}
		s->block = b;
		s->gen = r->blocks[b].gen;
		s->final = true;
		s->busy = true;
		r->busy_slots++;
		rio_fill(s->expect, b * r->block_size, r->block_size, s->gen);
		memset(s->buf, 0, r->block_size);
		rio_submit(s, SESSION_OP_READ);
		return;
	}
}

static void rio_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rio *r = w->data;

	if (!r->stopping) {
		if (ev_now(loop) - r->start >= r->max_seconds) {
			rio_say("FAIL: not told to stop within %.0f s", r->max_seconds);
			r->exit_code = 1;
			r->stopping = true;
		} else if (rio_time_up(r)) {
			r->stopping = true;
		}
		return;
	}
	if (r->busy_slots) {
		/* in-flight ios still finishing; a hard limit for hangs */
		if (ev_now(loop) - r->start >= r->max_seconds + 60) {
			rio_say("FAIL: %u ios still in flight %.0f s after the end",
				r->busy_slots, ev_now(loop) - r->start - r->max_seconds);
			exit(1);
		}
		return;
	}
	if (!r->final_pass) {
		r->final_pass = true;
		for (unsigned i = 0; i < r->qd; i++)
			rio_slot_next(&r->slots[i]);
		return;
	}
	r->done = true;
	ev_break(loop, EVBREAK_ALL);
}

/* ---- signals: TLS reload, volume refresh ---- */

static void rio_sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct rio *r = w->data;
	char err[512];
	SSL_CTX *ctx;

	ctx = nb_tls_client_ctx_new(r->ca, r->cert, r->key, NULL, err,
				 sizeof(err));
	if (!ctx) {
		rio_say("TLS reload failed: %s; keeping the old context", err);
		return;
	}
	nb_session_reload_tls(r->c, ctx);
	SSL_CTX_free(ctx);
	rio_say("TLS reload ok");
}

struct rio_grow {
	struct rio *r;
	struct session_io io;
	struct iovec iov;
	uint8_t *buf, *expect;
	uint64_t off;
};

static void rio_grow_done(struct session_io *io, int result)
{
	struct rio_grow *g = io->opaque;
	struct rio *r = g->r;

	if (result) {
		rio_say("grow check: %s at %" PRIu64 " failed: %s",
			nb_session_op_name(io->op), g->off, strerror(-result));
		r->errors++;
		goto out_free;
	}
	if (io->op == SESSION_OP_WRITE) {
		memset(g->buf, 0, r->block_size);
		io->op = SESSION_OP_READ;
		if (nb_session_submit(r->c, io) == 0)
			return;
		rio_say("grow check: read refused");
		r->errors++;
		goto out_free;
	}
	if (memcmp(g->buf, g->expect, r->block_size)) {
		rio_say("grow check: MISMATCH at %" PRIu64, g->off);
		r->mismatches++;
	} else {
		rio_say("grow check: last block at %" PRIu64 " written and read back", g->off);
	}
out_free:
	free(g->buf);
	free(g->expect);
	free(g);
}

static void rio_grow_check(struct rio *r, uint64_t size)
{
	struct rio_grow *g = calloc(1, sizeof(*g));
	int ret;

	if (!g || size < r->block_size)
		goto out_fail;
	g->r = r;
	g->off = size - r->block_size;
	g->buf = malloc(r->block_size);
	g->expect = malloc(r->block_size);
	if (!g->buf || !g->expect)
		goto out_fail;
	rio_fill(g->buf, g->off, r->block_size, ++r->next_gen);
	memcpy(g->expect, g->buf, r->block_size);
	g->iov = (struct iovec){ g->buf, r->block_size };
	g->io = (struct session_io){ .op = SESSION_OP_WRITE, .offset = g->off,
				     .length = r->block_size, .iov = &g->iov,
				     .iovcnt = 1, .done = rio_grow_done,
				     .opaque = g };
	ret = nb_session_submit(r->c, &g->io);
	if (ret == 0)
		return;
	rio_say("grow check: write at %" PRIu64 " refused: %s", g->off,
		strerror(-ret));
out_fail:
	r->errors++;
	if (g) {
		free(g->buf);
		free(g->expect);
	}
	free(g);
}

static void rio_volume_cb(struct session *c, const struct session_volume *info,
			  int err, void *opaque)
{
	struct rio *r = opaque;

	if (err) {
		rio_say("volume refresh failed: %s", strerror(-err));
		return;
	}
	rio_say("volume size %" PRIu64, info->size);
	if (r->grow_check)
		rio_grow_check(r, info->size);
}

static void rio_sigusr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct rio *r = w->data;
	int ret = nb_session_refresh_volume(r->c, rio_volume_cb, r);

	if (ret)
		rio_say("volume refresh not started: %s", strerror(-ret));
}

/* ---- main ---- */

static void rio_usage(void)
{
	fprintf(stderr,
		"usage: resil_io --cluster A[,B..] --volume V --ca F --cert F --key F\n"
		"       [--size BYTES] [--block-size BYTES] [--queue-depth N]\n"
		"       [--seconds S | --until-file F] [--max-seconds S]\n"
		"       [--io-timeout S] [--try-timeout S] [--ready-file F]\n"
		"       [--allow-errors] [--grow-check] [-v]\n");
	exit(2);
}

/* Bytes with an optional K, M or G suffix (powers of 1024). */
static uint64_t rio_size(const char *opt, const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (end == s || s[0] == '-')
		goto out_bad;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	else if (*end)
		goto out_bad;
	if (shift && end[1])
		goto out_bad;
	if (v > (UINT64_MAX >> shift))
		goto out_bad;
	return (uint64_t)v << shift;
out_bad:
	fprintf(stderr, "resil_io: %s: bad size '%s'\n", opt, s);
	exit(2);
}

static double rio_num(const char *opt, const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0) {
		fprintf(stderr, "resil_io: %s: bad number '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static struct rio r;
	struct session_config cfg = { 0 };
	const char *nodes[16];
	char *cluster_arg = NULL, err[512];
	struct session_stats st;

	r.size = 16u << 20;
	r.block_size = 64u << 10;
	r.qd = 8;
	r.seconds = 10;
	r.max_seconds = 240;
	cfg.io_timeout = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			r.verbose = true;
			continue;
		}
		if (!strcmp(a, "--allow-errors")) {
			r.allow_errors = true;
			continue;
		}
		if (!strcmp(a, "--grow-check")) {
			r.grow_check = true;
			continue;
		}
		if (!v)
			rio_usage();
		i++;
		if (!strcmp(a, "--cluster"))
			cluster_arg = strdup(v);
		else if (!strcmp(a, "--volume"))
			cfg.volume = v;
		else if (!strcmp(a, "--ca"))
			r.ca = v;
		else if (!strcmp(a, "--cert"))
			r.cert = v;
		else if (!strcmp(a, "--key"))
			r.key = v;
		else if (!strcmp(a, "--size"))
			r.size = rio_size(a, v);
		else if (!strcmp(a, "--block-size"))
			r.block_size = rio_size(a, v);
		else if (!strcmp(a, "--queue-depth"))
			r.qd = (unsigned)rio_num(a, v);
		else if (!strcmp(a, "--seconds"))
			r.seconds = rio_num(a, v);
		else if (!strcmp(a, "--max-seconds"))
			r.max_seconds = rio_num(a, v);
		else if (!strcmp(a, "--until-file"))
			r.until_file = v;
		else if (!strcmp(a, "--ready-file"))
			r.ready_file = v;
		else if (!strcmp(a, "--io-timeout"))
			cfg.io_timeout = rio_num(a, v);
		else if (!strcmp(a, "--try-timeout"))
			cfg.try_timeout = rio_num(a, v);
		else
			rio_usage();
	}
	if (!cluster_arg || !cfg.volume || !r.ca || r.block_size == 0 ||
	    r.block_size % RIO_SECTOR || r.size < r.block_size || r.qd == 0 ||
	    r.qd > RIO_MAX_SLOTS)
		rio_usage();
	cfg.nodes = nodes;
	for (char *tok = strtok(cluster_arg, ","); tok && cfg.n_nodes < 16;
	     tok = strtok(NULL, ","))
		nodes[cfg.n_nodes++] = tok;
	cfg.tls_ca = r.ca;
	cfg.tls_cert = r.cert;
	cfg.tls_key = r.key;
	cfg.client_name = "resil_io";
	cfg.log_fn = rio_engine_log;
	cfg.log_level = r.verbose ? LOG_INFO : LOG_WARNING;

	r.loop = ev_default_loop(0);
	r.c = nb_session_open_sync(r.loop, &cfg, err, sizeof(err));
	if (!r.c) {
		rio_say("cannot open: %s", err);
		return 1;
	}
	r.n_blocks = r.size / r.block_size;
	if (r.n_blocks * r.block_size > nb_session_volume(r.c)->size) {
		rio_say("--size is larger than the volume (%" PRIu64 " bytes)",
			nb_session_volume(r.c)->size);
		return 2;
	}
	if (r.qd > r.n_blocks)
		r.qd = (unsigned)r.n_blocks;
	r.blocks = calloc(r.n_blocks, sizeof(*r.blocks));
	if (!r.blocks)
		return 1;
	r.next_gen = (uint64_t)getpid() << 32;
	for (unsigned i = 0; i < r.qd; i++) {
		struct rio_slot *s = &r.slots[i];

		s->r = &r;
		s->buf = malloc(r.block_size);
		s->expect = malloc(r.block_size);
		if (!s->buf || !s->expect)
			return 1;
		s->iov = (struct iovec){ s->buf, r.block_size };
		s->io.done = rio_done;
	}

	ev_signal_init(&r.sighup, rio_sighup_cb, SIGHUP);
	r.sighup.data = &r;
	ev_signal_start(r.loop, &r.sighup);
	ev_signal_init(&r.sigusr1, rio_sigusr1_cb, SIGUSR1);
	r.sigusr1.data = &r;
	ev_signal_start(r.loop, &r.sigusr1);
	ev_timer_init(&r.tick, rio_tick_cb, 0.1, 0.1);
	r.tick.data = &r;
	ev_timer_start(r.loop, &r.tick);

	rio_say("ready size %" PRIu64, nb_session_volume(r.c)->size);
	if (r.ready_file) {
		FILE *f = fopen(r.ready_file, "w");

		if (f)
			fclose(f);
	}
	ev_now_update(r.loop);
	r.start = ev_now(r.loop);
	for (unsigned i = 0; i < r.qd; i++)
		rio_slot_next(&r.slots[i]);
	ev_run(r.loop, 0);

	nb_session_get_stats(r.c, &st);
	rio_say("summary writes %" PRIu64 " reads %" PRIu64 " errors %" PRIu64
		" mismatches %" PRIu64 " final_checked %" PRIu64
		" final_mismatches %" PRIu64 " unknown %" PRIu64
		" retries %" PRIu64 " reconnects %" PRIu64 " timeouts %" PRIu64
		" tls_reloads %" PRIu64,
		r.writes, r.reads, r.errors, r.mismatches, r.final_checked,
		r.final_mismatches, r.unknown, st.retries, st.reconnects,
		st.timeouts, st.tls_reloads);
	nb_session_free(r.c);
	for (unsigned i = 0; i < r.qd; i++) {
		free(r.slots[i].buf);
		free(r.slots[i].expect);
	}
	free(r.blocks);
	free(cluster_arg);
	if (r.mismatches || r.final_mismatches)
		return 1;
	if (r.errors && !r.allow_errors)
		return 1;
	return r.exit_code;
}
