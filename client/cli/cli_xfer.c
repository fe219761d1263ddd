/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli import / export: copy between a file (or stdin/stdout) and
 * the volume, pipelined at a queue depth. Offsets and lengths are bytes;
 * partial blocks at either end of an import are read, modified and
 * written back so that the bytes around them are kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CLI_XFER_DEFAULT_BS    (256u << 10)
#define CLI_XFER_DEFAULT_DEPTH 16

static const char cli_import_help[] =
"NAME\n"
"    netblk-cli import - copy a file into a volume\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] import [--offset N] [--block-size N]\n"
"               [--queue-depth N] [--no-sparse] [--progress|--no-progress]\n"
"               [--progress-interval S] FILE\n"
"\n"
"DESCRIPTION\n"
"    Writes the bytes of FILE ('-' reads standard input) into the volume,\n"
"    starting at --offset (default 0), with up to --queue-depth writes of\n"
"    --block-size bytes in flight. Offset and file size need not be\n"
"    multiples of the volume's block size: a partial block at either end is\n"
"    read, updated and written back. The rest of the volume is untouched.\n"
"    The data is flushed before the command returns.\n"
"\n"
"    Holes of FILE (found with SEEK_DATA and SEEK_HOLE) are not read: each\n"
"    becomes WRITE_ZEROES requests with UNMAP (the node may deallocate),\n"
"    up to the volume's largest WRITE_ZEROES each, and a block of data that\n"
"    is all zeroes is sent as a WRITE_ZEROES instead of a WRITE. A volume\n"
"    without WRITE_ZEROES gets WRITEs of zeroes.\n"
"\n"
"OPTIONS\n"
"    --offset N       first byte of the volume to write (default 0)\n"
"    --block-size N   bytes per write, a multiple of the volume block size\n"
"                     (default 256K)\n"
"    --queue-depth N  writes in flight (default 16)\n"
"    --no-sparse      write holes and zero blocks as data, like any other\n"
"    --progress       show progress: a bar on a terminal, else a line\n"
"                     every --progress-interval seconds and one at the end\n"
"                     (default: the bar on a terminal only)\n"
"    --no-progress    no progress, not even on a terminal\n"
"    --progress-interval S\n"
"                     seconds between progress lines (default 10)\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every byte was written and flushed; 1 on an I/O error, when\n"
"    FILE does not fit in the volume, or FILE cannot be read; 2 for a bad\n"
"    command line.\n";

static const char cli_export_help[] =
"NAME\n"
"    netblk-cli export - copy a volume into a file\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] export [--offset N] [--length N]\n"
"               [--block-size N] [--queue-depth N] [--no-sparse]\n"
"               [--progress|--no-progress] [--progress-interval S] FILE\n"
"\n"
"DESCRIPTION\n"
"    Reads --length bytes (default: up to the end of the volume) from\n"
"    --offset (default 0) and writes them, in order, to FILE ('-' writes\n"
"    standard output), with up to --queue-depth reads in flight. FILE is\n"
"    created or truncated. Offset and length may be any byte counts.\n"
"\n"
"    A FILE that is a regular file is written sparse: blocks of zeroes are\n"
"    not written (they stay holes) and the file is truncated to its size at\n"
"    the end. Standard output and other files get every byte.\n"
"\n"
"OPTIONS\n"
"    --offset N       first byte to read (default 0)\n"
"    --length N       bytes to read (default: to the end of the volume)\n"
"    --block-size N   bytes per read, a multiple of the volume block size\n"
"                     (default 256K)\n"
"    --queue-depth N  reads in flight (default 16)\n"
"    --no-sparse      write the zero blocks too (a fully allocated file)\n"
"    --progress       show progress: a bar on a terminal, else a line\n"
"                     every --progress-interval seconds and one at the end\n"
"                     (default: the bar on a terminal only)\n"
"    --no-progress    no progress, not even on a terminal\n"
"    --progress-interval S\n"
"                     seconds between progress lines (default 10)\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every byte was read and written out; 1 on an I/O error or a\n"
"    range beyond the end of the volume; 2 for a bad command line.\n";

enum {
	CLI_XOPT_OFFSET = 256,
	CLI_XOPT_LENGTH,
	CLI_XOPT_BS,
	CLI_XOPT_DEPTH,
	CLI_XOPT_NO_SPARSE,
};

static const struct option cli_import_opts[] = {
	{ "offset", required_argument, NULL, CLI_XOPT_OFFSET },
	{ "block-size", required_argument, NULL, CLI_XOPT_BS },
	{ "queue-depth", required_argument, NULL, CLI_XOPT_DEPTH },
	{ "no-sparse", no_argument, NULL, CLI_XOPT_NO_SPARSE },
	CLI_PROGRESS_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static const struct option cli_export_opts[] = {
	{ "offset", required_argument, NULL, CLI_XOPT_OFFSET },
	{ "length", required_argument, NULL, CLI_XOPT_LENGTH },
	{ "block-size", required_argument, NULL, CLI_XOPT_BS },
	{ "queue-depth", required_argument, NULL, CLI_XOPT_DEPTH },
	{ "no-sparse", no_argument, NULL, CLI_XOPT_NO_SPARSE },
	CLI_PROGRESS_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct cli_xfer {
	uint64_t offset;
	uint64_t length;
	bool has_length;
	uint64_t bs;
	uint64_t depth;

	const char *path;
	int fd;
	uint64_t pos;        /* next volume offset */
	uint64_t end;        /* export: aligned end; import: volume size */
	bool eof;
	uint8_t *tail;       /* import: trailing partial block data */
	uint64_t tail_off, tail_len;
	uint32_t vbs;        /* volume block size */
	bool no_sparse;      /* --no-sparse */
	bool seekable;       /* a regular file: pread, SEEK_DATA/SEEK_HOLE */
	uint64_t fpos;       /* import: next byte of the file */
	uint64_t fend;       /* import: size of a regular file */
	uint32_t max_zeroes; /* import: largest WRITE_ZEROES; 0: none */
	uint64_t zero_bytes, hole_bytes, zero_ios, data_ios; /* counted */
	struct cli_progress progress;
};

static int cli_xfer_opt(void *opaque, int val, const char *name,
			const char *arg)
{
	struct cli_xfer *x = opaque;

	switch (val) {
	case CLI_XOPT_OFFSET:
		return nb_cli_parse_size(name, arg, &x->offset);
	case CLI_XOPT_LENGTH:
		x->has_length = true;
		return nb_cli_parse_size(name, arg, &x->length);
	case CLI_XOPT_BS:
		if (nb_cli_parse_size(name, arg, &x->bs) < 0)
			return -EINVAL;
		if (x->bs == 0 || x->bs > CLI_MAX_XFER) {
			nb_cli_err("%s must be between 1 and %u bytes", name,
				CLI_MAX_XFER);
			return -EINVAL;
		}
		return 0;
	case CLI_XOPT_DEPTH:
		return nb_cli_parse_uint(name, arg, 1, SESSION_MAX_INFLIGHT_LIMIT,
				      &x->depth);
	case CLI_XOPT_NO_SPARSE:
		x->no_sparse = true;
		return 0;
	}
	return -EINVAL;
}

/* Read up to len bytes; short only at end of file. */
static ssize_t cli_read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

/* The next len bytes of the input (pread on a regular file, which
 * SEEK_DATA moves around in); short only at end of file. */
static ssize_t cli_xfer_read(struct cli_xfer *x, uint8_t *buf, size_t len)
{
	size_t got = 0;

	if (!x->seekable) {
		ssize_t n = cli_read_full(x->fd, buf, len);

		if (n > 0)
			x->fpos += n;
		return n;
	}
	while (got < len) {
		ssize_t n = pread(x->fd, buf + got, len - got, x->fpos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += n;
		x->fpos += n;
	}
	return got;
}

/*
 * Where the hole at x->fpos ends (the next data, or the end of the file),
 * or x->fpos when x->fpos is in data or the file system cannot say.
 */
static uint64_t cli_xfer_hole_end(const struct cli_xfer *x)
{
	off_t data = lseek(x->fd, (off_t)x->fpos, SEEK_DATA);

	if (data < 0)
		return errno == ENXIO ? x->fend : x->fpos;
	return (uint64_t)data > x->fend ? x->fend : (uint64_t)data;
}

/* Where the data at x->fpos ends (the next hole or the end of file). */
static uint64_t cli_xfer_data_end(const struct cli_xfer *x)
{
	off_t hole = lseek(x->fd, (off_t)x->fpos, SEEK_HOLE);

	if (hole < 0 || (uint64_t)hole > x->fend)
		return x->fend;
	return (uint64_t)hole;
}

static int cli_write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static int cli_xfer_check_bs(struct cli_ctx *ctx, struct cli_xfer *x)
{
	x->vbs = ctx->vol->block_size ? ctx->vol->block_size : 512;
	if (x->bs % x->vbs) {
		nb_cli_err("%s: --block-size %" PRIu64 " is not a multiple of the volume block size %u",
			ctx->cmd, x->bs, x->vbs);
		return -EINVAL;
	}
	return 0;
}

/*
 * Read-modify-write of one volume block at boff: data replaces len bytes
 * starting skip bytes into the block.
 */
static int cli_import_partial(struct cli_ctx *ctx, struct cli_xfer *x,
			      uint64_t boff, uint64_t skip,
			      const uint8_t *data, uint64_t len)
{
	uint8_t *blk;
	int ret;

	blk = nb_cli_buf_alloc(x->vbs);
	if (!blk)
		return -ENOMEM;
	ret = cli_io_sync(ctx, SESSION_OP_READ, boff, x->vbs, blk);
	if (ret < 0) {
		cli_report_io_error(ctx, SESSION_OP_READ, boff, x->vbs, ret);
		goto out_free;
	}
	memcpy(blk + skip, data, len);
	ret = cli_io_sync(ctx, SESSION_OP_WRITE, boff, x->vbs, blk);
	if (ret < 0)
		cli_report_io_error(ctx, SESSION_OP_WRITE, boff, x->vbs, ret);
out_free:
	free(blk);
	return ret;
}

static int cli_import_fits(const struct cli_xfer *x, uint64_t len)
{
	if (x->pos + len <= x->end)
		return 0;
	nb_cli_err("import: '%s' does not fit: the volume ends at %" PRIu64
		" bytes, the data would reach beyond it (offset %" PRIu64 ")",
		x->path, x->end, x->pos + len);
	return -EFBIG;
}

/* A hole of the file at x->fpos, at least one volume block: WRITE_ZEROES
 * without reading it. Returns 1 with s set up, or 0 (not in a hole). */
static int cli_import_hole(struct cli_xfer *x, struct cli_slot *s)
{
	uint64_t end = cli_xfer_hole_end(x), len;

	if (end <= x->fpos)
		return 0;
	len = end - x->fpos;
	if (len > x->max_zeroes)
		len = x->max_zeroes;
	len -= len % x->vbs;
	if (!len)
		return 0;
	s->op = SESSION_OP_WRITE_ZEROES;
	s->flags = SESSION_FLAG_UNMAP;
	s->offset = x->pos;
	s->length = len;
	x->pos += len;
	x->fpos += len;
	x->hole_bytes += len;
	x->zero_bytes += len;
	x->zero_ios++;
	return 1;
}

static int cli_import_next(struct cli_pipe *p, struct cli_slot *s)
{
	struct cli_xfer *x = p->opaque;
	uint64_t aligned, rem, want = x->bs;
	ssize_t n;
	int ret;

	if (x->eof)
		return 0;
	if (x->seekable && x->max_zeroes && x->fpos < x->fend &&
	    x->fend - x->fpos >= x->vbs) {
		uint64_t data_end;

		ret = cli_import_hole(x, s);
		if (ret) {
			ret = cli_import_fits(x, 0);
			return ret < 0 ? ret : 1;
		}
		/* read up to the next hole, so that it is skipped */
		data_end = cli_xfer_data_end(x);
		if (data_end - x->fpos < want &&
		    data_end - x->fpos >= x->vbs)
			want = (data_end - x->fpos) - (data_end - x->fpos) % x->vbs;
	}
	n = cli_xfer_read(x, s->buf, want);
	if (n < 0) {
		nb_cli_err("import: cannot read '%s': %s", x->path, strerror((int)-n));
		return (int)n;
	}
	if ((uint64_t)n < want)
		x->eof = true;
	ret = cli_import_fits(x, n);
	if (ret < 0)
		return ret;
	rem = (uint64_t)n % x->vbs;
	aligned = (uint64_t)n - rem;
	if (rem) {
		/* Only the last read of the input can be short. */
		memcpy(x->tail, s->buf + aligned, rem);
		x->tail_off = x->pos + aligned;
		x->tail_len = rem;
	}
	s->offset = x->pos;
	s->length = aligned;
	x->pos += n;
	if (!aligned)
		return 0;
	if (x->max_zeroes >= aligned && nb_cli_all_zero(s->buf, aligned)) {
		s->op = SESSION_OP_WRITE_ZEROES;
		s->flags = SESSION_FLAG_UNMAP;
		x->zero_bytes += aligned;
		x->zero_ios++;
	} else {
		x->data_ios++;
	}
	return 1;
}

static int cli_xfer_open_input(struct cli_xfer *x, const char *path)
{
	struct stat st;

	x->path = strcmp(path, "-") == 0 ? "standard input" : path;
	x->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0) {
		nb_cli_err("import: cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(x->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		x->length = st.st_size;
		x->has_length = true;
		/* pread from where the file offset is (stdin may be a file) */
		off_t at = lseek(x->fd, 0, SEEK_CUR);

		if (at >= 0 && (uint64_t)at <= x->length) {
			x->seekable = true;
			x->fpos = at;
			x->fend = x->length;
			x->length -= at;
		}
	}
	return 0;
}

int cli_cmd_import(struct cli_common *opt, int argc, char **argv)
{
	struct cli_xfer x = { .bs = CLI_XFER_DEFAULT_BS,
			      .depth = CLI_XFER_DEFAULT_DEPTH, .fd = -1 };
	struct cli_pipe p = { 0 };
	struct cli_ctx ctx;
	char sz[64];
	int first, ret, rc = CLI_EXIT_FAIL;

	ret = nb_cli_parse_options(opt, "import", argc, argv, cli_import_opts,
				cli_xfer_opt, &x, cli_import_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc - 1) {
		nb_cli_err("import: %s FILE (use '-' for standard input)",
			first >= argc ? "missing" : "expected exactly one");
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "import", true) < 0 ||
	    nb_cli_check_buffers("import", x.depth, x.bs) < 0)
		return CLI_EXIT_USAGE;
	if (opt->read_only) {
		nb_cli_err("import: cannot write with --read-only");
		return CLI_EXIT_USAGE;
	}
	if (cli_xfer_open_input(&x, argv[first]) < 0)
		return CLI_EXIT_FAIL;
	if (cli_ctx_open(&ctx, opt, "import", true) < 0)
		goto out_close_fd;
	if (cli_xfer_check_bs(&ctx, &x) < 0) {
		rc = CLI_EXIT_USAGE;
		goto out_close_ctx;
	}
	if (cli_ctx_check_writable(&ctx) < 0)
		goto out_close_ctx;
	x.end = ctx.vol->size;
	if (x.offset > x.end || (x.has_length && x.length > x.end - x.offset)) {
		nb_cli_err("import: %s (%" PRIu64 " bytes) at offset %" PRIu64
			" does not fit in volume '%s' of %" PRIu64 " bytes",
			x.path, x.length, x.offset, opt->volume, x.end);
		goto out_close_ctx;
	}
	x.tail = nb_cli_buf_alloc(x.vbs);
	if (!x.tail)
		goto out_close_ctx;
	x.pos = x.offset;
	if (!x.no_sparse)
		x.max_zeroes = ctx.vol->max_write_zeroes_size -
			       ctx.vol->max_write_zeroes_size % x.vbs;
	nb_cli_progress_start(&x.progress, opt, "import",
			      x.has_length ? x.length : 0);

	/* Leading partial block. */
	if (x.pos % x.vbs) {
		uint64_t skip = x.pos % x.vbs;
		uint64_t want = x.vbs - skip;
		ssize_t n;

		n = cli_xfer_read(&x, x.tail, want);
		if (n < 0) {
			nb_cli_err("import: cannot read '%s': %s", x.path,
				strerror((int)-n));
			goto out_free_tail;
		}
		if (x.pos + (uint64_t)n > x.end) {
			nb_cli_err("import: '%s' does not fit in the volume", x.path);
			goto out_free_tail;
		}
		if (n > 0 && cli_import_partial(&ctx, &x, x.pos - skip, skip,
						x.tail, n) < 0)
			goto out_free_tail;
		x.pos += n;
		if ((uint64_t)n < want)
			x.eof = true;
	}

	p.ctx = &ctx;
	p.op = SESSION_OP_WRITE;
	p.depth = x.depth;
	p.buf_size = x.bs;
	p.next = cli_import_next;
	p.opaque = &x;
	p.progress = &x.progress;
	p.progress_base = x.pos - x.offset;
	if (cli_pipe_run(&p) < 0) {
		nb_cli_progress_end(&x.progress, false);
		goto out_free_tail;
	}

	/* Trailing partial block. */
	if (x.tail_len &&
	    cli_import_partial(&ctx, &x, x.tail_off, 0, x.tail, x.tail_len) < 0)
		goto out_free_tail;

	ret = cli_io_sync(&ctx, SESSION_OP_FLUSH, 0, 0, NULL);
	if (ret < 0 && ret != -EOPNOTSUPP) {
		cli_report_io_error(&ctx, SESSION_OP_FLUSH, 0, 0, ret);
		nb_cli_progress_end(&x.progress, false);
		goto out_free_tail;
	}
	x.progress.done = x.pos - x.offset;
	nb_cli_progress_end(&x.progress, true);
	printf("import: wrote %s from %s to volume '%s' at offset %" PRIu64
	       ": %" PRIu64 " WRITEs, %" PRIu64 " WRITE_ZEROES (%" PRIu64
	       " bytes of zeroes, %" PRIu64 " of them holes not read)\n",
	       nb_cli_fmt_size(x.pos - x.offset, sz, sizeof(sz)), x.path,
	       opt->volume, x.offset, x.data_ios, x.zero_ios, x.zero_bytes,
	       x.hole_bytes);
	rc = CLI_EXIT_OK;

out_free_tail:
	free(x.tail);
out_close_ctx:
	cli_ctx_close(&ctx);
out_close_fd:
	if (x.fd > STDIN_FILENO)
		close(x.fd);
	return rc;
}

static int cli_export_next(struct cli_pipe *p, struct cli_slot *s)
{
	struct cli_xfer *x = p->opaque;
	uint64_t len;

	if (x->pos >= x->end)
		return 0;
	len = x->end - x->pos;
	if (len > x->bs)
		len = x->bs;
	s->offset = x->pos;
	s->length = len;
	x->pos += len;
	return 1;
}

/* pwrite all of buf at off. */
static int cli_pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Write len bytes at file offset off, leaving out the blocks (aligned to
 * the volume block size in the file) that are all zeroes: the file was
 * created empty, so they stay holes. Runs of data go out in one pwrite.
 */
static int cli_export_sparse(struct cli_xfer *x, const uint8_t *buf,
			     uint64_t len, uint64_t off)
{
	uint64_t i = 0, run = 0;	/* run: start of pending data */
	bool in_data = false;

	while (i < len) {
		uint64_t blk = x->vbs - (off + i) % x->vbs;
		bool zero;

		if (blk > len - i)
			blk = len - i;
		zero = nb_cli_all_zero(buf + i, blk);
		if (zero)
			x->hole_bytes += blk;
		if (zero && in_data) {
			int ret = cli_pwrite_full(x->fd, buf + run, i - run,
						  off + run);

			if (ret < 0)
				return ret;
			in_data = false;
		} else if (!zero && !in_data) {
			run = i;
			in_data = true;
		}
		i += blk;
	}
	return in_data ? cli_pwrite_full(x->fd, buf + run, len - run, off + run) : 0;
}

static int cli_export_complete(struct cli_pipe *p, struct cli_slot *s)
{
	struct cli_xfer *x = p->opaque;
	uint64_t lo = s->offset, hi = s->offset + s->length;
	int ret;

	if (lo < x->offset)
		lo = x->offset;
	if (hi > x->offset + x->length)
		hi = x->offset + x->length;
	if (hi <= lo)
		return 0;
	if (x->seekable)
		ret = cli_export_sparse(x, s->buf + (lo - s->offset), hi - lo,
					lo - x->offset);
	else
		ret = cli_write_full(x->fd, s->buf + (lo - s->offset), hi - lo);
	if (ret < 0)
		nb_cli_err("export: cannot write '%s': %s", x->path, strerror(-ret));
	return ret;
}

int cli_cmd_export(struct cli_common *opt, int argc, char **argv)
{
	struct cli_xfer x = { .bs = CLI_XFER_DEFAULT_BS,
			      .depth = CLI_XFER_DEFAULT_DEPTH, .fd = -1 };
	struct cli_pipe p = { 0 };
	struct cli_ctx ctx;
	bool to_stdout;
	char sz[64];
	int first, ret, rc = CLI_EXIT_FAIL;

	ret = nb_cli_parse_options(opt, "export", argc, argv, cli_export_opts,
				cli_xfer_opt, &x, cli_export_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc - 1) {
		nb_cli_err("export: %s FILE (use '-' for standard output)",
			first >= argc ? "missing" : "expected exactly one");
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "export", true) < 0 ||
	    nb_cli_check_buffers("export", x.depth, x.bs) < 0)
		return CLI_EXIT_USAGE;
	if (cli_ctx_open(&ctx, opt, "export", false) < 0)
		return CLI_EXIT_FAIL;
	if (cli_xfer_check_bs(&ctx, &x) < 0) {
		rc = CLI_EXIT_USAGE;
		goto out_close_ctx;
	}
	if (x.offset > ctx.vol->size) {
		nb_cli_err("export: --offset %" PRIu64 " is beyond the end of volume '%s' (%" PRIu64 " bytes)",
			x.offset, opt->volume, ctx.vol->size);
		goto out_close_ctx;
	}
	if (!x.has_length)
		x.length = ctx.vol->size - x.offset;
	if (x.length > ctx.vol->size - x.offset) {
		nb_cli_err("export: --offset %" PRIu64 " --length %" PRIu64
			" reaches beyond the end of volume '%s' (%" PRIu64 " bytes)",
			x.offset, x.length, opt->volume, ctx.vol->size);
		goto out_close_ctx;
	}

	to_stdout = strcmp(argv[first], "-") == 0;
	x.path = to_stdout ? "standard output" : argv[first];
	x.fd = to_stdout ? STDOUT_FILENO :
	       open(argv[first], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (x.fd < 0) {
		nb_cli_err("export: cannot create '%s': %s", argv[first],
			strerror(errno));
		goto out_close_ctx;
	}
	if (!x.no_sparse) {
		struct stat st;

		/* only a regular file we just truncated (so: all holes) */
		x.seekable = !to_stdout && fstat(x.fd, &st) == 0 &&
			     S_ISREG(st.st_mode) && st.st_size == 0;
	}
	nb_cli_progress_start(&x.progress, opt, "export", x.length);

	x.pos = x.offset - x.offset % x.vbs;
	x.end = x.offset + x.length;
	if (x.end % x.vbs)
		x.end += x.vbs - x.end % x.vbs;
	if (x.end > ctx.vol->size)
		x.end = ctx.vol->size;

	p.ctx = &ctx;
	p.op = SESSION_OP_READ;
	p.depth = x.depth;
	p.buf_size = x.bs;
	p.next = cli_export_next;
	p.complete = cli_export_complete;
	p.opaque = &x;
	p.progress = &x.progress;
	if (x.length && cli_pipe_run(&p) < 0) {
		nb_cli_progress_end(&x.progress, false);
		goto out_close_fd;
	}
	/* the size, whatever holes the end has */
	if (x.seekable && ftruncate(x.fd, (off_t)x.length) < 0) {
		nb_cli_err("export: cannot set the size of '%s': %s", x.path,
			strerror(errno));
		goto out_close_fd;
	}
	if (!to_stdout && close(x.fd) < 0) {
		x.fd = -1;
		nb_cli_err("export: cannot write '%s': %s", x.path, strerror(errno));
		goto out_close_fd;
	}
	if (!to_stdout)
		x.fd = -1;
	x.progress.done = x.length;
	nb_cli_progress_end(&x.progress, true);
	fprintf(to_stdout ? stderr : stdout,
		"export: read %s from volume '%s' at offset %" PRIu64 " into %s",
		nb_cli_fmt_size(x.length, sz, sizeof(sz)), opt->volume, x.offset,
		x.path);
	if (x.seekable)
		fprintf(stdout, " (sparse: %" PRIu64 " bytes of zeroes left as holes)",
			x.hole_bytes);
	fputc('\n', to_stdout ? stderr : stdout);
	rc = CLI_EXIT_OK;

out_close_fd:
	if (x.fd > STDERR_FILENO)
		close(x.fd);
out_close_ctx:
	cli_ctx_close(&ctx);
	return rc;
}
