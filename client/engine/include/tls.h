/* SPDX-License-Identifier: MIT */
/*
 * TLS for the client engine: a TLS 1.3-only client SSL_CTX, per-connection
 * SSL objects with server name/IP verification, and readable error text.
 * Knows nothing of libev or the RPC protocol.
 */
#ifndef NETBLK_TLS_H
#define NETBLK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/*
 * A client context: TLS 1.3 only, server certificate verified against
 * the CA file (required), client certificate and key from cert/key (both
 * or neither; the key file must be private, see nb_tls_check_key_file()).
 * suites: the TLS 1.3 cipher suites offered, in order of preference
 * (OpenSSL syntax, checked by nb_tls_suites_check(); the nodes pick the
 * first they allow); NULL: OpenSSL's default (AES-256-GCM first); the
 * programs pass the order nb_tls_suites_default() measured.
 * Returns a new context (free with SSL_CTX_free) or NULL with errno set
 * and a message naming the file and cause in err (for bad suites
 * "--tls-ciphersuites 'LIST': why"). Reloading certificates
 * means calling it again and handing the result to nb_session_reload_tls();
 * when it fails the caller keeps using its old context.
 */
SSL_CTX *nb_tls_client_ctx_new(const char *ca, const char *cert, const char *key,
			    const char *suites, char *err, size_t errlen);

/*
 * Refuse a private key file that group or others may access (any of the
 * mode bits 077): returns 0, -EPERM with a message naming the file and
 * its mode, or -errno when it cannot be examined. nb_tls_client_ctx_new()
 * calls it for the client key.
 */
int nb_tls_check_key_file(const char *path, char *err, size_t errlen);

/*
 * An SSL for a connected socket fd, in client mode, that checks the
 * server certificate against name: an IPv4/IPv6 literal is matched
 * against IP SANs, anything else as a DNS host name (also sent as SNI).
 * Its socket BIO (sockbio.h) gathers encrypted records and sends them
 * together: after SSL_write, call nb_sockbio_flush() (OpenSSL flushes
 * handshake messages and alerts itself), and keep watching for
 * writability while nb_sockbio_unsent() is non-zero.
 * Returns NULL with errno set and a message in err.
 */
SSL *nb_tls_client_new(SSL_CTX *ctx, int fd, const char *name,
		    char *err, size_t errlen);

/*
 * Describe why a handshake or I/O failed, after SSL_connect/read/write
 * returned ret <= 0 with SSL_get_error() == ssl_err. Drains the OpenSSL
 * error queue. Certificate failures give the verify result text, e.g.
 * "certificate verify failed: certificate has expired" or
 * "... hostname mismatch". Returns -EACCES for a certificate problem,
 * -ECONNRESET when the peer closed, -EPROTO otherwise.
 */
int nb_tls_describe_error(SSL *ssl, int ret, int ssl_err, char *buf, size_t len);

/* Is name an IPv4 or IPv6 literal (no brackets)? */
bool nb_tls_name_is_ip(const char *name);

#endif
