/* SPDX-License-Identifier: MIT */
/* Unit tests of the common logger (common/logging.c): lines and levels. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "logging.h"

/* Run fn with stderr sent to a file; return what it wrote (static). */
static const char *test_capture(void (*fn)(void))
{
	static char out[8192];
	char path[] = "/tmp/test_logging.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n >= 0);
	out[n] = '\0';
	return out;
}

static void test_match(const char *text, const char *re)
{
	regex_t rx;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
	if (regexec(&rx, text, 0, NULL, 0) != 0)
		fail_msg("'%s' does not match '%s'", text, re);
	regfree(&rx);
}

static void test_daemon_lines(void)
{
	nb_log_init("prog", LOG_INFO);
	nb_log_set_style(LOG_STYLE_DATE_PID);
	nb_log_msg(LOG_WARNING, "disk %d is slow", 3);
	nb_log_msg(LOG_DEBUG, "not printed");
	nb_log_text(LOG_ERR, "100% done");
}

static void test_date_pid(void **state)
{
	const char *out = test_capture(test_daemon_lines);
	char re[256];

	snprintf(re, sizeof(re),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		 "prog\\[%d\\]: warning: disk 3 is slow\n"
		 "[0-9T:.Z-]+ prog\\[%d\\]: error: 100%% done\n$",
		 (int)getpid(), (int)getpid());
	test_match(out, re);
}

static void test_node_lines(void)
{
	nb_log_init("mock", LOG_WARNING);
	nb_log_set_style(LOG_STYLE_TIME_TAG);
	nb_log_set_tag("node-a");
	nb_log_msg(LOG_INFO, "not printed");
	nb_log_msg(LOG_WARNING, "w");
	nb_log_msg(LOG_ERR, "e");
}

static void test_time_tag(void **state)
{
	test_match(test_capture(test_node_lines),
		   "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} mock\\[node-a\\] warn: w\n"
		   "[0-9:.]+ mock\\[node-a\\] error: e\n$");
	nb_log_set_style(LOG_STYLE_DATE_PID);
}

static void test_levels(void **state)
{
	nb_log_init("prog", LOG_NOTICE);
	assert_true(log_enabled(LOG_NOTICE));
	assert_false(log_enabled(LOG_INFO));
	assert_int_equal(nb_log_level(), LOG_NOTICE);
	assert_int_equal(nb_log_parse_level("error"), LOG_ERR);
	assert_int_equal(nb_log_parse_level("warn"), LOG_WARNING);
	assert_int_equal(nb_log_parse_level("warning"), LOG_WARNING);
	assert_int_equal(nb_log_parse_level("notice"), LOG_NOTICE);
	assert_int_equal(nb_log_parse_level("debug"), LOG_DEBUG);
	assert_int_equal(nb_log_parse_level("critical"), -1);
	assert_int_equal(nb_log_parse_level("loud"), -1);
}

/* stderr is the journal: "<N>" priorities, no timestamp. */
static void test_journal_lines(void)
{
	struct stat st;
	char env[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	nb_log_init("prog", LOG_INFO);
	nb_log_set_style(LOG_STYLE_DATE_PID);
	nb_log_msg(LOG_ERR, "volume %s: cannot connect", "v1");
	nb_log_msg(LOG_WARNING, "slow");
	nb_log_msg(LOG_INFO, "attached");
	nb_log_set_style(LOG_STYLE_TIME_TAG);
	nb_log_set_tag("node-b");
	nb_log_msg(LOG_NOTICE, "up");
	nb_log_set_style(LOG_STYLE_DATE_PID);
	nb_log_set_tag("");
}

static void test_journal(void **state)
{
	test_match(test_capture(test_journal_lines),
		   "^<3>volume v1: cannot connect\n<4>slow\n<6>attached\n"
		   "<5>\\[node-b\\] up\n$");
	assert_true(nb_log_to_journal());
	/* Another stream than the one systemd named: ordinary lines. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	nb_log_init("prog", LOG_INFO);
	assert_false(nb_log_to_journal());
	unsetenv("JOURNAL_STREAM");
	nb_log_init("prog", LOG_INFO);
	assert_false(nb_log_to_journal());
}

/* The same error five times within the window, then another: two lines;
 * after the window the next one says how many were left out. */
static void test_repeat_lines(void)
{
	nb_log_init("prog", LOG_INFO);
	nb_log_set_repeat_window(60);
	for (int i = 0; i < 5; i++)
		nb_log_msg(LOG_ERR, "spec a.spec: cluster= missing");
	nb_log_msg(LOG_ERR, "spec b.spec: cluster= missing");
	nb_log_msg(LOG_INFO, "info repeats");
	nb_log_msg(LOG_INFO, "info repeats");
	nb_log_set_repeat_window(0);
	nb_log_msg(LOG_ERR, "spec a.spec: cluster= missing");
	nb_log_msg(LOG_ERR, "spec a.spec: cluster= missing");
	nb_log_set_repeat_window(60);
}

static void test_repeats(void **state)
{
	test_match(test_capture(test_repeat_lines),
		   "^[^\n]* error: spec a.spec: cluster= missing\n"
		   "[^\n]* error: spec b.spec: cluster= missing\n"
		   "[^\n]* info: info repeats\n"
		   "[^\n]* info: info repeats\n"
		   "[^\n]* error: spec a.spec: cluster= missing "
		   "\\(4 more times since last printed\\)\n"
		   "[^\n]* error: spec a.spec: cluster= missing\n$");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_pid),
		cmocka_unit_test(test_time_tag),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_repeats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
