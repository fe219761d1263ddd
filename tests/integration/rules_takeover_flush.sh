#!/bin/bash
# SPDX-License-Identifier: MIT
# A new engine inherits the FLUSH obligations of the one before it: a
# process writes without FUA and ends (or is killed) without a FLUSH; a
# fresh process's first FLUSH, with no write of its own, reaches the node
# (its flush counter grows). A node that says writes_durable gets no
# FLUSH at all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"
rules_require
nb_certs

nb_mock_start n0 --volume vol0:8M
c0=(--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0)
out=$(step_io "${c0[@]}" write:0:64K write:1M:128K 2>&1) || nb_fail "writes failed: $out"
[ "$(mock_stat n0 flushes)" = 0 ] || nb_fail "a FLUSH was sent by the writer"
out=$(step_io "${c0[@]}" flush 2>&1) || nb_fail "flush failed: $out"
[ "$(mock_stat n0 flushes)" = 1 ] ||
	nb_fail "a fresh engine's FLUSH did not reach the node: flushes $(mock_stat n0 flushes)"
nb_info "ok: writer ended without a FLUSH; the next engine's first FLUSH reached the node"

# the writer killed (as a daemon taken over after kill -9)
step_io_bg w "${c0[@]}" write:2M:64K "touch:$NB_TMP/written" "wait:$NB_TMP/never"
rules_wait_file "$NB_TMP/written" 30
kill -KILL "${STEP_PID[w]}"
step_io_wait w
out=$(step_io "${c0[@]}" read:2M:64K flush 2>&1) || nb_fail "read and flush failed: $out"
grep -q "data ok" <<<"$out" || nb_fail "data written before kill -9: $out"
[ "$(mock_stat n0 flushes)" = 2 ] ||
	nb_fail "after kill -9 of the writer the FLUSH did not reach the node: flushes $(mock_stat n0 flushes)"
nb_info "ok: writer killed with kill -9; the next engine's FLUSH reached the node"

# a durable node owes nothing
nb_mock_start d0 --writes-durable --volume vol0:8M
c1=(--cluster "127.0.0.1:$(nb_mock_port d0)" --volume vol0)
out=$(step_io "${c1[@]}" write:0:64K flush write:64K:64K flush 2>&1) || nb_fail "durable node: $out"
[ "$(mock_stat d0 flushes)" = 0 ] || nb_fail "a durable node got $(mock_stat d0 flushes) FLUSH(es)"
[ "$(mock_stat d0 writes)" = 2 ] || nb_fail "durable node: $(mock_stat d0 writes) writes, expected 2"
nb_info "ok: a node saying writes_durable got 2 writes and no FLUSH"
nb_info "PASS"
