/* SPDX-License-Identifier: MIT */
/* Unit tests of the shared parsers (common/parse.c) and nb_errf. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "errmsg.h"
#include "parse.h"

static void test_u64(void **state)
{
	uint64_t v = 7;
	unsigned int u = 7;

	assert_int_equal(nb_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(nb_parse_u64("18446744073709551615", 0, UINT64_MAX,
				      &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(nb_parse_u64("18446744073709551616", 0, UINT64_MAX,
				      &v), -ERANGE);
	assert_int_equal(nb_parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(nb_parse_u64("3", 4, 10, &v), -ERANGE);
	v = 7;
	assert_int_equal(nb_parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_parse_u64("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_parse_u64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_parse_u64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_parse_u64("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(nb_parse_u64("1K", 0, 10, &v), -EINVAL);
	assert_int_equal(v, 7);
	assert_int_equal(nb_parse_uint("4294967295", 0, UINT32_MAX, &u), 0);
	assert_true(u == UINT32_MAX);
	assert_int_equal(nb_parse_uint("65", 1, 64, &u), -ERANGE);
}

static void test_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(nb_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(nb_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(nb_parse_size("64MiB", &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(nb_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(nb_parse_size("1TB", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(nb_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(nb_parse_size("1X", &v), -EINVAL);
	assert_int_equal(nb_parse_size("1KK", &v), -EINVAL);
	assert_int_equal(nb_parse_size("K", &v), -EINVAL);
	assert_int_equal(nb_parse_size("-1", &v), -EINVAL);
	assert_int_equal(v, 1ull << 40);
}

static void test_seconds(void **state)
{
	double d = -1;

	assert_int_equal(nb_parse_seconds("0", 0, 10, &d), 0);
	assert_true(d == 0);
	assert_int_equal(nb_parse_seconds("2.5", 0, 10, &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(nb_parse_seconds(".5", 0, 10, &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(nb_parse_seconds("11", 0, 10, &d), -ERANGE);
	assert_int_equal(nb_parse_seconds("0.1", 1, 10, &d), -ERANGE);
	assert_int_equal(nb_parse_seconds("1e999", 0, 1e6, &d), -ERANGE);
	assert_int_equal(nb_parse_seconds("nan", 0, 10, &d), -EINVAL);
	assert_int_equal(nb_parse_seconds("inf", 0, 10, &d), -EINVAL);
	assert_int_equal(nb_parse_seconds("-1", 0, 10, &d), -EINVAL);
	assert_int_equal(nb_parse_seconds("1s", 0, 10, &d), -EINVAL);
	assert_int_equal(nb_parse_seconds("", 0, 10, &d), -EINVAL);
	assert_true(d == 0.5);
}

static void test_host_port(void **state)
{
	char host[16], port[8];

	assert_int_equal(nb_split_host_port("10.0.0.1:7001", host,
					    sizeof(host), port,
					    sizeof(port)), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_string_equal(port, "7001");
	assert_int_equal(nb_split_host_port("[::1]:0", host, sizeof(host),
					    port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "0");
	assert_int_equal(nb_split_host_port("node-a:65535", host,
					    sizeof(host), port,
					    sizeof(port)), 0);
	assert_string_equal(host, "node-a");
	static const char *const bad[] = {
		"", "host", "host:", ":80", "host:65536", "host:99999",
		"host:-1", "host:8x", "::1:80", "[::1", "[::1]", "[::1]80",
		"[]:80", "a-very-long-host-name:80", "host:000080",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (nb_split_host_port(bad[i], host, sizeof(host), port,
				       sizeof(port)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static void test_errf(void **state)
{
	char err[8];

	assert_int_equal(nb_errf(err, sizeof(err), -EIO, "%s %d", "abc",
				 12345), -EIO);
	assert_string_equal(err, "abc 123");
	assert_int_equal(nb_errf(NULL, 0, -ENOENT, "x"), -ENOENT);
	assert_int_equal(nb_errf(err, 0, 0, "y"), 0);
	assert_string_equal(err, "abc 123");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_host_port),
		cmocka_unit_test(test_errf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
