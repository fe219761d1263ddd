#!/bin/bash
# SPDX-License-Identifier: MIT
# Every request fails on both nodes (error-rate all 100). With
# --io-timeout 5 the cli ends with an I/O error instead of hanging (hang
# guard 60 s; the elapsed time is not asserted); after 'reset' a new
# verify works. The same in one process: resil_io keeps running through
# the faults (--allow-errors), its ios fail with EIO, and once the nodes
# are reset the same cluster serves I/O again: the final read-back pass
# succeeds with every block as last written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
img=$NB_TMP/vol0.img
resil_shared_pair "$img" 16M
node=(--cluster "$NB_CLUSTER" --volume vol0)

for n in n0 n1; do mock_ctl $n error-rate all 100 >/dev/null; done
# shellcheck disable=SC2034 # used by nb_cli
NB_HANG_GUARD=60
nb_expect_fail "verify with every request failing" "I/O error" \
	nb_cli --io-timeout 5 "${node[@]}" verify --size 1M
[ "$NB_LAST_RC" = 1 ] || nb_fail "verify: exit $NB_LAST_RC, expected 1"
injected=$(($(mock_stat n0 errors_injected) + $(mock_stat n1 errors_injected)))
[ "$injected" -gt 0 ] || nb_fail "the nodes injected no error"
for n in n0 n1; do mock_ctl $n reset >/dev/null; done
out=$(nb_cli --io-timeout 5 "${node[@]}" verify --size 1M 2>&1) || nb_fail "verify after reset failed: $out"
nb_info "ok: $injected errors injected, EIO; after reset: $(grep -m1 "verify: OK" <<<"$out")"

resil_io_start io "${node[@]}" --io-timeout 5 --allow-errors --size 8M --block-size 64K --queue-depth 4
sleep 1
for n in n0 n1; do mock_ctl $n error-rate all 100 >/dev/null; done
inj0=$(($(mock_stat n0 errors_injected) + $(mock_stat n1 errors_injected)))
resil_wait_for "I/O errors in resil_io" 60 grep -q "failed: Input/output error" "$NB_TMP/io.out"
for n in n0 n1; do mock_ctl $n reset >/dev/null; done
inj=$(($(mock_stat n0 errors_injected) + $(mock_stat n1 errors_injected) - inj0))
sleep 3
resil_io_stop io
[ "$RESIL_RC" = 0 ] || nb_fail "resil_io failed: $(tail -n 8 "$NB_TMP/io.out")"
errors=$(resil_sum io errors)
[ "$errors" -gt 0 ] || nb_fail "resil_io saw no I/O error while every request failed"
for k in mismatches final_mismatches; do
	[ "$(resil_sum io $k)" = 0 ] || nb_fail "resil_io: $k $(resil_sum io $k)"
done
[ "$(resil_sum io final_checked)" -gt 0 ] || nb_fail "no block read back after the reset"
nb_info "ok: one process: $inj errors injected, $errors ios failed with EIO, then $(resil_sum io final_checked) blocks read back as written after the reset"
nb_info "PASS"
