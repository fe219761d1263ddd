/* SPDX-License-Identifier: MIT */
/*
 * Host name resolution off the I/O loop: getaddrinfo() runs on a short
 * detached thread and its result comes back to the loop through an
 * ev_async, so that a slow DNS server never stalls a worker's loop.
 * (Numeric addresses need no lookup: conn.c resolves them in place.)
 *
 * Ownership: nb_resolve_start() returns a handle owned by the caller
 * until done() is called (from the loop, once) or until the caller calls
 * nb_resolve_cancel(), after which done() is never called. done()
 * receives the address list (free it with freeaddrinfo) or NULL and the
 * getaddrinfo error code. The thread and the handle share one object
 * with a reference count and a lock; the last one out frees it, so a
 * cancelled lookup may finish later on its thread without harm.
 */
#ifndef NETBLK_RESOLVE_H
#define NETBLK_RESOLVE_H

#include <netdb.h>

#include <ev.h>

struct resolve;

typedef void resolve_done_fn(void *opaque, int gai_err, struct addrinfo *list);

/*
 * Look host and port up with hints' family, socktype and flags. Returns
 * the handle, or NULL with errno set (ENOMEM, or EAGAIN when no thread
 * can be started).
 */
struct resolve *nb_resolve_start(struct ev_loop *loop, const char *host,
				 const char *port, const struct addrinfo *hints,
				 resolve_done_fn *done, void *opaque);

/* Forget the lookup: done() will not be called. NULL is a no-op. */
void nb_resolve_cancel(struct resolve *r);

#endif
