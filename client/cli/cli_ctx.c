/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli's glue to the engine: opening the volume the common options
 * name, waiting for one I/O, and reporting the engine's errors and counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <ev.h>

#include "admin.h"
#include "cli.h"
#include "tls_suites.h"

static void cli_engine_log(void *opaque, int level, const char *msg)
{
	const char *what = level <= LOG_ERR ? "error" :
			   level <= LOG_WARNING ? "warning" : "engine";

	fprintf(stderr, "netblk-cli: %s: %s\n", what, msg);
}

void cli_engine_config_log(const struct cli_common *opt,
			   struct session_config *cfg)
{
	/*
	 * Quiet by default: every command reports a failure itself, with the
	 * engine's message (nb_session_open_sync's err, nb_session_last_error()).
	 * --verbose shows warnings (reconnects, retries), twice info, three
	 * times debug.
	 */
	static const int levels[] = { LOG_CRIT, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	int v = opt->verbose < 0 ? 0 : opt->verbose > 3 ? 3 : opt->verbose;
	int level = levels[v];
	cfg->log_fn = cli_engine_log;
	cfg->log_opaque = NULL;
	cfg->log_level = level;
}

void cli_engine_config_suites(const struct cli_common *opt,
			      struct session_config *cfg)
{
	static char measured[TLS_SUITES_LIST_LEN];
	char desc[512];

	if (opt->tls_ciphersuites) {
		cfg->tls_ciphersuites = opt->tls_ciphersuites;
		return;
	}
	if (!measured[0]) {	/* once per process */
		nb_tls_suites_default(measured, sizeof(measured), desc,
				   sizeof(desc));
		if (opt->verbose >= 2)
			fprintf(stderr, "netblk-cli: engine: TLS 1.3 cipher "
				"suites, fastest on this CPU first: %s\n",
				desc);
	}
	cfg->tls_ciphersuites = measured;
}

int cli_lock_owner(const struct cli_common *opt, const char *cmd, char *buf,
		   size_t len)
{
	char name[32];

	if (opt->owner) {
		snprintf(buf, len, "%s", opt->owner);
		return 0;
	}
	/* one owner per process: another netblk-cli is another writer */
	snprintf(name, sizeof(name), "netblk-cli:%ld", (long)getpid());
	if (nb_session_lock_owner_default(name, buf, len) < 0) {
		nb_cli_err("%s: this host's name is too long for a lock owner: name one with --owner",
			cmd);
		return -EINVAL;
	}
	return 0;
}

void cli_admin_config(const struct cli_common *opt, struct session_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nodes = (const char *const *)opt->nodes;
	cfg->n_nodes = opt->n_nodes;
	cfg->volume = opt->volume;
	cfg->tls_ca = opt->ca;
	cfg->tls_cert = opt->cert;
	cfg->tls_key = opt->key;
	cfg->server_name = opt->tls_name;
	cli_engine_config_suites(opt, cfg);
	cfg->connect_timeout = opt->connect_timeout;
	cfg->client_name = "netblk-cli";
	cli_engine_config_log(opt, cfg);
}

int cli_ctx_open(struct cli_ctx *ctx, struct cli_common *opt,
		 const char *cmd, bool writes)
{
	struct session_config cfg = { 0 };
	char err[512] = "";

	memset(ctx, 0, sizeof(*ctx));
	ctx->opt = opt;
	ctx->cmd = cmd;
	if (writes && !opt->read_only &&
	    cli_lock_owner(opt, cmd, ctx->owner, sizeof(ctx->owner)) < 0)
		return -EINVAL;
	ctx->loop = ev_loop_new(EVFLAG_AUTO);
	if (!ctx->loop) {
		nb_cli_err("%s: cannot create an event loop", cmd);
		return -ENOMEM;
	}

	cfg.nodes = (const char *const *)opt->nodes;
	cfg.n_nodes = opt->n_nodes;
	cfg.volume = opt->volume;
	/* only a command that writes needs (and takes) the writer lock */
	cfg.read_only = opt->read_only || !writes;
	cfg.lock_owner = ctx->owner[0] ? ctx->owner : NULL;
	cfg.break_lock = opt->break_lock;
	cfg.tls_ca = opt->ca;
	cfg.tls_cert = opt->cert;
	cfg.tls_key = opt->key;
	cfg.server_name = opt->tls_name;
	cli_engine_config_suites(opt, &cfg);
	cfg.io_timeout = opt->io_timeout;
	cfg.connect_timeout = opt->connect_timeout;
	cfg.client_name = "netblk-cli";
	cli_engine_config_log(opt, &cfg);

	ctx->cluster = nb_session_open_sync(ctx->loop, &cfg, err, sizeof(err));
	if (!ctx->cluster) {
		int e = errno ? errno : EIO;

		if (e == ENOENT)
			nb_cli_err("%s: volume '%s' not found: %s", cmd,
				opt->volume, err[0] ? err : strerror(e));
		else if (e == EBUSY)
			nb_cli_err("%s: cannot open volume '%s' for writing: %s. Take the lock over with --break-lock, or break it with 'netblk-cli unlock' (the holder's writes then fail)",
				cmd, opt->volume, err[0] ? err : strerror(e));
		else
			nb_cli_err("%s: cannot open volume '%s' on %s: %s", cmd,
				opt->volume, opt->cluster_arg,
				err[0] ? err : strerror(e));
		ev_loop_destroy(ctx->loop);
		ctx->loop = NULL;
		return -e;
	}
	ctx->vol = nb_session_volume(ctx->cluster);
	return 0;
}

int cli_ctx_check_writable(const struct cli_ctx *ctx)
{
	if (!ctx->vol->read_only)
		return 0;
	nb_cli_err("%s: volume '%s' is read-only (the node serves it read-only)",
		ctx->cmd, ctx->opt->volume);
	return -EROFS;
}

/*
 * Give back the writer lock the session took, once per store: where the
 * lock is still ours, UNLOCK at the generation seen. A lock that moved on
 * (someone broke it: FENCED) is not ours to release.
 */
static void cli_ctx_release(struct cli_ctx *ctx, bool fenced)
{
	struct admin_store_lock *stores = NULL;
	struct session_config cfg;
	char err[512] = "";
	int n, ret;

	if (fenced)
		nb_cli_err("%s: warning: the writer lock of volume '%s' was broken while we ran",
			ctx->cmd, ctx->opt->volume);
	cli_admin_config(ctx->opt, &cfg);
	cfg.lock_owner = ctx->owner;
	n = nb_admin_store_locks(ctx->loop, &cfg, &stores, err, sizeof(err));
	if (n < 0) {
		nb_cli_err("%s: warning: cannot release the writer lock of volume '%s': %s; 'netblk-cli unlock' breaks it",
			ctx->cmd, ctx->opt->volume, err[0] ? err : strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct admin_store_lock *st = &stores[i];

		if (st->err == -ENOENT || st->err == -EOPNOTSUPP)
			continue;
		if (st->err < 0) {
			nb_cli_err("%s: warning: cannot release the writer lock of volume '%s' on %s: %s; 'netblk-cli unlock' breaks it",
				ctx->cmd, ctx->opt->volume, st->node,
				st->errmsg);
			continue;
		}
		if (strcmp(st->lock.owner, ctx->owner))
			continue;	/* not ours (any more) */
		err[0] = '\0';
		ret = nb_admin_unlock(ctx->loop, &cfg, st->node,
				   st->lock.generation, NULL, err, sizeof(err));
		if (ret == -ESTALE)
			nb_cli_err("%s: warning: the writer lock moved on before we released it: %s",
				ctx->cmd, err);
		else if (ret < 0 && ret != -EOPNOTSUPP)
			nb_cli_err("%s: warning: cannot release the writer lock of volume '%s' on %s: %s; 'netblk-cli unlock' breaks it",
				ctx->cmd, ctx->opt->volume, st->node,
				err[0] ? err : strerror(-ret));
	}
	free(stores);
}

void cli_ctx_close(struct cli_ctx *ctx)
{
	bool fenced = ctx->cluster && nb_session_fenced(ctx->cluster);
	bool release = ctx->cluster && nb_session_locks_held(ctx->cluster);

	nb_session_free(ctx->cluster);
	ctx->cluster = NULL;
	if (release && ctx->loop)
		cli_ctx_release(ctx, fenced);
	if (ctx->loop)
		ev_loop_destroy(ctx->loop);
	ctx->loop = NULL;
}

struct cli_sync {
	bool done;
	int result;
	struct ev_loop *loop;
};

static void cli_sync_done(struct session_io *io, int result)
{
	struct cli_sync *s = io->opaque;

	s->done = true;
	s->result = result;
	ev_break(s->loop, EVBREAK_ONE);
}

int cli_io_sync(struct cli_ctx *ctx, enum session_op op, uint64_t offset,
		uint64_t length, void *buf)
{
	struct cli_sync s = { .loop = ctx->loop };
	struct iovec iov = { .iov_base = buf, .iov_len = length };
	struct session_io io = {
		.op = op, .offset = offset, .length = length,
		.iov = &iov, .iovcnt = 1,
		.done = cli_sync_done, .opaque = &s,
	};
	int ret;

	ret = nb_session_submit(ctx->cluster, &io);
	if (ret < 0)
		return ret;
	while (!s.done)
		ev_run(ctx->loop, 0);
	return s.result;
}

void cli_report_io_error(struct cli_ctx *ctx, enum session_op op,
			 uint64_t offset, uint64_t length, int err)
{
	const char *last = ctx->cluster ? nb_session_last_error(ctx->cluster) : "";
	const char *what = err == -EIO ? "I/O error" : strerror(-err);

	nb_cli_err("%s: %s on %s of %llu bytes at offset %llu%s%s", ctx->cmd,
		what, nb_session_op_name(op), (unsigned long long)length,
		(unsigned long long)offset, last[0] ? ": " : "", last);
}

void cli_print_engine_stats(const struct cli_ctx *ctx)
{
	struct session_stats st;

	nb_session_get_stats(ctx->cluster, &st);
	printf("%s: engine: %" PRIu64 " requests, %" PRIu64 " retries, %" PRIu64
	       " reconnects, %" PRIu64 " map refreshes, %" PRIu64 " failed I/Os\n",
	       ctx->cmd, st.requests, st.retries, st.reconnects,
	       st.map_refreshes, st.errors);
}
