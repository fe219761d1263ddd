/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli bench: keep iodepth ios in flight for a number of seconds
 * and print IOPS, bandwidth and a latency distribution. Latencies go
 * into a fixed histogram (cli_hist.c), so memory does not grow with the
 * number of ios.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <json-c/json.h>

#include "cli.h"

static const char cli_bench_help[] =
"NAME\n"
"    netblk-cli bench - measure IOPS, bandwidth and latency of a volume\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] bench --pattern randread|randwrite|read|write\n"
"               [--bs N] [--iodepth N] [--seconds N] [--size N] [--seed S]\n"
"               [--json | --format text|json]\n"
"\n"
"DESCRIPTION\n"
"    Keeps --iodepth I/Os of --bs bytes in flight for --seconds seconds,\n"
"    within the first --size bytes of the volume, then prints the TLS\n"
"    cipher suite in use (\"bench: tls TLS_...\"), the number\n"
"    of I/Os, IOPS, MB/s (10^6 bytes) and MiB/s, and the latency mean,\n"
"    median (p50), p99, p99.9 and maximum in microseconds, measured from\n"
"    submission to completion. Random patterns pick offsets aligned to\n"
"    uniformly; sequential ones wrap around at the end of the region.\n"
"    Write patterns overwrite the region with pseudo-random data.\n"
"\n"
"OPTIONS\n"
"    --pattern P    randread, randwrite, read or write (required)\n"
"    --bs N         bytes per I/O (default 4K), a multiple of the volume\n"
"                   block size\n"
"    --iodepth N    I/Os in flight (default 32)\n"
"    --seconds N    duration (default 10)\n"
"    --size N       region to use (default: the whole volume)\n"
"    --seed S       seed of the random offsets (default 1)\n"
"    --json         print one JSON object instead of text: pattern,\n"
"                   volume, bs, iodepth, region, tls, ios, seconds, iops,\n"
"                   mb_s, mib_s, latency_us {mean, p50, p99, p99_9, max},\n"
"                   error (null or the first I/O error) and engine\n"
"                   {requests, retries, reconnects, timeouts,\n"
"                   map_refreshes, failed_ios}\n"
"    --format F     text (default) or json\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every I/O succeeded; 1 on an I/O error (the run stops at the\n"
"    first one); 2 for a bad command line.\n";

enum {
	CLI_BOPT_PATTERN = 256,
	CLI_BOPT_BS,
	CLI_BOPT_IODEPTH,
	CLI_BOPT_SECONDS,
	CLI_BOPT_SIZE,
	CLI_BOPT_SEED,
};

static const struct option cli_bench_opts[] = {
	{ "pattern", required_argument, NULL, CLI_BOPT_PATTERN },
	{ "bs", required_argument, NULL, CLI_BOPT_BS },
	{ "iodepth", required_argument, NULL, CLI_BOPT_IODEPTH },
	{ "seconds", required_argument, NULL, CLI_BOPT_SECONDS },
	{ "size", required_argument, NULL, CLI_BOPT_SIZE },
	{ "seed", required_argument, NULL, CLI_BOPT_SEED },
	CLI_JSON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct cli_bench;

struct cli_bench_slot {
	struct session_io io;
	struct iovec iov;
	uint8_t *buf;
	uint64_t t_submit;
	struct cli_bench *b;
};

struct cli_bench {
	const char *pattern;
	enum session_op op;
	bool random;
	uint64_t bs, depth, size, seed;
	double seconds;

	struct cli_ctx *ctx;
	const char *tls_suite;	/* negotiated, at the start; NULL: unknown */
	struct cli_bench_slot *slots;
	uint64_t rng;
	uint64_t cursor;
	uint32_t inflight;
	bool stop;
	int error;
	uint64_t ios, bytes;
	uint64_t t_start, t_end;
	struct cli_hist hist;
	ev_timer timer;
};

static int cli_bench_opt(void *opaque, int val, const char *name,
			 const char *arg)
{
	struct cli_bench *b = opaque;

	switch (val) {
	case CLI_BOPT_PATTERN:
		b->pattern = arg;
		if (strcmp(arg, "randread") == 0) {
			b->op = SESSION_OP_READ;
			b->random = true;
		} else if (strcmp(arg, "randwrite") == 0) {
			b->op = SESSION_OP_WRITE;
			b->random = true;
		} else if (strcmp(arg, "read") == 0) {
			b->op = SESSION_OP_READ;
			b->random = false;
		} else if (strcmp(arg, "write") == 0) {
			b->op = SESSION_OP_WRITE;
			b->random = false;
		} else {
			nb_cli_err("%s must be randread, randwrite, read or write, got '%s'",
				name, arg);
			return -EINVAL;
		}
		return 0;
	case CLI_BOPT_BS:
		if (nb_cli_parse_size(name, arg, &b->bs) < 0)
			return -EINVAL;
		if (b->bs == 0 || b->bs > CLI_MAX_XFER) {
			nb_cli_err("%s must be between 1 and %u bytes", name, CLI_MAX_XFER);
			return -EINVAL;
		}
		return 0;
	case CLI_BOPT_IODEPTH:
		return nb_cli_parse_uint(name, arg, 1, SESSION_MAX_INFLIGHT_LIMIT,
				      &b->depth);
	case CLI_BOPT_SECONDS:
		if (nb_cli_parse_seconds(name, arg, &b->seconds) < 0)
			return -EINVAL;
		if (b->seconds <= 0) {
			nb_cli_err("%s must be more than 0", name);
			return -EINVAL;
		}
		return 0;
	case CLI_BOPT_SIZE:
		return nb_cli_parse_size(name, arg, &b->size);
	case CLI_BOPT_SEED:
		return nb_cli_parse_uint(name, arg, 0, UINT64_MAX, &b->seed);
	}
	return -EINVAL;
}

static void cli_bench_done(struct session_io *io, int result);

static uint64_t cli_bench_offset(struct cli_bench *b)
{
	uint64_t blocks = b->size / b->bs, off;

	if (b->random)
		return nb_cli_rand_next(&b->rng) % blocks * b->bs;
	off = b->cursor;
	b->cursor += b->bs;
	if (b->cursor + b->bs > b->size)
		b->cursor = 0;
	return off;
}

static int cli_bench_submit(struct cli_bench *b, struct cli_bench_slot *s)
{
	int ret;

	memset(&s->io, 0, sizeof(s->io));
	s->iov.iov_base = s->buf;
	s->iov.iov_len = b->bs;
	s->io.op = b->op;
	s->io.offset = cli_bench_offset(b);
	s->io.length = b->bs;
	s->io.iov = &s->iov;
	s->io.iovcnt = 1;
	s->io.done = cli_bench_done;
	s->io.opaque = s;
	s->t_submit = nb_cli_now_ns();
	ret = nb_session_submit(b->ctx->cluster, &s->io);
	if (ret < 0) {
		cli_report_io_error(b->ctx, b->op, s->io.offset, b->bs, ret);
		return ret;
	}
	b->inflight++;
	return 0;
}

static void cli_bench_done(struct session_io *io, int result)
{
	struct cli_bench_slot *s = io->opaque;
	struct cli_bench *b = s->b;
	uint64_t now = nb_cli_now_ns();

	b->inflight--;
	if (result < 0) {
		if (!b->error)
			cli_report_io_error(b->ctx, b->op, io->offset, io->length,
					    result);
		b->error = b->error ? b->error : result;
		b->stop = true;
	} else {
		nb_cli_hist_add(&b->hist, now - s->t_submit);
		b->ios++;
		b->bytes += io->length;
		b->t_end = now;
	}
	if (!b->stop && cli_bench_submit(b, s) < 0) {
		b->error = -EIO;
		b->stop = true;
	}
	if (b->inflight == 0)
		ev_break(b->ctx->loop, EVBREAK_ONE);
}

static void cli_bench_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cli_bench *b = w->data;

	b->stop = true;
}

static void cli_bench_report(const struct cli_bench *b, const char *volume)
{
	double secs = (b->t_end - b->t_start) / 1e9;
	const struct cli_hist *h = &b->hist;

	if (secs <= 0)
		secs = 1e-9;
	printf("bench: %s, volume '%s', bs %" PRIu64 ", iodepth %" PRIu64
	       ", region %" PRIu64 " bytes\n",
	       b->pattern, volume, b->bs, b->depth, b->size);
	printf("bench: tls %s\n", b->tls_suite ? b->tls_suite : "unknown");
	printf("bench: %" PRIu64 " I/Os in %.2f s: %.0f IOPS, %.1f MB/s (%.1f MiB/s)\n",
	       b->ios, secs, b->ios / secs, b->bytes / secs / 1e6,
	       b->bytes / secs / 1048576.0);
	printf("bench: latency us: mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	       h->n ? (double)h->sum / h->n / 1e3 : 0.0,
	       nb_cli_hist_quantile(h, 0.50) / 1e3,
	       nb_cli_hist_quantile(h, 0.99) / 1e3,
	       nb_cli_hist_quantile(h, 0.999) / 1e3,
	       h->max / 1e3);
}

static int cli_bench_json(const struct cli_bench *b, const char *volume)
{
	double secs = (b->t_end - b->t_start) / 1e9;
	const struct cli_hist *h = &b->hist;
	struct json_object *o = json_object_new_object();
	struct json_object *lat = json_object_new_object();

	if (secs <= 0)
		secs = 1e-9;
	cli_json_add_str(o, "pattern", b->pattern);
	cli_json_add_str(o, "volume", volume);
	cli_json_add_u64(o, "bs", b->bs);
	cli_json_add_u64(o, "iodepth", b->depth);
	cli_json_add_u64(o, "region", b->size);
	cli_json_add_str(o, "tls", b->tls_suite);
	cli_json_add_u64(o, "ios", b->ios);
	cli_json_add_u64(o, "bytes", b->bytes);
	cli_json_add_double(o, "seconds", secs);
	cli_json_add_double(o, "iops", b->ios / secs);
	cli_json_add_double(o, "mb_s", b->bytes / secs / 1e6);
	cli_json_add_double(o, "mib_s", b->bytes / secs / 1048576.0);
	cli_json_add_double(lat, "mean", h->n ? (double)h->sum / h->n / 1e3 : 0.0);
	cli_json_add_double(lat, "p50", nb_cli_hist_quantile(h, 0.50) / 1e3);
	cli_json_add_double(lat, "p99", nb_cli_hist_quantile(h, 0.99) / 1e3);
	cli_json_add_double(lat, "p99_9", nb_cli_hist_quantile(h, 0.999) / 1e3);
	cli_json_add_double(lat, "max", h->max / 1e3);
	json_object_object_add(o, "latency_us", lat);
	cli_json_add_str(o, "error", b->error ? (b->error == -EIO ? "I/O error" :
				strerror(-b->error)) : NULL);
	json_object_object_add(o, "engine", cli_json_engine_stats(b->ctx));
	return cli_json_print(o);
}

int cli_cmd_bench(struct cli_common *opt, int argc, char **argv)
{
	struct cli_bench *b;
	struct cli_ctx ctx;
	uint32_t vbs;
	int first, ret, rc = CLI_EXIT_FAIL;

	b = calloc(1, sizeof(*b));
	if (!b) {
		nb_cli_err("bench: out of memory");
		return CLI_EXIT_FAIL;
	}
	b->bs = 4096;
	b->depth = 32;
	b->seconds = 10;
	b->seed = 1;
	ret = nb_cli_parse_options(opt, "bench", argc, argv, cli_bench_opts,
				cli_bench_opt, b, cli_bench_help, &first);
	if (ret) {
		rc = ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		goto out_free_bench;
	}
	rc = CLI_EXIT_USAGE;
	if (first < argc) {
		nb_cli_err("bench: unexpected argument '%s'", argv[first]);
		goto out_free_bench;
	}
	if (!b->pattern) {
		nb_cli_err("bench: missing --pattern randread|randwrite|read|write");
		goto out_free_bench;
	}
	if (nb_cli_require_common(opt, "bench", true) < 0 ||
	    nb_cli_check_buffers("bench", b->depth, b->bs) < 0)
		goto out_free_bench;
	if (b->op == SESSION_OP_WRITE && opt->read_only) {
		nb_cli_err("bench: --pattern %s cannot run with --read-only", b->pattern);
		goto out_free_bench;
	}

	rc = CLI_EXIT_FAIL;
	if (cli_ctx_open(&ctx, opt, "bench", b->op == SESSION_OP_WRITE) < 0)
		goto out_free_bench;
	if (b->op == SESSION_OP_WRITE && cli_ctx_check_writable(&ctx) < 0)
		goto out_close;
	vbs = ctx.vol->block_size ? ctx.vol->block_size : 512;
	if (!b->size || b->size > ctx.vol->size)
		b->size = ctx.vol->size;
	if (b->bs % vbs) {
		nb_cli_err("bench: --bs %" PRIu64 " is not a multiple of the volume block size %u",
			b->bs, vbs);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}
	if (b->size < b->bs) {
		nb_cli_err("bench: the region (%" PRIu64 " bytes) is smaller than --bs", b->size);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}
	b->size -= b->size % b->bs;

	b->ctx = &ctx;
	b->tls_suite = nb_session_tls_suite(ctx.cluster);
	b->rng = b->seed;
	b->slots = calloc(b->depth, sizeof(*b->slots));
	if (!b->slots)
		goto out_close;
	for (uint64_t i = 0; i < b->depth; i++) {
		struct cli_bench_slot *s = &b->slots[i];

		s->b = b;
		s->buf = nb_cli_buf_alloc(b->bs);
		if (!s->buf) {
			nb_cli_err("bench: out of memory");
			goto out_free_slots;
		}
		for (uint64_t o = 0; o + 8 <= b->bs; o += 8) {
			uint64_t r = nb_cli_rand_next(&b->rng);

			memcpy(s->buf + o, &r, 8);
		}
	}

	ev_timer_init(&b->timer, cli_bench_timer_cb, b->seconds, 0);
	b->timer.data = b;
	ev_timer_start(ctx.loop, &b->timer);
	b->t_start = b->t_end = nb_cli_now_ns();
	for (uint64_t i = 0; i < b->depth && !b->stop; i++)
		if (cli_bench_submit(b, &b->slots[i]) < 0) {
			b->error = -EIO;
			b->stop = true;
		}
	while (b->inflight > 0)
		ev_run(ctx.loop, 0);
	ev_timer_stop(ctx.loop, &b->timer);

	if (opt->json) {
		if (cli_bench_json(b, opt->volume) < 0 && !b->error)
			b->error = -EIO;
	} else {
		cli_bench_report(b, opt->volume);
		cli_print_engine_stats(&ctx);
	}
	if (b->error)
		nb_cli_err("bench: stopped by an I/O error after %" PRIu64 " I/Os", b->ios);
	else
		rc = CLI_EXIT_OK;

out_free_slots:
	for (uint64_t i = 0; i < b->depth; i++)
		free(b->slots[i].buf);
	free(b->slots);
out_close:
	cli_ctx_close(&ctx);
out_free_bench:
	free(b);
	return rc;
}
