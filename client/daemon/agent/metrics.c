/* SPDX-License-Identifier: MIT */
/* The agent's Prometheus metrics, served over HTTP on --metrics. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_priv.h"
#include "errmsg.h"
#include "log.h"
#include "parse.h"

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
			struct volume_stats s = { 0 };
			uint64_t val[7];

			if (!av->parsed)
				continue;
			if (av->v)
				nb_volume_get_stats(av->v, &s);
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
		nb_log_msg(LOG_INFO, "metrics: write failed: %s", strerror(errno));
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

int nb_agent_metrics_start(struct agent *a, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	char host[256], port[8];
	struct addrinfo *res;
	int one = 1, fd, ret;

	if (nb_split_host_port(a->metrics, host, sizeof(host), port,
			       sizeof(port)) < 0)
		return nb_errf(err, errlen, -EINVAL, "not ADDR:PORT (a numeric "
			       "address, [v6] in brackets, and a port from 0 "
			       "to 65535)");
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret)
		return nb_errf(err, errlen, -EINVAL, "%s", gai_strerror(ret));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return nb_errf(err, errlen, ret, "%s", strerror(-ret));
	}
	freeaddrinfo(res);
	a->metrics_fd = fd;
	ev_io_init(&a->metrics_io, agent_metrics_cb, fd, EV_READ);
	a->metrics_io.data = a;
	ev_io_start(a->loop, &a->metrics_io);
	return 0;
}

void nb_agent_metrics_stop(struct agent *a)
{
	while (a->scrapes)
		agent_scrape_free(a->scrapes);
	if (a->metrics_fd >= 0) {
		ev_io_stop(a->loop, &a->metrics_io);
		close(a->metrics_fd);
	}
	a->metrics_fd = -1;
}
