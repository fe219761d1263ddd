#!/bin/bash
# Every node black-holed (accepts, never answers) while fio runs:
# `vdpa dev del` returns within 5 s; once the cluster answers again the
# device can be attached again and works; black-holed again, SIGTERM stops
# the daemon within its stop timeout and it exits 0.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume bvol:64M
start_daemon bdev --cluster 127.0.0.1:7001 --volume bvol --queues 2
head -c $((1 << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of="$BLK" bs=64k oflag=direct status=none || fail "write before the fault failed"

fio --eta=never --name=load --filename="$BLK" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --iodepth=32 --time_based --runtime=120 --offset=16M \
	--size=32M --output="$NETBLK_OUT/fio.txt" >/dev/null 2>&1 &
fio_pid=$!
on_exit "kill $fio_pid 2>/dev/null"
for ((i = 0; i < 300; i++)); do [ "$(mock_stat n1 writes)" -gt 500 ] && break; sleep 0.1; done
mock_ctl n1 stall on >/dev/null
sleep 1
log "node black-holed with $(mock_stat n1 inflight) requests held"
rc=0
timeout 5 vdpa dev del bdev || rc=$?
[ $rc -eq 124 ] && fail "vdpa dev del did not return within 5 s with the cluster black-holed"
[ $rc -eq 0 ] || fail "vdpa dev del failed ($rc)"
wait_gone /sys/bus/vdpa/devices/bdev 5
log "vdpa dev del returned with every node black-holed"
wait $fio_pid || true
kill -0 $DAEMON_PID || fail "the daemon died when its disk was removed"

mock_ctl n1 stall off >/dev/null
vdpa dev add name bdev mgmtdev vduse || fail "attaching again failed"
for ((i = 0; i < 100; i++)); do BLK=$(blk_of bdev || true); [ -n "$BLK" ] && [ -b "$BLK" ] && break; sleep 0.1; done
[ -b "$BLK" ] || fail "no block device after attaching again"
dd if="$BLK" of=/tmp/back bs=64k count=16 iflag=direct status=none || fail "reading after re-attach failed"
cmp /tmp/data /tmp/back || fail "data differs after re-attach"
log "attached again as $BLK; data intact"

mock_ctl n1 stall on >/dev/null
dd if="$BLK" of=/dev/null bs=4k count=1 skip=500 iflag=direct status=none 2>/dev/null &
sleep 1
rc=0
kill -TERM $DAEMON_PID
timeout 20 tail --pid=$DAEMON_PID -f /dev/null || fail "the daemon did not stop within 20 s of SIGTERM with the cluster black-holed"
wait $DAEMON_PID || rc=$?
[ $rc -eq 0 ] || fail "the daemon exited $rc"
wait_gone /dev/vduse/bdev 5
log "SIGTERM with the cluster black-holed: exited 0, device gone"
check_dmesg_clean
