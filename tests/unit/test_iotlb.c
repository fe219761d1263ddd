/* SPDX-License-Identifier: MIT */
/* Unit tests of the per-worker IOTLB cache, with memfds in place of the
 * file descriptors VDUSE_IOTLB_GET_FD hands out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vduse.h>

#include "iotlb.h"

#define PAGE 4096u

/* A fake kernel IOTLB: a few ranges, each backed by part of one memfd. */
struct fake_range {
	uint64_t start, last, offset;
	uint8_t perm;
	bool present;
};

struct fake_kernel {
	int memfd;
	struct fake_range r[8];
	unsigned int lookups;
};

static int fake_lookup(void *opaque, uint64_t iova, uint64_t *start,
		       uint64_t *last, uint64_t *offset, uint8_t *perm)
{
	struct fake_kernel *k = opaque;
	unsigned int i;

	k->lookups++;
	for (i = 0; i < 8; i++) {
		struct fake_range *r = &k->r[i];

		if (r->present && iova >= r->start && iova <= r->last) {
			*start = r->start;
			*last = r->last;
			*offset = r->offset;
			*perm = r->perm;
			return dup(k->memfd);
		}
	}
	return -EINVAL;
}

static struct fake_kernel *fake_new(void)
{
	struct fake_kernel *k = calloc(1, sizeof(*k));

	k->memfd = memfd_create("iotlb-test", 0);
	assert_true(k->memfd >= 0);
	assert_int_equal(ftruncate(k->memfd, 64 * PAGE), 0);
	/* IOVA 0x100000.. -> file pages 0..3, read-write */
	k->r[0] = (struct fake_range){ 0x100000, 0x100000 + 4 * PAGE - 1, 0,
				       VDUSE_ACCESS_RW, true };
	/* IOVA 0x200000.. -> file pages 8..9, read-only */
	k->r[1] = (struct fake_range){ 0x200000, 0x200000 + 2 * PAGE - 1,
				       8 * PAGE, VDUSE_ACCESS_RO, true };
	return k;
}

static void fake_free(struct fake_kernel *k)
{
	close(k->memfd);
	free(k);
}

static void test_translate_reaches_backing_memory(void **state)
{
	struct fake_kernel *k = fake_new();
	struct iotlb *t = nb_iotlb_new(fake_lookup, k);
	uint64_t len = 100;
	uint8_t *p;
	char buf[6] = { 0 };

	p = nb_iotlb_translate(t, 0x100000 + PAGE + 10, &len, true);
	assert_non_null(p);
	assert_true(len == 100);
	memcpy(p, "hello", 5);
	/* the bytes are in the backing file at page 1, offset 10 */
	assert_int_equal(pread(k->memfd, buf, 5, PAGE + 10), 5);
	assert_string_equal(buf, "hello");

	/* length clipped at the region's end */
	len = 1 << 20;
	p = nb_iotlb_translate(t, 0x100000 + 4 * PAGE - 8, &len, false);
	assert_non_null(p);
	assert_true(len == 8);
	/* one kernel lookup served both */
	assert_int_equal(k->lookups, 1);
	assert_true(nb_iotlb_get_stats(t)->lookups == 2);
	nb_iotlb_free(t);
	fake_free(k);
}

static void test_permissions_and_faults(void **state)
{
	struct fake_kernel *k = fake_new();
	struct iotlb *t = nb_iotlb_new(fake_lookup, k);
	uint64_t len = 16;

	/* read-only region: reads work, writes refused */
	assert_non_null(nb_iotlb_translate(t, 0x200000, &len, false));
	len = 16;
	assert_null(nb_iotlb_translate(t, 0x200000, &len, true));
	/* unmapped IOVA, just past a region, and far away */
	len = 16;
	assert_null(nb_iotlb_translate(t, 0x200000 + 2 * PAGE, &len, false));
	len = 16;
	assert_null(nb_iotlb_translate(t, UINT64_MAX, &len, false));
	assert_true(nb_iotlb_get_stats(t)->faults == 3);
	nb_iotlb_free(t);
	fake_free(k);
}

static void test_invalidate_retires_until_reaped(void **state)
{
	struct fake_kernel *k = fake_new();
	struct iotlb *t = nb_iotlb_new(fake_lookup, k);
	uint64_t len = 8, seq_old, seq_new;
	uint8_t *old, *p;
	char buf[4] = { 0 };

	seq_old = nb_iotlb_seq(t);  /* a request in flight using the old map */
	old = nb_iotlb_translate(t, 0x100000, &len, true);
	assert_non_null(old);

	/* the kernel remaps IOVA 0x100000 to file page 16 */
	k->r[0].offset = 16 * PAGE;
	nb_iotlb_invalidate(t, 0x100000, 0x100000);
	assert_int_equal(nb_iotlb_live_count(t), 0);
	assert_int_equal(nb_iotlb_retired_count(t), 1);

	seq_new = nb_iotlb_seq(t);
	len = 8;
	p = nb_iotlb_translate(t, 0x100000, &len, true);
	assert_non_null(p);
	assert_ptr_not_equal(p, old);
	memcpy(p, "new", 3);
	assert_int_equal(pread(k->memfd, buf, 3, 16 * PAGE), 3);
	assert_string_equal(buf, "new");

	/* the old request is still in flight: its memory stays mapped */
	nb_iotlb_reap(t, seq_old);
	assert_int_equal(nb_iotlb_retired_count(t), 1);
	memcpy(old, "old", 3);  /* must not fault */
	assert_int_equal(pread(k->memfd, buf, 3, 0), 3);
	assert_string_equal(buf, "old");

	/* once only newer requests remain, the old region goes */
	nb_iotlb_reap(t, seq_new);
	assert_int_equal(nb_iotlb_retired_count(t), 0);
	assert_true(nb_iotlb_get_stats(t)->unmapped == 1);
	nb_iotlb_free(t);
	fake_free(k);
}

static void test_invalidate_only_overlapping(void **state)
{
	struct fake_kernel *k = fake_new();
	struct iotlb *t = nb_iotlb_new(fake_lookup, k);
	uint64_t len = 8;

	assert_non_null(nb_iotlb_translate(t, 0x100000, &len, false));
	len = 8;
	assert_non_null(nb_iotlb_translate(t, 0x200000, &len, false));
	assert_int_equal(nb_iotlb_live_count(t), 2);
	/* a range touching only the last byte of the second region */
	nb_iotlb_invalidate(t, 0x200000 + 2 * PAGE - 1, 0x300000);
	assert_int_equal(nb_iotlb_live_count(t), 1);
	/* nothing in flight: reaped at once */
	nb_iotlb_reap(t, IOTLB_NONE_INFLIGHT);
	assert_int_equal(nb_iotlb_retired_count(t), 0);
	/* the kernel unmapped it too: now a fault, not a stale hit */
	k->r[1].present = false;
	len = 8;
	assert_null(nb_iotlb_translate(t, 0x200000, &len, false));
	nb_iotlb_free(t);
	fake_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate_reaches_backing_memory),
		cmocka_unit_test(test_permissions_and_faults),
		cmocka_unit_test(test_invalidate_retires_until_reaped),
		cmocka_unit_test(test_invalidate_only_overlapping),
	};

	return cmocka_run_group_tests_name("iotlb", tests, NULL, NULL);
}
