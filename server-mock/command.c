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

#include "conn.h"
#include "errmsg.h"
#include "parse.h"
#include "volume.h"

#define MOCK_CMD_MAX_ARGS 8
#define MOCK_DELAY_MAX_MS (3600u * 1000u)

static const char *const mock_fault_op_names[MOCK_FOP_MAX] = {
	[MOCK_FOP_READ] = "read",
	[MOCK_FOP_WRITE] = "write",
	[MOCK_FOP_FLUSH] = "flush",
	[MOCK_FOP_DISCARD] = "discard",
	[MOCK_FOP_WRITE_ZEROES] = "write-zeroes",
};

const char *mock_fault_op_name(enum mock_fault_op op)
{
	return (unsigned)op < MOCK_FOP_MAX ? mock_fault_op_names[op] : "?";
}

static int mock_cmd_error_rate(struct mock_server *srv, int argc, char **argv,
			       char *out, size_t outlen)
{
	char *end;
	double pct;
	int op = -1;

	if (argc != 3)
		return nb_errf(out, outlen, -EINVAL, "usage: error-rate OP|all PERCENT");
	if (strcmp(argv[1], "all") != 0) {
		for (int i = 0; i < MOCK_FOP_MAX; i++)
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
	for (int i = 0; i < MOCK_FOP_MAX; i++)
		if (op < 0 || op == i)
			srv->node.faults.error_rate[i] = pct;
	snprintf(out, outlen, "error-rate %s %g%%", argv[1], pct);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_delay(struct mock_server *srv, int argc, char **argv,
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
	srv->node.faults.delay_min_ms = (uint32_t)lo;
	srv->node.faults.delay_max_ms = (uint32_t)hi;
	snprintf(out, outlen, "delay %llu..%llu ms", (unsigned long long)lo,
		 (unsigned long long)hi);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_drop_every(struct mock_server *srv, int argc, char **argv,
			       char *out, size_t outlen)
{
	uint64_t n;

	if (argc != 2 || nb_parse_u64(argv[1], 0, UINT32_MAX, &n) < 0)
		return nb_errf(out, outlen, -EINVAL, "usage: drop-every N (0 = off)");
	srv->node.faults.drop_every = n;
	srv->node.faults.drop_counter = 0;
	snprintf(out, outlen, "drop-every %llu", (unsigned long long)n);
	mock_info("fault: %s", out);
	return 0;
}

static int mock_cmd_stall(struct mock_server *srv, int argc, char **argv,
			  char *out, size_t outlen)
{
	bool on;

	if (argc != 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0))
		return nb_errf(out, outlen, -EINVAL, "usage: stall on|off");
	on = strcmp(argv[1], "on") == 0;
	srv->node.faults.stall = on;
	snprintf(out, outlen, "stall %s (%llu requests held)", argv[1],
		 (unsigned long long)srv->node.stats.inflight);
	mock_info("fault: %s", out);
	if (!on)
		mock_server_release_stalled(srv);
	return 0;
}

static void mock_cmd_faults_text(struct mock_server *srv, char *out, size_t outlen)
{
	const struct mock_faults *f = &srv->node.faults;
	size_t used = 0;

	for (int i = 0; i < MOCK_FOP_MAX && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "error-rate-%s=%g ",
					 mock_fault_op_names[i], f->error_rate[i]);
	if (used < outlen)
		snprintf(out + used, outlen - used,
			 "delay-min-ms=%u delay-max-ms=%u drop-every=%llu stall=%s",
			 f->delay_min_ms, f->delay_max_ms,
			 (unsigned long long)f->drop_every, f->stall ? "on" : "off");
}

static void mock_cmd_stats_text(struct mock_server *srv, char *out, size_t outlen)
{
	const struct mock_stats *s = &srv->node.stats;

	snprintf(out, outlen,
		 "connections=%llu open_connections=%zu requests=%llu reads=%llu writes=%llu "
		 "flushes=%llu fua=%llu discards=%llu write_zeroes=%llu not_owner=%llu "
		 "errors_injected=%llu drops=%llu bytes_read=%llu bytes_written=%llu "
		 "inflight=%llu map_epoch=%llu",
		 (unsigned long long)s->connections, srv->n_conns,
		 (unsigned long long)s->requests, (unsigned long long)s->reads,
		 (unsigned long long)s->writes, (unsigned long long)s->flushes,
		 (unsigned long long)s->fua, (unsigned long long)s->discards,
		 (unsigned long long)s->write_zeroes, (unsigned long long)s->not_owner,
		 (unsigned long long)s->errors_injected, (unsigned long long)s->drops,
		 (unsigned long long)s->bytes_read, (unsigned long long)s->bytes_written,
		 (unsigned long long)s->inflight,
		 (unsigned long long)(srv->node.map ? srv->node.map->epoch : 0));
}

static int mock_cmd_resize(struct mock_server *srv, int argc, char **argv,
			   char *out, size_t outlen)
{
	struct mock_volume *vol;
	uint64_t size;
	int r;

	if (argc != 3)
		return nb_errf(out, outlen, -EINVAL, "usage: resize VOLUME SIZE");
	vol = mock_node_find_volume(&srv->node, argv[1]);
	if (!vol)
		return nb_errf(out, outlen, -ENOENT, "no volume named \"%s\"",
			       argv[1]);
	if (mock_parse_size(argv[2], &size) < 0)
		return nb_errf(out, outlen, -EINVAL, "bad size \"%s\"", argv[2]);
	if (size < vol->size || size % vol->block_size != 0)
		return nb_errf(out, outlen, -EINVAL,
			       "volume %s can only grow to a multiple of %u bytes (now %llu, asked %llu)",
			       vol->name, vol->block_size, (unsigned long long)vol->size,
			       (unsigned long long)size);
	r = mock_volume_resize(vol, size);
	if (r < 0)
		return nb_errf(out, outlen, r, "cannot resize volume %s: %s",
			       vol->name, strerror(-r));
	snprintf(out, outlen, "volume %s size %llu", vol->name, (unsigned long long)size);
	mock_info("%s", out);
	return 0;
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

int mock_command_exec(struct mock_server *srv, const char *line, char *out,
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
		r = mock_cmd_error_rate(srv, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "delay") == 0) {
		r = mock_cmd_delay(srv, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "drop-every") == 0) {
		r = mock_cmd_drop_every(srv, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "stall") == 0) {
		r = mock_cmd_stall(srv, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "reset") == 0 && argc == 1) {
		bool stalled = srv->node.faults.stall;

		memset(&srv->node.faults, 0, sizeof(srv->node.faults));
		if (stalled)
			mock_server_release_stalled(srv);
		snprintf(out, outlen, "all faults off");
		mock_info("fault: %s", out);
	} else if (strcmp(argv[0], "faults") == 0 && argc == 1) {
		mock_cmd_faults_text(srv, out, outlen);
	} else if (strcmp(argv[0], "stats") == 0 && argc == 1) {
		mock_cmd_stats_text(srv, out, outlen);
	} else if (strcmp(argv[0], "map-reload") == 0 && argc == 1) {
		r = mock_server_map_reload(srv, out, outlen);
		if (r < 0)
			mock_warn("map-reload: %s; keeping map epoch %llu", out,
				  (unsigned long long)srv->node.map->epoch);
	} else if (strcmp(argv[0], "resize") == 0) {
		r = mock_cmd_resize(srv, argc, argv, out, outlen);
	} else if (strcmp(argv[0], "quit") == 0 && argc == 1) {
		snprintf(out, outlen, "quitting");
		mock_info("control: quit");
		mock_server_quit(srv);
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
