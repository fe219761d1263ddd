/* SPDX-License-Identifier: MIT */
/* The FLUSH ledger that the sessions of one device share (session.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

struct session_flush_ledger {
	pthread_mutex_t lock;      /* guards n and the addresses */
	uint32_t n;
	struct ledger_slot slots[MAP_MAX_NODES];
};

struct session_flush_ledger *nb_flush_ledger_new(void)
{
	struct session_flush_ledger *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void nb_flush_ledger_free(struct session_flush_ledger *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

struct ledger_slot *nb_ledger_slot_of(struct session_flush_ledger *l,
				   const char *addr)
{
	struct ledger_slot *slot = NULL;

	if (!l || strlen(addr) > MAP_ADDR_MAX)
		return NULL;
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < l->n; i++) {
		if (strcmp(l->slots[i].addr, addr) == 0) {
			slot = &l->slots[i];
			goto out;
		}
	}
	if (l->n < MAP_MAX_NODES) {
		slot = &l->slots[l->n++];
		strcpy(slot->addr, addr);
	}
out:
	pthread_mutex_unlock(&l->lock);
	return slot;
}
