#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node, file backend: FLUSH and FUA reach the disk. The node counts
# its fdatasync calls (SIGUSR1 logs "stats: ... fdatasyncs=N"): a plain
# write makes none, a FLUSH and a FUA write one each, and netblk-cli
# verify's final flush one more. The HANDSHAKE says writes_durable=0.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs

nb_node_start n0 --threads 1 --allow-create
out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 create 8M) ||
	nb_fail "create failed: $out"
syncs() { nb_stat_of "$(nb_node_stats n0)" "$1"; }
s0=$(syncs fdatasyncs)

mock_probe n0 "hs" "open vol0" "write 0 4096 1" "read 0 4096 1" >/dev/null ||
	nb_fail "probe write/read failed"
grep -q "writes_durable=0" "$NB_TMP/probe.out" || nb_fail "HANDSHAKE does not say writes_durable=0: $(head -n 1 "$NB_TMP/probe.out")"
s1=$(syncs fdatasyncs)
[ "$s1" = "$s0" ] || nb_fail "a write without FUA made $((s1 - s0)) fdatasync calls"
nb_info "ok: a plain write makes no fdatasync; writes_durable=0"

mock_probe n0 "hs" "open vol0" "write 4096 4096 2" "flush" >/dev/null || nb_fail "probe flush failed"
s2=$(syncs fdatasyncs)
[ "$s2" -ge $((s1 + 1)) ] || nb_fail "FLUSH made no fdatasync ($s1 -> $s2)"
mock_probe n0 "hs" "open vol0" "write 8192 4096 3 fua" "read 8192 4096 3" >/dev/null ||
	nb_fail "probe FUA write failed"
s3=$(syncs fdatasyncs)
[ "$s3" -ge $((s2 + 1)) ] || nb_fail "a FUA write made no fdatasync ($s2 -> $s3)"
st=$(nb_node_stats n0)
[ "$(nb_stat_of "$st" flushes)" = 1 ] || nb_fail "flushes counter: $st"
[ "$(nb_stat_of "$st" fua)" = 1 ] || nb_fail "fua counter: $st"
nb_info "ok: FLUSH and FUA each reach fdatasync ($st)"

out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 verify --size 1M) ||
	nb_fail "verify failed: $out"
s4=$(syncs fdatasyncs)
[ "$s4" -gt "$s3" ] || nb_fail "netblk-cli verify's flush made no fdatasync"
nb_info "ok: verify's flush: fdatasyncs $s3 -> $s4"
# strace, when present, sees the calls on the volume's file themselves.
if command -v strace >/dev/null; then
	strace -f -e trace=fdatasync -o "$NB_TMP/strace.out" -p "${NB_MOCK_PID[n0]}" 2>/dev/null &
	spid=$!
	sleep 0.5
	mock_probe n0 "hs" "open vol0" "write 0 512 4" "flush" >/dev/null || nb_fail "probe flush failed"
	sleep 0.3
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
	grep -q "fdatasync(" "$NB_TMP/strace.out" || nb_fail "strace saw no fdatasync: $(cat "$NB_TMP/strace.out")"
	nb_info "ok: strace: $(grep -m1 "fdatasync(" "$NB_TMP/strace.out")"
fi
nb_info "PASS"
