/* SPDX-License-Identifier: MIT */
/* OpenSSL for the node: server context and error texts (srv_tls.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "srv_tls.h"
#include "tls_suites.h"

/* Text of the oldest queued OpenSSL error, queue emptied. */
static void srv_tls_queue_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	const char *reason;

	buf[0] = '\0';
	if (e == 0)
		return;
	reason = ERR_reason_error_string(e);
	if (reason)
		snprintf(buf, len, "%s", reason);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

SSL_CTX *nb_srv_tls_ctx_new(const char *cert_file, const char *key_file,
			  const char *ca_file, const char *suites, char *err,
			  size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	char why[256];
	struct stat st;
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "cannot create TLS context: %s", why);
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "cannot restrict TLS to version 1.3: %s", why);
		goto out_free_ctx;
	}
	if (suites && nb_tls_suites_apply(ctx, suites, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--tls-ciphersuites '%s': %s", suites, why);
		goto out_free_ctx;
	}
	/*
	 * The client's order decides which suite is used (it knows which is
	 * fastest on its CPU): never the server's order. This is OpenSSL's
	 * default; said here so that nobody turns it on by accident.
	 */
	SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
			      SSL_OP_PRIORITIZE_CHACHA);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "cannot load certificate --cert %s: %s",
			 cert_file, why);
		goto out_free_ctx;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "cannot load private key --key %s: %s",
			 key_file, why);
		goto out_free_ctx;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "--key %s does not match --cert %s: %s",
			 key_file, cert_file, why);
		goto out_free_ctx;
	}
	/* A private key others can read is no longer private: refuse it. */
	if (stat(key_file, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen,
			 "private key --key %s is accessible by group or others (mode %04o); refusing it: make it private (chmod 600)",
			 key_file, (unsigned)(st.st_mode & 07777));
		goto out_free_ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		srv_tls_queue_text(why, sizeof(why));
		snprintf(err, errlen, "cannot load CA certificates --ca %s: %s",
			 ca_file, why);
		goto out_free_ctx;
	}
	names = SSL_load_client_CA_file(ca_file);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* No session tickets: one less write after the handshake. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;

out_free_ctx:
	SSL_CTX_free(ctx);
	return NULL;
}

/* An ASN1_TIME as "YYYY-MM-DD HH:MM:SS UTC". */
static void srv_tls_time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "an unreadable date");
}

int nb_srv_tls_cert_dates(const char *cert_file, char *msg, size_t len)
{
	char when[64];
	X509 *x;
	FILE *f;
	int ret = 0;

	f = fopen(cert_file, "r");
	if (!f)
		return -errno;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!x)
		return -EINVAL;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		srv_tls_time_text(X509_get0_notAfter(x), when, sizeof(when));
		snprintf(msg, len, "certificate %s expired on %s: clients will refuse it",
			 cert_file, when);
		ret = 1;
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		srv_tls_time_text(X509_get0_notBefore(x), when, sizeof(when));
		snprintf(msg, len, "certificate %s is not valid before %s: clients will refuse it until then",
			 cert_file, when);
		ret = 1;
	}
	X509_free(x);
	return ret;
}

void nb_srv_tls_describe(SSL *ssl, int ssl_err, int ret, char *buf, size_t len)
{
	char why[256];
	long verify;
	int saved = errno;

	srv_tls_queue_text(why, sizeof(why));
	switch (ssl_err) {
	case SSL_ERROR_SYSCALL:
		if (why[0])
			snprintf(buf, len, "%s", why);
		else if (ret == 0 || saved == 0)
			snprintf(buf, len, "connection closed by peer without TLS close_notify");
		else
			snprintf(buf, len, "%s", strerror(saved));
		break;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(buf, len, "peer closed the TLS session");
		break;
	case SSL_ERROR_SSL:
		snprintf(buf, len, "%s", why[0] ? why : "TLS protocol error");
		break;
	default:
		snprintf(buf, len, "SSL error %d%s%s", ssl_err, why[0] ? ": " : "", why);
		break;
	}
	verify = SSL_get_verify_result(ssl);
	if (verify != X509_V_OK) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, " (client certificate: %s)",
			 X509_verify_cert_error_string(verify));
	}
}
