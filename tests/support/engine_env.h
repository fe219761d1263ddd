/* SPDX-License-Identifier: MIT */
/*
 * The harness of the engine's unit tests (test_engine, test_engine_lock):
 * up to ENGINE_ENV_MAX_NODES fake nodes (fake_node.c) over one fake disk,
 * a cluster map over them, a session config that logs into a buffer, and
 * helpers that run the loop until something happened.
 *
 * Tests are cmocka tests: the helpers fail the test (fail_msg) instead of
 * returning errors. engine_env_setup()/engine_env_teardown() are the
 * cmocka group setup and teardown: they make and remove the test PKI,
 * engine_env_pki.
 */
#ifndef NETBLK_ENGINE_ENV_H
#define NETBLK_ENGINE_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ev.h>

#include "fake_node.h"
#include "map.h"
#include "rpc.h"
#include "session.h"

#define ENGINE_ENV_MAX_NODES 3
#define ENGINE_ENV_VOL_SIZE (4u << 20)

struct engine_env {
	struct ev_loop *loop;
	struct fake_disk disk;      /* ENGINE_ENV_VOL_SIZE bytes, zeroes */
	struct fake_node *node[ENGINE_ENV_MAX_NODES];
	int n_nodes;
	struct map *map;            /* epoch 1; the nodes serve it */
	bool own_stores;            /* engine_env_map*(): nodes without group */
	struct rpc_lock lock;       /* for nodes given lock_enabled */
	struct session_config cfg;  /* node 0 only; volume "vol0" */
	const char *addrs[ENGINE_ENV_MAX_NODES];
	char log[16384];            /* the session's messages, one a line */
	unsigned log_errors;        /* of them, at LOG_ERR or worse */
};

extern struct fake_pki engine_env_pki;

int engine_env_setup(void **state);
int engine_env_teardown(void **state);

/*
 * n fake nodes sharing one disk (one store group, group 1), map epoch 1
 * with chunk size 64K and the given chunk lines (NULL: none). The config
 * names node 0 only; a test may change it before engine_env_open().
 */
struct engine_env *engine_env_new(int n, const char *chunks);
void engine_env_free(struct engine_env *e);

/* A map of e's nodes (groups unless e->own_stores); the caller frees. */
struct map *engine_env_map_cs(struct engine_env *e, uint64_t epoch,
			      const char *chunk_size, const char *chunks);
struct map *engine_env_map(struct engine_env *e, uint64_t epoch,
			   const char *chunks);

/* nb_session_open_sync() with e->cfg; fails the test (with the log). */
struct session *engine_env_open(struct engine_env *e);

/* Run the loop until *cond (cond non-NULL) or until the log holds
 * needle; fails the test after 10 s. */
void engine_env_run_until(struct engine_env *e, const bool *cond,
			  const char *needle);
/* Let the loop do pending work without waiting. */
void engine_env_settle(struct engine_env *e, int rounds);

/*
 * One io, synchronously: submit, run the loop until done, return its
 * result (or submit's error). Asserts that done ran once, never inside
 * submit.
 */
int engine_env_io(struct engine_env *e, struct session *c, enum session_op op,
		  uint64_t off, uint64_t len, uint32_t flags,
		  struct iovec *iov, int iovcnt);

/* How many times needle occurs in hay. */
unsigned engine_env_count(const char *hay, const char *needle);

#endif
