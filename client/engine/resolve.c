/* SPDX-License-Identifier: MIT */
/* Host name resolution off the I/O loop; see resolve.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "resolve.h"

struct resolve {
	pthread_mutex_t lock;
	int refs;                  /* the loop side and the thread */
	bool cancelled;            /* the loop side let go */
	struct ev_loop *loop;
	ev_async async;            /* loop side only, but for ev_async_send */
	resolve_done_fn *done;
	void *opaque;
	struct addrinfo hints;
	char host[MAP_ADDR_MAX + 1];
	char port[8];
	int gai_err;               /* written by the thread before the send */
	struct addrinfo *list;
};

static void resolve_unref(struct resolve *r)
{
	bool last;

	pthread_mutex_lock(&r->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	if (r->list)
		freeaddrinfo(r->list);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *resolve_thread(void *arg)
{
	struct resolve *r = arg;
	struct addrinfo *list = NULL;
	int err;

	err = getaddrinfo(r->host, r->port, &r->hints, &list);
	pthread_mutex_lock(&r->lock);
	r->gai_err = err;
	r->list = err ? NULL : list;
	if (!r->cancelled)
		ev_async_send(r->loop, &r->async);
	pthread_mutex_unlock(&r->lock);
	resolve_unref(r);
	return NULL;
}

static void resolve_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct resolve *r = w->data;
	struct addrinfo *list;
	int err;

	pthread_mutex_lock(&r->lock);
	list = r->list;
	r->list = NULL;
	err = r->gai_err;
	r->cancelled = true;       /* the handle is done with */
	pthread_mutex_unlock(&r->lock);
	ev_async_stop(loop, w);
	r->done(r->opaque, err, list);
	resolve_unref(r);
}

struct resolve *nb_resolve_start(struct ev_loop *loop, const char *host,
				 const char *port, const struct addrinfo *hints,
				 resolve_done_fn *done, void *opaque)
{
	struct resolve *r;
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	if (strlen(host) >= sizeof(((struct resolve *)0)->host) ||
	    strlen(port) >= sizeof(((struct resolve *)0)->port)) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 2;
	r->loop = loop;
	r->done = done;
	r->opaque = opaque;
	r->hints.ai_family = hints->ai_family;
	r->hints.ai_socktype = hints->ai_socktype;
	r->hints.ai_protocol = hints->ai_protocol;
	r->hints.ai_flags = hints->ai_flags;
	strcpy(r->host, host);
	strcpy(r->port, port);
	ev_async_init(&r->async, resolve_async_cb);
	r->async.data = r;
	ev_async_start(loop, &r->async);

	ret = pthread_attr_init(&attr);
	if (ret == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&tid, &attr, resolve_thread, r);
		pthread_attr_destroy(&attr);
	}
	if (ret) {
		ev_async_stop(loop, &r->async);
		pthread_mutex_destroy(&r->lock);
		free(r);
		errno = ret;
		return NULL;
	}
	return r;
}

void nb_resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->cancelled = true;
	pthread_mutex_unlock(&r->lock);
	ev_async_stop(r->loop, &r->async);
	resolve_unref(r);
}
