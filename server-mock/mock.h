/* SPDX-License-Identifier: MIT */
/*
 * netblk-server-mock: a storage node for tests and demos of vduse-netblk.
 *
 * Shared definitions: configuration, the server object and logging. One
 * single-threaded libev loop owns everything.
 *
 * Layers (each calls only downward):
 *   main.c      glue: options, startup, shutdown
 *   control.c   the control socket and the `ctl` client
 *   command.c   text commands (control socket and --fault)
 *   server.c    listening socket, map file, connection list, signals
 *   conn.c      one TLS connection: buffers, framing, backpressure,
 *               held requests
 *   request.c   one request: checks, fault injection, execution; it sees
 *               its connection through the functions of request.h only
 *   node.c      the node's name, map, volumes, faults and counters
 *   volume.c    storage of one volume (memory or file)
 *   tls.c       OpenSSL context and error texts
 *   options.c   command line
 */
#ifndef NETBLK_MOCK_H
#define NETBLK_MOCK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "logging.h"
#include "map.h"
#include "node.h"
#include "rpc.h"

#define MOCK_PROG "netblk-server-mock"

/* Exit codes */
#define MOCK_EXIT_RUNTIME 1
#define MOCK_EXIT_USAGE   2

/* Largest protobuf header accepted in a request frame. */
#define MOCK_MAX_REQ_HDR  4096
#define MOCK_MAX_INFLIGHT 4096
#define MOCK_MAX_VOLUMES  1024

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

/* ---- the server (server.c) ---- */

struct mock_volume;
struct mock_conn;
struct mock_control;

struct mock_server {
	struct ev_loop *loop;
	const struct mock_config *cfg;
	SSL_CTX *ssl_ctx;

	int listen_fd;
	ev_io accept_watcher;
	ev_timer accept_pause;     /* out of descriptors: retry accept later */
	uint16_t port;

	/* Name, map, volumes, faults, counters (node.h). */
	struct mock_node node;

	struct mock_conn *conns;   /* live connections */
	size_t n_conns;
	struct mock_conn *dead;    /* closed, freed from the prepare watcher */
	struct mock_conn *dirty;   /* output to flush before sleeping */

	struct mock_control *control;
	ev_signal sig_int, sig_term, sig_hup;
	ev_prepare prepare;
	bool quitting;
};

/* Set up everything from cfg; on failure logs why and returns -errno. */
int mock_server_init(struct mock_server *srv, struct ev_loop *loop,
		     const struct mock_config *cfg);
void mock_server_fini(struct mock_server *srv);
/* Stop the loop; mock_server_fini() closes everything afterwards. */
void mock_server_quit(struct mock_server *srv);
/* Reload --map; on failure keeps the old map, returns -errno and a reason. */
int mock_server_map_reload(struct mock_server *srv, char *err, size_t errlen);
/* Answer the requests held by stall on every connection. */
void mock_server_release_stalled(struct mock_server *srv);

/* ---- commands (command.c) ---- */

/*
 * Execute one text command (control socket line or --fault). Writes the
 * answer text (without "ok "/"error " prefix) to out. Returns 0 or -errno.
 */
int mock_command_exec(struct mock_server *srv, const char *line,
		      char *out, size_t outlen);
const char *mock_fault_op_name(enum mock_fault_op op);

/* ---- control socket (control.c) ---- */

struct mock_control *mock_control_new(struct mock_server *srv, const char *path);
void mock_control_free(struct mock_control *ctl);
/* `netblk-server-mock ctl SOCKET CMD [ARGS...]`; returns the exit code. */
int mock_ctl_main(int argc, char **argv);

#endif
