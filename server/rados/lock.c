/* SPDX-License-Identifier: MIT */
/* The writer lock on the header object, its watch, and fencing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errmsg.h"
#include "rados_int.h"

#define LOCK_CAS_TRIES 32

/* A newer generation: writes admitted so far become old ones. */
void nb_rados_lock_gen_seen(struct nb_rados_vol *vol, uint64_t gen)
{
	pthread_mutex_lock(&vol->fence_mu);
	if (gen > atomic_load(&vol->known_gen)) {
		atomic_store(&vol->known_gen, gen);
		vol->fence_old += vol->fence_cur;
		vol->fence_cur = 0;
		vol->fence_epoch++;
	}
	pthread_mutex_unlock(&vol->fence_mu);
}

int nb_rados_fence_admit(struct nb_rados_vol *vol, uint64_t gen, uint64_t *epoch)
{
	int ret = 0;

	pthread_mutex_lock(&vol->fence_mu);
	if (atomic_load(&vol->known_gen) != gen)
		ret = -ESTALE;
	else if (!nb_rados_watch_current(vol))
		ret = -ENOTCONN;
	if (!ret) {
		vol->fence_cur++;
		*epoch = vol->fence_epoch;
	}
	pthread_mutex_unlock(&vol->fence_mu);
	return ret;
}

/* A write of ours may still land (fence_mu held): acknowledge no fence. */
static bool lock_fence_tainted(struct nb_rados_vol *vol)
{
	return vol->timedout_io && vol->timedout_io == atomic_load(&vol->watch_io);
}

void nb_rados_fence_timedout(struct nb_rados_vol *vol, rados_ioctx_t io)
{
	pthread_mutex_lock(&vol->fence_mu);
	vol->timedout_io = io;
	pthread_mutex_unlock(&vol->fence_mu);
}

void nb_rados_fence_done(struct nb_rados_vol *vol, uint64_t epoch)
{
	struct rs_ack *acks = NULL, *a;
	bool ack = true;

	pthread_mutex_lock(&vol->fence_mu);
	if (epoch == vol->fence_epoch) {
		vol->fence_cur--;
	} else if (--vol->fence_old == 0) {
		acks = vol->acks;
		vol->acks = NULL;
		ack = !lock_fence_tainted(vol);
	}
	pthread_mutex_unlock(&vol->fence_mu);
	/* The last old write is done: the breakers' notifies may return.
	 * Unless one of them timed out: it may still land, so the breakers
	 * get no ack and blocklist us. */
	while ((a = acks)) {
		acks = a->next;
		if (ack)
			rados_notify_ack(vol->watch_io, vol->header_oid, a->notify_id,
					 a->cookie, NULL, 0);
		free(a);
	}
}

static void lock_size_seen(struct nb_rados_vol *vol, uint64_t size)
{
	uint64_t cur = atomic_load(&vol->size);

	while (size > cur && !atomic_compare_exchange_weak(&vol->size, &cur, size))
		;
}

/* A notify on the header (librados thread): "gen=HEX" or "size=DEC". */
static void lock_watch_cb(void *arg, uint64_t notify_id, uint64_t handle,
			  uint64_t notifier_id, void *data, size_t data_len)
{
	struct nb_rados_vol *vol = arg;
	char text[64];
	uint64_t v;

	if (data && data_len < sizeof(text)) {
		memcpy(text, data, data_len);
		text[data_len] = '\0';
		if (sscanf(text, "gen=%" SCNx64, &v) == 1) {
			struct rs_ack *a;

			nb_rados_lock_gen_seen(vol, v);
			/* Writes of older generations still running here: the
			 * ack (and so the breaker) waits for them; the last one
			 * sends it (nb_rados_fence_done). Without memory, ack
			 * now: the breaker's notify would time out anyway.
			 * A write that timed out may still land: no ack, the
			 * breaker blocklists us. */
			pthread_mutex_lock(&vol->fence_mu);
			if (lock_fence_tainted(vol)) {
				pthread_mutex_unlock(&vol->fence_mu);
				return;
			}
			if (vol->fence_old && (a = malloc(sizeof(*a)))) {
				a->notify_id = notify_id;
				a->cookie = handle;
				a->next = vol->acks;
				vol->acks = a;
				pthread_mutex_unlock(&vol->fence_mu);
				return;
			}
			pthread_mutex_unlock(&vol->fence_mu);
		} else if (sscanf(text, "size=%" SCNu64, &v) == 1) {
			lock_size_seen(vol, v);
		}
	}
	rados_notify_ack(vol->watch_io, vol->header_oid, notify_id, handle, NULL, 0);
}

bool nb_rados_watch_current(struct nb_rados_vol *vol)
{
	/* after a reconnect (another volume of the store met the blocklist),
	 * a watch on the replaced instance hears no more notifies */
	return atomic_load(&vol->watch_ok) &&
	       atomic_load(&vol->watch_io) == atomic_load(&vol->st->io);
}

/* The watch is lost (librados thread): notifies may have been missed. */
static void lock_watch_err_cb(void *arg, uint64_t cookie, int err)
{
	struct nb_rados_vol *vol = arg;

	atomic_store(&vol->watch_ok, false);
}

/*
 * Arm the watch. watch_ok stays false: the caller sets it only once it
 * has read the header after arming, so that no notify can fall between
 * the header it knows and the watch (writes of an old generation would
 * be admitted in that window).
 */
int nb_rados_watch_start(struct nb_rados_vol *vol)
{
	rados_ioctx_t io = vol->st->io;
	int ret;

	atomic_store(&vol->watch_ok, false);
	/* Where a breaker finds us when we do not acknowledge its fence. */
	ret = nb_rados_watcher_publish(vol->st, io, vol->header_oid);
	if (ret < 0)
		return ret;
	/* One count per handle; a replaced instance's key stays (it was
	 * blocklisted: a breaker removes it). */
	if (vol->pub_io)
		nb_rados_watcher_unpublish(vol->st, vol->pub_io, vol->header_oid, true);
	vol->pub_io = io;
	vol->watch_io = io;
	ret = rados_watch2(io, vol->header_oid, &vol->watch_cookie,
			   lock_watch_cb, lock_watch_err_cb, vol);
	if (ret < 0)
		return ret;
	vol->watching = true;
	return 0;
}

void nb_rados_watch_stop(struct nb_rados_vol *vol)
{
	if (!vol->watching)
		return;
	rados_unwatch2(vol->watch_io, vol->watch_cookie);
	/* No callback of this watch runs after this. */
	rados_watch_flush(rados_ioctx_get_cluster(vol->watch_io));
	vol->watching = false;
	atomic_store(&vol->watch_ok, false);
}

/*
 * Tell the watchers of oid that gen is current; a watcher that does not
 * acknowledge is blocklisted. 0 with a warning in note (the caller's err
 * buffer) or "", or NB_RADOS_EFENCE when the fence is not sure: a
 * watcher that did not acknowledge could not be blocklisted (why in note).
 */
static int lock_notify_gen(struct nb_rados_store *st, const char *oid, uint64_t gen,
			   const char *name, char *note, size_t notelen)
{
	char text[32], what[768];
	int ret;

	snprintf(text, sizeof(text), "gen=%016" PRIx64, gen);
	ret = nb_rados_header_notify(st, oid, text, true, what, sizeof(what));
	if (ret < 0)
		return nb_errf(note, notelen, NB_RADOS_EFENCE, "volume '%s': lock not "
			       "broken (it stays with its holder, at generation %" PRIu64
			       "), the fence is not sure: %s", name, gen, what);
	if (ret > 0 && note)
		snprintf(note, notelen, "volume '%s', lock generation %" PRIu64 ": %s",
			 name, gen, what);
	return 0;
}

/*
 * The fence of a take or break to gen failed: give the lock back to its
 * holder before (at gen: the generation cannot go back, and the nodes
 * that acknowledged refuse the older one already). Nobody else writes,
 * and a delete still finds the volume locked.
 */
static void lock_fence_failed(struct nb_rados_store *st, const char *oid, uint64_t gen,
			      const struct nb_rados_lock_holder *before)
{
	nb_rados_lock_write(st, oid, gen, before->owner, gen, before->since);
}

static void lock_since_str(uint64_t since, char *buf, size_t len)
{
	time_t t = (time_t)since;
	struct tm tm;

	if (!since || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%" PRIu64, since);
}

int nb_rados_lock_take(struct nb_rados_vol *vol, const char *owner, bool brk,
		       uint64_t *gen, struct nb_rados_lock_holder *holder,
		       char *err, size_t errlen)
{
	return nb_rados_lock_take_gen(vol, owner, brk, 0, gen, holder, err, errlen);
}

int nb_rados_lock_take_gen(struct nb_rados_vol *vol, const char *owner, bool brk,
			   uint64_t expect_gen, uint64_t *gen,
			   struct nb_rados_lock_holder *holder,
			   char *err, size_t errlen)
{
	bool shared = vol->flags & NB_RADOS_OPEN_SHARED;
	struct nb_rados_vol_info info;
	char since[32];
	int ret = 0, tries;

	if (!owner || !*owner || strlen(owner) >= NB_RADOS_OWNER_MAX)
		return nb_errf(err, errlen, -EINVAL, "volume '%s': lock owner must be "
			       "1 to %d bytes", vol->name, NB_RADOS_OWNER_MAX - 1);
	if (err && errlen)
		err[0] = '\0';
	pthread_mutex_lock(&vol->lock_mu);
	for (tries = 0; tries < LOCK_CAS_TRIES; tries++) {
		uint64_t next, since_now;

		ret = nb_rados_header_read(vol->st, vol->header_oid, &info);
		if (ret < 0) {
			nb_errf(err, errlen, ret, "volume '%s': cannot read its header: %s",
				vol->name, strerror(-ret));
			goto out;
		}
		nb_rados_lock_gen_seen(vol, info.lock.gen);
		if (expect_gen && info.lock.gen != expect_gen) {
			if (holder)
				*holder = info.lock;
			ret = nb_errf(err, errlen, -ESTALE, "volume '%s': lock generation %"
				      PRIu64 " was broken (now %" PRIu64 ")", vol->name,
				      expect_gen, info.lock.gen);
			goto out;
		}
		if (strcmp(info.lock.owner, owner) == 0) {
			/* Ours already: a takeover by the same owner. */
			if (!shared) {
				atomic_store(&vol->held_gen, info.lock.gen);
				snprintf(vol->owner, sizeof(vol->owner), "%s", owner);
			}
			*gen = info.lock.gen;
			if (holder)
				*holder = info.lock;
			goto out_osdmap;
		}
		if (info.lock.owner[0] && !brk) {
			if (holder)
				*holder = info.lock;
			lock_since_str(info.lock.since, since, sizeof(since));
			ret = nb_errf(err, errlen, -EBUSY, "volume '%s' is locked by '%s' "
				      "since %s (generation %" PRIu64 "); break the lock "
				      "to take it over", vol->name, info.lock.owner,
				      since, info.lock.gen);
			goto out;
		}
		next = info.lock.gen + 1;
		since_now = (uint64_t)time(NULL);
		ret = nb_rados_lock_write(vol->st, vol->header_oid, info.lock.gen, owner,
				    next, since_now);
		if (ret == -ECANCELED)
			continue;	/* someone else changed it: look again */
		if (ret < 0) {
			nb_errf(err, errlen, ret, "volume '%s': cannot write its lock: %s",
				vol->name, strerror(-ret));
			goto out;
		}
		nb_rados_lock_gen_seen(vol, next);
		*gen = next;
		if (holder) {
			snprintf(holder->owner, sizeof(holder->owner), "%s", owner);
			holder->gen = next;
			holder->since = since_now;
		}
		/* The former holder's handles learn it now. */
		ret = lock_notify_gen(vol->st, vol->header_oid, next, vol->name,
				      err, errlen);
		if (ret < 0) {
			lock_fence_failed(vol->st, vol->header_oid, next, &info.lock);
			if (holder) {
				*holder = info.lock;
				holder->gen = next;
			}
			goto out;
		}
		/* fenced: only now may this handle write under next */
		if (!shared) {
			atomic_store(&vol->held_gen, next);
			snprintf(vol->owner, sizeof(vol->owner), "%s", owner);
		}
		goto out_osdmap;
	}
	ret = nb_errf(err, errlen, -EAGAIN, "volume '%s': the lock kept changing "
		      "hands; try again", vol->name);
	goto out;
out_osdmap:
	/*
	 * Writes under the generation granted must reach the OSDs after any
	 * blocklisting of a former holder (by this or another node): ops
	 * carry our OSD map epoch, and an OSD handles an op of a newer epoch
	 * only once it has that map, and with it the blocklist.
	 */
	rados_wait_for_latest_osdmap(vol->st->cluster);
out:
	pthread_mutex_unlock(&vol->lock_mu);
	return ret;
}

int nb_rados_lock_release(struct nb_rados_vol *vol, char *err, size_t errlen)
{
	uint64_t held;
	int ret;

	pthread_mutex_lock(&vol->lock_mu);
	held = atomic_load(&vol->held_gen);
	if (!held) {
		pthread_mutex_unlock(&vol->lock_mu);
		return 0;
	}
	ret = nb_rados_lock_write(vol->st, vol->header_oid, held, "", held, 0);
	atomic_store(&vol->held_gen, 0);
	vol->owner[0] = '\0';
	pthread_mutex_unlock(&vol->lock_mu);
	if (ret == -ECANCELED)
		return nb_errf(err, errlen, -ESTALE, "volume '%s': the lock of generation "
			       "%" PRIu64 " was broken already", vol->name, held);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s': cannot release its lock: %s",
			       vol->name, strerror(-ret));
	return 0;
}

int nb_rados_lock_break(struct nb_rados_store *st, const char *name,
			uint64_t *gen, char *err, size_t errlen)
{
	return nb_rados_lock_break_gen(st, name, 0, gen, NULL, err, errlen);
}

int nb_rados_lock_break_gen(struct nb_rados_store *st, const char *name,
			    uint64_t expect_gen, uint64_t *gen,
			    struct nb_rados_lock_holder *holder,
			    char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	char oid[RS_OID_MAX];
	int ret, tries;

	for (tries = 0; tries < LOCK_CAS_TRIES; tries++) {
		ret = nb_rados_vol_info(st, name, &info, err, errlen);
		if (ret < 0)
			return ret;
		if (holder)
			*holder = info.lock;
		if (expect_gen && info.lock.gen != expect_gen)
			return nb_errf(err, errlen, -ESTALE, "volume '%s': lock generation %"
				       PRIu64 " is not current (now %" PRIu64 ")", name,
				       expect_gen, info.lock.gen);
		nb_rados_header_oid(oid, name);
		ret = nb_rados_lock_write(st, oid, info.lock.gen, "", info.lock.gen + 1, 0);
		if (ret == -ECANCELED)
			continue;
		if (ret < 0)
			return nb_errf(err, errlen, ret, "volume '%s': cannot write its "
				       "lock: %s", name, strerror(-ret));
		if (err && errlen)
			err[0] = '\0';
		if (gen)
			*gen = info.lock.gen + 1;
		ret = lock_notify_gen(st, oid, info.lock.gen + 1, name, err, errlen);
		if (ret < 0)
			lock_fence_failed(st, oid, info.lock.gen + 1, &info.lock);
		return ret;
	}
	return nb_errf(err, errlen, -EAGAIN, "volume '%s': the lock kept changing "
		       "hands; try again", name);
}

int nb_rados_lock_holder(struct nb_rados_vol *vol,
			 struct nb_rados_lock_holder *holder,
			 char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	int ret;

	ret = nb_rados_header_read(vol->st, vol->header_oid, &info);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s': cannot read its header: %s",
			       vol->name, strerror(-ret));
	nb_rados_lock_gen_seen(vol, info.lock.gen);
	/* A resize notify this handle missed: the header has the size. */
	lock_size_seen(vol, info.size);
	*holder = info.lock;
	return 0;
}

bool nb_rados_lock_is_current(struct nb_rados_vol *vol, uint64_t gen)
{
	return atomic_load(&vol->known_gen) == gen;
}

/* Re-watch if needed, then read the header; -ESHUTDOWN: blocklisted. */
static int lock_refresh_once(struct nb_rados_vol *vol, rados_ioctx_t *used,
			     char *err, size_t errlen)
{
	struct nb_rados_vol_info info;
	int ret;

	*used = vol->st->io;
	if (!atomic_load(&vol->watch_ok) || !vol->watching ||
	    vol->watch_io != *used ||
	    rados_watch_check(vol->watch_io, vol->watch_cookie) < 0) {
		nb_rados_watch_stop(vol);
		ret = nb_rados_watch_start(vol);
		if (ret < 0)
			return nb_errf(err, errlen, ret, "volume '%s': cannot watch its "
				       "header: %s", vol->name, strerror(-ret));
	}
	ret = nb_rados_header_read(vol->st, vol->header_oid, &info);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "volume '%s': cannot read its header: %s",
			       vol->name, strerror(-ret));
	nb_rados_lock_gen_seen(vol, info.lock.gen);
	lock_size_seen(vol, info.size);
	atomic_store(&vol->watch_ok, true);	/* header read after the watch */
	return 0;
}

int nb_rados_lock_refresh(struct nb_rados_vol *vol, char *err, size_t errlen)
{
	rados_ioctx_t used;
	int ret;

	pthread_mutex_lock(&vol->lock_mu);
	ret = lock_refresh_once(vol, &used, err, errlen);
	if (ret == NB_RADOS_EBLOCKLISTED) {
		/* A breaker blocklisted this instance: the writes it had in
		 * flight are refused by every OSD. A new instance starts
		 * clean; the header read then tells the generation. */
		ret = nb_rados_reconnect(vol->st, used, err, errlen);
		if (ret == 0)
			ret = lock_refresh_once(vol, &used, err, errlen);
	}
	pthread_mutex_unlock(&vol->lock_mu);
	return ret;
}

uint64_t nb_rados_lock_held(const struct nb_rados_vol *vol)
{
	return atomic_load(&((struct nb_rados_vol *)vol)->held_gen);
}
