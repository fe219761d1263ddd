#!/bin/bash
# SIGTERM while fio is running: the daemon detaches and destroys the
# device, exits 0, and the kernel logs no warning.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume tvol:128M
start_daemon tdev --cluster 127.0.0.1:7001 --volume tvol --queues 2
fio --eta=never --name=load --filename="$BLK" --direct=1 --ioengine=libaio --rw=randrw \
	--bs=4k --iodepth=32 --time_based --runtime=60 --size=64M \
	--output="$NETBLK_OUT/fio.txt" >/dev/null 2>&1 &
fio_pid=$!
on_exit "kill $fio_pid 2>/dev/null"
for ((i = 0; i < 300; i++)); do
	[ "$(mock_stat n1 requests)" -gt 2000 ] && break
	sleep 0.1
done
kill -0 $fio_pid || fail "fio ended before the signal: $(tail "$NETBLK_OUT/fio.txt")"
[ "$(mock_stat n1 requests)" -gt 2000 ] || fail "fio did not reach the node within 30 s"
log "fio running, node has seen $(mock_stat n1 requests) requests; sending SIGTERM"
stop_daemon TERM
log "daemon exited 0 under load"
wait_gone /sys/bus/vdpa/devices/tdev 5
wait_gone /dev/vduse/tdev 5
[ -e "$BLK" ] && fail "$BLK still exists"
wait $fio_pid || true
check_dmesg_clean
