/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli's command line: the common options every command takes (before
 * or after the command name), their help text, and the parser each command
 * runs with its own options added.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli.h"
#include "parse.h"
#include "tls_suites.h"
#include "version.h"

static const char cli_main_help[] =
"NAME\n"
"    netblk-cli - create, fill, read, verify and benchmark netblk volumes\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] COMMAND [COMMAND OPTIONS] [ARGS]\n"
"    netblk-cli COMMAND --help\n"
"\n"
"DESCRIPTION\n"
"    netblk-cli talks to the storage nodes of a netblk cluster over TLS 1.3\n"
"    with the same engine as the vduse-netblk daemon. Common options may be\n"
"    given before or after the command name.\n"
"\n"
"COMMANDS\n"
"    create SIZE     create the volume on every node of --cluster\n"
"    info            show the volume and the cluster map\n"
"    import FILE     copy FILE ('-' = stdin) into the volume\n"
"    export FILE     copy the volume into FILE ('-' = stdout)\n"
"    verify          write a self-describing pattern, read it back, compare\n"
"    bench           measure IOPS, bandwidth and latency\n"
"    unlock [VOLUME] break the volume's writer lock, print who held it\n"
"    delete [VOLUME] delete the volume and its data on every store\n"
"    resize SIZE     grow the volume to SIZE bytes on every store\n"
"    list            list the volumes of every store, with their sizes\n"
"\n"
"COMMON OPTIONS\n"
"    -c, --cluster ADDR[,ADDR...]\n"
"                              seed nodes, host:port or [v6]:port (required)\n"
"    -v, --volume ID           volume name (required)\n"
"    --ca FILE                 CA certificate(s) trusted for the nodes\n"
"                              (default /etc/vduse-netblk/ca.crt, as the\n"
"                              daemon's, when that file exists)\n"
"    --cert FILE, --key FILE   client certificate and private key (default\n"
"                              /etc/vduse-netblk/client.crt and client.key\n"
"                              when both exist)\n"
"    --tls-name NAME           name the node certificates must carry\n"
"                              (default: the host part of each address)\n"
"    --tls-ciphersuites LIST   TLS 1.3 cipher suites to offer, in order of\n"
"                              preference, joined by ':' (OpenSSL names:\n"
"                              TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,\n"
"                              TLS_CHACHA20_POLY1305_SHA256, ...); the node\n"
"                              picks the first it allows. Default: these\n"
"                              three, fastest on this CPU first, measured at\n"
"                              start (shown with --verbose twice)\n"
"    --io-timeout S            fail an I/O S seconds after it was submitted,\n"
"                              whatever the retries (default 30; 0 = retry\n"
"                              forever)\n"
"    --connect-timeout S       give up connecting after S seconds (default 10)\n"
"    -r, --read-only           open the volume read-only\n"
"    --owner NAME              writer lock owner for commands that write\n"
"                              (default netblk-cli:PID@HOST, one per\n"
"                              process)\n"
"    --break-lock              take the writer lock even when another\n"
"                              client holds it (that client is fenced: its\n"
"                              writes fail from then on)\n"
"    --verbose                 engine messages: once warnings (reconnects,\n"
"                              retries), twice info, three times debug\n"
"    --quiet                   no engine messages (the default)\n"
"    -h, --help                this text\n"
"        --version             print the version and exit\n"
"\n"
"WRITER LOCK\n"
"    Commands that write (import, verify's write pass, bench with a write\n"
"    pattern) open the volume read-write and take its writer lock, which\n"
"    they release when they exit; commands that only read (export, info,\n"
"    verify --pass read, read benchmarks) open it read-only and take none.\n"
"    Each netblk-cli process is its own owner (netblk-cli:PID@HOST): two\n"
"    writing commands on one volume at once are two writers, and the\n"
"    second is refused. A volume whose map has several stores (groups,\n"
"    nodes without a group) has one lock per store, taken as the command\n"
"    reaches each store. When another client (a vduse-netblk daemon,\n"
"    another netblk-cli) holds the lock, a writing command fails and\n"
"    says who holds it and since\n"
"    when; --break-lock takes the lock over, 'netblk-cli unlock' breaks it.\n"
"    Either way the old holder is fenced: its later writes fail with I/O\n"
"    errors. 'netblk-cli info' shows the holder.\n"
"\n"
"SIZES\n"
"    Sizes and offsets are bytes, optionally with a suffix K, M, G or T\n"
"    (powers of 1024): 4K, 64MiB, 1G.\n"
"\n"
"SHORT OPTIONS\n"
"    -c, -v, -r and -h mean --cluster, --volume, --read-only and --help, as\n"
"    in vduse-netblk. --verbose and --quiet have no short form (-v was\n"
"    --verbose in earlier versions; -vv is refused with a hint).\n"
"\n"
"DEFAULT FILES\n"
"    The directory of the default --ca, --cert and --key is\n"
"    /etc/vduse-netblk, or $NETBLK_TLS_DIR when set.\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 runtime failure (connection, TLS, volume not found, I/O\n"
"    error, data mismatch); 2 bad command line (unknown option, bad value,\n"
"    an address that is not host:port, a --ca, --cert or --key file that\n"
"    cannot be read).\n"
"\n"
"EXAMPLE\n"
"    netblk-cli --cluster 127.0.0.1:7001 --volume vol0 --ca ca.crt \\\n"
"        --cert client.crt --key client.key verify --size 64M\n";

enum cli_common_opt {
	CLI_OPT_CLUSTER = 1,
	CLI_OPT_VOLUME,
	CLI_OPT_CA,
	CLI_OPT_CERT,
	CLI_OPT_KEY,
	CLI_OPT_TLS_NAME,
	CLI_OPT_TLS_CIPHERSUITES,
	CLI_OPT_IO_TIMEOUT,
	CLI_OPT_CONNECT_TIMEOUT,
	CLI_OPT_READ_ONLY,
	CLI_OPT_OWNER,
	CLI_OPT_BREAK_LOCK,
	CLI_OPT_VERBOSE,
	CLI_OPT_QUIET,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
};

static const struct option cli_common_opts[] = {
	{ "cluster", required_argument, NULL, CLI_OPT_CLUSTER },
	{ "volume", required_argument, NULL, CLI_OPT_VOLUME },
	{ "ca", required_argument, NULL, CLI_OPT_CA },
	{ "cert", required_argument, NULL, CLI_OPT_CERT },
	{ "key", required_argument, NULL, CLI_OPT_KEY },
	{ "tls-name", required_argument, NULL, CLI_OPT_TLS_NAME },
	{ "tls-ciphersuites", required_argument, NULL, CLI_OPT_TLS_CIPHERSUITES },
	{ "io-timeout", required_argument, NULL, CLI_OPT_IO_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT },
	{ "read-only", no_argument, NULL, CLI_OPT_READ_ONLY },
	{ "owner", required_argument, NULL, CLI_OPT_OWNER },
	{ "break-lock", no_argument, NULL, CLI_OPT_BREAK_LOCK },
	{ "verbose", no_argument, NULL, CLI_OPT_VERBOSE },
	{ "quiet", no_argument, NULL, CLI_OPT_QUIET },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
};
#define CLI_SHORT_OPTS ":hc:v:r"
#define CLI_N_COMMON (sizeof(cli_common_opts) / sizeof(cli_common_opts[0]))

static int cli_split_cluster(struct cli_common *opt, const char *arg)
{
	char *copy, *tok, *save = NULL;
	char **nodes = NULL;
	size_t n = 0;

	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char **grown = realloc(nodes, (n + 1) * sizeof(*nodes));

		if (!grown)
			goto out_free;
		nodes = grown;
		{
			char host[256], port[8];

			if (nb_split_host_port(tok, host, sizeof(host), port,
					       sizeof(port)) < 0) {
				nb_cli_err("--cluster: '%s' is not host:port or [v6]:port (port 0 to 65535)",
					tok);
				for (size_t i = 0; i < n; i++)
					free(nodes[i]);
				free(nodes);
				free(copy);
				return -EINVAL;
			}
		}
		nodes[n] = strdup(tok);
		if (!nodes[n])
			goto out_free;
		n++;
	}
	free(copy);
	if (n == 0) {
		free(nodes);
		nb_cli_err("--cluster needs at least one address, got '%s'", arg);
		return -EINVAL;
	}
	for (size_t i = 0; i < opt->n_nodes; i++)
		free(opt->nodes[i]);
	free(opt->nodes);
	opt->nodes = nodes;
	opt->n_nodes = n;
	opt->cluster_arg = arg;
	return 0;

out_free:
	for (size_t i = 0; i < n; i++)
		free(nodes[i]);
	free(nodes);
	free(copy);
	return -ENOMEM;
}

static int cli_common_set(struct cli_common *opt, int val, const char *arg,
			  bool short_opt)
{
	switch (val) {
	case CLI_OPT_CLUSTER:
		return cli_split_cluster(opt, arg);
	case CLI_OPT_VOLUME:
		/* -v was --verbose before: '-vv' or '-v --io-timeout 5' must
		 * not quietly name a volume */
		if (short_opt && (strspn(arg, "v") == strlen(arg) || arg[0] == '-')) {
			nb_cli_err("-v %s: -v is --volume (as in vduse-netblk); for engine messages use --verbose",
				arg);
			return -EINVAL;
		}
		if (arg[0] == '\0' || strlen(arg) > SESSION_NAME_MAX) {
			nb_cli_err("--volume must be 1 to %d characters", SESSION_NAME_MAX);
			return -EINVAL;
		}
		opt->volume = arg;
		return 0;
	case CLI_OPT_CA:
		opt->ca = arg;
		return 0;
	case CLI_OPT_CERT:
		opt->cert = arg;
		return 0;
	case CLI_OPT_KEY:
		opt->key = arg;
		return 0;
	case CLI_OPT_TLS_NAME:
		if (arg[0] == '\0') {
			nb_cli_err("--tls-name must not be empty");
			return -EINVAL;
		}
		opt->tls_name = arg;
		return 0;
	case CLI_OPT_TLS_CIPHERSUITES: {
		char why[512];

		if (nb_tls_suites_check(arg, why, sizeof(why)) < 0) {
			nb_cli_err("--tls-ciphersuites '%s': %s", arg, why);
			return -EINVAL;
		}
		opt->tls_ciphersuites = arg;
		return 0;
	}
	case CLI_OPT_IO_TIMEOUT:
		return nb_cli_parse_seconds("--io-timeout", arg, &opt->io_timeout);
	case CLI_OPT_CONNECT_TIMEOUT:
		return nb_cli_parse_seconds("--connect-timeout", arg,
					 &opt->connect_timeout);
	case CLI_OPT_READ_ONLY:
		opt->read_only = true;
		return 0;
	case CLI_OPT_OWNER:
		if (!nb_session_lock_owner_ok(arg)) {
			nb_cli_err("--owner must be 1 to %d characters, none of them control characters",
				SESSION_NAME_MAX);
			return -EINVAL;
		}
		opt->owner = arg;
		return 0;
	case CLI_OPT_BREAK_LOCK:
		opt->break_lock = true;
		return 0;
	case CLI_OPT_VERBOSE:
		opt->verbose++;
		return 0;
	case CLI_OPT_QUIET:
		opt->verbose--;
		return 0;
	}
	return -EINVAL;
}

/* The short options, the same letters as vduse-netblk's. */
static int cli_short_to_long(int c)
{
	switch (c) {
	case 'h':
		return CLI_OPT_HELP;
	case 'c':
		return CLI_OPT_CLUSTER;
	case 'v':
		return CLI_OPT_VOLUME;
	case 'r':
		return CLI_OPT_READ_ONLY;
	}
	return c;
}

/* Options several commands share (cli.h, CLI_SOPT_*). */
static int cli_shared_set(struct cli_common *opt, int val, const char *arg)
{
	switch (val) {
	case CLI_SOPT_PROGRESS:
		opt->progress = 1;
		return 0;
	case CLI_SOPT_NO_PROGRESS:
		opt->progress = 0;
		return 0;
	case CLI_SOPT_PROGRESS_INTERVAL:
		if (nb_cli_parse_seconds("--progress-interval", arg,
					 &opt->progress_interval) < 0)
			return -EINVAL;
		if (opt->progress_interval <= 0) {
			nb_cli_err("--progress-interval must be more than 0");
			return -EINVAL;
		}
		return 0;
	case CLI_SOPT_JSON:
		opt->json = true;
		return 0;
	case CLI_SOPT_FORMAT:
		if (strcmp(arg, "json") == 0) {
			opt->json = true;
		} else if (strcmp(arg, "text") == 0) {
			opt->json = false;
		} else {
			nb_cli_err("--format must be text or json, got '%s'", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

int nb_cli_parse_options(struct cli_common *opt, const char *cmd, int argc,
		      char **argv, const struct option *cmd_opts,
		      cli_opt_fn *fn, void *opaque, const char *help,
		      int *first_arg)
{
	struct option all[64];
	size_t n = 0;
	int c, idx, ret;

	for (size_t i = 0; i < CLI_N_COMMON; i++)
		all[n++] = cli_common_opts[i];
	for (size_t i = 0; cmd_opts && cmd_opts[i].name; i++) {
		if (n + 2 > sizeof(all) / sizeof(all[0]))
			abort(); /* a programming error, not input */
		all[n++] = cmd_opts[i];
	}
	memset(&all[n], 0, sizeof(all[n]));

	opterr = 0;
	optind = 0; /* full reinitialisation of GNU getopt */
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, CLI_SHORT_OPTS, all, &idx);
		if (c == -1)
			break;
		c = cli_short_to_long(c);
		if (c == CLI_OPT_HELP) {
			fputs(help, stdout);
			return 1;
		}
		if (c == CLI_OPT_VERSION) {
			nb_version_print(stdout, "netblk-cli");
			return 1;
		}
		if (c == '?') {
			if (optopt)
				nb_cli_err("%s: unknown option '-%c' (see 'netblk-cli %s --help')",
					cmd, optopt, cmd);
			else
				nb_cli_err("%s: unknown option '%s' (see 'netblk-cli %s --help')",
					cmd, argv[optind - 1], cmd);
			return -EINVAL;
		}
		if (c == ':') {
			nb_cli_err("%s: option '%s' needs a value", cmd,
				argv[optind - 1]);
			return -EINVAL;
		}
		if (c < 256) {
			ret = cli_common_set(opt, c, optarg, idx < 0);
		} else if (c >= CLI_SOPT_FIRST && c < CLI_SOPT_END) {
			ret = cli_shared_set(opt, c, optarg);
		} else {
			const char *name = idx >= 0 ? all[idx].name : "?";
			char optname[80];

			snprintf(optname, sizeof(optname), "--%s", name);
			ret = fn ? fn(opaque, c, optname, optarg) : -EINVAL;
		}
		if (ret < 0)
			return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*first_arg = optind;
	return 0;
}

const char *nb_cli_tls_dir(void)
{
	const char *dir = getenv("NETBLK_TLS_DIR");

	return dir && dir[0] ? dir : CLI_DEFAULT_TLS_DIR;
}

/* --ca, --cert and --key default to the daemon's files when they exist. */
static void cli_default_tls_files(struct cli_common *opt)
{
	static char ca[4096], cert[4096], key[4096];
	const char *dir = nb_cli_tls_dir();

	if (!opt->ca) {
		snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
		if (access(ca, F_OK) == 0)
			opt->ca = ca;
	}
	if (!opt->cert && !opt->key) {
		snprintf(cert, sizeof(cert), "%s/client.crt", dir);
		snprintf(key, sizeof(key), "%s/client.key", dir);
		if (access(cert, F_OK) == 0 && access(key, F_OK) == 0) {
			opt->cert = cert;
			opt->key = key;
		}
	}
}

/* A file named on the command line that cannot be read is a bad command
 * line: say so now rather than as a connection error. */
static int cli_check_readable(const char *cmd, const char *what,
			      const char *opt_name, const char *path)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "r");
	if (!f) {
		nb_cli_err("%s: cannot read %s %s '%s': %s", cmd, what, opt_name,
			path, strerror(errno));
		return -EINVAL;
	}
	fclose(f);
	return 0;
}

int nb_cli_require_common(struct cli_common *opt, const char *cmd,
		       bool need_volume)
{
	cli_default_tls_files(opt);
	if (!opt->n_nodes) {
		nb_cli_err("%s: missing --cluster ADDR[,ADDR...]", cmd);
		return -EINVAL;
	}
	if (need_volume && !opt->volume) {
		nb_cli_err("%s: missing --volume ID", cmd);
		return -EINVAL;
	}
	if (!opt->ca) {
		nb_cli_err("%s: missing --ca FILE (the CA that signed the node certificates; the default %s/ca.crt does not exist)",
			cmd, nb_cli_tls_dir());
		return -EINVAL;
	}
	if (!opt->cert != !opt->key) {
		nb_cli_err("%s: --cert and --key go together", cmd);
		return -EINVAL;
	}
	if (cli_check_readable(cmd, "the CA file", "--ca", opt->ca) < 0 ||
	    cli_check_readable(cmd, "the certificate file", "--cert", opt->cert) < 0 ||
	    cli_check_readable(cmd, "the private key file", "--key", opt->key) < 0)
		return -EINVAL;
	return 0;
}

void nb_cli_common_free(struct cli_common *opt)
{
	for (size_t i = 0; i < opt->n_nodes; i++)
		free(opt->nodes[i]);
	free(opt->nodes);
}

/*
 * Options before the command name. Parsing stops at the first operand
 * (the command) so that its options are left for the command.
 * Returns 1 after --help, 0, or -EINVAL.
 */
int nb_cli_main_parse(struct cli_common *opt, int argc, char **argv,
			  int *first)
{
	struct option all[CLI_N_COMMON + 1];
	int c, idx;

	memcpy(all, cli_common_opts, sizeof(cli_common_opts));
	memset(&all[CLI_N_COMMON], 0, sizeof(all[0]));
	opterr = 0;
	optind = 0;
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, "+" CLI_SHORT_OPTS, all, &idx);
		if (c == -1)
			break;
		c = cli_short_to_long(c);
		if (c == CLI_OPT_HELP) {
			fputs(cli_main_help, stdout);
			return 1;
		}
		if (c == CLI_OPT_VERSION) {
			nb_version_print(stdout, "netblk-cli");
			return 1;
		}
		if (c == '?') {
			if (optopt)
				nb_cli_err("unknown option '-%c' (see 'netblk-cli --help')",
					optopt);
			else
				nb_cli_err("unknown option '%s' (see 'netblk-cli --help')",
					argv[optind - 1]);
			return -EINVAL;
		}
		if (c == ':') {
			nb_cli_err("option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		}
		if (cli_common_set(opt, c, optarg, idx < 0) < 0)
			return -EINVAL;
	}
	*first = optind;
	return 0;
}
