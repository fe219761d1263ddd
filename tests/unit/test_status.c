/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of how the engine treats reply statuses (route.c): the
 * action taken and the result a block device gets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "route.h"

static void test_status_actions(void **state)
{
	static const struct {
		enum rpc_status status;
		enum route_action action;
		int result;
	} cases[] = {
		{ RPC_STATUS_OK, ROUTE_COMPLETE, 0 },
		{ RPC_STATUS_IO_ERROR, ROUTE_NEXT_NODE, -EIO },
		{ RPC_STATUS_OUT_OF_RANGE, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_READ_ONLY, ROUTE_COMPLETE, -EROFS },
		{ RPC_STATUS_NO_SPACE, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_NOT_OWNER, ROUTE_REFRESH_MAP, -EIO },
		{ RPC_STATUS_BUSY, ROUTE_RETRY_LATER, -EIO },
		{ RPC_STATUS_UNSUPPORTED, ROUTE_COMPLETE, -EOPNOTSUPP },
		{ RPC_STATUS_MALFORMED, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_NOT_FOUND, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_EXISTS, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_BAD_STATE, ROUTE_RECONNECT, -EIO },
		{ RPC_STATUS_LOCKED, ROUTE_COMPLETE, -EIO },
		{ RPC_STATUS_FENCED, ROUTE_COMPLETE, -EIO },
	};
	bool seen[RPC_STATUS_MAX] = { false };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int result = 12345;
		enum route_action a = nb_route_status_action(cases[i].status, &result);

		if (a != cases[i].action || result != cases[i].result)
			fail_msg("%s: action %d result %d, expected %d %d",
				 nb_rpc_status_name(cases[i].status), a, result,
				 cases[i].action, cases[i].result);
		seen[cases[i].status] = true;
	}
	/* every status of the protocol has a decision */
	for (int s = 0; s < RPC_STATUS_MAX; s++)
		if (!seen[s])
			fail_msg("status %s not covered", nb_rpc_status_name(s));
}

/* Only results a block device can report ever come out. */
static void test_results_block_friendly(void **state)
{
	for (int s = 0; s < RPC_STATUS_MAX + 3; s++) {
		int result = 1;

		nb_route_status_action((enum rpc_status)s, &result);
		assert_true(result == 0 || result == -EIO || result == -EROFS ||
			    result == -EOPNOTSUPP);
		if (s != RPC_STATUS_OK)
			assert_true(result != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_actions),
		cmocka_unit_test(test_results_block_friendly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
