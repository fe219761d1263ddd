#!/bin/bash
# The node drops the connection every 500 requests for the whole run:
# fio write+verify sees no error, the guest logs no I/O error.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
start_mock n1 7001 --volume dvol:128M --fault "drop-every 500"
start_daemon ddev --cluster 127.0.0.1:7001 --volume dvol --queues 2
fio_verify_bg drops 48M
fio_verify_wait drops
drops=$(mock_stat n1 drops)
[ "$drops" -ge 10 ] || fail "only $drops connection drops were injected"
errs=$(guest_io_errors)
[ "$errs" = 0 ] || fail "the guest logged $errs I/O errors"
log "injected $drops connection drops over $(mock_stat n1 requests) requests: 0 guest errors, 0 verify errors"
stop_daemon TERM
check_dmesg_clean
