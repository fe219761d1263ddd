/* SPDX-License-Identifier: MIT */
/* OpenSSL for the node: a TLS 1.3 only server context with mutual auth. */
#ifndef NETBLK_SRV_TLS_H
#define NETBLK_SRV_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * Server context: TLS 1.3 only, our certificate and key, and clients must
 * present a certificate that verifies against ca_file. suites: the TLS 1.3
 * cipher suites allowed (checked list, see nb_tls_suites_check()), NULL for
 * OpenSSL's default; the suite used is the first of the client's list
 * that is allowed (client preference). Returns NULL with a reason in err.
 */
SSL_CTX *nb_srv_tls_ctx_new(const char *cert_file, const char *key_file,
			  const char *ca_file, const char *suites, char *err,
			  size_t errlen);

/*
 * Whether the first certificate of cert_file is valid now. Returns 0 when
 * it is; 1 when it has expired or is not valid yet, with a sentence in
 * msg naming the file and the date ("expired on 2026-01-02 10:00:00
 * UTC"); -errno when the file cannot be read or parsed. Prints nothing.
 */
int nb_srv_tls_cert_dates(const char *cert_file, char *msg, size_t len);

/*
 * Describe why an SSL call failed (ret and SSL_get_error() result),
 * emptying the OpenSSL error queue. Mentions a failed certificate
 * verification when there was one.
 */
void nb_srv_tls_describe(SSL *ssl, int ssl_err, int ret, char *buf, size_t len);

#endif
