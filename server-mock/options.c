/* SPDX-License-Identifier: MIT */
/* Command line of netblk-server-mock. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "parse.h"
#include "tls_suites.h"
#include "version.h"

static const char mock_help_text[] =
"NAME\n"
"    netblk-server-mock - storage node for tests and demos of vduse-netblk\n"
"\n"
"SYNOPSIS\n"
"    netblk-server-mock --cert FILE --key FILE --ca FILE [OPTIONS]\n"
"    netblk-server-mock ctl SOCKET COMMAND [ARGS...]\n"
"\n"
"DESCRIPTION\n"
"    Serves volumes over the netblk protocol (TLS 1.3 with client\n"
"    certificates, protobuf frames; see docs/protocol.md). Volumes live in\n"
"    memory or in sparse files; several mock processes given the same file\n"
"    behave like paths to one shared disk. A cluster map decides which\n"
"    chunks this node serves; requests for other chunks get NOT_OWNER.\n"
"    Faults (errors, delays, dropped connections, stalls) can be injected at\n"
"    start (--fault) or while running through the control socket.\n"
"    Single-threaded and event-driven (libev).\n"
"\n"
"OPTIONS\n"
"    --listen HOST:PORT\n"
"        Address to listen on: IPv4 \"127.0.0.1:7700\", IPv6 \"[::1]:7700\" or a\n"
"        host name. Port 0 picks a free port (see --port-file). Default\n"
"        127.0.0.1:7700. A non-loopback address is allowed (a warning is\n"
"        logged): then only the TLS client certificate check protects the\n"
"        node, so use it on trusted networks only.\n"
"    --port-file FILE\n"
"        After listening, write the bound port number and a newline to FILE\n"
"        (atomically, by rename). Tests wait for this file.\n"
"    --cert FILE, --key FILE\n"
"        PEM certificate (chain) and private key of this node. Required.\n"
"        The key file must not be accessible by group or others (chmod\n"
"        600), or the node refuses to start.\n"
"    --ca FILE\n"
"        PEM CA certificates. Clients must present a certificate signed by\n"
"        one of them, or the TLS handshake fails. Required.\n"
"    --tls-ciphersuites LIST\n"
"        TLS 1.3 cipher suites this node allows, joined by ':' (OpenSSL\n"
"        names: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,\n"
"        TLS_CHACHA20_POLY1305_SHA256, ...). The node takes the first suite\n"
"        of the client's list that it allows: the client's order decides.\n"
"        Default: OpenSSL's (those three).\n"
"    --name NAME\n"
"        Name in logs and in the HANDSHAKE reply. Default: the node address.\n"
"    --node ADDR\n"
"        This node's address as written in the cluster map (\"host:port\").\n"
"        Default: the --listen host with the bound port.\n"
"    --map FILE\n"
"        Cluster map in the text form of proto/include/map.h. Reloaded on SIGHUP and\n"
"        on the control command map-reload; a bad file keeps the old map.\n"
"        Without --map the node serves everything with a one-node map of\n"
"        itself (epoch 1, chunk size 64M).\n"
"    --volume NAME:SIZE[:FILE][:ro]\n"
"        Add a volume (repeatable). SIZE takes K, M, G, T suffixes (powers of\n"
"        1024) and must be a multiple of the block size. Without FILE the\n"
"        volume lives in memory (an anonymous mapping: untouched blocks cost\n"
"        nothing, contents are lost on exit). FILE is created when missing and\n"
"        extended (sparse) when shorter than SIZE. \":ro\" makes the volume\n"
"        read-only. Names: letters, digits, '.', '_', '-'. FILE may not\n"
"        contain ':'.\n"
"    --block-size 512|4096\n"
"        Logical block size of every volume given with --volume. Default 512.\n"
"    --allow-create\n"
"        Accept CREATE, DELETE and RESIZE requests (otherwise they get\n"
"        UNSUPPORTED). Created volumes live in memory, or in files under\n"
"        --volume-dir.\n"
"    --writes-durable\n"
"        Say writes_durable in the HANDSHAKE reply, as a node whose\n"
"        acknowledged writes are durable at once (RADOS) would: clients then\n"
"        send it no FLUSH. For tests only: the mock does not make writes\n"
"        durable any sooner. Default: writes need a FLUSH (or FUA).\n"
"    --volume-dir DIR\n"
"        Directory for volumes made by CREATE (file DIR/NAME, must not exist).\n"
"    --max-inflight N\n"
"        Most requests a connection may have in flight (1..4096); the\n"
"        HANDSHAKE grants min(client, N). Default 128.\n"
"    --max-io-size SIZE\n"
"        Largest READ/WRITE payload (512..32M); the HANDSHAKE grants\n"
"        min(client, SIZE). Default 1M.\n"
"    --max-discard SIZE\n"
"        Largest DISCARD, announced as max_discard_size. 0 disables DISCARD\n"
"        (requests get UNSUPPORTED). Default 32M.\n"
"    --max-write-zeroes SIZE\n"
"        Largest WRITE_ZEROES, announced as max_write_zeroes_size. 0 disables\n"
"        it. Default: the --max-discard value.\n"
"    --max-connections N\n"
"        Connections accepted at once; more are closed at once. Default 1024.\n"
"    --hello-timeout SECONDS\n"
"        Time a client has for TLS and its HANDSHAKE request before it is\n"
"        disconnected (1..3600). Default 10.\n"
"    --control PATH\n"
"        Unix stream socket for control commands (see CONTROL COMMANDS).\n"
"        A stale socket at PATH is replaced; it is removed on exit.\n"
"    --fault \"COMMAND\"\n"
"        Run a control command at start, e.g. --fault \"error-rate write 10\"\n"
"        (repeatable, in order).\n"
"    --seed N\n"
"        Seed of the random numbers used by error-rate and random delays.\n"
"    --log-level error|warn|info|debug\n"
"        Messages to print on stderr. Default info (connections, volumes,\n"
"        map, faults, protocol violations); debug adds every request.\n"
"    --help\n"
"        Print this text.\n"
"    --version\n"
"        Print the version and exit.\n"
"\n"
"PROTOCOL NOTES\n"
"    A connection starts with HANDSHAKE; then GET_MAP, PING, INFO, CREATE\n"
"    and OPEN. OPEN binds a volume; a read-only volume or a client asking\n"
"    read_only opens read-only (write-class requests then get READ_ONLY).\n"
"    READ, WRITE, FLUSH, DISCARD and WRITE_ZEROES need an open volume\n"
"    (BAD_STATE otherwise); offsets and lengths are bytes, no alignment is\n"
"    needed. Checks, in order:\n"
"      unknown flag bits                         MALFORMED\n"
"      known flag the operation does not take    UNSUPPORTED\n"
"        (FUA goes with WRITE and WRITE_ZEROES, UNMAP with WRITE_ZEROES)\n"
"      range outside the volume                  OUT_OF_RANGE\n"
"      write-class request, read-only open       READ_ONLY\n"
"      DISCARD/WRITE_ZEROES disabled / too long  UNSUPPORTED / MALFORMED\n"
"      chunk not served by this node             NOT_OWNER\n"
"      injected error (error-rate)               IO_ERROR\n"
"    FLUSH and FUA call fdatasync on file volumes. DISCARD punches a hole\n"
"    and reads back zeroes. Every reply carries the node's map epoch.\n"
"    A frame that breaks the framing (bad magic or version, header over\n"
"    4096 bytes, undecodable header, data length not matching, READ or\n"
"    WRITE over max_io_size) is logged with the peer address and closes\n"
"    the connection.\n"
"\n"
"CONTROL COMMANDS\n"
"    One command per line; the answer is one line, \"ok ...\" or\n"
"    \"error REASON\". OP is read, write, flush, discard or write-zeroes.\n"
"    error-rate OP|all PERCENT\n"
"        That percentage (0..100, decimals allowed) of OP requests fail with\n"
"        IO_ERROR without touching the data.\n"
"    delay MS [MAX_MS]\n"
"        Answer every data request after MS milliseconds, or a random time\n"
"        in [MS, MAX_MS]. The request is executed when answered. delay 0: off.\n"
"    drop-every N\n"
"        Every Nth data request received from now on closes its connection\n"
"        abruptly without an answer. 0: off.\n"
"    stall on|off\n"
"        on: keep reading but never answer data requests (up to the\n"
"        in-flight limit). off: execute and answer the held requests.\n"
"    reset\n"
"        All faults off (held requests are answered).\n"
"    faults\n"
"        Current fault settings as key=value pairs.\n"
"    stats\n"
"        Counters as key=value pairs: connections open_connections requests\n"
"        reads writes flushes fua discards write_zeroes not_owner\n"
"        errors_injected drops bytes_read bytes_written inflight map_epoch.\n"
"    map-reload\n"
"        Reload --map (answer: the new epoch; on error the old map stays).\n"
"    resize VOLUME SIZE\n"
"        Grow a volume (never shrinks).\n"
"    quit\n"
"        Close everything and exit 0.\n"
"    help\n"
"        List the commands.\n"
"\n"
"CTL\n"
"    netblk-server-mock ctl SOCKET COMMAND [ARGS...] sends one command,\n"
"    prints the answer line and exits 0 for \"ok\", 1 for \"error\" or when\n"
"    the socket cannot be reached.\n"
"\n"
"SIGNALS\n"
"    SIGHUP reloads the map. SIGINT and SIGTERM close everything and exit 0.\n"
"\n"
"EXIT STATUS\n"
"    0 after SIGINT, SIGTERM or quit; 1 on a runtime error at start\n"
"    (unreadable file, address in use, bad certificate); 2 on a usage error.\n"
"\n"
"EXAMPLES\n"
"    netblk-server-mock --listen 127.0.0.1:0 --port-file /tmp/port \\\n"
"        --cert server.pem --key server.key --ca ca.pem \\\n"
"        --volume vol0:1G --control /tmp/mock.sock\n"
"    netblk-server-mock ctl /tmp/mock.sock error-rate write 5\n"
"    netblk-server-mock ctl /tmp/mock.sock stats\n";

enum {
	MOCK_OPT_LISTEN = 256,
	MOCK_OPT_PORT_FILE,
	MOCK_OPT_CERT,
	MOCK_OPT_KEY,
	MOCK_OPT_CA,
	MOCK_OPT_NAME,
	MOCK_OPT_NODE,
	MOCK_OPT_MAP,
	MOCK_OPT_VOLUME,
	MOCK_OPT_BLOCK_SIZE,
	MOCK_OPT_ALLOW_CREATE,
	MOCK_OPT_WRITES_DURABLE,
	MOCK_OPT_VOLUME_DIR,
	MOCK_OPT_MAX_INFLIGHT,
	MOCK_OPT_MAX_IO_SIZE,
	MOCK_OPT_MAX_DISCARD,
	MOCK_OPT_MAX_WRITE_ZEROES,
	MOCK_OPT_MAX_CONNECTIONS,
	MOCK_OPT_HELLO_TIMEOUT,
	MOCK_OPT_CONTROL,
	MOCK_OPT_FAULT,
	MOCK_OPT_SEED,
	MOCK_OPT_LOG_LEVEL,
	MOCK_OPT_TLS_CIPHERSUITES,
	MOCK_OPT_HELP,
	MOCK_OPT_VERSION,
};

static const struct option mock_long_options[] = {
	{ "listen", required_argument, NULL, MOCK_OPT_LISTEN },
	{ "port-file", required_argument, NULL, MOCK_OPT_PORT_FILE },
	{ "cert", required_argument, NULL, MOCK_OPT_CERT },
	{ "key", required_argument, NULL, MOCK_OPT_KEY },
	{ "ca", required_argument, NULL, MOCK_OPT_CA },
	{ "tls-ciphersuites", required_argument, NULL, MOCK_OPT_TLS_CIPHERSUITES },
	{ "name", required_argument, NULL, MOCK_OPT_NAME },
	{ "node", required_argument, NULL, MOCK_OPT_NODE },
	{ "map", required_argument, NULL, MOCK_OPT_MAP },
	{ "volume", required_argument, NULL, MOCK_OPT_VOLUME },
	{ "block-size", required_argument, NULL, MOCK_OPT_BLOCK_SIZE },
	{ "allow-create", no_argument, NULL, MOCK_OPT_ALLOW_CREATE },
	{ "writes-durable", no_argument, NULL, MOCK_OPT_WRITES_DURABLE },
	{ "volume-dir", required_argument, NULL, MOCK_OPT_VOLUME_DIR },
	{ "max-inflight", required_argument, NULL, MOCK_OPT_MAX_INFLIGHT },
	{ "max-io-size", required_argument, NULL, MOCK_OPT_MAX_IO_SIZE },
	{ "max-discard", required_argument, NULL, MOCK_OPT_MAX_DISCARD },
	{ "max-write-zeroes", required_argument, NULL, MOCK_OPT_MAX_WRITE_ZEROES },
	{ "max-connections", required_argument, NULL, MOCK_OPT_MAX_CONNECTIONS },
	{ "hello-timeout", required_argument, NULL, MOCK_OPT_HELLO_TIMEOUT },
	{ "control", required_argument, NULL, MOCK_OPT_CONTROL },
	{ "fault", required_argument, NULL, MOCK_OPT_FAULT },
	{ "seed", required_argument, NULL, MOCK_OPT_SEED },
	{ "log-level", required_argument, NULL, MOCK_OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, MOCK_OPT_HELP },
	{ "version", no_argument, NULL, MOCK_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/*
 * nb_parse_size(), plus the lowercase m, g and t suffixes this program
 * always took ("1g"); the copy is needed to hand them on in capitals.
 */
int mock_parse_size(const char *text, uint64_t *out)
{
	size_t len = strlen(text);
	char *upper;
	int r;

	if (len < 2 || !strchr("mgt", text[len - 1]) ||
	    !isdigit((unsigned char)text[len - 2]))
		return nb_parse_size(text, out);
	upper = strdup(text);
	if (!upper)
		return -ENOMEM;
	upper[len - 1] = (char)toupper((unsigned char)upper[len - 1]);
	r = nb_parse_size(upper, out);
	free(upper);
	return r;
}

static int mock_options_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int mock_options_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", MOCK_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", MOCK_PROG);
	return -EINVAL;
}

static int mock_options_size32(const char *opt, const char *arg, uint64_t min,
			       uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (mock_parse_size(arg, &v) < 0 || v < min || v > max)
		return mock_options_error("%s %s: expected a size from %llu to %llu bytes (K, M, G suffixes)",
					  opt, arg, (unsigned long long)min,
					  (unsigned long long)max);
	*out = (uint32_t)v;
	return 0;
}

/* "error", "warn", "info" or "debug" (not all of nb_log_parse_level's names). */
static int mock_options_log_level(const char *text, int *level)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(text, levels[i].name) == 0) {
			*level = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static int mock_options_volume(struct mock_config *cfg, const char *arg)
{
	char *copy = strdup(arg), *parts[5];
	struct mock_volume_spec *specs, *spec;
	int n = 0, r = -EINVAL;
	if (!copy)
		return -ENOMEM;
	/* strsep keeps empty fields, so "a::b" is refused below. */
	for (char *s = copy, *tok; (tok = strsep(&s, ":")) && n < 5;)
		parts[n++] = tok;
	if (n < 2 || n > 4) {
		mock_options_error("--volume %s: expected NAME:SIZE[:FILE][:ro]", arg);
		goto out_free;
	}
	specs = realloc(cfg->volumes, (cfg->n_volumes + 1) * sizeof(*specs));
	if (!specs) {
		r = -ENOMEM;
		goto out_free;
	}
	cfg->volumes = specs;
	spec = &specs[cfg->n_volumes];
	memset(spec, 0, sizeof(*spec));
	if (!nb_store_name_valid(parts[0])) {
		mock_options_error("--volume %s: bad name \"%s\" (letters, digits, '.', '_', '-')",
				   arg, parts[0]);
		goto out_free;
	}
	if (mock_parse_size(parts[1], &spec->size) < 0 || spec->size == 0) {
		mock_options_error("--volume %s: bad size \"%s\" (e.g. 512M, 1G)", arg, parts[1]);
		goto out_free;
	}
	if (n == 3 && (strcmp(parts[2], "ro") == 0 || strcmp(parts[2], "rw") == 0)) {
		spec->read_only = strcmp(parts[2], "ro") == 0;
	} else if (n >= 3) {
		if (!parts[2][0]) {
			mock_options_error("--volume %s: empty FILE", arg);
			goto out_free;
		}
		if (n == 4 && strcmp(parts[3], "ro") != 0 && strcmp(parts[3], "rw") != 0) {
			mock_options_error("--volume %s: expected \"ro\" after the file, not \"%s\"",
					   arg, parts[3]);
			goto out_free;
		}
		spec->read_only = n == 4 && strcmp(parts[3], "ro") == 0;
		spec->path = strdup(parts[2]);
		if (!spec->path) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	spec->name = strdup(parts[0]);
	if (!spec->name) {
		free(spec->path);
		r = -ENOMEM;
		goto out_free;
	}
	cfg->n_volumes++;
	r = 0;
out_free:
	free(copy);
	return r;
}

static int mock_options_fault(struct mock_config *cfg, const char *arg)
{
	char **faults = realloc(cfg->faults, (cfg->n_faults + 1) * sizeof(*faults));

	if (!faults)
		return -ENOMEM;
	cfg->faults = faults;
	faults[cfg->n_faults] = strdup(arg);
	if (!faults[cfg->n_faults])
		return -ENOMEM;
	cfg->n_faults++;
	return 0;
}

static int mock_options_check(struct mock_config *cfg)
{
	char host[200], port[8];

	if (nb_split_host_port(cfg->listen, host, sizeof(host), port, sizeof(port)) < 0)
		return mock_options_error("--listen %s: expected HOST:PORT or [IPV6]:PORT (port 0..65535)",
					  cfg->listen);
	if (!cfg->cert)
		return mock_options_error("missing required option --cert FILE");
	if (!cfg->key)
		return mock_options_error("missing required option --key FILE");
	if (!cfg->ca)
		return mock_options_error("missing required option --ca FILE");
	for (size_t i = 0; i < cfg->n_volumes; i++) {
		const struct mock_volume_spec *spec = &cfg->volumes[i];

		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->volumes[j].name, spec->name) == 0)
				return mock_options_error("--volume %s: name given twice",
							  spec->name);
		if (spec->size % cfg->block_size != 0)
			return mock_options_error("--volume %s: size %llu is not a multiple of --block-size %u",
						  spec->name, (unsigned long long)spec->size,
						  cfg->block_size);
	}
	if (cfg->max_write_zeroes == UINT32_MAX)
		cfg->max_write_zeroes = cfg->max_discard;
	return 0;
}

int mock_options_parse(int argc, char **argv, struct mock_config *cfg)
{
	uint64_t v;
	int c, r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:7700";
	cfg->block_size = 512;
	cfg->max_inflight = 128;
	cfg->max_io_size = 1u << 20;
	cfg->max_discard = 32u << 20;
	cfg->max_write_zeroes = UINT32_MAX; /* follows --max-discard */
	cfg->max_connections = 1024;
	cfg->hello_timeout = 10;
	cfg->log_level = LOG_INFO;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", mock_long_options, NULL)) != -1) {
		const char *opt = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		switch (c) {
		case MOCK_OPT_LISTEN:
			cfg->listen = optarg;
			break;
		case MOCK_OPT_PORT_FILE:
			cfg->port_file = optarg;
			break;
		case MOCK_OPT_CERT:
			cfg->cert = optarg;
			break;
		case MOCK_OPT_KEY:
			cfg->key = optarg;
			break;
		case MOCK_OPT_CA:
			cfg->ca = optarg;
			break;
		case MOCK_OPT_NAME:
			if (!optarg[0] || strlen(optarg) > RPC_NAME_MAX)
				return mock_options_error("--name: 1 to %d characters", RPC_NAME_MAX);
			cfg->name = optarg;
			break;
		case MOCK_OPT_NODE:
			if (!optarg[0] || strlen(optarg) > MAP_ADDR_MAX)
				return mock_options_error("--node: 1 to %d characters", MAP_ADDR_MAX);
			cfg->node = optarg;
			break;
		case MOCK_OPT_MAP:
			cfg->map_path = optarg;
			break;
		case MOCK_OPT_VOLUME:
			r = mock_options_volume(cfg, optarg);
			if (r < 0)
				return r;
			break;
		case MOCK_OPT_BLOCK_SIZE:
			if (strcmp(optarg, "512") != 0 && strcmp(optarg, "4096") != 0)
				return mock_options_error("--block-size %s: must be 512 or 4096", optarg);
			cfg->block_size = (uint32_t)atoi(optarg);
			break;
		case MOCK_OPT_ALLOW_CREATE:
			cfg->allow_create = true;
			break;
		case MOCK_OPT_WRITES_DURABLE:
			cfg->writes_durable = true;
			break;
		case MOCK_OPT_VOLUME_DIR:
			cfg->volume_dir = optarg;
			break;
		case MOCK_OPT_MAX_INFLIGHT:
			if (nb_parse_u64(optarg, 1, NB_SRV_MAX_INFLIGHT, &v) < 0)
				return mock_options_error("--max-inflight %s: expected 1 to %d",
							  optarg, NB_SRV_MAX_INFLIGHT);
			cfg->max_inflight = (uint32_t)v;
			break;
		case MOCK_OPT_MAX_IO_SIZE:
			if (mock_options_size32("--max-io-size", optarg, 512, RPC_MAX_DATA_LEN,
						&cfg->max_io_size) < 0)
				return -EINVAL;
			break;
		case MOCK_OPT_MAX_DISCARD:
			if (mock_options_size32("--max-discard", optarg, 0, UINT32_MAX - 1,
						&cfg->max_discard) < 0)
				return -EINVAL;
			break;
		case MOCK_OPT_MAX_WRITE_ZEROES:
			if (mock_options_size32("--max-write-zeroes", optarg, 0, UINT32_MAX - 1,
						&cfg->max_write_zeroes) < 0)
				return -EINVAL;
			break;
		case MOCK_OPT_MAX_CONNECTIONS:
			if (nb_parse_u64(optarg, 1, 65536, &v) < 0)
				return mock_options_error("--max-connections %s: expected 1 to 65536",
							  optarg);
			cfg->max_connections = (uint32_t)v;
			break;
		case MOCK_OPT_HELLO_TIMEOUT:
			if (nb_parse_u64(optarg, 1, 3600, &v) < 0)
				return mock_options_error("--hello-timeout %s: expected 1 to 3600 seconds",
							  optarg);
			cfg->hello_timeout = (uint32_t)v;
			break;
		case MOCK_OPT_CONTROL:
			cfg->control_path = optarg;
			break;
		case MOCK_OPT_FAULT:
			if (mock_options_fault(cfg, optarg) < 0)
				return mock_options_error("--fault: out of memory");
			break;
		case MOCK_OPT_SEED:
			if (nb_parse_u64(optarg, 0, UINT64_MAX, &cfg->seed) < 0)
				return mock_options_error("--seed %s: expected a number", optarg);
			cfg->has_seed = true;
			break;
		case MOCK_OPT_TLS_CIPHERSUITES: {
			char why[512];

			if (nb_tls_suites_check(optarg, why, sizeof(why)) < 0)
				return mock_options_error("--tls-ciphersuites '%s': %s",
							  optarg, why);
			cfg->tls_ciphersuites = optarg;
			break;
		}
		case MOCK_OPT_LOG_LEVEL:
			if (mock_options_log_level(optarg, &cfg->log_level) < 0)
				return mock_options_error("--log-level %s: expected error, warn, info or debug",
							  optarg);
			break;
		case MOCK_OPT_HELP:
			fputs(mock_help_text, stdout);
			return 1;
		case MOCK_OPT_VERSION:
			nb_version_print(stdout, MOCK_PROG);
			return 1;
		case ':':
			return mock_options_error("option %s needs an argument", opt);
		default:
			return mock_options_error("unknown option %s", opt);
		}
	}
	if (optind < argc)
		return mock_options_error("unexpected argument \"%s\"", argv[optind]);
	return mock_options_check(cfg);
}

void mock_options_free(struct mock_config *cfg)
{
	for (size_t i = 0; i < cfg->n_volumes; i++) {
		free(cfg->volumes[i].name);
		free(cfg->volumes[i].path);
	}
	free(cfg->volumes);
	for (size_t i = 0; i < cfg->n_faults; i++)
		free(cfg->faults[i]);
	free(cfg->faults);
	memset(cfg, 0, sizeof(*cfg));
}
