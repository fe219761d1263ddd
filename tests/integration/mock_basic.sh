#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock: handshake grant, open, write/read back, statuses of
# bad requests, pipelined requests, discard/write-zeroes, read-only volumes.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs

nb_mock_start m --volume vol0:64M --volume ro0:1M:ro --max-inflight 16 --max-io-size 256K

mock_probe m "hs 64 1M" >/dev/null
grep -q "max_inflight=16 max_io_size=262144" "$NB_TMP/probe.out" ||
	nb_fail "grant is not min(client, node): $(cat "$NB_TMP/probe.out")"

mock_probe m \
	"!BAD_STATE read 0 512 0" \
	"hs" "ping" "getmap" \
	"!BAD_STATE read 0 512 0" \
	"!NOT_FOUND open nosuch" \
	"info vol0" \
	"open vol0" \
	"write 0 4096 7" "read 0 4096 7" \
	"write 1000 3333 9 fua" "read 1000 3333 9" "read 0 1000 7" \
	"write 67108352 512 3" "read 67108352 512 3" \
	"!OUT_OF_RANGE read 67108352 1024 0" \
	"!OUT_OF_RANGE write 67108864 1 1" \
	"!OUT_OF_RANGE read 18446744073709551104 4096 0" \
	"read 67108864 0 0" \
	"!MALFORMED rflags 0x80 0 512" "!UNSUPPORTED rflags 1 0 512" \
	"flush" \
	"write 8192 4096 9" "discard 0 8192" "readz 0 8192" "read 8192 4096 9" \
	"write 0 65536 5" "wz 100 10000" "readz 100 10000" "read 10100 100 5" "read 0 100 5" \
	"wz 20000 40000 unmap" "readz 20000 40000" \
	"pipeline 16 4096 11" \
	"trickle 3000000 5000 13" \
	"pipeline 8 256K 12" \
	"!OUT_OF_RANGE discard 0 128M" \
	"!MALFORMED discard 0 64M" \
	"!BAD_STATE hs" \
	"open ro0" "!READ_ONLY write 0 512 1" "!READ_ONLY discard 0 512" "readz 0 4096" \
	"open vol0 ro" "!READ_ONLY wz 0 512" "read 10100 100 12" \
	"!UNSUPPORTED create newvol 1M" >/dev/null

grep -q "open ro0: volume=ro0 size=1048576 block_size=512 read_only=1" "$NB_TMP/probe.out" ||
	nb_fail "read-only open not reported"
grep -q "open vol0: volume=vol0 size=67108864 block_size=512 read_only=0 max_discard=33554432 max_write_zeroes=33554432 map_epoch=1 map_nodes=1" "$NB_TMP/probe.out" ||
	nb_fail "OPEN reply lacks volume info or the one-node map"
grep -q "getmap: map epoch=1 chunk_size=67108864 nodes=1 node0=127.0.0.1:$(nb_mock_port m)" "$NB_TMP/probe.out" ||
	nb_fail "default map is not a one-node map of this node"

# CREATE with --allow-create, then use the new volume.
nb_mock_start c --allow-create --block-size 4096
mock_probe c "hs" "create v1 8M 4096" "!EXISTS create v1 8M" "!MALFORMED create v2 1000" \
	"!MALFORMED create bad/name 1M" "open v1" "write 4096 8192 3" "read 4096 8192 3" >/dev/null
grep -q "open v1: volume=v1 size=8388608 block_size=4096" "$NB_TMP/probe.out" ||
	nb_fail "created volume not opened with its size and block size"
nb_info "all steps passed"
