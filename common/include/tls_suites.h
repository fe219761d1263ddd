/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 cipher suites: checking an operator's list (the
 * --tls-ciphersuites option of the client programs and of the mock) and
 * the client's default, the three suites every TLS 1.3 stack offers
 * ordered by how fast this CPU runs them.
 *
 * All three are strong; which is fastest depends on the CPU: with AES
 * instructions AES-128-GCM leads (AES-256-GCM does 40% more rounds), on a
 * CPU without them (or an emulated one, QEMU TCG) ChaCha20-Poly1305 does.
 * OpenSSL's own default puts AES-256-GCM first. In TLS 1.3 the server
 * picks, by default (no SSL_OP_CIPHER_SERVER_PREFERENCE) the first suite
 * of the client's list that it allows.
 *
 * Knows nothing of connections or logging; the caller logs the order.
 */
#ifndef NETBLK_TLS_SUITES_H
#define NETBLK_TLS_SUITES_H

#include <stddef.h>

#include <openssl/ssl.h>

enum tls_suite {
	TLS_SUITE_AES_128_GCM,
	TLS_SUITE_CHACHA20_POLY1305,
	TLS_SUITE_AES_256_GCM,
	TLS_SUITE_MAX
};

/* Room for any list nb_tls_suites_format() writes. */
#define TLS_SUITES_LIST_LEN 128

/* The measured order: order[0] is the fastest; rate by enum tls_suite. */
struct tls_suites_rank {
	enum tls_suite order[TLS_SUITE_MAX];
	double mb_per_s[TLS_SUITE_MAX];	/* MB/s, 1 MB = 1e6 bytes */
};

/* OpenSSL's name of a suite, e.g. "TLS_AES_128_GCM_SHA256". */
const char *nb_tls_suite_name(enum tls_suite s);

/* Short name of its cipher, e.g. "AES-128-GCM" (for logs). */
const char *nb_tls_suite_cipher(enum tls_suite s);

/*
 * Check an operator's list (OpenSSL's TLS 1.3 syntax: suite names joined
 * by ':'). Every name must be a TLS 1.3 suite this OpenSSL knows, and
 * there must be at least one. OpenSSL alone would skip an unknown name
 * when another one is known, and take an empty list: both refused here.
 * Returns 0, or -EINVAL with the reason in err (without the option's
 * name; the caller adds it).
 */
int nb_tls_suites_check(const char *list, char *err, size_t errlen);

/*
 * Set ctx's TLS 1.3 suites to list, in that order (a client's order is
 * its preference), after nb_tls_suites_check(). Returns 0 or -EINVAL with
 * the reason in err.
 */
int nb_tls_suites_apply(SSL_CTX *ctx, const char *list, char *err,
		     size_t errlen);

/*
 * Measure how fast this CPU seals and opens TLS records (16 KiB, new
 * nonce each, tag computed and checked) with each suite's AEAD through
 * EVP, and rank them: one end seals what the other opens, so the rate is
 * record bytes per second of both. The work is fixed: 16 rounds of
 * 128 KiB per cipher, alternating, the best round counts; 2-4 ms natively
 * with AES instructions, about 0.4 s under QEMU TCG (15-30 MB/s per vCPU).
 * Returns 0, or -errno when a cipher cannot be set up (out's order is
 * then the fallback AES-128-GCM, ChaCha20, AES-256-GCM with rates 0).
 */
int nb_tls_suites_measure(struct tls_suites_rank *out);

/*
 * Order r->order by r->mb_per_s, fastest first. Close rates keep the tie
 * order AES-128-GCM, ChaCha20-Poly1305, AES-256-GCM: a suite goes before
 * one earlier in that order only when measured more than 5% faster (so
 * AES-256-GCM comes before AES-128-GCM only when clearly faster). Pure.
 */
void nb_tls_suites_rank_sort(struct tls_suites_rank *r);

/* Write r's order as an OpenSSL list, "A:B:C". */
void nb_tls_suites_format(const struct tls_suites_rank *r, char *buf,
		       size_t len);

/*
 * The client's default list: measure (nb_tls_suites_measure()) and write the
 * order to list (TLS_SUITES_LIST_LEN) and a line for the log to desc,
 * e.g. "TLS_AES_128_GCM_SHA256:... (AES-128-GCM 3900 MB/s, ...)".
 * Returns what nb_tls_suites_measure() returned; list is usable either way.
 */
int nb_tls_suites_default(char *list, size_t len, char *desc, size_t desclen);

#endif
