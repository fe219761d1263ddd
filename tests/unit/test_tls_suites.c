/* SPDX-License-Identifier: MIT */
/* Unit tests of the TLS 1.3 cipher-suite list check and speed ranking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_suites.h"

/* Every suite exactly once, and a rate measured for each. */
static void test_measure_is_permutation(void **state)
{
	struct tls_suites_rank r;
	bool seen[TLS_SUITE_MAX] = { false };
	int i;

	(void)state;
	assert_int_equal(nb_tls_suites_measure(&r), 0);
	for (i = 0; i < TLS_SUITE_MAX; i++) {
		assert_true(r.order[i] < TLS_SUITE_MAX);
		assert_false(seen[r.order[i]]);
		seen[r.order[i]] = true;
		assert_true(r.mb_per_s[i] > 0);
	}
	/* None is clearly (over 5%) faster than the one before it. */
	for (i = 1; i < TLS_SUITE_MAX; i++)
		assert_true(r.mb_per_s[r.order[i - 1]] * 1.0501 >=
			    r.mb_per_s[r.order[i]]);
}

static void test_sort_by_rate(void **state)
{
	struct tls_suites_rank r = { .mb_per_s = {
		[TLS_SUITE_AES_128_GCM] = 30,
		[TLS_SUITE_CHACHA20_POLY1305] = 45,
		[TLS_SUITE_AES_256_GCM] = 25,
	} };
	char list[TLS_SUITES_LIST_LEN];

	(void)state;
	nb_tls_suites_rank_sort(&r);
	nb_tls_suites_format(&r, list, sizeof(list));
	assert_string_equal(list, "TLS_CHACHA20_POLY1305_SHA256:"
			    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	r.mb_per_s[TLS_SUITE_AES_128_GCM] = 3900;
	r.mb_per_s[TLS_SUITE_CHACHA20_POLY1305] = 1500;
	r.mb_per_s[TLS_SUITE_AES_256_GCM] = 3000;
	nb_tls_suites_rank_sort(&r);
	nb_tls_suites_format(&r, list, sizeof(list));
	assert_string_equal(list, "TLS_AES_128_GCM_SHA256:"
			    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
}

/*
 * Equal or close rates: AES-256-GCM not ahead of AES-128-GCM; clearly
 * faster, it is.
 */
static void test_sort_ties(void **state)
{
	struct tls_suites_rank r = { .mb_per_s = { 100, 100, 100 } };

	(void)state;
	nb_tls_suites_rank_sort(&r);
	assert_int_equal(r.order[0], TLS_SUITE_AES_128_GCM);
	assert_int_equal(r.order[1], TLS_SUITE_CHACHA20_POLY1305);
	assert_int_equal(r.order[2], TLS_SUITE_AES_256_GCM);
	/* Within 5%: noise, the tie order holds. */
	r.mb_per_s[TLS_SUITE_AES_256_GCM] = 104;
	nb_tls_suites_rank_sort(&r);
	assert_int_equal(r.order[0], TLS_SUITE_AES_128_GCM);
	assert_int_equal(r.order[2], TLS_SUITE_AES_256_GCM);
	r.mb_per_s[TLS_SUITE_AES_256_GCM] = 110;
	nb_tls_suites_rank_sort(&r);
	assert_int_equal(r.order[0], TLS_SUITE_AES_256_GCM);
	assert_int_equal(r.order[1], TLS_SUITE_AES_128_GCM);
}

static void test_check(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(nb_tls_suites_check("TLS_CHACHA20_POLY1305_SHA256",
					  err, sizeof(err)), 0);
	assert_int_equal(nb_tls_suites_check("TLS_AES_256_GCM_SHA384:"
					  "TLS_AES_128_GCM_SHA256", err,
					  sizeof(err)), 0);
	assert_int_equal(nb_tls_suites_check("", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty list"));
	/* OpenSSL alone would take this list, skipping the unknown name. */
	assert_int_equal(nb_tls_suites_check("TLS_AES_128_GCM_SHA256:TLS_FOO",
					  err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'TLS_FOO' is not a TLS 1.3"));
	/* A TLS 1.2 cipher name. */
	assert_int_equal(nb_tls_suites_check("ECDHE-RSA-AES128-GCM-SHA256", err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ECDHE-RSA-AES128-GCM-SHA256"));
	assert_int_equal(nb_tls_suites_check("TLS_AES_128_GCM_SHA256::", err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty name"));
}

/* A forced order is what the context offers, in that order. */
static void test_apply_keeps_order(void **state)
{
	static const char *const lists[][3] = {
		{ "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
		  NULL },
		{ "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
		  "TLS_AES_128_GCM_SHA256" },
	};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char list[256], err[256];
	size_t t;

	(void)state;
	assert_non_null(ctx);
	for (t = 0; t < sizeof(lists) / sizeof(lists[0]); t++) {
		STACK_OF(SSL_CIPHER) *sk;
		int i, n = 0;

		snprintf(list, sizeof(list), "%s:%s%s%s", lists[t][0],
			 lists[t][1], lists[t][2] ? ":" : "",
			 lists[t][2] ? lists[t][2] : "");
		assert_int_equal(nb_tls_suites_apply(ctx, list, err, sizeof(err)), 0);
		sk = SSL_CTX_get_ciphers(ctx);
		for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);

			if (SSL_CIPHER_get_kx_nid(c) != NID_kx_any)
				continue;	/* TLS 1.2 and below */
			assert_true(n < 3 && lists[t][n]);
			assert_string_equal(SSL_CIPHER_get_name(c), lists[t][n]);
			n++;
		}
		assert_true(n == 3 || !lists[t][n]);
	}
	assert_int_equal(nb_tls_suites_apply(ctx, "TLS_NOPE", err, sizeof(err)),
			 -EINVAL);
	SSL_CTX_free(ctx);
}

static void test_default(void **state)
{
	char list[TLS_SUITES_LIST_LEN], desc[512], err[256];

	(void)state;
	assert_int_equal(nb_tls_suites_default(list, sizeof(list), desc,
					    sizeof(desc)), 0);
	assert_int_equal(nb_tls_suites_check(list, err, sizeof(err)), 0);
	assert_non_null(strstr(desc, "MB/s"));
	assert_non_null(strstr(list, "TLS_AES_128_GCM_SHA256"));
	assert_non_null(strstr(list, "TLS_AES_256_GCM_SHA384"));
	assert_non_null(strstr(list, "TLS_CHACHA20_POLY1305_SHA256"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measure_is_permutation),
		cmocka_unit_test(test_sort_by_rate),
		cmocka_unit_test(test_sort_ties),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_apply_keeps_order),
		cmocka_unit_test(test_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
