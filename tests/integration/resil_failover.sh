#!/bin/bash
# SPDX-License-Identifier: MIT
# Two nodes on one backing file; every chunk is served by n0, then n1.
# While resil_io writes and reads back, n0 is killed with SIGKILL: the
# requests move to n1. n0 is started again on the same port: the client
# goes back to it (n0 serves requests again). Nothing is lost: 0 I/O
# errors, every block reads back as last written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
img=$NB_TMP/vol0.img
resil_shared_pair "$img" 64M
port0=$(nb_mock_port n0)

resil_io_start io --cluster "$NB_CLUSTER" --size 32M --block-size 64K --queue-depth 8
resil_wait_for "n0 serving requests" 20 resil_stat_gt n0 requests 50

kill -KILL "${NB_MOCK_PID[n0]}"
wait "${NB_MOCK_PID[n0]}" 2>/dev/null || true
unset "NB_MOCK_PID[n0]"
nb_info "killed n0 (port $port0) with SIGKILL"
before=$(mock_stat n1 requests)
resil_wait_for "n1 taking over" 30 resil_stat_gt n1 requests $((before + 50))
nb_info "ok: n1 serves the volume ($(mock_stat n1 requests) requests)"
sleep 2

NB_MOCK_LISTEN_PORT=$port0 nb_mock_start n0 --map "$NB_TMP/cluster.map" --volume "vol0:64M:$img"
nb_info "n0 started again on port $port0"
resil_wait_for "the client going back to n0" 60 resil_stat_gt n0 requests 50
n1_then=$(mock_stat n1 requests)
sleep 1
n1_now=$(mock_stat n1 requests)
nb_info "ok: n0 serves again ($(mock_stat n0 requests) requests since its restart); n1 got $((n1_now - n1_then)) in the last second"
resil_io_stop io
resil_check_clean io
[ "$(resil_sum io reconnects)" -ge 1 ] || nb_fail "the client reports no reconnect"
nb_info "ok: $(resil_sum io writes) writes, $(resil_sum io reads) reads, 0 errors, 0 mismatches; final pass checked $(resil_sum io final_checked) blocks"
nb_info "PASS"
