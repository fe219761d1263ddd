/* SPDX-License-Identifier: MIT */
/* netblk-node: configuration, backend, the node core and its loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "node.h"
#include "notify.h"

/* Refuse unreadable inputs before anything starts, naming the setting. */
static int node_check_files(const struct node_config *cfg)
{
	const struct { const char *key, *path; } files[] = {
		{ "cert", cfg->srv.cert }, { "key", cfg->srv.key }, { "ca", cfg->srv.ca },
		{ "map", cfg->srv.map_path }, { "rados-conf", cfg->rados_conf },
		{ "rados-keyring", cfg->rados_keyring },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].path && access(files[i].path, R_OK) < 0) {
			fprintf(stderr, "%s: %s %s: cannot read: %s\n", NODE_PROG,
				files[i].key, files[i].path, strerror(errno));
			return -errno;
		}
	}
	if (cfg->dir && (stat(cfg->dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "%s: dir %s: not a directory\n", NODE_PROG, cfg->dir);
		return -ENOTDIR;
	}
	return 0;
}

static struct nb_store *node_store_new(const struct node_config *cfg)
{
	struct nb_store *st;
	char err[512];

	switch (cfg->backend) {
	case NODE_BACKEND_FILE:
		st = nb_store_file_new(cfg->dir, true, cfg->sync_threads, err, sizeof(err));
		if (!st)
			nb_log_msg(LOG_ERR, "backend file: %s", err);
		return st;
	case NODE_BACKEND_RADOS: {
		struct nb_store_rados_conf rc = {
			.pool = cfg->rados_pool,
			.conf_path = cfg->rados_conf,
			.client_id = cfg->rados_user,
			.keyring = cfg->rados_keyring,
			.connect_timeout_s = cfg->rados_connect_timeout,
			.op_timeout_s = cfg->rados_op_timeout,
		};

		st = nb_store_rados_new(&rc, err, sizeof(err));
		if (!st)
			nb_log_msg(LOG_ERR, "backend rados (pool %s): %s", cfg->rados_pool, err);
		return st;
	}
	default:
		return NULL;
	}
}

static void node_stats_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct nb_srv *srv = t->data;
	char text[1024];

	nb_srv_stats_text(srv, text, sizeof(text));
	nb_log_msg(LOG_INFO, "stats: %s", text);
}

int main(int argc, char **argv)
{
	struct node_config cfg;
	struct ev_loop *loop;
	struct nb_store *store;
	struct nb_srv *srv;
	ev_timer stats_timer;
	char text[1024];
	int r, status = 0;

	r = nb_node_config_load(argc, argv, &cfg);
	if (r != 0) {
		nb_node_config_free(&cfg);
		return r > 0 ? 0 : NODE_EXIT_USAGE;
	}
	if (cfg.check_only) {
		nb_node_config_print(&cfg);
		nb_node_config_free(&cfg);
		return 0;
	}
	nb_log_init(NODE_PROG, cfg.log_level);
	nb_log_set_style(LOG_STYLE_TIME_TAG);
	nb_log_set_tag(NODE_PROG);
	if (node_check_files(&cfg) < 0) {
		nb_node_config_free(&cfg);
		return NODE_EXIT_RUNTIME;
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		fprintf(stderr, "%s: cannot create the event loop\n", NODE_PROG);
		nb_node_config_free(&cfg);
		return NODE_EXIT_RUNTIME;
	}
	store = node_store_new(&cfg);
	if (!store) {
		nb_node_config_free(&cfg);
		return NODE_EXIT_RUNTIME;
	}
	srv = nb_srv_new(loop, &cfg.srv, store);
	if (!srv) {
		nb_node_config_free(&cfg);
		return NODE_EXIT_RUNTIME;
	}
	if (cfg.port_file) {
		r = nb_srv_write_port_file(cfg.port_file, nb_srv_port(srv));
		if (r < 0) {
			nb_log_msg(LOG_ERR, "port-file %s: %s", cfg.port_file, strerror(-r));
			status = NODE_EXIT_RUNTIME;
			goto out_free;
		}
	}
	nb_log_msg(LOG_INFO, "listening on %s port %u as node %s (map epoch %llu), backend %s%s%s%s%s, %u I/O threads, writes %s",
		   cfg.srv.listen, nb_srv_port(srv), nb_srv_node_addr(srv),
		   (unsigned long long)nb_srv_map_epoch(srv), nb_node_backend_name(cfg.backend),
		   cfg.dir ? " " : "", cfg.dir ? cfg.dir : "",
		   cfg.rados_pool ? " pool " : "", cfg.rados_pool ? cfg.rados_pool : "",
		   cfg.srv.threads,
		   store->writes_durable ? "durable when acknowledged" : "durable after FLUSH or FUA");
	if (cfg.stats_interval > 0) {
		ev_timer_init(&stats_timer, node_stats_cb, cfg.stats_interval,
			      cfg.stats_interval);
		stats_timer.data = srv;
		ev_timer_start(loop, &stats_timer);
	}
	nb_notify_ready("serving");
	nb_notify_status("listening on port %u as node %s, map epoch %llu, backend %s",
			 nb_srv_port(srv), nb_srv_node_addr(srv),
			 (unsigned long long)nb_srv_map_epoch(srv),
			 nb_node_backend_name(cfg.backend));
	nb_notify_watchdog_start(loop);
	if (nb_srv_run(srv) < 0)
		status = NODE_EXIT_RUNTIME;
	nb_notify_watchdog_stop(loop);
	nb_notify_stopping("exiting");
	if (cfg.stats_interval > 0)
		ev_timer_stop(loop, &stats_timer);
	nb_srv_stats_text(srv, text, sizeof(text));
	nb_log_msg(LOG_INFO, "exiting: %s", text);
out_free:
	nb_srv_free(srv);
	nb_node_config_free(&cfg);
	return status;
}
