/* SPDX-License-Identifier: MIT */
/* Unit tests of the iovec helpers (common/iov.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "iov.h"

static void test_total(void **state)
{
	struct iovec iov[3] = {
		{ NULL, 3 }, { NULL, 0 }, { NULL, 5 },
	};
	struct iovec big[2] = { { NULL, SIZE_MAX }, { NULL, 1 } };

	assert_int_equal(iov_total(iov, 3), 8);
	assert_int_equal(iov_total(iov, 0), 0);
	assert_true(iov_total(big, 2) == SIZE_MAX);
}

static void test_advance(void **state)
{
	struct iovec iov[4] = {
		{ NULL, 0 }, { NULL, 4 }, { NULL, 0 }, { NULL, 2 },
	};
	struct nb_iov_pos pos = { 0, 0 };

	assert_int_equal(nb_iov_advance(iov, 4, &pos, 0), 0);
	assert_int_equal(pos.idx, 1);
	assert_int_equal(pos.off, 0);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 3), 0);
	assert_int_equal(pos.idx, 1);
	assert_int_equal(pos.off, 3);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 1), 0);
	assert_int_equal(pos.idx, 3);
	assert_int_equal(pos.off, 0);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 3), -EINVAL);
	assert_int_equal(pos.idx, 3);
	assert_int_equal(pos.off, 0);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 2), 0);
	assert_int_equal(pos.idx, 4);
	assert_int_equal(nb_iov_advance(iov, 4, &pos, 1), -EINVAL);
}

static void test_copy(void **state)
{
	char a[3] = "abc", b[1] = "d", c[4] = "efgh", out[16];
	struct iovec iov[4] = {
		{ a, 3 }, { NULL, 0 }, { b, 1 }, { c, 4 },
	};

	memset(out, 0, sizeof(out));
	assert_int_equal(nb_iov_to_buf(iov, 4, 2, out, 4), 4);
	assert_memory_equal(out, "cdef", 4);
	assert_int_equal(nb_iov_to_buf(iov, 4, 6, out, 16), 2);
	assert_memory_equal(out, "gh", 2);
	assert_int_equal(nb_iov_to_buf(iov, 4, 8, out, 16), 0);
	assert_int_equal(nb_iov_from_buf(iov, 4, 1, "XYZW", 4), 4);
	assert_memory_equal(a, "aXY", 3);
	assert_memory_equal(b, "Z", 1);
	assert_memory_equal(c, "Wfgh", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_total),
		cmocka_unit_test(test_advance),
		cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
