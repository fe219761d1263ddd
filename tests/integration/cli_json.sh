#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli --json / --format json on info, verify and bench: one JSON
# document on standard output that a parser reads, with the values a
# script would use.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
command -v python3 >/dev/null || nb_skip "python3 is not installed"

nb_mock_start n0 --volume vol0:8M
port=$(nb_mock_port n0)
cli=(nb_cli --cluster "127.0.0.1:$port" --volume vol0)

# check WHAT PYTHON-EXPRESSION < JSON: the expression, on d, must hold.
check() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
if not eval("(" + sys.argv[2] + ")"):
    sys.exit("%s: %s is false in %s" % (sys.argv[1], sys.argv[2], json.dumps(d)))
' "$1" "$2" || nb_fail "$1: JSON check failed"
}

out=$("${cli[@]}" info --json) || nb_fail "info --json: $out"
check info 'd["volume"] == "vol0" and d["size"] == 8 << 20 and d["block_size"] == 512
	and d["read_only"] is False and d["lock"]["owner"] is None
	and d["answered_by"].endswith(":'"$port"'") and d["map"]["epoch"] >= 1
	and len(d["map"]["nodes"]) == 1 and d["map"]["nodes"][0]["address"].startswith("127.0.0.1:")' <<<"$out"
nb_info "info --json: $(tr -d '\n ' <<<"$out" | head -c 200)"

out=$("${cli[@]}" verify --size 1M --seed 42 --format json) || nb_fail "verify --format json: $out"
check verify 'd["result"] == "ok" and d["seed"] == 42 and d["size"] == 1 << 20
	and d["write"]["bytes"] == 1 << 20 and d["read"]["bytes"] == 1 << 20
	and d["sectors_checked"] == 2048 and d["sectors_bad"] == 0 and d["mismatches"] == []
	and d["engine"]["requests"] >= 32' <<<"$out"

# A mismatch is a result too: read with another seed.
rc=0
out=$("${cli[@]}" verify --size 64K --seed 43 --pass read --json 2>/dev/null) || rc=$?
[ "$rc" = 1 ] || nb_fail "verify with the wrong seed: exit $rc, expected 1"
check mismatch 'd["result"] == "mismatch" and d["sectors_bad"] == 128
	and len(d["mismatches"]) == 8 and d["mismatches"][0]["kind"] == "stale"
	and d["mismatches"][0]["offset"] == 0 and "write" not in d' <<<"$out"

out=$("${cli[@]}" bench --pattern randread --seconds 0.3 --iodepth 4 --json) || nb_fail "bench --json: $out"
check bench 'd["pattern"] == "randread" and d["ios"] > 0 and d["iops"] > 0
	and d["bs"] == 4096 and d["iodepth"] == 4 and d["error"] is None
	and d["tls"].startswith("TLS_")
	and 0 < d["latency_us"]["p50"] <= d["latency_us"]["p99"] <= d["latency_us"]["max"] * 1.07' <<<"$out"

# --format takes text or json only; commands without JSON refuse it.
rc=0; "${cli[@]}" info --format yaml >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || nb_fail "info --format yaml: exit $rc, expected 2"
rc=0; "${cli[@]}" import --json /dev/null >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || nb_fail "import --json: exit $rc, expected 2"
nb_info "PASS"
