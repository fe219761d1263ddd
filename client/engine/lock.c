/* SPDX-License-Identifier: MIT */
/*
 * The writer lock as a session holds it, and fencing (session.h,
 * "Fencing"; docs/protocol.md, "The writer lock").
 *
 * The lock is kept per store: a map group (its nodes share one store and
 * one lock) or a node without a group. The first read-write OPEN a store
 * grants fixes its generation; every later OPEN of a node of that store
 * presents it (conn_ops.open_lock) and must be granted the same. A node
 * that answers FENCED, refuses an OPEN with FENCED or LOCKED, or grants
 * another generation tells us the lock moved on: the session is fenced
 * for good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "session_priv.h"

bool nb_session_lock_owner_ok(const char *owner)
{
	size_t len = owner ? strlen(owner) : 0;

	if (len == 0 || len > SESSION_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)owner[i] < 0x20 || owner[i] == 0x7f)
			return false;
	return true;
}

/* Host names that tell nothing: an unset kernel host name and the like. */
static bool session_host_anonymous(const char *host)
{
	static const char *const names[] = {
		"", "(none)", "localhost", "localhost.localdomain",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(host, names[i]))
			return true;
	return false;
}

int nb_session_lock_host(const char *hostname, const char *machine_id_path,
			 char *buf, size_t len)
{
	char id[64] = "";
	FILE *f;

	if (!len)
		return -ENAMETOOLONG;
	if (hostname && !session_host_anonymous(hostname)) {
		snprintf(buf, len, "%s", hostname);
		return 0;
	}
	/* machine-id: 32 hex digits, unique per installation; 12 are plenty
	 * for people to tell machines apart */
	f = machine_id_path ? fopen(machine_id_path, "r") : NULL;
	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = '\0';
		fclose(f);
	}
	id[strspn(id, "0123456789abcdef")] = '\0';
	if (strlen(id) >= 12) {
		id[12] = '\0';
		snprintf(buf, len, "machine-%s", id);
		return 0;
	}
	snprintf(buf, len, "localhost");
	return 0;
}

int nb_session_lock_owner_default(const char *name, char *buf, size_t len)
{
	char host[256], who[256];
	int n;

	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	nb_session_lock_host(host, "/etc/machine-id", who, sizeof(who));
	n = snprintf(buf, len, "%s@%s", name, who);
	if (n < 0 || (size_t)n >= len || n > SESSION_NAME_MAX ||
	    !nb_session_lock_owner_ok(buf))
		return -ENAMETOOLONG;
	return 0;
}

char *nb_session_lock_describe(const struct session_lock *lock, char *buf,
			    size_t len)
{
	char since[64] = "";
	time_t t = (time_t)lock->since;
	struct tm tm;

	if (!lock->owner[0]) {
		snprintf(buf, len, "nobody (generation %llu)",
			 (unsigned long long)lock->generation);
		return buf;
	}
	if (lock->since && gmtime_r(&t, &tm))
		strftime(since, sizeof(since), ", since %Y-%m-%d %H:%M:%S UTC",
			 &tm);
	snprintf(buf, len, "'%s' (generation %llu%s)", lock->owner,
		 (unsigned long long)lock->generation, since);
	return buf;
}

static void session_lock_from_rpc(struct session_lock *to,
				  const struct rpc_lock *from)
{
	snprintf(to->owner, sizeof(to->owner), "%s", from->owner);
	to->generation = from->generation;
	to->since = from->since;
}

/* ---- stores ---- */

/* The map group of the store addr belongs to; 0: addr's own store (a
 * node without a group, or one not in the map). */
static uint32_t session_store_group(const struct session *s, const char *addr)
{
	int i = s->map ? nb_map_node_index(s->map, addr) : -ENOENT;

	return i < 0 ? 0 : s->map->groups[i];
}

static struct session_store *session_store_find(struct session *s,
						const char *addr)
{
	uint32_t group = session_store_group(s, addr);

	for (size_t i = 0; i < s->n_stores; i++) {
		struct session_store *st = &s->stores[i];

		if (group ? st->group == group :
			    !st->group && !strcmp(st->node, addr))
			return st;
	}
	return NULL;
}

/* The store of addr, added (no lock yet) when new; NULL when out of
 * memory. */
static struct session_store *session_store_get(struct session *s,
					       const char *addr)
{
	struct session_store *st = session_store_find(s, addr);

	if (st)
		return st;
	if (s->n_stores == s->cap_stores) {
		size_t cap = s->cap_stores ? s->cap_stores * 2 : 4;
		struct session_store *v = realloc(s->stores, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->stores = v;
		s->cap_stores = cap;
	}
	st = &s->stores[s->n_stores++];
	memset(st, 0, sizeof(*st));
	st->group = session_store_group(s, addr);
	snprintf(st->node, sizeof(st->node), "%s", addr);
	return st;
}

/* The generation the session holds at addr's store: the one granted, or
 * the config's before the first grant (0: none). */
static uint64_t session_store_held(struct session *s, const char *addr)
{
	struct session_store *st = session_store_find(s, addr);

	return st && st->lock.generation ? st->lock.generation :
	       s->params.lock_generation;
}

void nb_session_lock_present(struct session *s, struct conn *conn,
			  bool *break_lock, uint64_t *generation)
{
	struct session_store *st = session_store_find(s, nb_conn_addr(conn));

	if (st && st->lock.generation) {
		/* broken once is enough: from now on present the generation */
		*break_lock = false;
		*generation = st->lock.generation;
	}
}

/* The lock when the map has one store and the session holds it there. */
void nb_session_writer_lock(const struct session *s, struct session_lock *out)
{
	memset(out, 0, sizeof(*out));
	if (s->map && nb_map_n_stores(s->map) == 1 && s->n_stores == 1)
		*out = s->stores[0].lock;
}

size_t nb_session_locks_held(const struct session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_stores; i++)
		if (s->stores[i].lock.generation)
			n++;
	return n;
}

bool nb_session_fenced(const struct session *s)
{
	return s->fenced;
}

/* The one message of a fenced session; now NULL when the holder is not
 * known. */
static void session_fence_log(struct session *s, const struct rpc_lock *now)
{
	struct session_lock holder;
	char who[SESSION_NAME_MAX + 96];
	int level = LOG_ERR;

	if (s->fence_logged)
		return;
	s->fence_logged = true;
	/* one error line per device: another queue's session said it */
	if (s->fence_logged_shared &&
	    __atomic_exchange_n(s->fence_logged_shared, 1, __ATOMIC_ACQ_REL))
		level = LOG_INFO;
	if (!now || !now->generation) {
		nb_elog_printf(&s->log, level,
			    "volume %s: writer lock lost (generation %llu was broken): writes fail with I/O errors",
			    s->volume_name, (unsigned long long)s->fence_ours);
		return;
	}
	session_lock_from_rpc(&holder, now);
	nb_elog_printf(&s->log, level,
		    "volume %s: writer lock lost (now held by %s, generation %llu > ours %llu): writes fail with I/O errors",
		    s->volume_name,
		    nb_session_lock_describe(&holder, who, sizeof(who)),
		    (unsigned long long)now->generation,
		    (unsigned long long)s->fence_ours);
}

static void session_fence_info_reply(struct conn *conn, struct conn_req *req,
				     struct rpc_reply *rep)
{
	struct session *s = ((struct session_node *)nb_conn_owner(conn))->session;

	s->fence_asking = false;
	session_fence_log(s, rep->status == RPC_STATUS_OK && rep->has_volume ?
			  &rep->volume.lock : NULL);
}

static void session_fence_info_returned(struct conn *conn,
					struct conn_req *req, int err)
{
	struct session *s = ((struct session_node *)nb_conn_owner(conn))->session;

	s->fence_asking = false;
	if (s->state == SESSION_FREEING)
		session_fence_log(s, NULL);
	/* else asked again when a connection is ready */
}

/*
 * The lock moved on: fence the session (once). now is the lock as a node
 * reported it, or NULL: then an INFO asks who holds it, for the log.
 * Before the session is ready nothing happens here: the start fails.
 */
void nb_session_fence(struct session *s, struct conn *conn,
		   const struct rpc_lock *now)
{
	if (s->state != SESSION_READY || s->fenced)
		return;
	s->fenced = true;
	s->fence_ours = session_store_held(s, nb_conn_addr(conn));
	/* from now on connections open read-only: reads go on */
	s->params.read_only = true;
	s->params.break_lock = false;
	nb_elog_printf(&s->log, LOG_DEBUG, "volume %s: fenced by node %s",
		    s->volume_name, nb_conn_addr(conn));
	if (now && now->generation) {
		session_fence_log(s, now);
		return;
	}
	nb_session_fence_ask(s);
}

/*
 * Ask a READY node who holds the lock now, for the fence's log line. With
 * none READY, session.c asks again when a connection gets ready, and
 * nb_session_free() logs what it knows if none ever did.
 */
void nb_session_fence_ask(struct session *s)
{
	struct session_node *node;

	if (!s->fenced || s->fence_logged || s->fence_asking)
		return;
	if (s->state == SESSION_FREEING) {
		session_fence_log(s, NULL);
		return;
	}
	node = nb_session_node_ready(s, NULL);
	if (!node)
		return;
	memset(&s->fence_req, 0, sizeof(s->fence_req));
	s->fence_req.op = RPC_OP_INFO;
	s->fence_req.volume = s->volume_name;
	s->fence_req.reply = session_fence_info_reply;
	s->fence_req.returned = session_fence_info_returned;
	s->fence_asking = true;
	nb_conn_submit(node->conn, &s->fence_req);
}

/*
 * An OPEN was granted on conn (from the conn's opened()): check the lock
 * it reports against the session's. Returns 0, or -ESTALE with a reason
 * in msg when the lock moved on (the session is then fenced, or its start
 * fails).
 */
int nb_session_lock_granted(struct session *s, struct conn *conn,
			 const struct rpc_volume_info *v, char *msg,
			 size_t msglen)
{
	const struct rpc_lock *l = &v->lock;
	const char *addr = nb_conn_addr(conn);
	uint64_t held = session_store_held(s, addr);
	const char *owner = s->lock_owner ? s->lock_owner : "";
	struct session_store *st;
	struct session_lock got;
	char who[SESSION_NAME_MAX + 96], where[MAP_ADDR_MAX + 32];

	/* a read-only open takes no lock; a node without locks says 0 */
	if (s->params.read_only || v->read_only || !l->generation)
		return 0;
	if ((held && l->generation != held) || strcmp(l->owner, owner)) {
		session_lock_from_rpc(&got, l);
		snprintf(msg, msglen,
			 "volume '%s': the writer lock moved on: the node grants %s, we held generation %llu as '%s'",
			 s->volume_name,
			 nb_session_lock_describe(&got, who, sizeof(who)),
			 (unsigned long long)held, owner);
		nb_session_fence(s, conn, l);
		return -ESTALE;
	}
	st = session_store_get(s, addr);
	if (!st) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	if (!st->lock.generation) {
		session_lock_from_rpc(&st->lock, l);
		snprintf(st->node, sizeof(st->node), "%s", addr);
		if (st->group)
			snprintf(where, sizeof(where), "store group %u",
				 st->group);
		else
			snprintf(where, sizeof(where), "store of node %s", addr);
		nb_elog_printf(&s->log, LOG_INFO,
			    "volume %s: writer lock held as %s (%s)",
			    s->volume_name,
			    nb_session_lock_describe(&st->lock, who, sizeof(who)),
			    where);
	}
	return 0;
}
