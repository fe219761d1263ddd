/* SPDX-License-Identifier: MIT */
/*
 * Text commands of the control socket and --fault: fault injection in
 * the spirit of nbdkit's error and delay filters, statistics, map reload,
 * volume resize and quit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mock.h"
#include "parse.h"

#define MOCK_CMD_MAX_ARGS 8
#define MOCK_DELAY_MAX_MS (3600u * 1000u)

static const char *const mock_fault_op_names[NB_STORE_OP_MAX] = {
	[NB_STORE_READ] = "read",
	[NB_STORE_WRITE] = "write",
	[NB_STORE_FLUSH] = "flush",
	[NB_STORE_DISCARD] = "discard",
	[NB_STORE_WRITE_ZEROES] = "write-zeroes",
};

const char *mock_fault_op_name(enum nb_store_op op)
{
	return (unsigned)op < NB_STORE_OP_MAX ? mock_fault_op_names[op] : "?";
}

static int mock_cmd_error_rate(struct mock_server *ms, int argc, char **argv,
			       char *out, size_t outlen)
{
	char *end;
	double pct;
	int op = -1;

	if (argc != 3)
		return nb_errf(out, outlen, -EINVAL, "usage: error-rate OP|all PERCENT");
	if (strcmp(argv[1], "all") != 0) {
		for (int i = 0; i < NB_STORE_OP_MAX; i++)
			if (strcmp(argv[1], mock_fault_op_names[i]) == 0)
				op = i;
		if (op < 0)
			return nb_errf(out, outlen, -EINVAL,
				       "unknown operation \"%s\" (read, write, flush, discard, write-zeroes or all)",
				       argv[1]);
	}
	errno = 0;
	pct = strtod(argv[2], &end);
	if (errno || end == argv[2] || *end || !(pct >= 0 && pct <= 100))
		return nb_errf(out, outlen, -EINVAL,
			       "bad percentage \"%s\" (0 to 100)", argv[2]);
	for (int i = 0; i < NB_STORE_OP_MAX; i++)
		if (op < 0 || op == i)
			ms->faults.error_rate[i] = pct;
	snprintf(out, outlen, "error-rate %s %g%%", argv[1], pct);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_delay(struct mock_server *ms, int argc, char **argv,
			  char *out, size_t outlen)
{
	uint64_t lo, hi;

	if (argc != 2 && argc != 3)
		return nb_errf(out, outlen, -EINVAL, "usage: delay MS [MAX_MS]");
	if (nb_parse_u64(argv[1], 0, MOCK_DELAY_MAX_MS, &lo) < 0)
		return nb_errf(out, outlen, -EINVAL, "bad delay \"%s\" (0 to %u ms)",
			       argv[1], MOCK_DELAY_MAX_MS);
	hi = lo;
	if (argc == 3 && (nb_parse_u64(argv[2], lo, MOCK_DELAY_MAX_MS, &hi) < 0))
		return nb_errf(out, outlen, -EINVAL,
			       "bad maximum delay \"%s\" (%llu to %u ms)", argv[2],
			       (unsigned long long)lo, MOCK_DELAY_MAX_MS);
	ms->faults.delay_min_ms = (uint32_t)lo;
	ms->faults.delay_max_ms = (uint32_t)hi;
	snprintf(out, outlen, "delay %llu..%llu ms", (unsigned long long)lo,
		 (unsigned long long)hi);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_drop_every(struct mock_server *ms, int argc, char **argv,
			       char *out, size_t outlen)
{
	uint64_t n;

	if (argc != 2 || nb_parse_u64(argv[1], 0, UINT32_MAX, &n) < 0)
		return nb_errf(out, outlen, -EINVAL, "usage: drop-every N (0 = off)");
	ms->faults.drop_every = n;
	ms->faults.drop_counter = 0;
	snprintf(out, outlen, "drop-every %llu", (unsigned long long)n);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_stall(struct mock_server *ms, int argc, char **argv,
			  char *out, size_t outlen)
{
	bool on;

	if (argc != 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0))
		return nb_errf(out, outlen, -EINVAL, "usage: stall on|off");
	on = strcmp(argv[1], "on") == 0;
	ms->faults.stall = on;
	snprintf(out, outlen, "stall %s (%llu requests held)", argv[1],
		 (unsigned long long)ms->faults.held);
	mock_info("fault: %s", out);
	if (!on)
		mock_faults_release_stalled(&ms->faults);
	return 0;
}

static void mock_cmd_faults_text(struct mock_server *ms, char *out, size_t outlen)
{
	const struct mock_faults *f = &ms->faults;
	size_t used = 0;

	for (int i = 0; i < NB_STORE_OP_MAX && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "error-rate-%s=%g ",
					 mock_fault_op_names[i], f->error_rate[i]);
	if (used < outlen)
		snprintf(out + used, outlen - used,
			 "delay-min-ms=%u delay-max-ms=%u drop-every=%llu stall=%s",
			 f->delay_min_ms, f->delay_max_ms,
			 (unsigned long long)f->drop_every, f->stall ? "on" : "off");
}

static void mock_cmd_stats_text(struct mock_server *ms, char *out, size_t outlen)
{
	const struct mock_faults *f = &ms->faults;
	struct nb_srv_stats s;

	nb_srv_get_stats(ms->srv, &s);
	snprintf(out, outlen,
		 "connections=%llu open_connections=%llu requests=%llu reads=%llu writes=%llu "
		 "flushes=%llu fua=%llu discards=%llu write_zeroes=%llu not_owner=%llu "
		 "errors_injected=%llu drops=%llu bytes_read=%llu bytes_written=%llu "
		 "inflight=%llu map_epoch=%llu fenced=%llu",
		 (unsigned long long)s.connections, (unsigned long long)s.open_connections,
		 (unsigned long long)s.requests, (unsigned long long)s.reads,
		 (unsigned long long)s.writes, (unsigned long long)s.flushes,
		 (unsigned long long)s.fua, (unsigned long long)s.discards,
		 (unsigned long long)s.write_zeroes, (unsigned long long)s.not_owner,
		 (unsigned long long)f->errors_injected, (unsigned long long)f->drops,
		 (unsigned long long)s.bytes_read, (unsigned long long)s.bytes_written,
		 (unsigned long long)f->held, (unsigned long long)s.map_epoch,
		 (unsigned long long)s.fenced);
}

static int mock_cmd_resize(struct mock_server *ms, int argc, char **argv,
			   char *out, size_t outlen)
{
	uint64_t size;
	int r;

	if (argc != 3)
		return nb_errf(out, outlen, -EINVAL, "usage: resize VOLUME SIZE");
	if (!nb_srv_volume_exists(ms->srv, argv[1]))
		return nb_errf(out, outlen, -ENOENT, "no volume named \"%s\"",
			       argv[1]);
	if (mock_parse_size(argv[2], &size) < 0)
		return nb_errf(out, outlen, -EINVAL, "bad size \"%s\"", argv[2]);
	r = nb_srv_volume_resize(ms->srv, argv[1], size, out, outlen);
	if (r == 0)
		mock_info("%s", out);
	return r;
}

static int mock_cmd_split(char *line, char **argv)
{
	int argc = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == MOCK_CMD_MAX_ARGS)
			return -E2BIG;
		argv[argc++] = tok;
	}
	return argc;
}

int mock_command_exec(struct mock_server *ms, const char *line, char *out,
		      size_t outlen)
{
	char *argv[MOCK_CMD_MAX_ARGS];
	char *copy = strdup(line);
	int argc, r = 0;

	out[0] = '\0';
	if (!copy)
		return nb_errf(out, outlen, -ENOMEM, "out of memory");
	argc = mock_cmd_split(copy, argv);
	if (argc <= 0) {
		snprintf(out, outlen, argc == 0 ? "empty command" : "too many arguments");
		r = -EINVAL;
	} else if (strcmp(argv[0], "error-rate") == 0) {
		r = mock_cmd_error_rate(ms, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "delay") == 0) {
		r = mock_cmd_delay(ms, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "drop-every") == 0) {
		r = mock_cmd_drop_every(ms, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "stall") == 0) {
		r = mock_cmd_stall(ms, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "reset") == 0 && argc == 1) {
		struct mock_faults *f = &ms->faults;

		memset(f->error_rate, 0, sizeof(f->error_rate));
		f->delay_min_ms = f->delay_max_ms = 0;
		f->drop_every = f->drop_counter = 0;
		f->stall = false;
		mock_faults_release_stalled(f);
		snprintf(out, outlen, "all faults off");
		mock_info("fault: %s", out);
	} else if (strcmp(argv[0], "faults") == 0 && argc == 1) {
		mock_cmd_faults_text(ms, out, outlen);
	} else if (strcmp(argv[0], "stats") == 0 && argc == 1) {
		mock_cmd_stats_text(ms, out, outlen);
	} else if (strcmp(argv[0], "map-reload") == 0 && argc == 1) {
		r = nb_srv_map_reload(ms->srv, out, outlen);
		if (r < 0)
			mock_warn("map-reload: %s; keeping map epoch %llu", out,
				  (unsigned long long)nb_srv_map_epoch(ms->srv));
	} else if (strcmp(argv[0], "resize") == 0) {
		r = mock_cmd_resize(ms, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "quit") == 0 && argc == 1) {
		snprintf(out, outlen, "quitting");
		mock_info("control: quit");
		nb_srv_quit(ms->srv);
	} else if (strcmp(argv[0], "help") == 0 && argc == 1) {
		snprintf(out, outlen,
			 "commands: error-rate OP|all PERCENT; delay MS [MAX_MS]; drop-every N; "
			 "stall on|off; reset; faults; stats; map-reload; resize VOLUME SIZE; quit");
	} else {
		snprintf(out, outlen, "unknown command \"%s\" or wrong arguments (try help)",
			 argv[0]);
		r = -EINVAL;
	}
	free(copy);
	return r;
}
