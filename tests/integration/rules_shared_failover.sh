#!/bin/bash
# SPDX-License-Identifier: MIT
# Two nodes over ONE shared file, in one store group (group 1), every
# chunk listed on both: after n0 is killed for good, n1 serves n0's
# chunks too, and every byte written reads back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"
rules_require
nb_certs

img=$NB_TMP/shared.img
truncate -s 8M "$img"
NB_MAP_GROUP=1
nb_cluster_start 2 "$NB_TMP/map" 1M --volume "vol0:8M:$img" -- "0 1" "1 0"
grep -q "group 1" "$NB_TMP/map" || nb_fail "the map has no group: $(cat "$NB_TMP/map")"
cli=(--cluster "$NB_CLUSTER" --volume vol0)
out=$(nb_cli "${cli[@]}" verify --pass write --size 8M --block-size 256K --seed 11 2>&1) ||
	nb_fail "write pass failed: $out"
rules_kill9 n0
nb_info "killed n0 (kill -9)"
reads=$(mock_stat n1 bytes_read)
out=$(nb_cli --io-timeout 20 "${cli[@]}" verify --pass read --size 8M --block-size 256K --seed 11 2>&1) ||
	nb_fail "read back through n1 failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "read back did not report OK: $out"
got=$(( $(mock_stat n1 bytes_read) - reads ))
[ "$got" = $((8 << 20)) ] || nb_fail "n1 read $got bytes, expected all 8 MiB"
nb_info "ok: n1 served all 8 MiB after n0 died: $(grep "verify: OK" <<<"$out")"
nb_info "PASS"
