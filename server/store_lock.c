/* SPDX-License-Identifier: MIT */
/*
 * The writer lock's rules (docs/protocol.md, "The writer lock") for the
 * stores that keep the lock themselves (memory, file), and the text form
 * of the file store's lock file. Pure: no I/O, no clock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_store.h"

int nb_store_lock_decide(const struct nb_store_lock *cur, const char *owner,
			 bool brk, uint64_t expect_gen, uint64_t now,
			 struct nb_store_lock *next)
{
	if (!owner[0] || strlen(owner) >= NB_STORE_OWNER_MAX)
		return -EINVAL;
	if (expect_gen > cur->gen && !cur->owner[0]) {
		/*
		 * Generations only grow, so the store forgot the lock (a memory
		 * volume of a restarted node): nobody holds it, and the client
		 * that held expect_gen keeps it at that generation.
		 */
		memset(next, 0, sizeof(*next));
		snprintf(next->owner, sizeof(next->owner), "%s", owner);
		next->gen = expect_gen;
		next->since = now;
		return 0;
	}
	if (expect_gen && expect_gen != cur->gen)
		return -ESTALE;
	if (strcmp(cur->owner, owner) == 0) {
		/* Held by owner already: a takeover on the same host keeps it. */
		*next = *cur;
		return 0;
	}
	if (cur->owner[0] && !brk)
		return -EBUSY;
	memset(next, 0, sizeof(*next));
	snprintf(next->owner, sizeof(next->owner), "%s", owner);
	next->gen = cur->gen + 1;
	next->since = now;
	return 0;
}

int nb_store_lock_break_decide(const struct nb_store_lock *cur,
			       uint64_t expect_gen, struct nb_store_lock *next)
{
	if (expect_gen && expect_gen != cur->gen)
		return -ESTALE;
	memset(next, 0, sizeof(*next));
	next->gen = cur->gen + 1;
	return 0;
}

int nb_store_lock_parse(const char *text, size_t len, struct nb_store_lock *out)
{
	bool have_gen = false;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		char buf[NB_STORE_OWNER_MAX + 16], *end;

		pos += n + (nl ? 1 : 0);
		if (n == 0 || line[0] == '#')
			continue;
		if (n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (strncmp(buf, "owner ", 6) == 0) {
			if (n - 6 >= sizeof(out->owner))
				return -EINVAL;
			memcpy(out->owner, buf + 6, n - 6 + 1);
		} else if (strcmp(buf, "owner") == 0) {
			out->owner[0] = '\0';
		} else if (strncmp(buf, "gen ", 4) == 0) {
			errno = 0;
			out->gen = strtoull(buf + 4, &end, 10);
			if (errno || *end || end == buf + 4)
				return -EINVAL;
			have_gen = true;
		} else if (strncmp(buf, "since ", 6) == 0) {
			errno = 0;
			out->since = strtoull(buf + 6, &end, 10);
			if (errno || *end || end == buf + 6)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return have_gen ? 0 : -EINVAL;
}

int nb_store_lock_format(const struct nb_store_lock *lock, char *buf, size_t len)
{
	int n = snprintf(buf, len, "owner %s\ngen %" PRIu64 "\nsince %" PRIu64 "\n",
			 lock->owner, lock->gen, lock->since);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
