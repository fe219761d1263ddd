/* SPDX-License-Identifier: MIT */
/*
 * The metrics HTTP server (metrics.h): libmicrohttpd on its own thread,
 * answering from the snapshot the owner's loop publishes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "errmsg.h"
#include "metrics.h"
#include "parse.h"

struct metrics_server {
	struct MHD_Daemon *mhd;
	int fd;
	pthread_mutex_t lock;
	/* The snapshot, under lock. */
	char *metrics;
	char *ready_text;
	bool ready;
	bool published;
	struct timespec published_at;   /* CLOCK_MONOTONIC */
};

int nb_metrics_parse_addr(const char *addr, struct sockaddr_storage *ss,
			  socklen_t *sslen, char *err, size_t errlen)
{
	char host[256], port[8];
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	unsigned long p;

	memset(ss, 0, sizeof(*ss));
	if (nb_split_host_port(addr, host, sizeof(host), port,
			       sizeof(port)) < 0)
		return nb_errf(err, errlen, -EINVAL, "'%.100s' is not ADDR:PORT "
			       "(a numeric IP address, [IPv6] in brackets, a "
			       "colon and a port from 1 to 65535, e.g. "
			       "127.0.0.1:9477)", addr);
	p = strtoul(port, NULL, 10);
	if (p == 0)
		return nb_errf(err, errlen, -EINVAL, "'%.100s': port 0 is not "
			       "allowed (give the port to listen on, 1 to "
			       "65535)", addr);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		if (addr[0] != '[')
			return nb_errf(err, errlen, -EINVAL, "'%.100s': write an "
				       "IPv6 address in brackets, [%s]:%s",
				       addr, host, port);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return nb_errf(err, errlen, -EINVAL, "'%.100s': '%s' is not a numeric "
		       "IP address (host names are not looked up; e.g. "
		       "127.0.0.1, 0.0.0.0 or [::1])", addr, host);
}

static enum MHD_Result metrics_reply(struct MHD_Connection *c,
				     unsigned int status, const char *type,
				     const char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static double metrics_age(const struct metrics_server *m)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - m->published_at.tv_sec) +
	       (now.tv_nsec - m->published_at.tv_nsec) / 1e9;
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *c,
				       const char *url, const char *method,
				       const char *version,
				       const char *upload_data,
				       size_t *upload_data_size, void **con_cls)
{
	static const char *const text = "text/plain; charset=utf-8";
	struct metrics_server *m = cls;
	unsigned int status;
	enum MHD_Result ret;
	char line[128];

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return metrics_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text,
				     "only GET and HEAD\n");
	pthread_mutex_lock(&m->lock);
	if (!strcmp(url, "/metrics")) {
		if (m->published)
			ret = metrics_reply(c, MHD_HTTP_OK, "text/plain; "
					    "version=0.0.4; charset=utf-8",
					    m->metrics);
		else
			ret = metrics_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					    text, "starting\n");
	} else if (!strcmp(url, "/healthz")) {
		double age = metrics_age(m);

		if (!m->published) {
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			snprintf(line, sizeof(line), "starting\n");
		} else if (age > METRICS_STALE_SECONDS) {
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			snprintf(line, sizeof(line), "stuck: the main loop has "
				 "not answered for %.0f s\n", age);
		} else {
			status = MHD_HTTP_OK;
			snprintf(line, sizeof(line), "ok\n");
		}
		ret = metrics_reply(c, status, text, line);
	} else if (!strcmp(url, "/readyz")) {
		if (!m->published)
			ret = metrics_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					    text, "starting\n");
		else
			ret = metrics_reply(c, m->ready ? MHD_HTTP_OK :
					    MHD_HTTP_SERVICE_UNAVAILABLE, text,
					    m->ready_text);
	} else {
		ret = metrics_reply(c, MHD_HTTP_NOT_FOUND, text, "not found: "
				    "try /metrics, /healthz or /readyz\n");
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

struct metrics_server *nb_metrics_start(const char *addr, char *err,
					size_t errlen)
{
	struct sockaddr_storage ss;
	struct metrics_server *m;
	socklen_t sslen;
	int one = 1, ret;

	ret = nb_metrics_parse_addr(addr, &ss, &sslen, err, errlen);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 ||
	    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    listen(m->fd, 64) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", addr,
			 strerror(-ret));
		goto out_free;
	}
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				  MHD_USE_AUTO, 0, NULL, NULL,
				  metrics_handler, m,
				  MHD_OPTION_LISTEN_SOCKET, m->fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				  MHD_OPTION_CONNECTION_LIMIT, 64u,
				  MHD_OPTION_END);
	if (!m->mhd) {
		ret = -EIO;
		snprintf(err, errlen, "cannot start the HTTP server "
			 "(libmicrohttpd) on %s", addr);
		goto out_free;
	}
	return m;

out_free:
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
	errno = -ret;
	return NULL;
}

int nb_metrics_publish(struct metrics_server *m, const char *metrics,
		       bool ready, const char *ready_text)
{
	char *mc = strdup(metrics), *rc = strdup(ready_text);

	if (!mc || !rc) {
		free(mc);
		free(rc);
		return -ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	free(m->metrics);
	free(m->ready_text);
	m->metrics = mc;
	m->ready_text = rc;
	m->ready = ready;
	m->published = true;
	clock_gettime(CLOCK_MONOTONIC, &m->published_at);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void nb_metrics_stop(struct metrics_server *m)
{
	if (!m)
		return;
	/* MHD closes the listening socket it was given (LISTEN_SOCKET): a
	 * second close here could hit a descriptor another thread opened
	 * since. */
	MHD_stop_daemon(m->mhd);
	pthread_mutex_destroy(&m->lock);
	free(m->metrics);
	free(m->ready_text);
	free(m);
}
