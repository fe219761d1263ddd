/* SPDX-License-Identifier: MIT */
/* netblk-csi's per-volume busy set (client/csi/csi_server.c): ABORTED for a
 * second call on a volume, RESOURCE_EXHAUSTED when every slot is taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csi.h"

static struct csi_ctx claim_ctx;

static void test_claims(void **state)
{
	struct csi_call c = { .ctx = &claim_ctx };
	size_t i, n = sizeof(claim_ctx.busy) / sizeof(claim_ctx.busy[0]);
	char name[32];

	(void)state;
	pthread_mutex_init(&claim_ctx.lock, NULL);
	assert_int_equal(nb_csi_claim(&c, "vol-a", "Test"), CSI_OK);
	assert_int_equal(nb_csi_claim(&c, "vol-a", "Test"), CSI_ABORTED);
	assert_non_null(strstr(c.msg, "Test vol-a: another call"));
	for (i = 1; i < n; i++) {
		snprintf(name, sizeof(name), "vol-%zu", i);
		assert_int_equal(nb_csi_claim(&c, name, "Test"), CSI_OK);
	}
	/* every slot taken: not the caller's fault, and not "busy" */
	assert_int_equal(nb_csi_claim(&c, "vol-new", "Test"), CSI_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(c.msg, "Test vol-new"));
	assert_int_equal(nb_csi_claim(&c, "vol-a", "Test"), CSI_ABORTED);
	nb_csi_release(&claim_ctx, "vol-a");
	assert_int_equal(nb_csi_claim(&c, "vol-new", "Test"), CSI_OK);
	nb_csi_release(&claim_ctx, "vol-new");
	for (i = 1; i < n; i++) {
		snprintf(name, sizeof(name), "vol-%zu", i);
		nb_csi_release(&claim_ctx, name);
	}
	for (i = 0; i < n; i++)
		assert_null(claim_ctx.busy[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
