/* SPDX-License-Identifier: MIT */
/* One served volume: VDUSE device, workers, control thread, timers. */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <linux/virtio_ids.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "blk.h"
#include "options.h"
#include "session.h"
#include "control.h"
#include "log.h"
#include "state.h"
#include "sysfs.h"
#include "tls.h"
#include "volume.h"
#include "vdpa_nl.h"
#include "vduse_dev.h"
#include "worker.h"

struct volume {
	/* owned copies of the config's strings */
	struct volume_config cfg;
	char **nodes;
	char *volume, *name, *ca, *cert, *key, *tls_name, *mgmtdev, *state_dir;
	char *tls_ciphersuites;
	char *lock_owner, *break_lock_hint;
	/* the writer lock generation: presented at start (from the state
	 * file, for a takeover), then the one granted; 0 = none, and with a
	 * map of several stores (one lock each: the owner is what counts) */
	uint64_t lock_generation;
	bool lock_taken;	/* some store granted the lock: release it */
	/* FLUSH obligations shared by the sessions of every queue */
	struct session_flush_ledger *ledger;
	/* the lost lock is logged once for all queues (session_config) */
	int fence_logged;

	struct ev_loop *loop;
	struct worker *workers[VOLUME_MAX_QUEUES];
	char prefixes[VOLUME_MAX_QUEUES][96];
	struct control *control;
	struct state st;
	int dev_fd;
	int ctl_fd;                /* /dev/vduse/control, kept for destroy */
	bool takeover;
	char node[PATH_MAX];

	/* removal watch: the node while attached, "" while not */
	ev_timer watch_timer;
	char watched[PATH_MAX];

	/* online resize */
	ev_timer resize_timer;
	ev_async resize_answered;
	pthread_mutex_t resize_lock;
	bool resize_busy;
	unsigned int resize_answers;
	int resize_err;
	bool resize_differ;
	uint64_t resize_first;
	uint64_t size;             /* bytes the driver knows */
};

/*
 * The kernel removing the disk (vdpa dev del, driver unbind) waits for the
 * requests in flight; when the cluster does not answer they would never
 * complete. Its sysfs entry goes first, so watch it: once gone, requests
 * the cluster has not answered within a second fail, and the workers
 * reconnect for a possible re-attach.
 */
static void volume_watch_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct volume *v = t->data;
	char sysfs[PATH_MAX + 16];
	struct stat sb;
	unsigned int i;

	if (!v->watched[0]) {
		if (nb_sysfs_find_node(v->name, v->watched, sizeof(v->watched)) &&
		    nb_sysfs_is_disk(v->watched)) {
			snprintf(v->node, sizeof(v->node), "%s", v->watched);
			nb_log_msg(LOG_NOTICE, "%s: attached again as %s", v->name,
				v->watched);
		} else {
			v->watched[0] = '\0';
		}
		return;
	}
	snprintf(sysfs, sizeof(sysfs), "/sys/block/%s", v->watched + 5);
	if (stat(sysfs, &sb) == 0)
		return;
	nb_log_msg(LOG_NOTICE, "%s: the kernel removed %s; requests the cluster "
		"has not answered within 1 s fail", v->name, v->watched);
	for (i = 0; i < v->cfg.queues; i++)
		nb_worker_drain(v->workers[i], 1.0, true);
	v->watched[0] = '\0';
}

/* ---- online resize ----
 * Every resize_check seconds each worker asks its own connections for
 * the volume's size (so each checks requests against the new size before
 * the driver hears of it); once all agree on a new size, the config space
 * changes and a config interrupt tells the driver. */

/* From a worker's thread. */
static void volume_size_cb(void *opaque, unsigned int id, int err,
			   uint64_t size)
{
	struct volume *v = opaque;

	pthread_mutex_lock(&v->resize_lock);
	if (err)
		v->resize_err = err;
	else if (!v->resize_first)
		v->resize_first = size;
	else if (size != v->resize_first)
		v->resize_differ = true;
	if (++v->resize_answers == v->cfg.queues)
		ev_async_send(v->loop, &v->resize_answered);
	pthread_mutex_unlock(&v->resize_lock);
}

static void volume_resize_apply(struct volume *v, uint64_t size)
{
	uint64_t cap = htole64(size / 512);
	int ret;

	ret = nb_vduse_dev_set_config(v->dev_fd,
				   offsetof(struct virtio_blk_config, capacity),
				   &cap, sizeof(cap));
	if (ret == 0)
		ret = nb_vduse_dev_inject_config_irq(v->dev_fd);
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "%s: cannot tell the driver the new size: %s",
			v->name, strerror(-ret));
		return;
	}
	nb_log_msg(LOG_NOTICE, "%s: volume resized from %llu to %llu bytes",
		v->name, (unsigned long long)v->size,
		(unsigned long long)size);
	v->size = size;
}

static void volume_resize_answered_cb(struct ev_loop *loop, ev_async *w,
				      int revents)
{
	struct volume *v = w->data;
	uint64_t size = 0;
	bool apply = false;

	pthread_mutex_lock(&v->resize_lock);
	if (v->resize_busy && v->resize_answers == v->cfg.queues) {
		v->resize_busy = false;
		if (v->resize_err)
			nb_log_msg(LOG_INFO, "%s: size check failed: %s", v->name,
				strerror(-v->resize_err));
		else if (!v->resize_differ && v->resize_first != v->size)
			apply = true;
		size = v->resize_first;
	}
	pthread_mutex_unlock(&v->resize_lock);
	if (apply)
		volume_resize_apply(v, size);
}

static void volume_resize_check(struct volume *v)
{
	unsigned int i;

	pthread_mutex_lock(&v->resize_lock);
	if (v->resize_busy) {
		pthread_mutex_unlock(&v->resize_lock);
		return;
	}
	v->resize_busy = true;
	v->resize_answers = 0;
	v->resize_err = 0;
	v->resize_differ = false;
	v->resize_first = 0;
	pthread_mutex_unlock(&v->resize_lock);
	for (i = 0; i < v->cfg.queues; i++) {
		int ret = nb_worker_refresh_size(v->workers[i]);

		if (ret < 0)
			volume_size_cb(v, i, ret, 0);
	}
}

static void volume_resize_timer_cb(struct ev_loop *loop, ev_timer *t,
				   int revents)
{
	volume_resize_check(t->data);
}

/* ---- set-up ---- */

static void volume_cluster_config(struct volume *v,
				struct session_config *cfg, const char *prefix)
{
	*cfg = (struct session_config){
		.nodes = (const char *const *)v->nodes,
		.n_nodes = v->cfg.n_nodes,
		.volume = v->volume,
		.read_only = v->cfg.read_only,
		.tls_ca = v->ca,
		.tls_cert = v->cert,
		.tls_key = v->key,
		.tls_ciphersuites = v->tls_ciphersuites,
		.server_name = v->tls_name,
		.io_timeout = v->cfg.io_timeout,
		.connect_timeout = v->cfg.connect_timeout,
		.client_name = v->name,
		.lock_owner = v->cfg.read_only ? NULL : v->lock_owner,
		.lock_generation = v->lock_generation,
		.log_fn = nb_log_engine_sink,
		.log_opaque = (void *)prefix,
		.log_level = v->cfg.log_level,
		.flush_ledger = v->ledger,
		.fence_logged = &v->fence_logged,
	};
}

/*
 * The writer lock generation a takeover presents: the one the device's
 * previous daemon recorded in the state file, when the device still
 * exists and serves this volume. 0 (none) for a new device, and with
 * break_lock (the user takes the lock whoever holds it).
 */
static uint64_t volume_peek_generation(const struct volume *v)
{
	struct state st;
	uint64_t gen = 0;
	char err[256];

	if (v->cfg.read_only || v->cfg.break_lock ||
	    !nb_vduse_dev_exists(v->name) ||
	    nb_state_open(&st, v->state_dir, v->name, err, sizeof(err)) < 0)
		return 0;
	if (strcmp(st.hdr->volume, v->volume) == 0)
		gen = st.hdr->lock_generation;
	nb_state_close(&st, false);
	return gen;
}

/*
 * Open the volume once, to learn its geometry and fail early; a
 * read-write volume takes the writer lock here (breaking it with
 * break_lock), and the workers then present the generation granted.
 */
static int volume_probe(struct volume *v, struct session_volume *vol,
			char *err, size_t errlen)
{
	struct session_config cfg;
	struct session_lock held;
	struct ev_loop *loop;
	struct session *c;
	char msg[512] = "";
	const char *hint = v->break_lock_hint ? v->break_lock_hint :
			   "--break-lock";
	int ret;

	v->lock_generation = volume_peek_generation(v);
	volume_cluster_config(v, &cfg, NULL);
	cfg.break_lock = v->cfg.break_lock && !v->cfg.read_only;
	loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!loop)
		return -ENOMEM;
	c = nb_session_open_sync(loop, &cfg, msg, sizeof(msg));
	if (!c) {
		ret = -errno;
		if (ret == -EBUSY)
			snprintf(err, errlen, "cannot open volume '%s' for writing: %s. "
				 "Stop that client, or take the lock over with %s, "
				 "or break it with 'netblk-cli unlock' (its holder's "
				 "writes then fail with I/O errors)", v->volume,
				 msg, hint);
		else if (ret == -ESTALE)
			snprintf(err, errlen, "%s: not taking the device over: its "
				 "previous daemon held volume '%s''s writer lock at "
				 "generation %llu, and the lock was broken or released "
				 "since (another client may have written): %s. To take "
				 "the lock back anyway use %s; or stop the device",
				 v->name, v->volume,
				 (unsigned long long)v->lock_generation, msg, hint);
		else
			snprintf(err, errlen, "cannot open volume '%s': %s",
				 v->volume, msg[0] ? msg : strerror(errno));
		nb_log_msg(LOG_ERR, "%s", err);
		ev_loop_destroy(loop);
		v->lock_generation = 0;	/* nothing taken: nothing to release */
		return ret;
	}
	*vol = *nb_session_volume(c);
	nb_session_writer_lock(c, &held);
	v->lock_generation = held.generation;
	v->lock_taken = nb_session_locks_held(c) > 0;
	if (held.generation)
		nb_log_msg(LOG_INFO, "%s: writer lock of volume '%s' held as '%s', "
			"generation %llu", v->name, v->volume, held.owner,
			(unsigned long long)held.generation);
	else if (v->lock_taken)
		nb_log_msg(LOG_INFO, "%s: writer lock of volume '%s' held as '%s' "
			"on %zu stores", v->name, v->volume, v->lock_owner,
			nb_session_locks_held(c));
	nb_session_free(c);
	ev_loop_destroy(loop);
	return 0;
}

/*
 * At a clean stop: give the writer lock back, once per store (a map
 * group, or a node without one), where it is still ours: UNLOCK at the
 * generation seen, so that a lock someone else took meanwhile is left
 * alone. With one store, the generation must also be the one we hold.
 */
static void volume_release_lock(struct volume *v)
{
	struct admin_store_lock *stores = NULL;
	struct session_config cfg;
	struct ev_loop *loop;
	char err[512] = "";
	int n, ret, released = 0;

	if (v->cfg.read_only || !v->lock_taken)
		return;
	loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!loop)
		return;
	volume_cluster_config(v, &cfg, NULL);
	n = nb_admin_store_locks(loop, &cfg, &stores, err, sizeof(err));
	if (n < 0)
		nb_log_msg(LOG_WARNING, "%s: cannot release the writer lock of "
			"volume '%s': %s", v->name, v->volume,
			err[0] ? err : strerror(-n));
	for (int i = 0; i < n; i++) {
		const struct admin_store_lock *st = &stores[i];

		if (st->err == -ENOENT || st->err == -EOPNOTSUPP)
			continue;
		if (st->err < 0) {
			nb_log_msg(LOG_WARNING, "%s: cannot release the writer "
				"lock of volume '%s' on %s: %s", v->name,
				v->volume, st->node, st->errmsg);
			continue;
		}
		if (!st->lock.owner[0])
			continue;	/* never taken there, or broken */
		if (strcmp(st->lock.owner, v->lock_owner) ||
		    (v->lock_generation &&
		     st->lock.generation != v->lock_generation)) {
			nb_log_msg(LOG_NOTICE, "%s: writer lock of volume '%s' "
				"on %s not released: it moved on (held by "
				"'%s', generation %llu)", v->name, v->volume,
				st->node, st->lock.owner,
				(unsigned long long)st->lock.generation);
			continue;
		}
		err[0] = '\0';
		ret = nb_admin_unlock(loop, &cfg, st->node, st->lock.generation,
				   NULL, err, sizeof(err));
		if (ret == 0)
			released++;
		else if (ret == -ESTALE)
			nb_log_msg(LOG_NOTICE, "%s: writer lock of volume '%s' on "
				"%s not released: it moved on (%s)", v->name,
				v->volume, st->node, err);
		else if (ret != -EOPNOTSUPP)
			nb_log_msg(LOG_WARNING, "%s: cannot release the writer "
				"lock of volume '%s' on %s (generation %llu): %s",
				v->name, v->volume, st->node,
				(unsigned long long)st->lock.generation,
				err[0] ? err : strerror(-ret));
	}
	free(stores);
	ev_loop_destroy(loop);
	if (released)
		nb_log_msg(LOG_INFO, "%s: writer lock of volume '%s' released",
			v->name, v->volume);
}

static void volume_blk_params(const struct volume *v,
			      const struct session_volume *vol,
			      struct blk_params *p)
{
	*p = (struct blk_params){
		.size_bytes = vol->size,
		.block_size = vol->block_size ? vol->block_size : 512,
		.read_only = v->cfg.read_only || vol->read_only,
		.max_discard_bytes = vol->max_discard_size,
		.max_write_zeroes_bytes = vol->max_write_zeroes_size,
		.max_discard_seg = 1,
		.max_write_zeroes_seg = 1,
		.num_queues = v->cfg.queues,
		.queue_size = v->cfg.queue_size,
		.max_segment_bytes = 1u << 20,
	};
	/*
	 * A request must fit in the bounce buffer at once, or the kernel
	 * requeues it for ever (a hang). A request has at most seg_max
	 * (<= VOLUME_SEG_MAX) segments of size_max bytes: keep that under half
	 * the buffer, whatever max_sectors_kb root sets.
	 */
	if (v->cfg.bounce_size) {
		uint64_t seg = (v->cfg.bounce_size / 2 / VOLUME_SEG_MAX) & ~4095ULL;

		if (seg < p->max_segment_bytes)
			p->max_segment_bytes = (uint32_t)seg;
	}
	/* GET_ID: the volume id, truncated to the 20 bytes virtio allows. */
	memcpy(p->serial, v->volume, strnlen(v->volume, sizeof(p->serial)));
}

static char *volume_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void volume_free(struct volume *v)
{
	size_t i;

	for (i = 0; v->nodes && i < v->cfg.n_nodes; i++)
		free(v->nodes[i]);
	free(v->nodes);
	free(v->volume);
	free(v->name);
	free(v->ca);
	free(v->cert);
	free(v->key);
	free(v->tls_name);
	free(v->tls_ciphersuites);
	free(v->mgmtdev);
	free(v->state_dir);
	free(v->lock_owner);
	free(v->break_lock_hint);
	nb_flush_ledger_free(v->ledger);
	pthread_mutex_destroy(&v->resize_lock);
	free(v);
}

static struct volume *volume_new(const struct volume_config *cfg)
{
	struct volume *v = calloc(1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	v->cfg = *cfg;
	v->dev_fd = -1;
	v->ctl_fd = -1;
	v->st.fd = -1;
	pthread_mutex_init(&v->resize_lock, NULL);
	v->nodes = calloc(cfg->n_nodes, sizeof(char *));
	v->volume = volume_strdup(cfg->volume);
	v->name = volume_strdup(cfg->name);
	v->ca = volume_strdup(cfg->ca);
	v->cert = volume_strdup(cfg->cert);
	v->key = volume_strdup(cfg->key);
	v->tls_name = volume_strdup(cfg->tls_name);
	v->tls_ciphersuites = volume_strdup(cfg->tls_ciphersuites);
	v->mgmtdev = volume_strdup(cfg->mgmtdev);
	v->state_dir = volume_strdup(cfg->state_dir ? cfg->state_dir :
				     STATE_DEFAULT_DIR);
	v->ledger = nb_flush_ledger_new();
	v->break_lock_hint = volume_strdup(cfg->break_lock_hint);
	if (cfg->lock_owner) {
		v->lock_owner = strdup(cfg->lock_owner);
	} else if (cfg->name) {
		char owner[SESSION_NAME_MAX + 1];

		if (nb_options_lock_owner(cfg->name, owner, sizeof(owner)) < 0)
			snprintf(owner, sizeof(owner), "%.200s@localhost",
				 cfg->name);
		v->lock_owner = strdup(owner);
	}
	if (!v->nodes || !v->volume || !v->name || !v->state_dir ||
	    !v->lock_owner || !v->ledger)
		goto out_free;
	for (i = 0; i < cfg->n_nodes; i++) {
		v->nodes[i] = strdup(cfg->nodes[i]);
		if (!v->nodes[i])
			goto out_free;
	}
	return v;

out_free:
	volume_free(v);
	errno = ENOMEM;
	return NULL;
}

/* VDUSE_DESTROY_DEV through the control fd opened at start, so that it
 * still works after the daemon dropped its privileges. */
static int volume_destroy(struct volume *v, char *err, size_t errlen)
{
	if (v->ctl_fd < 0)
		return nb_vduse_dev_destroy(v->name, err, errlen);
	return nb_vduse_dev_destroy_fd(v->ctl_fd, v->name, err, errlen);
}

/*
 * Size the new device's bounce buffer before its first attach. The
 * workers map it whole, and the pages the kernel has bounced through
 * count in our resident size: with the kernel's 64 MiB default a heavy
 * load (large blocks, deep queues) takes the daemon past 64 MiB.
 * Requests that find the buffer full wait in the kernel for room.
 */
static int volume_set_bounce(struct volume *v, char *err, size_t errlen)
{
	unsigned long long mib = v->cfg.bounce_size >> 20;
	char why[384];
	int ret;

	if (!v->cfg.bounce_size)
		return 0;
	ret = nb_vduse_dev_set_bounce_size(v->name, v->cfg.bounce_size, why,
					sizeof(why));
	if (ret == 0) {
		nb_log_msg(LOG_INFO, "%s: bounce buffer %llu MiB", v->name, mib);
		return 0;
	}
	if (ret == -ENOENT && !v->cfg.bounce_size_given) {
		nb_log_msg(LOG_NOTICE, "%s: this kernel cannot size a VDUSE bounce "
			"buffer (this VDUSE has no bounce_size in sysfs); its "
			"default applies", v->name);
		return 0;
	}
	if (!v->cfg.bounce_size_given) {
		nb_log_msg(LOG_WARNING, "%s: the bounce buffer stays at the "
			"kernel's default size: %s", v->name, why);
		return 0;
	}
	snprintf(err, errlen, "%s: cannot set the bounce buffer to %llu MiB "
		 "(--bounce-size): %s", v->name, mib, why);
	nb_log_msg(LOG_ERR, "%s", err);
	return ret;
}

/* Create the device, or find the state to take over an existing one. */
static int volume_create(struct volume *v, const struct blk_params *bp,
			 char *err, size_t errlen)
{
	struct virtio_blk_config config;
	struct vduse_dev_params dp;
	uint64_t features;
	char serr[512];
	int ret;

	nb_blk_config_build(bp, &config, &features);
	dp = (struct vduse_dev_params){
		.name = v->name,
		.device_id = VIRTIO_ID_BLOCK,
		.features = features,
		.vq_num = v->cfg.queues,
		.vq_align = 4096,
		.vq_max_size = v->cfg.queue_size,
		.config = &config,
		.config_size = sizeof(config),
	};
	ret = nb_vduse_dev_create(&dp, err, errlen);
	if (ret == 0) {
		ret = volume_set_bounce(v, err, errlen);
		if (ret < 0) {
			volume_destroy(v, serr, sizeof(serr));
			return ret;
		}
		ret = nb_state_create(&v->st, v->state_dir, v->name, v->volume,
				   v->cfg.queues, v->cfg.queue_size, err,
				   errlen);
		if (ret < 0) {
			nb_log_msg(LOG_ERR, "%s", err);
			volume_destroy(v, serr, sizeof(serr));
			return ret;
		}
		v->st.hdr->lock_generation = v->lock_generation;
		return 0;
	}
	if (ret != -EEXIST) {
		nb_log_msg(LOG_ERR, "%s", err);
		return ret;
	}
	if (nb_state_open(&v->st, v->state_dir, v->name, serr, sizeof(serr)) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (no state to take it over: %s)",
			 serr);
		nb_log_msg(LOG_ERR, "%s", err);
		return ret;
	}
	if (strcmp(v->st.hdr->volume, v->volume) != 0) {
		snprintf(err, errlen, "device '%s' serves volume '%s', not '%s': "
			 "refusing to take it over", v->name, v->st.hdr->volume,
			 v->volume);
		nb_log_msg(LOG_ERR, "%s", err);
		nb_state_close(&v->st, false);
		return -EEXIST;
	}
	if (v->st.hdr->num_queues != v->cfg.queues ||
	    v->st.hdr->queue_size != v->cfg.queue_size)
		nb_log_msg(LOG_NOTICE, "%s: taking over with the device's %u "
			"queue(s) of %u", v->name, v->st.hdr->num_queues,
			v->st.hdr->queue_size);
	v->cfg.queues = v->st.hdr->num_queues;
	v->cfg.queue_size = v->st.hdr->queue_size;
	/* the generation this daemon holds (the same, or one --break-lock
	 * took): the next takeover presents it */
	v->st.hdr->lock_generation = v->lock_generation;
	v->takeover = true;
	return 0;
}

static int volume_attach(struct volume *v, char *err, size_t errlen)
{
	int ret;

	if (v->takeover && nb_sysfs_attached(v->name)) {
		if (!nb_sysfs_wait_node(v->name, v->node, sizeof(v->node)))
			snprintf(v->node, sizeof(v->node), "/dev/vduse/%s",
				 v->name);
		nb_log_msg(LOG_NOTICE, "%s: took over, serving %s", v->name,
			v->node);
		return 0;
	}
	if (!v->cfg.attach) {
		snprintf(v->node, sizeof(v->node), "/dev/vduse/%s", v->name);
		nb_log_msg(LOG_NOTICE, "%s: created, not attached (--no-attach): "
			"'vdpa dev add name %s mgmtdev vduse'", v->name, v->name);
		return 0;
	}
	ret = nb_vdpa_dev_add(v->name, v->mgmtdev, err, errlen);
	if (ret < 0) {
		nb_log_msg(LOG_ERR, "%s", err);
		return ret;
	}
	if (nb_sysfs_wait_node(v->name, v->node, sizeof(v->node))) {
		nb_log_msg(LOG_NOTICE, "%s: attached as %s", v->name, v->node);
	} else {
		snprintf(v->node, sizeof(v->node), "/dev/vduse/%s", v->name);
		nb_log_msg(LOG_WARNING, "%s: attached to vDPA, but no block or "
			"vhost device appeared within %d s (load virtio_blk and "
			"virtio_vdpa, or vhost_vdpa)", v->name,
			SYSFS_NODE_WAIT_MS / 1000);
	}
	return 0;
}

static void volume_start_timers(struct volume *v, const struct blk_params *bp)
{
	if (nb_sysfs_is_disk(v->node))
		snprintf(v->watched, sizeof(v->watched), "%s", v->node);
	ev_timer_init(&v->watch_timer, volume_watch_cb, 0.25, 0.25);
	v->watch_timer.data = v;
	ev_timer_start(v->loop, &v->watch_timer);
	v->size = bp->size_bytes;
	ev_async_init(&v->resize_answered, volume_resize_answered_cb);
	v->resize_answered.data = v;
	ev_async_start(v->loop, &v->resize_answered);
	ev_timer_init(&v->resize_timer, volume_resize_timer_cb,
		      v->cfg.resize_check, v->cfg.resize_check);
	v->resize_timer.data = v;
	if (v->cfg.resize_check > 0)
		ev_timer_start(v->loop, &v->resize_timer);
}

/* Undo what start did, in reverse; with leave, keep the device. */
static int volume_teardown(struct volume *v, bool leave, bool serving)
{
	char err[512];
	unsigned int i;
	int ret = 0;

	if (!leave && serving) {
		/* The kernel's detach waits for requests in flight: bound it. */
		for (i = 0; i < v->cfg.queues; i++)
			nb_worker_drain(v->workers[i], v->cfg.stop_timeout, false);
		if (v->cfg.attach || v->takeover) {
			int r = nb_vdpa_dev_del(v->name, err, sizeof(err));

			if (r < 0 && r != -ENODEV) {
				nb_log_msg(LOG_ERR, "%s", err);
				ret = r;
			}
		}
	}
	nb_control_stop(v->control, leave);
	for (i = 0; i < VOLUME_MAX_QUEUES; i++)
		nb_worker_stop(v->workers[i]);
	if (v->dev_fd >= 0)
		close(v->dev_fd);
	if (leave || (v->takeover && !serving)) {
		/* Not ours to destroy: left for whoever can serve it. */
		nb_state_close(&v->st, false);
		goto out_close_ctl;
	}
	nb_state_close(&v->st, true);
	if (serving)
		volume_release_lock(v);
	if (volume_destroy(v, err, sizeof(err)) < 0) {
		nb_log_msg(LOG_ERR, "%s", err);
		if (ret == 0)
			ret = -EBUSY;
	} else {
		nb_log_msg(LOG_INFO, "%s: destroyed", v->name);
	}
out_close_ctl:
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	v->ctl_fd = -1;
	return ret;
}

struct volume *nb_volume_start(struct ev_loop *loop,
			    const struct volume_config *cfg, char *err,
			    size_t errlen)
{
	struct session_volume vol = { 0 };
	struct session_config ccfg;
	struct blk_params bp;
	struct volume *v;
	const char *why;
	unsigned int i;
	int ret;

	if (cfg->queues == 0 || cfg->queues > VOLUME_MAX_QUEUES ||
	    cfg->n_nodes == 0) {
		snprintf(err, errlen, "bad device configuration");
		errno = EINVAL;
		return NULL;
	}
	v = volume_new(cfg);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->loop = loop;
	ret = volume_probe(v, &vol, err, errlen);
	if (ret < 0)
		goto out_free;
	volume_blk_params(v, &vol, &bp);
	why = nb_blk_params_check(&bp);
	if (why) {
		snprintf(err, errlen, "volume '%s' cannot be served: %s",
			 v->volume, why);
		nb_log_msg(LOG_ERR, "%s", err);
		ret = -EINVAL;
		goto out_free;
	}
	v->ctl_fd = nb_vduse_dev_control_open(err, errlen);
	if (v->ctl_fd < 0) {
		ret = v->ctl_fd;
		nb_log_msg(LOG_ERR, "%s", err);
		goto out_free;
	}
	ret = volume_create(v, &bp, err, errlen);
	if (ret < 0)
		goto out_close_ctl;
	volume_blk_params(v, &vol, &bp);  /* a takeover may change the queues */
	v->dev_fd = nb_vduse_dev_open(v->name, 2000, err, errlen);
	if (v->dev_fd < 0) {
		ret = v->dev_fd;
		nb_log_msg(LOG_ERR, "%s", err);
		goto out_teardown;
	}
	if (v->takeover)
		nb_log_msg(LOG_NOTICE, "%s: taking over the existing device",
			v->name);
	for (i = 0; i < v->cfg.queues; i++) {
		struct worker_params wp = {
			.id = i, .dev_name = v->name, .dev_fd = v->dev_fd,
			.blk = &bp, .cluster = &ccfg,
			.size_cb = volume_size_cb, .size_opaque = v,
		};

		snprintf(v->prefixes[i], sizeof(v->prefixes[i]), "%s/q%u",
			 v->name, i);
		volume_cluster_config(v, &ccfg, v->prefixes[i]);
		v->workers[i] = nb_worker_start(&wp, err, errlen);
		if (!v->workers[i]) {
			ret = -errno;
			nb_log_msg(LOG_ERR, "worker %u: %s", i, err);
			goto out_teardown;
		}
	}
	v->control = nb_control_start(v->name, v->dev_fd, v->cfg.queues, v->workers,
				   v->cfg.queues, v->st.queues, v->takeover);
	if (!v->control) {
		ret = -errno;
		snprintf(err, errlen, "cannot start the control thread: %s",
			 strerror(errno));
		nb_log_msg(LOG_ERR, "%s", err);
		goto out_teardown;
	}
	nb_log_msg(LOG_NOTICE, "%s: volume '%s', %llu bytes, block size %u%s, "
		"%u queue(s) of %u", v->name, v->volume,
		(unsigned long long)vol.size, bp.block_size,
		bp.read_only ? ", read-only" : "", v->cfg.queues,
		v->cfg.queue_size);
	ret = volume_attach(v, err, errlen);
	if (ret < 0)
		goto out_teardown;
	volume_start_timers(v, &bp);
	return v;

out_teardown:
	volume_teardown(v, false, false);	/* closes ctl_fd */
	goto out_free;
out_close_ctl:
	close(v->ctl_fd);
out_free:
	/*
	 * A lock taken for a device that never served is given back; while
	 * a device of this name exists (ours to take over, or another
	 * daemon's under the same owner) the lock stays with it.
	 */
	if (!v->takeover && !nb_vduse_dev_exists(v->name))
		volume_release_lock(v);
	volume_free(v);
	errno = -ret;
	return NULL;
}

const char *nb_volume_node(const struct volume *v)
{
	return v->node;
}

bool nb_volume_took_over(const struct volume *v)
{
	return v->takeover;
}

const char *nb_volume_name(const struct volume *v)
{
	return v->name;
}

const char *nb_volume_id(const struct volume *v)
{
	return v->volume;
}

int nb_volume_reload_tls(struct volume *v)
{
	char err[512];
	unsigned int i;
	SSL_CTX *ctx;

	ctx = nb_tls_client_ctx_new(v->ca, v->cert, v->key, v->tls_ciphersuites,
				 err, sizeof(err));
	if (!ctx) {
		nb_log_msg(LOG_ERR, "%s: certificates not reloaded, keeping the "
			"current ones: %s", v->name, err);
		return -EINVAL;
	}
	for (i = 0; i < v->cfg.queues; i++)
		nb_worker_reload_tls(v->workers[i], ctx);
	SSL_CTX_free(ctx);
	nb_log_msg(LOG_NOTICE, "%s: certificates reloaded from %s, %s, %s; new "
		"connections use them", v->name, v->ca, v->cert, v->key);
	volume_resize_check(v);
	return 0;
}

int nb_volume_set_io_timeout(struct volume *v, double seconds)
{
	unsigned int i;
	int ret, first = 0;

	if (!(seconds >= 0))
		return -EINVAL;
	v->cfg.io_timeout = seconds;
	for (i = 0; i < v->cfg.queues; i++) {
		ret = nb_worker_set_io_timeout(v->workers[i], seconds);
		if (ret < 0 && !first)
			first = ret;
	}
	if (first)
		nb_log_msg(LOG_ERR, "%s: io_timeout %g s not set on every queue: "
			"%s", v->name, seconds, strerror(-first));
	else
		nb_log_msg(LOG_NOTICE, "%s: io_timeout now %g s%s", v->name,
			seconds, seconds > 0 ? "" : " (retry forever)");
	return first;
}

void nb_volume_get_stats(struct volume *v, struct volume_stats *out)
{
	unsigned int i, op;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < v->cfg.queues; i++) {
		struct worker_stats ws;

		nb_worker_get_stats(v->workers[i], &ws);
		out->requests += ws.requests;
		out->errors += ws.errors;
		out->bytes_read += ws.bytes_read;
		out->bytes_written += ws.bytes_written;
		out->inflight += ws.inflight;
		out->retries += ws.retries;
		out->reconnects += ws.reconnects;
		out->timeouts += ws.timeouts;
		out->map_refreshes += ws.map_refreshes;
		out->conns_up += ws.conns_ready;
		for (op = 0; op < BLK_OP_MAX; op++) {
			struct worker_latency *d = &out->latency[op];
			const struct worker_latency *l = &ws.latency[op];
			unsigned int b;

			for (b = 0; b < WORKER_LAT_BUCKETS; b++)
				d->bucket[b] += l->bucket[b];
			d->count += l->count;
			d->sum_ns += l->sum_ns;
		}
	}
	out->size = v->size;
}

int nb_volume_give_state(struct volume *v, uid_t uid, gid_t gid, char *err,
		      size_t errlen)
{
	int ret;

	if (v->st.fd >= 0 && fchown(v->st.fd, uid, gid) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot give the state file %s to uid %u: "
			 "%s", v->st.path, (unsigned)uid, strerror(-ret));
		return ret;
	}
	if (chown(v->state_dir, uid, gid) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot give the state directory %s to "
			 "uid %u: %s", v->state_dir, (unsigned)uid,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

int nb_volume_stop(struct volume *v, bool leave)
{
	int ret;

	if (!v)
		return 0;
	ev_timer_stop(v->loop, &v->watch_timer);
	ev_timer_stop(v->loop, &v->resize_timer);
	ev_async_stop(v->loop, &v->resize_answered);
	if (leave)
		nb_log_msg(LOG_NOTICE, "%s: leaving the device in place for a new "
			"daemon (state in %s)", v->name, v->st.path);
	ret = volume_teardown(v, leave, true);
	volume_free(v);
	return ret;
}
