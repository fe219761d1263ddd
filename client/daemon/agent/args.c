/* SPDX-License-Identifier: MIT */
/* The options of vduse-netblk agent and vduse-netblk status. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent_priv.h"
#include "log.h"
#include "options.h"
#include "state.h"
#include "tls_suites.h"
#include "version.h"

static void agent_usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-netblk agent [OPTIONS]\n"
"       vduse-netblk status [--spec-dir DIR] [--status-dir DIR]\n"
"\n"
"agent: serve every volume declared in the spec directory, from one\n"
"process. Each DIR/NAME.spec attaches one volume (key=value lines:\n"
"cluster=, volume= required; name=, queues=, queue_size=, read_only=,\n"
"io_timeout=, ca=, cert=, key=, tls_name=, tls_ciphersuites=, mgmtdev=,\n"
"break_lock=, lock_owner=; see vduse-netblk --help for the writer lock).\n"
"Creating a spec attaches, deleting it detaches, changing it re-attaches.\n"
"The state of each is in STATUS_DIR/NAME.status; RUN/by-volume/ID links\n"
"to its device.\n"
"Stopping the agent (SIGTERM, SIGINT, SIGUSR1) leaves the devices\n"
"attached; the next agent takes them over. SIGHUP reloads the TLS files\n"
"of every volume.\n"
"\n"
"  --spec-dir DIR       specs (default " AGENT_DEFAULT_SPEC_DIR ")\n"
"  --status-dir DIR     status files (default: the spec directory)\n"
"  --run-dir DIR        state files and by-volume links\n"
"                       (default " STATE_DEFAULT_DIR ")\n"
"  --metrics ADDR:PORT  serve Prometheus metrics (e.g. 127.0.0.1:9477)\n"
"  --ca/--cert/--key F  TLS files for specs that name none (defaults\n"
"                       /etc/vduse-netblk/{ca.crt,client.crt,client.key})\n"
"  --tls-ciphersuites LIST\n"
"                       TLS 1.3 suites for specs that name none, in\n"
"                       order of preference, joined by ':' (default: the\n"
"                       three TLS 1.3 suites, fastest on this CPU first,\n"
"                       measured once at start and logged at info level)\n"
"  --connect-timeout S  per attach (default 10)\n"
"  --log-level LEVEL    error, warning, notice (default), info, debug\n"
"  --version            print the version and exit\n"
"\n"
"status: one line per declared volume (name, volume, state, device,\n"
"message); exit 0 when every declared volume is attached, else 1.\n");
}

int nb_agent_parse(int argc, char **argv, struct agent_opts *o)
{
	static const struct option longopts[] = {
		{ "spec-dir", required_argument, NULL, 's' },
		{ "status-dir", required_argument, NULL, 'S' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "ca", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "tls-ciphersuites", required_argument, NULL, 'T' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char why[512];
	int c;

	*o = (struct agent_opts){
		.spec_dir = AGENT_DEFAULT_SPEC_DIR,
		.run_dir = STATE_DEFAULT_DIR,
		.ca = OPTIONS_DEFAULT_CA,
		.cert = OPTIONS_DEFAULT_CERT,
		.key = OPTIONS_DEFAULT_KEY,
		.connect_timeout = OPTIONS_CONNECT_TIMEOUT_DEFAULT,
		.log_level = LOG_NOTICE,
	};
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->spec_dir = optarg; break;
		case 'S': o->status_dir = optarg; break;
		case 'r': o->run_dir = optarg; break;
		case 'm': o->metrics = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'T':
			if (nb_tls_suites_check(optarg, why, sizeof(why)) < 0 ||
			    strlen(optarg) > SPEC_STR_MAX) {
				fprintf(stderr, "vduse-netblk: --tls-ciphersuites "
					"'%s': %s\n", optarg,
					strlen(optarg) > SPEC_STR_MAX ?
					"too long" : why);
				return -EINVAL;
			}
			o->tls_ciphersuites = optarg;
			break;
		case 'f': break;	/* the agent always stays in the foreground */
		case 't':
			if (nb_options_parse_connect_timeout(optarg,
						&o->connect_timeout) < 0) {
				fprintf(stderr, "vduse-netblk: --connect-timeout "
					"'%s' is not a number of seconds\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'l':
			o->log_level = nb_log_parse_level(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "vduse-netblk: --log-level '%s' "
					"is not one of error, warning, notice, "
					"info, debug\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			agent_usage(stdout);
			return 1;
		case 'V':
			nb_version_print(stdout, "vduse-netblk");
			return 1;
		case ':':
			fprintf(stderr, "vduse-netblk: option '%s' needs a "
				"value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "vduse-netblk: unknown option '%s'\n"
				"Try 'vduse-netblk agent --help'.\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vduse-netblk: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->status_dir)
		o->status_dir = o->spec_dir;
	return 0;
}
