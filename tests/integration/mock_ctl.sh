#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock control socket and `ctl`: answers, exit codes, stats
# counters following traffic, quit.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
nb_mock_start m --volume vol0:8M
sock=$NB_TMP/m.sock

out=$("$NB_MOCK" ctl "$sock" stats) || nb_fail "ctl stats failed: $out"
[[ $out == "ok connections=0 "* ]] || nb_fail "unexpected stats answer: $out"
for k in connections requests reads writes flushes fua discards write_zeroes not_owner \
	errors_injected drops bytes_read bytes_written inflight; do
	grep -q " $k=[0-9]" <<<"$out" || nb_fail "stats lacks $k: $out"
done

mock_probe m "hs" "open vol0" "write 0 4096 1" "write 4096 4096 1 fua" "read 0 8192 1" \
	"!OUT_OF_RANGE read 8388608 512 0" "flush" "discard 0 512" "wz 512 512" >/dev/null
[ "$(mock_stat m writes)" = 2 ] || nb_fail "writes=$(mock_stat m writes), expected 2"
[ "$(mock_stat m fua)" = 1 ] || nb_fail "fua counter wrong"
[ "$(mock_stat m reads)" = 1 ] || nb_fail "reads counter wrong (a refused read is not a read)"
[ "$(mock_stat m bytes_written)" = 8192 ] || nb_fail "bytes_written wrong"
[ "$(mock_stat m bytes_read)" = 8192 ] || nb_fail "bytes_read wrong"
[ "$(mock_stat m flushes)" = 1 ] || nb_fail "flushes counter wrong"
[ "$(mock_stat m discards)" = 1 ] || nb_fail "discards counter wrong"
[ "$(mock_stat m write_zeroes)" = 1 ] || nb_fail "write_zeroes counter wrong"
[ "$(mock_stat m requests)" = 9 ] || nb_fail "requests=$(mock_stat m requests), expected 9"
[ "$(mock_stat m connections)" = 1 ] || nb_fail "connections counter wrong"
nb_info "ok: stats follow the traffic"

nb_expect_fail "unknown command" '^error unknown command "frobnicate"' "$NB_MOCK" ctl "$sock" frobnicate
[ "$NB_LAST_RC" = 1 ] || nb_fail "ctl error answer must exit 1"
nb_expect_fail "bad argument" '^error bad percentage' "$NB_MOCK" ctl "$sock" error-rate read 200
nb_expect_fail "bad op" '^error unknown operation' "$NB_MOCK" ctl "$sock" error-rate trim 5
nb_expect_fail "resize shrink" '^error volume vol0 can only grow' "$NB_MOCK" ctl "$sock" resize vol0 4M
nb_expect_fail "resize unknown" '^error no volume named' "$NB_MOCK" ctl "$sock" resize nosuch 4M
nb_expect_fail "map-reload without --map" '^error no map file' "$NB_MOCK" ctl "$sock" map-reload
nb_expect_fail "no socket" 'cannot connect' "$NB_MOCK" ctl "$NB_TMP/nosuch.sock" stats
nb_expect_fail "ctl without command" 'usage' "$NB_MOCK" ctl "$sock"

mock_ctl m resize vol0 16M | grep -q "^ok volume vol0 size 16777216" || nb_fail "resize answer"
mock_probe m "hs" "info vol0" "open vol0" "write 16773120 4096 3" "read 16773120 4096 3" >/dev/null
grep -q "info vol0: volume=vol0 size=16777216" "$NB_TMP/probe.out" || nb_fail "resize not visible in INFO"
mock_ctl m faults | grep -q "stall=off" || nb_fail "faults answer"

mock_ctl m quit | grep -q "^ok" || nb_fail "quit answer"
pid=${NB_MOCK_PID[m]}
for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && nb_fail "mock still running after quit"
rc=0
wait "$pid" || rc=$?
unset "NB_MOCK_PID[m]"
[ "$rc" = 0 ] || nb_fail "mock exited $rc after quit"
[ ! -e "$sock" ] || nb_fail "control socket not removed on exit"
nb_info "ok: quit exits 0 and removes the socket"

# SIGTERM: close everything, exit 0.
nb_mock_start t --volume v:1M
pid=${NB_MOCK_PID[t]}
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
unset "NB_MOCK_PID[t]"
[ "$rc" = 0 ] || nb_fail "mock exited $rc after SIGTERM"
grep -q "signal 15: shutting down" "$NB_TMP/t.log" || nb_fail "SIGTERM not logged"
[ ! -e "$NB_TMP/t.sock" ] || nb_fail "control socket not removed after SIGTERM"
nb_info "ok: SIGTERM exits 0"
