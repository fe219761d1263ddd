/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli create / info / unlock: administrative requests that do not
 * open a volume, sent to one node at a time with nb_admin_create(),
 * nb_admin_info(), nb_admin_unlock() and nb_admin_get_map().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <json-c/json.h>

#include "admin.h"
#include "cli.h"

static const char cli_create_help[] =
"NAME\n"
"    netblk-cli create - create a volume\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] create [--block-size 512|4096] SIZE\n"
"\n"
"DESCRIPTION\n"
"    Sends CREATE for --volume with SIZE bytes (a multiple of the block\n"
"    size) to every store among the nodes given with --cluster, one after\n"
"    the other: nodes of one store group in the cluster map share one\n"
"    store, so the volume is created once, through the first of them that\n"
"    answers, and the others are reported as sharing it. Nodes only\n"
"    accept it when they are configured to allow it.\n"
"\n"
"OPTIONS\n"
"    --block-size N   logical block size of the volume, 512 (default) or\n"
"                     4096\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every store created the volume; 1 when a node refused (volume\n"
"    exists, creation not allowed, no space) or a store could not be\n"
"    reached; 2 for a bad command line.\n";

static const char cli_info_help[] =
"NAME\n"
"    netblk-cli info - describe a volume and the cluster map\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] info [--json | --format text|json]\n"
"\n"
"DESCRIPTION\n"
"    Asks the first node of --cluster that answers for the size, block size\n"
"    and limits of --volume (without opening it), its writer lock (the\n"
"    owner that holds it, its generation and since when, or 'unlocked')\n"
"    and for the cluster map, and prints them.\n"
"\n"
"OPTIONS\n"
"    --json           print one JSON object instead of text: volume,\n"
"                     size, block_size, read_only, max_discard,\n"
"                     max_write_zeroes, lock {owner, generation, since},\n"
"                     answered_by, map {epoch, chunk_size, nodes,\n"
"                     placements} (null when no node gave it)\n"
"    --format F       text (default) or json\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 when the volume does not exist or no node answered;\n"
"    2 for a bad command line.\n";

static const char cli_unlock_help[] =
"NAME\n"
"    netblk-cli unlock - break a volume's writer lock\n"
"\n"
"SYNOPSIS\n"
"    netblk-cli [COMMON OPTIONS] unlock [VOLUME]\n"
"\n"
"DESCRIPTION\n"
"    Asks who holds the writer lock of VOLUME (default: --volume) and\n"
"    breaks it (UNLOCK), once per store: each group of the cluster map\n"
"    (its nodes share one store and one lock) and each node without a\n"
"    group (its own store). Nobody holds a broken lock afterwards and its\n"
"    generation grows, so the old holder is fenced: every node refuses\n"
"    its writes from then on (a vduse-netblk daemon's guest gets I/O\n"
"    errors), and it cannot take the lock back without --break-lock.\n"
"    Prints the old holder of each store. Only the lock seen is broken:\n"
"    when it moved on in between, nothing is broken on that store and\n"
"    unlock fails. --owner names who breaks it in the nodes' logs.\n"
"\n"
"    See 'netblk-cli --help' for the common options.\n"
"\n"
"EXIT STATUS\n"
"    0 when every store's lock was broken or nobody held it; 1 when the\n"
"    volume does not exist, the nodes keep no writer lock, a lock moved\n"
"    on, or no node of a store answered; 2 for a bad command line.\n";

static int cli_create_opt(void *opaque, int val, const char *name,
			  const char *arg)
{
	uint64_t *bs = opaque;

	if (nb_cli_parse_size(name, arg, bs) < 0)
		return -EINVAL;
	if (*bs != 512 && *bs != 4096) {
		nb_cli_err("%s must be 512 or 4096, got '%s'", name, arg);
		return -EINVAL;
	}
	return 0;
}

int cli_cmd_create(struct cli_common *opt, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "block-size", required_argument, NULL, 256 },
		{ NULL, 0, NULL, 0 },
	};
	struct session_config cfg;
	struct admin_map *am = NULL;
	struct ev_loop *loop;
	uint64_t size, bs = 512;
	char sz[64], err[512];
	bool *done;
	int first, ret, rc = CLI_EXIT_OK;

	ret = nb_cli_parse_options(opt, "create", argc, argv, opts, cli_create_opt,
				&bs, cli_create_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc - 1) {
		nb_cli_err("create: %s SIZE", first >= argc ? "missing" : "expected exactly one");
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_parse_size("SIZE", argv[first], &size) < 0)
		return CLI_EXIT_USAGE;
	if (size == 0 || size % bs) {
		nb_cli_err("create: SIZE must be a positive multiple of the block size %" PRIu64
			", got '%s'", bs, argv[first]);
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "create", true) < 0)
		return CLI_EXIT_USAGE;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		nb_cli_err("create: cannot create an event loop");
		return CLI_EXIT_FAIL;
	}
	cli_admin_config(opt, &cfg);
	/* The map says which nodes share a store: CREATE once per store (a
	 * store that answered, created or exists, is not asked again).
	 * Without one (a node that serves none), every node is asked. */
	for (size_t i = 0; i < opt->n_nodes && !am; i++)
		nb_admin_get_map(loop, &cfg, opt->nodes[i], &am, err, sizeof(err));
	done = calloc(opt->n_nodes ? opt->n_nodes : 1, sizeof(*done));
	if (!done) {
		nb_cli_err("create: out of memory");
		nb_admin_map_free(am);
		ev_loop_destroy(loop);
		return CLI_EXIT_FAIL;
	}

	for (size_t i = 0; i < opt->n_nodes; i++) {
		struct session_volume info = { 0 };
		size_t j;

		for (j = 0; am && j < i; j++)
			if (done[j] && nb_admin_map_same_store(am, opt->nodes[j],
							       opt->nodes[i]))
				break;
		if (am && j < i) {
			printf("create: %s shares its store with %s: asked there\n",
			       opt->nodes[i], opt->nodes[j]);
			continue;
		}
		err[0] = '\0';
		ret = nb_admin_create(loop, &cfg, opt->nodes[i], size, (uint32_t)bs,
				   &info, err, sizeof(err));
		if (ret == 0) {
			done[i] = true;
			printf("create: volume '%s' of %s, block size %" PRIu64 ", created on %s\n",
			       opt->volume, nb_cli_fmt_size(size, sz, sizeof(sz)), bs,
			       opt->nodes[i]);
			continue;
		}
		rc = CLI_EXIT_FAIL;
		done[i] = ret == -EEXIST;	/* the store answered */
		if (ret == -EEXIST)
			nb_cli_err("create: volume '%s' already exists on %s%s%s",
				opt->volume, opt->nodes[i], err[0] ? ": " : "", err);
		else if (ret == -EOPNOTSUPP)
			nb_cli_err("create: %s does not allow creating volumes%s%s",
				opt->nodes[i], err[0] ? ": " : "", err);
		else
			nb_cli_err("create: cannot create volume '%s' on %s: %s",
				opt->volume, opt->nodes[i], err[0] ? err : strerror(-ret));
	}
	free(done);
	nb_admin_map_free(am);
	ev_loop_destroy(loop);
	return rc;
}

/* The writer lock, for people and scripts alike. */
static void cli_print_lock(const struct session_lock *lock)
{
	char since[64];
	time_t t = (time_t)lock->since;
	struct tm tm;

	if (!lock->owner[0]) {
		if (lock->generation)
			printf("writer lock:      unlocked (generation %" PRIu64 ")\n",
			       lock->generation);
		else
			printf("writer lock:      unlocked\n");
		return;
	}
	printf("writer lock:      %s\n", lock->owner);
	printf("lock generation:  %" PRIu64 "\n", lock->generation);
	if (lock->since && gmtime_r(&t, &tm) &&
	    strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm))
		printf("locked since:     %s\n", since);
}

static struct json_object *cli_info_json_map(const struct admin_map *map)
{
	struct json_object *o = json_object_new_object();
	struct json_object *nodes = json_object_new_array();
	struct json_object *placements = json_object_new_array();

	cli_json_add_u64(o, "epoch", nb_admin_map_epoch(map));
	cli_json_add_u64(o, "chunk_size", nb_admin_map_chunk_size(map));
	for (uint32_t i = 0; i < nb_admin_map_n_nodes(map); i++) {
		struct json_object *n = json_object_new_object();
		uint32_t group;
		const char *addr = nb_admin_map_node(map, i, &group);

		cli_json_add_str(n, "address", addr);
		cli_json_add_u64(n, "group", group);
		json_object_array_add(nodes, n);
	}
	for (uint32_t i = 0; i < nb_admin_map_n_placements(map); i++) {
		struct json_object *pl = json_object_new_array();
		const uint32_t *idx;
		uint32_t n = nb_admin_map_placement(map, i, &idx);

		for (uint32_t j = 0; j < n; j++)
			json_object_array_add(pl, json_object_new_uint64(idx[j]));
		json_object_array_add(placements, pl);
	}
	json_object_object_add(o, "nodes", nodes);
	json_object_object_add(o, "placements", placements);
	return o;
}

static int cli_info_json(const struct cli_common *opt,
			 const struct session_volume *info,
			 const struct session_lock *lock, const char *node,
			 const struct admin_map *map)
{
	struct json_object *o = json_object_new_object();
	struct json_object *l = json_object_new_object();

	cli_json_add_str(o, "volume", info->name[0] ? info->name : opt->volume);
	cli_json_add_u64(o, "size", info->size);
	cli_json_add_u64(o, "block_size", info->block_size);
	cli_json_add_bool(o, "read_only", info->read_only);
	cli_json_add_u64(o, "max_discard", info->max_discard_size);
	cli_json_add_u64(o, "max_write_zeroes", info->max_write_zeroes_size);
	cli_json_add_str(l, "owner", lock->owner[0] ? lock->owner : NULL);
	cli_json_add_u64(l, "generation", lock->generation);
	if (lock->owner[0] && lock->since)
		cli_json_add_u64(l, "since", lock->since);
	else
		json_object_object_add(l, "since", NULL);
	json_object_object_add(o, "lock", l);
	cli_json_add_str(o, "answered_by", node);
	json_object_object_add(o, "map", map ? cli_info_json_map(map) : NULL);
	return cli_json_print(o);
}

int cli_cmd_info(struct cli_common *opt, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_JSON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct session_volume info = { 0 };
	struct session_lock lock;
	struct session_config cfg;
	struct admin_map *map = NULL;
	struct ev_loop *loop;
	char sz[64], err[512] = "";
	size_t i;
	int first, ret, rc = CLI_EXIT_FAIL;

	ret = nb_cli_parse_options(opt, "info", argc, argv, opts, NULL, NULL,
				cli_info_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first < argc) {
		nb_cli_err("info: unexpected argument '%s'", argv[first]);
		return CLI_EXIT_USAGE;
	}
	if (nb_cli_require_common(opt, "info", true) < 0)
		return CLI_EXIT_USAGE;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		nb_cli_err("info: cannot create an event loop");
		return CLI_EXIT_FAIL;
	}
	cli_admin_config(opt, &cfg);

	/* The first node that answers; a missing volume is an answer. */
	for (i = 0; i < opt->n_nodes; i++) {
		err[0] = '\0';
		ret = nb_admin_info(loop, &cfg, opt->nodes[i], &info, &lock, err,
				 sizeof(err));
		if (ret == 0)
			break;
		if (ret == -ENOENT) {
			nb_cli_err("info: volume '%s' not found on %s%s%s", opt->volume,
				opt->nodes[i], err[0] ? ": " : "", err);
			goto out_destroy_loop;
		}
		nb_cli_err("info: %s: %s", opt->nodes[i], err[0] ? err : strerror(-ret));
	}
	if (i == opt->n_nodes)
		goto out_destroy_loop;

	if (opt->json) {
		err[0] = '\0';
		ret = nb_admin_get_map(loop, &cfg, opt->nodes[i], &map, err,
				       sizeof(err));
		if (ret < 0)
			nb_cli_err("info: map not available from %s: %s",
				opt->nodes[i], err[0] ? err : strerror(-ret));
		if (cli_info_json(opt, &info, &lock, opt->nodes[i],
				  ret == 0 ? map : NULL) == 0)
			rc = CLI_EXIT_OK;
		nb_admin_map_free(map);
		goto out_destroy_loop;
	}
	printf("volume:           %s\n", info.name[0] ? info.name : opt->volume);
	printf("size:             %s\n", nb_cli_fmt_size(info.size, sz, sizeof(sz)));
	printf("block size:       %u\n", info.block_size);
	printf("read-only:        %s\n", info.read_only ? "yes" : "no");
	printf("max discard:      %u\n", info.max_discard_size);
	printf("max write zeroes: %u\n", info.max_write_zeroes_size);
	cli_print_lock(&lock);
	printf("answered by:      %s\n", opt->nodes[i]);

	err[0] = '\0';
	ret = nb_admin_get_map(loop, &cfg, opt->nodes[i], &map, err, sizeof(err));
	if (ret == 0 && map)
		nb_admin_map_print(stdout, map);
	else
		printf("map:              not available (%s)\n",
		       err[0] ? err : strerror(-ret));
	nb_admin_map_free(map);
	rc = CLI_EXIT_OK;

out_destroy_loop:
	ev_loop_destroy(loop);
	return rc;
}

/*
 * Break one store's lock, only as it was seen: a lock taken in between is
 * left alone. Returns 0 (broken, or nobody held it) or -errno after
 * printing why.
 */
static int cli_unlock_store(const struct cli_common *opt, struct ev_loop *loop,
			    const struct session_config *cfg,
			    const struct admin_store_lock *st, bool *broke)
{
	struct session_lock after;
	char was[SESSION_NAME_MAX + 96], now[SESSION_NAME_MAX + 96];
	char where[300], err[512] = "";
	int ret;

	if (st->group)
		snprintf(where, sizeof(where), "store group %u (node %s)",
			 st->group, st->node);
	else
		snprintf(where, sizeof(where), "node %s", st->node);
	if (st->err == -ENOENT) {
		nb_cli_err("unlock: volume '%s' not found on %s: %s",
			opt->volume, where, st->errmsg);
		return st->err;
	}
	if (st->err < 0) {
		nb_cli_err("unlock: %s: %s", where, st->errmsg);
		return st->err;
	}
	if (!st->lock.owner[0])
		return 0;
	ret = nb_admin_unlock(loop, cfg, st->node, st->lock.generation, &after,
			   err, sizeof(err));
	nb_session_lock_describe(&st->lock, was, sizeof(was));
	if (ret == -ESTALE) {
		nb_cli_err("unlock: the writer lock of volume '%s' on %s moved on since it was held by %s; nothing broken there (run unlock again to break the new one): %s",
			opt->volume, where, was, err);
		return ret;
	}
	if (ret == -EOPNOTSUPP) {
		nb_cli_err("unlock: %s keeps no writer lock for volume '%s'%s%s",
			where, opt->volume, err[0] ? ": " : "", err);
		return ret;
	}
	if (ret < 0) {
		nb_cli_err("unlock: cannot break the writer lock of volume '%s' on %s: %s",
			opt->volume, where, err[0] ? err : strerror(-ret));
		return ret;
	}
	printf("unlock: volume '%s': broke the writer lock held by %s on %s; now %s\n",
	       opt->volume, was, where,
	       nb_session_lock_describe(&after, now, sizeof(now)));
	*broke = true;
	return 0;
}

int cli_cmd_unlock(struct cli_common *opt, int argc, char **argv)
{
	struct admin_store_lock *stores = NULL;
	struct session_config cfg;
	struct ev_loop *loop;
	char owner[SESSION_NAME_MAX + 1], err[512] = "";
	int first, n, ret, rc = CLI_EXIT_FAIL;
	bool broke = false;
	size_t i;

	ret = nb_cli_parse_options(opt, "unlock", argc, argv, NULL, NULL, NULL,
				cli_unlock_help, &first);
	if (ret)
		return ret > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first < argc - 1) {
		nb_cli_err("unlock: unexpected argument '%s'", argv[first + 1]);
		return CLI_EXIT_USAGE;
	}
	if (first == argc - 1) {
		if (!argv[first][0] || strlen(argv[first]) > SESSION_NAME_MAX) {
			nb_cli_err("unlock: VOLUME must be 1 to %d characters",
				SESSION_NAME_MAX);
			return CLI_EXIT_USAGE;
		}
		opt->volume = argv[first];
	}
	if (nb_cli_require_common(opt, "unlock", true) < 0 ||
	    cli_lock_owner(opt, "unlock", owner, sizeof(owner)) < 0)
		return CLI_EXIT_USAGE;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		nb_cli_err("unlock: cannot create an event loop");
		return CLI_EXIT_FAIL;
	}
	cli_admin_config(opt, &cfg);
	cfg.lock_owner = owner;

	/* Who holds the lock of each store (a map group, or a node alone). */
	n = nb_admin_store_locks(loop, &cfg, &stores, err, sizeof(err));
	if (n < 0) {
		nb_cli_err("unlock: no node gave the cluster map: %s",
			err[0] ? err : strerror(-n));
		goto out_destroy_loop;
	}
	rc = CLI_EXIT_OK;
	for (i = 0; i < (size_t)n; i++)
		if (cli_unlock_store(opt, loop, &cfg, &stores[i], &broke) < 0)
			rc = CLI_EXIT_FAIL;
	if (rc == CLI_EXIT_OK && !broke)
		printf("unlock: volume '%s' is not locked: nothing to break\n",
		       opt->volume);
	free(stores);

out_destroy_loop:
	ev_loop_destroy(loop);
	return rc;
}
