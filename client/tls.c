/* SPDX-License-Identifier: MIT */
/* TLS 1.3 client contexts, per-connection SSL objects, error text. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Received bytes buffered per recv() in the client's socket BIO. */
#define TLS_READ_BUFFER_LEN (256u * 1024)
/* Encrypted records gathered per send() (tls_client_new). */
#define TLS_SEND_BUFFER_LEN (256u * 1024)

static void tls_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tls_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Text of the oldest queued OpenSSL error (and clear the queue). */
static const char *tls_queue_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	const char *reason;

	ERR_clear_error();
	if (e == 0)
		return "unknown TLS error";
	reason = ERR_reason_error_string(e);
	if (reason)
		snprintf(buf, len, "%s", reason);
	else
		ERR_error_string_n(e, buf, len);
	return buf;
}

static int tls_check_readable(const char *what, const char *path,
			      char *err, size_t errlen)
{
	if (access(path, R_OK) < 0) {
		int e = errno;

		tls_set_err(err, errlen, "cannot read %s '%s': %s", what, path,
			    strerror(e));
		return -e;
	}
	return 0;
}

int tls_check_key_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int e = errno;

		tls_set_err(err, errlen, "cannot read client key '%s': %s", path,
			    strerror(e));
		return -e;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		tls_set_err(err, errlen,
			    "client key '%s' is accessible by group or others (mode %04o); refusing it: make it private (chmod 600)",
			    path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

SSL_CTX *tls_client_ctx_new(const char *ca, const char *cert, const char *key,
			    char *err, size_t errlen)
{
	char msg[256];
	SSL_CTX *ctx;
	int ret;

	if (!ca || !ca[0]) {
		tls_set_err(err, errlen, "no CA file given (needed to verify the nodes)");
		errno = EINVAL;
		return NULL;
	}
	if (!cert != !key || (cert && (!cert[0] || !key[0]))) {
		tls_set_err(err, errlen,
			    "client certificate and key must be given together");
		errno = EINVAL;
		return NULL;
	}
	ret = tls_check_readable("CA file", ca, err, errlen);
	if (!ret && cert)
		ret = tls_check_readable("client certificate", cert, err, errlen);
	if (!ret && key)
		ret = tls_check_readable("client key", key, err, errlen);
	if (!ret && key)
		ret = tls_check_key_file(key, err, errlen);
	if (ret) {
		errno = -ret;
		return NULL;
	}

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		tls_set_err(err, errlen, "cannot create TLS context: %s",
			    tls_queue_text(msg, sizeof(msg)));
		errno = ENOMEM;
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		tls_set_err(err, errlen, "cannot restrict TLS to version 1.3: %s",
			    tls_queue_text(msg, sizeof(msg)));
		goto out_free_ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		tls_set_err(err, errlen, "cannot load CA file '%s': %s", ca,
			    tls_queue_text(msg, sizeof(msg)));
		goto out_free_ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			tls_set_err(err, errlen,
				    "cannot load client certificate '%s': %s",
				    cert, tls_queue_text(msg, sizeof(msg)));
			goto out_free_ctx;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
			tls_set_err(err, errlen,
				    "cannot load client key '%s' (not a PEM private key?): %s",
				    key, tls_queue_text(msg, sizeof(msg)));
			goto out_free_ctx;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			tls_set_err(err, errlen,
				    "client key '%s' does not match certificate '%s'",
				    key, cert);
			ERR_clear_error();
			goto out_free_ctx;
		}
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * No read-ahead: the socket BIO of tls_client_new() buffers what one
	 * recv brings (many records), and OpenSSL takes each record from it
	 * exactly. OpenSSL's own read-ahead moves the unread rest of its
	 * buffer to the front before every record (payload alignment): with
	 * a buffer big enough for many records that memmove cost more than
	 * the decryption.
	 */
	SSL_CTX_set_read_ahead(ctx, 0);
	return ctx;

out_free_ctx:
	SSL_CTX_free(ctx);
	errno = EINVAL;
	return NULL;
}

/*
 * A socket BIO that sends with MSG_NOSIGNAL: a node closing its end must
 * give the engine an error, not kill the process with SIGPIPE.
 *
 * With a send buffer (tls_client_new), records are gathered and sent with
 * one send() when the buffer fills or on BIO_flush (tls_flush(); OpenSSL
 * itself flushes after handshake messages and alerts). OpenSSL hands a
 * BIO one record per write, so a 128 KiB write was 8 sends (8 trips
 * through the TCP stack and 8 wake-ups of the node); now it is one.
 * With a receive buffer, one recv() takes what the socket has (up to
 * 256 KiB, many records) and OpenSSL reads each record from there.
 */
struct tls_bio {
	int fd;
	uint8_t *buf;		/* NULL: unbuffered */
	size_t off, len, cap;	/* unsent bytes are buf[off..len) */
	uint8_t *rbuf;		/* NULL: unbuffered */
	size_t roff, rlen, rcap; /* received, unread: rbuf[roff..rlen) */
};

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

/* One send; n >= 0 sent, or -1 with the retry flag set for EAGAIN. */
static ssize_t tls_bio_send(BIO *b, int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return n;
}

/*
 * Send buffered bytes until none are left (1), the socket is full (0,
 * retry flag set) or it failed (-1, errno set).
 */
static int tls_bio_drain(BIO *b, struct tls_bio *t)
{
	while (t->off < t->len) {
		ssize_t n = tls_bio_send(b, t->fd, t->buf + t->off,
					 t->len - t->off);

		if (n < 0)
			return BIO_should_retry(b) ? 0 : -1;
		t->off += (size_t)n;
	}
	t->off = t->len = 0;
	return 1;
}

static int tls_bio_write(BIO *b, const char *buf, int len)
{
	struct tls_bio *t = BIO_get_data(b);
	size_t n = len > 0 ? (size_t)len : 0;
	ssize_t sent;

	BIO_clear_retry_flags(b);
	if (t->buf && t->len + n > t->cap) {
		/* make room: send what is buffered (may leave some) */
		if (tls_bio_drain(b, t) < 0)
			return -1;
		BIO_clear_retry_flags(b);
		if (t->off && t->len + n > t->cap) {
			memmove(t->buf, t->buf + t->off, t->len - t->off);
			t->len -= t->off;
			t->off = 0;
		}
	}
	if (t->buf && (t->len > 0 || n < t->cap)) {
		size_t room = t->cap - t->len;

		if (room == 0) {
			BIO_set_retry_write(b);
			return -1;
		}
		if (n > room)
			n = room;
		memcpy(t->buf + t->len, buf, n);
		t->len += n;
		return (int)n;
	}
	/* unbuffered, or more than the whole buffer: straight out */
	sent = tls_bio_send(b, t->fd, buf, n);
	return sent < 0 ? -1 : (int)sent;
}

static int tls_bio_read(BIO *b, char *buf, int len)
{
	struct tls_bio *t = BIO_get_data(b);
	size_t want = len > 0 ? (size_t)len : 0;
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (want == 0)
		return 0;
	if (t->rbuf && t->roff == t->rlen && want < t->rcap) {
		/* refill: one recv for many records */
		n = recv(t->fd, t->rbuf, t->rcap, 0);
		if (n <= 0)
			goto out_recv_failed;
		t->roff = 0;
		t->rlen = (size_t)n;
	}
	if (t->rbuf && t->roff < t->rlen) {
		if (want > t->rlen - t->roff)
			want = t->rlen - t->roff;
		memcpy(buf, t->rbuf + t->roff, want);
		t->roff += want;
		return (int)want;
	}
	n = recv(t->fd, buf, want, 0);
	if (n > 0)
		return (int)n;
out_recv_failed:
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static int tls_bio_puts(BIO *b, const char *str)
{
	return tls_bio_write(b, str, (int)strlen(str));
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_bio *t = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		if (!t || !t->buf)
			return 1;
		return tls_bio_drain(b, t) > 0 ? 1 : 0;
	case BIO_CTRL_WPENDING:
		return t && t->buf ? (long)(t->len - t->off) : 0;
	case BIO_CTRL_PENDING:
		return t && t->rbuf ? (long)(t->rlen - t->roff) : 0;
	default:
		return 0;
	}
}

static int tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int tls_bio_destroy(BIO *b)
{
	struct tls_bio *t = BIO_get_data(b);

	if (t) {
		free(t->buf);
		free(t->rbuf);
		free(t);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static void tls_bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
				     BIO_TYPE_DESCRIPTOR, "netblk socket");

	if (!m)
		return;
	BIO_meth_set_write(m, tls_bio_write);
	BIO_meth_set_read(m, tls_bio_read);
	BIO_meth_set_puts(m, tls_bio_puts);
	BIO_meth_set_ctrl(m, tls_bio_ctrl);
	BIO_meth_set_create(m, tls_bio_create);
	BIO_meth_set_destroy(m, tls_bio_destroy);
	tls_bio_method = m;
}

static BIO *tls_bio_new(int fd, size_t send_buffer, size_t recv_buffer)
{
	struct tls_bio *t;
	BIO *b;

	pthread_once(&tls_bio_once, tls_bio_method_init);
	if (!tls_bio_method)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	if (send_buffer) {
		t->buf = malloc(send_buffer);
		if (!t->buf)
			goto out_free_bufs;
		t->cap = send_buffer;
	}
	if (recv_buffer) {
		t->rbuf = malloc(recv_buffer);
		if (!t->rbuf)
			goto out_free_bufs;
		t->rcap = recv_buffer;
	}
	b = BIO_new(tls_bio_method);
	if (!b)
		goto out_free_bufs;
	BIO_set_data(b, t);
	return b;

out_free_bufs:
	free(t->buf);
	free(t->rbuf);
	free(t);
	return NULL;
}

BIO *tls_socket_bio_new(int fd)
{
	return tls_bio_new(fd, 0, 0);
}

int tls_flush(SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);
	int e;

	if (!b || BIO_flush(b) == 1)
		return 0;
	if (BIO_should_retry(b))
		return -EAGAIN;
	e = errno;
	return e ? -e : -EIO;
}

size_t tls_unsent(SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);

	return b ? BIO_wpending(b) : 0;
}

bool tls_name_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	       inet_pton(AF_INET6, name, buf) == 1;
}

SSL *tls_client_new(SSL_CTX *ctx, int fd, const char *name,
		    char *err, size_t errlen)
{
	char msg[256];
	X509_VERIFY_PARAM *param;
	BIO *bio;
	SSL *ssl;

	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (!ssl) {
		tls_set_err(err, errlen, "cannot create TLS session: %s",
			    tls_queue_text(msg, sizeof(msg)));
		errno = ENOMEM;
		return NULL;
	}
	bio = tls_bio_new(fd, TLS_SEND_BUFFER_LEN, TLS_READ_BUFFER_LEN);
	if (!bio)
		goto out_free_ssl;
	SSL_set_bio(ssl, bio, bio);
	SSL_set_connect_state(ssl);
	param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param,
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (tls_name_is_ip(name)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1)
			goto out_free_ssl;
	} else {
		if (SSL_set1_host(ssl, name) != 1)
			goto out_free_ssl;
		if (SSL_set_tlsext_host_name(ssl, name) != 1)
			goto out_free_ssl;
	}
	return ssl;

out_free_ssl:
	tls_set_err(err, errlen, "cannot set up TLS for '%s': %s", name,
		    tls_queue_text(msg, sizeof(msg)));
	SSL_free(ssl);
	errno = EINVAL;
	return NULL;
}

/* Alerts by which the peer says it did not accept our certificate. */
static bool tls_reason_is_cert_alert(int reason)
{
	switch (reason) {
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return true;
	default:
		return false;
	}
}

int tls_describe_error(SSL *ssl, int ret, int ssl_err, char *buf, size_t len)
{
	int saved_errno = errno;
	unsigned long e;
	long vr;

	switch (ssl_err) {
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		snprintf(buf, len, "connection closed by the node");
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		e = ERR_peek_error();
		if (e == 0) {
			ERR_clear_error();
			if (ret == 0 || saved_errno == 0) {
				snprintf(buf, len,
					 "connection closed by the node");
				return -ECONNRESET;
			}
			snprintf(buf, len, "%s", strerror(saved_errno));
			return -saved_errno;
		}
		break;
	case SSL_ERROR_SSL:
		break;
	default:
		ERR_clear_error();
		snprintf(buf, len, "TLS error %d", ssl_err);
		return -EPROTO;
	}

	vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	e = ERR_get_error();
	ERR_clear_error();
	if (vr != X509_V_OK) {
		snprintf(buf, len, "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
		return -EACCES;
	}
	if (e == 0) {
		snprintf(buf, len, "TLS failure");
		return -EPROTO;
	}
	{
		const char *reason = ERR_reason_error_string(e);
		char tmp[256];

		if (!reason) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			reason = tmp;
		}
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			snprintf(buf, len, "connection closed by the node");
			return -ECONNRESET;
		}
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    tls_reason_is_cert_alert(ERR_GET_REASON(e))) {
			snprintf(buf, len, "node refused our certificate: %s",
				 reason);
			return -EACCES;
		}
		snprintf(buf, len, "TLS failure: %s", reason);
		return -EPROTO;
	}
}
