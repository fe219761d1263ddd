// SPDX-License-Identifier: MIT
/*
 * vhost-blk-test - a minimal userspace virtio-blk driver over
 * /dev/vhost-vdpa-N that checks the device behind it.
 */
#include "modes.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char main_usage[] =
"Usage: vhost-blk-test [OPTIONS] DEVICE COMMAND [FILE]\n"
"\n"
"Drives the virtio-blk device behind DEVICE (/dev/vhost-vdpa-N) from\n"
"userspace, the way a guest driver would through QEMU: it negotiates\n"
"features, maps its own memory with IOTLB messages, sets up split\n"
"virtqueues, kicks them through eventfds and waits for interrupts on call\n"
"eventfds (and polls the used rings). Every status byte, used element and\n"
"byte of data is checked. Every wait is bounded by --timeout.\n"
"\n"
"Commands:\n"
"  info              print the device's features, configuration and limits\n"
"  verify            write a seeded pattern over the range, read it back,\n"
"                    flush, write-zeroes and discard random ranges (zeroed\n"
"                    ranges must read zero, discarded ones zero or their\n"
"                    old data), random mixed requests, then the error paths\n"
"                    (I/O past the end -> IOERR, unknown type -> UNSUPP)\n"
"  fill              write the pattern (one generation) over the range, flush\n"
"  check             read the range; every sector must hold what fill wrote\n"
"                    with the same --seed (so other tools can stand between)\n"
"  remap             like verify's mixed phase, --rounds times, while the\n"
"                    data buffers of idle requests move to other memory at\n"
"                    other IOVAs (IOTLB UPDATE + INVALIDATE, batched and\n"
"                    not) and IOVAs are reused for different memory; a\n"
"                    device using a stale translation fails the checks;\n"
"                    with IOTLB batching, the rings' mapping is also\n"
"                    replaced in place now and then (INVALIDATE + UPDATE\n"
"                    in one batch)\n"
"  reset             mixed requests with --rounds device resets (status 0)\n"
"                    in the middle, each followed by a new negotiation that\n"
"                    drops EVENT_IDX, INDIRECT_DESC, MQ, ... in turn, new\n"
"                    queue sizes and sometimes remapped memory; then the\n"
"                    range is rewritten and checked\n"
"  write-file FILE   write FILE to the device at --offset, then flush\n"
"  read-file FILE    read --size bytes (default: to the end) at --offset\n"
"                    into FILE\n"
"\n"
"Options:\n"
"  --seed N          pattern and randomness seed (default 1)\n"
"  --size BYTES      bytes to test or read (default 16M, or to the end);\n"
"                    suffixes K M G\n"
"  --offset BYTES    where the range starts (default 0)\n"
"  --ops N           requests per mixed phase (default from the size)\n"
"  --rounds N        remap rounds / resets (default 3 / 4)\n"
"  --inflight        reset: reset with requests in flight instead of\n"
"                    after they completed (lost writes may or may not\n"
"                    have happened; nothing else is accepted)\n"
"  --quiesce         remap: move buffers only while no request is in\n"
"                    flight (for devices that drop every cached mapping\n"
"                    on an IOTLB change, e.g. libvduse in QEMU 7.2)\n"
"  --queues N        use at most N queues (default all, up to 8)\n"
"  --queue-size N    ring entries, a power of two (default 128)\n"
"  --depth N         requests in flight per queue (default 8)\n"
"  --max-io BYTES    largest read/write request (default 128K)\n"
"  --seg-align N     split data into descriptors at multiples of N bytes\n"
"                    (default 512; 1 = anywhere)\n"
"  --no-event-idx, --no-indirect, --no-mq, --no-flush, --no-discard,\n"
"  --no-write-zeroes\n"
"                    do not negotiate that feature\n"
"  --no-batch        do not use IOTLB batching even when offered\n"
"  --lax-len         accept a used length that differs from the bytes\n"
"                    written (default: a check failure)\n"
"  --timeout SEC     longest wait for a completion (default 30)\n"
"  -v, --verbose     print every IOTLB message\n"
"  -h, --help        this text\n"
"\n"
"Exit status: 0 all checks passed, 1 a check failed or the device\n"
"misbehaved (the message says which request, sector, byte or status),\n"
"2 usage error.\n"
"\n"
"The device must be a vDPA device bound to vhost_vdpa, e.g. after\n"
"  modprobe -a vdpa vduse vhost_vdpa; vdpa dev add name D mgmtdev vduse\n"
"(see docs/vms.md).\n";

enum {
	OPT_SEED = 256, OPT_SIZE, OPT_OFFSET, OPT_OPS, OPT_ROUNDS,
	OPT_INFLIGHT, OPT_QUEUES, OPT_QSIZE, OPT_DEPTH, OPT_MAX_IO,
	OPT_SEG_ALIGN, OPT_NO_EVENT_IDX, OPT_NO_INDIRECT, OPT_NO_MQ,
	OPT_NO_FLUSH, OPT_NO_DISCARD, OPT_NO_WZ, OPT_NO_BATCH, OPT_LAX_LEN,
	OPT_TIMEOUT, OPT_QUIESCE,
};

static int main_bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "vhost-blk-test: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vhost-blk-test --help'.\n");
	return VBT_EXIT_USAGE;
}

static int main_num(const char *opt, const char *arg, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	if (util_parse_size(arg, out) || *out < min || *out > max) {
		fprintf(stderr, "vhost-blk-test: %s '%s': want a number from %"
			PRIu64 " to %" PRIu64 "\n", opt, arg, min, max);
		return VBT_EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "inflight", no_argument, NULL, OPT_INFLIGHT },
		{ "quiesce", no_argument, NULL, OPT_QUIESCE },
		{ "queues", required_argument, NULL, OPT_QUEUES },
		{ "queue-size", required_argument, NULL, OPT_QSIZE },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "max-io", required_argument, NULL, OPT_MAX_IO },
		{ "seg-align", required_argument, NULL, OPT_SEG_ALIGN },
		{ "no-event-idx", no_argument, NULL, OPT_NO_EVENT_IDX },
		{ "no-indirect", no_argument, NULL, OPT_NO_INDIRECT },
		{ "no-mq", no_argument, NULL, OPT_NO_MQ },
		{ "no-flush", no_argument, NULL, OPT_NO_FLUSH },
		{ "no-discard", no_argument, NULL, OPT_NO_DISCARD },
		{ "no-write-zeroes", no_argument, NULL, OPT_NO_WZ },
		{ "no-batch", no_argument, NULL, OPT_NO_BATCH },
		{ "lax-len", no_argument, NULL, OPT_LAX_LEN },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mode_args a = {
		.so = {
			.queue_size = 128,
			.depth = 8,
			.max_io = 128 << 10,
			.seg_align = 512,
			.timeout_ms = 30000,
			.batch = true,
			.strict_len = true,
		},
		.seed = 1,
		.feature_mask = ~0ULL,
	};
	bool rounds_given = false;
	const char *cmd;
	uint64_t v;
	int c, ret;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case OPT_SEED:
			ret = main_num("--seed", optarg, 0, UINT64_MAX, &a.seed);
			break;
		case OPT_SIZE:
			ret = main_num("--size", optarg, 512, UINT64_MAX, &a.size);
			a.size_given = true;
			break;
		case OPT_OFFSET:
			ret = main_num("--offset", optarg, 0, UINT64_MAX, &a.offset);
			break;
		case OPT_OPS:
			ret = main_num("--ops", optarg, 1, 100000000, &a.ops);
			break;
		case OPT_ROUNDS:
			ret = main_num("--rounds", optarg, 1, 10000, &v);
			a.rounds = (unsigned)v;
			rounds_given = true;
			break;
		case OPT_INFLIGHT:
			a.inflight = true;
			break;
		case OPT_QUIESCE:
			a.quiesce = true;
			break;
		case OPT_QUEUES:
			ret = main_num("--queues", optarg, 1, 8, &v);
			a.so.queues = (unsigned)v;
			break;
		case OPT_QSIZE:
			ret = main_num("--queue-size", optarg, 4, 32768, &v);
			if (!ret && (v & (v - 1)))
				return main_bad("--queue-size '%s' is not a "
						"power of two", optarg);
			a.so.queue_size = (unsigned)v;
			break;
		case OPT_DEPTH:
			ret = main_num("--depth", optarg, 1, 256, &v);
			a.so.depth = (unsigned)v;
			break;
		case OPT_MAX_IO:
			ret = main_num("--max-io", optarg, 4096, 4 << 20, &v);
			if (!ret && v % 4096)
				return main_bad("--max-io '%s' is not a "
						"multiple of 4096", optarg);
			a.so.max_io = (uint32_t)v;
			break;
		case OPT_SEG_ALIGN:
			ret = main_num("--seg-align", optarg, 1, 4096, &v);
			if (!ret && (v & (v - 1)))
				return main_bad("--seg-align '%s' is not a "
						"power of two", optarg);
			a.so.seg_align = (uint32_t)v;
			break;
		case OPT_NO_EVENT_IDX:
			a.feature_mask &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
			break;
		case OPT_NO_INDIRECT:
			a.feature_mask &= ~(1ULL << VIRTIO_RING_F_INDIRECT_DESC);
			break;
		case OPT_NO_MQ:
			a.feature_mask &= ~(1ULL << VIRTIO_BLK_F_MQ);
			break;
		case OPT_NO_FLUSH:
			a.feature_mask &= ~(1ULL << VIRTIO_BLK_F_FLUSH);
			break;
		case OPT_NO_DISCARD:
			a.feature_mask &= ~(1ULL << VIRTIO_BLK_F_DISCARD);
			break;
		case OPT_NO_WZ:
			a.feature_mask &= ~(1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
			break;
		case OPT_NO_BATCH:
			a.so.batch = false;
			break;
		case OPT_LAX_LEN:
			a.so.strict_len = false;
			break;
		case OPT_TIMEOUT:
			ret = main_num("--timeout", optarg, 1, 3600, &v);
			a.so.timeout_ms = (int)v * 1000;
			break;
		case 'v':
			util_verbose_on = true;
			break;
		case 'h':
			fputs(main_usage, stdout);
			return VBT_EXIT_OK;
		default:
			fprintf(stderr, "Try 'vhost-blk-test --help'.\n");
			return VBT_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	if (argc - optind < 2)
		return main_bad("%s", "need DEVICE and COMMAND");
	a.path = argv[optind];
	cmd = argv[optind + 1];
	a.so.seed = a.seed;
	if (!strcmp(cmd, "read-file") || !strcmp(cmd, "write-file")) {
		if (argc - optind != 3)
			return main_bad("%s needs exactly one FILE", cmd);
		a.file = argv[optind + 2];
	} else if (argc - optind != 2) {
		return main_bad("unexpected argument '%s'", argv[optind + 2]);
	}
	if (!rounds_given)
		a.rounds = !strcmp(cmd, "reset") ? 4 : 3;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(cmd, "info"))
		return mode_info(&a);
	if (!strcmp(cmd, "verify"))
		return mode_verify(&a);
	if (!strcmp(cmd, "fill"))
		return mode_fill(&a);
	if (!strcmp(cmd, "check"))
		return mode_check(&a);
	if (!strcmp(cmd, "remap"))
		return mode_remap(&a);
	if (!strcmp(cmd, "reset"))
		return mode_reset(&a);
	if (!strcmp(cmd, "write-file"))
		return mode_write_file(&a);
	if (!strcmp(cmd, "read-file"))
		return mode_read_file(&a);
	return main_bad("unknown command '%s'", cmd);
}
