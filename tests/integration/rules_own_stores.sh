#!/bin/bash
# SPDX-License-Identifier: MIT
# Two nodes, each with its OWN memory volume and no store group, a map
# listing both for every chunk (chunk 0: n0 then n1; chunk 1: n1 then
# n0). Data is written through each chunk's first node; n0 is killed for
# good. Reads of n0's chunks fail with an I/O error at the deadline
# (--io-timeout) or, with --io-timeout 0, keep waiting: they are never
# served from n1's volume (which holds zeroes there). n1's chunks keep
# working.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"
rules_require
nb_certs

nb_cluster_start 2 "$NB_TMP/map" 1M --volume vol0:8M -- "0 1" "1 0"
cli=(--cluster "$NB_CLUSTER" --volume vol0)
out=$(nb_cli "${cli[@]}" verify --pass write --size 8M --block-size 256K --seed 5 2>&1) ||
	nb_fail "write pass failed: $out"
for i in 0 1; do
	w=$(mock_stat "n$i" bytes_written)
	[ "$w" = $((4 << 20)) ] || nb_fail "node n$i wrote $w bytes, expected its own 4 MiB"
done
nb_info "ok: 8 MiB written, each node wrote its own 4 chunks"

rules_kill9 n0
nb_info "killed n0 (kill -9)"
reads=$(mock_stat n1 reads)

# chunk 0 and chunk 2 belong to n0: an I/O error at the deadline
for off in 0 2M; do
	t0=$(date +%s.%N)
	nb_expect_fail "read of n0's chunk at $off" "I/O error" \
		nb_cli --io-timeout 2 "${cli[@]}" verify --pass read --offset "$off" --size 1M --seed 5
	t1=$(date +%s.%N)
	[ "$NB_LAST_RC" = 1 ] || nb_fail "read at $off: exit $NB_LAST_RC, expected 1"
	grep -qi "mismatch" <<<"$NB_LAST_OUT" && nb_fail "read at $off returned wrong data: $NB_LAST_OUT"
	nb_info "ok: read at $off failed after $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s (--io-timeout 2)"
done
[ "$(mock_stat n1 reads)" = "$reads" ] ||
	nb_fail "n1 was asked for n0's chunks: $(mock_stat n1 reads) reads, $reads before"
nb_info "ok: n1 got no read for n0's chunks"

# n1's chunks keep working
out=$(nb_cli --io-timeout 5 "${cli[@]}" verify --pass read --offset 1M --size 1M --seed 5 2>&1) ||
	nb_fail "read of n1's chunk failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "read of n1's chunk: $out"
out=$(nb_cli --io-timeout 5 "${cli[@]}" verify --pass read --offset 3M --size 1M --seed 5 2>&1) ||
	nb_fail "read of n1's chunk 3 failed: $out"
nb_info "ok: n1's chunks read back"

# without a deadline, a read of n0's chunk waits
reads=$(mock_stat n1 reads)
nb_cli --io-timeout 0 "${cli[@]}" verify --pass read --offset 0 --size 64K --seed 5 \
	>"$NB_TMP/wait.out" 2>&1 &
pid=$!
sleep 4
kill -0 "$pid" 2>/dev/null || nb_fail "with --io-timeout 0 the read ended: $(cat "$NB_TMP/wait.out")"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
grep -qi "mismatch\|verify: OK" "$NB_TMP/wait.out" && nb_fail "the waiting read returned data: $(cat "$NB_TMP/wait.out")"
[ "$(mock_stat n1 reads)" = "$reads" ] || nb_fail "n1 was asked for n0's chunk by the waiting read"
nb_info "ok: with --io-timeout 0 the read still waited after 4 s, n1 untouched"
nb_info "PASS"
