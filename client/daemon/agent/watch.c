/* SPDX-License-Identifier: MIT */
/* The agent's watch on the spec directory (inotify). */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent_priv.h"

/* "NAME.force" -> "NAME". */
static bool agent_force_name(const char *file, char *name, size_t len)
{
	size_t n = strlen(file);

	if (n <= 6 || strcmp(file + n - 6, ".force") || n - 6 >= len ||
	    file[0] == '.')
		return false;
	memcpy(name, file, n - 6);
	name[n - 6] = '\0';
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
		if (ev->len && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
		    agent_force_name(ev->name, name, sizeof(name))) {
			nb_agent_force(a, name);
			continue;
		}
		if (!ev->len || !nb_agent_spec_name(ev->name, name, sizeof(name)))
			continue;
		if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
			nb_agent_spec_removed(a, name);
		else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
			nb_agent_spec_changed(a, name);
	}
}

int nb_agent_watch_start(struct agent *a)
{
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd < 0)
		return -errno;
	if (inotify_add_watch(a->inotify_fd, a->spec_dir, IN_CLOSE_WRITE |
			      IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) < 0)
		return -errno;
	ev_io_init(&a->inotify_io, agent_inotify_cb, a->inotify_fd, EV_READ);
	a->inotify_io.data = a;
	ev_io_start(a->loop, &a->inotify_io);
	return 0;
}

void nb_agent_watch_stop(struct agent *a)
{
	if (a->inotify_fd < 0)
		return;
	ev_io_stop(a->loop, &a->inotify_io);
	close(a->inotify_fd);
	a->inotify_fd = -1;
}
