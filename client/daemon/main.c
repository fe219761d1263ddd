/* SPDX-License-Identifier: MIT */
/*
 * vduse-netblk: serve a remote volume as a local virtio-blk disk through
 * VDUSE. Glue only: options, start-up order, signals, tear-down.
 *
 * Start-up: (fork to the background, keeping a pipe to the parent) ->
 * probe the cluster and open the volume -> create the VDUSE device ->
 * start the workers (each with its own connections) -> start the control
 * thread -> attach to vDPA -> report the block device -> wait for a signal.
 * Stop: detach from vDPA (the control thread answers the kernel meanwhile)
 * -> stop the control thread and the workers -> destroy the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent.h"
#include "log.h"
#include "privs.h"
#include "state.h"
#include "tls_suites.h"
#include "vdev.h"
#include "vduse_dev.h"

#define MAIN_EXIT_OK    0
#define MAIN_EXIT_FAIL  1
#define MAIN_EXIT_USAGE 2

#define MAIN_DEFAULT_QUEUE_SIZE 256
#define MAIN_MAX_QUEUES         VDEV_MAX_QUEUES

struct main_opts {
	char **nodes;
	size_t n_nodes;
	const char *volume;
	char name[VDUSE_NAME_MAX];
	const char *ca, *cert, *key, *tls_name;
	const char *tls_ciphersuites; /* NULL: measured order */
	const char *mgmtdev;
	const char *pid_file;
	const char *state_dir;
	const char *user;          /* --user, NULL: stay root */
	uid_t uid;                 /* the user's, resolved at parse time */
	gid_t gid;
	unsigned int queues;
	unsigned int queue_size;
	unsigned int bounce_mb;    /* 0: the kernel's default */
	bool bounce_given;
	bool read_only;
	bool foreground;
	bool attach;
	double io_timeout;
	double connect_timeout;
	double stop_timeout;
	double resize_check;
	int log_level;
};

static void main_usage(FILE *f)
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
"      --io-timeout SEC      fail a request with an I/O error after it was\n"
"                            retried this long; 0 retries forever (default 0)\n"
"      --connect-timeout SEC give up at start when no node answers in this\n"
"                            time (default 10)\n"
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
"      --log-level LEVEL     error, warning, notice (default), info, debug\n"
"  -u, --user NAME           once the device is up, run as user NAME\n"
"                            (started as root); see Privileges below\n"
"  -h, --help                this text\n"
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
"Restart and upgrade: SIGUSR1 stops the daemon but leaves the device in\n"
"place, attached, with the guest's requests waiting. Starting vduse-netblk\n"
"again with the same --name takes the device over: it reopens\n"
"/dev/vduse/NAME, resumes every queue where the old daemon was, and runs\n"
"again the requests that were in flight. The same holds when the daemon\n"
"was killed (kill -9): nothing the guest wrote is lost and it sees no\n"
"error, only a pause.\n");
}

static int main_bad_option(const char *fmt, const char *arg)
{
	fprintf(stderr, "vduse-netblk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vduse-netblk --help'.\n");
	return -EINVAL;
}

static int main_parse_uint(const char *opt, const char *arg, unsigned int min,
			   unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		fprintf(stderr, "vduse-netblk: %s '%s' is not a number from %u "
			"to %u\nTry 'vduse-netblk --help'.\n", opt, arg, min,
			max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int main_parse_seconds(const char *opt, const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0) || v > 1e6) {
		fprintf(stderr, "vduse-netblk: %s '%s' is not a number of "
			"seconds (0 to 1000000)\nTry 'vduse-netblk --help'.\n",
			opt, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int main_split_cluster(struct main_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && ret == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char **n;

		if (!strchr(tok, ':')) {
			ret = main_bad_option("--cluster: '%s' is not host:port",
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
		ret = main_bad_option("--cluster '%s' names no node", arg);
	return ret;
}

enum {
	OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_TLS_NAME, OPT_IO_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_QUEUE_SIZE, OPT_MGMTDEV, OPT_NO_ATTACH,
	OPT_PID_FILE, OPT_LOG_LEVEL, OPT_STOP_TIMEOUT, OPT_STATE_DIR,
	OPT_RESIZE_CHECK, OPT_TLS_CIPHERSUITES, OPT_BOUNCE_SIZE,
};

/* --user: resolve now, so a wrong name fails before any device work. */
static int main_parse_user(struct main_opts *o, const char *arg)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(arg);
	if (!pw)
		return main_bad_option(errno ? "--user '%s': cannot look up "
				       "the user database" :
				       "--user '%s': no such user", arg);
	if (pw->pw_uid == 0)
		return main_bad_option("--user '%s' is root: name an "
				       "unprivileged user", arg);
	if (geteuid() != 0 && geteuid() != pw->pw_uid)
		return main_bad_option("--user '%s': only root can switch "
				       "users", arg);
	o->user = arg;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	return 0;
}

/* --tls-ciphersuites: checked now, so a bad list fails before any device work. */
static int main_parse_suites(struct main_opts *o, const char *arg)
{
	char why[512];

	if (tls_suites_check(arg, why, sizeof(why)) < 0) {
		fprintf(stderr, "vduse-netblk: --tls-ciphersuites '%s': %s\n"
			"Try 'vduse-netblk --help'.\n", arg, why);
		return -EINVAL;
	}
	o->tls_ciphersuites = arg;
	return 0;
}

static int main_parse(int argc, char **argv, struct main_opts *o)
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
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "resize-check", required_argument, NULL, OPT_RESIZE_CHECK },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	int c, ret = 0;

	*o = (struct main_opts){
		.ca = "/etc/vduse-netblk/ca.crt",
		.cert = "/etc/vduse-netblk/client.crt",
		.key = "/etc/vduse-netblk/client.key",
		.queues = 1,
		.queue_size = MAIN_DEFAULT_QUEUE_SIZE,
		.bounce_mb = VDEV_DEFAULT_BOUNCE_MB,
		.attach = true,
		.connect_timeout = 10,
		.stop_timeout = 5,
		.resize_check = 5,
		.state_dir = STATE_DEFAULT_DIR,
		.log_level = LOG_NOTICE,
	};
	opterr = 0;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, ":c:v:rn:q:fu:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ret = main_split_cluster(o, optarg);
			break;
		case 'v':
			o->volume = optarg;
			break;
		case 'r':
			o->read_only = true;
			break;
		case 'n':
			name = optarg;
			break;
		case 'q':
			ret = main_parse_uint("--queues", optarg, 1,
					      MAIN_MAX_QUEUES, &o->queues);
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'u':
			ret = main_parse_user(o, optarg);
			break;
		case 'h':
			main_usage(stdout);
			exit(MAIN_EXIT_OK);
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_TLS_NAME:
			o->tls_name = optarg;
			break;
		case OPT_TLS_CIPHERSUITES:
			ret = main_parse_suites(o, optarg);
			break;
		case OPT_IO_TIMEOUT:
			ret = main_parse_seconds("--io-timeout", optarg,
						 &o->io_timeout);
			break;
		case OPT_CONNECT_TIMEOUT:
			ret = main_parse_seconds("--connect-timeout", optarg,
						 &o->connect_timeout);
			if (ret == 0 && o->connect_timeout == 0)
				ret = main_bad_option("--connect-timeout '%s' "
						      "must be more than 0",
						      optarg);
			break;
		case OPT_QUEUE_SIZE:
			ret = main_parse_uint("--queue-size", optarg, 4,
					      VQ_MAX_SIZE, &o->queue_size);
			if (ret == 0 && (o->queue_size & (o->queue_size - 1)))
				ret = main_bad_option("--queue-size '%s' is not "
						      "a power of two", optarg);
			break;
		case OPT_BOUNCE_SIZE:
			ret = main_parse_uint("--bounce-size", optarg, 0,
					      VDEV_MAX_BOUNCE_MB, &o->bounce_mb);
			if (ret == 0 && o->bounce_mb &&
			    o->bounce_mb < VDEV_MIN_BOUNCE_MB)
				ret = main_bad_option("--bounce-size '%s' is "
						      "below 4 MiB (0 keeps "
						      "the kernel's default)",
						      optarg);
			o->bounce_given = true;
			break;
		case OPT_MGMTDEV:
			o->mgmtdev = optarg;
			break;
		case OPT_NO_ATTACH:
			o->attach = false;
			break;
		case OPT_RESIZE_CHECK:
			ret = main_parse_seconds("--resize-check", optarg,
						 &o->resize_check);
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_STOP_TIMEOUT:
			ret = main_parse_seconds("--stop-timeout", optarg,
						 &o->stop_timeout);
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_LOG_LEVEL:
			o->log_level = log_parse_level(optarg);
			if (o->log_level < 0)
				ret = main_bad_option("--log-level '%s' is not "
						      "one of error, warning, "
						      "notice, info, debug",
						      optarg);
			break;
		case ':':
			ret = main_bad_option("option '%s' needs a value",
					      argv[optind - 1]);
			break;
		default:
			ret = main_bad_option("unknown option '%s'",
					      argv[optind - 1]);
			break;
		}
	}
	if (ret)
		return ret;
	if (optind < argc)
		return main_bad_option("unexpected argument '%s'", argv[optind]);
	if (!o->n_nodes)
		return main_bad_option("%s", "--cluster is required");
	if (!o->volume || !o->volume[0])
		return main_bad_option("%s", "--volume is required");
	if (!name) {
		snprintf(o->name, sizeof(o->name), "netblk-%s", o->volume);
	} else if (!name[0]) {
		return main_bad_option("%s", "--name must not be empty");
	} else if (strlen(name) >= VDUSE_NAME_MAX) {
		return main_bad_option("--name '%.40s...' is too long", name);
	} else {
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	if (strchr(o->name, '/') || strcmp(o->name, "control") == 0)
		return main_bad_option("--name '%s' cannot be a device name "
				       "(no '/', not 'control')", o->name);
	return 0;
}

/* ---- background mode: the parent waits for the child's verdict ---- */

static int main_report_fd = -1;

static void main_report(const char *line)
{
	if (main_report_fd >= 0) {
		if (write(main_report_fd, line, strlen(line)) < 0)
			return;
	} else {
		printf("%s", line);
		fflush(stdout);
	}
}

/* Done starting (ok or not): let the parent exit. */
static void main_report_done(void)
{
	if (main_report_fd >= 0) {
		close(main_report_fd);
		main_report_fd = -1;
	}
}

/*
 * Fork. The parent copies what the child reports (the device path) to
 * stdout and exits with the child's verdict: a final "ok" line means 0.
 */
static void main_daemonize(void)
{
	int pipefd[2], devnull;
	char buf[512];
	bool ok = false;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0) {
		perror("vduse-netblk: pipe");
		exit(MAIN_EXIT_FAIL);
	}
	pid = fork();
	if (pid < 0) {
		perror("vduse-netblk: fork");
		exit(MAIN_EXIT_FAIL);
	}
	if (pid > 0) {
		size_t used = 0;

		close(pipefd[1]);
		while ((n = read(pipefd[0], buf + used,
				 sizeof(buf) - 1 - used)) > 0)
			used += n;
		buf[used] = '\0';
		if (used >= 3 && strcmp(buf + used - 3, "ok\n") == 0) {
			ok = true;
			buf[used - 3] = '\0';
		}
		fputs(buf, stdout);
		exit(ok ? MAIN_EXIT_OK : MAIN_EXIT_FAIL);
	}
	close(pipefd[0]);
	main_report_fd = pipefd[1];
	setsid();
	if (chdir("/") < 0)
		return;
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		/* stderr stays until start-up is over, for its errors */
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

/* ---- run ---- */

static int main_last_signal;

static void main_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	main_last_signal = w->signum;
	if (w->signum == SIGUSR1)
		log_msg(LOG_NOTICE, "signal %d: stopping, device left in place",
			w->signum);
	else
		log_msg(LOG_NOTICE, "signal %d: detaching and stopping",
			w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void main_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	vdev_reload_tls(w->data);
}

static int main_write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		log_msg(LOG_ERR, "cannot write pid file %s: %s", path,
			strerror(errno));
		return -errno;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

/*
 * Keep only what serving needs (privs.h): CAP_NET_ADMIN, and with --user
 * become that user, who gets the state file and directory first. Logged.
 */
static int main_drop_privs(struct main_opts *o, struct vdev *v)
{
	char err[512];
	int ret;

	if (o->user) {
		ret = vdev_give_state(v, o->uid, o->gid, err, sizeof(err));
		if (ret < 0) {
			log_msg(LOG_ERR, "%s: cannot run as user '%s': %s",
				vdev_name(v), o->user, err);
			return ret;
		}
	}
	ret = privs_drop(o->user, err, sizeof(err));
	if (ret < 0) {
		log_msg(LOG_ERR, "%s: cannot drop privileges: %s", vdev_name(v),
			err);
		return ret;
	}
	log_msg(LOG_NOTICE, "%s: privileges dropped%s%s: keeping CAP_NET_ADMIN "
		"only", vdev_name(v), o->user ? ", running as " : "",
		o->user ? o->user : "");
	return 0;
}

static int main_run(struct main_opts *o)
{
	struct vdev_config cfg = {
		.nodes = (const char *const *)o->nodes,
		.n_nodes = o->n_nodes,
		.volume = o->volume,
		.name = o->name,
		.ca = o->ca, .cert = o->cert, .key = o->key,
		.tls_name = o->tls_name,
		.tls_ciphersuites = o->tls_ciphersuites,
		.mgmtdev = o->mgmtdev,
		.state_dir = o->state_dir,
		.queues = o->queues,
		.queue_size = o->queue_size,
		.bounce_size = (uint64_t)o->bounce_mb << 20,
		.bounce_size_given = o->bounce_given && o->bounce_mb,
		.read_only = o->read_only,
		.attach = o->attach,
		.io_timeout = o->io_timeout,
		.connect_timeout = o->connect_timeout,
		.stop_timeout = o->stop_timeout,
		.resize_check = o->resize_check,
		.log_level = o->log_level,
	};
	ev_signal sigint, sigterm, sigusr1, sighup;
	char suites[TLS_SUITES_LIST_LEN], desc[512];
	struct ev_loop *loop;
	char err[512], line[PATH_MAX + 8];
	struct vdev *v;
	int ret;

	if (!cfg.tls_ciphersuites) {
		tls_suites_default(suites, sizeof(suites), desc, sizeof(desc));
		log_msg(LOG_INFO, "TLS 1.3 cipher suites, fastest on this CPU "
			"first: %s", desc);
		cfg.tls_ciphersuites = suites;
	}

	loop = ev_default_loop(EVFLAG_SIGNALFD);
	if (!loop)
		return -ENOMEM;
	privs_will_switch_user(o->user != NULL);	/* before any thread */
	v = vdev_start(loop, &cfg, err, sizeof(err));
	if (!v)
		return -errno;
	if (o->pid_file)
		main_write_pid_file(o->pid_file);
	ret = main_drop_privs(o, v);
	if (ret < 0) {
		vdev_stop(v, false);
		if (o->pid_file)
			unlink(o->pid_file);
		return ret;
	}
	snprintf(line, sizeof(line), "%s\n", vdev_node(v));
	main_report(line);
	main_report("ok\n");
	main_report_done();
	if (!o->foreground) {
		log_use_syslog();
		dup2(STDOUT_FILENO, STDERR_FILENO);
	}

	ev_signal_init(&sigint, main_signal_cb, SIGINT);
	ev_signal_init(&sigterm, main_signal_cb, SIGTERM);
	ev_signal_init(&sigusr1, main_signal_cb, SIGUSR1);
	ev_signal_init(&sighup, main_hup_cb, SIGHUP);
	sighup.data = v;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigusr1);
	ev_signal_start(loop, &sighup);
	ev_run(loop, 0);

	ret = vdev_stop(v, main_last_signal == SIGUSR1);
	if (o->pid_file && unlink(o->pid_file) < 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "cannot remove pid file %s: %s",
			o->pid_file, strerror(errno));
	return ret;
}

static void main_free_opts(struct main_opts *o)
{
	for (size_t i = 0; i < o->n_nodes; i++)
		free(o->nodes[i]);
	free(o->nodes);
	o->nodes = NULL;
	o->n_nodes = 0;
}

int main(int argc, char **argv)
{
	struct main_opts o;
	sigset_t mask;
	int ret;

	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return agent_status_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "agent") == 0) {
		signal(SIGPIPE, SIG_IGN);
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGHUP);
		sigaddset(&mask, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &mask, NULL);
		return agent_main(argc - 1, argv + 1);
	}
	if (main_parse(argc, argv, &o) < 0) {
		main_free_opts(&o);
		return MAIN_EXIT_USAGE;
	}
	log_init("vduse-netblk", o.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* Signals reach the main loop through a signalfd; every thread
	 * started later inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (!o.foreground)
		main_daemonize();

	ret = main_run(&o);
	main_report_done();
	main_free_opts(&o);
	return ret < 0 ? MAIN_EXIT_FAIL : MAIN_EXIT_OK;
}
