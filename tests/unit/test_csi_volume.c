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

static void test_canonical_id(void **state)
{
	static const char *const ids[] = {
		"pvc-1", "10.0.0.1:7001,[fd00::1]:7001/pvc-1", "[fd00::1]:7001,10.0.0.1:7001/pvc-1",
	};
	const char *def = "10.0.0.1:7001,[fd00::1]:7001";
	struct csi_volume v;
	char err[256], id[1200];
	size_t i;

	(void)state;
	/* the driver's own cluster, however it is spelt: the bare name */
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(nb_csi_volume_parse(ids[i], def, &v, err, sizeof(err)), 0);
		nb_csi_volume_id(&v, def, id, sizeof(id));
		assert_string_equal(id, "pvc-1");
	}
	/* another cluster (a subset of ours is another cluster) keeps its part */
	assert_int_equal(nb_csi_volume_parse("10.0.0.1:7001/pvc-1", def, &v, err, sizeof(err)), 0);
	nb_csi_volume_id(&v, def, id, sizeof(id));
	assert_string_equal(id, "10.0.0.1:7001/pvc-1");
	assert_int_equal(nb_csi_volume_parse("10.0.0.1:700/pvc-1", "10.0.0.1:7001", &v, err,
					     sizeof(err)), 0);
	nb_csi_volume_id(&v, "10.0.0.1:7001", id, sizeof(id));
	assert_string_equal(id, "10.0.0.1:700/pvc-1");
	/* no default cluster: always the full id */
	assert_int_equal(nb_csi_volume_parse("h:1/pvc-1", NULL, &v, err, sizeof(err)), 0);
	nb_csi_volume_id(&v, NULL, id, sizeof(id));
	assert_string_equal(id, "h:1/pvc-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_cluster),
		cmocka_unit_test(test_own_cluster),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_canonical_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
