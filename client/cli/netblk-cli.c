/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli: administer and exercise a netblk volume from the command
 * line through the client engine (cluster.h). This file holds the command
 * table and main(); the common options are cli_options.c's, the glue that
 * opens a volume cli_ctx.c's, and each command lives in its own cli_*.c
 * file.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct cli_command {
	const char *name;
	int (*run)(struct cli_common *opt, int argc, char **argv);
};

static const struct cli_command cli_commands[] = {
	{ "create", cli_cmd_create },
	{ "info", cli_cmd_info },
	{ "import", cli_cmd_import },
	{ "export", cli_cmd_export },
	{ "verify", cli_cmd_verify },
	{ "bench", cli_cmd_bench },
	{ "unlock", cli_cmd_unlock },
	{ "delete", cli_cmd_delete },
	{ "resize", cli_cmd_resize },
	{ "list", cli_cmd_list },
};

int main(int argc, char **argv)
{
	struct cli_common opt = {
		.io_timeout = CLI_DEFAULT_IO_TIMEOUT,
		.progress = -1,
		.progress_interval = CLI_PROGRESS_LINES_S,
	};
	int first = 0, ret;

	/* A closed socket or output pipe is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	ret = nb_cli_main_parse(&opt, argc, argv, &first);
	if (ret != 0) {
		ret = ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		goto out;
	}
	if (first >= argc) {
		nb_cli_err("missing COMMAND (create, info, import, export, verify, bench, unlock, delete, resize, list; see 'netblk-cli --help')");
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(argv[first], cli_commands[i].name) == 0) {
			ret = cli_commands[i].run(&opt, argc - first, argv + first);
			goto out;
		}
	}
	nb_cli_err("unknown command '%s' (see 'netblk-cli --help')", argv[first]);
	ret = CLI_EXIT_USAGE;
out:
	nb_cli_common_free(&opt);
	return ret;
}
