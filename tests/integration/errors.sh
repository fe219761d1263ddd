#!/bin/bash
# SPDX-License-Identifier: MIT
# Every request fails on the node (error-rate all 100): with --io-timeout 3
# the cli gives up with an I/O error (exit 1) instead of hanging; the hang
# guard is 60 s. Then the fault is cleared and the same command works.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_mock_start n0 --volume vol0:4M
node=(--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0)
mock_ctl n0 error-rate all 100 >/dev/null

# shellcheck disable=SC2034 # used by nb_cli
NB_HANG_GUARD=60
for cmd in "verify --size 1M" "export /dev/null" "bench --pattern randwrite --seconds 2"; do
	# shellcheck disable=SC2086
	nb_expect_fail "$cmd with every request failing" "I/O error" \
		nb_cli --io-timeout 3 "${node[@]}" $cmd
	[ "$NB_LAST_RC" = 1 ] || nb_fail "$cmd: exit $NB_LAST_RC, expected 1"
done
injected=$(mock_stat n0 errors_injected)
[ "$injected" -gt 0 ] || nb_fail "the node injected no error"
nb_info "ok: node injected $injected errors"

mock_ctl n0 reset >/dev/null
out=$(nb_cli --io-timeout 3 "${node[@]}" verify --size 1M 2>&1) || nb_fail "verify after reset failed: $out"
nb_info "ok: after reset: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out")"
nb_info "PASS"
