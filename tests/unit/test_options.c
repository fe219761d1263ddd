/* SPDX-License-Identifier: MIT */
/* Unit tests of the daemon's option limits (options.c) and command line
 * (cmdline.c): what each accepts, and the defaults both share. */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"
#include "options.h"

static void test_limits(void **state)
{
	unsigned int u = 7;
	double d = 7;

	assert_int_equal(nb_options_parse_queues("1", &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(nb_options_parse_queues("64", &u), 0);
	assert_int_equal(nb_options_parse_queues("65", &u), -ERANGE);
	assert_int_equal(nb_options_parse_queues("0", &u), -ERANGE);
	assert_int_equal(nb_options_parse_queues("2x", &u), -EINVAL);
	assert_int_equal(u, 64);

	assert_int_equal(nb_options_parse_queue_size("4", &u), 0);
	assert_int_equal(nb_options_parse_queue_size("32768", &u), 0);
	assert_int_equal(u, 32768);
	assert_int_equal(nb_options_parse_queue_size("2", &u), -ERANGE);
	assert_int_equal(nb_options_parse_queue_size("65536", &u), -ERANGE);
	assert_int_equal(nb_options_parse_queue_size("100", &u), -EDOM);

	assert_int_equal(nb_options_parse_bounce_mb("0", &u), 0);
	assert_int_equal(u, 0);
	assert_int_equal(nb_options_parse_bounce_mb("3", &u), -EDOM);
	assert_int_equal(nb_options_parse_bounce_mb("1024", &u), 0);
	assert_int_equal(nb_options_parse_bounce_mb("1025", &u), -ERANGE);

	assert_int_equal(nb_options_parse_seconds("0.5", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(nb_options_parse_seconds("1000001", &d), -ERANGE);
	assert_int_equal(nb_options_parse_seconds("-1", &d), -EINVAL);
	assert_int_equal(nb_options_parse_connect_timeout("0", &d), -EDOM);
	assert_int_equal(nb_options_parse_connect_timeout("2", &d), 0);
	assert_true(d == 2);

	assert_int_equal(nb_options_check_node("h:1"), 0);
	assert_int_equal(nb_options_check_node("[::1]:7001"), 0);
	assert_int_equal(nb_options_check_node("h1"), -EINVAL);
	assert_int_equal(nb_options_check_node("h:99999"), -EINVAL);
}

static int parse(struct cmdline *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"vduse-netblk";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	optind = 0;
	return nb_cmdline_parse(argc, argv, o);
}

static void test_cmdline_defaults(void **state)
{
	static const char *const args[] = { "-c", "h:1,[::1]:2", "-v", "vol",
					    NULL };
	struct volume_config def;
	struct cmdline o;

	nb_options_defaults(&def);
	assert_int_equal(parse(&o, args), 0);
	assert_int_equal(o.cfg.n_nodes, 2);
	assert_string_equal(o.cfg.nodes[1], "[::1]:2");
	assert_string_equal(o.cfg.name, "netblk-vol");
	assert_int_equal(o.cfg.queues, def.queues);
	assert_int_equal(o.cfg.queue_size, OPTIONS_QUEUE_SIZE_DEFAULT);
	assert_int_equal(o.cfg.bounce_size, def.bounce_size);
	assert_false(o.cfg.bounce_size_given);
	assert_string_equal(o.cfg.ca, OPTIONS_DEFAULT_CA);
	assert_true(o.cfg.connect_timeout == def.connect_timeout);
	assert_true(o.cfg.attach);
	nb_cmdline_free(&o);
}

static void test_cmdline_refused(void **state)
{
	static const char *const bad[][8] = {
		{ "-c", "h1", "-v", "v", NULL },
		{ "-c", "h:1", "-v", "v", "-q", "65", NULL },
		{ "-c", "h:1", "-v", "v", "--queue-size", "100", NULL },
		{ "-c", "h:1", "-v", "v", "--bounce-size", "2", NULL },
		{ "-c", "h:1", "-v", "v", "--connect-timeout", "0", NULL },
		{ "-c", "h:1", NULL },
		{ "-c", "h:1", "-v", "v", "extra", NULL },
		/* addresses that are not host:port: usage errors (exit 2) */
		{ "-c", "127.0.0.1:99999", "-v", "v", NULL },
		{ "-c", "[::1", "-v", "v", NULL },
		{ "-c", "h:1,nohost", "-v", "v", NULL },
	};
	struct cmdline o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, bad[i]), -EINVAL);
		nb_cmdline_free(&o);
	}
}

static void test_cmdline_lock(void **state)
{
	static const char *const plain[] = { "-c", "h:1", "-v", "vol", NULL };
	static const char *const brk[] = { "-c", "h:1", "-v", "vol",
					   "--break-lock", "--lock-owner",
					   "web@host9", NULL };
	static const char *const bad[][8] = {
		{ "-c", "h:1", "-v", "v", "--lock-owner", "", NULL },
		{ "-c", "h:1", "-v", "v", "--lock-owner", "a\tb", NULL },
		{ "-c", "h:1", "-v", "v", "--lock-owner", NULL },
		{ "-c", "h:1", "-v", "v", "--break-lock=yes", NULL },
	};
	char owner[300], big[300];
	struct cmdline o;

	assert_int_equal(parse(&o, plain), 0);
	assert_false(o.cfg.break_lock);
	assert_null(o.cfg.lock_owner);	/* the volume makes NAME@HOST */
	nb_cmdline_free(&o);
	assert_int_equal(parse(&o, brk), 0);
	assert_true(o.cfg.break_lock);
	assert_string_equal(o.cfg.lock_owner, "web@host9");
	nb_cmdline_free(&o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, bad[i]), -EINVAL);
		nb_cmdline_free(&o);
	}

	/* the default owner: the device name at this host */
	assert_int_equal(nb_options_lock_owner("netblk-vol", owner,
					    sizeof(owner)), 0);
	assert_true(strncmp(owner, "netblk-vol@", 11) == 0 && owner[11]);
	memset(big, 'n', 260);
	big[260] = '\0';
	assert_int_equal(nb_options_lock_owner(big, owner, sizeof(owner)),
			 -ENAMETOOLONG);
	assert_int_equal(nb_options_check_lock_owner("a@b"), 0);
	assert_int_equal(nb_options_check_lock_owner(big), -EINVAL);
	assert_int_equal(nb_options_check_lock_owner(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cmdline_lock),
		cmocka_unit_test(test_cmdline_defaults),
		cmocka_unit_test(test_cmdline_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
