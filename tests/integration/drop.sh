#!/bin/bash
# SPDX-License-Identifier: MIT
# The node drops the connection every 100 data requests: a 64 MiB verify
# still succeeds (the client reconnects and resends), and the node
# counted the drops.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_mock_start n0 --volume vol0:64M
mock_ctl n0 drop-every 100 >/dev/null
out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 \
	verify --size 64M --block-size 64K --queue-depth 16 2>&1) ||
	nb_fail "verify with dropped connections failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not report OK: $out"
drops=$(mock_stat n0 drops)
[ "$drops" -gt 0 ] || nb_fail "the node dropped no connection: $(mock_ctl n0 stats)"
reconnects=$(sed -n 's/.* \([0-9][0-9]*\) reconnects.*/\1/p' <<<"$out")
[ "${reconnects:-0}" -ge 1 ] || nb_fail "the client reports no reconnect: $(grep engine: <<<"$out")"
nb_info "ok: client: $(grep engine: <<<"$out")"
nb_info "ok: 64 MiB verify OK with $drops dropped connections: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out")"
nb_info "PASS"
