#!/bin/bash
# SPDX-License-Identifier: MIT
# Online resize: the volume grows on the node (8 MiB -> 16 MiB) while
# resil_io runs; on SIGUSR1 it calls session_refresh_volume(), which must
# report the new size, and the last block of the new size (beyond the old
# end) is written and read back. Meanwhile I/O goes on without errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
nb_mock_start n0 --volume "vol0:8M:$NB_TMP/vol0.img"
resil_io_start io --cluster "127.0.0.1:$(nb_mock_port n0)" --grow-check --size 4M \
	--block-size 64K --queue-depth 4
grep -q "ready size 8388608" "$NB_TMP/io.out" || nb_fail "unexpected start: $(cat "$NB_TMP/io.out")"
mock_ctl n0 resize vol0 16M >/dev/null
kill -USR1 "${RESIL_PID[io]}"
resil_wait_for "the refreshed size" 30 grep -q "volume size 16777216" "$NB_TMP/io.out"
resil_wait_for "the grow check" 30 grep -q "grow check:" "$NB_TMP/io.out"
grep -q "grow check: last block at 16711680 written and read back" "$NB_TMP/io.out" ||
	nb_fail "write/read beyond the old size: $(grep "grow check" "$NB_TMP/io.out")"
nb_info "ok: $(grep "volume size" "$NB_TMP/io.out"); $(grep "grow check" "$NB_TMP/io.out")"
[ "$(stat -c %s "$NB_TMP/vol0.img")" = 16777216 ] || nb_fail "the backing file did not grow"
resil_io_stop io
resil_check_clean io
nb_info "PASS"
