#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock fault injection: error-rate, delay, drop-every, stall
# and reset, set at start (--fault) and through the control socket.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
nb_mock_start m --volume vol0:8M --max-inflight 4 --fault "error-rate flush 100"
ctl="$NB_MOCK ctl $NB_TMP/m.sock"

# --fault at start; injected errors leave the data alone.
mock_probe m "hs" "open vol0" "!IO_ERROR flush" "write 0 4096 1" >/dev/null
grep -q "flush: IO_ERROR epoch=1 injected FLUSH error" "$NB_TMP/probe.out" ||
	nb_fail "injected error reply lacks its message"
mock_ctl m error-rate write 100 >/dev/null
mock_probe m "hs" "open vol0" "!IO_ERROR write 0 4096 2" "read 0 4096 1" >/dev/null
mock_ctl m error-rate all 100 >/dev/null
mock_probe m "hs" "open vol0" "!IO_ERROR read 0 512 1" "!IO_ERROR discard 0 512" \
	"!IO_ERROR wz 0 512" "ping" >/dev/null
[ "$(mock_stat m errors_injected)" = 5 ] || nb_fail "errors_injected=$(mock_stat m errors_injected), expected 5"
mock_ctl m reset >/dev/null
mock_probe m "hs" "open vol0" "flush" "read 0 4096 1" >/dev/null
nb_info "ok: error-rate and reset"

# A partial rate fails some and not all (200 reads at 50%).
mock_ctl m error-rate read 50 >/dev/null
steps=("hs" "open vol0")
for ((i = 0; i < 200; i++)); do steps+=("send read 0 512 0"); done
mock_probe m "${steps[@]}" "tally 200" >/dev/null
grep -Eq "^tally 200: OK=[0-9]+ IO_ERROR=[0-9]+$" "$NB_TMP/probe.out" ||
	nb_fail "error-rate read 50 did not give a mix: $(tail -n 1 "$NB_TMP/probe.out")"
mock_ctl m reset >/dev/null

# delay: fixed and random; replies still right, possibly reordered.
mock_ctl m delay 20 >/dev/null
mock_probe m "hs" "open vol0" "write 0 4096 4" "read 0 4096 4" >/dev/null
mock_ctl m delay 1 40 | grep -q "^ok delay 1..40 ms" || nb_fail "delay answer"
mock_probe m "hs" "open vol0" "pipeline 4 4096 5" "!OUT_OF_RANGE read 8M 512 0" "ping" >/dev/null
mock_ctl m reset >/dev/null
nb_info "ok: delay"

# drop-every 3: the third data request closes its connection, unanswered.
mock_ctl m drop-every 3 >/dev/null
mock_probe m "hs" "open vol0" "write 0 512 6" "read 0 512 6" "send read 0 512 6" "closed" >/dev/null
[ "$(mock_stat m drops)" = 1 ] || nb_fail "drops counter is $(mock_stat m drops)"
mock_log_has m "dropping the connection at request [0-9]+ \(READ\) \(fault drop-every 3\)" ||
	nb_fail "drop not logged"
mock_ctl m drop-every 0 >/dev/null
mock_probe m "hs" "open vol0" "read 0 512 6" >/dev/null
nb_info "ok: drop-every"

# stall: requests are read and held up to the in-flight limit (4), then
# answered, in order, when the stall ends.
wait_inflight="for i in \$(seq 50); do $ctl stats | grep -q ' inflight=4 ' && exit 0; sleep 0.1; done; exit 1"
mock_ctl m stall on >/dev/null
mock_probe m "hs" "open vol0" "ping" \
	"send write 0 4096 7" "send read 0 4096 7" "send write 4096 4096 7" "send read 0 512 7" \
	"send write 8192 512 7" "send write 12288 512 7" \
	"run $wait_inflight" "sleep 300" "run $ctl stats | grep -q ' inflight=4 '" \
	"run $ctl stall off >/dev/null" "recv 6" "read 0 8704 7" "read 12288 512 7" >/dev/null ||
	nb_fail "stall steps failed"
[ "$(mock_stat m inflight)" = 0 ] || nb_fail "requests still held after stall off"
nb_info "ok: stall holds up to max_inflight and answers on stall off"

# A client that goes away with held requests leaves nothing behind.
mock_ctl m delay 2000 >/dev/null
mock_probe m "hs" "open vol0" "send write 0 512 1" "send read 0 512 1" >/dev/null
for ((i = 0; i < 50; i++)); do
	[ "$(mock_stat m inflight)" = 0 ] && break
	sleep 0.1
done
[ "$(mock_stat m inflight)" = 0 ] || nb_fail "held requests of a closed connection are still counted"
mock_ctl m reset >/dev/null
mock_probe m "hs" "open vol0" "read 0 512 7" >/dev/null
nb_info "ok: closing with held requests"
