/* SPDX-License-Identifier: MIT */
/* The options of vduse-netblk agent and vduse-netblk status. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent_priv.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "state.h"
#include "tls_suites.h"
#include "version.h"

static void agent_usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-netblk agent [OPTIONS]\n"
"\n"
"Serve every volume declared in the spec directory, from one process.\n"
"Each DIR/NAME.spec attaches one volume (key=value lines: cluster=,\n"
"volume= required; name=, queues=, queue_size=, read_only=, io_timeout=,\n"
"ca=, cert=, key=, tls_name=, tls_ciphersuites=, mgmtdev=, break_lock=,\n"
"lock_owner=, force_detach=; see vduse-netblk --help for the writer\n"
"lock). Creating a spec attaches, deleting it detaches, changing it\n"
"re-attaches (a change of io_timeout alone is applied live). A disk in\n"
"use (mounted, held by device mapper or md, or open) is not detached:\n"
"the change waits, the status says why, until the disk is free or\n"
"DIR/NAME.force exists (or force_detach=true in the new spec). The\n"
"state of each is in STATUS_DIR/NAME.status; RUN/by-volume/ID\n"
"links to its device.\n"
"Stopping the agent (SIGTERM, SIGINT, SIGUSR1) leaves the devices\n"
"attached; the next agent takes them over. SIGHUP reloads the TLS files\n"
"of every volume.\n"
"\n"
"  --spec-dir DIR       specs (default " AGENT_DEFAULT_SPEC_DIR ")\n"
"  --status-dir DIR     status files (default: the spec directory)\n"
"  --run-dir DIR        state files, by-volume links, agent.heartbeat\n"
"                       (default " STATE_DEFAULT_DIR ")\n"
"  --metrics ADDR:PORT  serve Prometheus metrics on /metrics and the\n"
"                       probes /healthz (the agent's loop answers) and\n"
"                       /readyz (every declared volume attached), e.g.\n"
"                       127.0.0.1:9477 (a numeric address, [v6] in\n"
"                       brackets)\n"
"  --ca/--cert/--key F  TLS files for specs that name none (defaults\n"
"                       /etc/vduse-netblk/{ca.crt,client.crt,client.key})\n"
"  --tls-ciphersuites LIST\n"
"                       TLS 1.3 suites for specs that name none, in\n"
"                       order of preference, joined by ':' (default: the\n"
"                       three TLS 1.3 suites, fastest on this CPU first,\n"
"                       measured once at start and logged at info level)\n"
"  --connect-timeout S  per attach (default 10)\n"
"  --log-level LEVEL    error, warning, notice (default), info, debug\n"
"  --version            print the version and exit\n");
}

static void agent_status_usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-netblk status [--spec-dir DIR] [--status-dir DIR]\n"
"                           [--run-dir DIR] [--ready] [--json]\n"
"\n"
"One line per declared volume (name, volume, state, device, message) and\n"
"whether the agent runs. States: attached; in-use (attached, but a\n"
"change of its spec waits for the disk to be free); error (not attached,\n"
"retried every 10 s); bad-spec; pending (no status yet).\n"
"\n"
"  --spec-dir DIR       specs (default " AGENT_DEFAULT_SPEC_DIR ")\n"
"  --status-dir DIR     status files (default: the spec directory)\n"
"  --run-dir DIR        where the agent's heartbeat is\n"
"                       (default " STATE_DEFAULT_DIR ")\n"
"  --ready              readiness: exit 0 only when the agent runs and\n"
"                       every declared volume is attached\n"
"  --json               print one JSON object instead of the table\n"
"\n"
"Exit status: 0 when the agent runs (its loop rewrote its heartbeat in\n"
"the last %d s), whatever the state of the volumes: a bad spec never\n"
"fails a liveness probe; with --ready, 0 only when every declared volume\n"
"is attached as well. 1 otherwise; 2 for a usage error.\n",
	AGENT_HEARTBEAT_STALE);
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
		{ "ready", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool status = !strcmp(argv[0], "status");
	struct sockaddr_storage ss;
	socklen_t sslen;
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
		case 'm':
			if (status) {
				fprintf(stderr, "vduse-netblk: status has no "
					"option --metrics (an agent's)\nTry "
					"'vduse-netblk status --help'.\n");
				return -EINVAL;
			}
			if (nb_metrics_parse_addr(optarg, &ss, &sslen, why,
						  sizeof(why)) < 0) {
				fprintf(stderr, "vduse-netblk: --metrics %s\n",
					why);
				return -EINVAL;
			}
			o->metrics = optarg;
			break;
		case 'R':
		case 'j':
			if (!status)
				goto unknown;
			if (c == 'R')
				o->ready = true;
			else
				o->json = true;
			break;
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
			if (status)
				agent_status_usage(stdout);
			else
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
unknown:
			fprintf(stderr, "vduse-netblk: unknown option '%s' for "
				"%s\nTry 'vduse-netblk %s --help'.\n",
				argv[optind - 1], status ? "status" : "agent",
				status ? "status" : "agent");
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
