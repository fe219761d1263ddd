/* libFuzzer target: the command lines of the daemon (vduse-netblk's
 * main_parse) and of netblk-cli (its options before the command, and the
 * number parsers every command's options go through).
 *
 * Both parsers are static in their program's main file; this harness
 * includes those files with main() renamed and exit() caught, so neither
 * program changes for it.  Input: byte 0 picks the parser, the rest is the
 * argument vector, arguments separated by NUL bytes (at most 64).
 * Messages go to a /dev/null stream instead of stderr.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf fz_exit_jmp;

static void fz_exit(int code)
{
	longjmp(fz_exit_jmp, code + 1);
}

#define main fz_daemon_main
#define exit fz_exit
#include "../../client/daemon/main.c"
#undef main
#define main fz_cli_main
#include "../../client/cli/netblk-cli.c"
#undef main
#undef exit

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
	struct main_opts o;

	memset(&o, 0, sizeof(o));
	optind = 0;
	if (setjmp(fz_exit_jmp) == 0 && main_parse(argc, argv, &o) == 0) {
		/* what a successful parse promises the rest of main() */
		if (!o.n_nodes || !o.volume || !o.volume[0] || !o.name[0] ||
		    strchr(o.name, '/') || o.queues < 1 ||
		    o.queues > MAIN_MAX_QUEUES || o.queue_size < 4 ||
		    (o.queue_size & (o.queue_size - 1)) ||
		    !(o.connect_timeout > 0))
			abort();
		for (size_t i = 0; i < o.n_nodes; i++)
			if (!strchr(o.nodes[i], ':'))
				abort();
	}
	for (size_t i = 0; i < o.n_nodes; i++)
		free(o.nodes[i]);
	free(o.nodes);
}

static void fz_cli(int argc, char **argv)
{
	struct cli_common opt = { .io_timeout = CLI_DEFAULT_IO_TIMEOUT };
	uint64_t v;
	double d;
	int first = 0;

	if (setjmp(fz_exit_jmp) == 0 &&
	    cli_main_parse(&opt, argc, argv, &first) == 0) {
		if (first > argc)
			abort();
		if (opt.volume && (!opt.volume[0] ||
				   strlen(opt.volume) > SESSION_NAME_MAX))
			abort();
	}
	cli_common_free(&opt);
	/* the number parsers behind every command's options */
	for (int i = 1; i < argc; i++) {
		if (cli_parse_size("--size", argv[i], &v) == 0 &&
		    argv[i][0] == '-')
			abort();
		cli_parse_uint("--depth", argv[i], 1, 4096, &v);
		if (cli_parse_seconds("--time", argv[i], &d) == 0 && !(d >= 0))
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
