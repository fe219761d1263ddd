#!/bin/bash
# SPDX-License-Identifier: MIT
# --io-timeout is a deadline, not a number of tries: against a stalled
# node (it reads requests and never answers) a read with --io-timeout 1
# fails with an I/O error well before the 5 s try timeout, in under 2 s
# from the start of netblk-cli, and the message gives the true time. The
# same node serves again once the stall ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"
rules_require
nb_certs

nb_mock_start n0 --volume vol0:8M
node=(--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0)
mock_ctl n0 stall on >/dev/null
t0=$(date +%s.%N)
nb_expect_fail "read from a stalled node" "I/O error" \
	nb_cli --verbose --io-timeout 1 "${node[@]}" verify --pass read --size 64K
t1=$(date +%s.%N)
took=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
awk "BEGIN { exit !($t1 - $t0 < 2.0) }" ||
	nb_fail "--io-timeout 1 took $took s (bound: 2 s): $NB_LAST_OUT"
grep -Eq "gave up after 1\.[0-9]+ s" <<<"$NB_LAST_OUT" ||
	nb_fail "the message does not give the true time: $NB_LAST_OUT"
nb_info "ok: failed after $took s in all: $(grep -m1 -o "gave up after [^)]*" <<<"$NB_LAST_OUT")"

# and the write side, through step_io (no connect cost in the measure)
out=$(step_io --io-timeout 1 "${node[@]}" writefua:0:64K 2>&1) && nb_fail "write to a stalled node succeeded: $out"
el=$(sed -n 's/^step 1 writefua result -5 elapsed \([0-9.]*\).*/\1/p' <<<"$out")
[ -n "$el" ] || nb_fail "write did not fail with EIO: $out"
awk "BEGIN { exit !($el < 2.0) }" || nb_fail "write failed after $el s (bound: 2 s)"
nb_info "ok: write failed with EIO after $el s"

mock_ctl n0 stall off >/dev/null
out=$(nb_cli --io-timeout 5 "${node[@]}" verify --size 64K 2>&1) || nb_fail "after the stall: $out"
nb_info "ok: after the stall: $(grep -m1 "verify: OK" <<<"$out")"
nb_info "PASS"
