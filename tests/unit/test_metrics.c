/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the metrics exposition (client/daemon/metrics.c) and of
 * the --metrics address parser: label values escaped, the histogram
 * cumulative, the kernel disk name, addresses refused with a reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *metrics_text(const struct metrics_volume *v, size_t n)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(nb_metrics_write(f, "agent", v, n), 0);
	fclose(f);
	return text;
}

static void test_metrics_escape(void **state)
{
	struct metrics_volume v = { .volume = "a\"b\\c\nd", .name = "dev",
				    .disk = "vda", .up = true };
	char *text = metrics_text(&v, 1);

	assert_non_null(strstr(text, "vduse_netblk_volume_up{volume=\"a\\\"b"
			       "\\\\c\\nd\",name=\"dev\",device=\"vda\"} 1\n"));
	/* No raw newline inside any label value. */
	assert_null(strstr(text, "a\"b"));
	free(text);
}

static void test_metrics_histogram(void **state)
{
	struct metrics_volume v = { .volume = "v", .name = "n", .disk = "",
				    .up = true };
	struct worker_latency *l = &v.stats.latency[BLK_OP_WRITE];
	char *text;

	l->bucket[0] = 2;	/* <= 100 us */
	l->bucket[3] = 5;	/* <= 1 ms */
	l->bucket[WORKER_LAT_BUCKETS - 1] = 1;	/* <= 10 s */
	l->count = 9;		/* one above 10 s */
	l->sum_ns = 12500000000ULL;
	v.stats.retries = 7;
	v.stats.map_refreshes = 3;
	text = metrics_text(&v, 1);
	assert_non_null(strstr(text, "vduse_netblk_request_duration_seconds_bucket"
			       "{volume=\"v\",name=\"n\",device=\"\",op=\"write\","
			       "le=\"0.0001\"} 2\n"));
	assert_non_null(strstr(text, ",op=\"write\",le=\"0.001\"} 7\n"));
	assert_non_null(strstr(text, ",op=\"write\",le=\"10\"} 8\n"));
	assert_non_null(strstr(text, ",op=\"write\",le=\"+Inf\"} 9\n"));
	assert_non_null(strstr(text, "duration_seconds_sum{volume=\"v\",name=\"n\","
			       "device=\"\",op=\"write\"} 12.500000000\n"));
	assert_non_null(strstr(text, "duration_seconds_count{volume=\"v\",name="
			       "\"n\",device=\"\",op=\"write\"} 9\n"));
	assert_non_null(strstr(text, ",op=\"read\",le=\"+Inf\"} 0\n"));
	assert_non_null(strstr(text, "vduse_netblk_retries_total{volume=\"v\","
			       "name=\"n\",device=\"\"} 7\n"));
	assert_non_null(strstr(text, "vduse_netblk_map_refreshes_total{volume="
			       "\"v\",name=\"n\",device=\"\"} 3\n"));
	assert_non_null(strstr(text, "vduse_netblk_build_info{program=\"agent\","
			       "version=\""));
	free(text);
}

static void test_metrics_disk_name(void **state)
{
	char out[64];

	nb_metrics_disk_name("/dev/vdb", out, sizeof(out));
	assert_string_equal(out, "vdb");
	nb_metrics_disk_name("/dev/vhost-vdpa-0", out, sizeof(out));
	assert_string_equal(out, "");
	nb_metrics_disk_name("/dev/vduse/vdx", out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_metrics_addr(void **state)
{
	static const struct {
		const char *addr, *why;
	} bad[] = {
		{ "127.0.0.1:99999", "port from 1 to 65535" },
		{ "127.0.0.1:0", "port 0" },
		{ "nohost", "is not ADDR:PORT" },
		{ "nohost:9477", "'nohost' is not a numeric IP address" },
		{ "::1:9477", "is not ADDR:PORT" },
		{ "[::1]", "is not ADDR:PORT" },
		{ "1.2.3.4:", "is not ADDR:PORT" },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[512];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(nb_metrics_parse_addr(bad[i].addr, &ss, &len,
						       err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: '%s' does not say '%s'", bad[i].addr, err,
				 bad[i].why);
	}
	assert_int_equal(nb_metrics_parse_addr("127.0.0.1:9477", &ss, &len,
					       err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(nb_metrics_parse_addr("[::1]:9477", &ss, &len, err,
					       sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_escape),
		cmocka_unit_test(test_metrics_histogram),
		cmocka_unit_test(test_metrics_disk_name),
		cmocka_unit_test(test_metrics_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
