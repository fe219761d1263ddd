/* SPDX-License-Identifier: MIT */
/* The single-volume daemon's command line (cmdline.h). */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "tls_suites.h"
#include "version.h"

void nb_cmdline_usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-netblk --cluster ADDR[,ADDR...] --volume ID [OPTIONS]\n"
"       vduse-netblk agent [OPTIONS]      (many volumes, see agent --help)\n"
"       vduse-netblk status [OPTIONS]     (what the agent serves)\n"
"\n"
"Serve the remote volume ID of a netblk storage cluster as a local\n"
"virtio-blk disk through VDUSE. The daemon creates the VDUSE device,\n"
"attaches it to the vDPA bus and prints the device the kernel made of it\n"
"(/dev/vdX through virtio_vdpa, /dev/vhost-vdpa-N through vhost_vdpa),\n"
"then serves it until SIGINT or SIGTERM, which detach and destroy it.\n"
"\n"
"Cluster and volume:\n"
"  -c, --cluster ADDR[,...]  storage nodes to start from, host:port or\n"
"                            [v6]:port; the rest comes from the cluster map\n"
"  -v, --volume ID           volume to serve\n"
"  -r, --read-only           serve read-only (also when the volume is)\n"
"      --io-timeout SEC      fail a request with an I/O error SEC seconds after\n"
"                            it arrived (a deadline, whatever the try\n"
"                            timeout); 0 retries forever (default 0)\n"
"      --connect-timeout SEC give up at start when no node answers in this\n"
"                            time (default 10)\n"
"      --break-lock          take the volume's writer lock even when another\n"
"                            client holds it; that client is fenced (its\n"
"                            writes fail from then on). See Writer lock\n"
"      --lock-owner OWNER    name to hold the writer lock as (default\n"
"                            NAME@HOST: the device name and this host's name)\n"
"\n"
"TLS (TLS 1.3 with certificates on both sides):\n"
"      --ca FILE             CA that signed the nodes' certificates\n"
"                            (default /etc/vduse-netblk/ca.crt)\n"
"      --cert FILE           this client's certificate\n"
"                            (default /etc/vduse-netblk/client.crt)\n"
"      --key FILE            its private key (default\n"
"                            /etc/vduse-netblk/client.key)\n"
"      --tls-name NAME       name the nodes' certificates must carry\n"
"                            (default: the host part of each address)\n"
"      --tls-ciphersuites LIST\n"
"                            TLS 1.3 cipher suites to offer, in order of\n"
"                            preference, joined by ':' (OpenSSL names:\n"
"                            TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,\n"
"                            TLS_CHACHA20_POLY1305_SHA256, ...); a node\n"
"                            picks the first one it allows. Default: these\n"
"                            three, fastest on this CPU first, measured at\n"
"                            start (logged at info level)\n"
"\n"
"Device:\n"
"  -n, --name NAME           VDUSE and vDPA device name\n"
"                            (default netblk-ID); /dev/vduse/NAME\n"
"  -q, --queues N            virtqueues, each served by its own worker\n"
"                            thread with its own connections (default 1)\n"
"      --queue-size N        entries per virtqueue, a power of two\n"
"                            (default 256)\n"
"      --bounce-size MIB     the kernel's bounce buffer for the device,\n"
"                            4 to 1024 MiB, or 0 for the kernel's own\n"
"                            default (64 MiB); its pages count in the\n"
"                            daemon's resident size (default 32)\n"
"      --mgmtdev NAME        vDPA management device to attach with\n"
"                            (default vduse; BUS/NAME for one on a bus)\n"
"      --no-attach           create the VDUSE device only; attach it\n"
"                            yourself with 'vdpa dev add'\n"
"      --resize-check SEC    ask the cluster for the volume's size this\n"
"                            often; a grown (or shrunk) volume changes the\n"
"                            disk's size online; 0 = never (default 5)\n"
"      --state-dir DIR       where the state file NAME.state lives, which\n"
"                            lets a new daemon take the device over\n"
"                            (default /run/vduse-netblk)\n"
"      --stop-timeout SEC    at SIGINT/SIGTERM, requests still waiting for\n"
"                            the cluster this long fail with an I/O error so\n"
"                            that detaching cannot hang (default 5)\n"
"\n"
"Process:\n"
"  -f, --foreground          stay in the foreground, log to stderr\n"
"                            (default: go to the background once the\n"
"                            device is up, log to syslog)\n"
"      --pid-file FILE       write the daemon's pid here\n"
"      --metrics ADDR:PORT   serve Prometheus metrics on /metrics and the\n"
"                            probes /healthz (the main loop answers) and\n"
"                            /readyz (the disk is attached), e.g.\n"
"                            127.0.0.1:9478 (a numeric address, [v6] in\n"
"                            brackets)\n"
"      --log-level LEVEL     error, warning, notice (default), info, debug\n"
"  -u, --user NAME           once the device is up, run as user NAME\n"
"                            (started as root); see Privileges below\n"
"  -h, --help                this text\n"
"      --version             print the version and exit\n"
"\n"
"Privileges: setting the device up needs root (/dev/vduse/control and\n"
"/dev/vduse/NAME are root's, the vdpa netlink commands need\n"
"CAP_NET_ADMIN). Once the disk is up the daemon drops every capability\n"
"but CAP_NET_ADMIN (to detach from vDPA at stop), also from the bounding\n"
"set, and sets no_new_privs; with --user it also becomes that user, which\n"
"then owns --state-dir and the state file. It keeps /dev/vduse/NAME and\n"
"/dev/vduse/control open, so serving and destroying the device need no\n"
"more. After the switch, SIGHUP reads --ca, --cert and --key as the user:\n"
"they must be readable by it. The pid file is removed at exit only when\n"
"the user may write its directory. The agent does not drop: it creates\n"
"devices while it runs.\n"
"\n"
"Exit status: 0 after a clean stop; 1 when the device could not be set up\n"
"(VDUSE missing, name in use, no permission, volume not found, cluster\n"
"unreachable); 2 for bad options.\n"
"\n"
"Certificates: SIGHUP reloads --ca, --cert and --key for new connections;\n"
"connections in use are kept. A file that cannot be used keeps the\n"
"current certificates, and the log says why.\n"
"\n"
"Writer lock: a read-write device holds its volume's writer lock (kept by\n"
"the nodes) as NAME@HOST, so only one client writes to a volume. When\n"
"another client holds it, the daemon does not start and says who holds\n"
"it and since when: stop that client, or take the lock over with\n"
"--break-lock, or break it with 'netblk-cli unlock'. When another client\n"
"breaks the lock of a running daemon, the daemon logs it once and the\n"
"guest's writes fail with I/O errors (reads go on): none of them reaches\n"
"the volume. A clean stop releases the lock; SIGUSR1 and kill -9 keep it\n"
"for the next daemon, which holds it under the same owner. The state file\n"
"records the lock's generation, and a daemon taking the device over\n"
"presents it: when the lock was broken or released in between (someone\n"
"else may have written), the takeover is refused; --break-lock takes the\n"
"lock back anyway. A volume whose map has several stores (groups, nodes\n"
"without a group) has one lock per store: the state file then records no\n"
"generation and a takeover relies on the owner alone. --read-only takes\n"
"no lock.\n"
"\n"
"Restart and upgrade: SIGUSR1 stops the daemon but leaves the device in\n"
"place, attached, with the guest's requests waiting. Starting vduse-netblk\n"
"again with the same --name takes the device over: it reopens\n"
"/dev/vduse/NAME, resumes every queue where the old daemon was, and runs\n"
"again the requests that were in flight. The same holds when the daemon\n"
"was killed (kill -9): nothing the guest wrote is lost and it sees no\n"
"error, only a pause.\n");
}

static int cmdline_bad_option(const char *fmt, const char *arg)
{
	fprintf(stderr, "vduse-netblk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vduse-netblk --help'.\n");
	return -EINVAL;
}

/* Messages for the number options: say what the option takes. */
static int cmdline_bad_number(const char *opt, const char *arg,
			      unsigned int min, unsigned int max)
{
	fprintf(stderr, "vduse-netblk: %s '%s' is not a number from %u "
		"to %u\nTry 'vduse-netblk --help'.\n", opt, arg, min, max);
	return -EINVAL;
}

static int cmdline_bad_seconds(const char *opt, const char *arg)
{
	fprintf(stderr, "vduse-netblk: %s '%s' is not a number of "
		"seconds (0 to %.0f)\nTry 'vduse-netblk --help'.\n",
		opt, arg, OPTIONS_SECONDS_MAX);
	return -EINVAL;
}

static int cmdline_bad_bounce(const char *arg)
{
	fprintf(stderr, "vduse-netblk: --bounce-size '%s' is below %u MiB "
		"(0 keeps the kernel's default)\nTry 'vduse-netblk --help'.\n",
		arg, OPTIONS_BOUNCE_MB_MIN);
	return -EINVAL;
}

static int cmdline_parse_seconds(const char *opt, const char *arg,
				 double *out)
{
	if (nb_options_parse_seconds(arg, out) < 0)
		return cmdline_bad_seconds(opt, arg);
	return 0;
}

static int cmdline_split_cluster(struct cmdline *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && ret == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char **n;

		if (nb_options_check_node(tok) < 0) {
			ret = cmdline_bad_option("--cluster: '%s' is not host:port",
						 tok);
			break;
		}
		n = realloc(o->nodes, (o->n_nodes + 1) * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			break;
		}
		o->nodes = n;
		o->nodes[o->n_nodes] = strdup(tok);
		if (!o->nodes[o->n_nodes])
			ret = -ENOMEM;
		else
			o->n_nodes++;
	}
	free(copy);
	if (ret == 0 && o->n_nodes == 0)
		ret = cmdline_bad_option("--cluster '%s' names no node", arg);
	return ret;
}

enum {
	OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_TLS_NAME, OPT_IO_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_QUEUE_SIZE, OPT_MGMTDEV, OPT_NO_ATTACH,
	OPT_PID_FILE, OPT_METRICS, OPT_LOG_LEVEL, OPT_STOP_TIMEOUT, OPT_STATE_DIR,
	OPT_RESIZE_CHECK, OPT_TLS_CIPHERSUITES, OPT_BOUNCE_SIZE,
	OPT_BREAK_LOCK, OPT_LOCK_OWNER, OPT_VERSION,
};

/* --user: resolve now, so a wrong name fails before any device work. */
static int cmdline_parse_user(struct cmdline *o, const char *arg)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(arg);
	if (!pw)
		return cmdline_bad_option(errno ? "--user '%s': cannot look up "
					  "the user database" :
					  "--user '%s': no such user", arg);
	if (pw->pw_uid == 0)
		return cmdline_bad_option("--user '%s' is root: name an "
					  "unprivileged user", arg);
	if (geteuid() != 0 && geteuid() != pw->pw_uid)
		return cmdline_bad_option("--user '%s': only root can switch "
					  "users", arg);
	o->user = arg;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	return 0;
}

/* --tls-ciphersuites: checked now, so a bad list fails before any device
 * work. */
static int cmdline_parse_suites(struct cmdline *o, const char *arg)
{
	char why[512];

	if (nb_tls_suites_check(arg, why, sizeof(why)) < 0) {
		fprintf(stderr, "vduse-netblk: --tls-ciphersuites '%s': %s\n"
			"Try 'vduse-netblk --help'.\n", arg, why);
		return -EINVAL;
	}
	o->cfg.tls_ciphersuites = arg;
	return 0;
}

int nb_cmdline_parse(int argc, char **argv, struct cmdline *o)
{
	static const struct option longopts[] = {
		{ "cluster", required_argument, NULL, 'c' },
		{ "volume", required_argument, NULL, 'v' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "tls-name", required_argument, NULL, OPT_TLS_NAME },
		{ "tls-ciphersuites", required_argument, NULL,
		  OPT_TLS_CIPHERSUITES },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "connect-timeout", required_argument, NULL,
		  OPT_CONNECT_TIMEOUT },
		{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
		{ "bounce-size", required_argument, NULL, OPT_BOUNCE_SIZE },
		{ "mgmtdev", required_argument, NULL, OPT_MGMTDEV },
		{ "no-attach", no_argument, NULL, OPT_NO_ATTACH },
		{ "pid-file", required_argument, NULL, OPT_PID_FILE },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "resize-check", required_argument, NULL, OPT_RESIZE_CHECK },
		{ "user", required_argument, NULL, 'u' },
		{ "break-lock", no_argument, NULL, OPT_BREAK_LOCK },
		{ "lock-owner", required_argument, NULL, OPT_LOCK_OWNER },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	int c, ret = 0;

	*o = (struct cmdline){ .bounce_mb = OPTIONS_BOUNCE_MB_DEFAULT };
	nb_options_defaults(&o->cfg);
	opterr = 0;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, ":c:v:rn:q:fu:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ret = cmdline_split_cluster(o, optarg);
			break;
		case 'v':
			o->cfg.volume = optarg;
			break;
		case 'r':
			o->cfg.read_only = true;
			break;
		case 'n':
			name = optarg;
			break;
		case 'q':
			if (nb_options_parse_queues(optarg, &o->cfg.queues) < 0)
				ret = cmdline_bad_number("--queues", optarg, 1,
							 OPTIONS_QUEUES_MAX);
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'u':
			ret = cmdline_parse_user(o, optarg);
			break;
		case 'h':
			nb_cmdline_usage(stdout);
			return 1;
		case OPT_VERSION:
			nb_version_print(stdout, "vduse-netblk");
			return 1;
		case OPT_CA:
			o->cfg.ca = optarg;
			break;
		case OPT_CERT:
			o->cfg.cert = optarg;
			break;
		case OPT_KEY:
			o->cfg.key = optarg;
			break;
		case OPT_TLS_NAME:
			o->cfg.tls_name = optarg;
			break;
		case OPT_TLS_CIPHERSUITES:
			ret = cmdline_parse_suites(o, optarg);
			break;
		case OPT_IO_TIMEOUT:
			ret = cmdline_parse_seconds("--io-timeout", optarg,
						    &o->cfg.io_timeout);
			break;
		case OPT_CONNECT_TIMEOUT:
			ret = nb_options_parse_connect_timeout(optarg,
						&o->cfg.connect_timeout);
			if (ret == -EDOM)
				ret = cmdline_bad_option("--connect-timeout '%s' "
							 "must be more than 0",
							 optarg);
			else if (ret < 0)
				ret = cmdline_bad_seconds("--connect-timeout",
							  optarg);
			break;
		case OPT_QUEUE_SIZE:
			ret = nb_options_parse_queue_size(optarg,
						       &o->cfg.queue_size);
			if (ret == -EDOM)
				ret = cmdline_bad_option("--queue-size '%s' is not "
							 "a power of two", optarg);
			else if (ret < 0)
				ret = cmdline_bad_number("--queue-size", optarg,
							 OPTIONS_QUEUE_SIZE_MIN,
							 OPTIONS_QUEUE_SIZE_MAX);
			break;
		case OPT_BOUNCE_SIZE:
			ret = nb_options_parse_bounce_mb(optarg, &o->bounce_mb);
			if (ret == -EDOM)
				ret = cmdline_bad_bounce(optarg);
			else if (ret < 0)
				ret = cmdline_bad_number("--bounce-size", optarg,
							 0, OPTIONS_BOUNCE_MB_MAX);
			o->bounce_given = true;
			break;
		case OPT_MGMTDEV:
			o->cfg.mgmtdev = optarg;
			break;
		case OPT_NO_ATTACH:
			o->cfg.attach = false;
			break;
		case OPT_RESIZE_CHECK:
			ret = cmdline_parse_seconds("--resize-check", optarg,
						    &o->cfg.resize_check);
			break;
		case OPT_STATE_DIR:
			o->cfg.state_dir = optarg;
			break;
		case OPT_STOP_TIMEOUT:
			ret = cmdline_parse_seconds("--stop-timeout", optarg,
						    &o->cfg.stop_timeout);
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_METRICS: {
			struct sockaddr_storage ss;
			socklen_t sslen;
			char why[512];

			if (nb_metrics_parse_addr(optarg, &ss, &sslen, why,
						  sizeof(why)) < 0) {
				fprintf(stderr, "vduse-netblk: --metrics %s\n",
					why);
				ret = -EINVAL;
				break;
			}
			o->metrics = optarg;
			break;
		}
		case OPT_BREAK_LOCK:
			o->cfg.break_lock = true;
			break;
		case OPT_LOCK_OWNER:
			if (nb_options_check_lock_owner(optarg) < 0)
				ret = cmdline_bad_option("--lock-owner '%s' must be "
							 "1 to 255 bytes without "
							 "control characters",
							 optarg);
			else
				o->cfg.lock_owner = optarg;
			break;
		case OPT_LOG_LEVEL:
			o->cfg.log_level = nb_log_parse_level(optarg);
			if (o->cfg.log_level < 0)
				ret = cmdline_bad_option("--log-level '%s' is not "
							 "one of error, warning, "
							 "notice, info, debug",
							 optarg);
			break;
		case ':':
			ret = cmdline_bad_option("option '%s' needs a value",
						 argv[optind - 1]);
			break;
		default:
			ret = cmdline_bad_option("unknown option '%s'",
						 argv[optind - 1]);
			break;
		}
	}
	if (ret)
		return ret;
	if (optind < argc)
		return cmdline_bad_option("unexpected argument '%s'",
					  argv[optind]);
	if (!o->n_nodes)
		return cmdline_bad_option("%s", "--cluster is required");
	if (!o->cfg.volume || !o->cfg.volume[0])
		return cmdline_bad_option("%s", "--volume is required");
	if (!name) {
		snprintf(o->name, sizeof(o->name), "netblk-%s", o->cfg.volume);
	} else if (!name[0]) {
		return cmdline_bad_option("%s", "--name must not be empty");
	} else if (strlen(name) >= VDUSE_NAME_MAX) {
		return cmdline_bad_option("--name '%.40s...' is too long", name);
	} else {
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	if (strchr(o->name, '/') || strcmp(o->name, "control") == 0)
		return cmdline_bad_option("--name '%s' cannot be a device name "
					  "(no '/', not 'control')", o->name);
	o->cfg.nodes = (const char *const *)o->nodes;
	o->cfg.n_nodes = o->n_nodes;
	o->cfg.name = o->name;
	o->cfg.bounce_size = (uint64_t)o->bounce_mb << 20;
	o->cfg.bounce_size_given = o->bounce_given && o->bounce_mb;
	return 0;
}

void nb_cmdline_free(struct cmdline *o)
{
	for (size_t i = 0; i < o->n_nodes; i++)
		free(o->nodes[i]);
	free(o->nodes);
	o->nodes = NULL;
	o->n_nodes = 0;
	o->cfg.nodes = NULL;
	o->cfg.n_nodes = 0;
}
