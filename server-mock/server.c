/* SPDX-License-Identifier: MIT */
/*
 * The mock node: its stores (memory and files, each under the fault
 * filter) and the shared core (srv.h) with one I/O thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define MOCK_NOT_LOOPBACK \
	"is not a loopback address: this mock has no access control beyond TLS client certificates"

static void mock_server_core_config(struct mock_server *ms)
{
	const struct mock_config *cfg = ms->cfg;
	struct nb_srv_config *sc = &ms->srv_cfg;

	memset(sc, 0, sizeof(*sc));
	sc->listen = cfg->listen;
	sc->cert = cfg->cert;
	sc->key = cfg->key;
	sc->ca = cfg->ca;
	sc->tls_ciphersuites = cfg->tls_ciphersuites;
	sc->name = cfg->name;
	sc->node = cfg->node;
	sc->map_path = cfg->map_path;
	sc->not_loopback_warning = MOCK_NOT_LOOPBACK;
	sc->allow_create = cfg->allow_create;
	sc->open_by_name = false;  /* only volumes this process made */
	sc->threads = 1;           /* faults and counters assume one loop */
	sc->max_inflight = cfg->max_inflight;
	sc->max_io_size = cfg->max_io_size;
	sc->max_discard = cfg->max_discard;
	sc->max_write_zeroes = cfg->max_write_zeroes;
	sc->max_connections = cfg->max_connections;
	sc->hello_timeout = cfg->hello_timeout;
}

/* Memory and file stores, each under a fault filter. */
static int mock_server_stores(struct mock_server *ms, struct nb_store **memory,
			      struct nb_store **file)
{
	struct nb_store *m, *f;
	char err[512];

	*memory = *file = NULL;
	m = nb_store_memory_new();
	if (!m) {
		mock_err("cannot set up the memory store: %s", strerror(errno));
		return -ENOMEM;
	}
	f = nb_store_file_new(ms->cfg->volume_dir, false, 0, err, sizeof(err));
	if (!f) {
		mock_err("--volume-dir: %s", err);
		nb_store_destroy(m);
		return -EINVAL;
	}
	ms->memory = m;
	ms->files = f;
	*memory = mock_fault_store_new(m, &ms->faults);
	if (!*memory)
		nb_store_destroy(m);
	*file = mock_fault_store_new(f, &ms->faults);
	if (!*file)
		nb_store_destroy(f);
	if (!*memory || !*file) {
		nb_store_destroy(*memory);
		nb_store_destroy(*file);
		mock_err("cannot set up the fault filter: out of memory");
		return -ENOMEM;
	}
	/* --writes-durable: claim it at HANDSHAKE (for client tests) */
	if (ms->cfg->writes_durable)
		(*memory)->writes_durable = (*file)->writes_durable = true;
	return 0;
}

static int mock_server_add_volumes(struct mock_server *ms, struct nb_store *memory,
				   struct nb_store *file)
{
	const struct mock_config *cfg = ms->cfg;

	for (size_t i = 0; i < cfg->n_volumes; i++) {
		const struct mock_volume_spec *spec = &cfg->volumes[i];
		/* The stores under the filters. */
		struct nb_store *store = spec->path ? file : memory;
		int r;

		if (spec->path)
			r = nb_store_file_add(ms->files, spec->name, spec->path,
					      spec->size, cfg->block_size, spec->read_only);
		else
			r = nb_store_memory_add(ms->memory, spec->name,
						spec->size, cfg->block_size, spec->read_only);
		if (r == 0)
			r = nb_srv_volume_add(ms->srv, store, spec->name);
		if (r < 0) {
			if (r == -EEXIST)
				mock_err("--volume %s: name given twice", spec->name);
			else
				mock_err("--volume %s: cannot create %s%s: %s", spec->name,
					 spec->path ? "file " : "memory volume",
					 spec->path ? spec->path : "", strerror(-r));
			return r;
		}
		mock_info("volume %s: %llu bytes, block size %u, %s%s%s", spec->name,
			  (unsigned long long)spec->size, cfg->block_size,
			  spec->read_only ? "read-only, " : "",
			  spec->path ? "file " : "in memory", spec->path ? spec->path : "");
	}
	return 0;
}

int mock_server_init(struct mock_server *ms, struct ev_loop *loop,
		     const struct mock_config *cfg)
{
	struct nb_store *memory, *file, *create;
	int r;

	memset(ms, 0, sizeof(*ms));
	ms->loop = loop;
	ms->cfg = cfg;
	mock_faults_init(&ms->faults, loop, cfg);
	mock_server_core_config(ms);
	r = mock_server_stores(ms, &memory, &file);
	if (r < 0)
		return r;
	/* CREATE makes files under --volume-dir, else memory volumes. */
	create = cfg->volume_dir ? file : memory;
	ms->other_store = cfg->volume_dir ? memory : file;
	ms->srv = nb_srv_new(loop, &ms->srv_cfg, create);
	if (!ms->srv) {
		nb_store_destroy(ms->other_store);
		ms->other_store = NULL;
		return -EINVAL;
	}
	r = mock_server_add_volumes(ms, memory, file);
	if (r < 0)
		goto out_fini;
	if (cfg->control_path) {
		ms->control = mock_control_new(ms, cfg->control_path);
		if (!ms->control) {
			r = -errno;
			goto out_fini;
		}
	}
	/* Last: a test polling for the port file may connect right away. */
	if (cfg->port_file) {
		r = nb_srv_write_port_file(cfg->port_file, nb_srv_port(ms->srv));
		if (r < 0) {
			mock_err("--port-file %s: %s", cfg->port_file, strerror(-r));
			goto out_fini;
		}
	}
	mock_info("listening on %s port %u as node %s (map epoch %llu, %zu volumes)",
		  cfg->listen, nb_srv_port(ms->srv), nb_srv_node_addr(ms->srv),
		  (unsigned long long)nb_srv_map_epoch(ms->srv),
		  nb_srv_volume_count(ms->srv));
	return 0;

out_fini:
	mock_server_fini(ms);
	return r;
}

void mock_server_fini(struct mock_server *ms)
{
	mock_control_free(ms->control);
	ms->control = NULL;
	/* Held requests go back first: the connections cancel them. */
	nb_srv_free(ms->srv);
	ms->srv = NULL;
	nb_store_destroy(ms->other_store);
	ms->other_store = NULL;
}
