#!/bin/bash
# A node stalls (accepts, never answers) for 20 s: requests move to the
# other node of the chunk; fio write+verify sees no error.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
two_nodes svol 128M
start_daemon sdev --cluster 127.0.0.1:7001,127.0.0.1:7002 --volume svol
fio_verify_bg stall 64M
for ((i = 0; i < 300; i++)); do [ "$(mock_stat n1 writes)" -gt 1000 ] && break; sleep 0.1; done
before=$(mock_stat n2 requests)
mock_ctl n1 stall on >/dev/null
log "node 1 stalled"
sleep 20
served=$(( $(mock_stat n2 requests) - before ))
mock_ctl n1 stall off >/dev/null
log "node 1 answers again; node 2 served $served requests during the stall"
[ "$served" -gt 100 ] || fail "requests did not move to node 2 during the stall ($served)"
fio_verify_wait stall
errs=$(guest_io_errors)
[ "$errs" = 0 ] || fail "the guest logged $errs I/O errors"
log "stall: 20 s, 0 guest errors, 0 verify errors"
stop_daemon TERM
check_dmesg_clean
