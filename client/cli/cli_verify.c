/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli verify: write a self-describing pattern, read it back and
 * compare. Every 512-byte sector starts with a magic number, its own
 * volume offset and the seed, followed by pseudo-random words derived
 * from both; so data written to the wrong place, data left from an
 * earlier run (another seed) and corrupted bytes are told apart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define CLI_VERIFY_SECTOR        512u
#define CLI_VERIFY_WORDS         (CLI_VERIFY_SECTOR / 8)
#define CLI_VERIFY_MAGIC         0x4e42564552494659ull /* "NBVERIFY" */
#define CLI_VERIFY_DEFAULT_BS    (64u << 10)
#define CLI_VERIFY_DEFAULT_DEPTH 16
#define CLI_VERIFY_SHOW          8   /* mismatches printed in detail */

static const char cli_verify_help[] =
"NAME\n"
"    netblk-cli verify - write a pattern to a volume and check it reads back\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] verify [--offset N] [--size N]\n"
"               [--block-size N] [--seed S] [--queue-depth N]\n"
"               [--pass write|read|both] [--json | --format text|json]\n"
"               [--progress|--no-progress] [--progress-interval S]\n"
"\n"
"DESCRIPTION\n"
"    The write pass fills --size bytes from --offset with a pattern made\n"
"    from the seed; every 512-byte sector carries a magic number, its own\n"
"    offset and the seed, then pseudo-random bytes derived from both. The\n"
"    read pass reads the range back and compares. A mismatch is described:\n"
"    data of another offset (misplaced write), of another seed (stale data,\n"
"    lost write), not written by verify at all, or corrupted.\n"
"\n"
"    'both' (default) writes then reads. 'write' and 'read' do one pass, so\n"
"    data can be checked after a restart or a map change: run the read pass\n"
"    with the seed printed by the write pass.\n"
"\n"
"OPTIONS\n"
"    --offset N       first byte (default 0); a multiple of the volume block\n"
"                     size\n"
"    --size N         bytes to check (default: to the end of the volume)\n"
"    --block-size N   bytes per I/O (default 64K); a multiple of 512 and of\n"
"                     the volume block size\n"
"    --seed S         pattern seed (default: from the clock, printed)\n"
"    --queue-depth N  I/Os in flight (default 16)\n"
"    --pass P         write, read or both (default both)\n"
"    --json           print one JSON object at the end instead of text\n"
"                     (see OUTPUT)\n"
"    --format F       text (default) or json\n"
"    --progress       show progress: a bar on a terminal, else a line\n"
"                     every --progress-interval seconds and one at the end\n"
"                     (default: the bar on a terminal only)\n"
"    --no-progress    no progress, not even on a terminal\n"
"    --progress-interval S\n"
"                     seconds between progress lines (default 10)\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"OUTPUT\n"
"    What was checked (range, block size, seed), then 'OK', or the first\n"
"    mismatching offsets with what was found there. With --json: volume,\n"
"    offset, size, block_size, seed, pass, result (\"ok\", \"mismatch\" or\n"
"    \"error\"), write and read {bytes, ios, seconds, mb_s} for the passes\n"
"    run, sectors_checked, sectors_bad, mismatches [{offset, kind,\n"
"    detail}] (the first 8; kind: zeroes, foreign, misplaced, stale,\n"
"    corrupted) and engine {requests, retries, reconnects, timeouts,\n"
"    map_refreshes, failed_ios}.\n"
"\n"
"EXIT STATUS\n"
"    0 when everything read back as written; 1 on any mismatch or I/O\n"
"    error; 2 for a bad command line.\n";

enum {
	CLI_VOPT_OFFSET = 256,
	CLI_VOPT_SIZE,
	CLI_VOPT_BS,
	CLI_VOPT_SEED,
	CLI_VOPT_DEPTH,
	CLI_VOPT_PASS,
};

static const struct option cli_verify_opts[] = {
	{ "offset", required_argument, NULL, CLI_VOPT_OFFSET },
	{ "size", required_argument, NULL, CLI_VOPT_SIZE },
	{ "block-size", required_argument, NULL, CLI_VOPT_BS },
	{ "seed", required_argument, NULL, CLI_VOPT_SEED },
	{ "queue-depth", required_argument, NULL, CLI_VOPT_DEPTH },
	{ "pass", required_argument, NULL, CLI_VOPT_PASS },
	CLI_JSON_OPTIONS,
	CLI_PROGRESS_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct cli_verify {
	uint64_t offset, size, bs, seed, depth;
	bool has_size, has_seed, do_write, do_read;

	uint64_t pos, end;
	uint64_t ios;
	uint64_t sectors_checked, sectors_bad;
	unsigned int shown;
	struct json_object *json;       /* --json: the document; else NULL */
	struct json_object *mismatches; /* in json */
	struct cli_progress progress;
	uint64_t progress_done;         /* bytes of the passes before */
};

static int cli_verify_opt(void *opaque, int val, const char *name,
			  const char *arg)
{
	struct cli_verify *v = opaque;

	switch (val) {
	case CLI_VOPT_OFFSET:
		return nb_cli_parse_size(name, arg, &v->offset);
	case CLI_VOPT_SIZE:
		v->has_size = true;
		if (nb_cli_parse_size(name, arg, &v->size) < 0)
			return -EINVAL;
		if (v->size == 0) {
			nb_cli_err("%s must be more than 0 (0 would check nothing)",
				name);
			return -EINVAL;
		}
		return 0;
	case CLI_VOPT_BS:
		if (nb_cli_parse_size(name, arg, &v->bs) < 0)
			return -EINVAL;
		if (v->bs == 0 || v->bs % CLI_VERIFY_SECTOR || v->bs > CLI_MAX_XFER) {
			nb_cli_err("%s must be a multiple of %u up to %u bytes, got '%s'",
				name, CLI_VERIFY_SECTOR, CLI_MAX_XFER, arg);
			return -EINVAL;
		}
		return 0;
	case CLI_VOPT_SEED:
		v->has_seed = true;
		return nb_cli_parse_uint(name, arg, 0, UINT64_MAX, &v->seed);
	case CLI_VOPT_DEPTH:
		return nb_cli_parse_uint(name, arg, 1, SESSION_MAX_INFLIGHT_LIMIT,
				      &v->depth);
	case CLI_VOPT_PASS:
		if (strcmp(arg, "write") == 0) {
			v->do_write = true;
			v->do_read = false;
		} else if (strcmp(arg, "read") == 0) {
			v->do_write = false;
			v->do_read = true;
		} else if (strcmp(arg, "both") == 0) {
			v->do_write = v->do_read = true;
		} else {
			nb_cli_err("%s must be write, read or both, got '%s'", name, arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static void cli_verify_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t cli_verify_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The expected contents of the sector at volume offset off. */
static void cli_verify_fill_sector(uint8_t *p, uint64_t off, uint64_t seed)
{
	uint64_t state = seed ^ (off * 0xd6e8feb86659fd93ull);

	cli_verify_put64(p, CLI_VERIFY_MAGIC);
	cli_verify_put64(p + 8, off);
	cli_verify_put64(p + 16, seed);
	for (unsigned int w = 3; w < CLI_VERIFY_WORDS; w++)
		cli_verify_put64(p + 8 * w, nb_cli_rand_next(&state));
}

static bool cli_verify_all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void cli_verify_describe(struct cli_verify *v, const uint8_t *got,
				const uint8_t *want, uint64_t off)
{
	uint64_t magic = cli_verify_get64(got);
	uint64_t at = cli_verify_get64(got + 8);
	uint64_t seed = cli_verify_get64(got + 16);
	const char *kind;
	char detail[256];
	size_t first = 0;

	while (first < CLI_VERIFY_SECTOR && got[first] == want[first])
		first++;
	if (cli_verify_all_zero(got, CLI_VERIFY_SECTOR)) {
		kind = "zeroes";
		snprintf(detail, sizeof(detail), "sector reads as zeroes (write lost?)");
	} else if (magic != CLI_VERIFY_MAGIC) {
		kind = "foreign";
		snprintf(detail, sizeof(detail),
			 "data not written by verify (first bad byte at offset %" PRIu64 ")",
			 off + first);
	} else if (at != off) {
		kind = "misplaced";
		snprintf(detail, sizeof(detail),
			 "holds the sector written for offset %" PRIu64 "%s (misplaced data)",
			 at, seed == v->seed ? "" : " by another seed");
	} else if (seed != v->seed) {
		kind = "stale";
		snprintf(detail, sizeof(detail),
			 "stale data written with seed %" PRIu64 ", expected seed %" PRIu64,
			 seed, v->seed);
	} else {
		kind = "corrupted";
		snprintf(detail, sizeof(detail),
			 "corrupted contents (first bad byte at offset %" PRIu64 ")",
			 off + first);
	}
	if (v->json) {
		struct json_object *m = json_object_new_object();

		cli_json_add_u64(m, "offset", off);
		cli_json_add_str(m, "kind", kind);
		cli_json_add_str(m, "detail", detail);
		json_object_array_add(v->mismatches, m);
	} else {
		printf("verify: MISMATCH at offset %" PRIu64 ": %s\n", off, detail);
	}
}

static int cli_verify_next(struct cli_pipe *p, struct cli_slot *s)
{
	struct cli_verify *v = p->opaque;
	uint64_t len;

	if (v->pos >= v->end)
		return 0;
	len = v->end - v->pos;
	if (len > v->bs)
		len = v->bs;
	s->offset = v->pos;
	s->length = len;
	v->pos += len;
	v->ios++;
	if (p->op == SESSION_OP_WRITE)
		for (uint64_t o = 0; o < len; o += CLI_VERIFY_SECTOR)
			cli_verify_fill_sector(s->buf + o, s->offset + o, v->seed);
	return 1;
}

static int cli_verify_complete(struct cli_pipe *p, struct cli_slot *s)
{
	struct cli_verify *v = p->opaque;
	uint8_t want[CLI_VERIFY_SECTOR];

	if (p->op != SESSION_OP_READ)
		return 0;
	for (uint64_t o = 0; o < s->length; o += CLI_VERIFY_SECTOR) {
		uint64_t off = s->offset + o;

		cli_verify_fill_sector(want, off, v->seed);
		v->sectors_checked++;
		if (memcmp(want, s->buf + o, CLI_VERIFY_SECTOR) == 0)
			continue;
		v->sectors_bad++;
		if (v->shown < CLI_VERIFY_SHOW) {
			v->shown++;
			cli_verify_describe(v, s->buf + o, want, off);
		}
	}
	return 0;
}

static int cli_verify_pass(struct cli_ctx *ctx, struct cli_verify *v,
			   enum session_op op)
{
	struct cli_pipe p = {
		.ctx = ctx, .op = op, .depth = v->depth, .buf_size = v->bs,
		.next = cli_verify_next, .complete = cli_verify_complete,
		.opaque = v, .progress = &v->progress,
		.progress_base = v->progress_done,
	};
	const char *name = op == SESSION_OP_WRITE ? "write" : "read";
	uint64_t t0 = nb_cli_now_ns();
	double secs;
	char sz[64];
	int ret;

	v->pos = v->offset;
	v->end = v->offset + v->size;
	v->ios = 0;
	ret = cli_pipe_run(&p);
	if (ret == 0 && op == SESSION_OP_WRITE) {
		ret = cli_io_sync(ctx, SESSION_OP_FLUSH, 0, 0, NULL);
		if (ret == -EOPNOTSUPP)
			ret = 0;
		else if (ret < 0)
			cli_report_io_error(ctx, SESSION_OP_FLUSH, 0, 0, ret);
	}
	secs = (nb_cli_now_ns() - t0) / 1e9;
	v->progress_done += p.bytes;
	if (v->json) {
		struct json_object *o = json_object_new_object();

		cli_json_add_u64(o, "bytes", p.bytes);
		cli_json_add_u64(o, "ios", v->ios);
		cli_json_add_double(o, "seconds", secs);
		cli_json_add_double(o, "mb_s", secs > 0 ? p.bytes / secs / 1e6 : 0.0);
		if (ret < 0)
			cli_json_add_str(o, "error", ret == -EIO ? "I/O error" :
					 strerror(-ret));
		json_object_object_add(v->json, name, o);
		return ret;
	}
	if (ret < 0) {
		printf("verify: %s pass FAILED after %s: %s\n", name,
		       nb_cli_fmt_size(p.bytes, sz, sizeof(sz)),
		       ret == -EIO ? "I/O error" : strerror(-ret));
		return ret;
	}
	printf("verify: %s %s in %" PRIu64 " %s, %.2f s, %.1f MB/s\n",
	       op == SESSION_OP_WRITE ? "wrote" : "read back",
	       nb_cli_fmt_size(p.bytes, sz, sizeof(sz)), v->ios,
	       op == SESSION_OP_WRITE ? "writes (flushed)" : "reads",
	       secs, secs > 0 ? p.bytes / secs / 1e6 : 0.0);
	return 0;
}

int cli_cmd_verify(struct cli_common *opt, int argc, char **argv)
{
	struct cli_verify v = {
		.bs = CLI_VERIFY_DEFAULT_BS, .depth = CLI_VERIFY_DEFAULT_DEPTH,
		.do_write = true, .do_read = true,
	};
	struct cli_ctx ctx;
	uint32_t vbs;
	char sz[64];
	const char *pass, *result = "error";
	bool started = false;
	int first, ret, rc = CLI_EXIT_FAIL;

	ret = nb_cli_parse_options(opt, "verify", argc, argv, cli_verify_opts,
				cli_verify_opt, &v, cli_verify_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first < argc) {
		nb_cli_err("verify: unexpected argument '%s'", argv[first]);
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "verify", true) < 0 ||
	    nb_cli_check_buffers("verify", v.depth, v.bs) < 0)
		return CLI_EXIT_USAGE;
	if (v.do_write && opt->read_only) {
		nb_cli_err("verify: the write pass cannot run with --read-only (use --pass read)");
		return CLI_EXIT_USAGE;
	}
	if (!v.has_seed) {
		uint64_t st = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^ nb_cli_now_ns();

		v.seed = nb_cli_rand_next(&st) >> 16; /* short enough to retype */
	}

	if (cli_ctx_open(&ctx, opt, "verify", v.do_write) < 0)
		return CLI_EXIT_FAIL;
	if (v.do_write && cli_ctx_check_writable(&ctx) < 0)
		goto out_close;
	vbs = ctx.vol->block_size ? ctx.vol->block_size : 512;
	if (v.bs % vbs || v.offset % vbs || (v.has_size && v.size % vbs)) {
		nb_cli_err("verify: --offset, --size and --block-size must be multiples of the volume block size %u",
			vbs);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}
	if (v.offset % CLI_VERIFY_SECTOR) {
		nb_cli_err("verify: --offset must be a multiple of %u", CLI_VERIFY_SECTOR);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}
	if (v.offset > ctx.vol->size ||
	    (v.has_size && v.size > ctx.vol->size - v.offset)) {
		nb_cli_err("verify: --offset %" PRIu64 " --size %" PRIu64
			" reaches beyond the end of volume '%s' (%" PRIu64 " bytes)",
			v.offset, v.size, opt->volume, ctx.vol->size);
		goto out_close;
	}
	if (!v.has_size)
		v.size = ctx.vol->size - v.offset;
	if (v.size == 0) {
		nb_cli_err("verify: --offset %" PRIu64 " is the end of volume '%s': nothing to check",
			v.offset, opt->volume);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}
	if (v.size % CLI_VERIFY_SECTOR) {
		nb_cli_err("verify: --size must be a multiple of %u", CLI_VERIFY_SECTOR);
		rc = CLI_EXIT_USAGE;
		goto out_close;
	}

	pass = v.do_write && v.do_read ? "both" : v.do_write ? "write" : "read";
	if (opt->json) {
		v.json = json_object_new_object();
		v.mismatches = json_object_new_array();
		cli_json_add_str(v.json, "volume", opt->volume);
		cli_json_add_u64(v.json, "volume_size", ctx.vol->size);
		cli_json_add_u64(v.json, "offset", v.offset);
		cli_json_add_u64(v.json, "size", v.size);
		cli_json_add_u64(v.json, "block_size", v.bs);
		cli_json_add_u64(v.json, "queue_depth", v.depth);
		cli_json_add_u64(v.json, "seed", v.seed);
		cli_json_add_str(v.json, "pass", pass);
	} else {
		printf("verify: volume '%s' (%" PRIu64 " bytes, block size %u): %s from offset %" PRIu64
		       ", block size %" PRIu64 ", queue depth %" PRIu64 ", seed %" PRIu64 ", pass %s\n",
		       opt->volume, ctx.vol->size, vbs, nb_cli_fmt_size(v.size, sz, sizeof(sz)),
		       v.offset, v.bs, v.depth, v.seed, pass);
		fflush(stdout);
	}
	started = true;
	nb_cli_progress_start(&v.progress, opt, "verify",
			      v.size * (v.do_write + v.do_read));

	if (v.do_write && cli_verify_pass(&ctx, &v, SESSION_OP_WRITE) < 0) {
		result = "error";
		goto out_close;
	}
	if (v.do_read) {
		if (cli_verify_pass(&ctx, &v, SESSION_OP_READ) < 0) {
			result = "error";
			goto out_close;
		}
		if (v.sectors_bad) {
			result = "mismatch";
			if (!v.json)
				printf("verify: FAILED: %" PRIu64 " of %" PRIu64 " sectors (512 bytes) differ\n",
				       v.sectors_bad, v.sectors_checked);
			nb_cli_err("verify: data mismatch in %" PRIu64 " sectors", v.sectors_bad);
			goto out_close;
		}
		if (!v.json)
			printf("verify: OK: %" PRIu64 " sectors match (seed %" PRIu64 ")\n",
			       v.sectors_checked, v.seed);
	}
	result = "ok";
	rc = CLI_EXIT_OK;

out_close:
	if (started)
		nb_cli_progress_end(&v.progress, rc == CLI_EXIT_OK);
	if (v.json) {
		cli_json_add_str(v.json, "result", result);
		cli_json_add_u64(v.json, "sectors_checked", v.sectors_checked);
		cli_json_add_u64(v.json, "sectors_bad", v.sectors_bad);
		json_object_object_add(v.json, "mismatches", v.mismatches);
		json_object_object_add(v.json, "engine",
				       cli_json_engine_stats(&ctx));
		if (cli_json_print(v.json) < 0)
			rc = CLI_EXIT_FAIL;
	} else if (started) {
		cli_print_engine_stats(&ctx);
	}
	fflush(stdout);
	cli_ctx_close(&ctx);
	return rc;
}
