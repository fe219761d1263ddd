/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the client engine (session.h) against in-process fake
 * nodes (fake_node.c) on 127.0.0.1: data round trips over split requests
 * and scattered iovecs, FLUSH fan-out, status handling, failover, map
 * refresh, retries, timeouts, malformed replies, in-flight limits, TLS
 * failures, and the completion rules (done exactly once, never inside
 * nb_session_submit, -EIO on nb_session_free); and resilience: recovery after
 * io_timeout, stalled nodes avoided, volume refresh (online resize), TLS
 * context reload, private key file modes, FLUSH targets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "engine_env.h"
#include "session.h"
#include "fake_node.h"
#include "map.h"
#include "sockbio.h"
#include "tls.h"

#define KiB 1024u
/* ---- io helpers ---- */

struct tio {
	struct session_io io;
	struct iovec iov[8];
	int calls;
	int result;
	bool *in_submit;
	bool done_inside_submit;
	bool *all_done;
	int *remaining;
};

static void tio_done(struct session_io *io, int result)
{
	struct tio *t = io->opaque;

	t->calls++;
	t->result = result;
	if (t->in_submit && *t->in_submit)
		t->done_inside_submit = true;
	if (t->remaining && --*t->remaining == 0 && t->all_done)
		*t->all_done = true;
}

static void pattern(uint8_t *p, size_t n, uint64_t off, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((off + i) * 2654435761u >> 13) + seed * 17);
}

/* Cut buf into uneven segments. */
static int scatter(uint8_t *buf, size_t len, struct iovec *iov)
{
	size_t cuts[] = { 512, 4096 - 512, 0, 7 * 512, 8192, 1536 };
	size_t off = 0;
	int n = 0;

	for (size_t i = 0; i < 6 && off < len; i++) {
		size_t l = cuts[i] < len - off ? cuts[i] : len - off;

		iov[n].iov_base = buf + off;
		iov[n].iov_len = l;
		off += l;
		n++;
	}
	if (off < len) {
		iov[n].iov_base = buf + off;
		iov[n].iov_len = len - off;
		n++;
	}
	return n;
}

/* ---- tests ---- */

static void test_round_trip_and_flush(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL); /* chunk i prefers node i % 2 */
	uint64_t off = 60 * KiB, len = 300 * KiB;
	uint8_t *w = malloc(len), *r = calloc(1, len);
	struct iovec iov[8];
	struct session *c;
	int n;

	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	assert_true(nb_session_volume(c)->size == ENGINE_ENV_VOL_SIZE);
	assert_int_equal(nb_session_map(c)->epoch, 1);

	pattern(w, len, off, 1);
	n = scatter(w, len, iov);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, off, len, 0, iov, n), 0);
	assert_memory_equal(e->disk.bytes + off, w, len);
	/* 60K..360K covers chunks 0..5: both nodes got their pieces */
	assert_true(e->node[0]->reqs[RPC_OP_WRITE] >= 3);
	assert_true(e->node[1]->reqs[RPC_OP_WRITE] >= 3);

	struct iovec one = { r, len };
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, off, len, 0, &one, 1), 0);
	assert_memory_equal(r, w, len);

	/* flush reaches every node that got writes */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);

	/* write-zeroes split by the discard limit */
	e->node[0]->reqs[RPC_OP_WRITE_ZEROES] = 0;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE_ZEROES, 64 * KiB, 64 * KiB,
				 SESSION_FLAG_UNMAP, NULL, 0), 0);
	for (size_t i = 64 * KiB; i < 128 * KiB; i++)
		if (e->disk.bytes[i])
			fail_msg("byte %zu not zeroed", i);

	struct session_stats st;
	nb_session_get_stats(c, &st);
	assert_true(st.ios == 4);
	assert_true(st.errors == 0);
	assert_true(st.bytes_written == len);
	assert_true(st.bytes_read == len);
	assert_int_equal(st.inflight, 0);
	nb_session_free(c);
	free(w);
	free(r);
	engine_env_free(e);
}

/*
 * Many writes in flight at once: 12 MiB go out (the volume three times
 * over, same bytes each time) while the node, paused, reads nothing; the
 * TLS records the client gathers per send() must arrive intact and in
 * order once it reads again. Then as many reads. (Short sends and EAGAIN
 * are forced in test_tls_send_gathering, over a tiny socket buffer.)
 */
static void test_many_in_flight_bulk(void **state)
{
	enum { ROUNDS = 3, PER = 32, N = ROUNDS * PER, LEN = 128 * KiB };
	struct engine_env *e = engine_env_new(1, NULL);
	uint8_t *w = malloc(ENGINE_ENV_VOL_SIZE), *r = calloc(1, ENGINE_ENV_VOL_SIZE);
	struct tio *t = calloc(N, sizeof(*t));
	bool done = false;
	int remaining = N;
	struct session *c;

	assert_int_equal(PER * LEN, ENGINE_ENV_VOL_SIZE);
	e->node[0]->max_inflight = 1024;
	e->cfg.max_inflight = 1024;
	c = engine_env_open(e);
	pattern(w, ENGINE_ENV_VOL_SIZE, 0, 7);
	for (int i = 0; i < N; i++) {
		size_t off = (size_t)(i % PER) * LEN;

		t[i].all_done = &done;
		t[i].remaining = &remaining;
		t[i].iov[0] = (struct iovec){ w + off, LEN };
		t[i].io = (struct session_io){ .op = SESSION_OP_WRITE,
			.offset = off, .length = LEN, .iov = t[i].iov,
			.iovcnt = 1, .done = tio_done, .opaque = &t[i] };
		assert_int_equal(nb_session_submit(c, &t[i].io), 0);
	}
	/* the node reads nothing for a while: the client's socket fills */
	e->node[0]->paused = true;
	engine_env_settle(e, 200);
	assert_int_equal(t[0].calls, 0);
	e->node[0]->paused = false;
	engine_env_run_until(e, &done, NULL);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].result, 0);
	}
	assert_memory_equal(e->disk.bytes, w, ENGINE_ENV_VOL_SIZE);

	done = false;
	remaining = PER;
	for (int i = 0; i < PER; i++) {
		t[i].calls = 0;
		t[i].iov[0] = (struct iovec){ r + (size_t)i * LEN, LEN };
		t[i].io.op = SESSION_OP_READ;
		assert_int_equal(nb_session_submit(c, &t[i].io), 0);
	}
	engine_env_run_until(e, &done, NULL);
	for (int i = 0; i < PER; i++)
		assert_int_equal(t[i].result, 0);
	assert_memory_equal(r, w, ENGINE_ENV_VOL_SIZE);
	nb_session_free(c);
	free(t);
	free(w);
	free(r);
	engine_env_free(e);
}

/*
 * The socket BIO (sockbio.h) gathers records and sends them together
 * (nb_sockbio_flush). Over a socket that takes only a few KiB at a time, 1 MiB
 * written in pieces must come out whole and in order through short sends
 * and EAGAIN, nb_sockbio_unsent() must say when bytes wait, and a flush to a
 * closed peer must fail with EPIPE (not SIGPIPE).
 */
static void test_tls_send_gathering(void **state)
{
	enum { LEN = 1 << 20 };
	uint8_t *data = malloc(LEN), *got = calloc(1, LEN);
	size_t woff = 0, roff = 0, wlen = 0;
	unsigned eagain = 0, waited = 0;
	int sv[2], sndbuf = 4096;
	char err[256];
	SSL_CTX *cctx;
	SSL *cli, *srv;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
				    sizeof(sndbuf)), 0);
	cctx = nb_tls_client_ctx_new(engine_env_pki.ca, engine_env_pki.cert, engine_env_pki.key,
				  NULL, err, sizeof(err));
	assert_non_null(cctx);
	cli = nb_tls_client_new(cctx, sv[0], "127.0.0.1", err, sizeof(err));
	assert_non_null(cli);
	/* the reading side as the mock has it: receive buffer, no read-ahead */
	srv = SSL_new(engine_env_pki.server_ctx);
	assert_int_equal(nb_sockbio_attach(srv, sv[1]), 0);
	assert_int_equal(SSL_get_read_ahead(srv), 0);
	SSL_set_accept_state(srv);
	int cdone = 0, sdone = 0;
	for (int i = 0; i < 1000 && (cdone != 1 || sdone != 1); i++) {
		if (cdone != 1)
			cdone = SSL_connect(cli);
		if (sdone != 1)
			sdone = SSL_accept(srv);
	}
	assert_int_equal(cdone, 1);
	assert_int_equal(sdone, 1);

	pattern(data, LEN, 0, 9);
	for (int i = 0; i < 1000000 && roff < LEN; i++) {
		if (woff < LEN) {
			size_t n = 0;

			if (!wlen)
				wlen = LEN - woff < 40000 ? LEN - woff : 40000;
			if (SSL_write_ex(cli, data + woff, wlen, &n) == 1) {
				woff += n;
				wlen = 0;
			} else {
				assert_int_equal(SSL_get_error(cli, 0),
						 SSL_ERROR_WANT_WRITE);
			}
		}
		int ret = nb_sockbio_flush(cli);
		if (ret == -EAGAIN) {
			eagain++;
			assert_true(nb_sockbio_unsent(cli) > 0);
		} else {
			assert_int_equal(ret, 0);
			assert_int_equal(nb_sockbio_unsent(cli), 0);
		}
		/* the reader lags: read only every third round */
		if (i % 3)
			continue;
		for (;;) {
			size_t n = 0;

			if (SSL_read_ex(srv, got + roff, LEN - roff, &n) != 1) {
				assert_int_equal(SSL_get_error(srv, 0),
						 SSL_ERROR_WANT_READ);
				waited++;
				break;
			}
			roff += n;
		}
	}
	assert_int_equal(roff, LEN);
	assert_memory_equal(got, data, LEN);
	assert_true(eagain > 0);	/* the socket did fill */
	assert_int_equal(nb_sockbio_unsent(cli), 0);

	/* the node went away: the flush fails, the process lives */
	SSL_free(srv);
	close(sv[1]);
	size_t n = 0;
	assert_int_equal(SSL_write_ex(cli, data, 100, &n), 1);
	assert_int_equal(nb_sockbio_flush(cli), -EPIPE);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	close(sv[0]);
	free(data);
	free(got);
	(void)waited;
}

static void test_split_by_max_io_size(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	uint8_t *buf = malloc(64 * KiB);
	struct iovec iov[8];
	struct session *c;

	e->node[0]->max_io_size = 8 * KiB;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 64 * KiB, 0, 3);
	int n = scatter(buf, 64 * KiB, iov);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 64 * KiB, 0, iov, n), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], 8);
	assert_memory_equal(buf, e->disk.bytes, 64 * KiB);
	nb_session_free(c);
	free(buf);
	engine_env_free(e);
}

static void test_volume_not_found(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	char err[512];

	e->cfg.volume = "nosuchvol";
	errno = 0;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "nosuchvol"));
	assert_non_null(strstr(err, "not found"));
	assert_non_null(strstr(err, e->node[0]->addr));
	engine_env_free(e);
}

static void test_unreachable(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	const char *addr[] = { NULL };
	char err[512], dead[64];

	/* a port that was just free */
	snprintf(dead, sizeof(dead), "%s", e->node[0]->addr);
	fake_node_free(e->node[0]);
	e->n_nodes = 0;
	addr[0] = dead;
	e->cfg.nodes = addr;
	errno = 0;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, ECONNREFUSED);
	assert_non_null(strstr(err, dead));
	assert_non_null(strstr(err, "refused"));
	engine_env_free(e);
}

static void test_bad_config(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	const char *bad[] = { "127.0.0.1" };
	char err[512];

	e->cfg.tls_ca = "/nonexistent/ca.crt";
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/ca.crt"));
	e->cfg.tls_ca = engine_env_pki.ca;
	e->cfg.tls_key = NULL;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "together"));
	e->cfg.tls_key = engine_env_pki.key;
	e->cfg.nodes = bad;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "'127.0.0.1'"));
	engine_env_free(e);
}

static void test_tls_failures(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	char err[512];

	/* a CA that did not sign the node */
	e->cfg.tls_ca = engine_env_pki.other_ca;
	errno = 0;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "certificate verify failed"));
	assert_non_null(strstr(err, "local issuer"));

	/* the name the certificate must carry */
	e->cfg.tls_ca = engine_env_pki.ca;
	e->cfg.server_name = "storage.example.org";
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "hostname mismatch"));
	/* a name the certificate does carry works */
	e->cfg.server_name = "localhost";
	struct session *c = engine_env_open(e);
	nb_session_free(c);
	e->cfg.server_name = NULL;

	/* expired node certificate */
	e->node[0]->ctx = engine_env_pki.expired_ctx;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "certificate has expired"));
	e->node[0]->ctx = engine_env_pki.server_ctx;

	/* no client certificate: the node refuses us */
	e->cfg.tls_cert = e->cfg.tls_key = NULL;
	assert_null(nb_session_open_sync(e->loop, &e->cfg, err, sizeof(err)));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "certificate"));
	engine_env_free(e);
}

/* ---- hooks ---- */

struct hook_ctl {
	enum rpc_op op;           /* requests of this op are affected */
	int times;                /* this many times; -1 = always */
	enum fake_kind kind;
	enum rpc_status status;
	uint64_t epoch;
	int variant;              /* malformed variant */
	int hits;
};

static void hook_status(struct fake_node *n, const struct rpc_request *req,
			struct fake_answer *ans, void *opaque)
{
	struct hook_ctl *h = opaque;

	if (req->op != h->op || h->times == 0)
		return;
	if (h->times > 0)
		h->times--;
	h->hits++;
	ans->kind = h->kind;
	ans->rep.status = h->status;
	if (h->epoch)
		ans->rep.epoch = h->epoch;
	snprintf(ans->rep.message, sizeof(ans->rep.message), "injected by test");
}

static void test_status_results(void **state)
{
	static const struct {
		enum rpc_status status;
		int result;
	} cases[] = {
		{ RPC_STATUS_UNSUPPORTED, -EOPNOTSUPP },
		{ RPC_STATUS_OUT_OF_RANGE, -EIO },
		{ RPC_STATUS_READ_ONLY, -EROFS },
		{ RPC_STATUS_NO_SPACE, -EIO },
		{ RPC_STATUS_MALFORMED, -EIO },
	};
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .kind = FAKE_REPLY };
	uint8_t buf[4096] = { 1 };
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c = engine_env_open(e);

	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h.times = 1;
		h.status = cases[i].status;
		assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1),
				 cases[i].result);
		if (cases[i].result == -EIO) {
			const char *m = nb_session_last_error(c);

			assert_non_null(strstr(m, nb_rpc_status_name(cases[i].status)));
			assert_non_null(strstr(m, e->node[0]->addr));
			assert_non_null(strstr(m, "request id"));
			assert_non_null(strstr(m, "injected by test"));
		}
	}
	/* and the next write works */
	h.times = 0;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_io_error_failover(void **state)
{
	/* one placement: node 0 preferred, then node 1 */
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_IO_ERROR };
	uint8_t buf[8192];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c = engine_env_open(e);

	pattern(e->disk.bytes, 8192, 0, 5);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 8192, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 8192);
	assert_int_equal(h.hits, 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 1);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_io_timeout(void **state)
{
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_IO_ERROR };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.io_timeout = 0.4;
	c = engine_env_open(e);
	for (int i = 0; i < 2; i++) {
		e->node[i]->hook = hook_status;
		e->node[i]->hook_opaque = &h;
	}
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), -EIO);
	assert_true(h.hits >= 2); /* both nodes tried, then retried */
	assert_non_null(strstr(nb_session_last_error(c), "IO_ERROR"));
	assert_non_null(strstr(nb_session_last_error(c), "gave up"));
	nb_session_free(c);
	engine_env_free(e);
}

static void test_busy_retry(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .times = 3, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_BUSY };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c = engine_env_open(e);
	struct session_stats st;

	pattern(buf, sizeof(buf), 0, 9);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 8192, 4096, SESSION_FLAG_FUA,
				 &iov, 1), 0);
	assert_int_equal(h.hits, 3);
	assert_memory_equal(e->disk.bytes + 8192, buf, 4096);
	nb_session_get_stats(c, &st);
	assert_true(st.retries == 3);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_not_owner_refresh(void **state)
{
	struct engine_env *e = engine_env_new(2, "chunk 0\n");   /* epoch 1: all on node 0 */
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_NOT_OWNER, .epoch = 2 };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c = engine_env_open(e);
	struct map *m2 = engine_env_map(e, 2, "chunk 1\n"); /* epoch 2: all on node 1 */

	pattern(e->disk.bytes, 4096, 0, 11);
	e->node[0]->map = m2;
	e->node[1]->map = m2;
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	assert_int_equal(nb_session_map(c)->epoch, 2);
	assert_int_equal(h.hits, 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 1);
	assert_true(e->node[0]->reqs[RPC_OP_GET_MAP] +
		    e->node[1]->reqs[RPC_OP_GET_MAP] == 1);
	nb_session_free(c);
	nb_map_free(m2);
	engine_env_free(e);
}

static void test_not_owner_stale_node(void **state)
{
	/* the node says NOT_OWNER with an older epoch: try the next node,
	 * keep our map */
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_NOT_OWNER };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;
	struct map *m5 = engine_env_map(e, 5, "chunk 0 1\n");

	for (int i = 0; i < 2; i++)
		e->node[i]->map = m5;
	c = engine_env_open(e);
	assert_int_equal(nb_session_map(c)->epoch, 5);
	h.epoch = 4;
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_int_equal(nb_session_map(c)->epoch, 5);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 1);
	assert_int_equal(e->node[0]->reqs[RPC_OP_GET_MAP] +
			 e->node[1]->reqs[RPC_OP_GET_MAP], 0);
	nb_session_free(c);
	nb_map_free(m5);
	engine_env_free(e);
}

/* Malformed first READ reply: the conn reconnects and the read is sent again. */
static void hook_malformed(struct fake_node *n, const struct rpc_request *req,
			   struct fake_answer *ans, void *opaque)
{
	struct hook_ctl *h = opaque;
	struct rpc_reply rep;
	int len;

	if (req->op != RPC_OP_READ || h->times == 0)
		return;
	h->times--;
	h->hits++;
	ans->kind = FAKE_RAW;
	memset(&rep, 0, sizeof(rep));
	rep.id = req->id;
	switch (h->variant) {
	case 0: /* bad magic */
		memcpy(ans->raw, "GARBAGE-GARBAGE-GARBAGE", 24);
		ans->raw_len = 24;
		return;
	case 1: /* a reply id that is not in flight */
		rep.id = req->id ^ 0x5a5a0000ull;
		len = nb_rpc_reply_encode(&rep, 0, ans->raw, sizeof(ans->raw));
		break;
	case 2: /* OK to a READ without its data */
		len = nb_rpc_reply_encode(&rep, 0, ans->raw, sizeof(ans->raw));
		break;
	case 3: /* header length over the limit */
		nb_rpc_frame_hdr_encode(ans->raw, RPC_KIND_REPLY, RPC_MAX_HDR_LEN + 1, 0);
		len = RPC_FRAME_HDR_SIZE;
		break;
	case 4: /* undecodable protobuf header */
		nb_rpc_frame_hdr_encode(ans->raw, RPC_KIND_REPLY, 6, 0);
		memcpy(ans->raw + RPC_FRAME_HDR_SIZE, "\xff\xff\xff\xff\xff\xff", 6);
		len = RPC_FRAME_HDR_SIZE + 6;
		break;
	case 5: /* a request frame from the node */
		nb_rpc_frame_hdr_encode(ans->raw, RPC_KIND_REQUEST, 2, 0);
		memcpy(ans->raw + RPC_FRAME_HDR_SIZE, "\x08\x01", 2);
		len = RPC_FRAME_HDR_SIZE + 2;
		break;
	default: /* data longer than asked for */
		len = nb_rpc_reply_encode(&rep, (uint32_t)req->length + 512, ans->raw,
				       sizeof(ans->raw));
		break;
	}
	assert_true(len > 0);
	ans->raw_len = (size_t)len;
}

static void test_malformed_replies(void **state)
{
	static const char *const expect[] = {
		"malformed frame header", "not in flight", "carries 0 data bytes",
		"too large", "undecodable", "request frame", "carries",
	};

	for (int v = 0; v < 7; v++) {
		struct engine_env *e = engine_env_new(1, NULL);
		struct hook_ctl h = { .times = 1, .variant = v };
		uint8_t buf[4096];
		struct iovec iov = { buf, sizeof(buf) };
		struct session *c = engine_env_open(e);
		struct session_stats st;

		pattern(e->disk.bytes, 4096, 0, v);
		e->node[0]->hook = hook_malformed;
		e->node[0]->hook_opaque = &h;
		assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
		assert_memory_equal(buf, e->disk.bytes, 4096);
		assert_int_equal(h.hits, 1);
		nb_session_get_stats(c, &st);
		assert_true(st.reconnects == 1);
		if (!strstr(e->log, expect[v]))
			fail_msg("variant %d: log lacks '%s':\n%s", v, expect[v], e->log);
		nb_session_free(c);
		engine_env_free(e);
	}
}

/* Seeded random frames instead of a reply: always a reconnect, never a
 * crash, and the read still completes with the right data. */
struct hook_random {
	uint64_t rnd;
	int pending;
	int hits;
};

static uint32_t test_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

static void hook_random(struct fake_node *n, const struct rpc_request *req,
			struct fake_answer *ans, void *opaque)
{
	struct hook_random *h = opaque;
	size_t len, hdr_len;

	if (req->op != RPC_OP_READ || !h->pending)
		return;
	h->pending = 0;
	h->hits++;
	ans->kind = FAKE_RAW;
	if (test_rand(&h->rnd) % 2) {
		/* anything at all, at least a frame header long */
		len = RPC_FRAME_HDR_SIZE + test_rand(&h->rnd) % 200;
		for (size_t i = 0; i < len; i++)
			ans->raw[i] = (uint8_t)test_rand(&h->rnd);
	} else {
		/* a well-framed reply header of random protobuf bytes */
		hdr_len = 1 + test_rand(&h->rnd) % 64;
		uint32_t data_len = test_rand(&h->rnd) % 3 ? 0 :
				    test_rand(&h->rnd) % 256;
		nb_rpc_frame_hdr_encode(ans->raw, RPC_KIND_REPLY, (uint32_t)hdr_len,
				     data_len);
		len = RPC_FRAME_HDR_SIZE + hdr_len + data_len;
		for (size_t i = RPC_FRAME_HDR_SIZE; i < len; i++)
			ans->raw[i] = (uint8_t)test_rand(&h->rnd);
	}
	ans->raw_len = len;
}

static void test_random_garbage(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_random h = { .rnd = 42 };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;
	struct session_stats st;

	e->cfg.try_timeout = 0.5; /* a frame cut short waits for this */
	c = engine_env_open(e);
	e->node[0]->hook = hook_random;
	e->node[0]->hook_opaque = &h;
	for (int i = 0; i < 30; i++) {
		pattern(e->disk.bytes + i * 4096, 4096, i * 4096, i);
		h.pending = 1;
		memset(buf, 0, sizeof(buf));
		assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, i * 4096, 4096, 0,
					 &iov, 1), 0);
		assert_memory_equal(buf, e->disk.bytes + i * 4096, 4096);
	}
	assert_int_equal(h.hits, 30);
	nb_session_get_stats(c, &st);
	assert_true(st.reconnects == 30);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_drop_and_resend(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .times = 1, .kind = FAKE_CLOSE };
	uint8_t buf[16384];
	struct iovec iov[8];
	struct session *c = engine_env_open(e);
	struct session_stats st;

	pattern(buf, sizeof(buf), 4096, 13);
	int n = scatter(buf, sizeof(buf), iov);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 4096, sizeof(buf), 0, iov, n), 0);
	assert_memory_equal(e->disk.bytes + 4096, buf, sizeof(buf));
	assert_int_equal(e->node[0]->conns_accepted, 2);
	nb_session_get_stats(c, &st);
	assert_true(st.reconnects == 1);
	assert_true(st.retries == 1);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_try_timeout_resend(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = 1, .kind = FAKE_HOLD };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.try_timeout = 0.3;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 4096, 0, 17);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	assert_non_null(strstr(e->log, "timed out"));
	assert_int_equal(e->node[0]->conns_accepted, 2);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * A request older than try_timeout on a connection that keeps answering
 * others is not declared stuck (a long transfer on a slow link); it gets
 * its reply on the same connection.
 */
static void test_try_timeout_busy_conn(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = 1, .kind = FAKE_HOLD };
	uint8_t slow[4096], buf[4096];
	struct iovec siov = { slow, sizeof(slow) }, iov = { buf, sizeof(buf) };
	bool slow_done = false;
	int remaining = 1;
	struct tio t = { .all_done = &slow_done, .remaining = &remaining };
	struct session *c;

	/* 2 s: a loaded test machine may pause the loop for a second */
	e->cfg.try_timeout = 2.0;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 8192, 0, 31);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	t.io = (struct session_io){ .op = SESSION_OP_READ, .offset = 0, .length = 4096,
				    .iov = &siov, .iovcnt = 1, .done = tio_done,
				    .opaque = &t };
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	/* 1.5 x try_timeout of other replies, one every 0.1 s */
	for (int i = 0; i < 30; i++) {
		assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 4096, 4096, 0, &iov, 1), 0);
		ev_sleep(0.1);
	}
	assert_false(slow_done);
	fake_node_release(e->node[0]);
	engine_env_run_until(e, &slow_done, NULL);
	assert_int_equal(t.result, 0);
	assert_memory_equal(slow, e->disk.bytes, 4096);
	assert_int_equal(e->node[0]->conns_accepted, 1);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_max_inflight_respected(void **state)
{
	enum { N = 16 };
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_HOLD };
	static uint8_t bufs[N][4096];
	struct tio t[N];
	bool all = false;
	int remaining = N;
	struct session *c;

	e->node[0]->max_inflight = 2;
	c = engine_env_open(e);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].iov[0] = (struct iovec){ bufs[i], 4096 };
		t[i].all_done = &all;
		t[i].remaining = &remaining;
		t[i].io = (struct session_io){ .op = SESSION_OP_READ, .offset = i * 8192,
					       .length = 4096, .iov = t[i].iov,
					       .iovcnt = 1, .done = tio_done,
					       .opaque = &t[i] };
		assert_int_equal(nb_session_submit(c, &t[i].io), 0);
	}
	/* bounded: each round lets the node see what was sent, then answers */
	for (int round = 0; round < 100 && !all; round++) {
		engine_env_settle(e, 20);
		assert_true(e->node[0]->held <= 2);
		fake_node_release(e->node[0]);
	}
	assert_true(all);
	assert_int_equal(e->node[0]->max_held, 2);
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].result, 0);
	}
	nb_session_free(c);
	engine_env_free(e);
}

static void test_free_completes_outstanding(void **state)
{
	enum { N = 4 };
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .times = -1, .kind = FAKE_HOLD };
	static uint8_t bufs[N][4096];
	struct tio t[N];
	struct session *c = engine_env_open(e);

	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].iov[0] = (struct iovec){ bufs[i], 4096 };
		t[i].io = (struct session_io){ .op = SESSION_OP_WRITE, .offset = i * 4096,
					       .length = 4096, .iov = t[i].iov,
					       .iovcnt = 1, .done = tio_done,
					       .opaque = &t[i] };
		assert_int_equal(nb_session_submit(c, &t[i].io), 0);
	}
	for (int round = 0; round < 200 && e->node[0]->held < N; round++)
		engine_env_settle(e, 1);
	assert_int_equal(e->node[0]->held, N);
	nb_session_free(c);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].result, -EIO);
	}
	engine_env_free(e);
}

static void test_deferred_completions(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.read_only = true;
	c = engine_env_open(e);
	/* refused locally, still completed from the loop, not from submit */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), -EROFS);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_DISCARD, 0, 4096, 0, NULL, 0), -EROFS);
	/* nothing written: FLUSH completes at once, also deferred */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_WRITE], 0);
	/* invalid ios are refused by submit itself */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 100, 4096, 0, &iov, 1), -EINVAL);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, ENGINE_ENV_VOL_SIZE, 4096, 0, &iov, 1), -EINVAL);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_NONE, 0, 0, 0, NULL, 0), -EINVAL);
	nb_session_free(c);
	engine_env_free(e);
}

static void test_node_down_failover(void **state)
{
	/* node 0 preferred for everything; it dies; node 1 takes over */
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 4096, 0, 21);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], 1);
	/* stop listening and drop the connections */
	ev_io_stop(e->loop, &e->node[0]->accept_w);
	fake_node_drop_all(e->node[0]);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 1);
	nb_session_free(c);
	engine_env_free(e);
}

/* A new map with smaller chunks: pieces in flight are cut again. */
static void test_refresh_resplits(void **state)
{
	struct engine_env *e = engine_env_new(2, "chunk 0\n");   /* 64K chunks, all node 0 */
	struct hook_ctl h = { .op = RPC_OP_READ, .times = 1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_NOT_OWNER, .epoch = 2 };
	uint8_t *buf = malloc(64 * KiB);
	struct iovec iov[8];
	struct session *c = engine_env_open(e);
	/* epoch 2: 16K chunks alternating between the nodes */
	struct map *m2 = engine_env_map_cs(e, 2, "16K", "chunk 0\nchunk 1\n");

	pattern(e->disk.bytes, 64 * KiB, 0, 23);
	for (int i = 0; i < 2; i++)
		e->node[i]->map = m2;
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	int n = scatter(buf, 64 * KiB, iov);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 64 * KiB, 0, iov, n), 0);
	assert_memory_equal(buf, e->disk.bytes, 64 * KiB);
	assert_true(nb_session_map(c)->chunk_size == 16 * KiB);
	/* 1 refused + 2 pieces on node 0, 2 pieces on node 1 */
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], 3);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 2);
	nb_session_free(c);
	nb_map_free(m2);
	free(buf);
	engine_env_free(e);
}

/* Pieces on two nodes, one fails: the io fails, the other piece is done. */
static void test_first_error_wins(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_UNSUPPORTED };
	uint8_t *buf = malloc(128 * KiB);
	struct iovec iov = { buf, 128 * KiB };
	struct session *c;

	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	pattern(buf, 128 * KiB, 0, 29);
	e->node[1]->hook = hook_status;
	e->node[1]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 128 * KiB, 0, &iov, 1),
			 -EOPNOTSUPP);
	/* chunk 0 (node 0) written, chunk 1 (node 1) refused */
	assert_memory_equal(e->disk.bytes, buf, 64 * KiB);
	assert_int_equal(h.hits, 1);
	struct session_stats st;
	nb_session_get_stats(c, &st);
	assert_true(st.errors == 1);
	nb_session_free(c);
	free(buf);
	engine_env_free(e);
}

/* ---- resilience: recovery, stalled nodes, resize, TLS reload ---- */

/*
 * io_timeout ran out (every request failed, then the node was down):
 * the same cluster serves new ios once the node answers again.
 */
static void test_recover_after_io_timeout(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_WRITE, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_IO_ERROR };
	uint8_t buf[4096], rd[4096];
	struct iovec iov = { buf, sizeof(buf) }, riov = { rd, sizeof(rd) };
	struct session_stats st;
	struct session *c;

	e->cfg.io_timeout = 0.4;
	c = engine_env_open(e);
	pattern(buf, sizeof(buf), 0, 41);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), -EIO);
	assert_true(h.hits >= 2);
	assert_non_null(strstr(nb_session_last_error(c), "gave up"));
	/* the fault is gone: the same cluster works again */
	h.times = 0;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(e->disk.bytes, buf, 4096);

	/* the node goes down: connections dropped, handshakes not answered */
	ev_io_stop(e->loop, &e->node[0]->accept_w);
	fake_node_drop_all(e->node[0]);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &riov, 1), -EIO);
	/* it comes back: a new io is served, no restart needed */
	ev_io_start(e->loop, &e->node[0]->accept_w);
	memset(rd, 0, sizeof(rd));
	e->cfg.io_timeout = 0; /* (config was copied: the cluster keeps 0.4) */
	int ret = -EIO;
	for (int i = 0; i < 40 && ret; i++)
		ret = engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &riov, 1);
	assert_int_equal(ret, 0);
	assert_memory_equal(rd, buf, 4096);
	nb_session_get_stats(c, &st);
	assert_true(st.errors >= 2);
	assert_true(nb_session_is_ready(c));
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * A node that stops answering (stall): the request moves to the next
 * node of the placement after try_timeout, later requests go there at
 * once while the stalled node is avoided, and the first node is used
 * again once the avoidance ran out and it answers.
 */
static void test_stalled_node_avoided(void **state)
{
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_HOLD };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session_stats st;
	struct session *c;

	e->cfg.n_nodes = 2;
	e->cfg.try_timeout = 0.3;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 64 * KiB, 0, 43);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 1);
	assert_non_null(strstr(e->log, "did not answer in time"));
	/* avoided: the next ones go straight to node 1 */
	for (int i = 1; i < 6; i++) {
		memset(buf, 0, sizeof(buf));
		assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, i * 4096, 4096, 0,
					 &iov, 1), 0);
		assert_memory_equal(buf, e->disk.bytes + i * 4096, 4096);
	}
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 6);
	nb_session_get_stats(c, &st);
	assert_true(st.timeouts == 1);

	/* node 0 recovers; after the avoidance it is preferred again */
	h.times = 0;
	fake_node_release(e->node[0]);
	ev_sleep(0.35);
	unsigned before = e->node[0]->reqs[RPC_OP_READ];
	for (int i = 0; i < 4; i++)
		assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, i * 4096, 4096, 0,
					 &iov, 1), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_READ], before + 4);
	nb_session_free(c);
	engine_env_free(e);
}

struct vol_seen {
	int calls;
	int err;
	uint64_t size;
	bool done;
	bool *in_call;
	bool inside;
};

static void vol_cb(struct session *c, const struct session_volume *info,
		   int err, void *opaque)
{
	struct vol_seen *v = opaque;

	v->calls++;
	v->err = err;
	v->size = info ? info->size : 0;
	assert_true(err != 0 || info == nb_session_volume(c));
	if (v->in_call && *v->in_call)
		v->inside = true;
	v->done = true;
}

static void test_refresh_volume(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	struct hook_ctl h = { .op = RPC_OP_INFO, .times = -1, .kind = FAKE_HOLD };
	uint8_t *buf = malloc(64 * KiB), *rd = malloc(64 * KiB);
	struct iovec iov = { buf, 64 * KiB }, riov = { rd, 64 * KiB };
	bool in_call = false;
	struct vol_seen v = { .in_call = &in_call };
	struct session *c;

	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	assert_true(nb_session_volume(c)->size == ENGINE_ENV_VOL_SIZE);
	/* grow the volume on the nodes: 4 MiB -> 8 MiB */
	e->disk.bytes = realloc(e->disk.bytes, 2 * ENGINE_ENV_VOL_SIZE);
	memset(e->disk.bytes + ENGINE_ENV_VOL_SIZE, 0, ENGINE_ENV_VOL_SIZE);
	e->disk.size = 2 * ENGINE_ENV_VOL_SIZE;
	pattern(buf, 64 * KiB, 6u << 20, 47);
	/* not yet known: refused */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 6u << 20, 64 * KiB, 0,
				 &iov, 1), -EINVAL);
	in_call = true;
	assert_int_equal(nb_session_refresh_volume(c, vol_cb, &v), 0);
	in_call = false;
	assert_int_equal(v.calls, 0);
	engine_env_run_until(e, &v.done, NULL);
	assert_int_equal(v.calls, 1);
	assert_false(v.inside);
	assert_int_equal(v.err, 0);
	assert_true(v.size == 2 * ENGINE_ENV_VOL_SIZE);
	assert_true(nb_session_volume(c)->size == 2 * ENGINE_ENV_VOL_SIZE);
	assert_non_null(strstr(e->log, "size changed"));
	/* beyond the old size, within the new one: accepted, data right */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 6u << 20, 64 * KiB, 0,
				 &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 6u << 20, 64 * KiB, 0,
				 &riov, 1), 0);
	assert_memory_equal(rd, buf, 64 * KiB);
	assert_memory_equal(e->disk.bytes + (6u << 20), buf, 64 * KiB);
	/* reconnecting to a node that reports the new size works */
	fake_node_drop_all(e->node[0]);
	fake_node_drop_all(e->node[1]);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 64 * KiB, 0, &riov, 1), 0);

	/* a changed block size is refused, the size kept */
	e->node[0]->block_size = e->node[1]->block_size = 4096;
	memset(&v, 0, sizeof(v));
	assert_int_equal(nb_session_refresh_volume(c, vol_cb, &v), 0);
	engine_env_run_until(e, &v.done, NULL);
	assert_int_equal(v.err, -EPROTO);
	assert_true(nb_session_volume(c)->size == 2 * ENGINE_ENV_VOL_SIZE);
	e->node[0]->block_size = e->node[1]->block_size = 512;

	/* the node that has it loses the connection: another node answers */
	for (int i = 0; i < 2; i++) {
		e->node[i]->hook = hook_status;
		e->node[i]->hook_opaque = &h;
	}
	/* both connections up again (bounded wait) */
	struct session_stats st;
	for (int i = 0; i < 100; i++) {
		nb_session_get_stats(c, &st);
		if (st.conns_ready == 2)
			break;
		ev_sleep(0.05);
		engine_env_settle(e, 5);
	}
	assert_int_equal(st.conns_ready, 2);
	h.times = 1;
	memset(&v, 0, sizeof(v));
	assert_int_equal(nb_session_refresh_volume(c, vol_cb, &v), 0);
	for (int round = 0; round < 200 && h.hits < 1; round++)
		engine_env_settle(e, 1);
	assert_int_equal(h.hits, 1);
	for (int i = 0; i < 2; i++)
		if (e->node[i]->held)
			fake_node_drop_all(e->node[i]);
	engine_env_run_until(e, &v.done, NULL);
	assert_int_equal(v.err, 0);
	assert_true(v.size == 2 * ENGINE_ENV_VOL_SIZE);

	/* nb_session_free with a refresh outstanding: -ESHUTDOWN, from free */
	h.times = -1;
	memset(&v, 0, sizeof(v));
	assert_int_equal(nb_session_refresh_volume(c, vol_cb, &v), 0);
	for (int round = 0; round < 200 && !e->node[0]->held && !e->node[1]->held;
	     round++)
		engine_env_settle(e, 1);
	nb_session_free(c);
	assert_int_equal(v.calls, 1);
	assert_int_equal(v.err, -ESHUTDOWN);
	free(buf);
	free(rd);
	engine_env_free(e);
}

static void test_refresh_volume_not_ready(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct vol_seen v = { 0 };
	struct session *c = nb_session_new(e->loop, &e->cfg);

	assert_non_null(c);
	assert_int_equal(nb_session_refresh_volume(c, vol_cb, &v), -ENOTCONN);
	assert_int_equal(v.calls, 0);
	nb_session_free(c);
	engine_env_free(e);
}

/* Copy src to dst with mode; returns 0. */
static int copy_file_mode(const char *src, const char *dst, mode_t mode)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod %o '%s'", src, dst,
		 (unsigned)mode, dst);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_key_file_mode(void **state)
{
	char key[160], err[512];
	SSL_CTX *ctx;

	snprintf(key, sizeof(key), "%s/open.key", engine_env_pki.dir);
	assert_int_equal(copy_file_mode(engine_env_pki.key, key, 0644), 0);
	errno = 0;
	ctx = nb_tls_client_ctx_new(engine_env_pki.ca, engine_env_pki.cert, key, NULL, err,
				 sizeof(err));
	assert_null(ctx);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(err, key));
	assert_non_null(strstr(err, "0644"));
	assert_non_null(strstr(err, "group or others"));
	assert_int_equal(copy_file_mode(engine_env_pki.key, key, 0640), 0);
	assert_null(nb_tls_client_ctx_new(engine_env_pki.ca, engine_env_pki.cert, key, NULL, err,
				       sizeof(err)));
	assert_non_null(strstr(err, "0640"));
	assert_int_equal(copy_file_mode(engine_env_pki.key, key, 0400), 0);
	ctx = nb_tls_client_ctx_new(engine_env_pki.ca, engine_env_pki.cert, key, NULL, err,
				 sizeof(err));
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	unlink(key);
}

/*
 * TLS reload: a connection that is up keeps working (its io completes on
 * it); new connections use the new context. Proven with a context that
 * trusts the wrong CA (reconnects fail), then a good one (they work).
 */
static void test_reload_tls(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = 1, .kind = FAKE_HOLD };
	uint8_t slow[4096], buf[4096];
	struct iovec siov = { slow, sizeof(slow) }, iov = { buf, sizeof(buf) };
	bool slow_done = false;
	int remaining = 1;
	struct tio t = { .all_done = &slow_done, .remaining = &remaining };
	struct session_stats st;
	char err[512];
	SSL_CTX *bad, *good;
	struct session *c;

	e->cfg.io_timeout = 0;
	c = engine_env_open(e);
	pattern(e->disk.bytes, 8192, 0, 53);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	t.io = (struct session_io){ .op = SESSION_OP_READ, .offset = 0, .length = 4096,
				    .iov = &siov, .iovcnt = 1, .done = tio_done,
				    .opaque = &t };
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	for (int round = 0; round < 200 && !e->node[0]->held; round++)
		engine_env_settle(e, 1);
	assert_int_equal(e->node[0]->held, 1);

	bad = nb_tls_client_ctx_new(engine_env_pki.other_ca, engine_env_pki.cert, engine_env_pki.key,
				 NULL, err, sizeof(err));
	assert_non_null(bad);
	assert_int_equal(nb_session_reload_tls(c, bad), 0);
	SSL_CTX_free(bad); /* the cluster holds its own reference */
	/* in flight on the old connection: answered there */
	fake_node_release(e->node[0]);
	engine_env_run_until(e, &slow_done, NULL);
	assert_int_equal(t.result, 0);
	assert_memory_equal(slow, e->disk.bytes, 4096);
	assert_int_equal(e->node[0]->conns_accepted, 1);

	/* a new connection uses the new context: the node is not trusted */
	fake_node_drop_all(e->node[0]);
	remaining = 1;
	slow_done = false;
	t.calls = 0;
	t.io.offset = 4096;
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	for (int round = 0; round < 100 && !strstr(e->log, "local issuer"); round++)
		ev_run(e->loop, EVRUN_ONCE);
	assert_non_null(strstr(e->log, "certificate verify failed"));
	assert_false(slow_done);

	/* the right context again: the waiting io completes */
	good = nb_tls_client_ctx_new(engine_env_pki.ca, engine_env_pki.cert, engine_env_pki.key,
				  NULL, err, sizeof(err));
	assert_non_null(good);
	assert_int_equal(nb_session_reload_tls(c, good), 0);
	SSL_CTX_free(good);
	engine_env_run_until(e, &slow_done, NULL);
	assert_int_equal(t.result, 0);
	assert_memory_equal(slow, e->disk.bytes + 4096, 4096);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	nb_session_get_stats(c, &st);
	assert_true(st.tls_reloads == 2);
	assert_int_equal(nb_session_reload_tls(c, NULL), -EINVAL);
	nb_session_free(c);
	engine_env_free(e);
}

/* FLUSH goes only to nodes with completed non-FUA writes since their
 * last flush (after the first one, which a new engine owes every node). */
static void test_flush_targets(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	uint8_t buf[4096] = { 7 };
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	/* the inherited obligations: the first FLUSH reaches both nodes */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	e->node[0]->reqs[RPC_OP_FLUSH] = e->node[1]->reqs[RPC_OP_FLUSH] = 0;
	/* chunk 0 -> node 0, chunk 1 -> node 1 */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, RPC_FLAG_FUA,
				 &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 64 * KiB, 4096, 0, &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	/* nothing written since: no second flush to node 1 */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * The sessions of one device (one per queue) share a FLUSH ledger: a
 * guest FLUSH on one queue reaches the node that completed a write for
 * another queue, once.
 */
static void test_flush_shared_ledger(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	uint8_t buf[4096] = { 7 };
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c1, *c2;

	e->cfg.n_nodes = 2;
	e->cfg.flush_ledger = nb_flush_ledger_new();
	assert_non_null(e->cfg.flush_ledger);
	c1 = engine_env_open(e);
	c2 = engine_env_open(e);
	/* settle the inherited obligations of both sessions */
	assert_int_equal(engine_env_io(e, c1, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(engine_env_io(e, c2, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	e->node[0]->reqs[RPC_OP_FLUSH] = e->node[1]->reqs[RPC_OP_FLUSH] = 0;

	/* queue 1 writes to node 1 (chunk 1); queue 2's FLUSH covers it */
	assert_int_equal(engine_env_io(e, c1, SESSION_OP_WRITE, 64 * KiB, 4096, 0,
				 &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c2, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	/* covered: queue 2 owes nothing more */
	assert_int_equal(engine_env_io(e, c2, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	/* a FUA write is durable: no FLUSH for it anywhere */
	assert_int_equal(engine_env_io(e, c1, SESSION_OP_WRITE, 0, 4096, RPC_FLAG_FUA,
				 &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c2, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	nb_session_free(c1);
	nb_session_free(c2);
	nb_flush_ledger_free(e->cfg.flush_ledger);
	engine_env_free(e);
}

/*
 * A FLUSH submitted while another is still in flight (which may yet
 * fail) is sent too: the node stays owed until a FLUSH succeeded.
 */
static void test_flush_overlapping(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_FLUSH, .times = 1, .kind = FAKE_HOLD };
	uint8_t buf[4096] = { 3 };
	struct iovec iov = { buf, sizeof(buf) };
	bool a_done = false, b_done = false;
	int a_left = 1, b_left = 1;
	struct tio a = { .all_done = &a_done, .remaining = &a_left };
	struct tio b = { .all_done = &b_done, .remaining = &b_left };
	struct session *c;

	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	e->node[0]->reqs[RPC_OP_FLUSH] = 0;
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	a.io = (struct session_io){ .op = SESSION_OP_FLUSH, .done = tio_done,
				    .opaque = &a };
	b.io = (struct session_io){ .op = SESSION_OP_FLUSH, .done = tio_done,
				    .opaque = &b };
	assert_int_equal(nb_session_submit(c, &a.io), 0);
	assert_int_equal(nb_session_submit(c, &b.io), 0);
	engine_env_run_until(e, &b_done, NULL);
	assert_int_equal(b.result, 0);
	assert_false(a_done);
	/* both reached the node: the first is held there, the second done */
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 2);
	fake_node_release(e->node[0]);
	engine_env_run_until(e, &a_done, NULL);
	assert_int_equal(a.result, 0);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * A new engine does not know what its predecessor left unflushed: its
 * first FLUSH goes to every node it could have written to (a candidate
 * of some placement) that did not say writes_durable, even without a
 * write of its own. Node 1 here is listed only behind node 0, of no
 * group: nothing is ever written there, so it owes nothing.
 */
static void test_flush_inherited(void **state)
{
	struct engine_env *e = engine_env_new(2, "chunk 0 1\n");
	struct session *c;

	e->own_stores = true;
	nb_map_free(e->map);
	e->map = engine_env_map(e, 1, "chunk 0 1\n");
	e->node[0]->map = e->node[1]->map = e->map;
	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 1);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 0);
	/* once flushed, nothing is owed */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 1);
	nb_session_free(c);

	/* a fresh session (a takeover) owes it again */
	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 2);
	nb_session_free(c);

	/* a read-only session owes nothing */
	e->cfg.read_only = true;
	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 2);
	nb_session_free(c);
	engine_env_free(e);
}

/* Nodes that say writes_durable never need a FLUSH. */
static void test_flush_durable(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	uint8_t buf[4096] = { 9 };
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->node[0]->writes_durable = true;
	e->cfg.n_nodes = 2;
	c = engine_env_open(e);
	/* node 1 (not durable) owes the inherited FLUSH; node 0 nothing */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	/* writes without FUA to both: only node 1 gets a FLUSH */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 64 * KiB, 4096, 0, &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 2);
	assert_int_equal(e->node[0]->reqs[RPC_OP_WRITE], 1);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * A FLUSH answered with an error leaves the node marked: the next FLUSH
 * goes there again, and succeeds once the node does.
 */
static void test_flush_error_keeps_mark(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_FLUSH, .times = -1, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_IO_ERROR };
	uint8_t buf[4096] = { 3 };
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.io_timeout = 0.3;
	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), -EIO);
	assert_true(h.hits >= 1);
	h.times = 0;
	unsigned before = e->node[0]->reqs[RPC_OP_FLUSH];
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], before + 1);
	/* and now it is clean */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], before + 1);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * The node that holds unflushed writes is lost for good: the FLUSH
 * fails at the I/O deadline rather than succeeding; it is never sent
 * to the other node of the group, which did not acknowledge the writes.
 * Without a deadline it waits, and completes once the node is back.
 */
static void test_flush_lost_node(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	uint8_t buf[4096] = { 5 };
	struct iovec iov = { buf, sizeof(buf) };
	struct tio t = { 0 };
	struct session *c;

	e->cfg.n_nodes = 2;
	e->cfg.io_timeout = 0.5;
	c = engine_env_open(e);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	ev_io_stop(e->loop, &e->node[0]->accept_w);
	fake_node_drop_all(e->node[0]);
	double t0 = ev_time();
	assert_int_equal(engine_env_io(e, c, SESSION_OP_FLUSH, 0, 0, 0, NULL, 0), -EIO);
	double took = ev_time() - t0;
	assert_true(took >= 0.45 && took < 1.5);
	assert_int_equal(e->node[1]->reqs[RPC_OP_FLUSH], 1);
	assert_non_null(strstr(nb_session_last_error(c), "gave up after"));
	nb_session_free(c);

	/* no deadline: still waiting after 1 s, done once the node is back */
	e->cfg.io_timeout = 0;
	c = engine_env_open(e);
	bool done = false;
	int remaining = 1;
	t.all_done = &done;
	t.remaining = &remaining;
	t.io = (struct session_io){ .op = SESSION_OP_FLUSH, .done = tio_done,
				    .opaque = &t };
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	for (double end = ev_time() + 1.0; ev_time() < end;)
		ev_run(e->loop, EVRUN_ONCE);
	assert_false(done);
	ev_io_start(e->loop, &e->node[0]->accept_w);
	engine_env_run_until(e, &done, NULL);
	assert_int_equal(t.result, 0);
	assert_int_equal(e->node[0]->reqs[RPC_OP_FLUSH], 2);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * Nodes with their own stores (no group), a map listing both for every
 * chunk: when the first node is down its chunks wait or fail at the
 * deadline; they are never read from the other node's data.
 */
static void test_no_failover_across_stores(void **state)
{
	struct engine_env *e = engine_env_new(2, NULL);
	struct fake_disk other = { .size = ENGINE_ENV_VOL_SIZE };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	other.bytes = calloc(1, ENGINE_ENV_VOL_SIZE);
	e->node[1]->disk = &other;
	e->own_stores = true;
	nb_map_free(e->map);
	e->map = engine_env_map(e, 1, "chunk 0 1\nchunk 1 0\n");
	e->node[0]->map = e->node[1]->map = e->map;
	e->cfg.n_nodes = 2;
	e->cfg.io_timeout = 0.5;
	c = engine_env_open(e);
	pattern(buf, sizeof(buf), 0, 61);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 0, 4096, 0, &iov, 1), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_WRITE, 64 * KiB, 4096, 0, &iov, 1), 0);
	assert_int_equal(e->node[1]->reqs[RPC_OP_WRITE], 1);
	/* an IO_ERROR is retried on node 0 only */
	struct hook_ctl h = { .op = RPC_OP_READ, .times = 2, .kind = FAKE_REPLY,
			      .status = RPC_STATUS_IO_ERROR };
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	assert_int_equal(h.hits, 2);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 0);

	/* node 0 down for good */
	ev_io_stop(e->loop, &e->node[0]->accept_w);
	fake_node_drop_all(e->node[0]);
	memset(buf, 0xee, sizeof(buf));
	double t0 = ev_time();
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), -EIO);
	assert_true(ev_time() - t0 < 1.5);
	assert_int_equal(e->node[1]->reqs[RPC_OP_READ], 0);
	assert_non_null(strstr(nb_session_last_error(c), "gave up after"));
	/* node 1's chunk keeps working */
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 64 * KiB, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, other.bytes + 64 * KiB, 4096);
	nb_session_free(c);
	engine_env_free(e);
	free(other.bytes);
}

/*
 * io_timeout is a deadline whatever try_timeout says: a request without
 * an answer fails at io_timeout (its connection closed first, so no copy
 * can run later), and the log says the true time.
 */
static void test_io_deadline_in_flight(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_HOLD };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	e->cfg.io_timeout = 0.4;
	e->cfg.try_timeout = 5;
	c = engine_env_open(e);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	double t0 = ev_time();
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), -EIO);
	double took = ev_time() - t0;
	assert_true(took >= 0.35 && took < 1.0);
	assert_non_null(strstr(nb_session_last_error(c), "gave up after 0.4"));
	assert_non_null(strstr(e->log, "I/O timeout"));
	/* the connection was closed: the held request is gone with it */
	engine_env_settle(e, 20);
	h.times = 0;
	fake_node_release(e->node[0]);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_true(e->node[0]->conns_accepted >= 2);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * io_timeout changed on a live session (the agent applies a spec's new
 * io_timeout without a detach): shortened, a held request fails at the
 * new deadline; removed, held requests stay and complete once the node
 * answers; a negative value is refused.
 */
static void test_set_io_timeout(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	struct hook_ctl h = { .op = RPC_OP_READ, .times = -1, .kind = FAKE_HOLD };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	bool done = false;
	int remaining = 1;
	struct tio t = { .all_done = &done, .remaining = &remaining };
	struct session *c;

	e->cfg.io_timeout = 60;
	e->cfg.try_timeout = 60;
	c = engine_env_open(e);
	e->node[0]->hook = hook_status;
	e->node[0]->hook_opaque = &h;
	assert_int_equal(nb_session_set_io_timeout(c, -1), -EINVAL);

	/* shortened: the held read gives up at the new deadline */
	t.io = (struct session_io){ .op = SESSION_OP_READ, .length = 4096,
				    .iov = &iov, .iovcnt = 1, .done = tio_done,
				    .opaque = &t };
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	engine_env_settle(e, 20);
	assert_int_equal(t.calls, 0);
	assert_int_equal(nb_session_set_io_timeout(c, 0.3), 0);
	engine_env_run_until(e, &done, NULL);
	assert_int_equal(t.result, -EIO);
	assert_non_null(strstr(nb_session_last_error(c), "gave up after 0.3"));
	engine_env_settle(e, 20);
	h.times = 0;
	fake_node_release(e->node[0]);

	/* removed: a held read stays, then completes when answered */
	h.times = -1;
	done = false;
	remaining = 1;
	t.calls = 0;
	t.io = (struct session_io){ .op = SESSION_OP_READ, .length = 4096,
				    .iov = &iov, .iovcnt = 1, .done = tio_done,
				    .opaque = &t };
	assert_int_equal(nb_session_submit(c, &t.io), 0);
	engine_env_settle(e, 20);
	assert_int_equal(nb_session_set_io_timeout(c, 0), 0);
	engine_env_settle(e, 20);
	assert_int_equal(t.calls, 0);
	h.times = 0;
	fake_node_release(e->node[0]);
	engine_env_run_until(e, &done, NULL);
	assert_int_equal(t.result, 0);
	/* and a timeout again, for new requests */
	assert_int_equal(nb_session_set_io_timeout(c, 5), 0);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	nb_session_free(c);
	engine_env_free(e);
}

/*
 * A seed given by host name is looked up off the loop (resolve.c) and
 * connects; a session freed while a lookup runs lets go of it cleanly.
 */
static void test_host_name_seed(void **state)
{
	struct engine_env *e = engine_env_new(1, NULL);
	const char *port = strrchr(e->node[0]->addr, ':');
	char name[64];
	const char *seeds[1] = { name };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct session *c;

	snprintf(name, sizeof(name), "localhost%s", port);
	e->cfg.nodes = seeds;
	e->cfg.server_name = "127.0.0.1";
	c = engine_env_open(e);
	pattern(e->disk.bytes, 4096, 0, 71);
	assert_int_equal(engine_env_io(e, c, SESSION_OP_READ, 0, 4096, 0, &iov, 1), 0);
	assert_memory_equal(buf, e->disk.bytes, 4096);
	nb_session_free(c);

	for (int i = 0; i < 20; i++) {
		c = nb_session_new(e->loop, &e->cfg);
		assert_non_null(c);
		assert_int_equal(nb_session_start(c, NULL, NULL), 0);
		engine_env_settle(e, i % 3);
		nb_session_free(c);
	}
	engine_env_settle(e, 5);
	engine_env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_flush),
		cmocka_unit_test(test_many_in_flight_bulk),
		cmocka_unit_test(test_tls_send_gathering),
		cmocka_unit_test(test_split_by_max_io_size),
		cmocka_unit_test(test_volume_not_found),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_tls_failures),
		cmocka_unit_test(test_status_results),
		cmocka_unit_test(test_io_error_failover),
		cmocka_unit_test(test_io_timeout),
		cmocka_unit_test(test_set_io_timeout),
		cmocka_unit_test(test_busy_retry),
		cmocka_unit_test(test_not_owner_refresh),
		cmocka_unit_test(test_not_owner_stale_node),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_drop_and_resend),
		cmocka_unit_test(test_try_timeout_resend),
		cmocka_unit_test(test_try_timeout_busy_conn),
		cmocka_unit_test(test_max_inflight_respected),
		cmocka_unit_test(test_free_completes_outstanding),
		cmocka_unit_test(test_deferred_completions),
		cmocka_unit_test(test_node_down_failover),
		cmocka_unit_test(test_refresh_resplits),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_recover_after_io_timeout),
		cmocka_unit_test(test_stalled_node_avoided),
		cmocka_unit_test(test_refresh_volume),
		cmocka_unit_test(test_refresh_volume_not_ready),
		cmocka_unit_test(test_key_file_mode),
		cmocka_unit_test(test_reload_tls),
		cmocka_unit_test(test_flush_targets),
		cmocka_unit_test(test_flush_shared_ledger),
		cmocka_unit_test(test_flush_overlapping),
		cmocka_unit_test(test_flush_inherited),
		cmocka_unit_test(test_flush_durable),
		cmocka_unit_test(test_flush_error_keeps_mark),
		cmocka_unit_test(test_flush_lost_node),
		cmocka_unit_test(test_no_failover_across_stores),
		cmocka_unit_test(test_io_deadline_in_flight),
		cmocka_unit_test(test_host_name_seed),
	};

	return cmocka_run_group_tests(tests, engine_env_setup, engine_env_teardown);
}
