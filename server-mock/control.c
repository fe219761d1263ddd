/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a unix stream socket taking one text command per
 * line and answering one line, "ok ..." or "error <reason>". Also the
 * `ctl` client that sends one command and prints the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mock.h"

#define MOCK_CTL_LINE_MAX 4096
#define MOCK_CTL_OUT_MAX  (64u << 10)
#define MOCK_CTL_CLIENTS  32

struct mock_control_client {
	struct mock_control *ctl;
	struct mock_control_client *next;
	int fd;
	ev_io rd, wr;
	char in[MOCK_CTL_LINE_MAX];
	size_t in_len;
	char *out;
	size_t out_len;
};

struct mock_control {
	struct mock_server *ms;
	char *path;
	int fd;
	ev_io accept_watcher;
	struct mock_control_client *clients;
	size_t n_clients;
};

static void mock_control_client_free(struct mock_control_client *cl)
{
	struct mock_control *ctl = cl->ctl;
	struct mock_control_client **pp;

	for (pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	ctl->n_clients--;
	ev_io_stop(ctl->ms->loop, &cl->rd);
	ev_clear_pending(ctl->ms->loop, &cl->rd);
	ev_io_stop(ctl->ms->loop, &cl->wr);
	ev_clear_pending(ctl->ms->loop, &cl->wr);
	close(cl->fd);
	free(cl->out);
	free(cl);
}

/* Write what we can; returns -1 when the client is gone (and freed). */
static int mock_control_client_flush(struct mock_control_client *cl)
{
	struct ev_loop *loop = cl->ctl->ms->loop;

	while (cl->out_len > 0) {
		ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(loop, &cl->wr);
				return 0;
			}
			mock_control_client_free(cl);
			return -1;
		}
		memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
		cl->out_len -= (size_t)n;
	}
	ev_io_stop(loop, &cl->wr);
	return 0;
}

static int mock_control_client_answer(struct mock_control_client *cl, bool ok,
				      const char *text)
{
	size_t len = strlen(text) + 16;
	char *p;

	if (cl->out_len + len > MOCK_CTL_OUT_MAX) {
		mock_warn("control: client does not read its answers; closing it");
		mock_control_client_free(cl);
		return -1;
	}
	p = realloc(cl->out, cl->out_len + len);
	if (!p) {
		mock_control_client_free(cl);
		return -1;
	}
	cl->out = p;
	cl->out_len += (size_t)snprintf(cl->out + cl->out_len, len, "%s%s%s\n",
					ok ? "ok" : "error", text[0] ? " " : "", text);
	return mock_control_client_flush(cl);
}

static void mock_control_client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mock_control_client *cl = w->data;
	struct mock_server *ms = cl->ctl->ms;
	char answer[1024];
	ssize_t n;
	char *nl;

	n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mock_control_client_free(cl);
		return;
	}
	cl->in_len += (size_t)n;
	while ((nl = memchr(cl->in, '\n', cl->in_len))) {
		size_t linelen = (size_t)(nl - cl->in);
		int r;

		bool has_nul = memchr(cl->in, '\0', linelen) != NULL;

		*nl = '\0';
		if (linelen > 0 && cl->in[linelen - 1] == '\r')
			cl->in[linelen - 1] = '\0';
		if (has_nul) {
			snprintf(answer, sizeof(answer), "NUL byte in command");
			r = -EINVAL;
		} else {
			mock_debug("control: %s", cl->in);
			r = mock_command_exec(ms, cl->in, answer, sizeof(answer));
		}
		memmove(cl->in, nl + 1, cl->in_len - linelen - 1);
		cl->in_len -= linelen + 1;
		if (mock_control_client_answer(cl, r == 0, answer) < 0)
			return;
	}
	if (cl->in_len == sizeof(cl->in)) {
		mock_warn("control: command longer than %d bytes; closing the client",
			  MOCK_CTL_LINE_MAX);
		if (mock_control_client_answer(cl, false, "command line too long") == 0)
			mock_control_client_free(cl);
	}
}

static void mock_control_client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	mock_control_client_flush(w->data);
}

static void mock_control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mock_control *ctl = w->data;
	struct mock_control_client *cl;
	int fd;

	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (ctl->n_clients >= MOCK_CTL_CLIENTS) {
		mock_warn("control: too many clients (%d); refusing one", MOCK_CTL_CLIENTS);
		close(fd);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->fd = fd;
	ev_io_init(&cl->rd, mock_control_client_read_cb, fd, EV_READ);
	cl->rd.data = cl;
	ev_io_init(&cl->wr, mock_control_client_write_cb, fd, EV_WRITE);
	cl->wr.data = cl;
	ev_io_start(loop, &cl->rd);
	cl->next = ctl->clients;
	ctl->clients = cl;
	ctl->n_clients++;
}

static int mock_control_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

struct mock_control *mock_control_new(struct mock_server *ms, const char *path)
{
	struct mock_control *ctl;
	struct sockaddr_un sun;
	struct stat st;
	int err;

	if (mock_control_addr(path, &sun) < 0) {
		mock_err("--control %s: path longer than %zu bytes", path,
			 sizeof(sun.sun_path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	ctl->ms = ms;
	ctl->path = strdup(path);
	if (!ctl->path)
		goto out_free;
	/* A stale socket of an earlier run is replaced; other files are not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			mock_err("--control %s: exists and is not a socket", path);
			errno = EEXIST;
			goto out_free;
		}
		unlink(path);
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		goto out_err;
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(ctl->fd, 16) < 0)
		goto out_close_fd;
	ev_io_init(&ctl->accept_watcher, mock_control_accept_cb, ctl->fd, EV_READ);
	ctl->accept_watcher.data = ctl;
	ev_io_start(ms->loop, &ctl->accept_watcher);
	return ctl;

out_close_fd:
	err = errno;
	close(ctl->fd);
	errno = err;
out_err:
	mock_err("--control %s: %s", path, strerror(errno));
out_free:
	err = errno;
	free(ctl->path);
	free(ctl);
	errno = err;
	return NULL;
}

void mock_control_free(struct mock_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		mock_control_client_free(ctl->clients);
	ev_io_stop(ctl->ms->loop, &ctl->accept_watcher);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

int mock_ctl_main(int argc, char **argv)
{
	struct sockaddr_un sun;
	char line[MOCK_CTL_LINE_MAX], answer[MOCK_CTL_OUT_MAX];
	size_t used = 0, got = 0;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: %s ctl SOCKET COMMAND [ARGS...]\n", MOCK_PROG);
		return MOCK_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		int n = snprintf(line + used, sizeof(line) - used, "%s%s",
				 i > 2 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(line) - used - 1 || strchr(argv[i], '\n')) {
			fprintf(stderr, "%s ctl: command too long or contains a newline\n", MOCK_PROG);
			return MOCK_EXIT_USAGE;
		}
		used += (size_t)n;
	}
	line[used++] = '\n';
	if (mock_control_addr(argv[1], &sun) < 0) {
		fprintf(stderr, "%s ctl: socket path too long: %s\n", MOCK_PROG, argv[1]);
		return MOCK_EXIT_USAGE;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "%s ctl: cannot connect to %s: %s\n", MOCK_PROG, argv[1],
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	for (size_t off = 0; off < used;) {
		ssize_t n = send(fd, line + off, used - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s ctl: send: %s\n", MOCK_PROG, strerror(errno));
			close(fd);
			return 1;
		}
		off += (size_t)n;
	}
	while (got < sizeof(answer) - 1 && !memchr(answer, '\n', got)) {
		ssize_t n = recv(fd, answer + got, sizeof(answer) - 1 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	answer[got] = '\0';
	if (!memchr(answer, '\n', got)) {
		fprintf(stderr, "%s ctl: no answer from %s\n", MOCK_PROG, argv[1]);
		return 1;
	}
	*strchr(answer, '\n') = '\0';
	printf("%s\n", answer);
	return strncmp(answer, "ok", 2) == 0 && (answer[2] == '\0' || answer[2] == ' ') ? 0 : 1;
}
