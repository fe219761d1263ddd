/* SPDX-License-Identifier: MIT */
/*
 * A socket BIO for TLS on a non-blocking loop, shared by the client engine
 * and the mock storage node. It sends with MSG_NOSIGNAL (a closed peer
 * gives EPIPE, never SIGPIPE) and can
 *  - gather the encrypted records OpenSSL writes (one write per record)
 *    into a send buffer that goes out with one send() per batch, and
 *  - take what one recv() brings (many records) into a receive buffer
 *    from which OpenSSL reads each record exactly (read-ahead off).
 * Knows nothing of libev or the RPC protocol. The fd stays the caller's.
 */
#ifndef NETBLK_SOCKBIO_H
#define NETBLK_SOCKBIO_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Buffer sizes that suit a TLS connection carrying bulk I/O. */
#define SOCKBIO_SEND_BUFFER_LEN (256u * 1024)
#define SOCKBIO_RECV_BUFFER_LEN (256u * 1024)

/*
 * A BIO over the connected non-blocking socket fd, with a send buffer
 * of send_len and a receive buffer of recv_len bytes (0: unbuffered in
 * that direction). Free it with BIO_free (SSL_free does when the SSL
 * owns it). NULL with errno set (ENOMEM).
 */
BIO *nb_sockbio_new(int fd, size_t send_len, size_t recv_len);

/*
 * Give ssl a socket BIO over fd with both buffers of the sizes above
 * (SSL_free frees it), and turn OpenSSL's read-ahead off for ssl: the
 * receive buffer does that job without OpenSSL moving the unread rest
 * of its buffer before every record. After SSL_write, call
 * nb_sockbio_flush() once per batch (OpenSSL flushes handshake messages
 * and alerts itself) and keep watching for writability while
 * nb_sockbio_unsent() is non-zero. Returns 0 or -ENOMEM.
 */
int nb_sockbio_attach(SSL *ssl, int fd);

/*
 * Send the records ssl's write BIO has gathered: 0 when all are out,
 * -EAGAIN when the socket is full (wait for writability and call again),
 * -errno when sending failed (e.g. -EPIPE).
 */
int nb_sockbio_flush(SSL *ssl);

/* Bytes of records gathered in ssl's write BIO but not yet sent. */
size_t nb_sockbio_unsent(SSL *ssl);

#endif
