/* SPDX-License-Identifier: MIT */
/*
 * The gRPC side of netblk-csi, on gRPC's C core: a server on a unix
 * socket, one completion queue for new calls, and a thread per call that
 * reads the one request, runs the method's handler and sends the answer
 * (every CSI method is unary). Each call has its own pluck queue so the
 * threads never share one.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "csi.h"
#include "logging.h"

struct csi_slot {
	struct csi_ctx *ctx;
	const struct csi_method *const *tables;
	size_t n_tables;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_completion_queue *call_cq;
};

/* requests for calls kept armed with gRPC */
#define CSI_PENDING_CALLS 4

static grpc_server *csi_grpc_server;
static grpc_completion_queue *csi_cq;
static int csi_shutdown_tag;

void *nb_csi_alloc(struct csi_call *c, size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		abort();
	if (c->n_blocks == c->cap_blocks) {
		size_t cap = c->cap_blocks ? 2 * c->cap_blocks : 16;
		void **b = realloc(c->blocks, cap * sizeof(*b));

		if (!b)
			abort();
		c->blocks = b;
		c->cap_blocks = cap;
	}
	c->blocks[c->n_blocks++] = p;
	return p;
}

char *nb_csi_strdup(struct csi_call *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = nb_csi_alloc(c, n);

	memcpy(p, s, n);
	return p;
}

int nb_csi_fail(struct csi_call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return code;
}

int nb_csi_claim(struct csi_call *c, const char *volume, const char *what)
{
	struct csi_ctx *ctx = c->ctx;
	size_t i, n = sizeof(ctx->busy) / sizeof(ctx->busy[0]);
	int code = CSI_OK;

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < n; i++) {
		if (ctx->busy[i] && strcmp(ctx->busy[i], volume) == 0) {
			code = nb_csi_fail(c, CSI_ABORTED, "%s %s: another call on it is in progress",
					   what, volume);
			goto out;
		}
	}
	for (i = 0; i < n && ctx->busy[i]; i++)
		;
	if (i == n)
		code = nb_csi_fail(c, CSI_RESOURCE_EXHAUSTED,
				   "%s %s: calls on %zu volumes in progress already", what, volume, n);
	else if (!(ctx->busy[i] = strdup(volume)))
		code = nb_csi_fail(c, CSI_RESOURCE_EXHAUSTED, "%s %s: out of memory", what, volume);
out:
	pthread_mutex_unlock(&ctx->lock);
	return code;
}

void nb_csi_release(struct csi_ctx *ctx, const char *volume)
{
	size_t i, n = sizeof(ctx->busy) / sizeof(ctx->busy[0]);

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < n; i++) {
		if (ctx->busy[i] && strcmp(ctx->busy[i], volume) == 0) {
			free(ctx->busy[i]);
			ctx->busy[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

static const struct csi_method *csi_find(struct csi_slot *s)
{
	size_t t;
	const struct csi_method *m;

	for (t = 0; t < s->n_tables; t++)
		for (m = s->tables[t]; m->path; m++)
			if (grpc_slice_str_cmp(s->details.method, m->path) == 0)
				return m;
	return NULL;
}

static bool csi_batch(grpc_call *call, grpc_completion_queue *cq,
		      grpc_op *ops, size_t n)
{
	grpc_event ev;
	void *tag = ops;

	if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
		return false;
	ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void csi_call_run(struct csi_slot *s)
{
	struct csi_call c = { .ctx = s->ctx };
	const struct csi_method *m = csi_find(s);
	grpc_byte_buffer *in = NULL, *out = NULL;
	ProtobufCMessage *req = NULL, *resp = NULL;
	grpc_op ops[3];
	grpc_slice details, body;
	int cancelled = 0, code = CSI_OK;
	char *method = grpc_slice_to_c_string(s->details.method);
	size_t i;

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &in;
	if (!csi_batch(s->call, s->call_cq, ops, 2)) {
		nb_log_msg(LOG_WARNING, "%s: the client went away before its request", method);
		goto out;
	}
	if (!m) {
		code = nb_csi_fail(&c, CSI_UNIMPLEMENTED, "%s is not served here (mode %s%s)",
				   method, s->ctx->controller ? "controller" : "",
				   s->ctx->node ? " node" : "");
	} else if (!in) {
		code = nb_csi_fail(&c, CSI_INVALID_ARGUMENT, "%s: no request message", method);
	} else {
		grpc_byte_buffer_reader rd;
		grpc_slice all;

		grpc_byte_buffer_reader_init(&rd, in);
		all = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		req = protobuf_c_message_unpack(m->request, NULL, GRPC_SLICE_LENGTH(all),
						GRPC_SLICE_START_PTR(all));
		grpc_slice_unref(all);
		if (!req)
			code = nb_csi_fail(&c, CSI_INVALID_ARGUMENT,
					   "%s: the request is not a valid %s message",
					   method, m->request->name);
		else
			code = m->handler(&c, req, &resp);
	}
	if (code == CSI_OK && resp) {
		size_t len = protobuf_c_message_get_packed_size(resp);

		body = grpc_slice_malloc(len);
		protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(body));
		out = grpc_raw_byte_buffer_create(&body, 1);
		grpc_slice_unref(body);
		nb_log_msg(LOG_INFO, "%s: OK", method);
	} else if (code == CSI_OK) {
		code = nb_csi_fail(&c, CSI_INTERNAL, "%s: the handler gave no answer", method);
	}
	if (code != CSI_OK)
		nb_log_msg(code == CSI_INTERNAL ? LOG_ERR : LOG_NOTICE, "%s: status %d: %s",
			   method, code, c.msg);

	details = grpc_slice_from_copied_string(code == CSI_OK ? "" : c.msg);
	memset(ops, 0, sizeof(ops));
	i = 0;
	ops[i].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[i++].data.recv_close_on_server.cancelled = &cancelled;
	if (out) {
		ops[i].op = GRPC_OP_SEND_MESSAGE;
		ops[i++].data.send_message.send_message = out;
	}
	ops[i].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[i].data.send_status_from_server.status = (grpc_status_code)code;
	ops[i++].data.send_status_from_server.status_details = &details;
	if (!csi_batch(s->call, s->call_cq, ops, i))
		nb_log_msg(LOG_WARNING, "%s: could not send the answer", method);
	grpc_slice_unref(details);
out:
	if (out)
		grpc_byte_buffer_destroy(out);
	if (in)
		grpc_byte_buffer_destroy(in);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	for (i = 0; i < c.n_blocks; i++)
		free(c.blocks[i]);
	free(c.blocks);
	gpr_free(method);
}

static void csi_slot_free(struct csi_slot *s)
{
	if (s->call)
		grpc_call_unref(s->call);
	grpc_call_details_destroy(&s->details);
	grpc_metadata_array_destroy(&s->md);
	grpc_completion_queue_shutdown(s->call_cq);
	grpc_completion_queue_destroy(s->call_cq);
	free(s);
}

static void *csi_call_thread(void *arg)
{
	struct csi_slot *s = arg;

	csi_call_run(s);
	csi_slot_free(s);
	return NULL;
}

/* Ask gRPC for the next call. */
static int csi_request(struct csi_ctx *ctx, const struct csi_method *const *tables,
		       size_t n_tables)
{
	struct csi_slot *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->tables = tables;
	s->n_tables = n_tables;
	grpc_call_details_init(&s->details);
	grpc_metadata_array_init(&s->md);
	s->call_cq = grpc_completion_queue_create_for_pluck(NULL);
	if (grpc_server_request_call(csi_grpc_server, &s->call, &s->details, &s->md,
				     s->call_cq, csi_cq, s) != GRPC_CALL_OK) {
		csi_slot_free(s);
		return -EIO;
	}
	return 0;
}

static void *csi_signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;

	sigwait(set, &sig);
	nb_log_msg(LOG_NOTICE, "signal %d: shutting down", sig);
	grpc_server_shutdown_and_notify(csi_grpc_server, csi_cq, &csi_shutdown_tag);
	return NULL;
}

int nb_csi_serve(struct csi_ctx *ctx, const struct csi_method *const *tables,
		 size_t n_tables)
{
	static sigset_t set;
	grpc_server_credentials *creds;
	pthread_t sig_thread;
	char addr[4200];
	int r, pending = 0;
	bool warned = false;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (unlink(ctx->endpoint) < 0 && errno != ENOENT) {
		r = -errno;
		nb_log_msg(LOG_ERR, "cannot remove the old socket %s: %s", ctx->endpoint,
			   strerror(errno));
		return r;
	}
	snprintf(addr, sizeof(addr), "unix:%s", ctx->endpoint);
	grpc_init();
	csi_grpc_server = grpc_server_create(NULL, NULL);
	csi_cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(csi_grpc_server, csi_cq, NULL);
	creds = grpc_insecure_server_credentials_create();
	r = grpc_server_add_http2_port(csi_grpc_server, addr, creds);
	grpc_server_credentials_release(creds);
	if (r == 0) {
		nb_log_msg(LOG_ERR, "cannot listen on %s (directory missing or not writable?)",
			   addr);
		grpc_server_destroy(csi_grpc_server);
		grpc_completion_queue_shutdown(csi_cq);
		grpc_completion_queue_destroy(csi_cq);
		grpc_shutdown();
		return -EADDRNOTAVAIL;
	}
	grpc_server_start(csi_grpc_server);
	if (pthread_create(&sig_thread, NULL, csi_signal_thread, &set) == 0)
		pthread_detach(sig_thread);
	nb_log_msg(LOG_NOTICE, "%s serving %s%s%s on %s", ctx->driver_name,
		   "identity", ctx->controller ? ", controller" : "",
		   ctx->node ? ", node" : "", ctx->endpoint);

	for (;;) {
		gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_REALTIME);
		grpc_event ev;
		pthread_t t;
		struct csi_slot *s;

		/*
		 * A few calls may wait for a thread at once. A request that
		 * could not be armed is tried again a second later, so that
		 * failures never use the slots up for good.
		 */
		while (pending < CSI_PENDING_CALLS && csi_request(ctx, tables, n_tables) == 0)
			pending++;
		if (pending < CSI_PENDING_CALLS)
			deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
						gpr_time_from_seconds(1, GPR_TIMESPAN));
		if (pending == 0 && !warned) {
			nb_log_msg(LOG_ERR, "cannot ask gRPC for calls; trying again every second");
			warned = true;
		}
		ev = grpc_completion_queue_next(csi_cq, deadline, NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT)
			continue;
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		if (ev.tag == &csi_shutdown_tag)
			break;
		s = ev.tag;
		pending--;
		warned = false;
		if (!ev.success) {
			csi_slot_free(s);
			continue;
		}
		if (pthread_create(&t, NULL, csi_call_thread, s) != 0) {
			nb_log_msg(LOG_ERR, "cannot start a thread for a call");
			grpc_call_cancel_with_status(s->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
						     "no thread for the call", NULL);
			csi_slot_free(s);
			continue;
		}
		pthread_detach(t);
	}
	grpc_server_cancel_all_calls(csi_grpc_server);
	unlink(ctx->endpoint);
	nb_log_msg(LOG_NOTICE, "stopped");
	/* calls still running hold their own queues; exit without waiting */
	return 0;
}
