/* SPDX-License-Identifier: MIT */
/*
 * The server (srv.h): listening socket, map file, I/O threads and the
 * hand-over of connections to them, signals, counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "parse.h"
#include "srv_conn.h"
#include "srv_tls.h"

#define SRV_ACCEPTS_PER_WAKE 16
#define SRV_DEFAULT_CHUNK    "64M"

static bool srv_is_loopback(const struct sockaddr *sa)
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

static void srv_format_peer(const struct sockaddr_storage *ss, char *buf,
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

static int srv_listen(struct nb_srv *srv, char *host, size_t hostlen)
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
		srv_err("--listen %s: expected HOST:PORT or [IPV6]:PORT", listen_addr);
		return -EINVAL;
	}
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		srv_err("--listen %s: cannot resolve %s: %s", listen_addr, host,
			 gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		srv_err("--listen %s: socket: %s", listen_addr, strerror(errno));
		goto out_free_res;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		srv_err("--listen %s: cannot listen: %s", listen_addr, strerror(errno));
		goto out_close_fd;
	}
	if (!srv_is_loopback(res->ai_addr) && srv->cfg->not_loopback_warning)
		srv_warn("--listen %s %s", listen_addr, srv->cfg->not_loopback_warning);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		r = -errno;
		srv_err("--listen %s: getsockname: %s", listen_addr, strerror(errno));
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

int nb_srv_write_port_file(const char *path, uint16_t port)
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

int nb_srv_map_reload(struct nb_srv *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg->map_path;
	uint64_t old = nb_srv_map_epoch(srv);
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
	if (old && map->epoch < old)
		srv_warn("map %s: epoch goes back from %llu to %llu", path,
			  (unsigned long long)old, (unsigned long long)map->epoch);
	r = nb_srv_set_map(srv, map);
	if (r < 0)
		return nb_errf(err, errlen, r, "cannot load map %s: %s", path,
			       strerror(-r));
	map = nb_srv_map_get(srv)->map;
	srv_info("map loaded from %s: epoch %llu (was %llu), %u nodes, chunk size %llu",
		  path, (unsigned long long)map->epoch, (unsigned long long)old,
		  map->n_nodes, (unsigned long long)map->chunk_size);
	snprintf(err, errlen, "epoch %llu", (unsigned long long)map->epoch);
	return 0;
}

static int srv_self_map(struct nb_srv *srv)
{
	char text[512 + MAP_ADDR_MAX];
	char why[256] = "";
	struct map *map = NULL;
	int r;

	snprintf(text, sizeof(text), "epoch 1\nchunk_size %s\nnode %s\n",
		 SRV_DEFAULT_CHUNK, srv->node_addr);
	r = nb_map_parse(text, &map, why, sizeof(why));
	if (r < 0) {
		srv_err("cannot build a one-node map for %s: %s", srv->node_addr, why);
		return r;
	}
	return nb_srv_set_map(srv, map);
}

/* ---- I/O threads ---- */

struct srv_worker *nb_srv_worker_self(struct nb_srv *srv)
{
	for (unsigned i = 0; i < srv->n_workers; i++)
		if (pthread_equal(pthread_self(), srv->workers[i].thread))
			return &srv->workers[i];
	return NULL;
}

/* The socket was counted in w->n_conns by the hand-over. */
static void srv_worker_new_conn(struct srv_worker *w, int fd, const char *peer)
{
	if (!nb_srv_conn_new(w, fd, peer)) {
		srv_warn("client %s: cannot set up a connection: %s", peer,
			 strerror(errno));
		close(fd);
		__atomic_fetch_sub(&w->n_conns, 1, __ATOMIC_RELAXED);
	}
}

/* Free closed connections that have no request left with the store. */
static void srv_worker_reap(struct srv_worker *w)
{
	struct srv_conn **pp = &w->dead, *conn;

	while ((conn = *pp)) {
		if (conn->n_inflight > 0) {
			pp = &conn->next;
			continue;
		}
		*pp = conn->next;
		nb_srv_conn_free(conn);
	}
}

/* Before the loop sleeps: flush batched replies, free closed connections. */
static void srv_worker_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct srv_worker *w = p->data;
	struct srv_conn *conn;

	while ((conn = w->dirty)) {
		w->dirty = conn->dirty_next;
		conn->dirty = false;
		conn->dirty_next = NULL;
		nb_srv_conn_flush(conn);
	}
	srv_worker_reap(w);
}

static void srv_worker_close_all(struct srv_worker *w)
{
	while (w->conns)
		nb_srv_conn_close(w->conns, false);
	w->dirty = NULL;
}

/* Completions from other threads, connections handed over, stop. */
static void srv_worker_wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct srv_worker *w = a->data;
	struct nb_store_io *done, *io;
	struct srv_handoff *hand, *h;
	bool stop;

	pthread_mutex_lock(&w->lock);
	done = w->done_head;
	w->done_head = w->done_tail = NULL;
	hand = w->handoffs;
	w->handoffs = NULL;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);

	while ((io = done)) {
		done = io->store_next;
		nb_srv_request_done((struct srv_req *)io);
	}
	while ((h = hand)) {
		hand = h->next;
		if (stop || w->stopping) {
			close(h->fd);
			__atomic_fetch_sub(&w->n_conns, 1, __ATOMIC_RELAXED);
		} else
			srv_worker_new_conn(w, h->fd, h->peer);
		free(h);
	}
	if (stop && !w->stopping) {
		w->stopping = true;
		srv_worker_close_all(w);
	}
	if (w->stopping) {
		srv_worker_reap(w);
		if (!w->conns && !w->dead)
			ev_break(loop, EVBREAK_ALL);
	}
}

static void *srv_worker_main(void *arg)
{
	struct srv_worker *w = arg;
	char tag[300];

	w->thread = pthread_self();
	snprintf(tag, sizeof(tag), "netblk-io%u", w->index);
	pthread_setname_np(pthread_self(), tag);
	ev_run(w->loop, 0);
	/* Stopping: wait for the store to give back every request. */
	while (w->dead) {
		srv_worker_reap(w);
		if (w->dead)
			ev_run(w->loop, EVRUN_ONCE);
	}
	return NULL;
}

static int srv_worker_init(struct nb_srv *srv, struct srv_worker *w, unsigned index)
{
	w->srv = srv;
	w->index = index;
	pthread_mutex_init(&w->lock, NULL);
	if (index == 0) {
		w->loop = srv->loop;
		w->thread = pthread_self();
	} else {
		w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
		if (!w->loop)
			return -ENOMEM;
		w->own_thread = true;
	}
	ev_async_init(&w->wake, srv_worker_wake_cb);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake);
	ev_prepare_init(&w->prepare, srv_worker_prepare_cb);
	w->prepare.data = w;
	ev_prepare_start(w->loop, &w->prepare);
	return 0;
}

static void srv_worker_fini(struct srv_worker *w)
{
	struct srv_handoff *h;

	if (!w->loop)
		return;
	ev_async_stop(w->loop, &w->wake);
	ev_prepare_stop(w->loop, &w->prepare);
	while ((h = w->handoffs)) {
		w->handoffs = h->next;
		close(h->fd);
		free(h);
	}
	if (w->own_thread)
		ev_loop_destroy(w->loop);
	w->loop = NULL;
	pthread_mutex_destroy(&w->lock);
}

/* The worker with the fewest connections. */
static struct srv_worker *srv_pick_worker(struct nb_srv *srv)
{
	struct srv_worker *best = &srv->workers[0];
	size_t least = __atomic_load_n(&best->n_conns, __ATOMIC_RELAXED);

	for (unsigned i = 1; i < srv->n_workers; i++) {
		size_t n = __atomic_load_n(&srv->workers[i].n_conns, __ATOMIC_RELAXED);

		if (n < least) {
			least = n;
			best = &srv->workers[i];
		}
	}
	return best;
}

static size_t srv_open_connections(struct nb_srv *srv)
{
	size_t n = 0;

	for (unsigned i = 0; i < srv->n_workers; i++)
		n += __atomic_load_n(&srv->workers[i].n_conns, __ATOMIC_RELAXED);
	return n;
}

static void srv_hand_over(struct nb_srv *srv, int fd, const char *peer)
{
	struct srv_worker *w = srv_pick_worker(srv);
	struct srv_handoff *h;

	/* Counted now so that a burst of accepts spreads over the threads. */
	__atomic_fetch_add(&w->n_conns, 1, __ATOMIC_RELAXED);
	if (w->index == 0) {
		srv_worker_new_conn(w, fd, peer);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		srv_warn("client %s: cannot set up a connection: %s", peer,
			 strerror(ENOMEM));
		close(fd);
		__atomic_fetch_sub(&w->n_conns, 1, __ATOMIC_RELAXED);
		return;
	}
	h->fd = fd;
	snprintf(h->peer, sizeof(h->peer), "%s", peer);
	pthread_mutex_lock(&w->lock);
	h->next = w->handoffs;
	w->handoffs = h;
	pthread_mutex_unlock(&w->lock);
	ev_async_send(w->loop, &w->wake);
}

static void srv_accept_cb(struct ev_loop *loop, ev_io *watcher, int revents)
{
	struct nb_srv *srv = watcher->data;

	for (int i = 0; i < SRV_ACCEPTS_PER_WAKE; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		char peer[64];
		size_t open;
		int fd, one = 1;

		fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sslen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Level-triggered: pause accepting instead of spinning. */
				srv_warn("accept: %s; pausing new connections for 1 s",
					 strerror(errno));
				ev_io_stop(loop, &srv->accept_watcher);
				ev_timer_set(&srv->accept_pause, 1., 0.);
				ev_timer_start(loop, &srv->accept_pause);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				srv_warn("accept: %s", strerror(errno));
			}
			return;
		}
		srv_format_peer(&ss, peer, sizeof(peer));
		open = srv_open_connections(srv);
		if (open >= srv->cfg->max_connections) {
			srv_warn("client %s: refused, %zu connections open (--max-connections)",
				 peer, open);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		__atomic_fetch_add(&srv->connections, 1, __ATOMIC_RELAXED);
		srv_info("client %s: connected", peer);
		srv_hand_over(srv, fd, peer);
	}
}

static void srv_accept_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct nb_srv *srv = t->data;

	ev_io_start(loop, &srv->accept_watcher);
}

/* ---- counters ---- */

void nb_srv_get_stats(struct nb_srv *srv, struct nb_srv_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < srv->n_workers; i++) {
		const struct nb_srv_stats *s = &srv->workers[i].stats;

#define SRV_ADD(f) out->f += __atomic_load_n(&s->f, __ATOMIC_RELAXED)
		SRV_ADD(requests);
		SRV_ADD(reads);
		SRV_ADD(writes);
		SRV_ADD(flushes);
		SRV_ADD(fua);
		SRV_ADD(discards);
		SRV_ADD(write_zeroes);
		SRV_ADD(not_owner);
		SRV_ADD(bytes_read);
		SRV_ADD(bytes_written);
		SRV_ADD(inflight);
		SRV_ADD(fenced);
#undef SRV_ADD
	}
	out->connections = __atomic_load_n(&srv->connections, __ATOMIC_RELAXED);
	out->open_connections = srv_open_connections(srv);
	out->map_epoch = nb_srv_map_epoch(srv);
}

void nb_srv_stats_text(struct nb_srv *srv, char *buf, size_t len)
{
	struct nb_srv_stats s;

	nb_srv_get_stats(srv, &s);
	snprintf(buf, len,
		 "connections=%llu open_connections=%llu requests=%llu reads=%llu writes=%llu "
		 "flushes=%llu fua=%llu discards=%llu write_zeroes=%llu not_owner=%llu "
		 "bytes_read=%llu bytes_written=%llu inflight=%llu map_epoch=%llu fenced=%llu",
		 (unsigned long long)s.connections, (unsigned long long)s.open_connections,
		 (unsigned long long)s.requests, (unsigned long long)s.reads,
		 (unsigned long long)s.writes, (unsigned long long)s.flushes,
		 (unsigned long long)s.fua, (unsigned long long)s.discards,
		 (unsigned long long)s.write_zeroes, (unsigned long long)s.not_owner,
		 (unsigned long long)s.bytes_read, (unsigned long long)s.bytes_written,
		 (unsigned long long)s.inflight, (unsigned long long)s.map_epoch,
		 (unsigned long long)s.fenced);
	if (srv->store->ops->stats)
		srv->store->ops->stats(srv->store, buf, len);
}

/* ---- life cycle ---- */

static void srv_signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct nb_srv *srv = sig->data;
	char msg[1024];

	if (sig->signum == SIGHUP) {
		if (nb_srv_map_reload(srv, msg, sizeof(msg)) < 0)
			srv_warn("SIGHUP: %s; keeping map epoch %llu", msg,
				 (unsigned long long)nb_srv_map_epoch(srv));
		return;
	}
	if (sig->signum == SIGUSR1) {
		nb_srv_stats_text(srv, msg, sizeof(msg));
		srv_info("stats: %s", msg);
		return;
	}
	srv_info("signal %d: shutting down", sig->signum);
	nb_srv_quit(srv);
}

void nb_srv_quit(struct nb_srv *srv)
{
	srv->quitting = true;
	ev_break(srv->loop, EVBREAK_ALL);
}

bool nb_srv_quitting(const struct nb_srv *srv)
{
	return srv->quitting;
}

struct ev_loop *nb_srv_loop(const struct nb_srv *srv)
{
	return srv->loop;
}

uint16_t nb_srv_port(const struct nb_srv *srv)
{
	return srv->port;
}

const char *nb_srv_name(const struct nb_srv *srv)
{
	return srv->name;
}

const char *nb_srv_node_addr(const struct nb_srv *srv)
{
	return srv->node_addr;
}

struct nb_store *nb_srv_store(const struct nb_srv *srv)
{
	return srv->store;
}

struct ev_loop *nb_srv_io_loop(const struct nb_store_io *io)
{
	return ((const struct srv_req *)io)->conn->worker->loop;
}

const char *nb_srv_io_peer(const struct nb_store_io *io)
{
	return ((const struct srv_req *)io)->conn->peer;
}

uint64_t nb_srv_io_id(const struct nb_store_io *io)
{
	return ((const struct srv_req *)io)->id;
}

struct nb_srv *nb_srv_new(struct ev_loop *loop, const struct nb_srv_config *cfg,
			  struct nb_store *store)
{
	struct nb_srv *srv = calloc(1, sizeof(*srv));
	char host[200], err[512];
	unsigned threads = cfg->threads ? cfg->threads : 1;

	if (!srv) {
		srv_err("out of memory");
		nb_store_destroy(store);
		return NULL;
	}
	srv->loop = loop;
	srv->cfg = cfg;
	srv->store = store;
	srv->listen_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	srv->workers = calloc(threads, sizeof(*srv->workers));
	if (!srv->workers) {
		srv_err("out of memory");
		goto out_free;
	}
	srv->n_workers = threads;
	for (unsigned i = 0; i < threads; i++) {
		if (srv_worker_init(srv, &srv->workers[i], i) < 0) {
			srv_err("cannot create the event loop of I/O thread %u", i);
			goto out_free;
		}
	}

	srv->ssl_ctx = nb_srv_tls_ctx_new(cfg->cert, cfg->key, cfg->ca,
					  cfg->tls_ciphersuites, err, sizeof(err));
	if (!srv->ssl_ctx) {
		srv_err("%s", err);
		goto out_free;
	}
	/* A node that starts with a certificate clients refuse looks healthy
	 * until the first handshake: say so at start. */
	if (nb_srv_tls_cert_dates(cfg->cert, err, sizeof(err)) == 1)
		srv_warn("--cert: %s", err);
	if (srv_listen(srv, host, sizeof(host)) < 0)
		goto out_free;
	if (cfg->node)
		snprintf(srv->node_addr, sizeof(srv->node_addr), "%s", cfg->node);
	else if (strchr(host, ':'))
		snprintf(srv->node_addr, sizeof(srv->node_addr), "[%s]:%u", host, srv->port);
	else
		snprintf(srv->node_addr, sizeof(srv->node_addr), "%s:%u", host, srv->port);
	snprintf(srv->name, sizeof(srv->name), "%s", cfg->name ? cfg->name : srv->node_addr);
	nb_log_set_tag(srv->name);

	if (cfg->map_path) {
		if (nb_srv_map_reload(srv, err, sizeof(err)) < 0) {
			srv_err("--map: %s", err);
			goto out_free;
		}
	} else if (srv_self_map(srv) < 0) {
		goto out_free;
	}

	ev_io_init(&srv->accept_watcher, srv_accept_cb, srv->listen_fd, EV_READ);
	srv->accept_watcher.data = srv;
	ev_timer_init(&srv->accept_pause, srv_accept_resume_cb, 1., 0.);
	srv->accept_pause.data = srv;
	ev_signal_init(&srv->sig_int, srv_signal_cb, SIGINT);
	ev_signal_init(&srv->sig_term, srv_signal_cb, SIGTERM);
	ev_signal_init(&srv->sig_hup, srv_signal_cb, SIGHUP);
	ev_signal_init(&srv->sig_usr1, srv_signal_cb, SIGUSR1);
	srv->sig_int.data = srv->sig_term.data = srv->sig_hup.data = srv;
	srv->sig_usr1.data = srv;
	ev_io_start(loop, &srv->accept_watcher);
	ev_signal_start(loop, &srv->sig_int);
	ev_signal_start(loop, &srv->sig_term);
	ev_signal_start(loop, &srv->sig_hup);
	ev_signal_start(loop, &srv->sig_usr1);
	signal(SIGPIPE, SIG_IGN);
	return srv;

out_free:
	nb_srv_free(srv);
	return NULL;
}

int nb_srv_run(struct nb_srv *srv)
{
	int r = 0;

	for (unsigned i = 1; i < srv->n_workers; i++) {
		struct srv_worker *w = &srv->workers[i];

		r = -pthread_create(&w->thread, NULL, srv_worker_main, w);
		if (r < 0) {
			srv_err("cannot start I/O thread %u: %s", i, strerror(-r));
			w->own_thread = false;
			ev_loop_destroy(w->loop);
			w->loop = NULL;
			srv->n_workers = i;
			nb_srv_quit(srv);
			break;
		}
	}
	if (!srv->quitting)
		ev_run(srv->loop, 0);
	return r;
}

/* Stop every I/O thread and wait until each has closed its connections. */
static void srv_stop_workers(struct nb_srv *srv)
{
	struct srv_worker *w0 = &srv->workers[0];

	for (unsigned i = 1; i < srv->n_workers; i++) {
		struct srv_worker *w = &srv->workers[i];

		if (!w->loop)
			continue;
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		ev_async_send(w->loop, &w->wake);
	}
	for (unsigned i = 1; i < srv->n_workers; i++)
		if (srv->workers[i].loop)
			pthread_join(srv->workers[i].thread, NULL);
	if (!w0->loop)
		return;
	srv_worker_close_all(w0);
	w0->stopping = true;
	while (w0->dead) {
		srv_worker_reap(w0);
		if (w0->dead)
			ev_run(w0->loop, EVRUN_ONCE);
	}
}

void nb_srv_free(struct nb_srv *srv)
{
	struct ev_loop *loop;

	if (!srv)
		return;
	loop = srv->loop;
	if (srv->workers && srv->n_workers)
		srv_stop_workers(srv);
	if (ev_is_active(&srv->accept_watcher))
		ev_io_stop(loop, &srv->accept_watcher);
	if (ev_is_active(&srv->accept_pause))
		ev_timer_stop(loop, &srv->accept_pause);
	if (ev_is_active(&srv->sig_int)) {
		ev_signal_stop(loop, &srv->sig_int);
		ev_signal_stop(loop, &srv->sig_term);
		ev_signal_stop(loop, &srv->sig_hup);
		ev_signal_stop(loop, &srv->sig_usr1);
	}
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		srv_worker_fini(&srv->workers[i]);
	free(srv->workers);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	nb_srv_volumes_free(srv);
	nb_store_destroy(srv->store);
	nb_srv_maps_free(srv);
	SSL_CTX_free(srv->ssl_ctx);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
