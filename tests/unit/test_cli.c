/* SPDX-License-Identifier: MIT */
/* netblk-cli helpers: size and number parsing, the latency histogram. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static void test_parse_size_ok(void **state)
{
	static const struct {
		const char *text;
		uint64_t want;
	} cases[] = {
		{ "0", 0 }, { "512", 512 }, { "4K", 4096 }, { "4k", 4096 },
		{ "4KiB", 4096 }, { "1M", 1u << 20 }, { "64MiB", 64u << 20 },
		{ "3G", 3ull << 30 }, { "2T", 2ull << 40 }, { "100B", 100 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		assert_int_equal(nb_cli_parse_size("--x", cases[i].text, &v), 0);
		assert_int_equal(v, cases[i].want);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "K", "-1", "+1", " 1", "1.5M", "12Q", "1 M", "1MM", "0x10",
		"99999999999999999999", "16777216T", "18446744073709551616",
	};
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nb_cli_parse_size("--x", bad[i], &v), -EINVAL);
		assert_int_equal(v, 7); /* untouched on error */
	}
}

static void test_parse_uint(void **state)
{
	uint64_t v = 0;

	assert_int_equal(nb_cli_parse_uint("--n", "1", 1, 10, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nb_cli_parse_uint("--n", "10", 1, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(nb_cli_parse_uint("--n", "0", 1, 10, &v), -EINVAL);
	assert_int_equal(nb_cli_parse_uint("--n", "11", 1, 10, &v), -EINVAL);
	assert_int_equal(nb_cli_parse_uint("--n", "5x", 1, 10, &v), -EINVAL);
	assert_int_equal(nb_cli_parse_uint("--n", "-5", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_cli_parse_uint("--n", "010", 0, 100, &v), 0);
	assert_int_equal(v, 10); /* decimal, not octal */
}

static void test_parse_seconds(void **state)
{
	double s = -1;

	assert_int_equal(nb_cli_parse_seconds("--t", "2.5", &s), 0);
	assert_true(s == 2.5);
	assert_int_equal(nb_cli_parse_seconds("--t", "0", &s), 0);
	assert_true(s == 0);
	assert_int_equal(nb_cli_parse_seconds("--t", "-1", &s), -EINVAL);
	assert_int_equal(nb_cli_parse_seconds("--t", "nan", &s), -EINVAL);
	assert_int_equal(nb_cli_parse_seconds("--t", "inf", &s), -EINVAL);
	assert_int_equal(nb_cli_parse_seconds("--t", "3s", &s), -EINVAL);
}

static void hist_close(uint64_t got, uint64_t want)
{
	double err = (double)got / (double)want - 1.0;

	if (err < -0.035 || err > 0.035)
		fail_msg("quantile %llu not within 3.5%% of %llu",
			 (unsigned long long)got, (unsigned long long)want);
}

static void test_hist_empty_and_small(void **state)
{
	struct cli_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	assert_int_equal(nb_cli_hist_quantile(h, 0.5), 0);
	/* Values below 32 are exact. */
	for (uint64_t v = 0; v < 32; v++)
		nb_cli_hist_add(h, v);
	assert_int_equal(nb_cli_hist_quantile(h, 0.5), 15);
	assert_int_equal(nb_cli_hist_quantile(h, 1.0), 31);
	assert_int_equal(nb_cli_hist_quantile(h, 0.0), 0);
	assert_int_equal(h->n, 32);
	assert_int_equal(h->max, 31);
	free(h);
}

static void test_hist_uniform(void **state)
{
	struct cli_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	/* 1..100000 in a scrambled order. */
	for (uint64_t i = 0; i < 100000; i++)
		nb_cli_hist_add(h, (i * 7919) % 100000 + 1);
	assert_int_equal(h->n, 100000);
	assert_int_equal(h->max, 100000);
	assert_int_equal(h->sum, 100000ull * 100001 / 2);
	hist_close(nb_cli_hist_quantile(h, 0.50), 50000);
	hist_close(nb_cli_hist_quantile(h, 0.99), 99000);
	hist_close(nb_cli_hist_quantile(h, 0.999), 99900);
	assert_true(nb_cli_hist_quantile(h, 1.0) <= h->max);
	free(h);
}

static void test_hist_large_and_constant(void **state)
{
	struct cli_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	for (int i = 0; i < 1000; i++)
		nb_cli_hist_add(h, 123456789);
	hist_close(nb_cli_hist_quantile(h, 0.5), 123456789);
	/* Never above the largest sample. */
	assert_true(nb_cli_hist_quantile(h, 0.999) <= 123456789);
	nb_cli_hist_add(h, UINT64_MAX);
	assert_int_equal(h->max, UINT64_MAX);
	assert_int_equal(nb_cli_hist_quantile(h, 1.0) > 123456789, 1);
	free(h);
}

static void test_all_zero(void **state)
{
	uint8_t buf[4096] = { 0 };

	assert_true(nb_cli_all_zero(buf, sizeof(buf)));
	assert_true(nb_cli_all_zero(buf, 0));
	buf[4095] = 1;
	assert_false(nb_cli_all_zero(buf, sizeof(buf)));
	assert_true(nb_cli_all_zero(buf, 4095));
	buf[0] = 7;
	assert_false(nb_cli_all_zero(buf, 1));
}

static void test_progress_format(void **state)
{
	char line[256];

	/* half of 1 GiB in 4 s: 134.2 MB/s, 4 s left */
	nb_cli_progress_format(line, sizeof(line), "import", 512u << 20,
			       1u << 30, 4.0, false, false);
	assert_string_equal(line,
		"import:  50% 512.0 MiB of 1.0 GiB, 134.2 MB/s, ETA 0:04");
	nb_cli_progress_format(line, sizeof(line), "export", 1u << 30,
			       1u << 30, 8.0, false, true);
	assert_string_equal(line,
		"export: 100% 1.0 GiB of 1.0 GiB, 134.2 MB/s, in 8.0 s");
	nb_cli_progress_format(line, sizeof(line), "verify", 256u << 20,
			       1u << 30, 2.0, true, false);
	assert_string_equal(line,
		"verify [######..................]  25% 256.0 MiB of 1.0 GiB, 134.2 MB/s, ETA 0:06");
	/* nothing done yet: no rate, no ETA */
	nb_cli_progress_format(line, sizeof(line), "import", 0, 1u << 20, 0.0,
			       false, false);
	assert_string_equal(line, "import:   0% 0 B of 1.0 MiB, 0.0 MB/s, ETA -:--");
	/* unknown total (standard input) */
	nb_cli_progress_format(line, sizeof(line), "import", 3u << 20, 0, 1.0,
			       false, false);
	assert_string_equal(line, "import: 3.0 MiB, 3.1 MB/s");
}

/* The short options are vduse-netblk's: -c, -v, -r. */
static void test_short_options(void **state)
{
	char *argv[] = { "netblk-cli", "-c", "h:1,[::1]:2", "-v", "vol0", "-r",
			 "info", NULL };
	char *bad_port[] = { "netblk-cli", "-c", "127.0.0.1:99999", "info", NULL };
	char *bad_v6[] = { "netblk-cli", "--cluster", "[::1", "info", NULL };
	char *old_vv[] = { "netblk-cli", "-vv", "info", NULL };
	char *old_v[] = { "netblk-cli", "-v", "--io-timeout", "5", "info", NULL };
	struct cli_common opt = { 0 };
	int first = 0;

	assert_int_equal(nb_cli_main_parse(&opt, 7, argv, &first), 0);
	assert_int_equal(first, 6);
	assert_int_equal(opt.n_nodes, 2);
	assert_string_equal(opt.volume, "vol0");
	assert_true(opt.read_only);
	nb_cli_common_free(&opt);

	memset(&opt, 0, sizeof(opt));
	assert_int_equal(nb_cli_main_parse(&opt, 4, bad_port, &first), -EINVAL);
	nb_cli_common_free(&opt);
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(nb_cli_main_parse(&opt, 4, bad_v6, &first), -EINVAL);
	nb_cli_common_free(&opt);
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(nb_cli_main_parse(&opt, 3, old_vv, &first), -EINVAL);
	nb_cli_common_free(&opt);
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(nb_cli_main_parse(&opt, 5, old_v, &first), -EINVAL);
	nb_cli_common_free(&opt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_ok),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_parse_seconds),
		cmocka_unit_test(test_hist_empty_and_small),
		cmocka_unit_test(test_hist_uniform),
		cmocka_unit_test(test_hist_large_and_constant),
		cmocka_unit_test(test_all_zero),
		cmocka_unit_test(test_progress_format),
		cmocka_unit_test(test_short_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
