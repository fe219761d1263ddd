/* SPDX-License-Identifier: MIT */
/* Unit tests of the agent's spec-file parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"

static void test_full_spec(void **state)
{
	struct spec sp, defaults = { 0 };
	char err[256];

	strcpy(defaults.ca, "/etc/ca.crt");
	assert_int_equal(nb_spec_parse("# a volume\n"
				    "cluster = 10.0.0.1:7001,[::1]:7002\n"
				    "volume=vol-17\r\n"
				    "queues=2\nqueue_size=128\nread_only=true\n"
				    "io_timeout=2.5\nkey=/k.pem  # comment\n",
				    "web", &defaults, &sp, err, sizeof(err)), 0);
	assert_string_equal(sp.name, "web");
	assert_string_equal(sp.volume, "vol-17");
	assert_int_equal(sp.n_nodes, 2);
	assert_string_equal(sp.nodes[1], "[::1]:7002");
	assert_int_equal(sp.queues, 2);
	assert_int_equal(sp.queue_size, 128);
	assert_true(sp.read_only);
	assert_true(sp.io_timeout == 2.5);
	assert_string_equal(sp.ca, "/etc/ca.crt");	/* default kept */
	assert_string_equal(sp.key, "/k.pem");
}

static void test_defaults_and_equal(void **state)
{
	struct spec a, b;
	char err[256];

	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\n", "n", NULL, &a,
				    err, sizeof(err)), 0);
	assert_int_equal(a.queues, 1);
	assert_int_equal(a.queue_size, 256);
	assert_false(a.read_only);
	b = a;	/* a copy compares equal: no pointers into the original */
	assert_true(nb_spec_equal(&a, &b));
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\nqueues=2\n", "n",
				    NULL, &b, err, sizeof(err)), 0);
	assert_false(nb_spec_equal(&a, &b));
}

static void expect_error(const char *text, const char *name, const char *needle)
{
	struct spec sp;
	char err[256] = "";

	assert_int_equal(nb_spec_parse(text, name, NULL, &sp, err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_errors(void **state)
{
	expect_error("volume=v\n", "n", "no cluster= line");
	expect_error("cluster=h:1\n", "n", "no volume= line");
	expect_error("cluster=h:1\nvolume=v\nqueues=0\n", "n", "line 3: queues");
	expect_error("cluster=h:1\nvolume=v\nqueue_size=100\n", "n", "power of two");
	expect_error("cluster=h1\nvolume=v\n", "n", "not host:port");
	expect_error("cluster=h:1\nvolume=v\nread_only=yes\n", "n", "true or false");
	expect_error("cluster=h:1\nvolume=v\nio_timeout=-1\n", "n", "io_timeout");
	expect_error("cluster=h:1\nvolume=v\ncolour=red\n", "n", "unknown key 'colour'");
	expect_error("cluster=h:1\nvolume\n", "n", "line 2: expected key=value");
	expect_error("cluster=h:1\nvolume=v\n", "../etc", "not usable");
	expect_error("cluster=h:1\nvolume=v\nname=a/b\n", "n", "not usable");
	expect_error("cluster=h:1\nvolume=\n", "n", "volume is empty");
	/* the daemon's limits (options.h), said in the same words */
	expect_error("cluster=h:1\nvolume=v\nqueues=65\n", "n",
		     "queues '65' is not a number from 1 to 64");
	expect_error("cluster=h:1\nvolume=v\nqueue_size=65536\n", "n",
		     "is not a power of two from 4 to 32768");
	expect_error("cluster=h:99999\nvolume=v\n", "n", "not host:port");
	/* volume names as the nodes take them: nothing to escape later */
	expect_error("cluster=h:1\nvolume=a\"b\n", "n",
		     "volume 'a\"b' is not a volume name");
	expect_error("cluster=h:1\nvolume=a b\n", "n", "is not a volume name");
	expect_error("cluster=h:1\nvolume=v\nforce_detach=yes\n", "n",
		     "line 3: force_detach must be true or false");
}

/* tls_ciphersuites: the agent's default unless the spec names its own. */
static void test_ciphersuites(void **state)
{
	struct spec a, b, defaults = { 0 };
	char err[256];

	(void)state;
	strcpy(defaults.tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\n", "x", &defaults,
				    &a, err, sizeof(err)), 0);
	assert_string_equal(a.tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\n"
				    "tls_ciphersuites = TLS_CHACHA20_POLY1305_SHA256\n",
				    "x", &defaults, &b, err, sizeof(err)), 0);
	assert_string_equal(b.tls_ciphersuites, "TLS_CHACHA20_POLY1305_SHA256");
	assert_false(nb_spec_equal(&a, &b));
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\ntls_ciphersuites=\n",
				    "x", &defaults, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tls_ciphersuites"));
}

/* break_lock and lock_owner; break_lock alone does not re-attach. */
static void test_lock_keys(void **state)
{
	struct spec a, b;
	char err[256];

	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\n", "x", NULL, &a,
				    err, sizeof(err)), 0);
	assert_false(a.break_lock);
	assert_string_equal(a.lock_owner, "");
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\nbreak_lock = true\n"
				    "lock_owner=web@host9\n", "x", NULL, &b,
				    err, sizeof(err)), 0);
	assert_true(b.break_lock);
	assert_string_equal(b.lock_owner, "web@host9");
	assert_false(nb_spec_equal(&a, &b));	/* another owner */
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\nbreak-lock=true\n",
				    "x", NULL, &b, err, sizeof(err)), 0);
	assert_true(b.break_lock);
	assert_true(nb_spec_equal(&a, &b));
	expect_error("cluster=h:1\nvolume=v\nbreak_lock=1\n", "n",
		     "line 3: break_lock must be true or false");
	expect_error("cluster=h:1\nvolume=v\nlock_owner=\n", "n",
		     "line 3: lock_owner");
	/* force_detach only says how to apply a change: not compared */
	assert_int_equal(nb_spec_parse("cluster=h:1\nvolume=v\nforce_detach=true\n",
				    "x", NULL, &b, err, sizeof(err)), 0);
	assert_true(b.force_detach);
	assert_true(nb_spec_equal(&a, &b));
}

static void test_names(void **state)
{
	assert_true(nb_spec_name_ok("vol-1_a.b"));
	assert_false(nb_spec_name_ok(""));
	assert_false(nb_spec_name_ok(".hidden"));
	assert_false(nb_spec_name_ok("control"));
	assert_false(nb_spec_name_ok("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_spec),
		cmocka_unit_test(test_defaults_and_equal),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ciphersuites),
		cmocka_unit_test(test_lock_keys),
	};

	return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
