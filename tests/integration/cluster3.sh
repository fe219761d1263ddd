#!/bin/bash
# SPDX-License-Identifier: MIT
# A 3-node cluster (3 mock processes, one shared map, each node its own
# memory volume, every chunk placed on exactly one node): every chunk is
# routed to its node. After writing a pattern over 96 chunks with
# chunk-aligned I/Os, each node has seen exactly the writes and bytes of
# its own chunks and no NOT_OWNER; the data reads back, also with reads
# that span several nodes.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

chunk=$((64 << 10))
nchunks=96
size=$((nchunks * chunk))
# chunk i -> placement i % 3 -> node i % 3 only
nb_cluster_start 3 "$NB_TMP/map" 64K --volume "vol0:$size" -- 0 1 2
cli=(--cluster "$NB_CLUSTER" --volume vol0)
nb_info "cluster $NB_CLUSTER, chunk size $chunk, $nchunks chunks, placement: chunk i on node i % 3"

out=$(nb_cli "${cli[@]}" verify --pass write --size "$size" --block-size 64K --queue-depth 8 --seed 7) ||
	nb_fail "write pass failed: $out"
nb_info "ok: $(grep wrote <<<"$out")"

per_node=$((nchunks / 3))
for i in 0 1 2; do
	writes=$(mock_stat "n$i" writes)
	bytes=$(mock_stat "n$i" bytes_written)
	notown=$(mock_stat "n$i" not_owner)
	[ "$writes" = "$per_node" ] ||
		nb_fail "node n$i saw $writes writes, expected exactly $per_node (one per own chunk): $(mock_ctl n$i stats)"
	[ "$bytes" = $((per_node * chunk)) ] ||
		nb_fail "node n$i wrote $bytes bytes, expected $((per_node * chunk))"
	[ "$notown" = 0 ] || nb_fail "node n$i answered NOT_OWNER $notown times, expected 0"
	nb_info "ok: node n$i: $writes writes, $bytes bytes, not_owner 0"
done

# Read back with I/Os of 3 chunks (split over all three nodes) and with
# unaligned 100 KiB ones.
for bs in 192K 100K; do
	out=$(nb_cli "${cli[@]}" verify --pass read --size "$size" --block-size "$bs" --queue-depth 8 --seed 7) ||
		nb_fail "read pass with $bs I/Os failed: $out"
	grep -q "verify: OK" <<<"$out" || nb_fail "read pass with $bs I/Os did not report OK: $out"
	nb_info "ok: read back with $bs I/Os: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out")"
done
for i in 0 1 2; do
	bytes=$(mock_stat "n$i" bytes_read)
	notown=$(mock_stat "n$i" not_owner)
	[ "$bytes" = $((2 * per_node * chunk)) ] ||
		nb_fail "node n$i read $bytes bytes, expected $((2 * per_node * chunk)) (its chunks, twice)"
	[ "$notown" = 0 ] || nb_fail "node n$i answered NOT_OWNER $notown times, expected 0"
done
nb_info "ok: every node read exactly its own chunks, no NOT_OWNER"

nb_info "PASS"
