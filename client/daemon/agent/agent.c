/* SPDX-License-Identifier: MIT */
/*
 * Agent mode: many volumes from one process, declared by spec files.
 *
 *   vduse-netblk agent [--spec-dir DIR] ...   attach what DIR declares
 *   vduse-netblk status [--spec-dir DIR] ...  print it, exit 0 if healthy
 *
 * Each DIR/NAME.spec (spec.h) is one attachment: created -> attached,
 * deleted -> detached, rewritten -> re-attached if it changed. The agent
 * reports each in DIR/NAME.status and links
 * RUN/by-volume/ID -> /dev/vdX. Stopping the agent (SIGTERM, SIGINT)
 * leaves the devices in place: what the specs declare stays attached, and
 * the next agent takes the devices over. A device whose spec went away
 * while no agent ran is taken over once more and detached (the agent
 * keeps a copy of each spec under RUN for that), never duplicated.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "agent.h"
#include "log.h"
#include "spec.h"
#include "state.h"
#include "tls_suites.h"
#include "vdev.h"

#define AGENT_DEFAULT_SPEC_DIR "/etc/vduse-netblk/specs"
#define AGENT_RETRY_SECONDS    10.0

struct agent_vol {
	char name[SPEC_STR_MAX + 1];     /* spec file base name */
	struct spec spec;
	bool parsed;
	struct vdev *v;
	char message[512];
	struct agent_vol *next;
};

struct agent {
	const char *spec_dir, *status_dir, *run_dir;
	const char *metrics;
	struct spec defaults;
	double connect_timeout;
	int log_level;
	struct ev_loop *loop;
	int inotify_fd;
	ev_io inotify_io;
	ev_timer retry_timer;
	int metrics_fd;
	ev_io metrics_io;
	struct agent_scrape *scrapes;  /* metrics requests being read */
	struct agent_vol *vols;
};

/* ---- files ---- */

/* Write path atomically (temporary file + rename). */
static int agent_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static char *agent_read_file(const char *path)
{
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(64 * 1024 + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, 64 * 1024);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void agent_path(char *out, size_t len, const char *dir,
		       const char *name, const char *suffix)
{
	snprintf(out, len, "%s/%s%s", dir, name, suffix);
}

static void agent_write_status(struct agent *a, struct agent_vol *av)
{
	char path[PATH_MAX], text[2048];

	agent_path(path, sizeof(path), a->status_dir, av->name, ".status");
	snprintf(text, sizeof(text),
		 "state=%s\nvolume=%s\nname=%s\ndevice=%s\nmessage=%s\n"
		 "updated=%lld\n",
		 av->v ? "attached" : "error",
		 av->parsed ? av->spec.volume : "",
		 av->parsed ? av->spec.name : av->name,
		 av->v ? vdev_node(av->v) : "", av->message,
		 (long long)time(NULL));
	if (agent_write_file(path, text) < 0)
		log_msg(LOG_ERR, "cannot write status file %s: %s", path,
			strerror(errno));
}

/* RUN/by-volume/ID -> the device node. */
static void agent_link(struct agent *a, struct agent_vol *av, bool add)
{
	char dir[PATH_MAX], path[PATH_MAX + SPEC_STR_MAX + 2];
	char tmp[sizeof(path) + 8];

	snprintf(dir, sizeof(dir), "%s/by-volume", a->run_dir);
	if (!spec_name_ok(av->spec.volume))
		return;	/* not a safe file name: no link */
	snprintf(path, sizeof(path), "%s/%s", dir, av->spec.volume);
	if (!add) {
		unlink(path);
		return;
	}
	mkdir(a->run_dir, 0755);
	mkdir(dir, 0755);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (symlink(vdev_node(av->v), tmp) < 0 || rename(tmp, path) < 0)
		log_msg(LOG_ERR, "cannot link %s: %s", path, strerror(errno));
}

/* ---- attach / detach ---- */

static struct agent_vol *agent_find(struct agent *a, const char *name)
{
	struct agent_vol *av;

	for (av = a->vols; av; av = av->next)
		if (strcmp(av->name, name) == 0)
			return av;
	return NULL;
}

static void agent_start_vol(struct agent *a, struct agent_vol *av,
			    const char *text)
{
	const char *nodes[SPEC_MAX_NODES];
	struct vdev_config cfg;
	char path[PATH_MAX], why[256];
	size_t i;

	for (i = 0; i < av->spec.n_nodes; i++)
		nodes[i] = av->spec.nodes[i];
	cfg = (struct vdev_config){
		.nodes = nodes,
		.n_nodes = av->spec.n_nodes,
		.volume = av->spec.volume,
		.name = av->spec.name,
		.ca = av->spec.ca, .cert = av->spec.cert, .key = av->spec.key,
		.tls_name = av->spec.tls_name[0] ? av->spec.tls_name : NULL,
		.tls_ciphersuites = av->spec.tls_ciphersuites[0] ?
				    av->spec.tls_ciphersuites : NULL,
		.mgmtdev = av->spec.mgmtdev[0] ? av->spec.mgmtdev : NULL,
		.state_dir = a->run_dir,
		.queues = av->spec.queues,
		.queue_size = av->spec.queue_size,
		.bounce_size = (uint64_t)VDEV_DEFAULT_BOUNCE_MB << 20,
		.read_only = av->spec.read_only,
		.attach = true,
		.io_timeout = av->spec.io_timeout,
		.connect_timeout = a->connect_timeout,
		.stop_timeout = 5,
		.resize_check = 5,
		.log_level = a->log_level,
	};
	if (cfg.tls_ciphersuites &&
	    tls_suites_check(cfg.tls_ciphersuites, why, sizeof(why)) < 0) {
		snprintf(av->message, sizeof(av->message),
			 "tls_ciphersuites '%.200s': %s", cfg.tls_ciphersuites,
			 why);
		av->v = NULL;
	} else {
		av->v = vdev_start(a->loop, &cfg, av->message,
				   sizeof(av->message));
	}
	if (av->v) {
		snprintf(av->message, sizeof(av->message), "%s %s",
			 vdev_took_over(av->v) ? "took over" : "attached as",
			 vdev_node(av->v));
		agent_link(a, av, true);
		/* The spec as attached, to clean up if it vanishes while no
		 * agent runs. */
		agent_path(path, sizeof(path), a->run_dir, av->spec.name,
			   ".agent-spec");
		if (text)
			agent_write_file(path, text);
		log_msg(LOG_NOTICE, "%s: volume %s %s", av->name,
			av->spec.volume, av->message);
	} else {
		log_msg(LOG_ERR, "%s: volume %s not attached: %s", av->name,
			av->spec.volume, av->message);
	}
	agent_write_status(a, av);
}

static void agent_stop_vol(struct agent *a, struct agent_vol *av, bool leave)
{
	char path[PATH_MAX];

	if (!av->v)
		return;
	if (!leave)
		agent_link(a, av, false);
	vdev_stop(av->v, leave);
	av->v = NULL;
	if (!leave) {
		agent_path(path, sizeof(path), a->run_dir, av->spec.name,
			   ".agent-spec");
		unlink(path);
		log_msg(LOG_NOTICE, "%s: volume %s detached", av->name,
			av->spec.volume);
	}
}

/* Spec file NAME.spec was written: attach, re-attach, or report. */
static void agent_spec_changed(struct agent *a, const char *name)
{
	struct agent_vol *av = agent_find(a, name);
	char path[PATH_MAX], err[512];
	struct spec spec;
	char *text;
	int ret;

	if (!spec_name_ok(name)) {
		log_msg(LOG_WARNING, "ignoring spec '%s': not a usable name",
			name);
		return;
	}
	agent_path(path, sizeof(path), a->spec_dir, name, ".spec");
	text = agent_read_file(path);
	if (!text)
		return;	/* gone again, or unreadable: the delete event follows */
	ret = spec_parse(text, name, &a->defaults, &spec, err, sizeof(err));
	if (!av) {
		av = calloc(1, sizeof(*av));
		if (!av) {
			free(text);
			return;
		}
		snprintf(av->name, sizeof(av->name), "%s", name);
		av->next = a->vols;
		a->vols = av;
	}
	if (ret < 0) {
		/* A bad rewrite leaves a working attachment alone. */
		snprintf(av->message, sizeof(av->message), "bad spec %.100s: %.380s",
			 path, err);
		log_msg(LOG_ERR, "%s", av->message);
		if (!av->v)
			av->parsed = false;
		agent_write_status(a, av);
		free(text);
		return;
	}
	if (av->v && spec_equal(&av->spec, &spec)) {
		free(text);
		return;
	}
	if (av->v)
		log_msg(LOG_NOTICE, "%s: spec changed, re-attaching", name);
	agent_stop_vol(a, av, false);
	av->spec = spec;
	av->parsed = true;
	agent_start_vol(a, av, text);
	free(text);
}

static void agent_spec_removed(struct agent *a, const char *name)
{
	struct agent_vol *av = agent_find(a, name), **pp;
	char path[PATH_MAX];

	if (!av)
		return;
	agent_stop_vol(a, av, false);
	agent_path(path, sizeof(path), a->status_dir, name, ".status");
	unlink(path);
	for (pp = &a->vols; *pp; pp = &(*pp)->next) {
		if (*pp == av) {
			*pp = av->next;
			break;
		}
	}
	free(av);
}

/* "NAME.spec" -> "NAME"; false for other files. */
static bool agent_spec_name(const char *file, char *name, size_t len)
{
	size_t n = strlen(file);

	if (n <= 5 || strcmp(file + n - 5, ".spec") || n - 5 >= len ||
	    file[0] == '.')
		return false;
	memcpy(name, file, n - 5);
	name[n - 5] = '\0';
	return true;
}

static void agent_inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agent *a = w->data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	char name[SPEC_STR_MAX + 1];
	ssize_t n, off;

	n = read(a->inotify_fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (off = 0; off < n;) {
		struct inotify_event *ev = (struct inotify_event *)(buf + off);

		off += sizeof(*ev) + ev->len;
		if (!ev->len || !agent_spec_name(ev->name, name, sizeof(name)))
			continue;
		if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
			agent_spec_removed(a, name);
		else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
			agent_spec_changed(a, name);
	}
}

/* Specs that parsed but did not attach (cluster down...): try again. */
static void agent_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct agent *a = t->data;
	struct agent_vol *av;

	for (av = a->vols; av; av = av->next)
		if (av->parsed && !av->v)
			agent_spec_changed(a, av->name);
}

/* At start: attach every spec; clean up devices whose spec is gone. */
static void agent_reconcile(struct agent *a)
{
	char name[SPEC_STR_MAX + 1], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	d = opendir(a->spec_dir);
	while (d && (de = readdir(d)))
		if (agent_spec_name(de->d_name, name, sizeof(name)))
			agent_spec_changed(a, name);
	if (d)
		closedir(d);

	d = opendir(a->run_dir);
	while (d && (de = readdir(d))) {
		struct agent_vol tmp = { 0 };
		size_t n = strlen(de->d_name);
		char err[512], *text;
		bool declared = false;
		struct agent_vol *av;

		if (n <= 11 || strcmp(de->d_name + n - 11, ".agent-spec"))
			continue;
		snprintf(tmp.name, sizeof(tmp.name), "%.*s", (int)(n - 11),
			 de->d_name);
		for (av = a->vols; av; av = av->next)
			if (av->parsed && !strcmp(av->spec.name, tmp.name))
				declared = true;
		if (declared)
			continue;
		agent_path(path, sizeof(path), a->run_dir, de->d_name, "");
		text = agent_read_file(path);
		if (!text || spec_parse(text, tmp.name, &a->defaults,
					&tmp.spec, err, sizeof(err)) < 0) {
			free(text);
			continue;
		}
		log_msg(LOG_NOTICE, "%s: spec removed while no agent ran: "
			"taking the device over to detach it", tmp.name);
		tmp.parsed = true;
		agent_start_vol(a, &tmp, NULL);
		agent_stop_vol(a, &tmp, false);
		agent_path(path, sizeof(path), a->status_dir, tmp.name,
			   ".status");
		unlink(path);
		free(text);
	}
	if (d)
		closedir(d);
}

/* ---- metrics ---- */

static size_t agent_metrics_text(struct agent *a, char *out, size_t cap)
{
	static const struct { const char *name, *type, *help; } m[] = {
		{ "vduse_netblk_volume_up", "gauge", "1 when the volume is attached" },
		{ "vduse_netblk_requests_total", "counter", "requests sent to the cluster" },
		{ "vduse_netblk_errors_total", "counter", "requests completed with an error" },
		{ "vduse_netblk_read_bytes_total", "counter", "bytes read" },
		{ "vduse_netblk_written_bytes_total", "counter", "bytes written" },
		{ "vduse_netblk_inflight", "gauge", "requests in flight" },
		{ "vduse_netblk_size_bytes", "gauge", "volume size the device shows" },
	};
	struct agent_vol *av;
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]) && n < cap; i++) {
		n += snprintf(out + n, cap - n, "# HELP %s %s\n# TYPE %s %s\n",
			      m[i].name, m[i].help, m[i].name, m[i].type);
		for (av = a->vols; av && n < cap; av = av->next) {
			struct vdev_stats s = { 0 };
			uint64_t val[7];

			if (!av->parsed)
				continue;
			if (av->v)
				vdev_get_stats(av->v, &s);
			val[0] = av->v != NULL;
			val[1] = s.requests;
			val[2] = s.errors;
			val[3] = s.bytes_read;
			val[4] = s.bytes_written;
			val[5] = s.inflight;
			val[6] = s.size;
			n += snprintf(out + n, cap - n,
				      "%s{volume=\"%s\",device=\"%s\"} %llu\n",
				      m[i].name, av->spec.volume, av->spec.name,
				      (unsigned long long)val[i]);
		}
	}
	return n < cap ? n : cap;
}

/*
 * One scrape: the request is read without blocking the agent (a client
 * may connect long before it writes, or never write), the reply is
 * written once the request's header is complete, then the write side is
 * shut and the socket closed. A client silent for AGENT_METRICS_TIMEOUT
 * seconds is dropped.
 */
#define AGENT_METRICS_TIMEOUT 10.0

struct agent_scrape {
	struct agent *a;
	int fd;
	ev_io io;
	ev_timer timer;
	size_t len;
	char req[1024];
	struct agent_scrape *next;
};

static void agent_scrape_free(struct agent_scrape *sc)
{
	struct agent_scrape **pp;

	ev_io_stop(sc->a->loop, &sc->io);
	ev_timer_stop(sc->a->loop, &sc->timer);
	close(sc->fd);
	for (pp = &sc->a->scrapes; *pp; pp = &(*pp)->next) {
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	}
	free(sc);
}

static void agent_scrape_reply(struct agent_scrape *sc)
{
	struct timeval tv = { 1, 0 };
	char head[256], *body;
	size_t len;
	int flags;

	body = malloc(256 * 1024);
	if (!body)
		return;
	len = agent_metrics_text(sc->a, body, 256 * 1024);
	snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: "
		 "text/plain; version=0.0.4\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n", len);
	/* Local and small: written blocking, bounded by a 1 s timeout. */
	flags = fcntl(sc->fd, F_GETFL);
	if (flags >= 0)
		fcntl(sc->fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(sc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write(sc->fd, head, strlen(head)) < 0 ||
	    write(sc->fd, body, len) < 0)
		log_msg(LOG_INFO, "metrics: write failed: %s", strerror(errno));
	shutdown(sc->fd, SHUT_WR);
	free(body);
}

static void agent_scrape_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agent_scrape *sc = w->data;
	ssize_t n;

	n = read(sc->fd, sc->req + sc->len, sizeof(sc->req) - 1 - sc->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		agent_scrape_free(sc);
		return;
	}
	sc->len += n;
	sc->req[sc->len] = '\0';
	/* The end of the request's header, or as much of it as we keep. */
	if (!strstr(sc->req, "\r\n\r\n") && !strstr(sc->req, "\n\n") &&
	    sc->len < sizeof(sc->req) - 1)
		return;
	agent_scrape_reply(sc);
	agent_scrape_free(sc);
}

static void agent_scrape_timeout_cb(struct ev_loop *loop, ev_timer *t,
				    int revents)
{
	agent_scrape_free(t->data);
}

static void agent_metrics_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agent *a = w->data;
	struct agent_scrape *sc;
	int fd;

	fd = accept4(a->metrics_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return;
	}
	sc->a = a;
	sc->fd = fd;
	ev_io_init(&sc->io, agent_scrape_read_cb, fd, EV_READ);
	sc->io.data = sc;
	ev_timer_init(&sc->timer, agent_scrape_timeout_cb,
		      AGENT_METRICS_TIMEOUT, 0);
	sc->timer.data = sc;
	ev_io_start(loop, &sc->io);
	ev_timer_start(loop, &sc->timer);
	sc->next = a->scrapes;
	a->scrapes = sc;
}

static int agent_metrics_listen(struct agent *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	char host[256], *colon;
	struct addrinfo *res;
	int one = 1, fd;

	snprintf(host, sizeof(host), "%s", a->metrics);
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -EINVAL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return ret;
	}
	freeaddrinfo(res);
	a->metrics_fd = fd;
	ev_io_init(&a->metrics_io, agent_metrics_cb, fd, EV_READ);
	a->metrics_io.data = a;
	ev_io_start(a->loop, &a->metrics_io);
	return 0;
}

/* ---- commands ---- */

static int agent_last_signal;

static void agent_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	agent_last_signal = w->signum;
	ev_break(loop, EVBREAK_ALL);
}

static void agent_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agent *a = w->data;
	struct agent_vol *av;

	for (av = a->vols; av; av = av->next)
		if (av->v)
			vdev_reload_tls(av->v);
}

static void agent_usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-netblk agent [OPTIONS]\n"
"       vduse-netblk status [--spec-dir DIR] [--status-dir DIR]\n"
"\n"
"agent: serve every volume declared in the spec directory, from one\n"
"process. Each DIR/NAME.spec attaches one volume (key=value lines:\n"
"cluster=, volume= required; name=, queues=, queue_size=, read_only=,\n"
"io_timeout=, ca=, cert=, key=, tls_name=, tls_ciphersuites=, mgmtdev=).\n"
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
"\n"
"status: one line per declared volume (name, volume, state, device,\n"
"message); exit 0 when every declared volume is attached, else 1.\n");
}

struct agent_opts {
	const char *spec_dir, *status_dir, *run_dir, *metrics;
	const char *ca, *cert, *key;
	const char *tls_ciphersuites;	/* NULL: measured order */
	double connect_timeout;
	int log_level;
};

static int agent_parse(int argc, char **argv, struct agent_opts *o)
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
		{ NULL, 0, NULL, 0 },
	};
	char *end, why[512];
	int c;

	*o = (struct agent_opts){
		.spec_dir = AGENT_DEFAULT_SPEC_DIR,
		.run_dir = STATE_DEFAULT_DIR,
		.ca = "/etc/vduse-netblk/ca.crt",
		.cert = "/etc/vduse-netblk/client.crt",
		.key = "/etc/vduse-netblk/client.key",
		.connect_timeout = 10,
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
			if (tls_suites_check(optarg, why, sizeof(why)) < 0 ||
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
			o->connect_timeout = strtod(optarg, &end);
			if (*end || !(o->connect_timeout > 0)) {
				fprintf(stderr, "vduse-netblk: --connect-timeout "
					"'%s' is not a number of seconds\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'l':
			o->log_level = log_parse_level(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "vduse-netblk: --log-level '%s' "
					"is not one of error, warning, notice, "
					"info, debug\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			agent_usage(stdout);
			exit(0);
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

int agent_main(int argc, char **argv)
{
	struct agent a = { .inotify_fd = -1, .metrics_fd = -1 };
	ev_signal sigint, sigterm, sigusr1, sighup;
	struct agent_opts o;
	struct agent_vol *av;

	if (agent_parse(argc, argv, &o) < 0)
		return 2;
	log_init("vduse-netblk-agent", o.log_level);
	a.spec_dir = o.spec_dir;
	a.status_dir = o.status_dir;
	a.run_dir = o.run_dir;
	a.metrics = o.metrics;
	a.connect_timeout = o.connect_timeout;
	a.log_level = o.log_level;
	snprintf(a.defaults.ca, sizeof(a.defaults.ca), "%s", o.ca);
	snprintf(a.defaults.cert, sizeof(a.defaults.cert), "%s", o.cert);
	snprintf(a.defaults.key, sizeof(a.defaults.key), "%s", o.key);
	if (o.tls_ciphersuites) {
		snprintf(a.defaults.tls_ciphersuites,
			 sizeof(a.defaults.tls_ciphersuites), "%s",
			 o.tls_ciphersuites);
	} else {
		char desc[512];

		tls_suites_default(a.defaults.tls_ciphersuites,
				   sizeof(a.defaults.tls_ciphersuites), desc,
				   sizeof(desc));
		log_msg(LOG_INFO, "TLS 1.3 cipher suites, fastest on this CPU "
			"first: %s", desc);
	}
	a.loop = ev_default_loop(EVFLAG_SIGNALFD);
	mkdir(a.run_dir, 0755);
	a.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a.inotify_fd < 0 ||
	    inotify_add_watch(a.inotify_fd, a.spec_dir, IN_CLOSE_WRITE |
			      IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) < 0) {
		log_msg(LOG_ERR, "cannot watch spec directory %s: %s",
			a.spec_dir, strerror(errno));
		return 1;
	}
	if (a.metrics && agent_metrics_listen(&a) < 0) {
		log_msg(LOG_ERR, "cannot serve metrics on %s: %s", a.metrics,
			strerror(errno));
		return 1;
	}
	ev_io_init(&a.inotify_io, agent_inotify_cb, a.inotify_fd, EV_READ);
	a.inotify_io.data = &a;
	ev_io_start(a.loop, &a.inotify_io);
	log_msg(LOG_NOTICE, "agent: serving the specs in %s", a.spec_dir);
	agent_reconcile(&a);
	ev_timer_init(&a.retry_timer, agent_retry_cb, AGENT_RETRY_SECONDS,
		      AGENT_RETRY_SECONDS);
	a.retry_timer.data = &a;
	ev_timer_start(a.loop, &a.retry_timer);
	ev_signal_init(&sigint, agent_signal_cb, SIGINT);
	ev_signal_init(&sigterm, agent_signal_cb, SIGTERM);
	ev_signal_init(&sigusr1, agent_signal_cb, SIGUSR1);
	ev_signal_init(&sighup, agent_hup_cb, SIGHUP);
	sighup.data = &a;
	ev_signal_start(a.loop, &sigusr1);
	ev_signal_start(a.loop, &sigint);
	ev_signal_start(a.loop, &sigterm);
	ev_signal_start(a.loop, &sighup);
	ev_run(a.loop, 0);

	log_msg(LOG_NOTICE, "agent: signal %d, leaving the devices attached "
		"for the next agent", agent_last_signal);
	while ((av = a.vols)) {
		a.vols = av->next;
		agent_stop_vol(&a, av, true);
		free(av);
	}
	while (a.scrapes)
		agent_scrape_free(a.scrapes);
	if (a.metrics_fd >= 0)
		close(a.metrics_fd);
	close(a.inotify_fd);
	return 0;
}

/* vduse-netblk status: what the status files say about each spec. */
int agent_status_main(int argc, char **argv)
{
	char name[SPEC_STR_MAX + 1], path[PATH_MAX];
	struct agent_opts o;
	unsigned int declared = 0, healthy = 0;
	struct dirent *de;
	DIR *d;

	if (agent_parse(argc, argv, &o) < 0)
		return 2;
	d = opendir(o.spec_dir);
	if (!d) {
		fprintf(stderr, "vduse-netblk: cannot read spec directory %s: "
			"%s\n", o.spec_dir, strerror(errno));
		return 1;
	}
	printf("%-20s %-20s %-9s %-18s %s\n", "NAME", "VOLUME", "STATE",
	       "DEVICE", "MESSAGE");
	while ((de = readdir(d))) {
		char state[32] = "pending", volume[256] = "", device[256] = "";
		char message[600] = "no status yet (is the agent running?)";
		char *text, *line, *next;

		if (!agent_spec_name(de->d_name, name, sizeof(name)))
			continue;
		declared++;
		agent_path(path, sizeof(path), o.status_dir, name, ".status");
		text = agent_read_file(path);
		for (line = text; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			sscanf(line, "state=%31s", state);
			sscanf(line, "volume=%255s", volume);
			sscanf(line, "device=%255s", device);
			if (!strncmp(line, "message=", 8))
				snprintf(message, sizeof(message), "%s",
					 line + 8);
		}
		free(text);
		if (!strcmp(state, "attached"))
			healthy++;
		printf("%-20s %-20s %-9s %-18s %s\n", name, volume, state,
		       device[0] ? device : "-", message);
	}
	closedir(d);
	printf("%u declared, %u attached\n", declared, healthy);
	return healthy == declared ? 0 : 1;
}
