/* SPDX-License-Identifier: MIT */
/* TLS 1.3 client contexts, per-connection SSL objects, error text. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "errmsg.h"
#include "sockbio.h"
#include "tls.h"
#include "tls_suites.h"

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

		return nb_errf(err, errlen, -e, "cannot read %s '%s': %s",
			       what, path, strerror(e));
	}
	return 0;
}

int nb_tls_check_key_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int e = errno;

		return nb_errf(err, errlen, -e, "cannot read client key '%s': %s",
			       path, strerror(e));
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return nb_errf(err, errlen, -EPERM,
			       "client key '%s' is accessible by group or others (mode %04o); refusing it: make it private (chmod 600)",
			       path, (unsigned)(st.st_mode & 07777));
	return 0;
}

SSL_CTX *nb_tls_client_ctx_new(const char *ca, const char *cert, const char *key,
			    const char *suites, char *err, size_t errlen)
{
	char msg[256];
	SSL_CTX *ctx;
	int ret;

	if (!ca || !ca[0]) {
		nb_errf(err, errlen, -EINVAL,
			"no CA file given (needed to verify the nodes)");
		errno = EINVAL;
		return NULL;
	}
	if (!cert != !key || (cert && (!cert[0] || !key[0]))) {
		nb_errf(err, errlen, -EINVAL,
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
		ret = nb_tls_check_key_file(key, err, errlen);
	if (ret) {
		errno = -ret;
		return NULL;
	}

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		nb_errf(err, errlen, -ENOMEM, "cannot create TLS context: %s",
			tls_queue_text(msg, sizeof(msg)));
		errno = ENOMEM;
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		nb_errf(err, errlen, -EINVAL, "cannot restrict TLS to version 1.3: %s",
			tls_queue_text(msg, sizeof(msg)));
		goto out_free_ctx;
	}
	if (suites && nb_tls_suites_apply(ctx, suites, msg, sizeof(msg)) < 0) {
		nb_errf(err, errlen, -EINVAL, "--tls-ciphersuites '%s': %s", suites,
			msg);
		goto out_free_ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		nb_errf(err, errlen, -EINVAL, "cannot load CA file '%s': %s", ca,
			tls_queue_text(msg, sizeof(msg)));
		goto out_free_ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			nb_errf(err, errlen, -EINVAL,
				"cannot load client certificate '%s': %s",
				cert, tls_queue_text(msg, sizeof(msg)));
			goto out_free_ctx;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
			nb_errf(err, errlen, -EINVAL,
				"cannot load client key '%s' (not a PEM private key?): %s",
				key, tls_queue_text(msg, sizeof(msg)));
			goto out_free_ctx;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			nb_errf(err, errlen, -EINVAL,
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
	 * No read-ahead: the socket BIO of nb_tls_client_new() buffers what one
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

bool nb_tls_name_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	       inet_pton(AF_INET6, name, buf) == 1;
}

SSL *nb_tls_client_new(SSL_CTX *ctx, int fd, const char *name,
		    char *err, size_t errlen)
{
	char msg[256];
	X509_VERIFY_PARAM *param;
	SSL *ssl;

	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (!ssl) {
		nb_errf(err, errlen, -ENOMEM, "cannot create TLS session: %s",
			tls_queue_text(msg, sizeof(msg)));
		errno = ENOMEM;
		return NULL;
	}
	if (nb_sockbio_attach(ssl, fd) < 0)
		goto out_free_ssl;
	SSL_set_connect_state(ssl);
	param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param,
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (nb_tls_name_is_ip(name)) {
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
	nb_errf(err, errlen, -EINVAL, "cannot set up TLS for '%s': %s", name,
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

int nb_tls_describe_error(SSL *ssl, int ret, int ssl_err, char *buf, size_t len)
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
