/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the client engine's reply path (client/engine/wire.c),
 * fed as a hostile storage node would: frame headers, reply headers, READ
 * data split anywhere, replies to the HELLO exchange, replies whose ids match
 * nothing, a request twice, or a request of another generation.
 *
 * TLS is taken out by interposition: this program defines SSL_connect,
 * SSL_read_ex, SSL_write_ex and SSL_get_error, which the engine (a static
 * library linked in here) then calls instead of libssl's; the TCP part is
 * real (a listening socket on 127.0.0.1).  The node's bytes come from the
 * input; what the engine writes is swallowed.
 *
 * Input: byte 0 flags (bit 0: admin connection, no volume, no OPEN;
 * bit 1: the owner refuses the OPEN reply), byte 1 the most bytes one
 * SSL_read returns (0: no limit), then the node's byte stream.  Requests
 * (READ into a split iovec, WRITE, FLUSH, DISCARD, WRITE_ZEROES; INFO and
 * CREATE on an admin connection) are queued before connecting and sent
 * again when answered, a bounded number of times.  Checks: a reply is
 * handed over for the request whose id it carries, each request comes back
 * exactly once per submission (answered or returned), and READ data lands
 * only inside the request's buffers (AddressSanitizer).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "conn_priv.h"
#include "engine_log.h"

#define FZ_NREQ 6
#define FZ_MAX_SUBMITS 40

static struct {
	const uint8_t *data;
	size_t size, off;
	size_t chunk;
	bool flush_pending;	/* kick seen: read no more until flushed */
	int last_err;
} fz_in;

/* ---- TLS stand-ins (interposed over libssl) ---- */

int SSL_connect(SSL *ssl)
{
	(void)ssl;
	return 1;
}

int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
{
	size_t n = fz_in.size - fz_in.off;

	(void)ssl;
	if (n == 0 || fz_in.flush_pending) {
		fz_in.last_err = SSL_ERROR_WANT_READ;
		return 0;
	}
	if (n > num)
		n = num;
	if (fz_in.chunk && n > fz_in.chunk)
		n = fz_in.chunk;
	memcpy(buf, fz_in.data + fz_in.off, n);
	fz_in.off += n;
	*readbytes = n;
	return 1;
}

int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written)
{
	(void)ssl;
	(void)buf;
	*written = num;
	return 1;
}

int SSL_get_error(const SSL *ssl, int ret)
{
	(void)ssl;
	(void)ret;
	return fz_in.last_err;
}

/* ---- the owner ---- */

struct fz_req {
	struct conn_req cr;
	struct iovec iov[2];
	unsigned int outstanding;	/* submitted, not yet back */
};

static struct fz_req fz_reqs[FZ_NREQ];
static uint8_t fz_buf[FZ_NREQ][2][4096];
static unsigned int fz_submits;
static bool fz_refuse_open;

static struct fz_req *fz_req_of(struct conn_req *cr)
{
	struct fz_req *r = (struct fz_req *)cr;

	if (r < fz_reqs || r >= fz_reqs + FZ_NREQ || r->outstanding == 0)
		abort();	/* not ours, or back twice */
	return r;
}

static void fz_submit(struct conn *conn, struct fz_req *r)
{
	if (fz_submits >= FZ_MAX_SUBMITS)
		return;
	fz_submits++;
	r->outstanding++;
	nb_conn_submit(conn, &r->cr);
}

static void fz_reply(struct conn *conn, struct conn_req *cr,
		     struct rpc_reply *rep)
{
	struct fz_req *r = fz_req_of(cr);

	if (rep->id != cr->id)
		abort();	/* handed the wrong request */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "reply id %#llx %s status %s\n",
			(unsigned long long)rep->id, nb_rpc_op_name(cr->op),
			nb_rpc_status_name(rep->status));
	r->outstanding--;
	fz_submit(conn, r);
}

static void fz_returned(struct conn *conn, struct conn_req *cr, int err)
{
	struct fz_req *r = fz_req_of(cr);

	(void)conn;
	if (err >= 0)
		abort();
	r->outstanding--;
}

static void fz_state_changed(struct conn *conn, enum conn_state old)
{
	(void)conn;
	(void)old;
}

static int fz_opened(struct conn *conn, struct rpc_reply *rep, char *msg,
		     size_t msglen)
{
	(void)conn;
	(void)rep;
	if (fz_refuse_open) {
		snprintf(msg, msglen, "refused by the owner");
		return -EINVAL;
	}
	return 0;
}

static void fz_kick(struct conn *conn)
{
	(void)conn;
	fz_in.flush_pending = true;
}

static const struct conn_ops fz_ops = {
	.state_changed = fz_state_changed, .opened = fz_opened,
	.kick = fz_kick,
};

static void fz_req_init(struct fz_req *r, unsigned int i, enum rpc_op op,
			uint64_t offset, uint64_t length)
{
	memset(r, 0, sizeof(*r));
	r->cr.reply = fz_reply;
	r->cr.returned = fz_returned;
	r->cr.op = op;
	r->cr.offset = offset;
	r->cr.length = length;
	r->iov[0].iov_base = fz_buf[i][0];
	r->iov[0].iov_len = 1000;
	r->iov[1].iov_base = fz_buf[i][1];
	r->iov[1].iov_len = 4096;
	r->cr.iov = r->iov;
	r->cr.iovcnt = 2;
	r->cr.volume = "vol0";
	r->cr.create_size = 1 << 20;
	r->cr.create_block_size = 512;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	static SSL_CTX *ctx;
	static int lfd = -1;
	static char addr[64];
	static struct conn_params p;
	static const struct elog quiet = { .level = LOG_CRIT };
	struct conn *conn;
	unsigned int i, round;
	int fd;

	if (!loop) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);

		loop = ev_loop_new(EVFLAG_AUTO);
		ctx = SSL_CTX_new(TLS_client_method());
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (!loop || !ctx || lfd < 0 ||
		    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(lfd, 64) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
			abort();
		snprintf(addr, sizeof(addr), "127.0.0.1:%u",
			 ntohs(sin.sin_port));
		p.ssl_ctx = ctx;
		p.client_name = "fuzz-client";
		p.max_inflight = 4;
		p.max_io_size = 1 << 20;
		p.connect_timeout = 5;
		p.try_timeout = 5;
		p.backoff_base = 0.1;
		p.backoff_max = 1;
		p.ops = &fz_ops;
		p.log = &quiet;
	}
	if (size < 2)
		return 0;
	p.volume = (data[0] & 1) ? NULL : "vol0";
	fz_refuse_open = data[0] & 2;
	fz_in.chunk = data[1];
	fz_in.data = data + 2;
	fz_in.size = size - 2;
	fz_in.off = 0;
	fz_in.flush_pending = false;
	fz_submits = 0;

	conn = nb_conn_new(loop, addr, &p, NULL);
	if (!conn)
		abort();
	if (p.volume) {
		fz_req_init(&fz_reqs[0], 0, RPC_OP_READ, 0, 4096);
		fz_req_init(&fz_reqs[1], 1, RPC_OP_WRITE, 4096, 512);
		fz_req_init(&fz_reqs[2], 2, RPC_OP_FLUSH, 0, 0);
		fz_req_init(&fz_reqs[3], 3, RPC_OP_DISCARD, 0, 8192);
		fz_req_init(&fz_reqs[4], 4, RPC_OP_WRITE_ZEROES, 8192, 4096);
		fz_req_init(&fz_reqs[5], 5, RPC_OP_READ, 512, 1024);
		fz_reqs[5].cr.pos.idx = 0;
		fz_reqs[5].cr.pos.off = 600;	/* data starts mid-iovec */
	} else {
		for (i = 0; i < FZ_NREQ; i++)
			fz_req_init(&fz_reqs[i], i, i & 1 ? RPC_OP_CREATE :
				    RPC_OP_INFO, 0, 0);
	}
	for (i = 0; i < FZ_NREQ; i++)
		fz_submit(conn, &fz_reqs[i]);

	/* TCP connect to our listener, then TLS (stubbed), then HELLO */
	for (round = 0; round < 50 && conn->state == CONN_CONNECTING; round++)
		ev_run(loop, EVRUN_ONCE);
	while ((fd = accept(lfd, NULL, NULL)) >= 0)
		close(fd);
	for (round = 0; round < 64; round++) {
		if (conn->state != CONN_HELLO && conn->state != CONN_READY)
			break;
		nb_conn_read(conn);
		if (!fz_in.flush_pending)
			break;	/* input used up, or the conn failed */
		fz_in.flush_pending = false;
		nb_conn_flush(conn);
	}
	nb_conn_free(conn);
	for (i = 0; i < FZ_NREQ; i++)
		if (fz_reqs[i].outstanding)
			abort();	/* a request never came back */
	return 0;
}
