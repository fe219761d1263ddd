/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli internals: shared by netblk-cli.c (dispatch), cli_options.c
 * (options), cli_ctx.c (the engine) and the command files cli_*.c. Not a
 * library interface.
 *
 * Exit codes of every command: CLI_EXIT_OK, CLI_EXIT_FAIL for runtime
 * errors (I/O error, TLS failure, volume not found, data mismatch),
 * CLI_EXIT_USAGE for bad command lines.
 */
#ifndef NETBLK_CLI_H
#define NETBLK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>

#include "session.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_DEFAULT_IO_TIMEOUT 30.0 /* s */
#define CLI_BUF_ALIGN          4096
#define CLI_MAX_XFER           (16u << 20) /* largest single I/O */
#define CLI_MAX_BUFFERS        (1ull << 30) /* queue depth x I/O size */
#define CLI_DEFAULT_TLS_DIR    "/etc/vduse-netblk" /* the daemon's files */
#define CLI_PROGRESS_LINES_S   10.0 /* s between lines when not a terminal */

/*
 * Options some commands share, handled by nb_cli_parse_options() when a
 * command lists them (CLI_PROGRESS_OPTIONS, CLI_JSON_OPTIONS).
 */
enum {
	CLI_SOPT_FIRST = 300,
	CLI_SOPT_PROGRESS = CLI_SOPT_FIRST,
	CLI_SOPT_NO_PROGRESS,
	CLI_SOPT_PROGRESS_INTERVAL,
	CLI_SOPT_JSON,
	CLI_SOPT_FORMAT,
	CLI_SOPT_END,
};
#define CLI_PROGRESS_OPTIONS \
	{ "progress", no_argument, NULL, CLI_SOPT_PROGRESS }, \
	{ "no-progress", no_argument, NULL, CLI_SOPT_NO_PROGRESS }, \
	{ "progress-interval", required_argument, NULL, \
	  CLI_SOPT_PROGRESS_INTERVAL }
#define CLI_JSON_OPTIONS \
	{ "json", no_argument, NULL, CLI_SOPT_JSON }, \
	{ "format", required_argument, NULL, CLI_SOPT_FORMAT }

/* Options every command accepts. */
struct cli_common {
	const char *cluster_arg;  /* as given */
	char **nodes;             /* split cluster_arg, owned */
	size_t n_nodes;
	const char *volume;
	const char *ca, *cert, *key;
	const char *tls_name;
	const char *tls_ciphersuites; /* checked; NULL: measured order */
	double io_timeout;
	double connect_timeout;
	bool read_only;
	const char *owner;        /* --owner; NULL: "netblk-cli:PID@HOST" */
	bool break_lock;          /* --break-lock */
	int verbose;              /* --verbose count minus --quiet count */
	int progress;             /* -1: on a terminal only; 0 off; 1 on */
	double progress_interval; /* s between lines when not a terminal */
	bool json;                /* --json, --format json */
};

/* An opened volume. */
struct cli_ctx {
	struct cli_common *opt;
	const char *cmd;          /* command name, for messages */
	struct ev_loop *loop;
	struct session *cluster;
	const struct session_volume *vol;
	char owner[SESSION_NAME_MAX + 1]; /* the writer lock's, read-write */
};

/*
 * Command-specific options: the command's long options (val >= 256) and a
 * handler that stores a value. The handler returns 0, or -EINVAL after
 * printing a message naming the option.
 */
typedef int cli_opt_fn(void *opaque, int val, const char *name,
		       const char *arg);

/*
 * Parse argv (argv[0] = command name) with the common options and the
 * command's own. Prints help and returns 1 on --help; returns 0 with
 * *first_arg set to the index of the first operand; returns -EINVAL
 * after printing a message naming the bad option.
 */
int nb_cli_parse_options(struct cli_common *opt, const char *cmd, int argc,
		      char **argv, const struct option *cmd_opts,
		      cli_opt_fn *fn, void *opaque, const char *help,
		      int *first_arg);

/*
 * The options before the command name (cli_options.c). Parsing stops at
 * the first operand, the command, whose index goes to *first; its options
 * are left for the command. Returns 0; 1 after printing the help (exit 0);
 * -EINVAL after printing what is wrong (exit 2). Free opt with
 * nb_cli_common_free() whatever it returns.
 */
int nb_cli_main_parse(struct cli_common *opt, int argc, char **argv,
		   int *first);
/* Free what the option parsers allocated in opt (its nodes). */
void nb_cli_common_free(struct cli_common *opt);

/* Messages on stderr, prefixed with "netblk-cli: ". */
void nb_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Number parsing; on error print "invalid ... for OPT" and return -EINVAL.
 * Sizes take suffixes K, M, G, T (powers of 1024; "KiB" and "k" also).
 */
int nb_cli_parse_size(const char *optname, const char *s, uint64_t *out);
int nb_cli_parse_uint(const char *optname, const char *s, uint64_t min,
		   uint64_t max, uint64_t *out);
int nb_cli_parse_seconds(const char *optname, const char *s, double *out);

/* -EINVAL, after printing why, when depth buffers of bs bytes exceed
 * CLI_MAX_BUFFERS. */
int nb_cli_check_buffers(const char *cmd, uint64_t depth, uint64_t bs);

/* Format a byte count as "1.5 MiB (1572864 bytes)" into buf. */
const char *nb_cli_fmt_size(uint64_t bytes, char *buf, size_t len);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t nb_cli_now_ns(void);

/* splitmix64: a small, fast, seedable generator. */
uint64_t nb_cli_rand_next(uint64_t *state);

/* Whether the len bytes at buf are all zero. */
bool nb_cli_all_zero(const void *buf, size_t len);

/* Aligned buffer for I/O; free with free(). NULL with errno set. */
void *nb_cli_buf_alloc(size_t size);

/*
 * Connect, handshake and open opt->volume (nb_session_open_sync). A
 * command that writes opens read-write (unless --read-only) and takes the
 * volume's writer lock as --owner (default "netblk-cli:PID@HOST"), breaking
 * another's with --break-lock; one that only reads opens read-only and
 * takes no lock. Returns 0, or -errno after printing the engine's message
 * (for a lock held by another: who holds it and the ways out).
 */
int cli_ctx_open(struct cli_ctx *ctx, struct cli_common *opt,
		 const char *cmd, bool writes);
/* Close the volume and release the writer lock it took, if any (UNLOCK
 * at the generation held; a lock that moved on is left alone, with a
 * warning). */
void cli_ctx_close(struct cli_ctx *ctx);

/* The lock owner of this command line: --owner or "netblk-cli:PID@HOST".
 * Returns 0, or -EINVAL after printing why. */
int cli_lock_owner(const struct cli_common *opt, const char *cmd, char *buf,
		   size_t len);

/* The engine config of the admin requests (TLS, timeouts, logging). */
void cli_admin_config(const struct cli_common *opt, struct session_config *cfg);
/* -EROFS, after printing why, when the opened volume is read-only. */
int cli_ctx_check_writable(const struct cli_ctx *ctx);

/* Route engine messages to stderr at the -v/-q level. */
void cli_engine_config_log(const struct cli_common *opt,
			   struct session_config *cfg);

/* TLS 1.3 suites: --tls-ciphersuites, or the order measured on this CPU
 * (once per process; shown with -vv). */
void cli_engine_config_suites(const struct cli_common *opt,
			      struct session_config *cfg);

/* One io, waiting for it by running the loop. Returns 0 or -errno. */
int cli_io_sync(struct cli_ctx *ctx, enum session_op op, uint64_t offset,
		uint64_t length, void *buf);

/* One line of engine counters (requests, retries, reconnects, map
 * refreshes, failed I/Os) on stdout, prefixed with the command name. */
void cli_print_engine_stats(const struct cli_ctx *ctx);

/* Print an I/O failure with the engine's last message. */
void cli_report_io_error(struct cli_ctx *ctx, enum session_op op,
			 uint64_t offset, uint64_t length, int err);

/*
 * Progress of a long command (cli_progress.c), on standard error: with
 * the default (opt->progress -1) a bar on a terminal and nothing
 * otherwise; --progress (1): the bar on a terminal, else one line every
 * --progress-interval seconds and a last line at the end; --no-progress
 * (0): nothing. Lines read "import:  45% 460.0 MiB of 1.0 GiB, 120.3
 * MB/s, ETA 0:05" (the last one "..., in 8.5 s").
 */
struct cli_progress {
	const char *cmd;
	FILE *out;
	uint64_t total, done;
	uint64_t t0, t_last, interval_ns;
	int width;
	bool on, tty, shown;
};

void nb_cli_progress_start(struct cli_progress *pr,
			   const struct cli_common *opt, const char *cmd,
			   uint64_t total);
/* done: bytes so far; redraws when it is time to. */
void nb_cli_progress_update(struct cli_progress *pr, uint64_t done);
/* The last line (ok), or just the end of the bar's line. */
void nb_cli_progress_end(struct cli_progress *pr, bool ok);
/* One progress text into buf (a bar when bar; "in S s" instead of the
 * ETA when final). Returns snprintf's count. */
int nb_cli_progress_format(char *buf, size_t len, const char *cmd,
			   uint64_t done, uint64_t total, double secs,
			   bool bar, bool final);

/*
 * The ordered pipeline used by import, export and verify: up to depth
 * ios in flight, each in its own slot buffer of buf_size bytes.
 * next() prepares the next io (sets offset and length, fills data for
 * writes) and returns 1, or 0 when there is no more, or -errno.
 * complete() is called for each successful io in submission order (so
 * output to a pipe stays in order) and returns 0 or -errno. After the
 * first error nothing more is submitted and complete() is no longer
 * called; cli_pipe_run() waits for the ios in flight and returns the
 * error.
 */
struct cli_slot {
	struct session_io io;
	struct iovec iov;
	uint8_t *buf;
	uint64_t offset, length;
	/* next() may send another op than the pipe's: WRITE_ZEROES (no
	 * data; flags SESSION_FLAG_UNMAP) for holes and zero blocks */
	enum session_op op;
	uint32_t flags;
	uint64_t seq;
	bool busy, done;
	int result;
	struct cli_pipe *pipe;
};

struct cli_pipe {
	struct cli_ctx *ctx;
	enum session_op op;            /* SESSION_OP_READ or SESSION_OP_WRITE */
	uint32_t depth;
	size_t buf_size;
	int (*next)(struct cli_pipe *p, struct cli_slot *s);
	int (*complete)(struct cli_pipe *p, struct cli_slot *s);
	void *opaque;
	/* state */
	struct cli_slot *slots;
	uint64_t next_seq, retire_seq;
	uint32_t inflight;
	bool no_more;
	int error;
	uint64_t bytes;            /* completed successfully */
	struct cli_progress *progress; /* NULL: none; else fed with */
	uint64_t progress_base;        /* progress_base + bytes */
};

int cli_pipe_run(struct cli_pipe *p);

/*
 * Latency histogram (cli_hist.c): log-linear buckets, 16 per power of
 * two (resolution about 6%, reported at the bucket middle, so within
 * about 3%), fixed size whatever the number of samples. Values are
 * nanoseconds or any other unit.
 */
#define CLI_HIST_HALF    16u
#define CLI_HIST_BUCKETS (2 * CLI_HIST_HALF + 60 * CLI_HIST_HALF)

struct cli_hist {
	uint64_t count[CLI_HIST_BUCKETS];
	uint64_t n, sum, max;
};

void nb_cli_hist_add(struct cli_hist *h, uint64_t v);
/* Smallest value v (within the resolution) with a fraction q of the
 * samples <= v; never above the largest sample; 0 when empty. */
uint64_t nb_cli_hist_quantile(const struct cli_hist *h, double q);

/*
 * --json (cli_json.c, json-c). cli_json_print() prints doc on stdout,
 * pretty, and drops the reference; returns 0 or -EIO after saying so.
 * The add helpers put a member into object o (a NULL string is null).
 */
struct json_object;
struct json_object *cli_json_engine_stats(const struct cli_ctx *ctx);
int cli_json_print(struct json_object *doc);
void cli_json_add_u64(struct json_object *o, const char *key, uint64_t v);
void cli_json_add_str(struct json_object *o, const char *key, const char *v);
void cli_json_add_double(struct json_object *o, const char *key, double v);
void cli_json_add_bool(struct json_object *o, const char *key, bool v);

/* Commands: return a CLI_EXIT_* code. argv[0] is the command name. */
int cli_cmd_create(struct cli_common *opt, int argc, char **argv);
int cli_cmd_info(struct cli_common *opt, int argc, char **argv);
int cli_cmd_import(struct cli_common *opt, int argc, char **argv);
int cli_cmd_export(struct cli_common *opt, int argc, char **argv);
int cli_cmd_verify(struct cli_common *opt, int argc, char **argv);
int cli_cmd_bench(struct cli_common *opt, int argc, char **argv);
int cli_cmd_unlock(struct cli_common *opt, int argc, char **argv);
int cli_cmd_delete(struct cli_common *opt, int argc, char **argv);
int cli_cmd_resize(struct cli_common *opt, int argc, char **argv);
int cli_cmd_list(struct cli_common *opt, int argc, char **argv);

/*
 * Checks shared by the commands that need a cluster. Fills in the
 * default --ca, --cert and --key (nb_cli_tls_dir()) when they exist, and
 * checks that the TLS files can be read. -EINVAL after printing why.
 */
int nb_cli_require_common(struct cli_common *opt, const char *cmd,
		       bool need_volume);

/* Directory of the default TLS files: $NETBLK_TLS_DIR or
 * CLI_DEFAULT_TLS_DIR. */
const char *nb_cli_tls_dir(void);

#endif
