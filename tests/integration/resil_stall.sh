#!/bin/bash
# SPDX-License-Identifier: MIT
# Two nodes on one backing file; every chunk is served by n0, then n1.
# n0 stalls (reads requests, never answers) for 20 s while resil_io runs
# with the default try timeout (5 s) and no I/O timeout: the requests move
# to n1, n0 is avoided while it stays silent and is used again after it
# recovers. 0 I/O errors, every block reads back as last written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
img=$NB_TMP/vol0.img
resil_shared_pair "$img" 64M

resil_io_start io --cluster "$NB_CLUSTER" --size 16M --block-size 64K --queue-depth 8
resil_wait_for "n0 serving requests" 20 resil_stat_gt n0 requests 50
n1_before=$(mock_stat n1 requests)
mock_ctl n0 stall on >/dev/null
nb_info "n0 stalls for 20 s"
sleep 20
n1_during=$(mock_stat n1 requests)
mock_ctl n0 stall off >/dev/null
[ "$n1_during" -gt $((n1_before + 50)) ] ||
	nb_fail "requests did not move to n1 during the stall (n1: $n1_before -> $n1_during)"
nb_info "ok: n1 served $((n1_during - n1_before)) requests during the stall"
n0_after=$(mock_stat n0 requests)
resil_wait_for "the client going back to n0" 90 resil_stat_gt n0 requests $((n0_after + 50))
nb_info "ok: n0 serves again"
resil_io_stop io
resil_check_clean io
[ "$(resil_sum io timeouts)" -ge 1 ] || nb_fail "the client counted no timed-out connection"
nb_info "ok: $(resil_sum io writes) writes, $(resil_sum io reads) reads, $(resil_sum io timeouts) timed-out connections, 0 errors, 0 mismatches"
nb_info "PASS"
