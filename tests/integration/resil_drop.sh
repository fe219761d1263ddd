#!/bin/bash
# SPDX-License-Identifier: MIT
# The node drops its connection at every 500th data request for a whole
# verify run (64 MiB in 16 KiB blocks: 8192 requests): the cli reconnects
# and re-sends what had no reply; verify reads back exactly what it wrote.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
nb_mock_start n0 --volume vol0:64M
mock_ctl n0 drop-every 500 >/dev/null
out=$(nb_cli --io-timeout 0 --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 \
	verify --size 64M --block-size 16K --queue-depth 16 2>&1) ||
	nb_fail "verify with a drop every 500 requests failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not report OK: $out"
drops=$(mock_stat n0 drops)
[ "$drops" -ge 10 ] || nb_fail "expected >= 10 dropped connections, the node counted $drops"
nb_info "ok: $drops connections dropped, 0 errors: $(grep -m1 "verify: OK" <<<"$out")"
nb_info "ok: client: $(grep engine: <<<"$out" || true)"
nb_info "PASS"
