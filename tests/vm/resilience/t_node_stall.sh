#!/bin/bash
# A node stalls (accepts, never answers) for 20 s: requests move to the
# other node of the chunk; fio write+verify sees no error.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
truncate -s 128M /tmp/shared.img
cat >/tmp/cluster.map <<MAP
epoch 1
chunk_size 1M
node 127.0.0.1:7001
node 127.0.0.1:7002
chunk 0 1
MAP
vol=svol:128M:/tmp/shared.img
start_mock n1 7001 --volume $vol --map /tmp/cluster.map --node 127.0.0.1:7001
start_mock n2 7002 --volume $vol --map /tmp/cluster.map --node 127.0.0.1:7002
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
