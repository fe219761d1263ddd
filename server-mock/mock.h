/* SPDX-License-Identifier: MIT */
/*
 * netblk-server-mock: a storage node for tests and demos of vduse-netblk.
 *
 * The node itself (listening, TLS, connections, requests, map, volumes,
 * the memory and file stores) is the shared core of server/ (srv.h); the
 * mock adds its options, its control socket and a fault-injection filter
 * over the stores. It runs the core with one I/O thread: one libev loop
 * owns everything, which its counters and fault settings rely on.
 *
 * Layers (each calls only downward):
 *   main.c      glue: options, stores, the core, startup, shutdown
 *   control.c   the control socket and the `ctl` client
 *   command.c   text commands (control socket and --fault)
 *   fault.c     the fault filter: a store over a store (srv_store.h)
 *   options.c   command line
 */
#ifndef NETBLK_MOCK_H
#define NETBLK_MOCK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "logging.h"
#include "map.h"
#include "rpc.h"
#include "srv.h"

#define MOCK_PROG "netblk-server-mock"

/* Exit codes */
#define MOCK_EXIT_RUNTIME 1
#define MOCK_EXIT_USAGE   2

/*
 * ---- logging (common/logging.c) ----
 * Lines on stderr read "12:00:00.000 netblk-server-mock[NAME] warn: text",
 * NAME being the program's name until the node's is known (set up by
 * main.c, then mock_server_init).
 */

#define mock_err(...)   nb_log_msg(LOG_ERR, __VA_ARGS__)
#define mock_warn(...)  nb_log_msg(LOG_WARNING, __VA_ARGS__)
#define mock_info(...)  nb_log_msg(LOG_INFO, __VA_ARGS__)
#define mock_debug(...) do { \
	if (log_enabled(LOG_DEBUG)) \
		nb_log_msg(LOG_DEBUG, __VA_ARGS__); \
} while (0)

/* ---- configuration (options.c) ---- */

struct mock_volume_spec {
	char *name;
	uint64_t size;
	char *path;        /* NULL: in memory */
	bool read_only;
};

struct mock_config {
	const char *listen;
	const char *port_file;
	const char *cert, *key, *ca;
	const char *tls_ciphersuites; /* NULL: OpenSSL's default */
	const char *name;          /* NULL: node address */
	const char *node;          /* NULL: listen host with the bound port */
	const char *map_path;      /* NULL: one-node map of this node */
	const char *control_path;
	const char *volume_dir;
	bool allow_create;
	bool writes_durable;       /* said at HANDSHAKE (tests) */
	uint32_t block_size;
	uint32_t max_inflight;
	uint32_t max_io_size;
	uint32_t max_discard;
	uint32_t max_write_zeroes;
	uint32_t max_connections;
	uint32_t hello_timeout;    /* s for TLS + HANDSHAKE */
	uint64_t seed;
	bool has_seed;
	int log_level;             /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	struct mock_volume_spec *volumes;
	size_t n_volumes;
	char **faults;
	size_t n_faults;
};

/*
 * Parse argv into cfg. Returns 0, 1 when --help was printed, or
 * -EINVAL after printing a message naming the bad option.
 */
int mock_options_parse(int argc, char **argv, struct mock_config *cfg);
void mock_options_free(struct mock_config *cfg);
/*
 * Sizes as nb_parse_size() (parse.h) reads them, and also with a
 * lowercase m, g or t: "512", "4k", "1M", "2g", "1TiB". Numbers and
 * addresses are read by nb_parse_u64() and nb_split_host_port().
 */
int mock_parse_size(const char *text, uint64_t *out);

/* ---- faults (fault.c) ---- */

/* Fault settings and counters, shared by every fault filter of the node. */
struct mock_faults {
	struct ev_loop *loop;            /* the node's one loop */
	double error_rate[NB_STORE_OP_MAX]; /* percent, 0..100 */
	uint32_t delay_min_ms, delay_max_ms;
	uint64_t drop_every;             /* 0 = off */
	uint64_t drop_counter;           /* data requests since drop-every */
	bool stall;
	uint64_t errors_injected;
	uint64_t drops;
	uint64_t held;                   /* requests held by delay or stall now */
	uint64_t rng;
	struct mock_held *held_head;     /* every held request */
	struct mock_held *stalled_head, *stalled_tail;
};

/* Settings off, random numbers seeded from cfg (--seed, else time and pid). */
void mock_faults_init(struct mock_faults *f, struct ev_loop *loop,
		      const struct mock_config *cfg);
/*
 * A store over lower that applies f to every data request (the way
 * nbdkit's error and delay filters stack over a plugin): drop-every,
 * delay, stall, then error-rate; other operations go straight down.
 * Destroying it destroys lower. NULL with errno set.
 */
struct nb_store *mock_fault_store_new(struct nb_store *lower, struct mock_faults *f);
/* Execute the requests held by stall, in the order they were stalled. */
void mock_faults_release_stalled(struct mock_faults *f);
/* Uniform random in [0, n) (xorshift64*, seeded by --seed). */
uint64_t mock_faults_random(struct mock_faults *f, uint64_t n);

/* ---- the node ---- */

struct mock_control;

struct mock_server {
	struct ev_loop *loop;
	const struct mock_config *cfg;
	struct nb_srv_config srv_cfg;
	struct nb_srv *srv;
	/* The store for CREATE is the core's; the other one is the mock's. */
	struct nb_store *other_store;
	/* Under the filters (owned by them): where --volume adds volumes. */
	struct nb_store *memory, *files;
	struct mock_faults faults;
	struct mock_control *control;
};

/* Set up everything from cfg; on failure logs why and returns -errno. */
int mock_server_init(struct mock_server *ms, struct ev_loop *loop,
		     const struct mock_config *cfg);
void mock_server_fini(struct mock_server *ms);

/* ---- commands (command.c) ---- */

/*
 * Execute one text command (control socket line or --fault). Writes the
 * answer text (without "ok "/"error " prefix) to out. Returns 0 or -errno.
 */
int mock_command_exec(struct mock_server *ms, const char *line,
		      char *out, size_t outlen);
const char *mock_fault_op_name(enum nb_store_op op);

/* ---- control socket (control.c) ---- */

struct mock_control *mock_control_new(struct mock_server *ms, const char *path);
void mock_control_free(struct mock_control *ctl);
/* `netblk-server-mock ctl SOCKET CMD [ARGS...]`; returns the exit code. */
int mock_ctl_main(int argc, char **argv);

#endif
