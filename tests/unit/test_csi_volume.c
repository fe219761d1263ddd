/* SPDX-License-Identifier: MIT */
/* netblk-csi volume ids (client/csi/csi_volume.c): what parses, what not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "csi_volume.h"

static void test_default_cluster(void **state)
{
	struct csi_volume v;
	char err[256];

	(void)state;
	assert_int_equal(nb_csi_volume_parse("pvc-1", "10.0.0.1:7001,[fd00::1]:7001", &v, err,
					     sizeof(err)), 0);
	assert_string_equal(v.name, "pvc-1");
	assert_int_equal(v.n_nodes, 2);
	assert_string_equal(v.nodes[0], "10.0.0.1:7001");
	assert_string_equal(v.nodes[1], "[fd00::1]:7001");
}

static void test_own_cluster(void **state)
{
	struct csi_volume v;
	char err[256];

	(void)state;
	assert_int_equal(nb_csi_volume_parse("n1:7001,n2:7001/vol_2.a", "x:1", &v, err,
					     sizeof(err)), 0);
	assert_string_equal(v.name, "vol_2.a");
	assert_string_equal(v.cluster, "n1:7001,n2:7001");
	assert_int_equal(v.n_nodes, 2);
	assert_string_equal(v.nodes[1], "n2:7001");
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "/vol", "n1:7001/", "n1:7001/../x", "n1/vol", "n1:7001,/vol", "vol name",
		".hidden", "-opt", "a/b/c",
	};
	char name129[130], err[256];
	struct csi_volume v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(nb_csi_volume_parse(bad[i], "h:1", &v, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	memset(name129, 'a', 129);
	name129[129] = '\0';
	assert_int_equal(nb_csi_volume_parse(name129, "h:1", &v, err, sizeof(err)), -1);
	name129[128] = '\0';
	assert_int_equal(nb_csi_volume_parse(name129, "h:1", &v, err, sizeof(err)), 0);
	/* no cluster at all */
	assert_int_equal(nb_csi_volume_parse("vol", NULL, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no --cluster"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_cluster),
		cmocka_unit_test(test_own_cluster),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
