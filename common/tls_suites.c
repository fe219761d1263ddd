/* SPDX-License-Identifier: MIT */
/* TLS 1.3 cipher suites: checking a list, ranking by speed on this CPU. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "errmsg.h"
#include "tls_suites.h"

/* One TLS record's worth of plaintext, sealed per EVP call. */
#define TLS_SUITES_RECORD   16384u
/*
 * Records sealed and opened per round and cipher (128 KiB), and rounds:
 * 2 MiB per cipher in all. Many short rounds rather than a few long ones: on a
 * loaded machine a long round is rarely undisturbed (with 4 rounds of
 * 512 KiB, 1 start in 5 put ChaCha20 first on an AES-NI CPU; with 16 of
 * 128 KiB none in 120).
 */
#define TLS_SUITES_RECORDS  8u
#define TLS_SUITES_ROUNDS   16u
/* How much faster a suite must be to overtake one earlier in the tie order. */
#define TLS_SUITES_MARGIN   0.05

static const struct {
	const char *name, *cipher;
} tls_suites_table[TLS_SUITE_MAX] = {
	[TLS_SUITE_AES_128_GCM] = { "TLS_AES_128_GCM_SHA256", "AES-128-GCM" },
	[TLS_SUITE_CHACHA20_POLY1305] = { "TLS_CHACHA20_POLY1305_SHA256",
					  "ChaCha20-Poly1305" },
	[TLS_SUITE_AES_256_GCM] = { "TLS_AES_256_GCM_SHA384", "AES-256-GCM" },
};

const char *nb_tls_suite_name(enum tls_suite s)
{
	return s < TLS_SUITE_MAX ? tls_suites_table[s].name : "?";
}

const char *nb_tls_suite_cipher(enum tls_suite s)
{
	return s < TLS_SUITE_MAX ? tls_suites_table[s].cipher : "?";
}

/* How many TLS 1.3 suites ctx offers (TLS 1.3 suites name no key exchange). */
static int tls_suites_count13(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int i, n = 0;

	for (i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++)
		if (SSL_CIPHER_get_kx_nid(sk_SSL_CIPHER_value(sk, i)) ==
		    NID_kx_any)
			n++;
	return n;
}

int nb_tls_suites_check(const char *list, char *err, size_t errlen)
{
	const char *p = list, *end;
	SSL_CTX *ctx;
	char name[64];
	int ret = 0;

	if (!list || !list[0]) {
		return nb_errf(err, errlen, -EINVAL, "empty list: name at least "
			       "one of TLS_AES_128_GCM_SHA256, "
			       "TLS_AES_256_GCM_SHA384, "
			       "TLS_CHACHA20_POLY1305_SHA256");
	}
	ctx = SSL_CTX_new(TLS_method());
	if (!ctx) {
		ERR_clear_error();
		return nb_errf(err, errlen, -ENOMEM,
			       "cannot create a TLS context");
	}
	for (;;) {
		size_t len;

		end = strchr(p, ':');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || len >= sizeof(name)) {
			ret = nb_errf(err, errlen, -EINVAL, "%s name in the list",
				      len ? "overlong" : "empty");
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		/* One name at a time: a failed call keeps the old list. */
		if (SSL_CTX_set_ciphersuites(ctx, "") != 1 ||
		    SSL_CTX_set_ciphersuites(ctx, name) != 1 ||
		    tls_suites_count13(ctx) != 1) {
			ret = nb_errf(err, errlen, -EINVAL, "'%s' is not a "
				      "TLS 1.3 cipher suite (known: "
				      "TLS_AES_128_GCM_SHA256, "
				      "TLS_AES_256_GCM_SHA384, "
				      "TLS_CHACHA20_POLY1305_SHA256, "
				      "TLS_AES_128_CCM_SHA256, "
				      "TLS_AES_128_CCM_8_SHA256)", name);
			break;
		}
		if (!end)
			break;
		p = end + 1;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return ret;
}

int nb_tls_suites_apply(SSL_CTX *ctx, const char *list, char *err,
		     size_t errlen)
{
	int ret = nb_tls_suites_check(list, err, errlen);

	if (ret)
		return ret;
	if (SSL_CTX_set_ciphersuites(ctx, list) != 1) {
		ERR_clear_error();
		return nb_errf(err, errlen, -EINVAL,
			       "OpenSSL refused the list '%s'", list);
	}
	return 0;
}

static const EVP_CIPHER *tls_suites_evp(enum tls_suite s)
{
	switch (s) {
	case TLS_SUITE_AES_128_GCM:
		return EVP_aes_128_gcm();
	case TLS_SUITE_AES_256_GCM:
		return EVP_aes_256_gcm();
	case TLS_SUITE_CHACHA20_POLY1305:
		return EVP_chacha20_poly1305();
	default:
		return NULL;
	}
}

static uint64_t tls_suites_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/*
 * Seal `records` records of buf in place with enc and open them again
 * with dec: one end of a connection seals what the other opens, so a
 * suite costs both, and the two differ by cipher (on one AES-NI host
 * AES-128-GCM sealed 30 % faster than ChaCha20-Poly1305 but sealed and
 * opened no faster). 0, or -EIO (also when a tag fails).
 */
static int tls_suites_round(EVP_CIPHER_CTX *enc, EVP_CIPHER_CTX *dec,
			    uint8_t *buf, unsigned int records)
{
	uint8_t iv[12] = { 0 }, tag[16];
	unsigned int i;
	int outl;

	for (i = 0; i < records; i++) {
		memcpy(iv, &i, sizeof(i));	/* a new nonce per record */
		if (EVP_EncryptInit_ex(enc, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(enc, buf, &outl, buf,
				      TLS_SUITES_RECORD) != 1 ||
		    EVP_EncryptFinal_ex(enc, buf + outl, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_AEAD_GET_TAG,
					sizeof(tag), tag) != 1)
			return -EIO;
		if (EVP_DecryptInit_ex(dec, NULL, NULL, NULL, iv) != 1 ||
		    EVP_DecryptUpdate(dec, buf, &outl, buf,
				      TLS_SUITES_RECORD) != 1 ||
		    EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG,
					sizeof(tag), tag) != 1 ||
		    EVP_DecryptFinal_ex(dec, buf + outl, &outl) != 1)
			return -EIO;
	}
	return 0;
}

/* Set up enc and dec for s and run one record (warm-up); 0 or -EIO. */
static int tls_suites_setup(EVP_CIPHER_CTX *enc, EVP_CIPHER_CTX *dec,
			    enum tls_suite s, uint8_t *buf)
{
	static const uint8_t key[32] = { 0x6e, 0x62, 0x6c, 0x6b };

	if (EVP_EncryptInit_ex(enc, tls_suites_evp(s), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(dec, tls_suites_evp(s), NULL, key, NULL) != 1 ||
	    tls_suites_round(enc, dec, buf, 1) < 0)
		return -EIO;
	return 0;
}

/*
 * Rounds alternate between the ciphers, so that a burst of load from
 * elsewhere hits all of them; each keeps its best round.
 */
static int tls_suites_run(EVP_CIPHER_CTX *ctx[TLS_SUITE_MAX][2], uint8_t *buf,
			  double mb_per_s[TLS_SUITE_MAX])
{
	uint64_t best[TLS_SUITE_MAX];
	unsigned int round;
	int i, ret;

	for (i = 0; i < TLS_SUITE_MAX; i++) {
		best[i] = UINT64_MAX;
		ret = tls_suites_setup(ctx[i][0], ctx[i][1], (enum tls_suite)i,
				       buf);
		if (ret)
			return ret;
	}
	for (round = 0; round < TLS_SUITES_ROUNDS; round++) {
		for (i = 0; i < TLS_SUITE_MAX; i++) {
			uint64_t t0 = tls_suites_now_ns(), dt;

			ret = tls_suites_round(ctx[i][0], ctx[i][1], buf,
					       TLS_SUITES_RECORDS);
			if (ret)
				return ret;
			dt = tls_suites_now_ns() - t0;
			if (dt < best[i])
				best[i] = dt ? dt : 1;
		}
	}
	for (i = 0; i < TLS_SUITE_MAX; i++)
		mb_per_s[i] = (double)TLS_SUITES_RECORD * TLS_SUITES_RECORDS *
			      1e3 / (double)best[i];
	return 0;
}

/*
 * Should a go before b? Faster goes first, but to overtake a suite that
 * comes before it in the tie order it must be faster by more than
 * TLS_SUITES_MARGIN: two close rates are measuring noise (natively
 * AES-128-GCM and AES-256-GCM differ by less than 10%, and AES-256-GCM
 * does strictly more work).
 */
static bool tls_suites_ahead(const struct tls_suites_rank *r,
			     enum tls_suite a, enum tls_suite b)
{
	double need = r->mb_per_s[b];

	if (a > b)
		need *= 1.0 + TLS_SUITES_MARGIN;
	return r->mb_per_s[a] > need;
}

void nb_tls_suites_rank_sort(struct tls_suites_rank *r)
{
	int i, j;

	/* Start from the tie order, then an insertion sort. */
	for (i = 0; i < TLS_SUITE_MAX; i++)
		r->order[i] = (enum tls_suite)i;
	for (i = 1; i < TLS_SUITE_MAX; i++) {
		enum tls_suite s = r->order[i];

		for (j = i; j > 0 && tls_suites_ahead(r, s, r->order[j - 1]); j--)
			r->order[j] = r->order[j - 1];
		r->order[j] = s;
	}
}

int nb_tls_suites_measure(struct tls_suites_rank *out)
{
	EVP_CIPHER_CTX *ctx[TLS_SUITE_MAX][2] = { { NULL } };
	uint8_t *buf;
	int i, j, ret = 0;

	memset(out, 0, sizeof(*out));
	/* Room for the plaintext and GCM's empty final block. */
	buf = calloc(1, TLS_SUITES_RECORD + 64);
	if (!buf)
		ret = -ENOMEM;
	for (i = 0; !ret && i < TLS_SUITE_MAX; i++) {
		for (j = 0; j < 2; j++) {
			ctx[i][j] = EVP_CIPHER_CTX_new();
			if (!ctx[i][j])
				ret = -ENOMEM;
		}
	}
	if (!ret)
		ret = tls_suites_run(ctx, buf, out->mb_per_s);
	for (i = 0; i < TLS_SUITE_MAX; i++) {
		EVP_CIPHER_CTX_free(ctx[i][0]);
		EVP_CIPHER_CTX_free(ctx[i][1]);
	}
	free(buf);
	ERR_clear_error();
	if (ret)
		memset(out->mb_per_s, 0, sizeof(out->mb_per_s));
	nb_tls_suites_rank_sort(out);
	return ret;
}

void nb_tls_suites_format(const struct tls_suites_rank *r, char *buf,
		       size_t len)
{
	size_t used = 0;
	int i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < TLS_SUITE_MAX && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ":" : "",
				 nb_tls_suite_name(r->order[i]));

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int nb_tls_suites_default(char *list, size_t len, char *desc, size_t desclen)
{
	struct tls_suites_rank r;
	int ret = nb_tls_suites_measure(&r);

	nb_tls_suites_format(&r, list, len);
	if (ret) {
		return nb_errf(desc, desclen, ret, "%s (measuring failed: %s)",
			       list, strerror(-ret));
	}
	return nb_errf(desc, desclen, 0, "%s (sealing and opening 16 KiB "
		       "records: %s %.0f MB/s, %s %.0f MB/s, %s %.0f MB/s)", list,
		       nb_tls_suite_cipher(r.order[0]), r.mb_per_s[r.order[0]],
		       nb_tls_suite_cipher(r.order[1]), r.mb_per_s[r.order[1]],
		       nb_tls_suite_cipher(r.order[2]), r.mb_per_s[r.order[2]]);
}
