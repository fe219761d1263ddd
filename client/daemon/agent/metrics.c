/* SPDX-License-Identifier: MIT */
/*
 * The agent's metrics and probes (metrics.h): every
 * METRICS_PUBLISH_SECONDS the loop builds the exposition of its volumes
 * and the readiness report, and hands them to the HTTP server's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_priv.h"
#include "log.h"
#include "metrics.h"

static void agent_metrics_publish(struct agent *a);

const char *nb_agent_vol_state(const struct agent_vol *av)
{
	if (!av->parsed)
		return "bad-spec";
	if (!av->v)
		return "error";
	if (av->removed || av->held)
		return "in-use";
	return "attached";
}

bool nb_agent_vol_ready(const struct agent_vol *av)
{
	return av->removed || av->v != NULL;
}

void nb_agent_metrics_publish(struct agent *a)
{
	if (!a->metrics_srv)
		return;
	agent_metrics_publish(a);
}

static void agent_metrics_publish(struct agent *a)
{
	struct metrics_volume *mv;
	char *text = NULL, *ready = NULL;
	size_t n = 0, i = 0, tlen, rlen;
	struct agent_vol *av;
	bool all_ready = true;
	FILE *f, *r;

	for (av = a->vols; av; av = av->next)
		n++;
	mv = calloc(n ? n : 1, sizeof(*mv));
	f = open_memstream(&text, &tlen);
	r = open_memstream(&ready, &rlen);
	if (!mv || !f || !r)
		goto out;
	for (av = a->vols; av; av = av->next) {
		struct agent_disk *d = &av->disk;

		fprintf(r, "%s %s %s %s\n", av->name, nb_agent_vol_state(av),
			av->v ? nb_volume_node(av->v) : "-", av->message);
		if (!nb_agent_vol_ready(av))
			all_ready = false;
		if (!av->parsed)
			continue;
		mv[i].volume = av->spec.volume;
		mv[i].name = av->spec.name;
		d->name[0] = '\0';
		if (av->v) {
			nb_metrics_disk_name(nb_volume_node(av->v), d->name,
					     sizeof(d->name));
			nb_volume_get_stats(av->v, &mv[i].stats);
			mv[i].up = true;
		}
		mv[i].disk = d->name;
		i++;
	}
	fprintf(r, "%s\n", all_ready ? "ready" : "not ready");
	nb_metrics_write(f, "agent", mv, i);
	fclose(f);
	fclose(r);
	f = r = NULL;
	if (nb_metrics_publish(a->metrics_srv, text, all_ready, ready) < 0)
		nb_log_msg(LOG_WARNING, "metrics: out of memory");
out:
	if (f)
		fclose(f);
	if (r)
		fclose(r);
	free(text);
	free(ready);
	free(mv);
}

static void agent_metrics_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	agent_metrics_publish(t->data);
}

int nb_agent_metrics_start(struct agent *a, char *err, size_t errlen)
{
	a->metrics_srv = nb_metrics_start(a->metrics, err, errlen);
	if (!a->metrics_srv)
		return -errno;
	agent_metrics_publish(a);
	ev_timer_init(&a->metrics_timer, agent_metrics_cb,
		      METRICS_PUBLISH_SECONDS, METRICS_PUBLISH_SECONDS);
	a->metrics_timer.data = a;
	ev_timer_start(a->loop, &a->metrics_timer);
	return 0;
}

void nb_agent_metrics_stop(struct agent *a)
{
	if (!a->metrics_srv)
		return;
	ev_timer_stop(a->loop, &a->metrics_timer);
	nb_metrics_stop(a->metrics_srv);
	a->metrics_srv = NULL;
}
