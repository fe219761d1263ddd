/* SPDX-License-Identifier: MIT */
/*
 * The storage node core shared by netblk-node and netblk-server-mock:
 * listening socket, TLS, connections and framing, request checks and
 * dispatch, the cluster map and the volumes table, over a store
 * (srv_store.h).
 *
 * Threads: the caller's loop (given to nb_srv_new) accepts connections,
 * takes signals and is I/O thread 0; threads - 1 more I/O threads run a
 * loop each. A connection lives on one I/O thread for its whole life; the
 * acceptor hands it to the thread with the fewest connections through an
 * ev_async. Volumes and the map are shared by every thread.
 *
 * Ownership: nb_srv_new() takes the store; nb_srv_free() destroys it
 * after every connection is gone.
 */
#ifndef NETBLK_SRV_H
#define NETBLK_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "srv_store.h"

/* Largest protobuf header accepted in a request frame. */
#define NB_SRV_MAX_REQ_HDR  4096
#define NB_SRV_MAX_INFLIGHT 4096
#define NB_SRV_MAX_VOLUMES  1024
#define NB_SRV_MAX_THREADS  256

struct nb_srv_config {
	const char *listen;            /* HOST:PORT, port 0 = any */
	const char *cert, *key, *ca;   /* PEM files */
	const char *tls_ciphersuites;  /* NULL: OpenSSL's default */
	const char *name;              /* NULL: the node address */
	const char *node;              /* NULL: listen host with the bound port */
	const char *map_path;          /* NULL: one-node map of this node */
	/* Text of the warning logged for a non-loopback --listen; NULL: none. */
	const char *not_loopback_warning;
	bool allow_create;
	/* OPEN and INFO of a name not in the table ask the store (netblk-node). */
	bool open_by_name;
	unsigned threads;              /* I/O threads, >= 1 */
	uint32_t max_inflight;         /* per connection, 1..NB_SRV_MAX_INFLIGHT */
	uint32_t max_io_size;
	uint32_t max_discard;          /* 0 disables DISCARD */
	uint32_t max_write_zeroes;     /* 0 disables WRITE_ZEROES */
	uint32_t max_connections;
	uint32_t hello_timeout;        /* s for TLS + HANDSHAKE; 0 = 10 */
};

struct nb_srv_stats {
	uint64_t connections;      /* accepted since start */
	uint64_t open_connections;
	uint64_t requests;         /* frames decoded as requests */
	uint64_t reads, writes, flushes, fua, discards, write_zeroes;
	uint64_t not_owner;
	uint64_t bytes_read, bytes_written;
	uint64_t inflight;         /* submitted to the store, not completed */
	uint64_t map_epoch;
	uint64_t fenced;           /* write-class requests answered FENCED */
};

struct nb_srv;

/*
 * Listen, load the TLS files and the map; log why and return NULL on
 * failure (the store is destroyed then too). loop must be the loop that
 * nb_srv_run() will run, on the calling thread.
 */
struct nb_srv *nb_srv_new(struct ev_loop *loop, const struct nb_srv_config *cfg,
			  struct nb_store *store);
/* Close every connection, stop the threads, destroy the store. */
void nb_srv_free(struct nb_srv *srv);

/*
 * Start the I/O threads and run the caller's loop until nb_srv_quit()
 * (or SIGINT/SIGTERM). SIGHUP reloads the map; SIGUSR1 logs the counters.
 * Returns 0, or -errno when the threads cannot start.
 */
int nb_srv_run(struct nb_srv *srv);
/* Stop nb_srv_run(); from the loop's thread (signals, control commands). */
void nb_srv_quit(struct nb_srv *srv);
bool nb_srv_quitting(const struct nb_srv *srv);

struct ev_loop *nb_srv_loop(const struct nb_srv *srv);
uint16_t nb_srv_port(const struct nb_srv *srv);
const char *nb_srv_name(const struct nb_srv *srv);
const char *nb_srv_node_addr(const struct nb_srv *srv);
struct nb_store *nb_srv_store(const struct nb_srv *srv);

/* Reload the map file; on failure the old map stays. err gets "epoch N" or why. */
int nb_srv_map_reload(struct nb_srv *srv, char *err, size_t errlen);
uint64_t nb_srv_map_epoch(const struct nb_srv *srv);

/*
 * Open volume name of store (any store: the mock mixes memory and files)
 * and serve it. -EEXIST for a name given twice, -ENOSPC past
 * NB_SRV_MAX_VOLUMES, -errno of the store's open.
 */
int nb_srv_volume_add(struct nb_srv *srv, struct nb_store *store, const char *name);
/* Grow a served volume; a reason in err on failure. */
int nb_srv_volume_resize(struct nb_srv *srv, const char *name, uint64_t size,
			 char *err, size_t errlen);
size_t nb_srv_volume_count(const struct nb_srv *srv);
bool nb_srv_volume_exists(struct nb_srv *srv, const char *name);

/* The counters of every thread added up (a snapshot). */
void nb_srv_get_stats(struct nb_srv *srv, struct nb_srv_stats *out);
/* "connections=N ... map_epoch=N" and the store's counters, one line. */
void nb_srv_stats_text(struct nb_srv *srv, char *buf, size_t len);

/* Write the bound port to path atomically (tests wait for it). */
int nb_srv_write_port_file(const char *path, uint16_t port);

/*
 * For filters: the loop of the I/O thread that owns io (timers of a
 * delay fault run there), and whether its connection is gone.
 */
struct ev_loop *nb_srv_io_loop(const struct nb_store_io *io);
/* Log text of io's connection: "client 127.0.0.1:4242". */
const char *nb_srv_io_peer(const struct nb_store_io *io);
/* The protocol request id of io. */
uint64_t nb_srv_io_id(const struct nb_store_io *io);

#endif
