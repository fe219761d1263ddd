/* SPDX-License-Identifier: MIT */
/* In-process TLS storage node for unit tests; see fake_node.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fake_node.h"
#include "sockbio.h"
#include "tls.h"

/* ---- PKI ---- */

static long fake_serial = 1;

static int fake_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

static X509 *fake_cert(EVP_PKEY *key, EVP_PKEY *sign_key, X509 *issuer,
		       const char *cn, bool ca, const char *san,
		       long from_s, long to_s)
{
	X509 *x = X509_new();
	X509_NAME *name;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), fake_serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (ca) {
		fake_add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		fake_add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		fake_add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
	}
	if (san)
		fake_add_ext(x, issuer, NID_subject_alt_name, san);
	X509_sign(x, sign_key, EVP_sha256());
	return x;
}

static int fake_write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      cert ? 0644 : 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = cert ? PEM_write_X509(f, cert) :
		    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return ok ? 0 : -1;
}

static SSL_CTX *fake_server_ctx(X509 *cert, EVP_PKEY *key, X509 *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_use_certificate(ctx, cert);
	SSL_CTX_use_PrivateKey(ctx, key);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_NO_AUTO_CHAIN);
	return ctx;
}

int fake_pki_init(struct fake_pki *pki)
{
	const char *san = "IP:127.0.0.1,IP:::1,DNS:localhost";
	EVP_PKEY *ca_key, *srv_key, *cli_key, *other_key;
	X509 *ca, *srv, *old, *cli, *other;
	char path[128];

	memset(pki, 0, sizeof(*pki));
	snprintf(pki->dir, sizeof(pki->dir), "/tmp/netblk-unit.XXXXXX");
	if (!mkdtemp(pki->dir))
		return -1;
	ca_key = EVP_EC_gen("P-256");
	srv_key = EVP_EC_gen("P-256");
	cli_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	ca = fake_cert(ca_key, ca_key, NULL, "fake CA", true, NULL, -3600, 86400);
	other = fake_cert(other_key, other_key, NULL, "other CA", true, NULL,
			  -3600, 86400);
	srv = fake_cert(srv_key, ca_key, ca, "fake node", false, san, -3600, 86400);
	old = fake_cert(srv_key, ca_key, ca, "fake node", false, san,
			-3 * 86400, -86400);
	cli = fake_cert(cli_key, ca_key, ca, "fake client", false, NULL,
			-3600, 86400);

	snprintf(pki->ca, sizeof(pki->ca), "%s/ca.crt", pki->dir);
	snprintf(pki->cert, sizeof(pki->cert), "%s/client.crt", pki->dir);
	snprintf(pki->key, sizeof(pki->key), "%s/client.key", pki->dir);
	snprintf(pki->other_ca, sizeof(pki->other_ca), "%s/other-ca.crt", pki->dir);
	int ret = fake_write_pem(pki->ca, ca, NULL) |
		  fake_write_pem(pki->cert, cli, NULL) |
		  fake_write_pem(pki->key, NULL, cli_key) |
		  fake_write_pem(pki->other_ca, other, NULL);
	(void)path;
	pki->server_ctx = fake_server_ctx(srv, srv_key, ca);
	pki->expired_ctx = fake_server_ctx(old, srv_key, ca);

	X509_free(ca);
	X509_free(other);
	X509_free(srv);
	X509_free(old);
	X509_free(cli);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(cli_key);
	EVP_PKEY_free(other_key);
	return ret ? -1 : 0;
}

void fake_pki_free(struct fake_pki *pki)
{
	unlink(pki->ca);
	unlink(pki->cert);
	unlink(pki->key);
	unlink(pki->other_ca);
	rmdir(pki->dir);
	SSL_CTX_free(pki->server_ctx);
	SSL_CTX_free(pki->expired_ctx);
}

/* ---- server connections ---- */

struct fake_held {
	struct rpc_request req;
	uint8_t *data;
	struct fake_held *next;
};

struct fake_conn {
	struct fake_node *n;
	int fd;
	SSL *ssl;
	ev_io w;
	bool tls_up;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct fake_held *held;
	bool bound;                 /* opened read-write: lock_gen applies */
	uint64_t lock_gen;
	struct fake_conn *next;
};

static void fake_conn_close(struct fake_conn *fc)
{
	struct fake_conn **pp;

	for (pp = &fc->n->conns; *pp; pp = &(*pp)->next) {
		if (*pp == fc) {
			*pp = fc->next;
			break;
		}
	}
	ev_io_stop(fc->n->loop, &fc->w);
	SSL_free(fc->ssl);
	close(fc->fd);
	while (fc->held) {
		struct fake_held *h = fc->held;

		fc->held = h->next;
		fc->n->held--;
		free(h->data);
		free(h);
	}
	free(fc->in);
	free(fc->out);
	free(fc);
}

static void fake_out_reserve(struct fake_conn *fc, size_t need)
{
	if (fc->out_cap - fc->out_len >= need)
		return;
	while (fc->out_cap - fc->out_len < need)
		fc->out_cap = fc->out_cap ? fc->out_cap * 2 : 65536;
	fc->out = realloc(fc->out, fc->out_cap);
}

static void fake_out_add(struct fake_conn *fc, const void *p, size_t len)
{
	fake_out_reserve(fc, len);
	memcpy(fc->out + fc->out_len, p, len);
	fc->out_len += len;
}

/* Returns false when the connection was closed. */
static bool fake_flush(struct fake_conn *fc)
{
	while (fc->out_off < fc->out_len) {
		size_t n = 0;
		int ret = SSL_write_ex(fc->ssl, fc->out + fc->out_off,
				       fc->out_len - fc->out_off, &n);

		if (ret != 1) {
			int e = SSL_get_error(fc->ssl, ret);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				break;
			ERR_clear_error();
			fake_conn_close(fc);
			return false;
		}
		fc->out_off += n;
	}
	if (fc->out_off == fc->out_len)
		fc->out_off = fc->out_len = 0;
	ev_io_stop(fc->n->loop, &fc->w);
	ev_io_set(&fc->w, fc->fd, EV_READ | (fc->out_len ? EV_WRITE : 0));
	ev_io_start(fc->n->loop, &fc->w);
	return true;
}

static void fake_send_reply(struct fake_conn *fc, const struct rpc_reply *rep,
			    const uint8_t *data, uint32_t data_len)
{
	size_t max = nb_rpc_reply_encoded_max(rep);
	int n;

	fake_out_reserve(fc, max + data_len);
	n = nb_rpc_reply_encode(rep, data_len, fc->out + fc->out_len,
			     fc->out_cap - fc->out_len);
	if (n < 0) {
		fprintf(stderr, "fake node: cannot encode reply: %d\n", n);
		abort();
	}
	fc->out_len += (size_t)n;
	if (data_len)
		fake_out_add(fc, data, data_len);
}

static bool fake_range_ok(struct fake_node *n, const struct rpc_request *req)
{
	return req->offset <= n->disk->size &&
	       req->length <= n->disk->size - req->offset;
}

static bool fake_fenced_op(enum rpc_op op)
{
	return op == RPC_OP_WRITE || op == RPC_OP_WRITE_ZEROES ||
	       op == RPC_OP_DISCARD || op == RPC_OP_FLUSH;
}

/* The lock part of a read-write OPEN; false with rep's status set when
 * refused. */
static bool fake_open_lock(struct fake_conn *fc, const struct rpc_request *req,
			   struct rpc_reply *rep)
{
	struct fake_node *n = fc->n;
	struct rpc_lock *l = n->lock;

	snprintf(n->open_owner, sizeof(n->open_owner), "%s", req->owner);
	n->open_break = req->break_lock;
	n->open_generation = req->lock_generation;
	if (req->lock_generation && req->lock_generation != l->generation) {
		rep->status = RPC_STATUS_FENCED;
		snprintf(rep->message, sizeof(rep->message),
			 "generation %llu was broken (now %llu, held by '%.100s')",
			 (unsigned long long)req->lock_generation,
			 (unsigned long long)l->generation, l->owner);
		return false;
	}
	if (!req->owner[0]) {
		if (l->owner[0])
			goto locked;
	} else if (!l->owner[0] || req->break_lock) {
		if (strcmp(l->owner, req->owner) || !l->generation) {
			snprintf(l->owner, sizeof(l->owner), "%s", req->owner);
			l->generation++;
			l->since = 1700000000;	/* 2023-11-14 22:13:20 UTC */
		}
	} else if (strcmp(l->owner, req->owner)) {
		goto locked;
	}
	fc->bound = true;
	fc->lock_gen = l->generation;
	return true;

locked:
	rep->status = RPC_STATUS_LOCKED;
	snprintf(rep->message, sizeof(rep->message),
		 "volume %.60s is locked by '%.100s' (generation %llu)", n->volume,
		 l->owner, (unsigned long long)l->generation);
	if (!n->locked_bare) {
		rep->has_volume = true;
		snprintf(rep->volume.volume, sizeof(rep->volume.volume), "%s",
			 n->volume);
		rep->volume.lock = *l;
	}
	return false;
}

void fake_node_break_lock(struct fake_node *n, const char *owner)
{
	snprintf(n->lock->owner, sizeof(n->lock->owner), "%s", owner);
	n->lock->generation++;
	n->lock->since = 1700000600;
}

/* The normal answer to req. */
static void fake_default(struct fake_conn *fc, const struct rpc_request *req,
			 const uint8_t *data)
{
	struct fake_node *n = fc->n;
	struct rpc_reply rep;
	const uint8_t *rdata = NULL;
	uint32_t rlen = 0;

	memset(&rep, 0, sizeof(rep));
	rep.id = req->id;
	rep.epoch = n->map ? n->map->epoch : 0;
	if (n->lock_enabled && fc->bound && fake_fenced_op(req->op) &&
	    fc->lock_gen != n->lock->generation) {
		rep.status = RPC_STATUS_FENCED;
		snprintf(rep.message, sizeof(rep.message),
			 "writer lock generation %llu was broken",
			 (unsigned long long)fc->lock_gen);
		fake_send_reply(fc, &rep, NULL, 0);
		return;
	}
	switch (req->op) {
	case RPC_OP_HANDSHAKE:
		rep.has_handshake = true;
		rep.handshake.version = RPC_VERSION;
		rep.handshake.max_inflight = req->handshake.max_inflight < n->max_inflight ?
					     req->handshake.max_inflight : n->max_inflight;
		rep.handshake.max_io_size = req->handshake.max_io_size < n->max_io_size ?
					    req->handshake.max_io_size : n->max_io_size;
		snprintf(rep.handshake.name, sizeof(rep.handshake.name), "%s", n->addr);
		rep.handshake.writes_durable = n->writes_durable;
		break;
	case RPC_OP_OPEN:
	case RPC_OP_INFO:
		if (strcmp(req->volume, n->volume)) {
			rep.status = RPC_STATUS_NOT_FOUND;
			snprintf(rep.message, sizeof(rep.message), "no volume %.200s",
				 req->volume);
			break;
		}
		if (req->op == RPC_OP_OPEN) {
			fc->bound = false;
			if (req->read_only)
				n->opens_ro++;
			else
				n->opens_rw++;
		}
		if (req->op == RPC_OP_OPEN && !req->read_only && n->lock_enabled &&
		    !fake_open_lock(fc, req, &rep))
			break;
		if (n->lock_enabled)
			rep.volume.lock = *n->lock;
		rep.has_volume = true;
		snprintf(rep.volume.volume, sizeof(rep.volume.volume), "%s", n->volume);
		rep.volume.size = n->disk->size;
		rep.volume.block_size = n->block_size;
		rep.volume.max_discard_size = n->max_discard;
		rep.volume.max_write_zeroes_size = n->max_discard;
		if (req->op == RPC_OP_OPEN)
			rep.map = n->map;
		break;
	case RPC_OP_GET_MAP:
		rep.map = n->map;
		break;
	case RPC_OP_READ:
		if (!fake_range_ok(n, req)) {
			rep.status = RPC_STATUS_OUT_OF_RANGE;
			break;
		}
		rdata = n->disk->bytes + req->offset;
		rlen = (uint32_t)req->length;
		break;
	case RPC_OP_WRITE:
		if (!fake_range_ok(n, req)) {
			rep.status = RPC_STATUS_OUT_OF_RANGE;
			break;
		}
		memcpy(n->disk->bytes + req->offset, data, req->length);
		break;
	case RPC_OP_WRITE_ZEROES:
	case RPC_OP_DISCARD:
		if (!fake_range_ok(n, req)) {
			rep.status = RPC_STATUS_OUT_OF_RANGE;
			break;
		}
		memset(n->disk->bytes + req->offset, 0, req->length);
		break;
	case RPC_OP_FLUSH:
	case RPC_OP_PING:
		break;
	case RPC_OP_UNLOCK:
		if (!n->lock_enabled) {
			rep.status = RPC_STATUS_UNSUPPORTED;
			break;
		}
		if (req->lock_generation &&
		    req->lock_generation != n->lock->generation) {
			rep.status = RPC_STATUS_FENCED;
			snprintf(rep.message, sizeof(rep.message),
				 "generation %llu is not current",
				 (unsigned long long)req->lock_generation);
			break;
		}
		fake_node_break_lock(n, "");
		rep.has_volume = true;
		snprintf(rep.volume.volume, sizeof(rep.volume.volume), "%s",
			 n->volume);
		rep.volume.size = n->disk->size;
		rep.volume.block_size = n->block_size;
		rep.volume.lock = *n->lock;
		break;
	default:
		rep.status = RPC_STATUS_UNSUPPORTED;
		break;
	}
	fake_send_reply(fc, &rep, rdata, rlen);
}

/* Handle one request. Returns false when the connection was closed. */
static bool fake_handle(struct fake_conn *fc, const struct rpc_request *req,
			const uint8_t *data)
{
	struct fake_node *n = fc->n;
	struct fake_answer ans;

	if (req->op < RPC_OP_MAX)
		n->reqs[req->op]++;
	memset(&ans, 0, sizeof(ans));
	ans.rep.id = req->id;
	ans.rep.epoch = n->map ? n->map->epoch : 0;
	if (n->hook)
		n->hook(n, req, &ans, n->hook_opaque);
	switch (ans.kind) {
	case FAKE_DEFAULT:
		fake_default(fc, req, data);
		return true;
	case FAKE_REPLY: {
		bool with_data = ans.rep.status == RPC_STATUS_OK &&
				 req->op == RPC_OP_READ && fake_range_ok(n, req);

		fake_send_reply(fc, &ans.rep,
				with_data ? n->disk->bytes + req->offset : NULL,
				with_data ? (uint32_t)req->length : 0);
		return true;
	}
	case FAKE_HOLD: {
		struct fake_held *h = calloc(1, sizeof(*h)), **pp;

		h->req = *req;
		if (req->op == RPC_OP_WRITE) {
			h->data = malloc(req->length);
			memcpy(h->data, data, req->length);
		}
		for (pp = &fc->held; *pp; pp = &(*pp)->next)
			;
		*pp = h;
		if (++n->held > n->max_held)
			n->max_held = n->held;
		return true;
	}
	case FAKE_RAW:
		fake_out_add(fc, ans.raw, ans.raw_len);
		return true;
	case FAKE_CLOSE:
	default:
		if (fake_flush(fc)) /* it may have closed already */
			fake_conn_close(fc);
		return false;
	}
}

/* Parse whole request frames from the input. */
static bool fake_parse(struct fake_conn *fc)
{
	size_t off = 0;

	while (fc->in_len - off >= RPC_FRAME_HDR_SIZE) {
		struct rpc_frame_hdr h;
		struct rpc_request req;

		if (nb_rpc_frame_hdr_decode(fc->in + off, &h, RPC_MAX_DATA_LEN) < 0 ||
		    h.kind != RPC_KIND_REQUEST) {
			fake_conn_close(fc);
			return false;
		}
		size_t total = RPC_FRAME_HDR_SIZE + h.hdr_len + h.data_len;
		if (fc->in_len - off < total)
			break;
		if (nb_rpc_request_decode(fc->in + off + RPC_FRAME_HDR_SIZE,
				       h.hdr_len, &req) < 0) {
			fake_conn_close(fc);
			return false;
		}
		if (!fake_handle(fc, &req, fc->in + off + RPC_FRAME_HDR_SIZE +
				 h.hdr_len))
			return false;
		off += total;
	}
	memmove(fc->in, fc->in + off, fc->in_len - off);
	fc->in_len -= off;
	return true;
}

static void fake_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_conn *fc = w->data;

	if (!fc->tls_up) {
		int ret = SSL_accept(fc->ssl);

		if (ret != 1) {
			int e = SSL_get_error(fc->ssl, ret);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			ERR_clear_error();
			fc->n->handshakes_failed++;
			fake_conn_close(fc);
			return;
		}
		fc->tls_up = true;
	}
	if (fc->n->paused)
		return;		/* the test spins the loop a bounded time */
	for (;;) {
		size_t n = 0;
		int ret;

		if (fc->in_cap - fc->in_len < 65536) {
			fc->in_cap = fc->in_cap ? fc->in_cap * 2 : 1 << 20;
			fc->in = realloc(fc->in, fc->in_cap);
		}
		ret = SSL_read_ex(fc->ssl, fc->in + fc->in_len,
				  fc->in_cap - fc->in_len, &n);
		if (ret != 1) {
			int e = SSL_get_error(fc->ssl, ret);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			ERR_clear_error();
			if (e == SSL_ERROR_SSL)
				fc->n->handshakes_failed++;
			fake_conn_close(fc);
			return;
		}
		fc->in_len += n;
		if (!fake_parse(fc))
			return;
	}
	fake_flush(fc);
}

static void fake_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_node *n = w->data;
	int fd = accept4(n->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct fake_conn *fc;

	if (fd < 0)
		return;
	fc = calloc(1, sizeof(*fc));
	fc->n = n;
	fc->fd = fd;
	fc->ssl = SSL_new(n->ctx);
	BIO *bio = nb_sockbio_new(fd, 0, 0); /* no SIGPIPE in tests either */
	SSL_set_bio(fc->ssl, bio, bio);
	SSL_set_accept_state(fc->ssl);
	ev_io_init(&fc->w, fake_conn_cb, fd, EV_READ);
	fc->w.data = fc;
	ev_io_start(loop, &fc->w);
	fc->next = n->conns;
	n->conns = fc;
	n->conns_accepted++;
}

struct fake_node *fake_node_new(struct ev_loop *loop, SSL_CTX *ctx,
				struct fake_disk *disk, const char *volume)
{
	struct fake_node *n = calloc(1, sizeof(*n));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	n->loop = loop;
	n->ctx = ctx;
	n->disk = disk;
	n->volume = volume;
	n->block_size = 512;
	n->lock = &n->own_lock;
	n->max_inflight = 64;
	n->max_io_size = 1 << 20;
	n->max_discard = 1 << 20;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->lfd < 0 || bind(n->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(n->lfd, 16) < 0 ||
	    getsockname(n->lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("fake node");
		abort();
	}
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	ev_io_init(&n->accept_w, fake_accept_cb, n->lfd, EV_READ);
	n->accept_w.data = n;
	ev_io_start(loop, &n->accept_w);
	return n;
}

void fake_node_release(struct fake_node *n)
{
	for (struct fake_conn *fc = n->conns, *next; fc; fc = next) {
		next = fc->next;
		while (fc->held) {
			struct fake_held *h = fc->held;

			fc->held = h->next;
			n->held--;
			fake_default(fc, &h->req, h->data);
			free(h->data);
			free(h);
		}
		fake_flush(fc);
	}
}

void fake_node_drop_all(struct fake_node *n)
{
	while (n->conns)
		fake_conn_close(n->conns);
}

void fake_node_free(struct fake_node *n)
{
	if (!n)
		return;
	fake_node_drop_all(n);
	ev_io_stop(n->loop, &n->accept_w);
	close(n->lfd);
	free(n);
}
