/* SPDX-License-Identifier: MIT */
/* The engine unit tests' harness (engine_env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "engine_env.h"

struct fake_pki engine_env_pki;

int engine_env_setup(void **state)
{
	return fake_pki_init(&engine_env_pki);
}

int engine_env_teardown(void **state)
{
	fake_pki_free(&engine_env_pki);
	return 0;
}

static void engine_env_log(void *opaque, int level, const char *msg)
{
	struct engine_env *e = opaque;
	size_t l = strlen(e->log), m = strlen(msg);

	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "engine: %s\n", msg);
	if (level <= LOG_ERR)
		e->log_errors++;
	if (l + m + 2 < sizeof(e->log)) {
		memcpy(e->log + l, msg, m);
		e->log[l + m] = '\n';
		e->log[l + m + 1] = '\0';
	}
}

struct map *engine_env_map_cs(struct engine_env *e, uint64_t epoch,
			      const char *chunk_size, const char *chunks)
{
	char text[1024], err[256];
	struct map *m;
	int l;

	l = snprintf(text, sizeof(text), "epoch %llu\nchunk_size %s\n",
		     (unsigned long long)epoch, chunk_size);
	/* nodes over one disk are one store group, unless a test says not */
	for (int i = 0; i < e->n_nodes; i++)
		l += snprintf(text + l, sizeof(text) - l, "node %s%s\n",
			      e->node[i]->addr,
			      e->own_stores ? "" : " group 1");
	snprintf(text + l, sizeof(text) - l, "%s", chunks ? chunks : "");
	if (nb_map_parse(text, &m, err, sizeof(err)) < 0)
		fail_msg("map: %s", err);
	return m;
}

struct map *engine_env_map(struct engine_env *e, uint64_t epoch,
			   const char *chunks)
{
	return engine_env_map_cs(e, epoch, "64K", chunks);
}

struct engine_env *engine_env_new(int n, const char *chunks)
{
	struct engine_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_true(n >= 1 && n <= ENGINE_ENV_MAX_NODES);
	e->loop = ev_loop_new(EVFLAG_AUTO);
	e->disk.size = ENGINE_ENV_VOL_SIZE;
	e->disk.bytes = calloc(1, ENGINE_ENV_VOL_SIZE);
	assert_non_null(e->disk.bytes);
	e->n_nodes = n;
	for (int i = 0; i < n; i++) {
		e->node[i] = fake_node_new(e->loop, engine_env_pki.server_ctx,
					   &e->disk, "vol0");
		e->addrs[i] = e->node[i]->addr;
	}
	e->map = engine_env_map(e, 1, chunks);
	for (int i = 0; i < n; i++)
		e->node[i]->map = e->map;
	e->cfg.nodes = e->addrs;
	e->cfg.n_nodes = 1;
	e->cfg.volume = "vol0";
	e->cfg.tls_ca = engine_env_pki.ca;
	e->cfg.tls_cert = engine_env_pki.cert;
	e->cfg.tls_key = engine_env_pki.key;
	e->cfg.io_timeout = 20;
	e->cfg.try_timeout = 5;
	e->cfg.connect_timeout = 5;
	e->cfg.log_fn = engine_env_log;
	e->cfg.log_opaque = e;
	e->cfg.log_level = LOG_DEBUG;
	e->cfg.client_name = "test_engine";
	return e;
}

void engine_env_free(struct engine_env *e)
{
	for (int i = 0; i < e->n_nodes; i++)
		fake_node_free(e->node[i]);
	nb_map_free(e->map);
	free(e->disk.bytes);
	ev_loop_destroy(e->loop);
	free(e);
}

struct session *engine_env_open(struct engine_env *e)
{
	char err[512];
	struct session *c = nb_session_open_sync(e->loop, &e->cfg, err,
						 sizeof(err));

	if (!c)
		fail_msg("open failed: %s\nlog:\n%s", err, e->log);
	return c;
}

static void engine_env_deadline_cb(struct ev_loop *loop, ev_timer *w,
				   int revents)
{
	*(bool *)w->data = true;
}

void engine_env_run_until(struct engine_env *e, const bool *cond,
			  const char *needle)
{
	bool expired = false;
	ev_timer t;

	ev_timer_init(&t, engine_env_deadline_cb, 10., 0.);
	t.data = &expired;
	ev_timer_start(e->loop, &t);
	while (!expired && (cond ? !*cond : !strstr(e->log, needle)))
		ev_run(e->loop, EVRUN_ONCE);
	ev_timer_stop(e->loop, &t);
	if (cond ? !*cond : !strstr(e->log, needle))
		fail_msg("condition not reached within 10 s; log:\n%s", e->log);
}

void engine_env_settle(struct engine_env *e, int rounds)
{
	for (int i = 0; i < rounds; i++)
		ev_run(e->loop, EVRUN_NOWAIT);
}

struct engine_env_io {
	struct session_io io;
	int calls;
	int result;
	bool in_submit;
	bool done_inside_submit;
	bool done;
};

static void engine_env_io_done(struct session_io *io, int result)
{
	struct engine_env_io *t = io->opaque;

	t->calls++;
	t->result = result;
	if (t->in_submit)
		t->done_inside_submit = true;
	t->done = true;
}

int engine_env_io(struct engine_env *e, struct session *c, enum session_op op,
		  uint64_t off, uint64_t len, uint32_t flags,
		  struct iovec *iov, int iovcnt)
{
	struct engine_env_io t = { .in_submit = true };
	int ret;

	t.io = (struct session_io){ .op = op, .offset = off, .length = len,
				    .flags = flags, .iov = iov, .iovcnt = iovcnt,
				    .done = engine_env_io_done, .opaque = &t };
	ret = nb_session_submit(c, &t.io);
	t.in_submit = false;
	if (ret)
		return ret;
	assert_int_equal(t.calls, 0); /* never from inside submit */
	engine_env_run_until(e, &t.done, NULL);
	assert_int_equal(t.calls, 1);
	assert_false(t.done_inside_submit);
	return t.result;
}

unsigned engine_env_count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}
