#!/bin/bash
# SPDX-License-Identifier: MIT
# A node holding writes acknowledged without FUA dies before the FLUSH.
# With --io-timeout 0 the FLUSH waits for that node (it is not answered
# by anyone else), still waiting after a while, and completes once the
# node is back. With --io-timeout 2 and the node gone for good, the FLUSH
# fails with an I/O error at the deadline instead of succeeding.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"
rules_require
nb_certs

# each node its own memory volume, each chunk on one node
nb_cluster_start 2 "$NB_TMP/map" 1M --volume vol0:8M -- "0" "1"
cluster=(--cluster "$NB_CLUSTER" --volume vol0)
port0=$(nb_mock_port n0)

# 1. no deadline: the FLUSH waits for n0, and reaches it once it is back
step_io_bg wait --io-timeout 0 "${cluster[@]}" write:0:64K write:1M:64K \
	"touch:$NB_TMP/written" "wait:$NB_TMP/go" flush
rules_wait_file "$NB_TMP/written" 30
rules_kill9 n0
touch "$NB_TMP/go"
sleep 4
kill -0 "${STEP_PID[wait]}" 2>/dev/null || nb_fail "the FLUSH ended without n0: $(cat "$NB_TMP/wait.out")"
grep -q "flush" "$NB_TMP/wait.out" && nb_fail "the FLUSH completed without n0: $(cat "$NB_TMP/wait.out")"
nb_info "ok: with --io-timeout 0 the FLUSH still waits for n0 after 4 s"
NB_MOCK_LISTEN_PORT=$port0 nb_mock_start n0 --map "$NB_TMP/map" --volume vol0:8M
for ((i = 0; i < 300; i++)); do
	kill -0 "${STEP_PID[wait]}" 2>/dev/null || break
	sleep 0.1
done
step_io_wait wait
[ "$STEP_RC" = 0 ] || nb_fail "the FLUSH failed after n0 came back (exit $STEP_RC): $(cat "$NB_TMP/wait.out")"
[ "$(rules_step_field wait 5 result)" = 0 ] || nb_fail "FLUSH result: $(cat "$NB_TMP/wait.out")"
[ "$(mock_stat n0 flushes)" -ge 1 ] || nb_fail "the restarted n0 got no FLUSH"
nb_info "ok: n0 back on port $port0: the FLUSH reached it ($(mock_stat n0 flushes) flush) and succeeded"

# 2. a deadline: the FLUSH fails at it
rm -f "$NB_TMP/written" "$NB_TMP/go"
step_io_bg dl --io-timeout 2 "${cluster[@]}" write:0:64K \
	"touch:$NB_TMP/written" "wait:$NB_TMP/go" flush
rules_wait_file "$NB_TMP/written" 30
rules_kill9 n0
touch "$NB_TMP/go"
for ((i = 0; i < 300; i++)); do
	kill -0 "${STEP_PID[dl]}" 2>/dev/null || break
	sleep 0.1
done
step_io_wait dl
[ "$STEP_RC" = 1 ] || nb_fail "step_io exit $STEP_RC, expected 1 (FLUSH failed): $(cat "$NB_TMP/dl.out")"
res=$(rules_step_field dl 4 result)
took=$(rules_step_field dl 4 elapsed)
[ "$res" = -5 ] || nb_fail "FLUSH result '$res', expected -5 (EIO): $(cat "$NB_TMP/dl.out")"
grep -q "FLUSH failed" "$NB_TMP/dl.log" || nb_fail "no 'FLUSH failed' in the engine log: $(cat "$NB_TMP/dl.log")"
nb_info "ok: n0 gone for good: FLUSH failed with EIO after $took s (--io-timeout 2): $(grep -m1 "FLUSH failed" "$NB_TMP/dl.log")"
nb_info "PASS"
