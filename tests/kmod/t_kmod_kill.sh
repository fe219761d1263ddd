#!/bin/bash
# kill -9 of vduse-netblk while dd writes through its disk, on
# netblk_vduse.ko: the kernel stays healthy (clean log, the VDUSE and vDPA
# devices stay), a restarted daemon with the same --name takes the device
# over and the interrupted dd completes; every byte written before and
# after reads back; then the device is destroyed cleanly and a new one of
# the same name works.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
# shellcheck source=tests/vm/netblk-lib.sh
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
load_modules
start_mock n1 7001 --volume kvol:64M
start_daemon kdev --cluster 127.0.0.1:7001 --volume kvol --queues 2
blk=$BLK

head -c 4M /dev/urandom >/tmp/a.bin
head -c 24M /dev/urandom >/tmp/b.bin
dd if=/tmp/a.bin of="$blk" bs=1M oflag=direct status=none || fail "first write failed"

dd if=/tmp/b.bin of="$blk" bs=64k seek=128 oflag=direct status=none 2>"$NETBLK_OUT/dd.err" &
dd_pid=$!
on_exit "kill $dd_pid 2>/dev/null"
base=$(mock_stat n1 requests)
for ((i = 0; i < 300; i++)); do
	[ "$(mock_stat n1 requests)" -gt $((base + 20)) ] && break
	sleep 0.1
done
kill -0 "$dd_pid" 2>/dev/null || fail "dd ended before the kill"
log "dd running ($(( $(mock_stat n1 requests) - base )) requests so far); kill -9 of the daemon"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
sleep 1
[ -e /dev/vduse/kdev ] || fail "/dev/vduse/kdev vanished with the daemon"
[ -e /sys/bus/vdpa/devices/kdev ] || fail "vDPA device kdev vanished with the daemon"
check_dmesg_clean
log "kernel healthy after the kill; restarting the daemon"

start_daemon kdev --cluster 127.0.0.1:7001 --volume kvol --queues 2
[ "$BLK" = "$blk" ] || fail "after takeover the disk is $BLK, was $blk"
for ((i = 0; i < 600; i++)); do
	kill -0 "$dd_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$dd_pid" 2>/dev/null && fail "dd did not finish within 60 s of the takeover"
wait "$dd_pid" || fail "dd failed across the takeover: $(cat "$NETBLK_OUT/dd.err")"
log "dd finished across the takeover"

dd if="$blk" of=/tmp/ra.bin bs=1M count=4 iflag=direct status=none || fail "read back a failed"
dd if="$blk" of=/tmp/rb.bin bs=64k skip=128 count=384 iflag=direct status=none || fail "read back b failed"
cmp /tmp/a.bin /tmp/ra.bin || fail "data written before the kill differs"
cmp /tmp/b.bin /tmp/rb.bin || fail "data written across the kill differs"
log "all 28 MiB read back"
stop_daemon TERM
wait_gone /dev/vduse/kdev 10

# The name is free again and works.
start_daemon kdev --cluster 127.0.0.1:7001 --volume kvol --queues 1
dd if="$BLK" of=/tmp/ra.bin bs=1M count=4 iflag=direct status=none || fail "read on the new device failed"
cmp /tmp/a.bin /tmp/ra.bin || fail "new device reads different data"
stop_daemon TERM
check_dmesg_clean
log "kill test done"
