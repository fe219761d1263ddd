/* SPDX-License-Identifier: MIT */
/* The server: listening socket, map file, connections, signals. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "errmsg.h"
#include "parse.h"
#include "tls.h"
#include "volume.h"

#define MOCK_ACCEPTS_PER_WAKE 16
#define MOCK_DEFAULT_CHUNK    "64M"

static bool mock_server_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

static void mock_server_format_peer(const struct sockaddr_storage *ss, char *buf,
				    size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

static int mock_server_listen(struct mock_server *srv, char *host, size_t hostlen)
{
	const char *listen_addr = srv->cfg->listen;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char port[8];
	int fd, r, one = 1;

	if (nb_split_host_port(listen_addr, host, hostlen, port, sizeof(port)) < 0) {
		mock_err("--listen %s: expected HOST:PORT or [IPV6]:PORT", listen_addr);
		return -EINVAL;
	}
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		mock_err("--listen %s: cannot resolve %s: %s", listen_addr, host,
			 gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		mock_err("--listen %s: socket: %s", listen_addr, strerror(errno));
		goto out_free_res;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		mock_err("--listen %s: cannot listen: %s", listen_addr, strerror(errno));
		goto out_close_fd;
	}
	if (!mock_server_is_loopback(res->ai_addr))
		mock_warn("--listen %s is not a loopback address: this mock has no access control beyond TLS client certificates",
			  listen_addr);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		r = -errno;
		mock_err("--listen %s: getsockname: %s", listen_addr, strerror(errno));
		goto out_close_fd;
	}
	srv->port = ss.ss_family == AF_INET ?
		    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	srv->listen_fd = fd;
	freeaddrinfo(res);
	return 0;

out_close_fd:
	close(fd);
out_free_res:
	freeaddrinfo(res);
	return r;
}

static int mock_server_write_port_file(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

int mock_server_map_reload(struct mock_server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg->map_path;
	uint64_t old = srv->node.map ? srv->node.map->epoch : 0;
	struct map *map = NULL;
	char why[256] = "";
	int r;

	if (!path)
		return nb_errf(err, errlen, -ENOENT,
			       "no map file (start with --map FILE)");
	r = nb_map_load_file(path, &map, why, sizeof(why));
	if (r == 0)
		r = nb_map_validate(map, why, sizeof(why));
	if (r < 0) {
		nb_map_free(map);
		return nb_errf(err, errlen, r, "cannot load map %s: %s", path,
			       why[0] ? why : strerror(-r));
	}
	if (srv->node.map && map->epoch < old)
		mock_warn("map %s: epoch goes back from %llu to %llu", path,
			  (unsigned long long)old, (unsigned long long)map->epoch);
	mock_node_set_map(&srv->node, map);
	mock_info("map loaded from %s: epoch %llu (was %llu), %u nodes, chunk size %llu",
		  path, (unsigned long long)map->epoch, (unsigned long long)old,
		  map->n_nodes, (unsigned long long)map->chunk_size);
	snprintf(err, errlen, "epoch %llu", (unsigned long long)map->epoch);
	return 0;
}

static int mock_server_self_map(struct mock_server *srv)
{
	char text[512 + MAP_ADDR_MAX];
	char why[256] = "";
	struct map *map = NULL;
	int r;

	snprintf(text, sizeof(text), "epoch 1\nchunk_size %s\nnode %s\n",
		 MOCK_DEFAULT_CHUNK, srv->node.node_addr);
	r = nb_map_parse(text, &map, why, sizeof(why));
	if (r < 0) {
		mock_err("cannot build a one-node map for %s: %s", srv->node.node_addr, why);
		return r;
	}
	mock_node_set_map(&srv->node, map);
	return 0;
}

static int mock_server_add_configured_volumes(struct mock_server *srv)
{
	const struct mock_config *cfg = srv->cfg;

	for (size_t i = 0; i < cfg->n_volumes; i++) {
		const struct mock_volume_spec *spec = &cfg->volumes[i];
		struct mock_volume *vol;
		int r;

		if (spec->path)
			vol = mock_volume_new_file(spec->name, spec->path, spec->size,
						   cfg->block_size, spec->read_only, false);
		else
			vol = mock_volume_new_memory(spec->name, spec->size,
						     cfg->block_size, spec->read_only);
		if (!vol) {
			mock_err("--volume %s: cannot create %s%s: %s", spec->name,
				 spec->path ? "file " : "memory volume",
				 spec->path ? spec->path : "", strerror(errno));
			return -errno;
		}
		r = mock_node_add_volume(&srv->node, vol);
		if (r < 0) {
			mock_err("--volume %s: %s", spec->name,
				 r == -EEXIST ? "name given twice" : strerror(-r));
			mock_volume_free(vol);
			return r;
		}
		mock_info("volume %s: %llu bytes, block size %u, %s%s%s", vol->name,
			  (unsigned long long)vol->size, vol->block_size,
			  vol->read_only ? "read-only, " : "",
			  vol->path ? "file " : "in memory", vol->path ? vol->path : "");
	}
	return 0;
}

void mock_server_release_stalled(struct mock_server *srv)
{
	struct mock_conn *conn = srv->conns;

	while (conn) {
		/* Releasing may close conn, which unlinks it: take next first. */
		struct mock_conn *next = conn->next;

		mock_conn_release_stalled(conn);
		conn = next;
	}
}

static void mock_server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mock_server *srv = w->data;

	for (int i = 0; i < MOCK_ACCEPTS_PER_WAKE; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		char peer[64];
		int fd, one = 1;

		fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sslen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Level-triggered: pause accepting instead of spinning. */
				mock_warn("accept: %s; pausing new connections for 1 s",
					  strerror(errno));
				ev_io_stop(loop, &srv->accept_watcher);
				ev_timer_set(&srv->accept_pause, 1., 0.);
				ev_timer_start(loop, &srv->accept_pause);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				mock_warn("accept: %s", strerror(errno));
			}
			return;
		}
		mock_server_format_peer(&ss, peer, sizeof(peer));
		if (srv->n_conns >= srv->cfg->max_connections) {
			mock_warn("client %s: refused, %zu connections open (--max-connections)",
				  peer, srv->n_conns);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!mock_conn_new(srv, fd, peer)) {
			mock_warn("client %s: cannot set up a connection: %s", peer,
				  strerror(errno));
			close(fd);
			continue;
		}
		srv->node.stats.connections++;
		mock_info("client %s: connected", peer);
	}
}

static void mock_server_accept_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mock_server *srv = w->data;

	ev_io_start(loop, &srv->accept_watcher);
}

/* Before the loop sleeps: flush batched replies, free closed connections. */
static void mock_server_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct mock_server *srv = w->data;
	struct mock_conn *conn;

	while ((conn = srv->dirty)) {
		srv->dirty = conn->dirty_next;
		conn->dirty = false;
		conn->dirty_next = NULL;
		mock_conn_flush(conn);
	}
	while ((conn = srv->dead)) {
		srv->dead = conn->next;
		mock_conn_free(conn);
	}
}

static void mock_server_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct mock_server *srv = w->data;
	char msg[512];

	if (w->signum == SIGHUP) {
		if (mock_server_map_reload(srv, msg, sizeof(msg)) < 0)
			mock_warn("SIGHUP: %s; keeping map epoch %llu", msg,
				  (unsigned long long)srv->node.map->epoch);
		return;
	}
	mock_info("signal %d: shutting down", w->signum);
	mock_server_quit(srv);
}

void mock_server_quit(struct mock_server *srv)
{
	srv->quitting = true;
	ev_break(srv->loop, EVBREAK_ALL);
}

int mock_server_init(struct mock_server *srv, struct ev_loop *loop,
		     const struct mock_config *cfg)
{
	char host[200], err[512];
	int r;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = cfg;
	srv->listen_fd = -1;
	mock_node_init(&srv->node, cfg);

	srv->ssl_ctx = mock_tls_ctx_new(cfg->cert, cfg->key, cfg->ca,
					cfg->tls_ciphersuites, err, sizeof(err));
	if (!srv->ssl_ctx) {
		mock_err("%s", err);
		return -EINVAL;
	}
	r = mock_server_listen(srv, host, sizeof(host));
	if (r < 0)
		goto out_fini;
	if (cfg->node)
		snprintf(srv->node.node_addr, sizeof(srv->node.node_addr), "%s", cfg->node);
	else if (strchr(host, ':'))
		snprintf(srv->node.node_addr, sizeof(srv->node.node_addr), "[%s]:%u", host, srv->port);
	else
		snprintf(srv->node.node_addr, sizeof(srv->node.node_addr), "%s:%u", host, srv->port);
	snprintf(srv->node.name, sizeof(srv->node.name), "%s", cfg->name ? cfg->name : srv->node.node_addr);
	nb_log_set_tag(srv->node.name);

	if (cfg->map_path) {
		r = mock_server_map_reload(srv, err, sizeof(err));
		if (r < 0) {
			mock_err("--map: %s", err);
			goto out_fini;
		}
	} else {
		r = mock_server_self_map(srv);
		if (r < 0)
			goto out_fini;
	}
	r = mock_server_add_configured_volumes(srv);
	if (r < 0)
		goto out_fini;
	if (cfg->control_path) {
		srv->control = mock_control_new(srv, cfg->control_path);
		if (!srv->control) {
			r = -errno;
			goto out_fini;
		}
	}

	ev_io_init(&srv->accept_watcher, mock_server_accept_cb, srv->listen_fd, EV_READ);
	srv->accept_watcher.data = srv;
	ev_io_start(loop, &srv->accept_watcher);
	ev_timer_init(&srv->accept_pause, mock_server_accept_resume_cb, 1., 0.);
	srv->accept_pause.data = srv;
	ev_prepare_init(&srv->prepare, mock_server_prepare_cb);
	srv->prepare.data = srv;
	ev_prepare_start(loop, &srv->prepare);
	ev_signal_init(&srv->sig_int, mock_server_signal_cb, SIGINT);
	ev_signal_init(&srv->sig_term, mock_server_signal_cb, SIGTERM);
	ev_signal_init(&srv->sig_hup, mock_server_signal_cb, SIGHUP);
	srv->sig_int.data = srv->sig_term.data = srv->sig_hup.data = srv;
	ev_signal_start(loop, &srv->sig_int);
	ev_signal_start(loop, &srv->sig_term);
	ev_signal_start(loop, &srv->sig_hup);
	signal(SIGPIPE, SIG_IGN);

	/* Last: a test polling for the port file may connect right away. */
	if (cfg->port_file) {
		r = mock_server_write_port_file(cfg->port_file, srv->port);
		if (r < 0) {
			mock_err("--port-file %s: %s", cfg->port_file, strerror(-r));
			goto out_fini;
		}
	}
	mock_info("listening on %s port %u as node %s (map epoch %llu, %zu volumes)",
		  cfg->listen, srv->port, srv->node.node_addr,
		  (unsigned long long)srv->node.map->epoch, srv->node.n_volumes);
	return 0;

out_fini:
	mock_server_fini(srv);
	return r;
}

void mock_server_fini(struct mock_server *srv)
{
	struct ev_loop *loop = srv->loop;
	struct mock_conn *conn;

	while (srv->conns)
		mock_conn_close(srv->conns, false);
	while ((conn = srv->dead)) {
		srv->dead = conn->next;
		mock_conn_free(conn);
	}
	srv->dirty = NULL;
	mock_control_free(srv->control);
	srv->control = NULL;
	if (ev_is_active(&srv->accept_watcher))
		ev_io_stop(loop, &srv->accept_watcher);
	if (ev_is_active(&srv->accept_pause))
		ev_timer_stop(loop, &srv->accept_pause);
	if (ev_is_active(&srv->prepare))
		ev_prepare_stop(loop, &srv->prepare);
	if (ev_is_active(&srv->sig_int)) {
		ev_signal_stop(loop, &srv->sig_int);
		ev_signal_stop(loop, &srv->sig_term);
		ev_signal_stop(loop, &srv->sig_hup);
	}
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
	mock_node_fini(&srv->node);
	SSL_CTX_free(srv->ssl_ctx);
	srv->ssl_ctx = NULL;
}
