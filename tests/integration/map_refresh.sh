#!/bin/bash
# SPDX-License-Identifier: MIT
# Map refresh under load: two nodes share one backing file (so data stays
# valid whichever node serves a chunk). While a verify runs, the map file
# is rewritten with a new epoch and every chunk moved to the other node,
# and the nodes reload it. The verify completes without error, the nodes
# answered NOT_OWNER to requests routed with the old map, and a new client
# reads the same data back.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

size=$((32 << 20))
img=$NB_TMP/vol0.img
truncate -s "$size" "$img"
NB_MAP_GROUP=1   # paths to one file: one store group
nb_cluster_start 2 "$NB_TMP/map" 64K --volume "vol0:$size:$img" -- 0 1
cli=(--cluster "$NB_CLUSTER" --volume vol0)
read -r -a addrs <<<"${NB_CLUSTER//,/ }"
nb_info "cluster $NB_CLUSTER, epoch 2: even chunks on n0, odd chunks on n1"

# Slow the nodes down a little so the verify is surely running when the
# map changes.
mock_ctl n0 delay 2 6 >/dev/null
mock_ctl n1 delay 2 6 >/dev/null
nb_cli "${cli[@]}" verify --size "$size" --block-size 64K --queue-depth 4 --seed 99 \
	>"$NB_TMP/verify.out" 2>&1 &
vpid=$!

# Wait (bounded) until it writes, then hold the nodes' answers while the
# map changes, so requests routed with the old map are in flight.
for ((i = 0; i < 300; i++)); do
	[ "$(mock_stat n0 writes)" -gt 0 ] && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$vpid" 2>/dev/null || nb_fail "verify ended before the map change: $(cat "$NB_TMP/verify.out")"
mock_ctl n0 stall on >/dev/null
mock_ctl n1 stall on >/dev/null
nb_map_write "$NB_TMP/map" 3 64K "${addrs[*]}" 1 0
mock_ctl n0 map-reload >/dev/null
mock_ctl n1 map-reload >/dev/null
mock_ctl n0 stall off >/dev/null
mock_ctl n1 stall off >/dev/null
nb_info "map changed to epoch 3 (even chunks on n1, odd on n0) during the verify"

rc=0
wait "$vpid" || rc=$?
out=$(cat "$NB_TMP/verify.out")
[ "$rc" = 0 ] || nb_fail "verify across the map change failed (exit $rc): $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not report OK: $out"
nb_info "ok: verify across the map change: $(grep "verify: OK" <<<"$out")"

notown=$(( $(mock_stat n0 not_owner) + $(mock_stat n1 not_owner) ))
[ "$notown" -gt 0 ] || nb_fail "no node answered NOT_OWNER: the map change was not exercised"
for i in 0 1; do
	epoch=$(mock_stat "n$i" map_epoch)
	[ "$epoch" = 3 ] || nb_fail "node n$i has map epoch $epoch, expected 3"
done
refreshes=$(sed -n 's/.* \([0-9][0-9]*\) map refreshes.*/\1/p' <<<"$out")
# The engine counts the map that comes with the open too.
[ "${refreshes:-0}" -ge 2 ] || nb_fail "the client did not install a new map: $(grep engine: <<<"$out")"
nb_info "ok: NOT_OWNER answered $notown times; the client installed $refreshes new map(s) and retried"

mock_ctl n0 reset >/dev/null
mock_ctl n1 reset >/dev/null
out=$(nb_cli "${cli[@]}" verify --pass read --size "$size" --block-size 1M --seed 99) ||
	nb_fail "read back by a new client with the epoch-3 map failed: $out"
nb_info "ok: new client reads the data back: $(grep "verify: OK" <<<"$out")"
nb_info "PASS"
