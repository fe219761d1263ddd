#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node with the file backend: netblk-cli create, info, verify and
# bench against it; volumes are files in its directory; the data
# survives a restart of the node (SIGTERM, exit 0, then a new process).
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

nb_node_start n0 --threads 2 --allow-create
c=(--cluster "127.0.0.1:$(nb_mock_port n0)")
out=$(nb_cli "${c[@]}" --volume vol0 create 32M) || nb_fail "create failed: $out"
nb_info "ok: $out"
[ "$(stat -c %s "$NB_TMP/n0.vols/vol0.vol")" = $((32 << 20)) ] ||
	nb_fail "vol0.vol is not a 32 MiB file: $(ls -l "$NB_TMP/n0.vols")"
grep -q "^block_size 512$" "$NB_TMP/n0.vols/vol0.meta" || nb_fail "vol0.meta lacks the block size"
nb_expect_fail "a second create" "already exists" nb_cli "${c[@]}" --volume vol0 create 32M
out=$(nb_cli "${c[@]}" --volume vol4k create --block-size 4096 8M 2>&1) ||
	nb_fail "create with 4 KiB blocks failed: $out"
out=$(nb_cli "${c[@]}" --volume vol0 info) || nb_fail "info failed: $out"
grep -q "33554432" <<<"$out" || nb_fail "info does not show the size: $out"
nb_expect_fail "open of a missing volume" "not found|no volume" \
	nb_cli "${c[@]}" --volume nosuch verify --size 64K

out=$(nb_cli "${c[@]}" --volume vol0 verify --size 8M --seed 7 --queue-depth 32) ||
	nb_fail "verify failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not report OK: $out"
nb_info "ok: $(grep -m1 "verify: OK" <<<"$out")"
out=$(nb_cli "${c[@]}" --volume vol4k verify --size 4M --block-size 16K --seed 8) ||
	nb_fail "verify on the 4 KiB-block volume failed: $out"
out=$(nb_cli "${c[@]}" --volume benchvol create 8M) || nb_fail "create benchvol failed: $out"
for p in randwrite randread; do
	out=$(nb_cli "${c[@]}" --volume benchvol bench --pattern $p --seconds 1 --size 8M 2>&1) ||
		nb_fail "bench $p failed: $out"
	grep -q "IOPS" <<<"$out" || nb_fail "bench $p printed no IOPS: $out"
	nb_info "ok: bench $p: $(grep -m1 IOPS <<<"$out")"
done

# A clean stop: SIGTERM, exit 0, the counters in the last line.
pid=${NB_MOCK_PID[n0]}
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
unset "NB_MOCK_PID[n0]"
[ "$rc" = 0 ] || nb_fail "netblk-node exited $rc after SIGTERM"
grep -q "signal 15: shutting down" "$NB_TMP/n0.log" || nb_fail "SIGTERM not logged"
grep -q "exiting: connections=" "$NB_TMP/n0.log" || nb_fail "no counters at exit"
nb_info "ok: SIGTERM: exit 0"

# A new process over the same directory serves the same data.
nb_node_start n0b --dir "$NB_TMP/n0.vols" --threads 1
c=(--cluster "127.0.0.1:$(nb_mock_port n0b)")
out=$(nb_cli "${c[@]}" --volume vol0 verify --pass read --size 8M --seed 7) ||
	nb_fail "data written before the restart did not read back: $out"
nb_info "ok: after a restart: $(grep -m1 "verify: OK" <<<"$out")"
out=$(nb_cli "${c[@]}" --volume vol4k info) || nb_fail "info of vol4k after restart: $out"
grep -q "4096" <<<"$out" || nb_fail "vol4k lost its block size across the restart: $out"
nb_expect_fail "create without allow-create" "disabled|unsupported|not allow" \
	nb_cli "${c[@]}" --volume other create 8M
nb_info "PASS"
