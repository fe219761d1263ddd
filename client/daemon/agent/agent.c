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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "agent.h"
#include "agent_priv.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "tls_suites.h"

#define AGENT_RETRY_SECONDS    10.0

/* ---- attach / detach ---- */

static struct agent_vol *agent_find(struct agent *a, const char *name)
{
	struct agent_vol *av;

	for (av = a->vols; av; av = av->next)
		if (strcmp(av->name, name) == 0)
			return av;
	return NULL;
}

/*
 * RUN/agent.heartbeat, rewritten by the loop every
 * AGENT_HEARTBEAT_SECONDS: vduse-netblk status reads it to tell an agent
 * whose loop answers from one that is stuck or gone.
 */
static void agent_heartbeat(struct agent *a)
{
	char path[PATH_MAX], text[128];

	snprintf(path, sizeof(path), "%s/" AGENT_HEARTBEAT_FILE, a->run_dir);
	snprintf(text, sizeof(text), "pid=%d\nupdated=%lld\n", (int)getpid(),
		 (long long)time(NULL));
	if (nb_agent_write_file(path, text) < 0)
		nb_log_msg(LOG_WARNING, "cannot write %s: %s", path,
			strerror(errno));
}

static void agent_heartbeat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	agent_heartbeat(t->data);
}

/*
 * Attaching blocks the loop (connect_timeout, then the wait for the
 * disk): after each, say the agent is alive and publish what changed.
 */
static void agent_alive(struct agent *a)
{
	agent_heartbeat(a);
	nb_agent_metrics_publish(a);
}

static void agent_start_vol(struct agent *a, struct agent_vol *av,
			    const char *text)
{
	const char *nodes[SPEC_MAX_NODES];
	struct volume_config cfg;
	char path[PATH_MAX], why[256];
	size_t i;

	for (i = 0; i < av->spec.n_nodes; i++)
		nodes[i] = av->spec.nodes[i];
	nb_options_defaults(&cfg);
	cfg.nodes = nodes;
	cfg.n_nodes = av->spec.n_nodes;
	cfg.volume = av->spec.volume;
	cfg.name = av->spec.name;
	cfg.ca = av->spec.ca;
	cfg.cert = av->spec.cert;
	cfg.key = av->spec.key;
	cfg.tls_name = av->spec.tls_name[0] ? av->spec.tls_name : NULL;
	cfg.tls_ciphersuites = av->spec.tls_ciphersuites[0] ?
			       av->spec.tls_ciphersuites : NULL;
	cfg.mgmtdev = av->spec.mgmtdev[0] ? av->spec.mgmtdev : NULL;
	cfg.state_dir = a->run_dir;
	cfg.queues = av->spec.queues;
	cfg.queue_size = av->spec.queue_size;
	cfg.read_only = av->spec.read_only;
	cfg.break_lock = av->spec.break_lock;
	cfg.break_lock_hint = "break_lock=true in the spec";
	cfg.lock_owner = av->spec.lock_owner[0] ? av->spec.lock_owner : NULL;
	cfg.io_timeout = av->spec.io_timeout;
	cfg.connect_timeout = a->connect_timeout;
	cfg.log_level = a->log_level;
	if (cfg.tls_ciphersuites &&
	    nb_tls_suites_check(cfg.tls_ciphersuites, why, sizeof(why)) < 0) {
		snprintf(av->message, sizeof(av->message),
			 "tls_ciphersuites '%.200s': %s", cfg.tls_ciphersuites,
			 why);
		av->v = NULL;
	} else {
		av->v = nb_volume_start(a->loop, &cfg, av->message,
				     sizeof(av->message));
	}
	if (av->v) {
		snprintf(av->message, sizeof(av->message), "%s %s",
			 nb_volume_took_over(av->v) ? "took over" : "attached as",
			 nb_volume_node(av->v));
		nb_agent_link(a, av, true);
		/* The spec as attached, to clean up if it vanishes while no
		 * agent runs. */
		nb_agent_path(path, sizeof(path), a->run_dir, av->spec.name,
			   ".agent-spec");
		if (text)
			nb_agent_write_file(path, text);
		nb_log_msg(LOG_NOTICE, "%s: volume %s %s", av->name,
			av->spec.volume, av->message);
	} else {
		nb_log_msg(LOG_ERR, "%s: volume %s not attached: %s", av->name,
			av->spec.volume, av->message);
	}
	nb_agent_write_status(a, av);
	agent_alive(a);
}

static void agent_stop_vol(struct agent *a, struct agent_vol *av, bool leave)
{
	char path[PATH_MAX];

	if (!av->v)
		return;
	if (!leave)
		nb_agent_link(a, av, false);
	nb_volume_stop(av->v, leave);
	av->v = NULL;
	if (!leave) {
		nb_agent_path(path, sizeof(path), a->run_dir, av->spec.name,
			   ".agent-spec");
		unlink(path);
		nb_log_msg(LOG_NOTICE, "%s: volume %s detached", av->name,
			av->spec.volume);
	}
}

/*
 * May av's disk be detached? Not while it is in use, unless forced: by
 * force_detach=true in the new spec, or a file SPEC_DIR/NAME.force made
 * while the change waits (removed once used; one older than the wait is
 * stale: removed and ignored, so that a forgotten file never lets a later
 * change detach a disk in use). why says what holds it.
 */
static bool agent_may_detach(struct agent *a, struct agent_vol *av,
			     bool spec_force, char *why, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	bool forced = spec_force;

	if (!av->v || !nb_agent_disk_in_use(nb_volume_node(av->v), why, len)) {
		av->held_since = 0;
		return true;
	}
	nb_agent_path(path, sizeof(path), a->spec_dir, av->name, ".force");
	if (stat(path, &st) == 0) {
		if (av->held_since && st.st_mtime >= av->held_since) {
			forced = true;
		} else {
			nb_log_msg(LOG_NOTICE, "%s: ignoring %s: it was made before "
				"this change waited for the disk", av->name, path);
			unlink(path);
		}
	}
	if (!forced)
		return false;
	nb_log_msg(LOG_WARNING, "%s: %s is %s: detaching anyway (forced by %s)",
		av->name, nb_volume_node(av->v), why,
		spec_force ? "force_detach=true" : path);
	if (!spec_force)
		unlink(path);
	av->held_since = 0;
	return true;
}

/* Keep av attached as it is; say why in its status, and in the log
 * unless it was waiting already (the retry every 10 s stays quiet). */
static void agent_hold(struct agent *a, struct agent_vol *av, bool removed,
		       const char *why, bool was)
{
	av->removed = removed;
	av->held = !removed;
	if (!was || !av->held_since)
		av->held_since = time(NULL);
	snprintf(av->message, sizeof(av->message), "%s, but %s is %.200s: left "
		 "attached%s; unmount or close it, or create %.100s.force to "
		 "detach anyway", removed ? "spec removed" : "spec changed",
		 nb_volume_node(av->v), why,
		 removed ? "" : " with the previous spec", av->name);
	if (!was)
		nb_log_msg(LOG_WARNING, "%s: %s", av->name, av->message);
	nb_agent_write_status(a, av);
}

/*
 * A change that the attached volume can take without a detach: only
 * io_timeout differs. Applied, true; otherwise false.
 */
static bool agent_apply_live(struct agent *a, struct agent_vol *av,
			     const struct spec *spec)
{
	struct spec tmp = *spec;

	tmp.io_timeout = av->spec.io_timeout;
	if (!nb_spec_equal(&av->spec, &tmp) ||
	    nb_volume_set_io_timeout(av->v, spec->io_timeout) < 0)
		return false;
	nb_log_msg(LOG_NOTICE, "%s: io_timeout changed from %g to %g s, "
		"applied without a detach", av->name, av->spec.io_timeout,
		spec->io_timeout);
	av->spec = *spec;
	snprintf(av->message, sizeof(av->message), "attached as %s; "
		 "io_timeout %g s applied live", nb_volume_node(av->v),
		 spec->io_timeout);
	nb_agent_write_status(a, av);
	return true;
}

/* Spec file NAME.spec was written: attach, re-attach, or report. */
void nb_agent_spec_changed(struct agent *a, const char *name)
{
	struct agent_vol *av = agent_find(a, name);
	char path[PATH_MAX], err[512];
	struct spec spec;
	bool waiting;
	char *text;
	int ret;

	if (!nb_spec_name_ok(name)) {
		nb_log_msg(LOG_WARNING, "ignoring spec '%s': not a usable name",
			name);
		return;
	}
	nb_agent_path(path, sizeof(path), a->spec_dir, name, ".spec");
	text = nb_agent_read_file(path);
	if (!text)
		return;	/* gone again, or unreadable: the delete event follows */
	ret = nb_spec_parse(text, name, &a->defaults, &spec, err, sizeof(err));
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
	/* The spec is back (if it was removed); a change held back is
	 * replaced by this one. */
	waiting = av->removed || av->held;
	av->removed = av->held = false;
	if (ret < 0) {
		/* A bad rewrite leaves a working attachment alone. */
		snprintf(av->message, sizeof(av->message), "bad spec %.100s: %.380s",
			 path, err);
		nb_log_msg(LOG_ERR, "%s", av->message);
		if (!av->v)
			av->parsed = false;
		nb_agent_write_status(a, av);
		free(text);
		return;
	}
	if (av->v && nb_spec_equal(&av->spec, &spec)) {
		if (waiting) {
			/* Back as it was attached: nothing waits any more. */
			av->held_since = 0;
			snprintf(av->message, sizeof(av->message), "attached as %s",
				 nb_volume_node(av->v));
			nb_agent_write_status(a, av);
		}
		av->spec.break_lock = spec.break_lock;
		av->spec.force_detach = spec.force_detach;
		free(text);
		return;
	}
	if (av->v && agent_apply_live(a, av, &spec)) {
		free(text);
		return;
	}
	if (av->v && !agent_may_detach(a, av, spec.force_detach, err,
				       sizeof(err))) {
		agent_hold(a, av, false, err, waiting);
		free(text);
		return;
	}
	av->removed = av->held = false;
	if (av->v)
		nb_log_msg(LOG_NOTICE, "%s: spec changed, re-attaching", name);
	agent_stop_vol(a, av, false);
	av->spec = spec;
	av->parsed = true;
	agent_start_vol(a, av, text);
	free(text);
}

void nb_agent_spec_removed(struct agent *a, const char *name)
{
	struct agent_vol *av = agent_find(a, name), **pp;
	char path[PATH_MAX];

	char why[256];

	if (!av)
		return;
	if (!agent_may_detach(a, av, false, why, sizeof(why))) {
		agent_hold(a, av, true, why, av->removed || av->held);
		return;
	}
	agent_stop_vol(a, av, false);
	nb_agent_path(path, sizeof(path), a->status_dir, name, ".status");
	unlink(path);
	for (pp = &a->vols; *pp; pp = &(*pp)->next) {
		if (*pp == av) {
			*pp = av->next;
			break;
		}
	}
	free(av);
}

/* What `systemctl status` shows: how many specs are served. */
static void agent_notify_status(struct agent *a, bool ready)
{
	unsigned int specs = 0, served = 0;
	struct agent_vol *av;
	char status[256];

	for (av = a->vols; av; av = av->next) {
		specs++;
		served += av->v != NULL;
	}
	snprintf(status, sizeof(status), "%u of %u volumes served (specs in %s)",
		 served, specs, a->spec_dir);
	if (ready)
		nb_notify_ready(status);
	else
		nb_notify_status("%s", status);
}

/*
 * Specs that parsed but did not attach (cluster down...): try again.
 * Changes that waited for a disk in use: try them again too.
 */
static void agent_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct agent *a = t->data;
	struct agent_vol *av, *next;

	for (av = a->vols; av; av = next) {
		next = av->next;	/* av may be freed */
		if (av->removed)
			nb_agent_spec_removed(a, av->name);
		else if (av->held || (av->parsed && !av->v))
			nb_agent_spec_changed(a, av->name);
	}
	agent_notify_status(a, false);
}

/* A force file appeared: apply what waits for it now. */
void nb_agent_force(struct agent *a, const char *name)
{
	struct agent_vol *av = agent_find(a, name);

	char path[PATH_MAX];

	if (av && av->removed) {
		nb_agent_spec_removed(a, name);
	} else if (av && av->held) {
		nb_agent_spec_changed(a, name);
	} else {
		/* Nothing waits: a force file now would linger and let a
		 * later change detach a disk in use without anyone asking. */
		nb_agent_path(path, sizeof(path), a->spec_dir, name, ".force");
		if (unlink(path) == 0)
			nb_log_msg(LOG_NOTICE, "%s: removed %s: no change of %s "
				"waits for its disk", name, path, name);
	}
}

/* At start: attach every spec; clean up devices whose spec is gone. */
static void agent_reconcile(struct agent *a)
{
	char name[SPEC_STR_MAX + 1], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	d = opendir(a->spec_dir);
	while (d && (de = readdir(d)))
		if (nb_agent_spec_name(de->d_name, name, sizeof(name)))
			nb_agent_spec_changed(a, name);
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
		nb_agent_path(path, sizeof(path), a->run_dir, de->d_name, "");
		text = nb_agent_read_file(path);
		if (!text || nb_spec_parse(text, tmp.name, &a->defaults,
					&tmp.spec, err, sizeof(err)) < 0) {
			free(text);
			continue;
		}
		nb_log_msg(LOG_NOTICE, "%s: spec removed while no agent ran: "
			"taking the device over to detach it", tmp.name);
		tmp.parsed = true;
		agent_start_vol(a, &tmp, NULL);
		if (!agent_may_detach(a, &tmp, false, err, sizeof(err))) {
			/* In use: keep it, as for a spec removed now. */
			av = malloc(sizeof(*av));
			if (av) {
				*av = tmp;
				av->next = a->vols;
				a->vols = av;
				agent_hold(a, av, true, err, false);
				free(text);
				continue;
			}
		}
		agent_stop_vol(a, &tmp, false);
		nb_agent_path(path, sizeof(path), a->status_dir, tmp.name,
			   ".status");
		unlink(path);
		free(text);
	}
	if (d)
		closedir(d);
}

/* ---- signals ---- */

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
			nb_volume_reload_tls(av->v);
}

int nb_agent_main(int argc, char **argv)
{
	struct agent a = { .inotify_fd = -1 };
	char path[PATH_MAX];
	ev_signal sigint, sigterm, sigusr1, sighup;
	struct agent_opts o;
	struct agent_vol *av;
	char err[512];
	int ret;

	ret = nb_agent_parse(argc, argv, &o);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	nb_log_init("vduse-netblk-agent", o.log_level);
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

		nb_tls_suites_default(a.defaults.tls_ciphersuites,
				   sizeof(a.defaults.tls_ciphersuites), desc,
				   sizeof(desc));
		nb_log_msg(LOG_INFO, "TLS 1.3 cipher suites, fastest on this CPU "
			"first: %s", desc);
	}
	a.loop = ev_default_loop(EVFLAG_SIGNALFD);
	mkdir(a.run_dir, 0755);
	ret = nb_agent_watch_start(&a);
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "cannot watch spec directory %s: %s",
			a.spec_dir, strerror(-ret));
		return 1;
	}
	if (a.metrics && nb_agent_metrics_start(&a, err, sizeof(err)) < 0) {
		nb_log_msg(LOG_ERR, "cannot serve metrics on %s: %s", a.metrics,
			err);
		return 1;
	}
	nb_log_msg(LOG_NOTICE, "agent: serving the specs in %s", a.spec_dir);
	agent_heartbeat(&a);
	agent_reconcile(&a);
	agent_alive(&a);
	ev_timer_init(&a.retry_timer, agent_retry_cb, AGENT_RETRY_SECONDS,
		      AGENT_RETRY_SECONDS);
	a.retry_timer.data = &a;
	ev_timer_start(a.loop, &a.retry_timer);
	ev_timer_init(&a.heartbeat_timer, agent_heartbeat_cb, 0.0,
		      AGENT_HEARTBEAT_SECONDS);
	a.heartbeat_timer.data = &a;
	ev_timer_start(a.loop, &a.heartbeat_timer);
	ev_signal_init(&sigint, agent_signal_cb, SIGINT);
	ev_signal_init(&sigterm, agent_signal_cb, SIGTERM);
	ev_signal_init(&sigusr1, agent_signal_cb, SIGUSR1);
	ev_signal_init(&sighup, agent_hup_cb, SIGHUP);
	sighup.data = &a;
	ev_signal_start(a.loop, &sigusr1);
	ev_signal_start(a.loop, &sigint);
	ev_signal_start(a.loop, &sigterm);
	ev_signal_start(a.loop, &sighup);
	agent_notify_status(&a, true);
	nb_notify_watchdog_start(a.loop);
	ev_run(a.loop, 0);
	nb_notify_watchdog_stop(a.loop);
	nb_notify_stopping("leaving the disks attached for the next agent");

	nb_log_msg(LOG_NOTICE, "agent: signal %d, leaving the devices attached "
		"for the next agent", agent_last_signal);
	while ((av = a.vols)) {
		a.vols = av->next;
		agent_stop_vol(&a, av, true);
		free(av);
	}
	nb_agent_metrics_stop(&a);
	nb_agent_watch_stop(&a);
	snprintf(path, sizeof(path), "%s/" AGENT_HEARTBEAT_FILE, a.run_dir);
	unlink(path);
	return 0;
}
