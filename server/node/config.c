/* SPDX-License-Identifier: MIT */
/*
 * Configuration of netblk-node: one table of settings read from a file of
 * "key = value" lines and from the command line as --key VALUE, the
 * command line winning. Errors name the option or FILE:LINE and the key.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"
#include "map.h"
#include "node.h"
#include "parse.h"
#include "rpc.h"
#include "tls_suites.h"
#include "version.h"

#define NODE_LINE_MAX 4096

static const char node_help_text[] =
"NAME\n"
"    netblk-node - storage node of vduse-netblk\n"
"\n"
"SYNOPSIS\n"
"    netblk-node [--config FILE] [OPTIONS]\n"
"    netblk-node --config FILE --check-config\n"
"\n"
"DESCRIPTION\n"
"    Serves volumes to vduse-netblk clients over the netblk protocol\n"
"    (docs/protocol.md): TLS 1.3 with client certificates, many requests in\n"
"    flight per connection, replies in any order. The volumes live in a\n"
"    backend:\n"
"      file   volumes are sparse files in one directory (NAME.vol, with its\n"
"             block size in NAME.meta). FLUSH and FUA reach the disk with\n"
"             fdatasync. The node owns the directory alone (it locks\n"
"             DIR/.netblk.lock): no other node serves these volumes, so a\n"
"             map must not give this node's chunks to another node.\n"
"      rados  volumes in a Ceph RADOS pool (settings below; docs/rados.md):\n"
"             a header object and one object per extent. A write is\n"
"             acknowledged once RADOS has it on the pool's replicas. Any\n"
"             number of nodes may serve the same pool (one group in the\n"
"             map). Built only when librados-dev was found at build time.\n"
"    Every backend keeps a writer lock per volume (docs/protocol.md): a\n"
"    read-write OPEN takes it for its owner, a second owner is refused\n"
"    (LOCKED) unless it breaks the lock, and the connections of the former\n"
"    holder are fenced (FENCED) on every node. file: DIR/NAME.lock; rados:\n"
"    the volume's header object.\n"
"    The node uses --threads I/O threads, each with its own event loop and\n"
"    its own connections; a new connection goes to the thread with the\n"
"    fewest.\n"
"\n"
"CONFIGURATION\n"
"    Every setting below is a line \"key = value\" in the file given with\n"
"    --config and an option --key VALUE (flags: --key alone, or \"key = yes\"\n"
"    / \"no\" in the file). Options override the file. In the file, blank\n"
"    lines and lines starting with '#' are ignored; values run to the end of\n"
"    the line (no quotes). Sizes take K, M, G suffixes (powers of 1024).\n"
"\n"
"  Network and TLS\n"
"    listen = HOST:PORT\n"
"        Address to listen on: \"0.0.0.0:7700\", \"[::]:7700\", a host name.\n"
"        Port 0 picks a free port (see port-file). Default 0.0.0.0:7700.\n"
"    cert = FILE, key = FILE\n"
"        PEM certificate (chain) and private key of this node. Required. The\n"
"        key must not be accessible by group or others (chmod 600).\n"
"    ca = FILE\n"
"        PEM CA certificates that client certificates must chain to.\n"
"        Required.\n"
"    tls-ciphersuites = LIST\n"
"        TLS 1.3 suites allowed, joined by ':' (OpenSSL names). The first\n"
"        suite of the client's list that is allowed is used. Default:\n"
"        OpenSSL's.\n"
"    port-file = FILE\n"
"        Write the bound port to FILE once listening (atomically).\n"
"\n"
"  The node in the cluster\n"
"    name = NAME\n"
"        Name in logs and in the HANDSHAKE reply. Default: the node address.\n"
"    node = HOST:PORT\n"
"        This node's address as written in the cluster map. Default: the\n"
"        listen address with the bound port.\n"
"    map = FILE\n"
"        Cluster map (text form of proto/include/map.h). SIGHUP reloads it; a\n"
"        bad file keeps the old map. Default: a one-node map of this node\n"
"        (epoch 1, chunk size 64M).\n"
"\n"
"  Backend\n"
"    backend = file|rados\n"
"        Default file.\n"
"    dir = DIR\n"
"        file: the volumes' directory. Required with the file backend.\n"
"    sync-threads = N\n"
"        file: threads that run fdatasync for FLUSH and FUA (0..64; 0 runs\n"
"        it on the I/O thread). Default 2.\n"
"    rados-pool = POOL, rados-conf = FILE, rados-user = NAME\n"
"        rados: the pool holding the volumes (required), the Ceph\n"
"        configuration file (default: librados' search, /etc/ceph/ceph.conf)\n"
"        and the cephx user without \"client.\" (default admin). The user\n"
"        needs mon 'profile rbd' (read, and blocklisting a node that\n"
"        misses a lock break) and osd 'allow rwx pool=POOL'.\n"
"    rados-keyring = FILE\n"
"        rados: the user's keyring. Default: the one ceph.conf names.\n"
"    rados-connect-timeout = SECONDS\n"
"        rados: give up reaching the monitors after SECONDS (1..3600).\n"
"        Default 30.\n"
"    rados-op-timeout = SECONDS\n"
"        rados: fail a RADOS operation after SECONDS (0..3600; 0 = wait for\n"
"        the cluster to recover). Default 4: below a client's try timeout\n"
"        (5 s) and a lock break's wait for the nodes (5 s), so that a write\n"
"        in flight at a break ends before the break returns.\n"
"    allow-create = yes|no\n"
"        Accept CREATE, DELETE and RESIZE requests (netblk-cli create,\n"
"        delete, resize). Default no.\n"
"\n"
"  Limits\n"
"    threads = N\n"
"        I/O threads (1..256). Default: the number of CPUs.\n"
"    max-inflight = N\n"
"        Requests in flight per connection (1..4096); the HANDSHAKE grants\n"
"        min(client, N). Default 128.\n"
"    max-io-size = SIZE\n"
"        Largest READ/WRITE (512..32M). Default 1M.\n"
"    max-discard = SIZE\n"
"        Largest DISCARD; 0 disables DISCARD. Default 32M.\n"
"    max-write-zeroes = SIZE\n"
"        Largest WRITE_ZEROES; 0 disables it. Default: max-discard.\n"
"    max-connections = N\n"
"        Connections open at once (1..65536). Default 1024.\n"
"    hello-timeout = SECONDS\n"
"        Time a client has for TLS and its HANDSHAKE (1..3600). Default 10.\n"
"\n"
"  Logging\n"
"    log-level = error|warn|info|debug\n"
"        Default info; debug logs every request.\n"
"    stats-interval = SECONDS\n"
"        Log the counters every SECONDS (0 = never, the default). SIGUSR1\n"
"        logs them at once.\n"
"\n"
"OPTIONS ONLY\n"
"    --config FILE    read the settings above from FILE first\n"
"    --check-config   check the settings, print them and exit 0\n"
"    --help           print this text\n"
"    --version        print the version and exit\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT: close every connection, finish the requests the\n"
"    backend holds, exit 0. SIGHUP: reload the map. SIGUSR1: log counters\n"
"    (requests, flushes, fdatasyncs ...).\n"
"\n"
"EXIT STATUS\n"
"    0 after SIGTERM or SIGINT; 1 on a runtime error at start (unreadable\n"
"    file, address in use, bad certificate, directory in use by another\n"
"    node, cluster unreachable, pool missing, rados not built); 2 on a usage error (bad option or\n"
"    configuration line; the message names it).\n"
"\n"
"EXAMPLE\n"
"    # /etc/netblk/node.conf\n"
"    listen = 0.0.0.0:7700\n"
"    cert = /etc/netblk/server.crt\n"
"    key = /etc/netblk/server.key\n"
"    ca = /etc/netblk/ca.crt\n"
"    backend = file\n"
"    dir = /var/lib/netblk\n"
"    allow-create = yes\n"
"\n"
"    netblk-node --config /etc/netblk/node.conf --threads 4\n";

enum node_kind {
	NODE_STRING,   /* any text */
	NODE_FILE,     /* a path */
	NODE_FLAG,     /* yes/no; an option alone means yes */
	NODE_OTHER,    /* checked by its handler */
};

struct node_setting;
typedef int (*node_setter)(struct node_config *cfg, const struct node_setting *s,
			   const char *value, char *why, size_t whylen);

struct node_setting {
	const char *key;
	enum node_kind kind;
	node_setter set;
	size_t field;         /* offset of the const char * a string sets */
};

static const char *node_backend_names[NODE_BACKEND_MAX] = {
	[NODE_BACKEND_FILE] = "file",
	[NODE_BACKEND_RADOS] = "rados",
};

const char *nb_node_backend_name(enum node_backend b)
{
	return (unsigned)b < NODE_BACKEND_MAX ? node_backend_names[b] : "?";
}

static int node_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int node_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Keep a copy of a value for the whole run. */
static const char *node_keep(struct node_config *cfg, const char *value)
{
	char **v = realloc(cfg->strings, (cfg->n_strings + 1) * sizeof(*v));

	if (!v)
		return NULL;
	cfg->strings = v;
	v[cfg->n_strings] = strdup(value);
	return v[cfg->n_strings] ? v[cfg->n_strings++] : NULL;
}

static int node_set_string(struct node_config *cfg, const struct node_setting *s,
			   const char *value, char *why, size_t whylen)
{
	const char *v;

	if (!value[0])
		return node_why(why, whylen, "empty value");
	v = node_keep(cfg, value);
	if (!v)
		return node_why(why, whylen, "out of memory");
	*(const char **)((char *)cfg + s->field) = v;
	return 0;
}

static int node_flag(const char *value, bool *out)
{
	if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") ||
	    !strcmp(value, "on"))
		*out = true;
	else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") ||
		 !strcmp(value, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int node_set_allow_create(struct node_config *cfg, const struct node_setting *s,
				 const char *value, char *why, size_t whylen)
{
	if (node_flag(value, &cfg->srv.allow_create) < 0)
		return node_why(why, whylen, "expected yes or no, not \"%s\"", value);
	return 0;
}

static int node_set_listen(struct node_config *cfg, const struct node_setting *s,
			   const char *value, char *why, size_t whylen)
{
	char host[200], port[8];

	if (nb_split_host_port(value, host, sizeof(host), port, sizeof(port)) < 0)
		return node_why(why, whylen, "expected HOST:PORT or [IPV6]:PORT (port 0..65535), not \"%s\"",
				value);
	return node_set_string(cfg, s, value, why, whylen);
}

static int node_set_name(struct node_config *cfg, const struct node_setting *s,
			 const char *value, char *why, size_t whylen)
{
	size_t max = strcmp(s->key, "name") == 0 ? RPC_NAME_MAX : MAP_ADDR_MAX;

	if (strlen(value) > max)
		return node_why(why, whylen, "1 to %zu characters", max);
	return node_set_string(cfg, s, value, why, whylen);
}

static int node_set_suites(struct node_config *cfg, const struct node_setting *s,
			   const char *value, char *why, size_t whylen)
{
	char reason[256];

	if (nb_tls_suites_check(value, reason, sizeof(reason)) < 0)
		return node_why(why, whylen, "%s", reason);
	return node_set_string(cfg, s, value, why, whylen);
}

static int node_set_backend(struct node_config *cfg, const struct node_setting *s,
			    const char *value, char *why, size_t whylen)
{
	for (int b = 0; b < NODE_BACKEND_MAX; b++) {
		if (strcmp(value, node_backend_names[b]) == 0) {
			cfg->backend = (enum node_backend)b;
			return 0;
		}
	}
	return node_why(why, whylen, "unknown backend \"%s\" (file or rados)", value);
}

static int node_set_number(const char *value, uint64_t min, uint64_t max,
			   uint64_t *out, char *why, size_t whylen)
{
	if (nb_parse_u64(value, min, max, out) < 0)
		return node_why(why, whylen, "expected a number from %llu to %llu, not \"%s\"",
				(unsigned long long)min, (unsigned long long)max, value);
	return 0;
}

static int node_set_size(const char *value, uint64_t min, uint64_t max,
			 uint32_t *out, char *why, size_t whylen)
{
	uint64_t v;

	if (nb_parse_size(value, &v) < 0 || v < min || v > max)
		return node_why(why, whylen, "expected a size from %llu to %llu bytes (K, M, G suffixes), not \"%s\"",
				(unsigned long long)min, (unsigned long long)max, value);
	*out = (uint32_t)v;
	return 0;
}

static int node_set_limit(struct node_config *cfg, const struct node_setting *s,
			  const char *value, char *why, size_t whylen)
{
	struct nb_srv_config *c = &cfg->srv;
	uint64_t v;
	int r;

	if (!strcmp(s->key, "threads")) {
		r = node_set_number(value, 1, NB_SRV_MAX_THREADS, &v, why, whylen);
		c->threads = (unsigned)v;
	} else if (!strcmp(s->key, "sync-threads")) {
		r = node_set_number(value, 0, 64, &v, why, whylen);
		cfg->sync_threads = (unsigned)v;
	} else if (!strcmp(s->key, "max-inflight")) {
		r = node_set_number(value, 1, NB_SRV_MAX_INFLIGHT, &v, why, whylen);
		c->max_inflight = (uint32_t)v;
	} else if (!strcmp(s->key, "max-connections")) {
		r = node_set_number(value, 1, 65536, &v, why, whylen);
		c->max_connections = (uint32_t)v;
	} else if (!strcmp(s->key, "hello-timeout")) {
		r = node_set_number(value, 1, 3600, &v, why, whylen);
		c->hello_timeout = (uint32_t)v;
	} else if (!strcmp(s->key, "rados-connect-timeout")) {
		r = node_set_number(value, 1, 3600, &v, why, whylen);
		cfg->rados_connect_timeout = (unsigned)v;
	} else if (!strcmp(s->key, "rados-op-timeout")) {
		r = node_set_number(value, 0, 3600, &v, why, whylen);
		cfg->rados_op_timeout = (unsigned)v;
	} else if (!strcmp(s->key, "max-io-size")) {
		r = node_set_size(value, 512, RPC_MAX_DATA_LEN, &c->max_io_size, why, whylen);
	} else if (!strcmp(s->key, "max-discard")) {
		r = node_set_size(value, 0, UINT32_MAX - 1, &c->max_discard, why, whylen);
	} else {
		r = node_set_size(value, 0, UINT32_MAX - 1, &c->max_write_zeroes, why, whylen);
	}
	return r;
}

static int node_set_log_level(struct node_config *cfg, const struct node_setting *s,
			      const char *value, char *why, size_t whylen)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(value, levels[i].name) == 0) {
			cfg->log_level = levels[i].level;
			return 0;
		}
	}
	return node_why(why, whylen, "expected error, warn, info or debug, not \"%s\"", value);
}

static int node_set_stats_interval(struct node_config *cfg, const struct node_setting *s,
				   const char *value, char *why, size_t whylen)
{
	if (nb_parse_seconds(value, 0, 86400, &cfg->stats_interval) < 0)
		return node_why(why, whylen, "expected seconds from 0 to 86400, not \"%s\"", value);
	return 0;
}

#define NODE_F(f) offsetof(struct node_config, f)

static const struct node_setting node_settings[] = {
	{ "listen", NODE_OTHER, node_set_listen, NODE_F(srv.listen) },
	{ "port-file", NODE_FILE, node_set_string, NODE_F(port_file) },
	{ "cert", NODE_FILE, node_set_string, NODE_F(srv.cert) },
	{ "key", NODE_FILE, node_set_string, NODE_F(srv.key) },
	{ "ca", NODE_FILE, node_set_string, NODE_F(srv.ca) },
	{ "tls-ciphersuites", NODE_OTHER, node_set_suites, NODE_F(srv.tls_ciphersuites) },
	{ "name", NODE_OTHER, node_set_name, NODE_F(srv.name) },
	{ "node", NODE_OTHER, node_set_name, NODE_F(srv.node) },
	{ "map", NODE_FILE, node_set_string, NODE_F(srv.map_path) },
	{ "backend", NODE_OTHER, node_set_backend, 0 },
	{ "dir", NODE_FILE, node_set_string, NODE_F(dir) },
	{ "sync-threads", NODE_OTHER, node_set_limit, 0 },
	{ "rados-pool", NODE_STRING, node_set_string, NODE_F(rados_pool) },
	{ "rados-conf", NODE_FILE, node_set_string, NODE_F(rados_conf) },
	{ "rados-user", NODE_STRING, node_set_string, NODE_F(rados_user) },
	{ "rados-keyring", NODE_FILE, node_set_string, NODE_F(rados_keyring) },
	{ "rados-connect-timeout", NODE_OTHER, node_set_limit, 0 },
	{ "rados-op-timeout", NODE_OTHER, node_set_limit, 0 },
	{ "allow-create", NODE_FLAG, node_set_allow_create, 0 },
	{ "threads", NODE_OTHER, node_set_limit, 0 },
	{ "max-inflight", NODE_OTHER, node_set_limit, 0 },
	{ "max-io-size", NODE_OTHER, node_set_limit, 0 },
	{ "max-discard", NODE_OTHER, node_set_limit, 0 },
	{ "max-write-zeroes", NODE_OTHER, node_set_limit, 0 },
	{ "max-connections", NODE_OTHER, node_set_limit, 0 },
	{ "hello-timeout", NODE_OTHER, node_set_limit, 0 },
	{ "log-level", NODE_OTHER, node_set_log_level, 0 },
	{ "stats-interval", NODE_OTHER, node_set_stats_interval, 0 },
};

static const struct node_setting *node_setting_find(const char *key)
{
	for (size_t i = 0; i < sizeof(node_settings) / sizeof(node_settings[0]); i++)
		if (strcmp(node_settings[i].key, key) == 0)
			return &node_settings[i];
	return NULL;
}

static int node_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int node_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", NODE_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", NODE_PROG);
	return -EINVAL;
}

static char *node_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int node_config_file(struct node_config *cfg, const char *path)
{
	char line[NODE_LINE_MAX], why[512];
	unsigned n = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return node_usage("--config %s: cannot read: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const struct node_setting *s;
		char *eq, *key, *value;

		n++;
		if (!strchr(line, '\n') && !feof(f)) {
			r = node_usage("%s:%u: line longer than %d bytes", path, n,
				       NODE_LINE_MAX - 2);
			break;
		}
		key = node_trim(line);
		if (!key[0] || key[0] == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			r = node_usage("%s:%u: expected \"key = value\", not \"%s\"", path, n, key);
			break;
		}
		*eq = '\0';
		value = node_trim(eq + 1);
		key = node_trim(key);
		s = node_setting_find(key);
		if (!s) {
			r = node_usage("%s:%u: unknown key \"%s\" (see --help)", path, n, key);
			break;
		}
		if (s->set(cfg, s, value, why, sizeof(why)) < 0) {
			r = node_usage("%s:%u: %s: %s", path, n, key, why);
			break;
		}
	}
	fclose(f);
	return r;
}

static int node_config_check(struct node_config *cfg)
{
	struct nb_srv_config *c = &cfg->srv;

	if (!c->cert)
		return node_usage("missing setting cert (--cert FILE or \"cert = FILE\")");
	if (!c->key)
		return node_usage("missing setting key (--key FILE or \"key = FILE\")");
	if (!c->ca)
		return node_usage("missing setting ca (--ca FILE or \"ca = FILE\")");
	if (cfg->backend == NODE_BACKEND_FILE && !cfg->dir)
		return node_usage("the file backend needs a directory (--dir DIR or \"dir = DIR\")");
	if (cfg->backend == NODE_BACKEND_RADOS && !cfg->rados_pool)
		return node_usage("the rados backend needs a pool (--rados-pool POOL or \"rados-pool = POOL\")");
	if (cfg->backend != NODE_BACKEND_FILE && cfg->dir)
		return node_usage("dir is a setting of the file backend, not of %s",
				  nb_node_backend_name(cfg->backend));
	if (c->max_write_zeroes == UINT32_MAX)
		c->max_write_zeroes = c->max_discard;
	return 0;
}

static void node_config_defaults(struct node_config *cfg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	cfg->srv.listen = "0.0.0.0:7700";
	cfg->srv.open_by_name = true;
	cfg->srv.threads = cpus < 1 ? 1 : cpus > NB_SRV_MAX_THREADS ? NB_SRV_MAX_THREADS :
			   (unsigned)cpus;
	cfg->srv.max_inflight = 128;
	cfg->srv.max_io_size = 1u << 20;
	cfg->srv.max_discard = 32u << 20;
	cfg->srv.max_write_zeroes = UINT32_MAX; /* = max_discard */
	cfg->srv.max_connections = 1024;
	cfg->srv.hello_timeout = 10;
	cfg->backend = NODE_BACKEND_FILE;
	cfg->sync_threads = 2;
	cfg->rados_connect_timeout = 30;
	/* below the client's try timeout (5 s), within the break's 5 s
	 * notify wait (docs/rados.md, "Fencing") */
	cfg->rados_op_timeout = 4;
	cfg->log_level = LOG_INFO;
}

int nb_node_config_load(int argc, char **argv, struct node_config *cfg)
{
	char why[512];
	int i, r;

	node_config_defaults(cfg);
	/* First --help and --config: the file comes before the other options. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(node_help_text, stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			nb_version_print(stdout, NODE_PROG);
			return 1;
		}
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return node_usage("--config: needs a FILE");
			cfg->config_path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			cfg->config_path = argv[i] + 9;
		}
	}
	if (cfg->config_path) {
		r = node_config_file(cfg, cfg->config_path);
		if (r < 0)
			return r;
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;
		const struct node_setting *s;
		char key[64];

		if (strncmp(arg, "--", 2) != 0 || !arg[2])
			return node_usage("unexpected argument \"%s\" (options start with --)", arg);
		arg += 2;
		eq = strchr(arg, '=');
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
		if (eq)
			value = eq + 1;
		if (!strcmp(key, "config")) {
			if (!eq)
				i++;
			continue;
		}
		if (!strcmp(key, "check-config") && !eq) {
			cfg->check_only = true;
			continue;
		}
		s = node_setting_find(key);
		if (!s)
			return node_usage("unknown option --%s", key);
		if (!value) {
			if (s->kind == NODE_FLAG)
				value = "yes";
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return node_usage("--%s: needs a value", key);
		}
		if (s->set(cfg, s, value, why, sizeof(why)) < 0)
			return node_usage("--%s %s: %s", key, value, why);
	}
	return node_config_check(cfg);
}

void nb_node_config_free(struct node_config *cfg)
{
	for (size_t i = 0; i < cfg->n_strings; i++)
		free(cfg->strings[i]);
	free(cfg->strings);
	cfg->strings = NULL;
	cfg->n_strings = 0;
}

void nb_node_config_print(const struct node_config *cfg)
{
	const struct nb_srv_config *c = &cfg->srv;

#define NODE_P(k, fmt, v) printf("%s = " fmt "\n", k, v)
#define NODE_S(k, v) do { if (v) NODE_P(k, "%s", v); } while (0)
	NODE_S("listen", c->listen);
	NODE_S("port-file", cfg->port_file);
	NODE_S("cert", c->cert);
	NODE_S("key", c->key);
	NODE_S("ca", c->ca);
	NODE_S("tls-ciphersuites", c->tls_ciphersuites);
	NODE_S("name", c->name);
	NODE_S("node", c->node);
	NODE_S("map", c->map_path);
	NODE_P("backend", "%s", nb_node_backend_name(cfg->backend));
	NODE_S("dir", cfg->dir);
	if (cfg->backend == NODE_BACKEND_FILE)
		NODE_P("sync-threads", "%u", cfg->sync_threads);
	NODE_S("rados-pool", cfg->rados_pool);
	NODE_S("rados-conf", cfg->rados_conf);
	NODE_S("rados-user", cfg->rados_user);
	NODE_S("rados-keyring", cfg->rados_keyring);
	if (cfg->backend == NODE_BACKEND_RADOS) {
		NODE_P("rados-connect-timeout", "%u", cfg->rados_connect_timeout);
		NODE_P("rados-op-timeout", "%u", cfg->rados_op_timeout);
	}
	NODE_P("allow-create", "%s", c->allow_create ? "yes" : "no");
	NODE_P("threads", "%u", c->threads);
	NODE_P("max-inflight", "%u", c->max_inflight);
	NODE_P("max-io-size", "%u", c->max_io_size);
	NODE_P("max-discard", "%u", c->max_discard);
	NODE_P("max-write-zeroes", "%u", c->max_write_zeroes);
	NODE_P("max-connections", "%u", c->max_connections);
	NODE_P("hello-timeout", "%u", c->hello_timeout);
	NODE_P("stats-interval", "%g", cfg->stats_interval);
#undef NODE_S
#undef NODE_P
}
