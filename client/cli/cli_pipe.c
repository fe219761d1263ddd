/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli: the ordered pipeline behind import, export and verify.
 * Slot i % depth carries io i; a slot is reused only once its io has
 * completed and been retired in order, so complete() sees ios in the
 * order they were submitted whatever order the nodes answer in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "cli.h"

static void cli_pipe_fill(struct cli_pipe *p);

static void cli_pipe_retire(struct cli_pipe *p)
{
	for (;;) {
		struct cli_slot *s = &p->slots[p->retire_seq % p->depth];
		int ret;

		if (!s->done || s->seq != p->retire_seq)
			return;
		s->done = false;
		p->retire_seq++;
		if (s->result < 0 || p->error)
			continue;
		if (p->complete) {
			ret = p->complete(p, s);
			if (ret < 0) {
				p->error = ret;
				continue;
			}
		}
		p->bytes += s->length;
		if (p->progress)
			nb_cli_progress_update(p->progress,
					       p->progress_base + p->bytes);
	}
}

static void cli_pipe_done(struct session_io *io, int result)
{
	struct cli_slot *s = io->opaque;
	struct cli_pipe *p = s->pipe;

	s->busy = false;
	s->done = true;
	s->result = result;
	p->inflight--;
	if (result < 0 && !p->error) {
		p->error = result;
		cli_report_io_error(p->ctx, s->op, s->offset, s->length, result);
	}
	cli_pipe_retire(p);
	cli_pipe_fill(p);
	if (p->inflight == 0 && (p->no_more || p->error))
		ev_break(p->ctx->loop, EVBREAK_ONE);
}

static void cli_pipe_fill(struct cli_pipe *p)
{
	while (!p->no_more && !p->error) {
		struct cli_slot *s = &p->slots[p->next_seq % p->depth];
		int ret;

		if (s->busy || s->done)
			return;
		s->offset = 0;
		s->length = 0;
		s->op = p->op;
		s->flags = 0;
		ret = p->next(p, s);
		if (ret < 0) {
			p->error = ret;
			return;
		}
		if (ret == 0) {
			p->no_more = true;
			return;
		}
		memset(&s->io, 0, sizeof(s->io));
		s->iov.iov_base = s->buf;
		s->iov.iov_len = s->length;
		s->io.op = s->op;
		s->io.flags = s->flags;
		s->io.offset = s->offset;
		s->io.length = s->length;
		if (s->op == SESSION_OP_READ || s->op == SESSION_OP_WRITE) {
			s->io.iov = &s->iov;
			s->io.iovcnt = 1;
		}
		s->io.done = cli_pipe_done;
		s->io.opaque = s;
		s->seq = p->next_seq;
		ret = nb_session_submit(p->ctx->cluster, &s->io);
		if (ret < 0) {
			p->error = ret;
			cli_report_io_error(p->ctx, s->op, s->offset, s->length,
					    ret);
			return;
		}
		s->busy = true;
		p->inflight++;
		p->next_seq++;
	}
}

int cli_pipe_run(struct cli_pipe *p)
{
	int ret;

	if (p->depth == 0 || p->buf_size == 0)
		return -EINVAL;
	if ((uint64_t)p->depth * p->buf_size > CLI_MAX_BUFFERS) {
		nb_cli_err("%s: queue depth %u x block size %zu is more than %llu MiB of buffers",
			p->ctx->cmd, p->depth, p->buf_size, CLI_MAX_BUFFERS >> 20);
		return -E2BIG;
	}
	p->slots = calloc(p->depth, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->depth; i++) {
		p->slots[i].pipe = p;
		p->slots[i].buf = nb_cli_buf_alloc(p->buf_size);
		if (!p->slots[i].buf) {
			ret = -ENOMEM;
			nb_cli_err("%s: out of memory for %u buffers of %zu bytes",
				p->ctx->cmd, p->depth, p->buf_size);
			goto out_free_slots;
		}
	}
	p->next_seq = p->retire_seq = 0;
	p->inflight = 0;
	p->no_more = false;
	p->error = 0;
	p->bytes = 0;

	cli_pipe_fill(p);
	while (p->inflight > 0)
		ev_run(p->ctx->loop, 0);
	ret = p->error;

out_free_slots:
	for (uint32_t i = 0; i < p->depth; i++)
		free(p->slots[i].buf);
	free(p->slots);
	p->slots = NULL;
	return ret;
}
