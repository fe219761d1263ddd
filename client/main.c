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
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stddef.h>
#include <linux/virtio_ids.h>

#include "blk.h"
#include "cluster.h"
#include "device.h"
#include "log.h"
#include "state.h"
#include "tls.h"
#include "vdpa_nl.h"
#include "vduse_dev.h"
#include "worker.h"

#define MAIN_EXIT_OK    0
#define MAIN_EXIT_FAIL  1
#define MAIN_EXIT_USAGE 2

#define MAIN_DEFAULT_QUEUE_SIZE 256
#define MAIN_MAX_QUEUES         WORKER_MAX_QUEUES
#define MAIN_SYSFS_WAIT_MS      10000

struct main_opts {
	char **nodes;
	size_t n_nodes;
	const char *volume;
	char name[VDUSE_NAME_MAX];
	const char *ca, *cert, *key, *tls_name;
	const char *mgmtdev;
	const char *pid_file;
	const char *state_dir;
	unsigned int queues;
	unsigned int queue_size;
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
"\n"
"Device:\n"
"  -n, --name NAME           VDUSE and vDPA device name\n"
"                            (default netblk-ID); /dev/vduse/NAME\n"
"  -q, --queues N            virtqueues, each served by its own worker\n"
"                            thread with its own connections (default 1)\n"
"      --queue-size N        entries per virtqueue, a power of two\n"
"                            (default 256)\n"
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
"  -h, --help                this text\n"
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
	OPT_RESIZE_CHECK,
};

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
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "connect-timeout", required_argument, NULL,
		  OPT_CONNECT_TIMEOUT },
		{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
		{ "mgmtdev", required_argument, NULL, OPT_MGMTDEV },
		{ "no-attach", no_argument, NULL, OPT_NO_ATTACH },
		{ "pid-file", required_argument, NULL, OPT_PID_FILE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "resize-check", required_argument, NULL, OPT_RESIZE_CHECK },
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
		.attach = true,
		.connect_timeout = 10,
		.stop_timeout = 5,
		.resize_check = 5,
		.state_dir = STATE_DEFAULT_DIR,
		.log_level = LOG_NOTICE,
	};
	opterr = 0;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, ":c:v:rn:q:fh", longopts, NULL)) != -1) {
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

/* ---- device discovery in sysfs ---- */

/* After attaching: which /dev node did the kernel make of NAME? */
static bool main_find_node(const char *name, char *out, size_t outlen)
{
	char pattern[PATH_MAX];
	glob_t g;
	bool found = false;

	snprintf(pattern, sizeof(pattern),
		 "/sys/bus/vdpa/devices/%s/virtio*/block/*", name);
	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(out, outlen, "/dev/%s", strrchr(g.gl_pathv[0], '/') + 1);
		found = true;
	}
	globfree(&g);
	if (found)
		return true;
	snprintf(pattern, sizeof(pattern),
		 "/sys/bus/vdpa/devices/%s/vhost-vdpa-*", name);
	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(out, outlen, "/dev/%s", strrchr(g.gl_pathv[0], '/') + 1);
		found = true;
	}
	globfree(&g);
	return found;
}

static bool main_wait_node(const char *name, char *out, size_t outlen)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited < MAIN_SYSFS_WAIT_MS; waited += 20) {
		struct stat st;

		if (main_find_node(name, out, outlen) && stat(out, &st) == 0)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
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

/*
 * The kernel removing the disk (vdpa dev del, driver unbind) waits for the
 * requests in flight; when the cluster does not answer they would never
 * complete. Its sysfs entry goes first, so watch it: once gone, requests
 * the cluster has not answered within a second fail, and the workers
 * reconnect for a possible re-attach.
 */
struct main_watch {
	const char *name;
	struct worker **workers;
	unsigned int n_workers;
	char node[PATH_MAX];      /* /dev/vdX while attached, "" while not */
};

static void main_watch_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct main_watch *mw = t->data;
	char sysfs[PATH_MAX + 16];
	struct stat sb;
	unsigned int i;

	if (!mw->node[0]) {
		if (main_find_node(mw->name, mw->node, sizeof(mw->node)) &&
		    strncmp(mw->node, "/dev/vd", 7) == 0)
			log_msg(LOG_NOTICE, "%s: attached again as %s", mw->name,
				mw->node);
		else
			mw->node[0] = '\0';
		return;
	}
	snprintf(sysfs, sizeof(sysfs), "/sys/block/%s", mw->node + 5);
	if (stat(sysfs, &sb) == 0)
		return;
	log_msg(LOG_NOTICE, "%s: the kernel removed %s; requests the cluster "
		"has not answered within 1 s fail", mw->name, mw->node);
	for (i = 0; i < mw->n_workers; i++)
		worker_drain(mw->workers[i], 1.0, true);
	mw->node[0] = '\0';
}

/*
 * Online resize: every --resize-check seconds each worker asks its own
 * connections for the volume's size (so each checks requests against the
 * new size before the driver hears of it); once all agree on a new size,
 * the config space changes and a config interrupt tells the driver.
 */
struct main_resize {
	pthread_mutex_t lock;
	struct ev_loop *loop;
	ev_async answered;
	struct worker **workers;
	unsigned int n_workers;
	const char *name;
	int dev_fd;
	bool busy;
	unsigned int answers;
	int err;
	bool differ;
	uint64_t first;
	uint64_t current;         /* size the driver knows */
};

/* From a worker's thread. */
static void main_size_cb(void *opaque, unsigned int id, int err, uint64_t size)
{
	struct main_resize *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (err)
		r->err = err;
	else if (r->answers == 0 || !r->first)
		r->first = size;
	else if (size != r->first)
		r->differ = true;
	if (++r->answers == r->n_workers)
		ev_async_send(r->loop, &r->answered);
	pthread_mutex_unlock(&r->lock);
}

static void main_resize_apply(struct main_resize *r, uint64_t size)
{
	uint64_t cap = htole64(size / 512);
	int ret;

	ret = vduse_dev_set_config(r->dev_fd,
				   offsetof(struct virtio_blk_config, capacity),
				   &cap, sizeof(cap));
	if (ret == 0)
		ret = vduse_dev_inject_config_irq(r->dev_fd);
	if (ret < 0) {
		log_msg(LOG_ERR, "%s: cannot tell the driver the new size: %s",
			r->name, strerror(-ret));
		return;
	}
	log_msg(LOG_NOTICE, "%s: volume resized from %llu to %llu bytes",
		r->name, (unsigned long long)r->current,
		(unsigned long long)size);
	r->current = size;
}

static void main_resize_answered_cb(struct ev_loop *loop, ev_async *w,
				    int revents)
{
	struct main_resize *r = w->data;
	uint64_t size = 0;
	bool apply = false;

	pthread_mutex_lock(&r->lock);
	if (r->busy && r->answers == r->n_workers) {
		r->busy = false;
		if (r->err)
			log_msg(LOG_INFO, "%s: size check failed: %s", r->name,
				strerror(-r->err));
		else if (!r->differ && r->first != r->current)
			apply = true;
		size = r->first;
	}
	pthread_mutex_unlock(&r->lock);
	if (apply)
		main_resize_apply(r, size);
}

static void main_resize_check(struct main_resize *r)
{
	unsigned int i;

	pthread_mutex_lock(&r->lock);
	if (r->busy) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	r->busy = true;
	r->answers = 0;
	r->err = 0;
	r->differ = false;
	r->first = 0;
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->n_workers; i++) {
		int ret = worker_refresh_size(r->workers[i]);

		if (ret < 0)
			main_size_cb(r, i, ret, 0);
	}
}

static void main_resize_timer_cb(struct ev_loop *loop, ev_timer *t,
				 int revents)
{
	main_resize_check(t->data);
}

struct main_hup {
	const struct main_opts *o;
	struct worker **workers;
	struct main_resize *resize;
};

static void main_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct main_hup *h = w->data;
	const struct main_opts *o = h->o;
	char err[512];
	unsigned int i;
	SSL_CTX *ctx;

	ctx = tls_client_ctx_new(o->ca, o->cert, o->key, err, sizeof(err));
	if (!ctx) {
		log_msg(LOG_ERR, "SIGHUP: certificates not reloaded, keeping the "
			"current ones: %s", err);
	} else {
		for (i = 0; i < o->queues; i++)
			worker_reload_tls(h->workers[i], ctx);
		SSL_CTX_free(ctx);
		log_msg(LOG_NOTICE, "SIGHUP: certificates reloaded from %s, %s, "
			"%s; new connections use them", o->ca, o->cert, o->key);
	}
	main_resize_check(h->resize);
}

/* Is vDPA device NAME attached already (a device we take over)? */
static bool main_attached(const char *name)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
	return stat(path, &sb) == 0;
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

static void main_cluster_config(const struct main_opts *o,
				struct cluster_config *cfg, const char *prefix)
{
	*cfg = (struct cluster_config){
		.nodes = (const char *const *)o->nodes,
		.n_nodes = o->n_nodes,
		.volume = o->volume,
		.read_only = o->read_only,
		.tls_ca = o->ca,
		.tls_cert = o->cert,
		.tls_key = o->key,
		.server_name = o->tls_name,
		.io_timeout = o->io_timeout,
		.connect_timeout = o->connect_timeout,
		.client_name = o->name,
		.log_fn = log_engine_sink,
		.log_opaque = (void *)prefix,
		.log_level = o->log_level,
	};
}

/* Open the volume once, to learn its geometry and fail early. */
static int main_probe(const struct main_opts *o, struct rpc_volume_info *vol)
{
	struct cluster_config cfg;
	struct ev_loop *loop;
	struct cluster *c;
	char err[256] = "";

	main_cluster_config(o, &cfg, NULL);
	loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!loop)
		return -ENOMEM;
	c = cluster_open_sync(loop, &cfg, err, sizeof(err));
	if (!c) {
		int ret = -errno;

		log_msg(LOG_ERR, "cannot open volume '%s': %s", o->volume,
			err[0] ? err : strerror(errno));
		ev_loop_destroy(loop);
		return ret;
	}
	*vol = *cluster_volume(c);
	cluster_free(c);
	ev_loop_destroy(loop);
	return 0;
}

static void main_blk_params(const struct main_opts *o,
			    const struct rpc_volume_info *vol,
			    struct blk_params *p)
{
	*p = (struct blk_params){
		.size_bytes = vol->size,
		.block_size = vol->block_size ? vol->block_size : 512,
		.read_only = o->read_only || vol->read_only,
		.max_discard_bytes = vol->max_discard_size,
		.max_write_zeroes_bytes = vol->max_write_zeroes_size,
		.max_discard_seg = 1,
		.max_write_zeroes_seg = 1,
		.num_queues = o->queues,
		.queue_size = o->queue_size,
		.max_segment_bytes = 1u << 20,
	};
	/* GET_ID: the volume id, truncated to the 20 bytes virtio allows. */
	memcpy(p->serial, o->volume, strnlen(o->volume, sizeof(p->serial)));
}

static int main_run(struct main_opts *o)
{
	struct worker *workers[MAIN_MAX_QUEUES] = { 0 };
	struct rpc_volume_info vol = { 0 };
	struct blk_params bp;
	struct virtio_blk_config config;
	struct vduse_dev_params dp;
	struct cluster_config cfg;
	struct device *dev = NULL;
	struct state st = { .fd = -1 };
	bool takeover = false, serving = false;
	struct ev_loop *loop;
	ev_signal sigint, sigterm, sigusr1;
	ev_timer watch_timer, resize_timer;
	ev_signal sighup;
	struct main_watch watch = { 0 };
	struct main_resize resize = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct main_hup hup = { .o = o, .workers = workers, .resize = &resize };
	char prefixes[MAIN_MAX_QUEUES][16];
	char err[512] = "", node[PATH_MAX], line[PATH_MAX + 8];
	const char *why;
	uint64_t features;
	unsigned int i;
	int dev_fd = -1, ret;

	ret = main_probe(o, &vol);
	if (ret < 0)
		return ret;
	main_blk_params(o, &vol, &bp);
	why = blk_params_check(&bp);
	if (why) {
		log_msg(LOG_ERR, "volume '%s' cannot be served: %s", o->volume,
			why);
		return -EINVAL;
	}
	blk_config_build(&bp, &config, &features);
	dp = (struct vduse_dev_params){
		.name = o->name,
		.device_id = VIRTIO_ID_BLOCK,
		.vendor_id = 0,
		.features = features,
		.vq_num = o->queues,
		.vq_align = 4096,
		.vq_max_size = o->queue_size,
		.config = &config,
		.config_size = sizeof(config),
	};
	ret = vduse_dev_create(&dp, err, sizeof(err));
	if (ret == -EEXIST) {
		char serr[512];

		if (state_open(&st, o->state_dir, o->name, serr,
			       sizeof(serr)) < 0) {
			log_msg(LOG_ERR, "%s (no state to take it over: %s)",
				err, serr);
			return ret;
		}
		if (strcmp(st.hdr->volume, o->volume) != 0) {
			log_msg(LOG_ERR, "device '%s' serves volume '%s', not "
				"'%s': refusing to take it over", o->name,
				st.hdr->volume, o->volume);
			state_close(&st, false);
			return -EEXIST;
		}
		takeover = true;
		if (st.hdr->num_queues != o->queues ||
		    st.hdr->queue_size != o->queue_size)
			log_msg(LOG_NOTICE, "%s: taking over with the device's "
				"%u queue(s) of %u", o->name,
				st.hdr->num_queues, st.hdr->queue_size);
		o->queues = st.hdr->num_queues;
		o->queue_size = st.hdr->queue_size;
		main_blk_params(o, &vol, &bp);
		log_msg(LOG_NOTICE, "%s: taking over the existing device",
			o->name);
	} else if (ret < 0) {
		log_msg(LOG_ERR, "%s", err);
		return ret;
	} else {
		ret = state_create(&st, o->state_dir, o->name, o->volume,
				   o->queues, o->queue_size, err, sizeof(err));
		if (ret < 0) {
			log_msg(LOG_ERR, "%s", err);
			goto out_destroy;
		}
	}
	dev_fd = vduse_dev_open(o->name, 2000, err, sizeof(err));
	if (dev_fd < 0) {
		log_msg(LOG_ERR, "%s", err);
		ret = dev_fd;
		goto out_state;
	}
	for (i = 0; i < o->queues; i++) {
		struct worker_params wp = {
			.id = i, .dev_name = o->name, .dev_fd = dev_fd,
			.blk = &bp, .cluster = &cfg,
			.size_cb = main_size_cb, .size_opaque = &resize,
		};

		snprintf(prefixes[i], sizeof(prefixes[i]), "q%u", i);
		main_cluster_config(o, &cfg, prefixes[i]);
		workers[i] = worker_start(&wp, err, sizeof(err));
		if (!workers[i]) {
			ret = -errno;
			log_msg(LOG_ERR, "worker %u: %s", i, err);
			goto out_workers;
		}
	}
	dev = device_start(o->name, dev_fd, o->queues, workers, o->queues,
			   st.queues, takeover);
	if (!dev) {
		ret = -errno;
		log_msg(LOG_ERR, "cannot start the control thread: %s",
			strerror(errno));
		goto out_workers;
	}
	log_msg(LOG_NOTICE, "%s: volume '%s', %llu bytes, block size %u%s, "
		"%u queue(s) of %u", o->name, o->volume,
		(unsigned long long)vol.size, bp.block_size,
		bp.read_only ? ", read-only" : "", o->queues, o->queue_size);

	if (takeover && main_attached(o->name)) {
		if (main_wait_node(o->name, node, sizeof(node)))
			snprintf(line, sizeof(line), "%s\n", node);
		else
			snprintf(line, sizeof(line), "/dev/vduse/%s\n", o->name);
		log_msg(LOG_NOTICE, "%s: took over, serving %s", o->name,
			line);
	} else if (o->attach) {
		ret = vdpa_dev_add(o->name, o->mgmtdev, err, sizeof(err));
		if (ret < 0) {
			log_msg(LOG_ERR, "%s", err);
			goto out_device;
		}
		if (main_wait_node(o->name, node, sizeof(node))) {
			snprintf(line, sizeof(line), "%s\n", node);
			log_msg(LOG_NOTICE, "%s: attached as %s", o->name, node);
		} else {
			snprintf(line, sizeof(line), "/dev/vduse/%s\n", o->name);
			log_msg(LOG_WARNING, "%s: attached to vDPA, but no block "
				"or vhost device appeared within %d s (load "
				"virtio_blk and virtio_vdpa, or vhost_vdpa)",
				o->name, MAIN_SYSFS_WAIT_MS / 1000);
		}
	} else {
		snprintf(line, sizeof(line), "/dev/vduse/%s\n", o->name);
		log_msg(LOG_NOTICE, "%s: created, not attached (--no-attach): "
			"'vdpa dev add name %s mgmtdev vduse'", o->name, o->name);
	}
	if (o->pid_file)
		main_write_pid_file(o->pid_file);
	serving = true;
	main_report(line);
	main_report("ok\n");
	main_report_done();
	if (!o->foreground) {
		log_use_syslog();
		dup2(STDOUT_FILENO, STDERR_FILENO);
	}

	loop = ev_default_loop(EVFLAG_SIGNALFD);
	ev_signal_init(&sigint, main_signal_cb, SIGINT);
	ev_signal_init(&sigterm, main_signal_cb, SIGTERM);
	ev_signal_init(&sigusr1, main_signal_cb, SIGUSR1);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigusr1);
	watch.name = o->name;
	watch.workers = workers;
	watch.n_workers = o->queues;
	if (strncmp(line, "/dev/vd", 7) == 0)
		snprintf(watch.node, sizeof(watch.node), "%.*s",
			 (int)strcspn(line, "\n"), line);
	ev_timer_init(&watch_timer, main_watch_cb, 0.25, 0.25);
	watch_timer.data = &watch;
	ev_timer_start(loop, &watch_timer);
	resize.loop = loop;
	resize.workers = workers;
	resize.n_workers = o->queues;
	resize.name = o->name;
	resize.dev_fd = dev_fd;
	resize.current = bp.size_bytes;
	ev_async_init(&resize.answered, main_resize_answered_cb);
	resize.answered.data = &resize;
	ev_async_start(loop, &resize.answered);
	if (o->resize_check > 0) {
		ev_timer_init(&resize_timer, main_resize_timer_cb,
			      o->resize_check, o->resize_check);
		resize_timer.data = &resize;
		ev_timer_start(loop, &resize_timer);
	}
	ev_signal_init(&sighup, main_hup_cb, SIGHUP);
	sighup.data = &hup;
	ev_signal_start(loop, &sighup);
	ev_run(loop, 0);
	ret = 0;

	if (main_last_signal == SIGUSR1) {
		/* Leave: queues stop without completing anything, the state
		 * file keeps what was in flight for the next daemon. */
		log_msg(LOG_NOTICE, "%s: leaving the device in place for a "
			"new daemon (state in %s)", o->name, st.path);
		device_stop(dev, true);
		for (i = 0; i < o->queues; i++)
			worker_stop(workers[i]);
		close(dev_fd);
		state_close(&st, false);
		goto out_pid;
	}

	/* The kernel's detach waits for requests in flight: bound it. */
	for (i = 0; i < o->queues; i++)
		worker_drain(workers[i], o->stop_timeout, false);
	if (o->attach) {
		int r = vdpa_dev_del(o->name, err, sizeof(err));

		if (r < 0 && r != -ENODEV) {
			log_msg(LOG_ERR, "%s", err);
			ret = r;
		}
	}
out_device:
	device_stop(dev, false);
out_workers:
	for (i = 0; i < o->queues; i++)
		worker_stop(workers[i]);
	close(dev_fd);
out_state:
	if (takeover && !serving) {
		/* Not ours to destroy: leave it for whoever can serve it. */
		state_close(&st, false);
		goto out_pid;
	}
	state_close(&st, true);
out_destroy:
	if (vduse_dev_destroy(o->name, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		if (ret == 0)
			ret = -EBUSY;
	} else {
		log_msg(LOG_INFO, "%s: destroyed", o->name);
	}
out_pid:
	if (o->pid_file)
		unlink(o->pid_file);
	return ret;
}

int main(int argc, char **argv)
{
	struct main_opts o;
	sigset_t mask;
	int ret;

	if (main_parse(argc, argv, &o) < 0)
		return MAIN_EXIT_USAGE;
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
	for (size_t i = 0; i < o.n_nodes; i++)
		free(o.nodes[i]);
	free(o.nodes);
	return ret < 0 ? MAIN_EXIT_FAIL : MAIN_EXIT_OK;
}
