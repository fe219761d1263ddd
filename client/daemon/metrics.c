/* SPDX-License-Identifier: MIT */
/* The Prometheus text exposition of the daemon's volumes (metrics.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "blk.h"
#include "metrics.h"
#include "sysfs.h"
#include "version.h"

void nb_metrics_write_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void nb_metrics_disk_name(const char *node, char *out, size_t len)
{
	const char *slash = strrchr(node, '/');

	if (nb_sysfs_is_disk(node) && slash)
		snprintf(out, len, "%s", slash + 1);
	else
		snprintf(out, len, "%s", "");
}

static void metrics_labels(FILE *f, const struct metrics_volume *v)
{
	fputs("volume=\"", f);
	nb_metrics_write_label(f, v->volume);
	fputs("\",name=\"", f);
	nb_metrics_write_label(f, v->name);
	fputs("\",device=\"", f);
	nb_metrics_write_label(f, v->disk);
	fputc('"', f);
}

static void metrics_head(FILE *f, const char *name, const char *type,
			 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum metrics_field {
	METRICS_UP, METRICS_SIZE, METRICS_REQUESTS, METRICS_ERRORS,
	METRICS_READ, METRICS_WRITTEN, METRICS_INFLIGHT, METRICS_RETRIES,
	METRICS_RECONNECTS, METRICS_TIMEOUTS, METRICS_MAP_REFRESHES,
	METRICS_CONNS_UP, METRICS_FIELD_MAX
};

static uint64_t metrics_value(const struct metrics_volume *v,
			      enum metrics_field field)
{
	const struct volume_stats *s = &v->stats;

	switch (field) {
	case METRICS_UP: return v->up;
	case METRICS_SIZE: return s->size;
	case METRICS_REQUESTS: return s->requests;
	case METRICS_ERRORS: return s->errors;
	case METRICS_READ: return s->bytes_read;
	case METRICS_WRITTEN: return s->bytes_written;
	case METRICS_INFLIGHT: return s->inflight;
	case METRICS_RETRIES: return s->retries;
	case METRICS_RECONNECTS: return s->reconnects;
	case METRICS_TIMEOUTS: return s->timeouts;
	case METRICS_MAP_REFRESHES: return s->map_refreshes;
	case METRICS_CONNS_UP: return s->conns_up;
	case METRICS_FIELD_MAX: break;
	}
	return 0;
}

int nb_metrics_write(FILE *f, const char *program,
		     const struct metrics_volume *vols, size_t n)
{
	static const struct {
		const char *name, *type, *help;
	} m[METRICS_FIELD_MAX] = {
		[METRICS_UP] = { "vduse_netblk_volume_up", "gauge",
			"1 when the volume is attached and served" },
		[METRICS_SIZE] = { "vduse_netblk_size_bytes", "gauge",
			"volume size the device shows" },
		[METRICS_REQUESTS] = { "vduse_netblk_requests_total", "counter",
			"requests handed to the cluster" },
		[METRICS_ERRORS] = { "vduse_netblk_errors_total", "counter",
			"requests completed with an error" },
		[METRICS_READ] = { "vduse_netblk_read_bytes_total", "counter",
			"bytes read" },
		[METRICS_WRITTEN] = { "vduse_netblk_written_bytes_total",
			"counter", "bytes written" },
		[METRICS_INFLIGHT] = { "vduse_netblk_inflight", "gauge",
			"requests in flight" },
		[METRICS_RETRIES] = { "vduse_netblk_retries_total", "counter",
			"requests sent to a node again" },
		[METRICS_RECONNECTS] = { "vduse_netblk_reconnects_total",
			"counter", "connections to nodes re-established" },
		[METRICS_TIMEOUTS] = { "vduse_netblk_timeouts_total", "counter",
			"connections closed for a request without reply in time" },
		[METRICS_MAP_REFRESHES] = { "vduse_netblk_map_refreshes_total",
			"counter", "new cluster maps installed" },
		[METRICS_CONNS_UP] = { "vduse_netblk_connections_up", "gauge",
			"connections to nodes ready" },
	};
	const char *hist = "vduse_netblk_request_duration_seconds";
	unsigned int field, op, b;
	size_t i;

	metrics_head(f, "vduse_netblk_build_info", "gauge",
		     "the program and its version, always 1");
	fputs("vduse_netblk_build_info{program=\"", f);
	nb_metrics_write_label(f, program);
	fputs("\",version=\"", f);
	nb_metrics_write_label(f, nb_version());
	fputs("\"} 1\n", f);
	for (field = 0; field < METRICS_FIELD_MAX; field++) {
		metrics_head(f, m[field].name, m[field].type, m[field].help);
		for (i = 0; i < n; i++) {
			fprintf(f, "%s{", m[field].name);
			metrics_labels(f, &vols[i]);
			fprintf(f, "} %" PRIu64 "\n",
				metrics_value(&vols[i], field));
		}
	}
	metrics_head(f, hist, "histogram",
		     "time from a request's submission to its completion");
	for (i = 0; i < n; i++) {
		for (op = 0; op < BLK_OP_MAX; op++) {
			const struct worker_latency *l = &vols[i].stats.latency[op];
			uint64_t cum = 0;

			for (b = 0; b <= WORKER_LAT_BUCKETS; b++) {
				fprintf(f, "%s_bucket{", hist);
				metrics_labels(f, &vols[i]);
				if (b < WORKER_LAT_BUCKETS) {
					cum += l->bucket[b];
					fprintf(f, ",op=\"%s\",le=\"%g\"} %" PRIu64
						"\n", nb_blk_op_name(op),
						nb_worker_lat_bounds[b], cum);
				} else {
					fprintf(f, ",op=\"%s\",le=\"+Inf\"} %"
						PRIu64 "\n", nb_blk_op_name(op),
						l->count);
				}
			}
			fprintf(f, "%s_sum{", hist);
			metrics_labels(f, &vols[i]);
			fprintf(f, ",op=\"%s\"} %.9f\n", nb_blk_op_name(op),
				l->sum_ns / 1e9);
			fprintf(f, "%s_count{", hist);
			metrics_labels(f, &vols[i]);
			fprintf(f, ",op=\"%s\"} %" PRIu64 "\n",
				nb_blk_op_name(op), l->count);
		}
	}
	return ferror(f) ? -EIO : 0;
}
