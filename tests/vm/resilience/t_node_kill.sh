#!/bin/bash
# Two nodes share a backing file (paths to one disk). kill -9 the node
# serving the data mid-run, start it again later: fio write+verify sees no
# error, the other node served meanwhile, and the restarted node is used
# again afterwards.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
two_nodes kvol 128M
start_daemon kdev --cluster 127.0.0.1:7001,127.0.0.1:7002 --volume kvol --queues 2
fio_verify_bg kill 48M
for ((i = 0; i < 300; i++)); do [ "$(mock_stat n1 writes)" -gt 1000 ] && break; sleep 0.1; done
before=$(mock_stat n2 requests)
kill -9 "${MOCK_PIDS[n1]}"
log "killed node 1 (pid ${MOCK_PIDS[n1]})"
sleep 8
served=$(( $(mock_stat n2 requests) - before ))
[ "$served" -gt 100 ] || fail "node 2 served only $served requests while node 1 was down"
rm -f /tmp/n1.ctl
start_mock n1 7001 --volume $TWO_NODES_VOL --map /tmp/cluster.map --node 127.0.0.1:7001
log "node 1 back; node 2 served $served requests meanwhile"
fio_verify_wait kill
# new I/O goes back to the preferred node once it is up again
n1_before=$(mock_stat n1 requests)
dd if="$BLK" of=/dev/null bs=64k count=256 iflag=direct status=none || fail "read after recovery failed"
for ((i = 0; i < 100; i++)); do
	[ "$(mock_stat n1 requests)" -gt "$n1_before" ] && break
	dd if="$BLK" of=/dev/null bs=64k count=64 iflag=direct status=none
	sleep 0.2
done
[ "$(mock_stat n1 requests)" -gt "$n1_before" ] || fail "the restarted node 1 is not used again"
errs=$(guest_io_errors)
[ "$errs" = 0 ] || fail "the guest logged $errs I/O errors"
log "node kill: 1 node killed and restarted, 0 guest errors, 0 verify errors, node 1 used again"
stop_daemon TERM
check_dmesg_clean
