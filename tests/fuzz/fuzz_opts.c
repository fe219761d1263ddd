/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the command lines of the daemon and of netblk-cli.
 *
 * Parsers: the daemon's (nb_cmdline_parse, netblk_daemon), and netblk-cli's
 * options before the command and the number parsers every command's
 * options go through (nb_cli_main_parse, cli_parse_*, netblk_cli_util). Both
 * return rather than exit, also after --help.  Input: byte 0 picks the
 * parser, the rest is the argument vector, arguments separated by NUL
 * bytes (at most 64). Messages go to a /dev/null stream instead of stderr.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdline.h"
#include "options.h"

#define FZ_MAX_ARGS 64

static int fz_split(const uint8_t *data, size_t size, char *buf,
		    char **argv)
{
	int argc = 0;
	size_t i, start = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"prog";
	for (i = 0; i <= size && argc < FZ_MAX_ARGS; i++) {
		if (i == size || buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	return argc;
}

static void fz_daemon(int argc, char **argv)
{
	struct cmdline o;

	optind = 0;
	if (nb_cmdline_parse(argc, argv, &o) == 0) {
		/* what a successful parse promises the rest of main() */
		if (!o.n_nodes || o.cfg.n_nodes != o.n_nodes ||
		    !o.cfg.volume || !o.cfg.volume[0] || !o.name[0] ||
		    o.cfg.name != o.name || strchr(o.name, '/') ||
		    o.cfg.queues < 1 || o.cfg.queues > OPTIONS_QUEUES_MAX ||
		    o.cfg.queue_size < OPTIONS_QUEUE_SIZE_MIN ||
		    o.cfg.queue_size > OPTIONS_QUEUE_SIZE_MAX ||
		    (o.cfg.queue_size & (o.cfg.queue_size - 1)) ||
		    !(o.cfg.connect_timeout > 0))
			abort();
		for (size_t i = 0; i < o.n_nodes; i++)
			if (nb_options_check_node(o.cfg.nodes[i]) < 0)
				abort();
		if (o.cfg.lock_owner &&
		    nb_options_check_lock_owner(o.cfg.lock_owner) < 0)
			abort();
	}
	nb_cmdline_free(&o);
}

static void fz_cli(int argc, char **argv)
{
	struct cli_common opt = { .io_timeout = CLI_DEFAULT_IO_TIMEOUT };
	uint64_t v;
	double d;
	int first = 0;

	if (nb_cli_main_parse(&opt, argc, argv, &first) == 0) {
		if (first > argc)
			abort();
		if (opt.volume && (!opt.volume[0] ||
				   strlen(opt.volume) > SESSION_NAME_MAX))
			abort();
	}
	nb_cli_common_free(&opt);
	/* the number parsers behind every command's options */
	for (int i = 1; i < argc; i++) {
		if (nb_cli_parse_size("--size", argv[i], &v) == 0 &&
		    argv[i][0] == '-')
			abort();
		nb_cli_parse_uint("--depth", argv[i], 1, 4096, &v);
		if (nb_cli_parse_seconds("--time", argv[i], &d) == 0 && !(d >= 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	char *argv[FZ_MAX_ARGS + 1];
	char *buf;
	int argc;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
		stderr = devnull;	/* libFuzzer keeps its own stream */
		stdout = devnull;
	}
	if (size < 1 || size > 4096)
		return 0;
	buf = malloc(size);
	if (!buf)
		abort();
	argc = fz_split(data + 1, size - 1, buf, argv);
	if (data[0] & 1)
		fz_cli(argc, argv);
	else
		fz_daemon(argc, argv);
	free(buf);
	return 0;
}
