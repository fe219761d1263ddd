/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli delete / resize / list: the administrative requests that
 * change or enumerate volumes (DELETE, RESIZE, LIST), sent once per store
 * with nb_admin_delete(), nb_admin_resize() and nb_admin_list().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <json-c/json.h>

#include "admin.h"
#include "cli.h"

static const char cli_delete_help[] =
"NAME\n"
"    netblk-cli delete - delete a volume and its data\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] delete [--force] [--missing-ok] [VOLUME]\n"
"\n"
"DESCRIPTION\n"
"    Sends DELETE for VOLUME (default: --volume) once per store among the\n"
"    nodes given with --cluster (nodes of one store group share one\n"
"    store). A node refuses while another owner holds the volume's writer\n"
"    lock (a daemon or another netblk-cli has it attached read-write),\n"
"    naming the holder. The data is gone for good once a node answers.\n"
"\n"
"OPTIONS\n"
"    --force          delete even while the writer lock is held: the lock\n"
"                     is broken first, so its holder is fenced\n"
"    --missing-ok     a volume that no store has is not an error\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every store deleted the volume or did not have it (and at\n"
"    least one had it, unless --missing-ok); 1 when a node refused\n"
"    (locked, deletion not allowed, read-only) or could not be reached;\n"
"    2 for a bad command line.\n";

static const char cli_resize_help[] =
"NAME\n"
"    netblk-cli resize - grow a volume\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] resize SIZE\n"
"\n"
"DESCRIPTION\n"
"    Sends RESIZE for --volume with its new SIZE in bytes (suffixes K, M,\n"
"    G, T; a multiple of the block size) once per store among the nodes\n"
"    given with --cluster. Volumes only grow: a smaller SIZE is refused,\n"
"    the same SIZE changes nothing. A vduse-netblk daemon that has the\n"
"    volume attached sees the new size at its next check (--resize-check)\n"
"    and grows the disk.\n"
"\n"
"OPTIONS\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every store has the volume at SIZE; 1 when a node refused\n"
"    (a shrink, no such volume, resizing not allowed) or could not be\n"
"    reached; 2 for a bad command line.\n";

static const char cli_list_help[] =
"NAME\n"
"    netblk-cli list - list the volumes of the cluster\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] list [--json | --format text|json]\n"
"\n"
"DESCRIPTION\n"
"    Asks one node of each store among --cluster for its volumes (LIST,\n"
"    every page) and prints one line per volume: name, size in bytes,\n"
"    block size, and the stores that have it when that is not all of\n"
"    them. --volume is not needed.\n"
"\n"
"OPTIONS\n"
"    --json           print one JSON object instead of text: volumes\n"
"                     [{volume, size, block_size, read_only, stores}],\n"
"                     stores (how many were asked)\n"
"    --format F       text (default) or json\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 when a store could not be listed; 2 for a bad\n"
"    command line.\n";

/*
 * The nodes of --cluster, one per store: false for a node that shares
 * its store with an earlier one (asked there). Without a map (no node
 * gave one) every node is its own store.
 */
struct cli_stores {
	struct ev_loop *loop;
	struct admin_map *map;
	bool *answered;
};

static int cli_stores_open(const struct cli_common *opt, const char *cmd,
			   const struct session_config *cfg, struct cli_stores *s)
{
	char err[512];

	s->map = NULL;
	s->loop = ev_loop_new(EVFLAG_AUTO);
	if (!s->loop) {
		nb_cli_err("%s: cannot create an event loop", cmd);
		return -ENOMEM;
	}
	for (size_t i = 0; i < opt->n_nodes && !s->map; i++)
		nb_admin_get_map(s->loop, cfg, opt->nodes[i], &s->map, err, sizeof(err));
	s->answered = calloc(opt->n_nodes ? opt->n_nodes : 1, sizeof(*s->answered));
	if (!s->answered) {
		nb_cli_err("%s: out of memory", cmd);
		nb_admin_map_free(s->map);
		ev_loop_destroy(s->loop);
		return -ENOMEM;
	}
	return 0;
}

/* The earlier node whose store answered for node i's, or -1. */
static long cli_stores_asked(const struct cli_common *opt,
			     const struct cli_stores *s, size_t i)
{
	for (size_t j = 0; s->map && j < i; j++)
		if (s->answered[j] &&
		    nb_admin_map_same_store(s->map, opt->nodes[j], opt->nodes[i]))
			return (long)j;
	return -1;
}

/* Node i's store answered through an earlier node: say so, skip it. */
static bool cli_stores_skip(const struct cli_common *opt,
			    const struct cli_stores *s, size_t i, const char *cmd)
{
	long j = cli_stores_asked(opt, s, i);

	if (j < 0)
		return false;
	printf("%s: %s shares its store with %s: asked there\n", cmd,
	       opt->nodes[i], opt->nodes[j]);
	return true;
}

static void cli_stores_free(struct cli_stores *s)
{
	free(s->answered);
	nb_admin_map_free(s->map);
	ev_loop_destroy(s->loop);
}

static int cli_volume_arg(struct cli_common *opt, const char *cmd, int argc,
			  char **argv, int first)
{
	if (first < argc - 1) {
		nb_cli_err("%s: unexpected argument '%s'", cmd, argv[first + 1]);
		return -EINVAL;
	}
	if (first == argc - 1) {
		if (!argv[first][0] || strlen(argv[first]) > SESSION_NAME_MAX) {
			nb_cli_err("%s: VOLUME must be 1 to %d characters", cmd,
				SESSION_NAME_MAX);
			return -EINVAL;
		}
		opt->volume = argv[first];
	}
	return 0;
}

struct cli_delete_opts {
	bool force, missing_ok;
};

static int cli_delete_opt(void *opaque, int val, const char *name, const char *arg)
{
	struct cli_delete_opts *d = opaque;

	if (val == 256)
		d->force = true;
	else
		d->missing_ok = true;
	return 0;
}

int cli_cmd_delete(struct cli_common *opt, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 256 },
		{ "missing-ok", no_argument, NULL, 257 },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_delete_opts d = { false, false };
	struct session_config cfg;
	struct cli_stores stores;
	struct ev_loop *loop;
	char owner[SESSION_NAME_MAX + 1], sz[64], err[512];
	int first, ret, rc = CLI_EXIT_OK;
	bool deleted = false;

	ret = nb_cli_parse_options(opt, "delete", argc, argv, opts, cli_delete_opt,
				&d, cli_delete_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_volume_arg(opt, "delete", argc, argv, first) < 0)
		return CLI_EXIT_USAGE;
	if (nb_cli_require_common(opt, "delete", true) < 0 ||
	    cli_lock_owner(opt, "delete", owner, sizeof(owner)) < 0)
		return CLI_EXIT_USAGE;
	cli_admin_config(opt, &cfg);
	cfg.lock_owner = owner;
	if (cli_stores_open(opt, "delete", &cfg, &stores) < 0)
		return CLI_EXIT_FAIL;
	loop = stores.loop;
	for (size_t i = 0; i < opt->n_nodes; i++) {
		struct session_volume info = { 0 };

		if (cli_stores_skip(opt, &stores, i, "delete"))
			continue;
		err[0] = '\0';
		ret = nb_admin_delete(loop, &cfg, opt->nodes[i], d.force, &info,
				      err, sizeof(err));
		stores.answered[i] = ret == 0 || ret == -ENOENT;
		if (ret == 0) {
			deleted = true;
			printf("delete: volume '%s' (%s) deleted on %s\n", opt->volume,
			       nb_cli_fmt_size(info.size, sz, sizeof(sz)), opt->nodes[i]);
		} else if (ret == -ENOENT) {
			printf("delete: volume '%s' not found on %s\n", opt->volume,
			       opt->nodes[i]);
		} else {
			rc = CLI_EXIT_FAIL;
			if (ret == -EBUSY)
				nb_cli_err("delete: %s refused: %s (--force deletes it anyway, fencing the holder)",
					opt->nodes[i], err);
			else if (ret == -EOPNOTSUPP)
				nb_cli_err("delete: %s does not allow deleting volumes%s%s",
					opt->nodes[i], err[0] ? ": " : "", err);
			else
				nb_cli_err("delete: cannot delete volume '%s' on %s: %s",
					opt->volume, opt->nodes[i],
					err[0] ? err : strerror(-ret));
		}
	}
	if (rc == CLI_EXIT_OK && !deleted && !d.missing_ok) {
		nb_cli_err("delete: volume '%s' does not exist on any store", opt->volume);
		rc = CLI_EXIT_FAIL;
	}
	cli_stores_free(&stores);
	return rc;
}

int cli_cmd_resize(struct cli_common *opt, int argc, char **argv)
{
	struct session_config cfg;
	struct cli_stores stores;
	struct ev_loop *loop;
	uint64_t size;
	char sz[64], err[512];
	int first, ret, rc = CLI_EXIT_OK;

	ret = nb_cli_parse_options(opt, "resize", argc, argv, NULL, NULL, NULL,
				cli_resize_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc - 1) {
		nb_cli_err("resize: %s SIZE", first >= argc ? "missing" : "expected exactly one");
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_parse_size("SIZE", argv[first], &size) < 0)
		return CLI_EXIT_USAGE;
	if (size == 0 || size % 512) {
		nb_cli_err("resize: SIZE must be a positive multiple of 512, got '%s'",
			argv[first]);
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "resize", true) < 0)
		return CLI_EXIT_USAGE;
	cli_admin_config(opt, &cfg);
	if (cli_stores_open(opt, "resize", &cfg, &stores) < 0)
		return CLI_EXIT_FAIL;
	loop = stores.loop;
	for (size_t i = 0; i < opt->n_nodes; i++) {
		struct session_volume info = { 0 };

		if (cli_stores_skip(opt, &stores, i, "resize"))
			continue;
		err[0] = '\0';
		ret = nb_admin_resize(loop, &cfg, opt->nodes[i], size, &info, err,
				      sizeof(err));
		stores.answered[i] = ret == 0;
		if (ret == 0) {
			printf("resize: volume '%s' is %s on %s\n", opt->volume,
			       nb_cli_fmt_size(info.size, sz, sizeof(sz)), opt->nodes[i]);
			continue;
		}
		rc = CLI_EXIT_FAIL;
		if (ret == -ENOENT)
			nb_cli_err("resize: volume '%s' not found on %s", opt->volume,
				opt->nodes[i]);
		else
			nb_cli_err("resize: cannot resize volume '%s' on %s: %s",
				opt->volume, opt->nodes[i], err[0] ? err : strerror(-ret));
	}
	cli_stores_free(&stores);
	return rc;
}

/* One volume of the listing: what the stores said, merged by name. */
struct cli_listed {
	struct session_volume vol;
	unsigned stores;
};

static int cli_listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cli_listed *)a)->vol.name,
		      ((const struct cli_listed *)b)->vol.name);
}

static int cli_list_add(struct cli_listed **all, size_t *n,
			const struct session_volume *v)
{
	struct cli_listed *grown;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*all)[i].vol.name, v->name) == 0) {
			/* the smallest size is what a client can use */
			if (v->size < (*all)[i].vol.size)
				(*all)[i].vol.size = v->size;
			(*all)[i].stores++;
			return 0;
		}
	}
	grown = realloc(*all, (*n + 1) * sizeof(**all));
	if (!grown)
		return -ENOMEM;
	*all = grown;
	(*all)[*n].vol = *v;
	(*all)[*n].stores = 1;
	(*n)++;
	return 0;
}

static int cli_list_print(const struct cli_common *opt,
			  const struct cli_listed *all, size_t n, unsigned n_stores)
{
	struct json_object *o, *arr;

	if (!opt->json) {
		for (size_t i = 0; i < n; i++) {
			printf("%-32s %20" PRIu64 " %5u%s", all[i].vol.name,
			       all[i].vol.size, all[i].vol.block_size,
			       all[i].vol.read_only ? " read-only" : "");
			if (all[i].stores != n_stores)
				printf(" (on %u of %u stores)", all[i].stores, n_stores);
			printf("\n");
		}
		return 0;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_new_object();

		cli_json_add_str(v, "volume", all[i].vol.name);
		cli_json_add_u64(v, "size", all[i].vol.size);
		cli_json_add_u64(v, "block_size", all[i].vol.block_size);
		cli_json_add_bool(v, "read_only", all[i].vol.read_only);
		cli_json_add_u64(v, "stores", all[i].stores);
		json_object_array_add(arr, v);
	}
	json_object_object_add(o, "volumes", arr);
	cli_json_add_u64(o, "stores", n_stores);
	return cli_json_print(o);
}

int cli_cmd_list(struct cli_common *opt, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_JSON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_listed *all = NULL;
	struct session_config cfg;
	struct cli_stores stores;
	struct ev_loop *loop;
	size_t n_all = 0;
	unsigned n_stores = 0;
	char err[512];
	int first, ret, rc = CLI_EXIT_OK;

	ret = nb_cli_parse_options(opt, "list", argc, argv, opts, NULL, NULL,
				cli_list_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first < argc) {
		nb_cli_err("list: unexpected argument '%s'", argv[first]);
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "list", false) < 0)
		return CLI_EXIT_USAGE;
	cli_admin_config(opt, &cfg);
	if (cli_stores_open(opt, "list", &cfg, &stores) < 0)
		return CLI_EXIT_FAIL;
	loop = stores.loop;
	for (size_t i = 0; i < opt->n_nodes; i++) {
		struct session_volume *vols = NULL;
		size_t n = 0;

		if (cli_stores_asked(opt, &stores, i) >= 0)
			continue;
		err[0] = '\0';
		ret = nb_admin_list(loop, &cfg, opt->nodes[i], &vols, &n, err,
				    sizeof(err));
		if (ret < 0) {
			nb_cli_err("list: cannot list the volumes of %s: %s",
				opt->nodes[i], err[0] ? err : strerror(-ret));
			rc = CLI_EXIT_FAIL;
			continue;
		}
		stores.answered[i] = true;
		n_stores++;
		for (size_t k = 0; k < n && ret == 0; k++)
			ret = cli_list_add(&all, &n_all, &vols[k]);
		free(vols);
		if (ret < 0) {
			nb_cli_err("list: out of memory");
			rc = CLI_EXIT_FAIL;
			break;
		}
	}
	if (n_all)
		qsort(all, n_all, sizeof(*all), cli_listed_cmp);
	if (n_stores && cli_list_print(opt, all, n_all, n_stores) < 0)
		rc = CLI_EXIT_FAIL;
	free(all);
	cli_stores_free(&stores);
	return rc;
}
