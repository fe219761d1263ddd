/* SPDX-License-Identifier: MIT */
/*
 * vduse-netblk: serve a remote volume as a local virtio-blk disk through
 * VDUSE. Glue only: start-up order, signals, tear-down; the options are
 * cmdline.c's.
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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent.h"
#include "cmdline.h"
#include "log.h"
#include "notify.h"
#include "metrics.h"
#include "privs.h"
#include "state.h"
#include "tls_suites.h"
#include "volume.h"

#define MAIN_EXIT_OK    0
#define MAIN_EXIT_FAIL  1
#define MAIN_EXIT_USAGE 2

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
		nb_log_msg(LOG_NOTICE, "signal %d: stopping, device left in place",
			w->signum);
	else
		nb_log_msg(LOG_NOTICE, "signal %d: detaching and stopping",
			w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void main_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	nb_volume_reload_tls(w->data);
}

/* ---- metrics (metrics.h): the loop publishes a snapshot each second ---- */

struct main_metrics {
	struct metrics_server *srv;
	struct volume *v;
	const char *volume;
	ev_timer timer;
};

static void main_metrics_publish(struct main_metrics *mm)
{
	struct metrics_volume mv = { .volume = mm->volume, .up = true };
	char disk[64], *text = NULL, ready[PATH_MAX + 64];
	size_t len;
	FILE *f;

	mv.name = nb_volume_name(mm->v);
	nb_metrics_disk_name(nb_volume_node(mm->v), disk, sizeof(disk));
	mv.disk = disk;
	nb_volume_get_stats(mm->v, &mv.stats);
	f = open_memstream(&text, &len);
	if (!f)
		return;
	nb_metrics_write(f, "daemon", &mv, 1);
	fclose(f);
	snprintf(ready, sizeof(ready), "%s attached %s\nready\n", mv.name,
		 nb_volume_node(mm->v));
	if (text)
		nb_metrics_publish(mm->srv, text, true, ready);
	free(text);
}

static void main_metrics_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	main_metrics_publish(t->data);
}

static int main_write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		nb_log_msg(LOG_ERR, "cannot write pid file %s: %s", path,
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
static int main_drop_privs(struct cmdline *o, struct volume *v)
{
	char err[512];
	int ret;

	if (o->user) {
		ret = nb_volume_give_state(v, o->uid, o->gid, err, sizeof(err));
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s: cannot run as user '%s': %s",
				nb_volume_name(v), o->user, err);
			return ret;
		}
	}
	ret = nb_privs_drop(o->user, err, sizeof(err));
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "%s: cannot drop privileges: %s", nb_volume_name(v),
			err);
		return ret;
	}
	nb_log_msg(LOG_NOTICE, "%s: privileges dropped%s%s: keeping CAP_NET_ADMIN "
		"only", nb_volume_name(v), o->user ? ", running as " : "",
		o->user ? o->user : "");
	return 0;
}

static int main_run(struct cmdline *o)
{
	struct volume_config cfg = o->cfg;
	ev_signal sigint, sigterm, sigusr1, sighup;
	char suites[TLS_SUITES_LIST_LEN], desc[512];
	struct main_metrics mm = { 0 };
	struct ev_loop *loop;
	char err[512], line[PATH_MAX + 8];
	struct volume *v;
	int ret;

	if (!cfg.tls_ciphersuites) {
		nb_tls_suites_default(suites, sizeof(suites), desc, sizeof(desc));
		nb_log_msg(LOG_INFO, "TLS 1.3 cipher suites, fastest on this CPU "
			"first: %s", desc);
		cfg.tls_ciphersuites = suites;
	}

	loop = ev_default_loop(EVFLAG_SIGNALFD);
	if (!loop)
		return -ENOMEM;
	nb_privs_will_switch_user(o->user != NULL);	/* before any thread */
	v = nb_volume_start(loop, &cfg, err, sizeof(err));
	if (!v)
		return -errno;
	if (o->pid_file)
		main_write_pid_file(o->pid_file);
	ret = main_drop_privs(o, v);
	/* After the drop: the server's thread, which reads from the
	 * network, starts with the capabilities this thread kept. */
	if (ret == 0 && o->metrics) {
		mm.srv = nb_metrics_start(o->metrics, err, sizeof(err));
		if (!mm.srv) {
			nb_log_msg(LOG_ERR, "%s: cannot serve metrics: %s",
				nb_volume_name(v), err);
			ret = -EINVAL;
		}
	}
	if (ret < 0) {
		nb_volume_stop(v, false);
		if (o->pid_file)
			unlink(o->pid_file);
		return ret;
	}
	if (mm.srv) {
		mm.v = v;
		mm.volume = cfg.volume;
		main_metrics_publish(&mm);
		ev_timer_init(&mm.timer, main_metrics_cb,
			      METRICS_PUBLISH_SECONDS, METRICS_PUBLISH_SECONDS);
		mm.timer.data = &mm;
		ev_timer_start(loop, &mm.timer);
	}
	snprintf(line, sizeof(line), "%s\n", nb_volume_node(v));
	main_report(line);
	main_report("ok\n");
	main_report_done();
	if (!o->foreground) {
		nb_log_use_syslog();
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
	snprintf(line, sizeof(line), "serving volume %s as %s", cfg.volume,
		 nb_volume_node(v));
	nb_notify_ready(line);
	nb_notify_watchdog_start(loop);
	ev_run(loop, 0);

	nb_notify_watchdog_stop(loop);
	nb_notify_stopping(main_last_signal == SIGUSR1 ?
			   "leaving the disk attached for the next daemon" :
			   "stopping: detaching the disk");
	if (mm.srv)
		ev_timer_stop(loop, &mm.timer);
	nb_metrics_stop(mm.srv);
	ret = nb_volume_stop(v, main_last_signal == SIGUSR1);
	if (o->pid_file && unlink(o->pid_file) < 0 && errno != ENOENT)
		nb_log_msg(LOG_WARNING, "cannot remove pid file %s: %s",
			o->pid_file, strerror(errno));
	return ret;
}

/*
 * Ignore SIGPIPE and block the signals the program handles: they reach
 * its main loop through a signalfd (libev), and every thread started
 * later inherits the mask.
 */
static void main_block_signals(void)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
}

int main(int argc, char **argv)
{
	struct cmdline o;
	int ret;

	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return nb_agent_status_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "agent") == 0) {
		main_block_signals();
		return nb_agent_main(argc - 1, argv + 1);
	}
	ret = nb_cmdline_parse(argc, argv, &o);
	if (ret != 0) {
		nb_cmdline_free(&o);
		return ret > 0 ? MAIN_EXIT_OK : MAIN_EXIT_USAGE;
	}
	nb_log_init("vduse-netblk", o.cfg.log_level);
	main_block_signals();
	if (!o.foreground)
		main_daemonize();

	ret = main_run(&o);
	main_report_done();
	nb_cmdline_free(&o);
	return ret < 0 ? MAIN_EXIT_FAIL : MAIN_EXIT_OK;
}
