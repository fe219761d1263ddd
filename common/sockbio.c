/* SPDX-License-Identifier: MIT */
/* Socket BIO with send gathering and a receive buffer (sockbio.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockbio.h"

/*
 * A socket BIO that sends with MSG_NOSIGNAL: a peer closing its end must
 * give the program an error, not kill the process with SIGPIPE.
 *
 * With a send buffer, records are gathered and sent with one send() when
 * the buffer fills or on BIO_flush (nb_sockbio_flush(); OpenSSL itself
 * flushes after handshake messages and alerts). OpenSSL hands a BIO one
 * record per write, so a 128 KiB write was 8 sends (8 trips through the
 * TCP stack and 8 wake-ups of the peer); now it is one.
 * With a receive buffer, one recv() takes what the socket has (up to
 * 256 KiB, many records) and OpenSSL reads each record from there.
 */
struct sockbio {
	int fd;
	uint8_t *buf;		/* NULL: unbuffered */
	size_t off, len, cap;	/* unsent bytes are buf[off..len) */
	uint8_t *rbuf;		/* NULL: unbuffered */
	size_t roff, rlen, rcap; /* received, unread: rbuf[roff..rlen) */
};

static BIO_METHOD *sockbio_method;
static pthread_once_t sockbio_once = PTHREAD_ONCE_INIT;

/* One send; n >= 0 sent, or -1 with the retry flag set for EAGAIN. */
static ssize_t sockbio_send(BIO *b, int fd, const void *buf, size_t len)
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
static int sockbio_drain(BIO *b, struct sockbio *t)
{
	while (t->off < t->len) {
		ssize_t n = sockbio_send(b, t->fd, t->buf + t->off,
					  t->len - t->off);

		if (n < 0)
			return BIO_should_retry(b) ? 0 : -1;
		t->off += (size_t)n;
	}
	t->off = t->len = 0;
	return 1;
}

static int sockbio_write(BIO *b, const char *buf, int len)
{
	struct sockbio *t = BIO_get_data(b);
	size_t n = len > 0 ? (size_t)len : 0;
	ssize_t sent;

	BIO_clear_retry_flags(b);
	if (t->buf && t->len + n > t->cap) {
		/* make room: send what is buffered (may leave some) */
		if (sockbio_drain(b, t) < 0)
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
	sent = sockbio_send(b, t->fd, buf, n);
	return sent < 0 ? -1 : (int)sent;
}

static int sockbio_read(BIO *b, char *buf, int len)
{
	struct sockbio *t = BIO_get_data(b);
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

static int sockbio_puts(BIO *b, const char *str)
{
	return sockbio_write(b, str, (int)strlen(str));
}

static long sockbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct sockbio *t = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		if (!t || !t->buf)
			return 1;
		return sockbio_drain(b, t) > 0 ? 1 : 0;
	case BIO_CTRL_WPENDING:
		return t && t->buf ? (long)(t->len - t->off) : 0;
	case BIO_CTRL_PENDING:
		return t && t->rbuf ? (long)(t->rlen - t->roff) : 0;
	default:
		return 0;
	}
}

static int sockbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int sockbio_destroy(BIO *b)
{
	struct sockbio *t = BIO_get_data(b);

	if (t) {
		free(t->buf);
		free(t->rbuf);
		free(t);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static void sockbio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
				     BIO_TYPE_DESCRIPTOR, "netblk socket");

	if (!m)
		return;
	BIO_meth_set_write(m, sockbio_write);
	BIO_meth_set_read(m, sockbio_read);
	BIO_meth_set_puts(m, sockbio_puts);
	BIO_meth_set_ctrl(m, sockbio_ctrl);
	BIO_meth_set_create(m, sockbio_create);
	BIO_meth_set_destroy(m, sockbio_destroy);
	sockbio_method = m;
}

BIO *nb_sockbio_new(int fd, size_t send_len, size_t recv_len)
{
	struct sockbio *t;
	BIO *b;

	pthread_once(&sockbio_once, sockbio_method_init);
	if (!sockbio_method)
		goto out_nomem;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out_nomem;
	t->fd = fd;
	if (send_len) {
		t->buf = malloc(send_len);
		if (!t->buf)
			goto out_free_bufs;
		t->cap = send_len;
	}
	if (recv_len) {
		t->rbuf = malloc(recv_len);
		if (!t->rbuf)
			goto out_free_bufs;
		t->rcap = recv_len;
	}
	b = BIO_new(sockbio_method);
	if (!b)
		goto out_free_bufs;
	BIO_set_data(b, t);
	return b;

out_free_bufs:
	free(t->buf);
	free(t->rbuf);
	free(t);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

int nb_sockbio_attach(SSL *ssl, int fd)
{
	BIO *b = nb_sockbio_new(fd, SOCKBIO_SEND_BUFFER_LEN, SOCKBIO_RECV_BUFFER_LEN);

	if (!b)
		return -ENOMEM;
	SSL_set_bio(ssl, b, b);
	SSL_set_read_ahead(ssl, 0);
	return 0;
}

int nb_sockbio_flush(SSL *ssl)
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

size_t nb_sockbio_unsent(SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);

	return b ? BIO_wpending(b) : 0;
}
